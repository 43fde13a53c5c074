#include "cluster/train_roles.h"

#include <stdio.h>
#include <string.h>

#include "cluster/rundir.h"
#include "common/fileio.h"
#include "common/log.h"
#include "actor/actor.h"
#include "evaluator/watch.h"
#include "learner/learner.h"
#include "replay/server.h"

static int replay_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err)
{
    replay_server_config rc;
    int code = replay_server_config_from(ctx->cfg, ctx->index, ctx->bind, &rc, err);
    if (code != SHOAL_OK) {
        return code;
    }
    rc.drain = ctx->drain;
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
    case CLUSTER_ROLE_LEARNER: /* binds in train_role_connect, once the shards are known */
    case CLUSTER_ROLE_ACTOR:   /* binds nothing */
        break;
    }
    return SHOAL_OK;
}

/* "tcp://a:1,tcp://b:2" from the exchanged shard endpoints. */
static int replay_list(const train_role_ctx *ctx, char *out, size_t cap, shoal_err *err)
{
    return endpoints_join_replay(&ctx->endpoints, out, cap, err);
}

int train_role_connect(train_role_ctx *ctx, char *params, size_t cap, shoal_err *err)
{
    params[0] = '\0';
    if (ctx->role != CLUSTER_ROLE_LEARNER) {
        return SHOAL_OK;
    }
    char replay[ENDPOINTS_MAX_SHARDS * ENDPOINTS_MAX_LEN];
    learner_config lc;
    int code = replay_list(ctx, replay, sizeof replay, err);
    if (code == SHOAL_OK) {
        code = learner_config_from(ctx->cfg, ctx->index, replay, ctx->run_dir, ctx->bind, &lc,
                                   err);
    }
    /* learner_new is collective over the learners; the config is the same on every learner, so
     * either all fail here or all go on into learner_new together. */
    if (code != SHOAL_OK) {
        return code;
    }
    learner *l = learner_new(&lc, ctx->role_comm, err);
    if (!l) {
        return err->code;
    }
    ctx->role_state = l;
    snprintf(params, cap, "%s", learner_params_endpoint(l));
    return SHOAL_OK;
}

static int actor_start_and_run(train_role_ctx *ctx, shoal_err *err)
{
    char replay[ENDPOINTS_MAX_SHARDS * ENDPOINTS_MAX_LEN];
    actor_config ac;
    int code = replay_list(ctx, replay, sizeof replay, err);
    if (code == SHOAL_OK) {
        code = actor_config_from(ctx->cfg, ctx->index, ctx->layout->actors, replay,
                                 ctx->endpoints.params, &ac, err);
    }
    if (code == SHOAL_OK) {
        code = rundir_resolve(ac.episode_log, sizeof ac.episode_log, ctx->run_dir, err);
    }
    if (code != SHOAL_OK) {
        return code;
    }
    actor *a = actor_new(&ac, err);
    if (!a) {
        return err->code;
    }
    ctx->role_state = a;
    return actor_run(a, ctx->stop, err);
}

int train_role_run(train_role_ctx *ctx, shoal_err *err)
{
    switch (ctx->role) {
    case CLUSTER_ROLE_REPLAY:
        return replay_server_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_EVALUATOR:
        return evaluator_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_LEARNER:
        return learner_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_ACTOR:
        break;
    }
    return actor_start_and_run(ctx, err);
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
        learner_free(ctx->role_state);
        break;
    case CLUSTER_ROLE_ACTOR:
        actor_free(ctx->role_state);
        break;
    }
    ctx->role_state = NULL;
}
