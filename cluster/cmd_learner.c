#include <mpi.h>
#include <signal.h>
#include <stdio.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "common/log.h"
#include "learner/learner.h"

typedef struct args {
    cmdline_args cfg;
    const char *replay;
    const char *run_dir;
    const char *params_bind;
} args;

static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        CMDLINE_CONFIG(&a->cfg, true),
        {"--replay", "EP[,EP...]", "replay shard endpoints, e.g. tcp://127.0.0.1:5555",
         .value = &a->replay, .required = true},
        {"--run-dir", "DIR", "run directory (checkpoints, metrics)", .value = &a->run_dir,
         .required = true},
        {"--params-bind", "EP", "Params PUB endpoint (default tcp://127.0.0.1:*, a free port)",
         .value = &a->params_bind},
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal learner",
        .usage = "[mpirun -np N] shoal learner --config FILE --replay EP[,EP...] --run-dir DIR\n"
                 "                     [--params-bind ENDPOINT] [--set section.key=value ...]",
        .about = "Runs the data-parallel learner: every MPI rank samples its share of each batch\n"
                 "from the replay shards, the ranks all-reduce the gradients, and rank 0 publishes\n"
                 "Params, writes DIR/checkpoints/step-<N>.ckpt, DIR/metrics.csv and\n"
                 "DIR/endpoints.json. Resumes from the newest checkpoint in DIR. Configured by\n"
                 "[learner] (shoal config reference); the network by [network] and the\n"
                 "observation shape by [env].",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Rank 0 prints 'learner publishing params on ENDPOINT' once started. SIGTERM or\n"
                 "SIGINT stops every rank at the next checksum exchange (learner.checksum_period)\n"
                 "after a last checkpoint; exit 0.",
    };
    return cmdline_parse(&cmd, argc, argv);
}

/* The stop flag is set by SIGTERM/SIGINT; the ranks agree on it at the next checksum
 * exchange, then the learner writes a last checkpoint. */
static int train(const args *a, int rank, int size, volatile sig_atomic_t *stop)
{
    config *cfg = cmdline_role_config("shoal learner", &a->cfg, NULL, false);
    if (!cfg) {
        return 1;
    }
    cmdline_log_setup(cfg, "learner", rank);
    shoal_err err = {0};
    learner_config lc;
    int rc = learner_config_from(cfg, (uint32_t)rank, a->replay, a->run_dir,
                                 rank == 0 ? (a->params_bind ? a->params_bind
                                                             : "tcp://127.0.0.1:*")
                                           : "",
                                 &lc, &err);
    if (rc == SHOAL_OK) {
        rc = rundir_tb_dir(lc.tb_dir, sizeof lc.tb_dir, cfg, a->run_dir, "learner", -1, &err);
    }
    if (rc == SHOAL_OK && lc.params_bind[0]) {
        rc = rundir_curve_check_bind(cfg, lc.params_bind, &err);
    }
    if (rc == SHOAL_OK) {
        rc = rundir_curve_keys(cfg, a->run_dir ? a->run_dir : "", true, &lc.curve, &err);
    }
    config_free(cfg);
    learner *l = NULL;
    if (rc == SHOAL_OK) {
        l = learner_new(&lc, MPI_COMM_WORLD, &err);
        curve_keys_wipe(&lc.curve);
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
        rc = learner_run(l, stop, &err);
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
    int rc = parse(argc, argv, &a);
    if (rc != CMDLINE_RUN) {
        cli_list_fini(&a.cfg.sets);
        return rc;
    }
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "shoal learner: MPI_Init failed\n");
        cli_list_fini(&a.cfg.sets);
        return 1;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    rc = train(&a, rank, size, cluster_stop_on_signals());
    cli_list_fini(&a.cfg.sets);
    /* Every rank fails together on a checksum mismatch or a start-up error (they agree on
     * it); any other failure may leave peers blocked in an all-reduce, so it ends the job. */
    if (rc != SHOAL_OK && rc != SHOAL_ESTATE && size > 1) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return rc == SHOAL_OK ? 0 : 1;
}
