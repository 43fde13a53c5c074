#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/commands.h"
#include "cluster/stop.h"
#include "common/cli.h"
#include "common/log.h"
#include "replay/server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal replay --config FILE --shard I --bind ENDPOINT [--set section.key=value ...]\n"
            "\n"
            "Runs replay shard I: a prioritized replay service (ZeroMQ ROUTER) for actors and\n"
            "learners, configured by the [replay] section (shoal config reference).\n"
            "\n"
            "  --config FILE      configuration file (INI)\n"
            "  --shard I          shard index (selects the checkpoint and the sampling stream)\n"
            "  --bind ENDPOINT    ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555\n"
            "                     (tcp://127.0.0.1:* picks a free port)\n"
            "  --set k=v          override a configuration key (repeatable)\n"
            "\n"
            "Prints 'replay shard I listening on ENDPOINT' on stdout once serving. SIGTERM or\n"
            "SIGINT writes a last checkpoint (when replay.checkpoint is set) and exits 0.\n");
}

typedef struct args {
    const char *config;
    const char *bind;
    uint64_t shard;
    bool have_shard;
    const char **sets;
    int n_sets;
} args;

/* Returns -1 to go on, or the exit code. */
static int parse(int argc, char **argv, args *a)
{
    shoal_err err = {0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char *opt = argv[i];
        if (cli_is_help(opt)) {
            usage(stdout);
            return 0;
        } else if (cli_match(argc, argv, &i, "--config", &v)) {
            a->config = v;
        } else if (cli_match(argc, argv, &i, "--bind", &v)) {
            a->bind = v;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            a->sets[a->n_sets++] = v;
        } else if (cli_match(argc, argv, &i, "--shard", &v)) {
            if (v && (cli_parse_u64(v, "--shard", &a->shard, &err) != SHOAL_OK ||
                      a->shard > 65535)) {
                fprintf(stderr, "shoal replay: --shard needs an index 0..65535 (%s)\n", v);
                return EXIT_USAGE;
            }
            a->have_shard = true;
        } else {
            fprintf(stderr, "shoal replay: unexpected argument '%s'\n", opt);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "shoal replay: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
    }
    if (!a->config || !a->bind || !a->have_shard) {
        fprintf(stderr, "shoal replay: --config, --shard and --bind are required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

static int serve(const args *a, volatile sig_atomic_t *stop)
{
    shoal_err err = {0};
    config *cfg = shoal_config_load(a->config, a->sets, a->n_sets, &err);
    if (!cfg) {
        fprintf(stderr, "shoal replay: %s\n", err.msg);
        return 1;
    }
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    const char *log_file = config_str(cfg, "log", "file");
    log_setup("replay", (int)a->shard, level, log_file[0] ? log_file : NULL, NULL);
    replay_server_config sc;
    replay_server *srv = NULL;
    int rc = replay_server_config_from(cfg, (uint32_t)a->shard, a->bind, &sc, &err);
    config_free(cfg);
    if (rc == SHOAL_OK) {
        srv = replay_server_new(&sc, &err);
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
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets) {
        fprintf(stderr, "shoal replay: out of memory\n");
        return 1;
    }
    int rc = parse(argc, argv, &a);
    if (rc < 0) {
        rc = serve(&a, cluster_stop_on_signals());
    }
    free(a.sets);
    return rc;
}
