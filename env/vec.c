#include "env/vec.h"

#include <stdlib.h>
#include <string.h>

#include "env/env_impl.h"

struct env_vec {
    size_t n;
    size_t obs_bytes;
    env **envs;
    double *ret;    /* (E) return of the running episode */
    uint64_t *len;  /* (E) length of the running episode */
    env_vec_totals totals;
};

/* SplitMix64 finaliser: distinct envs get unrelated MT19937 seeds. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

env_vec *env_vec_new(const env_registry *reg, const char *name, const env_options *opts,
                     size_t n_envs, uint64_t seed, shoal_err *err)
{
    if (n_envs == 0) {
        shoal_err_set(err, SHOAL_EINVAL, "env vector of %s: needs at least one environment",
                      name);
        return NULL;
    }
    env_vec *v = calloc(1, sizeof *v);
    if (!v || !(v->envs = calloc(n_envs, sizeof *v->envs)) ||
        !(v->ret = calloc(n_envs, sizeof *v->ret)) || !(v->len = calloc(n_envs, sizeof *v->len))) {
        env_vec_free(v);
        shoal_err_set(err, SHOAL_ENOMEM, "env vector of %zu %s: out of memory", n_envs, name);
        return NULL;
    }
    v->n = n_envs;
    for (size_t i = 0; i < n_envs; i++) {
        v->envs[i] = env_make(reg, name, opts, err);
        if (!v->envs[i]) {
            env_vec_free(v);
            return NULL;
        }
        env_seed(v->envs[i], mix(seed * 0x9e3779b97f4a7c15ull + i + 1) & 0xffffffffu);
    }
    v->obs_bytes = env_obs_bytes(v->envs[0]);
    return v;
}

void env_vec_free(env_vec *v)
{
    if (!v) {
        return;
    }
    for (size_t i = 0; v->envs && i < v->n; i++) {
        env_free(v->envs[i]);
    }
    free(v->envs);
    free(v->ret);
    free(v->len);
    free(v);
}

size_t env_vec_size(const env_vec *v)
{
    return v->n;
}

env *env_vec_env(env_vec *v, size_t i)
{
    return v->envs[i];
}

void env_vec_reset(env_vec *v, void *obs)
{
    for (size_t i = 0; i < v->n; i++) {
        env_reset(v->envs[i], obs ? (uint8_t *)obs + i * v->obs_bytes : NULL);
        v->ret[i] = 0;
        v->len[i] = 0;
    }
}

/* The batch of observations is zeroed by one memset, and each env writes its observation
 * right after its step, while its state is still in L1 (a vector of 64 Seaquests holds more
 * than L1). The per-env memset calls made a vector step slower than a single env's, together
 * with the branch history that 64 different games share, which no order avoids. */
void env_vec_step(env_vec *v, const uint32_t *actions, const env_vec_out *out)
{
    v->totals.steps += v->n;
    uint8_t *obs = out->obs;
    if (obs) {
        memset(obs, 0, v->n * v->obs_bytes);
    }
    for (size_t i = 0; i < v->n; i++) {
        env *e = v->envs[i];
        env_step_result r = env_step_inline(e, actions[i], NULL);
        v->ret[i] += r.reward;
        v->len[i]++;
        if (out->reward) {
            out->reward[i] = r.reward;
        }
        if (out->terminal) {
            out->terminal[i] = r.terminal;
        }
        if (out->truncated) {
            out->truncated[i] = r.truncated;
        }
        if (r.terminal || r.truncated) {
            if (out->episode_return) {
                out->episode_return[i] = v->ret[i];
            }
            if (out->episode_length) {
                out->episode_length[i] = v->len[i];
            }
            if (out->final_obs) {
                env_observe_inline(e, (uint8_t *)out->final_obs + i * v->obs_bytes);
            }
            v->totals.episodes++;
            v->totals.return_sum += v->ret[i];
            v->totals.return_sq_sum += v->ret[i] * v->ret[i];
            v->totals.length_sum += (double)v->len[i];
            v->ret[i] = 0;
            v->len[i] = 0;
            env_reset(e, NULL);
        }
        if (obs) {
            e->game->observe(e->state, obs + i * v->obs_bytes);
        }
    }
}

const env_vec_totals *env_vec_totals_get(const env_vec *v)
{
    return &v->totals;
}
