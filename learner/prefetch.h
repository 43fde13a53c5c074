/* Batch prefetch: a thread that owns the replay client (replay/client.h is single-threaded, so
 * no other thread touches it), keeps up to `pipeline` sample requests in flight across the
 * shards, decodes each arriving batch (bit-unpacking observations to float with
 * obs_unpack_f32) into one of `depth` ready buffers, sends the learner's new priorities
 * back to the shards that served each sample, and polls the shards' statistics (every
 * stats_secs, and when asked).
 *
 * The buffers form a ring that the two threads pass in order: FREE -> (prefetch fills) READY ->
 * (learner takes) IN_USE -> (learner hands back with priorities) DONE -> (prefetch sends the
 * priority update) FREE. The DONE buffers are the priority-update queue; a request is issued
 * only when a FREE buffer is waiting for it, so memory is fixed after _new and the update loop
 * never waits on the network while replay keeps up.
 *
 * Waiting on a shard is retried until stopped: a shard below its minimum size or held by its
 * rate limiter is normal at start-up, so ETIMEOUT is logged (every 10 s), not fatal. Any other
 * error stops the prefetching and is returned by the next learner_prefetch_next.
 *
 * Before the first request the thread asks every shard for its Stats: when no shard holds
 * demonstrations the demo share is dropped (agent data only) until a shard's reply shows some
 * (DAgger's labels arrive while the run goes), and demonstration-only batches (pre-training)
 * are an ESTATE error.
 *
 *     learner_prefetch *p = learner_prefetch_new(&cfg, &err);
 *     learner_prefetch_next(p, 100, &batch, &priorities, &err);   // SHOAL_EAGAIN: not yet
 *     ... fill priorities[0 .. batch->count) ...
 *     learner_prefetch_done(p, true);
 */
#ifndef SHOAL_LEARNER_PREFETCH_H
#define SHOAL_LEARNER_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/obs.h"
#include "learner/update.h"
#include "replay/client.h"

typedef struct learner_prefetch_config {
    const char *const *endpoints; /* replay shards, copied by _new */
    size_t n_shards;
    replay_client_options client; /* obs_bytes, max_batch and pipeline are set by _new */
    replay_sample_req req;        /* batch_size is this rank's share */
    obs_spec obs;                 /* observation layout for decoding */
    size_t depth;                 /* ready buffers, >= 1 */
    size_t pipeline;              /* sample requests in flight, 1 .. depth */
    uint64_t n_demo_only;         /* the first this many batches are demonstrations only */
    uint64_t n_batches;           /* batches to request in all; 0 = until stopped */
    uint64_t beta_anneal;         /* req.beta rises linearly to 1 over this many batches of
                                   * the run (learner.beta_anneal_updates); 0 = fixed */
    uint64_t first_batch;         /* the run's batches before this prefetcher's first (a
                                   * resumed run's step), where its β schedule resumes */
    bool offline;                 /* learner.mode = offline: when the shards hold no agent data
                                   * (no replay checkpoint loaded), every batch is demo-only */
    bool await_labels;            /* DAgger (actor.label): actors add demonstrations as the run
                                   * goes, so a demo-only learner (behaviour cloning) waits for
                                   * the first instead of failing, and its samples pace the
                                   * actors through the shards' rate limiter */
    double stats_secs;            /* poll every shard's Stats this often; 0 = never */
} learner_prefetch_config;

/* Statistics summed over the shards at the last poll. */
typedef struct learner_replay_stats {
    bool known;              /* every shard has answered at least once */
    uint64_t size, demo_size, capacity;
    uint64_t inserted, sampled, demo_sampled;
    uint64_t priority_updates, stale_updates;
    uint64_t env_steps;      /* frames reported by the actors */
    uint64_t episodes;
    double return_sum;       /* Σ extrinsic returns of those episodes */
    double last_return_sum;  /* Σ over actors of their latest episode's return */
    double intrinsic_return_sum; /* Σ intrinsic returns (exploration bonuses) of the episodes */
    size_t n_actors;
    uint64_t labels, label_ns, expert_steps; /* DAgger: Σ over the actors (ActorStats) */
    double sample_blocked_s; /* Σ time the shards' limiters held sample replies */
    double insert_blocked_s; /* Σ time the shards' limiters held insert acks */
    replay_insight insight;  /* merged over the shards (replay_insight_merge) */
} learner_replay_stats;

typedef struct learner_prefetch learner_prefetch;

/* Connects the replay client and starts the thread. NULL with EINVAL, EIO or ENOMEM. */
learner_prefetch *learner_prefetch_new(const learner_prefetch_config *cfg, shoal_err *err);

/* Stops the thread after it has sent every priority update handed back, closes the client and
 * frees everything. NULL is fine. */
void learner_prefetch_free(learner_prefetch *p);

/* Waits up to timeout_ms for the next decoded batch. *batch and *priorities (batch->count
 * floats, for the caller to fill) are owned by p and valid until learner_prefetch_done. Returns
 * EAGAIN when none arrived in time, ESTATE when the previous batch was not handed back or every
 * requested batch was delivered, or the error that stopped the thread. */
int learner_prefetch_next(learner_prefetch *p, int timeout_ms, const learner_batch **batch,
                          float **priorities, shoal_err *err);

/* Hands the batch taken by learner_prefetch_next back. With priorities_filled the thread sends
 * them to the shards that served each sample; without (the update failed and wrote none),
 * nothing is sent for the batch. */
void learner_prefetch_done(learner_prefetch *p, bool priorities_filled);

/* Asks the thread for a Stats poll of every shard now (between its other calls, each bounded
 * by 200 ms) and waits up to timeout_ms for it. true when every shard answered a poll begun
 * after this call (learner_prefetch_stats returns it); false on timeout or when the thread
 * has stopped (the statistics are then those of the last complete poll). */
bool learner_prefetch_poll_stats(learner_prefetch *p, int timeout_ms);

/* The statistics of the last poll (known = false before every shard answered). */
learner_replay_stats learner_prefetch_stats(learner_prefetch *p);

/* The importance-sampling exponent of the run's batch number `batch` (from 0): beta0 rising
 * linearly to 1 over `anneal` batches, then 1 (Schaul et al. 2016, whose β reaches 1 at the
 * end of learning); beta0 throughout when anneal is 0. */
double learner_prefetch_beta(double beta0, uint64_t anneal, uint64_t batch);

#endif
