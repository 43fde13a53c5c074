#include "cluster/train_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cmdline.h"
#include "cluster/guardian.h"
#include "cluster/launch.h"
#include "cluster/hosts.h"
#include "cluster/liveness.h"
#include "cluster/monitor.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "cluster/watcher.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "actor/actor.h"
#include "evaluator/watch.h"
#include "learner/learner.h"
#include "replay/server.h"

void train_role_bind_address(const config *cfg, char *out, size_t cap)
{
    const char *host = config_str(cfg, "cluster", "bind_host");
    snprintf(out, cap, "tcp://%s:*", strcmp(host, "auto") == 0 ? "*" : host);
}

int train_role_advertise(char *endpoint, size_t cap, const config *cfg, shoal_err *err)
{
    const char *bind_host = config_str(cfg, "cluster", "bind_host");
    if (strcmp(bind_host, "auto") != 0) {
        return SHOAL_OK;
    }
    char host[HOSTS_NAME_MAX];
    int rc = hosts_advertised(bind_host, config_str(cfg, "cluster", "advertise_host"), host,
                              sizeof host, err);
    return rc == SHOAL_OK ? endpoints_with_host(endpoint, host, endpoint, cap, err) : rc;
}

void train_role_set_replay(endpoint_file *ep, const char *all, uint32_t n_shards)
{
    ep->n_replay = n_shards;
    for (uint32_t i = 0; i < n_shards; i++) {
        snprintf(ep->replay[i], ENDPOINTS_MAX_LEN, "%s", all + (size_t)i * ENDPOINTS_MAX_LEN);
    }
}

/* RUN_DIR/replay-<shard>.ckpt: where a shard of shoal train checkpoints and resumes from. */
static int replay_ckpt_path(char *out, size_t cap, const char *run_dir, uint32_t shard,
                            shoal_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "replay-%u.ckpt", shard);
    return rundir_path(out, cap, run_dir, name, err);
}

int train_check_actorless(const config *cfg, const char *run_dir, uint32_t actors,
                          shoal_err *err)
{
    if (actors > 0) {
        return SHOAL_OK;
    }
    char ck[FILEIO_PATH_MAX];
    bool have_ckpt = replay_ckpt_path(ck, sizeof ck, run_dir, 0, NULL) == SHOAL_OK &&
                     access(ck, F_OK) == 0;
    if (!config_str(cfg, "replay", "demos")[0] && !have_ckpt) {
        return shoal_err_set(err, SHOAL_EINVAL, "a run without actors learns from fixed data "
                             "only, and none is given: set replay.demos (demonstration files) "
                             "or put replay checkpoints in the run folder (%s)", ck);
    }
    if (config_float(cfg, "run", "max_seconds") <= 0 &&
        config_int(cfg, "learner", "max_updates") == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "a run without actors collects no frames, so "
                             "run.max_frames cannot end it: set learner.max_updates or "
                             "run.max_seconds");
    }
    return SHOAL_OK;
}

static int replay_bind(train_role_ctx *ctx, char *endpoint, size_t cap, shoal_err *err)
{
    replay_server_config rc;
    int code = replay_server_config_from(ctx->cfg, ctx->index, ctx->bind, &rc, err);
    if (code != SHOAL_OK) {
        return code;
    }
    rc.drain = ctx->drain;
    code = replay_ckpt_path(rc.checkpoint_path, sizeof rc.checkpoint_path, ctx->run_dir,
                            ctx->index, err);
    if (code == SHOAL_OK) {
        code = rundir_curve_keys(ctx->cfg, ctx->run_dir, true, &rc.curve, err);
    }
    if (code != SHOAL_OK) {
        return code;
    }
    replay_server *s = replay_server_new(&rc, err);
    curve_keys_wipe(&rc.curve);
    if (!s) {
        return err->code;
    }
    ctx->role_state = s;
    snprintf(endpoint, cap, "%s", replay_server_endpoint(s));
    log_info("replay shard %u listening on %s (CURVE %s)", ctx->index, endpoint,
             rundir_curve_on(ctx->cfg) ? "on" : "off");
    return SHOAL_OK;
}

/* The evaluator reads checkpoint files only; it binds nothing and needs no endpoint. */
static int evaluator_start(train_role_ctx *ctx, shoal_err *err)
{
    evaluator_config ec;
    int code = evaluator_config_from(ctx->cfg, ctx->run_dir, &ec, err);
    if (code == SHOAL_OK) {
        code = rundir_tb_dir(ec.tb_dir, sizeof ec.tb_dir, ctx->cfg, ctx->run_dir,
                             cluster_role_name(CLUSTER_ROLE_EVALUATOR), -1, err);
    }
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
    if (code == SHOAL_OK) {
        code = rundir_tb_dir(lc.tb_dir, sizeof lc.tb_dir, ctx->cfg, ctx->run_dir,
                             cluster_role_name(CLUSTER_ROLE_LEARNER), -1, err);
    }
    if (code == SHOAL_OK) {
        code = rundir_curve_keys(ctx->cfg, ctx->run_dir, true, &lc.curve, err);
    }
    if (code == SHOAL_OK && strcmp(config_str(ctx->cfg, "cluster", "bind_host"), "auto") == 0) {
        code = hosts_advertised("auto", config_str(ctx->cfg, "cluster", "advertise_host"),
                                lc.params_host, sizeof lc.params_host, err);
    }
    /* learner_new is collective over the learners; the config is the same on every learner, so
     * either all fail here or all go on into learner_new together. */
    if (code != SHOAL_OK) {
        return code;
    }
    learner *l = learner_new(&lc, ctx->role_comm, err);
    curve_keys_wipe(&lc.curve);
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
    if (code == SHOAL_OK) {
        code = rundir_tb_dir(ac.tb_dir, sizeof ac.tb_dir, ctx->cfg, ctx->run_dir,
                             cluster_role_name(CLUSTER_ROLE_ACTOR), (int)ctx->index, err);
        ac.tb_secs = config_float(ctx->cfg, "learner", "metrics_secs");
    }
    if (code == SHOAL_OK) {
        code = rundir_curve_keys(ctx->cfg, ctx->run_dir, false, &ac.curve, err);
    }
    if (code != SHOAL_OK) {
        return code;
    }
    actor *a = actor_new(&ac, err);
    curve_keys_wipe(&ac.curve);
    if (!a) {
        return err->code;
    }
    ctx->role_state = a;
    return actor_run(a, ctx->stop, err);
}

/* Seconds of the evaluator's final pass it may spend waiting for the learner's last
 * checkpoint; the rest of EVALUATOR_FINAL_SECS is left to evaluate it. */
#define TRAIN_EVAL_WAIT_SECS 4.0

/* Whether learner 0, which writes the checkpoints, is done: it writes its last checkpoint when
 * the run stops, before its .done marker (train_rank_main). */
static bool learner_done(void *arg)
{
    const train_role_ctx *ctx = arg;
    char path[FILEIO_PATH_MAX];
    struct stat st;
    return rundir_role_file(path, sizeof path, ctx->run_dir,
                            cluster_role_name(CLUSTER_ROLE_LEARNER), 0, RUNDIR_DONE) &&
           stat(path, &st) == 0;
}

/* Evaluates checkpoints until the stop, then the learner's last one (evaluator_finish). */
static int evaluator_role_run(train_role_ctx *ctx, shoal_err *err)
{
    int rc = evaluator_run(ctx->role_state, ctx->stop, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    evaluator_final f = {.secs = EVALUATOR_FINAL_SECS, .wait_secs = TRAIN_EVAL_WAIT_SECS,
                         .ready = learner_done, .arg = ctx};
    return evaluator_finish(ctx->role_state, &f, NULL, err);
}

int train_role_run(train_role_ctx *ctx, shoal_err *err)
{
    switch (ctx->role) {
    case CLUSTER_ROLE_REPLAY:
        return replay_server_run(ctx->role_state, ctx->stop, err);
    case CLUSTER_ROLE_EVALUATOR:
        return evaluator_role_run(ctx, err);
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

/* ---- one rank's life ---- */

/* World rank 0 prepares the folder when the user started mpirun; every rank learns its path and
 * loads its config.ini, and the layout of the world. Returns the config, or NULL on every rank
 * (agreed) after a failure. */
static config *rank_config(const train_rank_spec *spec, int world_rank, int world_size,
                           char *run_dir, size_t cap, cluster_layout *layout)
{
    shoal_err err = {0};
    int ok = 1;
    if (world_rank == 0 && spec->run_dir) {
        snprintf(run_dir, cap, "%s", spec->run_dir);
    } else if (world_rank == 0) {
        config *prep = spec->prepare(spec->prepare_arg, run_dir, cap, &err);
        ok = prep != NULL;
        config_free(prep);
        if (!ok) {
            fprintf(stderr, "shoal train: %s\n", err.msg);
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(run_dir, (int)cap, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!ok) {
        return NULL;
    }
    config *cfg = cmdline_config_load(NULL, run_dir, false, NULL, &err);
    ok = cfg && cluster_layout_init(layout, (uint32_t)config_int(cfg, "cluster", "replay_shards"),
                                    (uint32_t)config_int(cfg, "cluster", "learners"),
                                    (uint32_t)config_int(cfg, "cluster", "evaluators"),
                                    (uint32_t)world_size, &err) == SHOAL_OK &&
         train_check_actorless(cfg, run_dir, layout->actors, &err) == SHOAL_OK;
    if (!ok) {
        if (world_rank == 0) {
            fprintf(stderr, "shoal train: %s\n", err.msg);
        }
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* The rank's log: RUN_DIR/log/<role>-<index>.log; only warnings reach stderr. */
static void rank_log(const train_role_ctx *ctx)
{
    shoal_err err = {0};
    const char *role = cluster_role_name(ctx->role);
    char log_path[FILEIO_PATH_MAX];
    rundir_role_file(log_path, sizeof log_path, ctx->run_dir, role, ctx->index, ".log");
    log_level level = LOG_INFO;
    log_level_parse(config_str(ctx->cfg, "log", "level"), &level, NULL);
    if (log_setup(role, (int)ctx->index, level, log_path, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
    }
    log_set_stderr_level(LOG_WARN);
}

/* Whether every shard's advertised host resolves on this rank's machine: a name that does not
 * would leave this rank connecting forever (ZeroMQ retries silently) and the run at frames 0.
 * The parameter publisher's host is the learner's own advertised name, checked the same way by
 * the learners (their machines' names are checked by the shards' ranks alike). */
static int check_reachable(const train_role_ctx *ctx, shoal_err *err)
{
    for (size_t i = 0; i < ctx->endpoints.n_replay; i++) {
        char host[HOSTS_NAME_MAX], what[64];
        snprintf(what, sizeof what, "replay shard %zu", i);
        if (endpoints_host(ctx->endpoints.replay[i], host, sizeof host, err) != SHOAL_OK ||
            hosts_check_resolves(host, what, err) != SHOAL_OK) {
            return 0;
        }
    }
    return 1;
}

/* Phase 1: shards bind, then one MPI_Allgather tells everyone where. Phase 2: learners connect
 * to the shards and learner 0 binds the parameter publisher; its endpoint reaches every rank by
 * broadcast. Returns whether every rank started (agreed); a rank that failed says why in its
 * failure marker. */
static bool exchange_endpoints(train_role_ctx *ctx, int world_size)
{
    shoal_err err = {0};
    char mine[ENDPOINTS_MAX_LEN] = "";
    int started = train_role_bind(ctx, mine, sizeof mine, &err) == SHOAL_OK &&
                  (!mine[0] || train_role_advertise(mine, sizeof mine, ctx->cfg, &err) == SHOAL_OK);
    char *all = calloc((size_t)world_size, ENDPOINTS_MAX_LEN);
    if (!all) {
        /* Every rank waits in the gather below: a rank that cannot join it must end the job,
         * not return and leave the others hanging. */
        log_error("out of memory gathering the endpoints of %d ranks", world_size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Allgather(mine, ENDPOINTS_MAX_LEN, MPI_CHAR, all, ENDPOINTS_MAX_LEN, MPI_CHAR,
                  MPI_COMM_WORLD);
    train_role_set_replay(&ctx->endpoints, all, ctx->layout->replay_shards);
    free(all);
    if (started) {
        started = check_reachable(ctx, &err);
    }
    int shards_up = 0;
    MPI_Allreduce(&started, &shards_up, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (shards_up && started && ctx->role == CLUSTER_ROLE_LEARNER) {
        started = train_role_connect(ctx, mine, sizeof mine, &err) == SHOAL_OK;
    }
    const char *role = cluster_role_name(ctx->role);
    if (!started) {
        log_error("%s %u failed to start: %s", role, ctx->index, err.msg);
        rundir_mark(ctx->run_dir, role, ctx->index, RUNDIR_FAILED, err.msg);
    }
    endpoint_file *ep = &ctx->endpoints;
    snprintf(ep->params, sizeof ep->params, "%s", mine);
    MPI_Bcast(ep->params, sizeof ep->params, MPI_CHAR,
              (int)cluster_first_rank(ctx->layout, CLUSTER_ROLE_LEARNER), MPI_COMM_WORLD);
    char params_host[HOSTS_NAME_MAX];
    if (started && ctx->role == CLUSTER_ROLE_ACTOR && ep->params[0] &&
        (endpoints_host(ep->params, params_host, sizeof params_host, &err) != SHOAL_OK ||
         hosts_check_resolves(params_host, "the parameter publisher (learner 0)", &err) !=
             SHOAL_OK)) {
        started = 0;
        log_error("%s %u failed to start: %s", role, ctx->index, err.msg);
        rundir_mark(ctx->run_dir, role, ctx->index, RUNDIR_FAILED, err.msg);
    }
    int all_started = 0;
    MPI_Allreduce(&started, &all_started, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all_started;
}

/* Runs the started role until the run stops; returns the exit code. */
static int run_started(train_role_ctx *ctx)
{
    shoal_err err = {0};
    const char *role = cluster_role_name(ctx->role);
    log_info("%s %u running; replay %s, params %s", role, ctx->index, ctx->endpoints.replay[0],
             ctx->endpoints.params);
    int rc = train_role_run(ctx, &err) == SHOAL_OK ? 0 : 1;
    if (rc) {
        log_error("%s %u stopped with an error: %s", role, ctx->index, err.msg);
        rundir_mark(ctx->run_dir, role, ctx->index, RUNDIR_FAILED, err.msg);
    }
    bool is_learner = ctx->role == CLUSTER_ROLE_LEARNER;
    /* Without a learner the run cannot go on; a learner that ended on its own (an error, or
     * learner.max_updates) ends the run for everyone. */
    if (is_learner && ctx->index == 0 && !*ctx->stop) {
        rundir_request_stop(ctx->run_dir);
    }
    if (rc && is_learner && ctx->layout->learners > 1) {
        /* The other learners may be blocked in an all-reduce this rank will never join. */
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return rc;
}

/* The role of this rank from its configuration: it binds, exchanges endpoints, runs, and says
 * it is done; the watcher turns the STOP file into the stop flag meanwhile. */
static int rank_role(const train_rank_spec *spec, const config *cfg, const char *run_dir,
                     const cluster_layout *layout, int world_rank, int world_size,
                     volatile sig_atomic_t *stop, guardian *guard)
{
    train_role_ctx ctx = {.cfg = cfg, .run_dir = run_dir, .layout = layout,
                          .world_rank = (uint32_t)world_rank, .stop = stop};
    cluster_role_of(layout, (uint32_t)world_rank, &ctx.role, &ctx.index);
    guardian_identify(guard, run_dir, ctx.role, ctx.index);
    rank_log(&ctx);
    MPI_Comm_split(MPI_COMM_WORLD, (int)ctx.role, world_rank, &ctx.role_comm);
    watcher w = {.run_dir = run_dir, .stop = stop, .role = cluster_role_name(ctx.role),
                 .index = ctx.index, .period = config_float(cfg, "run", "progress_secs")};
    if (ctx.role == CLUSTER_ROLE_REPLAY) {
        w.drain = true;
        w.drain_actors = (int)layout->actors;
        w.drain_learners = (int)layout->learners;
    }
    if (world_rank == 0 && !spec->run_dir) {
        /* Under the user's mpirun nobody else watches the run: rank 0 does what the launcher
         * would (but cannot restart it; docs/cluster.md). */
        const uint32_t counts[4] = {layout->replay_shards, layout->learners, layout->evaluators,
                                    layout->actors};
        w.mon = monitor_new(run_dir, cfg, false, NULL);
        w.live = liveness_new(run_dir, counts, LIVENESS_SILENT_SECS, NULL);
    }
    if (w.drain) {
        /* A signal to a shard asks for the STOP file: it drains instead of stopping at once. */
        w.asked = cluster_stop_asked_on_signals();
    }
    watcher_start(&w);
    if (w.asked && !w.started) {
        cluster_stop_on_signals(); /* nobody would turn the request into a stop */
        if (*w.asked) {
            *stop = 1;
        }
    }
    ctx.drain = &w.draining;
    train_role_bind_address(cfg, ctx.bind, sizeof ctx.bind);
    int rc = 1;
    if (exchange_endpoints(&ctx, world_size)) {
        rc = run_started(&ctx);
    } else if (world_rank == 0) {
        log_error("a role failed to start; every rank stops (see %s/log/)", run_dir);
    }
    train_role_free(&ctx);
    rundir_mark(run_dir, cluster_role_name(ctx.role), ctx.index, RUNDIR_DONE, "");
    watcher_join(&w);
    monitor_free(w.mon);
    liveness_free(w.live);
    MPI_Comm_free(&ctx.role_comm);
    return rc;
}

/* Seconds world rank 0 waits, once its own role is done, for every rank's .done marker. */
#define TRAIN_END_WAIT_SECS 20.0

/* Whether every rank of the world said it is done, waiting up to TRAIN_END_WAIT_SECS (the
 * evaluator's final pass may still run); false when one died or stopped answering. */
static bool world_done(const char *run_dir, int world_size)
{
    uint64_t t0 = clock_now_ns();
    for (;;) {
        int done = rundir_count_markers(run_dir, NULL, RUNDIR_DONE);
        int died = rundir_count_markers(run_dir, NULL, RUNDIR_DIED);
        if (done >= world_size) {
            return true;
        }
        if (done + died >= world_size || clock_since_s(t0) > TRAIN_END_WAIT_SECS) {
            return false;
        }
        clock_sleep_ms(200);
    }
}

int train_rank_main(const train_rank_spec *spec)
{
    guardian guard;
    guardian_start(&guard); /* before MPI_Init and any thread: it forks */
    int provided = 0;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    int world_rank = 0, world_size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    volatile sig_atomic_t *stop = cluster_stop_on_signals();
    char run_dir[FILEIO_PATH_MAX] = "";
    cluster_layout layout;
    config *cfg = rank_config(spec, world_rank, world_size, run_dir, sizeof run_dir, &layout);
    int rc = 1;
    if (cfg) {
        rc = rank_role(spec, cfg, run_dir, &layout, world_rank, world_size, stop, &guard);
        config_free(cfg);
        /* After a rank of another host died under --enable-recovery, OpenMPI 4.1's mpirun
         * never exits once the other ranks have, nor after an MPI_Abort: it waits on that
         * host's daemon (measured on the namespace hosts of tests/multihost.sh), so a job
         * under the user's own mpirun or Slurm sat there until its wall-time limit. SIGTERM
         * to mpirun (or to this host's orted, which mpirun then loses) ends it within
         * seconds. Every role is done by now, and this rank leaves without MPI_Finalize,
         * which would wait for the dead. */
        if (world_rank == 0 && !world_done(run_dir, world_size)) {
            pid_t daemon = launch_job_daemon();
            log_warn("not every rank finished (see log/*.died); %s so that the job ends",
                     daemon > 0 ? "SIGTERM to mpirun" : "no mpirun or orted above this rank");
            log_close();
            if (daemon > 0) {
                kill(daemon, SIGTERM);
                _exit(rc);
            }
        }
        log_close();
    }
    MPI_Finalize();
    return rc;
}
