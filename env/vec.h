/* A vector of E environments of one kind, stepped together with automatic reset. Observations
 * of all E envs go into one contiguous batch buffer (E x env_obs_bytes, env i at offset
 * i * env_obs_bytes), ready for obs_unpack_f32 and the network. When an episode ends the
 * env is reset at once: the batch then holds the first observation of the next episode, the
 * flags say which episode ended, and (if asked) the ended episode's last observation is copied
 * into final_obs, for bootstrapping at a time limit. Env i is seeded with a stream derived from
 * (seed, i). env_vec_step never allocates.
 *
 *     env_vec *v = env_vec_new(NULL, "minatar/breakout", &opts, 64, seed, &err);
 *     env_vec_reset(v, obs);
 *     env_vec_step(v, actions, &out);   // out.obs, out.reward[i], out.terminal[i], ...
 */
#ifndef SHOAL_ENV_VEC_H
#define SHOAL_ENV_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "env/env.h"

typedef struct env_vec env_vec;

/* Caller-owned output arrays of one vector step; each has n_envs entries. */
typedef struct env_vec_out {
    void *obs;                /* (E, obs_bytes): observation after the step (or after reset) */
    float *reward;            /* (E) */
    uint8_t *terminal;        /* (E) 1: the episode ended in a terminal state */
    uint8_t *truncated;       /* (E) 1: the time limit ended it */
    double *episode_return;   /* (E) the ended episode's return, where terminal|truncated */
    uint64_t *episode_length; /* (E) its length in steps, where terminal|truncated */
    void *final_obs;          /* optional (E, obs_bytes): the ended episode's last obs */
} env_vec_out;

/* Totals over every episode finished since env_vec_new. */
typedef struct env_vec_totals {
    uint64_t episodes, steps;
    double return_sum, return_sq_sum; /* for the mean and its standard error */
    double length_sum;
} env_vec_totals;

/* E = n_envs environments; NULL with err as env_make, or EINVAL for n_envs == 0. */
env_vec *env_vec_new(const env_registry *reg, const char *name, const env_options *opts,
                     size_t n_envs, uint64_t seed, shoal_err *err);

/* Frees v. NULL is fine. */
void env_vec_free(env_vec *v);

size_t env_vec_size(const env_vec *v);
/* Environment i (borrowed; valid while v lives). */
env *env_vec_env(env_vec *v, size_t i);

/* Resets every env and writes the batch of first observations (obs may be NULL). */
void env_vec_reset(env_vec *v, void *obs);

/* Steps env i with actions[i] for every i, resetting those whose episode ended. Fields of out
 * that are NULL are skipped (obs NULL: act without observations). */
void env_vec_step(env_vec *v, const uint32_t *actions, const env_vec_out *out);

const env_vec_totals *env_vec_totals_get(const env_vec *v);

#endif
