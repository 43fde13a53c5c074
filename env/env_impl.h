/* The env wrapper's struct and its step, for env/env.c and env/vec.c only: the vector steps
 * its envs with the step inlined into its loop (env_step is the same code behind a call). */
#ifndef SHOAL_ENV_ENV_IMPL_H
#define SHOAL_ENV_ENV_IMPL_H

#include <assert.h>
#include <string.h>

#include "env/env.h"
#include "env/game.h"

/* What env_step and env_observe touch comes first, in one cache line, and rand's word index
 * follows it: a vector of 64 envs steps more envs than L1 holds, and each further line an env
 * touches per step was a miss per step. The options stay whole (cold) below. */
struct env {
    const env_game *game;
    void *state;
    const uint32_t *action_map; /* agent action -> native; NULL: identity (full set) */
    uint64_t t;                 /* steps in this episode */
    uint64_t max_episode_steps; /* opts.max_episode_steps */
    uint64_t sticky_u53;        /* opts.sticky as env_rand_u53_bound (MT19937) */
    size_t obs_bytes;
    uint32_t last_action;       /* native, after the sticky rule; carries across episodes */
    bool terminal, truncated;
    env_rand rand;
    env_options opts;
    obs_shape shape;
    uint32_t n_actions;
};

/* Zeroes n bytes at p. Observations of the built-in games are 13 to 125 bytes: 16-byte stores
 * (the last one overlapping) instead of a call to memset, which cost as much as drawing the
 * observation. */
static inline void env_zero_small(uint8_t *p, size_t n)
{
    if (n < 16 || n > 256) {
        memset(p, 0, n);
        return;
    }
    for (size_t k = 0; k + 16 <= n; k += 16) {
        memset(p + k, 0, 16);
    }
    memset(p + n - 16, 0, 16);
}

static inline void env_observe_inline(const env *e, void *obs)
{
    env_zero_small(obs, e->obs_bytes);
    e->game->observe(e->state, obs);
}

static inline env_step_result env_step_inline(env *e, uint32_t a, void *obs)
{
    env_step_result res = {0};
    assert(a < e->n_actions);
    uint32_t native = e->action_map ? e->action_map[a] : a;
    if (e->game->sticky_actions) {
        /* specs/minatar.md §2.2: the draw happens on every step, even with p = 0 and even
         * after the episode ended, so the stream stays aligned with the reference. */
        uint32_t stick = e->rand.kind == ENV_RAND_MT19937
                             ? env_rand_mt_u53(&e->rand) < e->sticky_u53
                             : env_rand_double(&e->rand) < e->opts.sticky;
        /* A select by arithmetic: the compiler made it a branch, mispredicted on about one
         * step in ten. */
        native ^= (native ^ e->last_action) & (0u - stick);
    }
    e->last_action = native;
    if (!e->terminal && !e->truncated) {
        int terminal = 0;
        res.reward = e->game->step(e->state, native, &e->rand, &terminal);
        e->terminal = terminal != 0;
        e->t++;
        if (!e->terminal && e->max_episode_steps && e->t >= e->max_episode_steps) {
            e->truncated = true;
        }
    }
    res.terminal = e->terminal;
    res.truncated = e->truncated;
    if (obs) {
        env_observe_inline(e, obs);
    }
    return res;
}

#endif
