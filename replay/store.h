/* The shard store: agent transitions in a FIFO ring of fixed capacity, demonstrations in a
 * separate store that is never evicted, and the sum-trees that sample both in proportion to
 * priority^α (Schaul et al. 2016; Ape-X; DQfD; Ape-X DQfD; algorithms.md §2, §6).
 *
 * Memory is planned up front: replay_store_new allocates every column for `capacity` agent
 * and `demo_capacity` demo transitions from the observation size, and nothing on the insert,
 * sample or update paths allocates. Observations are stored in their wire encoding (bit-packed
 * for MinAtar), so a sample copies bytes and never converts.
 *
 * Keys: a transition is named by (store, slot, generation) packed in a uint64 (REPLAY_KEY_*).
 * Each overwrite of a ring slot bumps its generation, so a priority update for a slot that was
 * overwritten since it was sampled is recognised as stale and ignored.
 *
 * Priorities: the leaf of a transition is (p + ε)^α with p the |δ| sent by the actor or the
 * learner; demonstrations have two leaves, (p + ε)^α for their own tree (exact demo fraction,
 * Ape-X DQfD) and (p + ε_d)^α for the mixed tree (DQfD demo bonus). Importance weights are
 * (N·P(i))^-β normalised by the largest weight of the batch (algorithms.md §2.1, batch max).
 *
 *     replay_store *s = replay_store_new(&cfg, &err);
 *     replay_store_insert(s, &batch, false, &err);
 *     replay_store_sample(s, &req, sample, &err);   // sample from replay_sample_new
 *
 * The plain structs it shares with the client (replay_transitions, replay_sample_req,
 * replay_sample) are declared in replay/client.h.
 */
#ifndef SHOAL_REPLAY_STORE_H
#define SHOAL_REPLAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/obs.h"
#include "common/rng.h"
#include "replay/cio.h"
#include "replay/client.h"

/* Key layout: bit 63 store (1 = demo), bits 32..62 generation, bits 0..31 slot. */
#define REPLAY_KEY_DEMO_BIT ((uint64_t)1 << 63)
#define REPLAY_KEY_GEN_MASK 0x7FFFFFFFu
#define REPLAY_MAX_CAPACITY 0xFFFFFFFFu

typedef struct replay_store_config {
    size_t capacity;       /* agent ring, >= 1 */
    size_t demo_capacity;  /* demonstrations, may be 0 */
    obs_spec spec;
    double alpha;          /* priority exponent α */
    double epsilon;        /* ε added to every |δ| (ε_a for agent data) */
    double epsilon_demo;   /* ε_d for demonstrations in the mixed tree (DQfD demo bonus) */
    uint64_t seed;         /* sampling stream (seed, RNG_ROLE_REPLAY, shard, 0) */
    uint32_t shard;
    size_t max_batch;      /* largest sample batch; bounds replay_sample */
} replay_store_config;

/* Priority totals and sizes: what a client needs to sample across shards in proportion to
 * their totals and to turn per-shard probabilities into global ones. */
typedef struct replay_totals {
    double agent;      /* Σ (p + ε)^α over agent transitions */
    double demo;       /* Σ (p + ε)^α over demonstrations */
    double demo_bonus; /* Σ (p + ε_d)^α over demonstrations */
    uint64_t size;
    uint64_t demo_size;
} replay_totals;

typedef struct replay_store_counters {
    uint64_t inserted;      /* agent transitions */
    uint64_t demo_inserted;
    uint64_t sampled;       /* transitions served, demos included */
    uint64_t demo_sampled;
    uint64_t updates;       /* priorities applied */
    uint64_t stale_updates; /* priorities ignored: slot overwritten since sampled */
} replay_store_counters;

typedef struct replay_store replay_store;

/* Allocates the whole store. EINVAL names the bad field; ENOMEM gives the bytes wanted. */
replay_store *replay_store_new(const replay_store_config *cfg, shoal_err *err);

/* Frees s. NULL and half-built stores are fine. */
void replay_store_free(replay_store *s);

/* Stores the transitions (demo: in the demo store, else in the ring, evicting the oldest).
 * t->label marks them label-only (DAgger; demo only): sampled with replay_sample.label set,
 * discount 0, and their priority never updated. Checks first, then writes, so on error nothing
 * is stored: EINVAL for priorities that are NaN, infinite or negative, n_heads over 32 or
 * unlike the heads already held, or labels outside the demo store; ESTATE when the demo store
 * has no room. */
int replay_store_insert(replay_store *s, const replay_transitions *t, bool demo, shoal_err *err);

/* Samples req->batch_size transitions into out. EINVAL for a request outside the limits;
 * ESTATE when a population it needs is empty or has zero total priority. */
int replay_store_sample(replay_store *s, const replay_sample_req *req, replay_sample *out,
                        shoal_err *err);

/* Applies new priorities (|δ|) to keys. All keys and priorities are checked before any is
 * applied: EINVAL for a key whose slot is outside the store or a priority that is NaN,
 * infinite or negative. Stale keys are skipped, and so are label-only transitions (a TD error says nothing
 * of a label); *n_applied counts the others (may be NULL). */
int replay_store_update(replay_store *s, const uint64_t *keys, const float *priorities, size_t n,
                        size_t *n_applied, shoal_err *err);

replay_totals replay_store_totals(const replay_store *s);
replay_store_counters replay_store_counters_get(const replay_store *s);
/* Agent transitions per priority bin (replay_priority_bin over |δ|); sums to the agent size. */
void replay_store_priority_hist(const replay_store *s, uint64_t hist[REPLAY_PRIORITY_BINS]);
const obs_spec *replay_store_spec(const replay_store *s);
/* Bootstrap heads of the agent data (0 until the first insert with masks). */
uint32_t replay_store_heads(const replay_store *s);
/* Bytes allocated for columns and trees. */
size_t replay_store_footprint(const replay_store *s);
size_t replay_store_capacity(const replay_store *s);
size_t replay_store_demo_capacity(const replay_store *s);

/* Priority (|δ|) currently held for key, or -1 when the key is stale or out of range. */
double replay_store_priority_of(const replay_store *s, uint64_t key);

/* Writes the whole store (columns, generations, counters, sampling stream) to io. The trees are
 * rebuilt from the priorities on load. Raw host-order columns (little-endian machines). */
int replay_store_save(const replay_store *s, replay_cio *io, shoal_err *err);

/* Reads what replay_store_save wrote into an empty store of the same capacity, observation
 * spec and demo capacity at least the saved demo size. ECORRUPT/EINVAL with what differs; on
 * error the store is left empty. */
int replay_store_load(replay_store *s, replay_cio *io, shoal_err *err);

/* Empties both stores and zeroes the counters. */
void replay_store_clear(replay_store *s);

/* Importance weights (Schaul et al. 2016) of n draws, ratio[i] = N·P(i) > 0 for a draw of
 * probability P(i) from a population of N: w[i] = (N·P(i))^-β normalised by the batch's
 * largest, which is computed as (min_j ratio[j] / ratio[i])^β (the largest is exactly 1).
 * Within a few float ulps of the same in double. */
void replay_importance_weights(float *w, const double *ratio, size_t n, double beta);

#endif
