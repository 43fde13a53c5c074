#include "actor/nstep.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* One env's FIFO: a ring of n records, oldest at head. */
typedef struct fifo {
    size_t head, len;
} fifo;

struct actor_nstep {
    size_t n_envs, n, obs_bytes, aux_floats;
    float gamma;
    fifo *q;          /* (n_envs) */
    uint8_t *obs;     /* (n_envs, n, obs_bytes) */
    uint32_t *action; /* (n_envs, n) */
    float *reward;    /* (n_envs, n) */
    float *cont;      /* (n_envs, n) continuation c = γ (1 − terminal) */
    float *aux;       /* (n_envs, n, aux_floats) */
};

actor_nstep *actor_nstep_new(size_t n_envs, size_t n, float gamma, size_t obs_bytes,
                             size_t aux_floats, shoal_err *err)
{
    if (n_envs == 0 || obs_bytes == 0) {
        shoal_err_set(err, SHOAL_EINVAL, "n-step: %zu envs of %zu-byte observations; need at "
                      "least one env and a non-empty observation", n_envs, obs_bytes);
        return NULL;
    }
    if (n < 1 || n > ACTOR_MAX_NSTEP) {
        shoal_err_set(err, SHOAL_EINVAL, "n-step: n = %zu; expected 1..%d (actor.n_step)", n,
                      ACTOR_MAX_NSTEP);
        return NULL;
    }
    if (!(gamma >= 0.0f && gamma <= 1.0f)) {
        shoal_err_set(err, SHOAL_EINVAL, "n-step: gamma = %g; expected a value in [0, 1] "
                      "(actor.gamma)", (double)gamma);
        return NULL;
    }
    actor_nstep *ns = calloc(1, sizeof *ns);
    if (!ns) {
        goto oom;
    }
    ns->n_envs = n_envs;
    ns->n = n;
    ns->gamma = gamma;
    ns->obs_bytes = obs_bytes;
    ns->aux_floats = aux_floats;
    size_t slots = n_envs * n;
    ns->q = calloc(n_envs, sizeof *ns->q);
    ns->obs = malloc(slots * obs_bytes);
    ns->action = calloc(slots, sizeof *ns->action);
    ns->reward = calloc(slots, sizeof *ns->reward);
    ns->cont = calloc(slots, sizeof *ns->cont);
    ns->aux = aux_floats ? calloc(slots * aux_floats, sizeof *ns->aux) : NULL;
    if (!ns->q || !ns->obs || !ns->action || !ns->reward || !ns->cont ||
        (aux_floats && !ns->aux)) {
        goto oom;
    }
    return ns;
oom:
    actor_nstep_free(ns);
    shoal_err_set(err, SHOAL_ENOMEM, "n-step: out of memory for %zu envs x %zu records of %zu "
                  "bytes", n_envs, n, obs_bytes);
    return NULL;
}

void actor_nstep_free(actor_nstep *ns)
{
    if (!ns) {
        return;
    }
    free(ns->q);
    free(ns->obs);
    free(ns->action);
    free(ns->reward);
    free(ns->cont);
    free(ns->aux);
    free(ns);
}

/* Emits the transition from env i's record at FIFO position `from` (0 = oldest) through the
 * newest record, ending in next_obs. Sums in double so long windows do not lose the small
 * tail terms. */
static void emit(const actor_nstep *ns, size_t i, size_t from, const void *next_obs,
                 actor_steps *out)
{
    assert(out->count < out->cap);
    const fifo *f = &ns->q[i];
    size_t base = i * ns->n;
    double ret = 0.0, disc = 1.0;
    for (size_t k = from; k < f->len; k++) {
        size_t r = base + (f->head + k) % ns->n;
        ret += disc * (double)ns->reward[r];
        disc *= (double)ns->cont[r];
    }
    size_t first = base + (f->head + from) % ns->n;
    size_t o = out->count++;
    memcpy(out->obs + o * ns->obs_bytes, ns->obs + first * ns->obs_bytes, ns->obs_bytes);
    memcpy(out->next_obs + o * ns->obs_bytes, next_obs, ns->obs_bytes);
    out->action[o] = ns->action[first];
    out->reward[o] = (float)ret;
    out->discount[o] = (float)disc;
    out->n_steps[o] = (uint32_t)(f->len - from);
    out->env[o] = (uint32_t)i;
    if (ns->aux_floats) {
        memcpy(out->aux + o * ns->aux_floats, ns->aux + first * ns->aux_floats,
               ns->aux_floats * sizeof *ns->aux);
    }
}

size_t actor_nstep_push(actor_nstep *ns, size_t i, const void *obs, uint32_t action, float reward,
                        bool terminal, bool truncated, const void *next_obs, const float *aux,
                        actor_steps *out)
{
    assert(ns && i < ns->n_envs && out && out->obs_bytes == ns->obs_bytes);
    assert(out->aux_floats == ns->aux_floats && (aux || !ns->aux_floats));
    assert(out->count + ns->n <= out->cap);
    fifo *f = &ns->q[i];
    size_t r = i * ns->n + (f->head + f->len) % ns->n;
    f->len++;
    memcpy(ns->obs + r * ns->obs_bytes, obs, ns->obs_bytes);
    ns->action[r] = action;
    ns->reward[r] = reward;
    ns->cont[r] = terminal ? 0.0f : ns->gamma;
    if (ns->aux_floats) {
        memcpy(ns->aux + r * ns->aux_floats, aux, ns->aux_floats * sizeof *ns->aux);
    }
    if (terminal || truncated) {
        size_t n_out = f->len;
        for (size_t k = 0; k < n_out; k++) {
            emit(ns, i, k, next_obs, out);
        }
        f->head = 0;
        f->len = 0;
        return n_out;
    }
    if (f->len < ns->n) {
        return 0;
    }
    emit(ns, i, 0, next_obs, out);
    f->head = (f->head + 1) % ns->n;
    f->len--;
    return 1;
}

size_t actor_nstep_held(const actor_nstep *ns, size_t i)
{
    assert(ns && i < ns->n_envs);
    return ns->q[i].len;
}

size_t actor_nstep_pending(const actor_nstep *ns)
{
    size_t total = 0;
    for (size_t i = 0; i < ns->n_envs; i++) {
        total += ns->q[i].len;
    }
    return total;
}

void actor_nstep_clear(actor_nstep *ns, size_t i)
{
    assert(ns && i < ns->n_envs);
    ns->q[i].head = 0;
    ns->q[i].len = 0;
}

size_t actor_nstep_n(const actor_nstep *ns)
{
    return ns->n;
}
