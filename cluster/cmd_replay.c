#include <signal.h>
#include <stdio.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "common/log.h"
#include "replay/server.h"

typedef struct args {
    cmdline_args cfg;
    const char *bind;
    uint64_t shard;
} args;

static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        CMDLINE_CONFIG(&a->cfg, true),
        {"--shard", "I", "shard index (selects the checkpoint and the sampling stream)",
         .number = &a->shard, .max = 65535, .required = true},
        {"--bind", "ENDPOINT", "ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555\n"
                               "(tcp://127.0.0.1:* picks a free port)",
         .value = &a->bind, .required = true},
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal replay",
        .usage = "shoal replay --config FILE --shard I --bind ENDPOINT [--set section.key=value ...]",
        .about = "Runs replay shard I: a prioritized replay service (ZeroMQ ROUTER) for actors and\n"
                 "learners, configured by the [replay] section (shoal config reference).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Prints 'replay shard I listening on ENDPOINT' on stdout once serving. SIGTERM or\n"
                 "SIGINT writes a last checkpoint (when replay.checkpoint is set) and exits 0.\n"
                 "Periodic checkpoints are written by a child process while the shard serves;\n"
                 "after replay.checkpoint_max_failures failures in a row (a full disk) the shard\n"
                 "stops and exits 1, keeping the previous checkpoint.",
    };
    return cmdline_parse(&cmd, argc, argv);
}

static int serve(const args *a, volatile sig_atomic_t *stop)
{
    config *cfg = cmdline_role_config("shoal replay", &a->cfg, NULL, false);
    if (!cfg) {
        return 1;
    }
    cmdline_log_setup(cfg, "replay", (int)a->shard);
    shoal_err err = {0};
    replay_server_config sc;
    replay_server *srv = NULL;
    int rc = replay_server_config_from(cfg, (uint32_t)a->shard, a->bind, &sc, &err);
    if (rc == SHOAL_OK) {
        rc = rundir_curve_check_bind(cfg, a->bind, &err);
    }
    if (rc == SHOAL_OK) {
        rc = rundir_curve_keys(cfg, "", true, &sc.curve, &err);
    }
    config_free(cfg);
    if (rc == SHOAL_OK) {
        srv = replay_server_new(&sc, &err);
        curve_keys_wipe(&sc.curve);
    }
    if (!srv) {
        fprintf(stderr, "shoal replay: shard %llu: %s\n", (unsigned long long)a->shard, err.msg);
        return 1;
    }
    const replay_store *st = replay_server_store(srv);
    log_info("shard %llu: %zu agent + %zu demo slots, %zu bytes per observation, %.1f MiB",
             (unsigned long long)a->shard, replay_store_capacity(st),
             replay_store_demo_capacity(st), replay_store_spec(st)->bytes,
             (double)replay_store_footprint(st) / (1024.0 * 1024.0));
    printf("replay shard %llu listening on %s\n", (unsigned long long)a->shard,
           replay_server_endpoint(srv));
    fflush(stdout);
    rc = replay_server_run(srv, stop, &err);
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal replay: shard %llu: %s\n", (unsigned long long)a->shard, err.msg);
    }
    replay_server_free(srv);
    log_close();
    return rc == SHOAL_OK ? 0 : 1;
}

int cmd_replay(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = serve(&a, cluster_stop_on_signals());
    }
    cli_list_fini(&a.cfg.sets);
    return rc;
}
