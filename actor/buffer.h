/* The actor's local transition buffer: the n-step transitions it emitted (actor/nstep.h) with
 * their bootstrap masks and initial priorities, plus the statistics of the episodes that ended
 * since the last batch, handed out as one replay_batch (replay/client.h: columns,
 * observations in their wire encoding, nothing copied) per send. Shared by the actor loop and
 * `shoal demos record`, so demonstrations carry exactly the actors' encoding. Columns are
 * allocated once for `cap` transitions; nothing here allocates afterwards.
 *
 *     actor_buffer *b = actor_buffer_new(cap, &spec, n_heads, aux_floats, &err);
 *     actor_nstep_push(ns, i, obs, a, r, term, trunc, next, aux, actor_buffer_steps(b));
 *     actor_buffer_batch(b, n, &batch);              // then replay_client_insert(c, &batch, ...)
 *     actor_buffer_drop(b, n);                       // forget what was sent
 */
#ifndef SHOAL_ACTOR_BUFFER_H
#define SHOAL_ACTOR_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "actor/nstep.h"
#include "common/err.h"
#include "replay/client.h"

/* Statistics of one finished episode (a batch's episode columns). */
typedef struct actor_episode {
    float ret;           /* extrinsic return */
    uint32_t length;     /* steps */
    uint32_t head;       /* bootstrap head it acted with (0 without heads) */
    float intrinsic_ret; /* sum of exploration bonuses */
} actor_episode;

typedef struct actor_buffer {
    actor_steps steps;   /* the transitions; steps.count of them */
    uint32_t *mask;      /* (cap) bootstrap mask bits */
    float *priority;     /* (cap) initial priority */
    int32_t *pending;    /* (cap) actor-private: what the priority still waits for (-1: none) */
    obs_spec spec;
    uint32_t n_heads;
    /* Episodes ended since the last batch (at most cap: each emitted a transition since). */
    size_t n_episodes;
    float *ep_return, *ep_intrinsic;
    uint32_t *ep_length, *ep_head;
    uint64_t env_steps;  /* env steps since the last batch */
} actor_buffer;

/* A buffer for cap transitions of spec's observations, n_heads bootstrap heads (0 or 1: no
 * masks) and aux_floats floats of aux per transition. NULL with EINVAL or ENOMEM. */
actor_buffer *actor_buffer_new(size_t cap, const obs_spec *spec, uint32_t n_heads,
                               size_t aux_floats, shoal_err *err);

/* Frees b. NULL is fine. */
void actor_buffer_free(actor_buffer *b);

/* The columns n-step pushes into (borrowed from b). */
actor_steps *actor_buffer_steps(actor_buffer *b);

/* Records a finished episode (asserts room: at most cap between batches). */
void actor_buffer_episode(actor_buffer *b, const actor_episode *ep);

/* Points out at the first n transitions (n <= steps.count) and, with them, every episode
 * recorded and the env steps counted since the last batch. actor_id, demo and params_version
 * are left 0/false for the caller. out borrows b's columns until the next change of b. */
void actor_buffer_batch(actor_buffer *b, size_t n, replay_batch *out);

/* Forgets the first n transitions (the rest move to the front) and the episode statistics and
 * env steps handed out with them. */
void actor_buffer_drop(actor_buffer *b, size_t n);

#endif
