/* One environment's rules behind a table of functions: the contract between the env wrapper
 * (env/env.h) and a game, built in or loaded from a plugin (env/plugin.h). This header is the
 * plugin ABI, so it uses only fixed-size integers, plain structs and function pointers.
 *
 * A game owns its state (create/destroy) and knows nothing of sticky actions, time limits,
 * action subsets or seeding policy: the wrapper does those the same way for every game. A game
 * acts on *native* actions (MinAtar's six indices for the MinAtar games); the wrapper maps the
 * agent's action index through `minimal_actions`. Observations are written into a buffer the
 * wrapper has already zeroed, as packed bits (OBS_DTYPE_BIT: value (row*W + col)*C + channel
 * is bit i, byte i/8, LSB first) or one byte per value (OBS_DTYPE_UINT8), row-major (H, W, C).
 * step, reset and observe never allocate.
 *
 *     void *s = g->create(params, 1, &shape, &err);
 *     g->reset(s, &rand);
 *     float r = g->step(s, 3, &rand, &terminal);  g->observe(s, obs);
 */
#ifndef SHOAL_ENV_GAME_H
#define SHOAL_ENV_GAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "env/rand.h"

#define ENV_GAME_ABI_VERSION 1u

/* Observation encodings; the numbers are proto/shoal.proto's ObsDtype. */
typedef enum obs_dtype {
    OBS_DTYPE_BIT = 1,
    OBS_DTYPE_UINT8 = 2,
    OBS_DTYPE_FLOAT32 = 3,
} obs_dtype;

/* Shape of one observation. */
typedef struct env_shape {
    uint32_t h, w, c;
} env_shape;

/* A numeric parameter a game accepts as an option ("size=20"); plain static data. */
typedef struct env_param_def {
    const char *name;
    double default_value, min, max;
    int integer; /* 1: the value must be a whole number */
    const char *doc;
} env_param_def;

/* Random draws offered to plugins, which cannot link the host's env_rand functions. */
typedef struct env_host {
    uint32_t abi_version;
    double (*uniform)(env_rand *r);                      /* [0, 1) */
    int64_t (*integer)(env_rand *r, int64_t low, int64_t high); /* [low, high) */
} env_host;

typedef struct env_game {
    uint32_t abi_version;           /* ENV_GAME_ABI_VERSION */
    const char *name;               /* registry name, e.g. "minatar/breakout" */
    const char *summary;            /* one line for `shoal env list` */
    obs_dtype dtype;                /* OBS_DTYPE_BIT or OBS_DTYPE_UINT8 */
    uint32_t n_native_actions;      /* actions the game accepts, 0 .. n-1 */
    const char *const *action_names;/* n_native_actions names */
    uint32_t n_minimal_actions;     /* the agent's action set, as native indices */
    const uint32_t *minimal_actions;
    int sticky_actions;             /* 1: the wrapper applies the sticky-action rule */
    int has_ramping;                /* 1: the ramping option means something to this game */
    const char *glyphs;             /* one character per channel for the ASCII renderer */
    size_t n_params;
    const env_param_def *params;

    /* New state for these parameter values (one per params entry, in order, already range
     * checked); fills *shape. NULL with err on failure. */
    void *(*create)(const double *param_values, int ramping, env_shape *shape, shoal_err *err);
    /* Frees state; NULL is fine. */
    void (*destroy)(void *state);
    /* Optional (may be NULL): called when the wrapper is seeded, before the next reset. */
    void (*seed)(void *state, uint64_t seed);
    /* Starts an episode. */
    void (*reset)(void *state, env_rand *r);
    /* One step with a native action; returns the reward and sets *terminal (0/1). Never
     * called again after terminal until reset. */
    float (*step)(void *state, uint32_t action, env_rand *r, int *terminal);
    /* Writes the observation into obs, which the caller has zeroed. */
    void (*observe)(const void *state, uint8_t *obs);
    /* Optional: the difficulty ramp level, or -1 when the game has none. */
    int (*ramp_index)(const void *state);
    /* Optional: a scripted expert's native action in this state (env/expert.h). */
    uint32_t (*expert)(const void *state, env_rand *r);
} env_game;

/* Bytes of one observation. */
static inline size_t env_shape_bytes(env_shape s, obs_dtype dtype)
{
    size_t n = (size_t)s.h * s.w * s.c;
    return dtype == OBS_DTYPE_BIT ? (n + 7) / 8 : dtype == OBS_DTYPE_FLOAT32 ? n * 4 : n;
}

/* Sets value (y, x, ch) of a packed 10-column observation with n_ch channels. */
static inline void env_bit_set(uint8_t *obs, int n_ch, int y, int x, int ch)
{
    unsigned i = (unsigned)((y * 10 + x) * n_ch + ch);
    obs[i >> 3] |= (uint8_t)(1u << (i & 7u));
}

/* Sets channel ch of every column whose bit is set in mask (bit x = column x) in row y. For
 * up to 6 channels the whole row fits one 64-bit word: spread the 10 bits C apart and OR the
 * word in byte by byte (no branch per cell); wider layouts set cell by cell. */
static inline void env_bit_set_row(uint8_t *obs, int n_ch, int y, int ch, uint32_t mask)
{
    if (!mask) {
        return;
    }
    if (n_ch > 6) {
        while (mask) {
            int x = __builtin_ctz(mask);
            env_bit_set(obs, n_ch, y, x, ch);
            mask &= mask - 1;
        }
        return;
    }
    uint64_t v = 0;
    for (int x = 0; x < 10; x++) {
        v |= (uint64_t)((mask >> x) & 1u) << (x * n_ch);
    }
    unsigned bit0 = (unsigned)(y * 10 * n_ch + ch);
    v <<= bit0 & 7u;
    uint8_t *p = obs + (bit0 >> 3);
    unsigned n_bytes = ((bit0 & 7u) + 9u * (unsigned)n_ch + 8u) / 8u;
    for (unsigned k = 0; k < n_bytes; k++) {
        p[k] |= (uint8_t)(v >> (8 * k));
    }
}

#endif
