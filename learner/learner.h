/* The learner role: MPI data-parallel DQN / DQfD training from the replay shards
 * (ARCHITECTURE.md, Learner semantics). Every rank of the learner communicator runs one
 * learner: a prefetch thread (learner/prefetch.h) brings this rank's share of each batch
 * (learner.batch_size / ranks samples), learner/update.h applies the update with one gradient
 * all-reduce, and new priorities go back to the shards that served each sample.
 *
 * Rank 0 alone also: publishes Params (version = update count) every learner.publish_period
 * updates and repeats the latest every learner.publish_repeat_secs for late subscribers; writes
 * RUN_DIR/checkpoints/step-<N>.ckpt (+ step-<N>.target) every learner.checkpoint_period
 * updates and on the way out, keeping the last learner.keep_checkpoints (learner/checkpoint.h);
 * appends a row to RUN_DIR/metrics.csv every learner.metrics_secs and a last one once the run
 * has stopped (after the last checkpoint, from replay statistics polled then; columns and
 * time_s, seconds since learner_new: docs/formats.md, "Learner metrics"); writes
 * RUN_DIR/endpoints.json.
 *
 * Resume: when RUN_DIR/checkpoints holds a checkpoint, rank 0 loads the newest and broadcasts
 * it, and training continues from its step (DQfD pre-training only for the steps still due).
 * Without one, learner.init_from (a checkpoint file) gives the starting parameters at step 0
 * (learner_update_init_from). learner.mode = bc samples demonstrations only; offline samples
 * demonstrations only when the shards hold no agent data (learner/update.h, learner_mode).
 *
 * Stopping: ranks agree to stop at the checksum exchange (every learner.checksum_period
 * updates), which carries each rank's stop flag, so no rank leaves the others waiting in an
 * all-reduce; a single rank stops at once. learner.max_updates (0: unbounded) ends the run at
 * the same update on every rank.
 *
 * MPI: only collectives over the communicator given to learner_new (the trainer passes a
 * learners-only communicator; `shoal learner` passes MPI_COMM_WORLD). MPI_COMM_NULL is one
 * learner without MPI (tests). The learner owns its ZeroMQ context (for the Params PUB); the
 * replay client owns its own.
 *
 *     learner_config lc;
 *     learner_config_from(cfg, rank, "tcp://127.0.0.1:5555", "runs/x", "tcp://127.0.0.1:*", &lc, &err);
 *     learner *l = learner_new(&lc, MPI_COMM_WORLD, &err);
 *     learner_run(l, &stop_flag, &err);
 *     learner_free(l);
 */
#ifndef SHOAL_LEARNER_LEARNER_H
#define SHOAL_LEARNER_LEARNER_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/err.h"
#include "common/fileio.h"
#include "learner/prefetch.h"
#include "learner/update.h"

#define LEARNER_MAX_SHARDS 64
#define LEARNER_ENDPOINT_MAX 256

/* The [learner] configuration keys (added to the schema by cluster/schema.c). */
extern const config_key learner_config_keys[];

/* Plain data. */
typedef struct learner_config {
    learner_update_config update; /* net.max_batch is set by learner_new (the rank's share) */
    size_t batch_size;            /* global batch, split evenly over the ranks */
    replay_sample_req sample;     /* demo_fraction, beta, mixed from [replay] */
    obs_spec obs;                 /* from the env facts (common/obs.h) */
    char replay[LEARNER_MAX_SHARDS][LEARNER_ENDPOINT_MAX];
    size_t n_shards;
    char run_dir[FILEIO_PATH_MAX];   /* "" : no checkpoints, metrics or endpoints.json */
    char params_bind[LEARNER_ENDPOINT_MAX]; /* "" : no publishing */
    /* The host other machines reach the publisher at, written into learner_params_endpoint
     * and endpoints.json in place of the bound one (a bind to every interface reports
     * 0.0.0.0); "" keeps the bound address. Set after learner_config_from. */
    char params_host[LEARNER_ENDPOINT_MAX];
    uint64_t seed;
    uint32_t rank;                /* rank in the learner communicator (sampling stream) */
    uint64_t publish_period, checkpoint_period, keep_checkpoints, checksum_period;
    uint64_t pretrain_steps, max_updates;
    bool await_labels;            /* actor.label is set: DAgger's actors add demonstrations as
                                   * the run goes (learner_prefetch_config.await_labels) */
    uint64_t beta_anneal_updates; /* learner.beta_anneal_updates: replay.beta to 1 over these */
    char init_from[FILEIO_PATH_MAX]; /* learner.init_from; "": none */
    double publish_repeat_secs, metrics_secs;
    size_t prefetch_depth, pipeline;
    double stop_grace_secs;       /* how long a stopping rank waits for replay before failing */
    char tb_dir[FILEIO_PATH_MAX]; /* rank 0's TensorBoard folder; "": none (the launcher sets it:
                                   * RUN_DIR/tb/learner unless run.tensorboard = false) */
    curve_keys curve;             /* CURVE for the replay clients and the Params PUB (the
                                   * launcher fills it; learner_config_from leaves it off) */
} learner_config;

/* Fills out from [learner], [network], [env], [replay] and [run] for learner rank `rank`; replay
 * is the comma-separated shard endpoints, run_dir and params_bind may be "" (see above). The
 * observation spec and the number of actions are the run's env facts (common/obs.h); no
 * environment is built. EINVAL names the bad key or endpoint, or the unset facts. */
int learner_config_from(const config *c, uint32_t rank, const char *replay, const char *run_dir,
                        const char *params_bind, learner_config *out, shoal_err *err);

typedef struct learner learner;

/* Collective over comm. Builds the update state (rank 0 initialises or resumes from the newest
 * checkpoint and broadcasts), connects to replay, and on rank 0 binds the Params PUB and opens
 * metrics.csv. Every rank returns NULL when any rank failed to start (the error is rank 0's,
 * or this rank's own). EINVAL (batch_size not divisible by the ranks, ...), EIO, ENOMEM, and
 * the checkpoint errors of learner_update_load. */
learner *learner_new(const learner_config *cfg, MPI_Comm comm, shoal_err *err);

/* Frees l after handing back every priority update. NULL is fine. Not collective. */
void learner_free(learner *l);

/* Trains until *stop is set (see Stopping) or learner.max_updates is reached, then writes a
 * last checkpoint and the last metrics row (rank 0; waiting at most 1 s for the actors'
 * counts to settle when stopped). Collective. ESTATE when the ranks' checksums differ (the message
 * names the ranks); the replay, MPI and file errors otherwise. A rank that returns an error
 * other than ESTATE may leave the other ranks blocked: the caller ends the job (MPI_Abort). */
int learner_run(learner *l, volatile sig_atomic_t *stop, shoal_err *err);

/* The endpoint subscribers connect to ("" on ranks other than 0 or without publishing). */
const char *learner_params_endpoint(const learner *l);

/* The update state, for inspection (tests, bench). */
learner_update *learner_update_of(const learner *l);

/* Seconds the update loop waited for a batch. */
double learner_wait_secs(const learner *l);

#endif
