#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "common/cli.h"
#include "common/log.h"
#include "learner/learner.h"

/* Set by SIGTERM/SIGINT; the ranks agree on it at the next checksum exchange, then the learner
 * writes a last checkpoint. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: [mpirun -np N] shoal learner --config FILE --replay EP[,EP...] --run-dir DIR\n"
            "                     [--params-bind ENDPOINT] [--set section.key=value ...]\n"
            "\n"
            "Runs the data-parallel learner: every MPI rank samples its share of each batch from\n"
            "the replay shards, the ranks all-reduce the gradients, and rank 0 publishes Params,\n"
            "writes DIR/checkpoints/step-<N>.ckpt, DIR/metrics.csv and DIR/endpoints.json.\n"
            "Resumes from the newest checkpoint in DIR. Configured by [learner] (shoal config\n"
            "reference); the network by [network] and the observation shape by [env].\n"
            "\n"
            "  --config FILE          configuration file (INI)\n"
            "  --replay EP[,EP...]    replay shard endpoints, e.g. tcp://127.0.0.1:5555\n"
            "  --run-dir DIR          run directory (checkpoints, metrics)\n"
            "  --params-bind EP       Params PUB endpoint (default tcp://127.0.0.1:*, a free port)\n"
            "  --set k=v              override a configuration key (repeatable)\n"
            "\n"
            "Rank 0 prints 'learner publishing params on ENDPOINT' once started. SIGTERM or SIGINT\n"
            "stops every rank at the next checksum exchange (learner.checksum_period) after a last\n"
            "checkpoint; exit 0.\n");
}

typedef struct args {
    const char *config;
    const char *replay;
    const char *run_dir;
    const char *params_bind;
    const char **sets;
    int n_sets;
} args;

/* Returns -1 to go on, or the exit code. */
static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char *opt = argv[i];
        if (cli_is_help(opt)) {
            usage(stdout);
            return 0;
        } else if (cli_match(argc, argv, &i, "--config", &v)) {
            a->config = v;
        } else if (cli_match(argc, argv, &i, "--replay", &v)) {
            a->replay = v;
        } else if (cli_match(argc, argv, &i, "--run-dir", &v)) {
            a->run_dir = v;
        } else if (cli_match(argc, argv, &i, "--params-bind", &v)) {
            a->params_bind = v;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            a->sets[a->n_sets++] = v;
        } else {
            fprintf(stderr, "shoal learner: unexpected argument '%s'\n", opt);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "shoal learner: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
    }
    if (!a->config || !a->replay || !a->run_dir) {
        fprintf(stderr, "shoal learner: --config, --replay and --run-dir are required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

static int train(const args *a, int rank, int size)
{
    shoal_err err = {0};
    config *cfg =
        cluster_with_env_facts(shoal_config_load(a->config, a->sets, a->n_sets, &err), &err);
    if (!cfg) {
        fprintf(stderr, "shoal learner: %s\n", err.msg);
        return 1;
    }
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    const char *log_file = config_str(cfg, "log", "file");
    log_setup("learner", rank, level, log_file[0] ? log_file : NULL, NULL);
    learner_config lc;
    int rc = learner_config_from(cfg, (uint32_t)rank, a->replay, a->run_dir,
                                 rank == 0 ? (a->params_bind ? a->params_bind
                                                             : "tcp://127.0.0.1:*")
                                           : "",
                                 &lc, &err);
    config_free(cfg);
    learner *l = NULL;
    if (rc == SHOAL_OK) {
        l = learner_new(&lc, MPI_COMM_WORLD, &err);
        rc = l ? SHOAL_OK : err.code;
    }
    if (rc == SHOAL_OK) {
        if (rank == 0) {
            log_info("%d rank(s), batch %zu (%zu per rank), resuming at step %llu", size,
                     lc.batch_size, lc.batch_size / (size_t)size,
                     (unsigned long long)learner_update_steps(learner_update_of(l)));
            printf("learner publishing params on %s\n", learner_params_endpoint(l));
            fflush(stdout);
        }
        rc = learner_run(l, &stop_requested, &err);
    }
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal learner: rank %d: %s\n", rank, err.msg);
    }
    learner_free(l);
    log_close();
    return rc;
}

int cmd_learner(int argc, char **argv)
{
    args a = {0};
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets) {
        fprintf(stderr, "shoal learner: out of memory\n");
        return 1;
    }
    int rc = parse(argc, argv, &a);
    if (rc >= 0) {
        free(a.sets);
        return rc;
    }
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "shoal learner: MPI_Init failed\n");
        free(a.sets);
        return 1;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = train(&a, rank, size);
    free(a.sets);
    /* Every rank fails together on a checksum mismatch or a start-up error (they agree on
     * it); any other failure may leave peers blocked in an all-reduce, so it ends the job. */
    if (rc != SHOAL_OK && rc != SHOAL_ESTATE && size > 1) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return rc == SHOAL_OK ? 0 : 1;
}
