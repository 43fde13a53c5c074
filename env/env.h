/* Environments: one interface for the MinAtar games, DeepSea, Chain and plugin games.
 *
 * An env wraps one game (env/game.h) and adds what every game shares: the sticky-action rule
 * and the shared random generator of MinAtar (specs/minatar.md §2.2, §2.4), a time limit
 * (max_episode_steps, reported as truncated, separately from terminal), the agent's action set
 * (the game's minimal set by default, or every native action), the observation written into a
 * caller-owned buffer, and an ASCII renderer. Names are looked up in a registry
 * (env/registry.h); NULL means the built-in games only. env_step never allocates.
 *
 * Observations are (H, W, C) row-major: OBS_DTYPE_BIT packs value (row*W + col)*C + channel
 * into bit i of byte i/8, LSB first (MinAtar; the fixtures' obs_hex); OBS_DTYPE_UINT8 stores one
 * byte per value (DeepSea, Chain). obs_unpack_f32 (common/obs.h) turns a batch of either into
 * floats for the network.
 *
 *     env_options o; env_options_default(&o);
 *     env *e = env_make(NULL, "minatar/breakout", &o, &err);
 *     env_seed(e, 1); env_reset(e, obs);
 *     env_step_result r = env_step(e, action, obs);   // r.reward, r.terminal, r.truncated
 */
#ifndef SHOAL_ENV_ENV_H
#define SHOAL_ENV_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "env/game.h"
#include "env/rand.h"

#define ENV_MAX_PARAMS 8
#define ENV_PARAM_NAME_MAX 32

/* Options of env_make. Plain data; start from env_options_default. */
typedef struct env_options {
    double sticky;              /* sticky-action probability (games with sticky actions) */
    bool ramping;               /* difficulty ramping (Asterix, Seaquest, Space Invaders) */
    uint64_t max_episode_steps; /* truncate episodes after this many steps; 0: no limit */
    bool full_action_set;       /* act on every native action instead of the minimal set */
    env_rand_kind rand_kind;    /* MT19937 (bit-exact MinAtar, default) or xoshiro */
    size_t n_params;            /* game parameters, checked against the game by env_make */
    struct {
        char name[ENV_PARAM_NAME_MAX];
        double value;
    } params[ENV_MAX_PARAMS];
} env_options;

/* Sticky 0.1, ramping on, no time limit, minimal actions, MT19937, no parameters. */
void env_options_default(env_options *o);

/* Applies "key=value,key=value" (empty text is fine): sticky, ramping (on/off/1/0/true/
 * false), max_episode_steps, actions (minimal|full), rng (mt19937|xoshiro); any other key is a
 * game parameter such as size=20, checked by env_make. EINVAL names the bad item. */
int env_options_parse(env_options *o, const char *text, shoal_err *err);

/* Sets game parameter name to value (replacing an earlier value). EINVAL when full. */
int env_options_set_param(env_options *o, const char *name, double value, shoal_err *err);

typedef struct env env;
typedef struct env_registry env_registry;

/* The result of one step. */
typedef struct env_step_result {
    float reward;
    bool terminal;  /* the game ended (no bootstrapping past it) */
    bool truncated; /* the time limit cut the episode (bootstrap from the last observation) */
} env_step_result;

/* A new environment seeded with 0 (call env_seed, then env_reset). reg may be NULL (built-in
 * games). ENOTFOUND for an unknown name and EINVAL for an unknown or out-of-range parameter,
 * each listing what exists; ENOMEM. */
env *env_make(const env_registry *reg, const char *name, const env_options *opts,
              shoal_err *err);

/* Frees e. NULL is fine. */
void env_free(env *e);

const env_game *env_game_of(const env *e);
obs_shape env_obs_shape(const env *e);
obs_dtype env_obs_dtype(const env *e);
size_t env_obs_bytes(const env *e);
/* The observation's shape, dtype and bytes in one (common/obs.h). */
obs_spec env_obs_spec(const env *e);
uint32_t env_n_actions(const env *e);
/* The environment's facts (observation spec and action count), as a run's config holds them. */
obs_facts env_facts(const env *e);
/* Name of agent action a (static string). */
const char *env_action_name(const env *e, uint32_t a);

/* Replaces the generator with a fresh one seeded with seed (MinAtar's seed(s)); the next reset
 * starts from it. The remembered sticky action is kept, as in the reference. */
void env_seed(env *e, uint64_t seed);

/* Starts a new episode without reseeding; writes the first observation when obs != NULL. */
void env_reset(env *e, void *obs);

/* One step with agent action a (< env_n_actions). Writes the observation after the step when
 * obs != NULL. After the episode ended, further steps return reward 0 with the same flags
 * (still drawing the sticky-action number, as MinAtar does) until env_reset. */
env_step_result env_step(env *e, uint32_t a, void *obs);

/* Writes the current observation into obs. */
void env_observe(const env *e, void *obs);

/* The native action the game last received (after the sticky rule); 0 before any step. */
uint32_t env_last_action(const env *e);

/* Steps taken in the current episode. */
uint64_t env_episode_steps(const env *e);

/* The game's ramp level, or -1 when it has none. */
int env_ramp_index(const env *e);

/* The game's state, for the game's own helpers (the expert); owned by e. */
const void *env_game_state(const env *e);

/* The same, writable: for tests and tools that build a situation directly in the state struct
 * (env/minatar_state.h). */
void *env_game_state_mut(env *e);

/* Writes an ASCII picture (H lines of W characters, one glyph per cell: the first channel that
 * is on, '.' for none) into buf, always NUL-terminated when cap > 0. Returns the length the
 * whole picture needs, like snprintf; allocates a scratch observation, so not for hot loops. */
size_t env_render(const env *e, char *buf, size_t cap);

/* Value (y, x, ch) of one observation (0 or 1 for BIT; the byte for UINT8). */
int env_obs_value(const void *obs, obs_shape shape, obs_dtype dtype, uint32_t y, uint32_t x,
                  uint32_t ch);

#endif
