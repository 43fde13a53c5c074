/* Osband et al.'s chain, specs/algorithms.md §3.5: states s_1 .. s_N, start in s_2,
 * thermometer observation, 0.001 for "left" in s_1, 1 for "right" in s_N, episodes of N + 8
 * actions, so always-right returns exactly 10. */
#include <stdlib.h>

#include "env/games.h"

enum { CHAIN_LEFT = 0, CHAIN_RIGHT = 1 };

typedef struct chain {
    int n, s, t; /* s: current state 1..n; t: actions taken this episode */
} chain;

static void *create(const double *params, int ramping, env_shape *shape, shoal_err *err)
{
    (void)ramping;
    chain *g = calloc(1, sizeof *g);
    if (!g) {
        shoal_err_set(err, SHOAL_ENOMEM, "chain: out of memory");
        return NULL;
    }
    g->n = (int)params[0];
    *shape = (env_shape){1, (uint32_t)g->n, 1};
    return g;
}

static void reset(void *state, env_rand *r)
{
    (void)r;
    chain *g = state;
    g->s = 2;
    g->t = 0;
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    (void)r;
    chain *g = state;
    float reward = 0;
    if (a == CHAIN_LEFT) {
        if (g->s == 1) {
            reward = 0.001f;
        }
        g->s = g->s > 1 ? g->s - 1 : 1;
    } else {
        if (g->s == g->n) {
            reward = 1.0f;
        }
        g->s = g->s < g->n ? g->s + 1 : g->n;
    }
    if (++g->t == g->n + 8) {
        *terminal = 1;
    }
    return reward;
}

/* phi_j = 1 iff j <= s (1-based), one byte per state. */
static void observe(const void *state, uint8_t *obs)
{
    const chain *g = state;
    for (int j = 0; j < g->s; j++) {
        obs[j] = 1;
    }
}

static uint32_t expert(const void *state, env_rand *r)
{
    (void)state, (void)r;
    return CHAIN_RIGHT;
}

static const char *const action_names[] = {"left", "right"};
static const uint32_t minimal[] = {CHAIN_LEFT, CHAIN_RIGHT};
static const env_param_def params[] = {
    {"length", 10, 4, 100000, 1, "number of states N (> 3); episodes last N + 8 actions"},
};

const env_game env_game_chain = {
    .name = "chain",
    .summary = "Osband's chain: 1xNx1 thermometer, 2 actions, optimal return 10",
    .dtype = ENV_DTYPE_UINT8,
    .n_native_actions = 2,
    .action_names = action_names,
    .n_minimal_actions = 2,
    .minimal_actions = minimal,
    .sticky_actions = 0,
    .has_ramping = 0,
    .glyphs = "#",
    .n_params = 1,
    .params = params,
    .create = create,
    .destroy = free,
    .reset = reset,
    .step = step,
    .observe = observe,
    .expert = expert,
};
