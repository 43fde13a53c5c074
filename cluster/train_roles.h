/* The ranks of `shoal train` under mpirun (ours or the user's, e.g. with --hostfile on a
 * cluster): each rank takes its role from the layout in [cluster] (cluster/layout.h), binds,
 * exchanges endpoints with one MPI_Allgather and runs its role until it is told to stop
 * (train_rank_main). The roles sit behind one interface: bind (shards bind their sockets before
 * the endpoint exchange), connect (learners, once the shard endpoints are known: they then bind
 * the parameter publisher), run (until *stop), free. Each role's own part does the work; this
 * file only builds their configurations from the run's config and the exchanged endpoints.
 *
 *     train_rank_spec spec = {.run_dir = "runs/x"};   // prepared by the launcher
 *     return train_rank_main(&spec);                  // MPI_Init .. MPI_Finalize
 */
#ifndef SHOAL_CLUSTER_TRAIN_ROLES_H
#define SHOAL_CLUSTER_TRAIN_ROLES_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/endpoints.h"
#include "cluster/layout.h"
#include "common/config.h"
#include "common/err.h"

typedef struct train_role_ctx {
    const config *cfg;
    const char *run_dir;
    const cluster_layout *layout;
    cluster_role role;
    uint32_t index;        /* among the ranks of the role */
    uint32_t world_rank;
    MPI_Comm role_comm;    /* the ranks of this role (learners all-reduce over it) */
    volatile sig_atomic_t *stop;
    const volatile sig_atomic_t *drain; /* shards: set when the run stops (replay_server_config) */
    char bind[ENDPOINTS_MAX_LEN]; /* "tcp://127.0.0.1:*" */
    endpoint_file endpoints;     /* filled between bind and run */
    void *role_state;               /* the role's object */
} train_role_ctx;

/* "tcp://HOST:*" from cluster.bind_host, "*" (every interface) for "auto", into out. */
void train_role_bind_address(const config *cfg, char *out, size_t cap);

/* Replaces the host of a bound endpoint ("tcp://0.0.0.0:5555") by the host this machine
 * advertises when cluster.bind_host is "auto" (binding every interface), so other machines can
 * connect (cluster/hosts.h: its name, or its address in cluster.advertise_host's subnet);
 * otherwise leaves it as it is. ENOTFOUND when the machine has no address in that subnet,
 * EINVAL when endpoint has no port. */
int train_role_advertise(char *endpoint, size_t cap, const config *cfg, shoal_err *err);

/* The shard endpoints of ep from the gathered endpoints of every rank (ENDPOINTS_MAX_LEN bytes
 * each, in world rank order: the shards come first). */
void train_role_set_replay(endpoint_file *ep, const char *all, uint32_t n_shards);

/* Starts the role's sockets that others connect to; writes the endpoint to advertise into
 * endpoint ("" for roles that bind nothing). */
int train_role_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err);

/* Learners: build the learner over ctx->role_comm from ctx->endpoints.replay (collective over
 * the learners) and write the parameter endpoint into params (learner 0; "" elsewhere). Other
 * roles: nothing. */
int train_role_connect(train_role_ctx *ctx, char *params, size_t cap, shoal_err *err);

/* Connects to ctx->endpoints and runs until *ctx->stop. The evaluator then evaluates the
 * learner's last checkpoint: it waits (at most 4 s) for log/learner-0.done and evaluates what is
 * left within EVALUATOR_FINAL_SECS of the stop (evaluator_finish). */
int train_role_run(train_role_ctx *ctx, shoal_err *err);

/* Frees the role's object. */
void train_role_free(train_role_ctx *ctx);

/* World rank 0 prepares the run folder when the user started mpirun: fn writes its path into
 * run_dir and returns the effective configuration (the caller frees it), or NULL with err. */
typedef config *(*train_prepare_fn)(const void *arg, char *run_dir, size_t cap, shoal_err *err);

typedef struct train_rank_spec {
    const char *run_dir;     /* prepared by the launcher (--prepared), or NULL */
    train_prepare_fn prepare; /* run_dir NULL: called on world rank 0 with prepare_arg */
    const void *prepare_arg;
} train_rank_spec;

/* The whole life of one rank: MPI_Init, the stop flag on signals (cluster/stop.h), the run folder and its config.ini, the role, the
 * endpoint exchange, the role's run until the run stops, the markers, MPI_Finalize. Every rank
 * takes part in each collective step even when its own start failed, so nobody waits forever.
 * Returns the exit code (0 or 1). */
int train_rank_main(const train_rank_spec *spec);

/* A run without actors (behaviour cloning, offline learning) gets no new data and counts no
 * frames: it needs fixed data (replay.demos, or RUN_DIR/replay-0.ckpt from another run) and
 * an end other than run.max_frames (learner.max_updates or run.max_seconds). EINVAL naming
 * the keys; SHOAL_OK when actors > 0. */
int train_check_actorless(const config *cfg, const char *run_dir, uint32_t actors,
                          shoal_err *err);

#endif
