/* The roles of `shoal train` behind one interface: bind (shards bind their sockets before the
 * endpoint exchange), connect (learners, once the shard endpoints are known: they then bind the
 * parameter publisher), run (until *stop), free. Each role's own part does the work; this file
 * only builds their configurations from the run's config and the exchanged endpoints. */
#ifndef SHOAL_CLUSTER_TRAIN_ROLES_H
#define SHOAL_CLUSTER_TRAIN_ROLES_H

#include <mpi.h>
#include <signal.h>
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

/* Starts the role's sockets that others connect to; writes the endpoint to advertise into
 * endpoint ("" for roles that bind nothing). */
int train_role_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err);

/* Learners: build the learner over ctx->role_comm from ctx->endpoints.replay (collective over
 * the learners) and write the parameter endpoint into params (learner 0; "" elsewhere). Other
 * roles: nothing. */
int train_role_connect(train_role_ctx *ctx, char *params, size_t cap, shoal_err *err);

/* Connects to ctx->endpoints and runs until *ctx->stop. */
int train_role_run(train_role_ctx *ctx, shoal_err *err);

/* Frees the role's object. */
void train_role_free(train_role_ctx *ctx);

#endif
