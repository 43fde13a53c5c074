/* The replay client, used by actors (insert) and learners (sample, priority updates): one
 * DEALER socket per shard, every blocking call bounded by a timeout.
 *
 * This header is replay's only face to the other parts, and it speaks plain C structs: a batch
 * of transitions as columns with its episode statistics (replay_batch), a sampled batch
 * (replay_sample), a shard's statistics (replay_stats). Encoding them for the wire
 * (proto/shoal.proto) is replay's own business (replay/wire.h). Demonstration files are
 * written through here too (replay_demo_writer, at the end), from the same replay_batch.
 *
 * Insert: a batch goes to shard actor_id mod n_shards (demonstration batches round-robin),
 * and the client keeps at most `credits` batches unacknowledged per shard, as the shard's
 * InsertAcks allow: a slow shard slows its actors instead of growing their memory.
 *
 * Sample: prioritisation is global, not per shard. Each SampleBatch and Stats reply carries the
 * shard's priority totals; a request is split across shards by systematic sampling in
 * proportion to those totals (so shard s serves B·T_s/T transitions in expectation and never
 * deviates from it by one or more), and the importance weights are recomputed from the global
 * probabilities leaf/ΣT and the global population. Several requests may be in flight
 * (pipelining); the source shard of every transition is remembered so the priority update goes
 * back to it.
 *
 * Errors: an Error reply fails the call it answers (for a sample, the batch it belongs to);
 * an Error for a priority update (which gets no reply otherwise) is reported by the next call.
 * ETIMEOUT names the shard and its endpoint: a shard that died or restarted is noticed there,
 * never by hanging. ETIMEOUT on insert is retryable (the limiter may be holding acks).
 *
 *     replay_client *c = replay_client_new(endpoints, 2, &opt, &err);
 *     replay_client_sample_request(c, &req, &err);            // as many as opt.pipeline
 *     const replay_sample *b; replay_client_sample_next(c, &b, &err);
 *     replay_client_update_priorities(c, b, new_priorities, &err);
 */
#ifndef SHOAL_REPLAY_CLIENT_H
#define SHOAL_REPLAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/curve.h"
#include "common/err.h"
#include "common/obs.h"

#define REPLAY_CLIENT_MAX_SHARDS 256
/* Bootstrap heads a batch may carry (a mask is 32 bits). */
#define REPLAY_MAX_HEADS 32u
/* actor_id of demonstration batches. */
#define REPLAY_DEMO_ACTOR 0xFFFFFFFFu

/* Transitions to insert, struct-of-arrays, borrowed for the call. mask may be NULL (every head
 * trains on every transition). */
typedef struct replay_transitions {
    size_t count;
    uint32_t n_heads;         /* 0 or 1: no masks */
    const uint8_t *obs;       /* count observations of the batch's spec.bytes */
    const uint8_t *next_obs;  /* count observations */
    const uint32_t *action;
    const float *reward;
    const float *discount;
    const uint32_t *mask;     /* NULL or count entries */
    const float *priority;    /* |δ|, finite and >= 0 */
    bool label;               /* label-only (DAgger): demo store only; no TD loss (see below) */
} replay_transitions;

/* Episodes that ended since an actor's previous batch, struct-of-arrays, borrowed. */
typedef struct replay_episodes {
    size_t count;
    const float *ret;           /* extrinsic return */
    const uint32_t *length;     /* steps */
    const uint32_t *head;       /* bootstrap head it acted with (0 without heads) */
    const float *intrinsic_ret; /* Σ exploration bonuses; NULL: none sent */
} replay_episodes;

/* One batch for a shard (InsertBatch), every column borrowed for the call: the transitions,
 * who sent them, and the episode statistics that travel with them.
 *
 * DAgger label batches (t.label, with demo): states an actor visited, each with the expert's
 * action (its label); reward 0, discount 0, next_obs a copy of obs, because the step the actor
 * took does not describe the label's consequence. The shard keeps them in its demo store
 * (never evicted) marked label-only: a sample hands them out with label set and mask 0, so no
 * head trains its TD error on them, and their priority stays what the actor sent. They carry
 * the sending actor's id (not REPLAY_DEMO_ACTOR) and no episodes or env steps (those travel in
 * the actor's ordinary batches). */
typedef struct replay_batch {
    uint32_t actor_id;       /* global actor index; REPLAY_DEMO_ACTOR exactly when demo and not
                              * t.label */
    bool demo;               /* demonstrations: stored in the demo store, never evicted */
    uint64_t label_ns;       /* label batches: ns the expert spent labelling them */
    uint64_t expert_steps;   /* label batches: how many of their steps the expert drove */
    uint64_t params_version; /* parameters the actor acted with */
    uint64_t env_steps;      /* frames since the actor's previous batch */
    obs_spec spec;           /* encoding of t.obs and t.next_obs (spec.bytes each) */
    replay_transitions t;
    replay_episodes episodes;
    /* Shared counts: the SimHash codes the actor visited since its previous batch (NULL, 0:
     * none; at most REPLAY_MAX_VISITS). The shard adds them to its counts and returns its totals
     * for them with an acknowledgement (replay_client_visit_counts). */
    const uint64_t *visits;
    size_t n_visits;
} replay_batch;

/* Visit codes one batch may carry. */
#define REPLAY_MAX_VISITS 65536u

/* A sample request (SampleRequest, validated). */
typedef struct replay_sample_req {
    size_t batch_size;
    double demo_fraction; /* exact share: round(demo_fraction * batch_size) demonstrations */
    double beta;
    bool mixed;           /* one tree over agent data and demos with the ε_d bonus */
    bool demo_only;       /* demonstrations only (DQfD pre-training) */
    bool paced;           /* demo_only through the rate limiter: behaviour cloning on DAgger's
                           * labels, whose actors must not outrun the learner */
} replay_sample_req;

/* A sampled batch, owned by the caller, allocated once for max_batch transitions: a shard's
 * store samples into it, and the client assembles its batches across shards in the same
 * struct (what the learner reads, observations still in their wire encoding). */
typedef struct replay_sample {
    size_t max_batch;
    size_t obs_bytes;
    size_t count;
    uint32_t n_heads;
    uint64_t *key;
    uint32_t *shard;     /* shard that served each transition: the store's index, or the
                          * client's endpoint index (where its priority update goes) */
    float *weight;       /* importance weights, the largest is 1 */
    double *leaf;        /* priority^α of each transition when sampled (for global weights) */
    uint8_t *obs;
    uint8_t *next_obs;
    uint32_t *action;
    float *reward;
    float *discount;
    uint32_t *mask;      /* bootstrap masks; all ones when n_heads <= 1 */
    bool *demo;
    bool *label;         /* label-only (DAgger) transitions; they come with mask 0 */
    size_t n_demo;
} replay_sample;

/* A sample buffer for batches of up to max_batch observations of obs_bytes. NULL with ENOMEM. */
replay_sample *replay_sample_new(size_t max_batch, size_t obs_bytes, shoal_err *err);
void replay_sample_free(replay_sample *x);

typedef struct replay_client_options {
    int timeout_ms;           /* bound on every wait; default 10000 */
    size_t max_message_bytes; /* largest reply accepted; default 64 MiB */
    size_t obs_bytes;         /* bytes of one observation (sampling clients); 0 insert-only */
    size_t max_batch;         /* largest batch requested; default 1024 */
    size_t pipeline;          /* sample requests in flight at once; default 4 */
    uint64_t seed;            /* stream (seed, RNG_ROLE_LEARNER, index, 1) splits batches */
    uint32_t index;
    curve_keys curve;         /* curve.on: connect as the run's CURVE client (common/curve.h) */
} replay_client_options;

/* Priority totals a shard reported last. */
typedef struct replay_shard_totals {
    bool known;
    double agent, demo, demo_bonus;
    uint64_t size, demo_size;
} replay_shard_totals;

/* One actor's episode statistics as a shard keeps them (Stats.actors). */
typedef struct replay_actor_stats {
    uint32_t actor_id;
    uint64_t episodes;           /* episodes finished */
    uint64_t env_steps;          /* frames generated */
    double return_sum;           /* Σ extrinsic returns over all episodes */
    float last_return;           /* extrinsic return of the latest episode */
    double intrinsic_return_sum; /* Σ intrinsic returns */
    uint64_t params_version;     /* params version of the latest batch */
    double last_seen_s;          /* shard's monotonic seconds at the latest batch */
    uint64_t labels;             /* DAgger labelled states stored from it */
    uint64_t label_ns;           /* ns its expert spent on them */
    uint64_t expert_steps;       /* of their steps, those the expert drove */
} replay_actor_stats;

/* Priority histogram bins: fixed, log-spaced over |δ| (half a decade each). Bin 0 holds
 * priorities below 1e-4, bin k (1..10) [10^(-4+(k-1)/2), 10^(-4+k/2)), bin 11 those >= 10. */
#define REPLAY_PRIORITY_BINS 12
/* Sampled transitions a shard's introspection window holds. */
#define REPLAY_AGE_WINDOW 4096u

/* The bin of a priority |δ| (NaN and negatives fall into bin 0). */
size_t replay_priority_bin(double priority);

/* Lower edge of bin k (0 for bin 0). */
double replay_priority_bin_low(size_t k);

/* Replay introspection: what a shard samples and how its rate limiter holds its peers
 * (Stats fields 24..38, docs/protocol.md). The window is the last REPLAY_AGE_WINDOW sampled
 * transitions; ages are of its agent transitions, in inserts (the agent insert counter minus
 * the transition's insert index: 0 is the newest) and in seconds since insertion (those
 * inserted before the shard last started have no time and are left out). Percentiles are
 * nearest-rank. An older shard sends none of it: window 0. */
typedef struct replay_insight {
    uint32_t window;                 /* sampled transitions in the window */
    uint32_t window_demo;            /* demonstrations among them */
    uint32_t window_aged;            /* agent transitions among them with a time (age_s_*) */
    double age_p50, age_p90;         /* inserts */
    double age_s_p50, age_s_p90;     /* seconds */
    double inserts_per_s;            /* agent transitions, over the last ~10 s */
    double samples_per_s;            /* transitions served, over the last ~10 s */
    uint64_t insert_holds;           /* insert acks the rate limiter has held since start */
    uint64_t sample_holds;           /* sample replies it has held since start */
    double insert_wait_s;            /* how long the oldest held insert ack has waited; 0 none */
    double sample_wait_s;            /* how long the oldest held sample reply has waited */
    uint64_t priority_hist[REPLAY_PRIORITY_BINS]; /* agent store's priorities |δ| per bin */
} replay_insight;

/* Adds shard `s` (of its stats) into the sum `into` over shards: counts, rates and
 * histograms add, waits take the largest, and the percentiles become the window-weighted
 * mean of the shards' percentiles (an approximation: exact for one shard). */
void replay_insight_merge(replay_insight *into, const replay_insight *s);

/* A shard's statistics (the Stats reply; field names and meanings as in proto/shoal.proto). */
typedef struct replay_stats {
    uint32_t shard;
    uint64_t size, capacity;           /* agent transitions stored, ring capacity */
    uint64_t demo_size, demo_capacity; /* demonstrations stored, room for them */
    uint64_t inserted;                 /* agent transitions since start (kept across restarts) */
    uint64_t sampled, demo_sampled;    /* transitions served, demonstrations among them */
    double insert_blocked_s;           /* time the rate limiter held insert acks */
    double sample_blocked_s;           /* time the rate limiter held sample replies */
    uint64_t memory_bytes;             /* storage footprint */
    uint64_t env_steps;                /* frames reported by actors */
    double uptime_s;
    double agent_total, demo_total, demo_bonus_total; /* priority totals */
    uint64_t priority_updates, stale_updates;
    uint64_t errors;                   /* messages answered with an Error */
    uint32_t held_samples, held_acks;  /* replies the rate limiter holds right now */
    replay_insight insight;
    size_t n_actors;
    const replay_actor_stats *actors;  /* (n_actors) one per actor seen */
} replay_stats;

typedef struct replay_client replay_client;

/* Connects one DEALER to each endpoint (connection itself is asynchronous in ZeroMQ; a shard
 * that is not there shows up as ETIMEOUT on first use). NULL with EINVAL or EIO. */
replay_client *replay_client_new(const char *const *endpoints, size_t n_shards,
                                 const replay_client_options *opt, shoal_err *err);

/* Closes the sockets (unsent messages are dropped) and frees c. NULL is fine. */
void replay_client_free(replay_client *c);

size_t replay_client_shards(const replay_client *c);

/* Sends b to its shard once a credit is free (b is encoded before the call returns; nothing
 * of it is kept). ETIMEOUT when no credit came back in time (retry), or the Error a shard
 * answered for an earlier batch. */
int replay_client_insert(replay_client *c, const replay_batch *b, shoal_err *err);

/* Waits until every inserted batch is acknowledged. ETIMEOUT, or the first insert Error. */
int replay_client_flush(replay_client *c, shoal_err *err);

/* Transitions acknowledged as stored so far. */
uint64_t replay_client_acked(const replay_client *c);

/* Shared counts: the (code, count) pairs the shards returned with their acknowledgements since
 * replay_client_visit_counts_clear, in arrival order (a code may repeat; the later count is the
 * newer). Owned by c, valid until the next call on c. */
size_t replay_client_visit_counts(const replay_client *c, const uint64_t **codes,
                                  const uint64_t **counts);
void replay_client_visit_counts_clear(replay_client *c);

/* Issues one batch request, split across shards by their priority totals (asked with a Stats
 * round trip the first time). EINVAL when opt.pipeline requests are already in flight or the
 * request is out of range (obs_bytes must be set). */
int replay_client_sample_request(replay_client *c, const replay_sample_req *req, shoal_err *err);

/* Waits for the oldest request's batch: the shards' parts in endpoint order, x->shard the
 * endpoint index of each transition, global importance weights (the largest is 1). *out is
 * owned by c and valid until the next call of replay_client_sample_next. ETIMEOUT, or the
 * Error a shard answered (the batch is dropped). */
int replay_client_sample_next(replay_client *c, const replay_sample **out, shoal_err *err);

/* Sends new priorities (|δ|) for every transition of b back to the shards that served them. */
int replay_client_update_priorities(replay_client *c, const replay_sample *b,
                                    const float *priorities, shoal_err *err);

/* Asks shard i for its statistics. *out (and its actors) is owned by c and valid until the
 * next call on c. ENOMEM when the actors' table cannot grow. */
int replay_client_stats(replay_client *c, size_t shard, const replay_stats **out,
                        shoal_err *err);

/* Totals shard i reported last. */
replay_shard_totals replay_client_totals(const replay_client *c, size_t shard);

/* ---- demonstration files ----
 *
 * What `shoal demos record` writes and `replay.demos = FILE[,FILE...]` loads into a shard's
 * demo store (format: docs/formats.md, "Demonstration files"; one record per batch). A writer
 * builds the file beside its target, writes its record count and checksum into the header and
 * renames it into place on close, so a reader never sees half a file and refuses a damaged
 * one. Implemented in replay/demofile.c.
 *
 *     replay_demo_writer *w = replay_demo_writer_open("demos/breakout.demo", &err);
 *     replay_demo_writer_append(w, &batch, &err);   // batch.demo, actor_id REPLAY_DEMO_ACTOR
 *     replay_demo_writer_close(w, &err);
 *     replay_demo_check("demos/breakout.demo", &summary, &err);
 *     replay_demo_read("demos/breakout.demo", fn, ctx, &err);   // fn(ctx, &batch, &err) each
 */

typedef struct replay_demo_writer replay_demo_writer;

/* Starts a demo file at path (atomic: nothing appears at path before close). EIO. */
replay_demo_writer *replay_demo_writer_open(const char *path, shoal_err *err);

/* Appends one batch. EINVAL unless b->demo is set, actor_id is REPLAY_DEMO_ACTOR and the batch
 * is consistent with its own spec (the checks a shard makes); EIO on write errors. */
int replay_demo_writer_append(replay_demo_writer *w, const replay_batch *b, shoal_err *err);

/* Writes the header's counts and checksum, commits the file (fsync, rename) and frees w. EIO,
 * also when an earlier append failed part-way; the target is untouched on failure. */
int replay_demo_writer_close(replay_demo_writer *w, shoal_err *err);

/* Drops the file being written and frees w. NULL is fine. */
void replay_demo_writer_abort(replay_demo_writer *w);

/* The reader. Checks the whole file, then calls fn for each record in order, decoded and
 * checked against its own spec; the batch lives until fn returns. Stops at the first error: ENOTFOUND, EIO,
 * ECORRUPT (bad magic, unknown flags, truncated, trailing bytes, CRC mismatch, counts unlike
 * the header's, undecodable or inconsistent record, each naming the file), EVERSION, or fn's
 * own code; fn sees no record of a file that fails the check. */
typedef int (*replay_demo_fn)(void *ctx, const replay_batch *b, shoal_err *err);
int replay_demo_read(const char *path, replay_demo_fn fn, void *ctx, shoal_err *err);

/* What a demonstration file holds. */
typedef struct replay_demo_summary {
    uint32_t version; /* 1: written before counts and checksum; a cut at a record boundary
                         cannot be detected in it */
    uint64_t records, transitions;
} replay_demo_summary;

/* Checks the file whole, as a shard does before loading it, and says what it holds. The
 * errors of loading, each naming the file and the damage: ENOTFOUND, EIO, ECORRUPT,
 * EVERSION. */
int replay_demo_check(const char *path, replay_demo_summary *out, shoal_err *err);

#endif
