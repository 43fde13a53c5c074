#include "cluster/train_roles.h"

#include <stdio.h>
#include <string.h>

#include "cluster/rundir.h"
#include "common/fileio.h"
#include "common/log.h"
#include "evaluator/watch.h"
#include "replay/server.h"

static int replay_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err)
{
    replay_server_config rc;
    int code = replay_server_config_from(ctx->cfg, ctx->index, ctx->bind, &rc, err);
    if (code != SHOAL_OK) {
        return code;
    }
    char name[64];
    snprintf(name, sizeof name, "replay-%u.ckpt", ctx->index);
    code = rundir_path(rc.checkpoint_path, sizeof rc.checkpoint_path, ctx->run_dir, name, err);
    if (code != SHOAL_OK) {
        return code;
    }
    replay_server *s = replay_server_new(&rc, err);
    if (!s) {
        return err->code;
    }
    ctx->role_state = s;
    snprintf(endpoint, cap, "%s", replay_server_endpoint(s));
    log_info("replay shard %u listening on %s", ctx->index, endpoint);
    return SHOAL_OK;
}

/* The evaluator reads checkpoint files only; it binds nothing and needs no endpoint. */
static int evaluator_start(train_role_ctx *ctx, shoal_err *err)
{
    evaluator_config ec;
    int code = evaluator_config_from(ctx->cfg, ctx->run_dir, &ec, err);
    if (code != SHOAL_OK) {
        return code;
    }
    evaluator *e = evaluator_new(&ec, err);
    if (!e) {
        return err->code;
    }
    ctx->role_state = e;
    return SHOAL_OK;
}

int train_role_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err)
{
    endpoint[0] = '\0';
    switch (ctx->role) {
    case CLUSTER_ROLE_REPLAY:
        return replay_bind(ctx, endpoint, cap, err);
    case CLUSTER_ROLE_EVALUATOR:
        return evaluator_start(ctx, err);
    case CLUSTER_ROLE_LEARNER:
    case CLUSTER_ROLE_ACTOR:
        break;
    }
    return shoal_err_set(err, SHOAL_ESTATE, "the %s role is not part of this build yet",
                         cluster_role_name(ctx->role));
}

int train_role_run(train_role_ctx *ctx, shoal_err *err)
{
    switch (ctx->role) {
    case CLUSTER_ROLE_REPLAY:
        return replay_server_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_EVALUATOR:
        return evaluator_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_LEARNER:
    case CLUSTER_ROLE_ACTOR:
        break;
    }
    return shoal_err_set(err, SHOAL_ESTATE, "the %s role is not part of this build yet",
                         cluster_role_name(ctx->role));
}

void train_role_free(train_role_ctx *ctx)
{
    switch (ctx->role) {
    case CLUSTER_ROLE_REPLAY:
        replay_server_free(ctx->role_state);
        break;
    case CLUSTER_ROLE_EVALUATOR:
        evaluator_free(ctx->role_state);
        break;
    case CLUSTER_ROLE_LEARNER:
    case CLUSTER_ROLE_ACTOR:
        break;
    }
    ctx->role_state = NULL;
}
