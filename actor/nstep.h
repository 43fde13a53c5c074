/* n-step accumulation for E environments (specs/algorithms.md §1.4). Each env keeps a FIFO of
 * at most n one-step records (s_t, a_t, r_{t+1}, c_{t+1}) with the continuation
 * c = γ·(1 − terminal): a terminal ends bootstrapping, a time-limit truncation does not (c = γ,
 * the tail bootstraps from the last observation with γ^k for the k steps taken).
 *
 * Emission: once the FIFO holds n records, each step emits the n-step transition that starts
 * at the oldest record and drops it; the last step of an episode (terminal or truncation)
 * emits one transition from every record still held, of lengths min(n, T), ..., 2, 1, and
 * clears the FIFO. No window crosses an episode boundary, so every env step becomes exactly
 * one transition, except the at most n − 1 records of an unfinished episode
 * (actor_nstep_pending). A transition is (s_t, a_t, R, C, s_{t+m}) with
 * R = Σ_k (Π_{j<k} c_j) r_k and C = Π_j c_j (0 once a terminal is inside the window).
 *
 * Each record can carry `aux_floats` floats chosen by the caller (the actor keeps Q(s_t, ·)
 * there, for initial priorities); they travel with the transition that starts at the record.
 * Memory is sized in actor_nstep_new; push never allocates.
 *
 *     actor_nstep *ns = actor_nstep_new(n_envs, 3, 0.99f, obs_bytes, 0, &err);
 *     actor_steps out;    // caller-owned columns with room for n more transitions
 *     actor_nstep_push(ns, i, obs, a, r, terminal, truncated, next_obs, NULL, &out);
 */
#ifndef SHOAL_ACTOR_NSTEP_H
#define SHOAL_ACTOR_NSTEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ACTOR_MAX_NSTEP 64

/* Emitted transitions, struct-of-arrays; the caller owns the columns (cap entries each) and
 * sets cap, obs_bytes and aux_floats; push appends at count. */
typedef struct actor_steps {
    size_t cap, count;
    size_t obs_bytes, aux_floats;
    uint8_t *obs;      /* (cap, obs_bytes) s_t */
    uint8_t *next_obs; /* (cap, obs_bytes) s_{t+m} (the final observation at an episode end) */
    uint32_t *action;  /* (cap) a_t */
    float *reward;     /* (cap) R */
    float *discount;   /* (cap) C = γ^m, or 0 after a terminal */
    uint32_t *n_steps; /* (cap) m, 1 <= m <= n */
    uint32_t *env;     /* (cap) index of the env that produced it */
    float *aux;        /* (cap, aux_floats) the first record's aux; NULL when aux_floats is 0 */
} actor_steps;

typedef struct actor_nstep actor_nstep;

/* Accumulators for n_envs envs, n in 1..ACTOR_MAX_NSTEP, gamma in [0, 1]. NULL with EINVAL
 * naming the bad argument, or ENOMEM. */
actor_nstep *actor_nstep_new(size_t n_envs, size_t n, float gamma, size_t obs_bytes,
                             size_t aux_floats, shoal_err *err);

/* Frees ns. NULL is fine. */
void actor_nstep_free(actor_nstep *ns);

/* Records one step of env i: in observation obs (s_t) the agent took action and received
 * reward; next_obs is the observation after the step (the episode's last one when it ended);
 * aux (aux_floats floats, may be NULL when aux_floats is 0) is kept with the record. Appends
 * the transitions this step completes to out, which must have room for n more (asserted).
 * Returns how many were appended. */
size_t actor_nstep_push(actor_nstep *ns, size_t i, const void *obs, uint32_t action, float reward,
                        bool terminal, bool truncated, const void *next_obs, const float *aux,
                        actor_steps *out);

/* Records of env i not yet emitted (0..n−1 between pushes): steps of an unfinished episode. */
size_t actor_nstep_held(const actor_nstep *ns, size_t i);

/* Records held over all envs. */
size_t actor_nstep_pending(const actor_nstep *ns);

/* Forgets env i's records (its episode was abandoned, e.g. on a reset outside the loop). */
void actor_nstep_clear(actor_nstep *ns, size_t i);

size_t actor_nstep_n(const actor_nstep *ns);

#endif
