/* shoal train: the whole system in one command. This file is its command line and the run's
 * configuration: which folder, which config, the facts derived from it (the observation spec,
 * the demonstrations) written into RUN_DIR/config.ini.
 *
 * Without mpirun, this process is the launcher (cluster/launch.h): it prepares the run folder
 * and runs `mpirun -np N ... shoal train --run-dir DIR --prepared` to its end. Under mpirun
 * (ours or the user's, e.g. with --hostfile on a cluster), each rank runs train_rank_main
 * (cluster/train_roles.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "cluster/hosts.h"
#include "cluster/launch.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "cluster/train_demos.h"
#include "cluster/train_roles.h"
#include "common/fileio.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/registry.h"

typedef struct train_args {
    cmdline_args cfg; /* cfg.config: the CONFIG operand */
    cli_list config_path;
    const char *run_dir;
    const char *resume;
    const char *hostfile;
    const char *mpirun_args;
    bool prepared; /* internal: the launcher prepared RUN_DIR; load its config.ini */
} train_args;

/* Returns CMDLINE_RUN, or the exit code. */
static int parse_args(int argc, char **argv, train_args *a)
{
    const cli_option options[] = {
        CMDLINE_SET(&a->cfg),
        {"--run-dir", "DIR", "run folder (default runs/<run.name>); refused if it holds a run",
         .value = &a->run_dir},
        {"--resume", "DIR", "continue the run in DIR from its checkpoints (its config.ini, then\n"
                            "any --set)",
         .value = &a->resume},
        {"--hostfile", "FILE", "passed to mpirun to spread the processes over several machines\n"
                               "(set cluster.bind_host=auto and use a shared run folder)",
         .value = &a->hostfile},
        {"--mpirun-args", "ARGS", "extra mpirun options, e.g. \"--mca plm_rsh_agent ssh\" (the\n"
                                  "same as --set cluster.mpirun_args=ARGS)",
         .value = &a->mpirun_args},
        {"--prepared", NULL, NULL, .flag = &a->prepared},
    };
    const cli_command cmd = {
        .name = "shoal train",
        .usage = "shoal train [CONFIG] [--set section.key=value ...] [--run-dir DIR]\n"
                 "                   [--resume DIR] [--hostfile FILE] [--mpirun-args ARGS]",
        .about = "Trains an agent with every role: replay shards, learners, an evaluator and actors.\n"
                 "Without mpirun, re-runs itself under `mpirun -np N --oversubscribe\n"
                 "--enable-recovery` on this machine (N from [cluster]) and prints a progress line\n"
                 "every run.progress_secs. Under your own mpirun (e.g. mpirun --hostfile H -np N\n"
                 "shoal train CONFIG --run-dir /shared/dir) every rank after the evaluator is an\n"
                 "actor.\n"
                 "\n"
                 "CONFIG is an INI file (cluster/configs/); without it the built-in defaults train\n"
                 "MinAtar Breakout.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Ctrl-C or SIGTERM stops every role; learners and shards write their checkpoints\n"
                 "and every process is gone within 10 seconds. Files: RUN_DIR/metrics.csv,\n"
                 "eval.csv and eval.svg (when cluster.evaluators > 0), checkpoints/, log/.",
        .operands = &a->config_path,
        .max_operands = 1,
        .operand = "CONFIG",
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    a->cfg.config = a->config_path.n ? a->config_path.items[0] : NULL;
    if (rc == CMDLINE_RUN && a->resume && (a->run_dir || a->cfg.config)) {
        fprintf(stderr, "shoal train: --resume DIR takes the run's own config.ini and folder; "
                        "drop CONFIG and --run-dir (use --set to change keys)\n");
        return EXIT_USAGE;
    }
    return rc;
}

/* The configuration: the run's config.ini when resuming (or when the launcher prepared the
 * folder), else CONFIG; then every --set. */
static config *load_config(const train_args *a, const char *run_dir, shoal_err *err)
{
    bool run_config = a->resume || a->prepared;
    config *cfg = cmdline_config_load(run_config ? NULL : a->cfg.config,
                                      run_config ? run_dir : NULL, false, &a->cfg.sets, err);
    if (cfg && a->mpirun_args && !a->prepared) {
        size_t len = strlen(a->mpirun_args) + sizeof "cluster.mpirun_args=";
        char *set = malloc(len);
        if (!set) {
            shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        } else {
            snprintf(set, len, "cluster.mpirun_args=%s", a->mpirun_args);
        }
        if (!set || config_set(cfg, set, "--mpirun-args", err) != SHOAL_OK) {
            config_free(cfg);
            cfg = NULL;
        }
        free(set);
    }
    return cfg;
}

/* A hostfile naming other machines while the shards and the parameter publisher bind loopback
 * would leave every other machine's ranks connecting to themselves: the run would sit at
 * frames 0 for its whole budget. Refused before anything starts. */
static int check_hosts(const train_args *a, const config *cfg, shoal_err *err)
{
    const char *bind_host = config_str(cfg, "cluster", "bind_host");
    if (!a->hostfile || !hosts_is_loopback(bind_host)) {
        return SHOAL_OK;
    }
    char other[HOSTS_NAME_MAX];
    int others = hosts_hostfile_names_others(a->hostfile, other, sizeof other, err);
    if (others < 0) {
        return err->code;
    }
    if (others > 0) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "--hostfile %s names other machines (%s) but cluster.bind_host = %s "
                             "is this machine only: set --set cluster.bind_host=auto (or an "
                             "address the other machines reach)",
                             a->hostfile, other, bind_host);
    }
    return SHOAL_OK;
}

/* run_dir: --resume, else --run-dir, else runs/<run.name>. */
static int choose_run_dir(const train_args *a, char *run_dir, size_t cap, shoal_err *err)
{
    if (a->resume || a->run_dir) {
        snprintf(run_dir, cap, "%s", a->resume ? a->resume : a->run_dir);
        return SHOAL_OK;
    }
    config *probe = load_config(a, NULL, err);
    if (!probe) {
        return err->code;
    }
    snprintf(run_dir, cap, "runs/%s", config_str(probe, "run", "name"));
    config_free(probe);
    return SHOAL_OK;
}

/* Resolves, creates and fills the run folder; writes its absolute path into run_dir and
 * returns the effective configuration (train_prepare_fn). */
static config *prepare_run(const void *arg, char *run_dir, size_t cap, shoal_err *err)
{
    const train_args *a = arg;
    if (choose_run_dir(a, run_dir, cap, err) != SHOAL_OK ||
        rundir_prepare(run_dir, a->resume != NULL, err) != SHOAL_OK) {
        return NULL;
    }
    char absolute[PATH_MAX];
    if (realpath(run_dir, absolute)) {
        snprintf(run_dir, cap, "%s", absolute);
    }
    config *cfg = load_config(a, run_dir, err);
    if (cfg && !launch_under_mpirun() &&
        train_check_actorless(cfg, run_dir, (uint32_t)config_int(cfg, "cluster", "actors"),
                              err) != SHOAL_OK) {
        config_free(cfg);
        return NULL;
    }
    if (cfg && config_int(cfg, "cluster", "actors") == 0 && config_int(cfg, "run", "max_frames")) {
        fprintf(stderr, "shoal train: no actors: run.max_frames = %lld will never be reached; "
                        "learner.max_updates or run.max_seconds ends the run\n",
                (long long)config_int(cfg, "run", "max_frames"));
    }
    if (cfg && check_hosts(a, cfg, err) != SHOAL_OK) {
        config_free(cfg);
        return NULL;
    }
    /* The run's env facts (observation spec, action count) go into config.ini once, so that
     * every rank reads them instead of building an environment to learn them. */
    if (cfg && (cluster_env_facts_derive(cfg, err) != SHOAL_OK ||
                rundir_curve_prepare(cfg, run_dir, err) != SHOAL_OK ||
                train_demos_record_missing(cfg, err) != SHOAL_OK ||
                rundir_write_config(run_dir, cfg, err) != SHOAL_OK)) {
        config_free(cfg);
        return NULL;
    }
    /* A resumed run must not stop at once, nor inherit the previous attempt's markers and
     * heartbeats; and no monitor may read the previous attempt's endpoints (its shards are
     * gone) before learner 0 writes the new ones. */
    char path[FILEIO_PATH_MAX];
    rundir_stop_path(path, sizeof path, run_dir);
    unlink(path);
    if (rundir_path(path, sizeof path, run_dir, "endpoints.json", NULL) == SHOAL_OK) {
        unlink(path);
    }
    const char *attempt_markers[] = {RUNDIR_DONE, RUNDIR_FAILED, RUNDIR_DIED, RUNDIR_ALIVE};
    for (size_t i = 0; i < sizeof attempt_markers / sizeof attempt_markers[0]; i++) {
        rundir_clear_markers(run_dir, attempt_markers[i]);
    }
    return cfg;
}

/* Runs the job; after a shard, learner or evaluator was lost, resumes it from its checkpoints
 * as `--resume` would, up to run.restarts times (the first attempt's value). */
static int launch(const train_args *a)
{
    shoal_err err = {0};
    char run_dir[FILEIO_PATH_MAX];
    config *cfg = prepare_run(a, run_dir, sizeof run_dir, &err);
    if (!cfg) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
        return 1;
    }
    volatile sig_atomic_t *stop = cluster_stop_on_signals();
    int restarts = (int)config_int(cfg, "run", "restarts");
    int rc = 1;
    for (int attempt = 0;; attempt++) {
        bool restartable = false;
        rc = launch_run(run_dir, cfg, a->hostfile, stop, &restartable);
        config_free(cfg);
        cfg = NULL;
        if (!restartable || *stop) {
            break;
        }
        if (attempt >= restarts) {
            fprintf(stderr, "shoal train: %s (run.restarts = %d); continue with: shoal train "
                            "--resume %s\n", restarts ? "no restarts left" : "no restart",
                    restarts, run_dir);
            break;
        }
        printf("shoal train: restarting (%d of run.restarts = %d) from the newest checkpoints, "
               "as shoal train --resume %s would\n", attempt + 1, restarts, run_dir);
        fflush(stdout);
        char resume[FILEIO_PATH_MAX];
        snprintf(resume, sizeof resume, "%s", run_dir);
        train_args again = {.resume = resume, .hostfile = a->hostfile};
        cfg = prepare_run(&again, run_dir, sizeof run_dir, &err);
        if (!cfg) {
            fprintf(stderr, "shoal train: cannot restart: %s\n", err.msg);
            rc = 1;
            break;
        }
    }
    config_free(cfg);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    train_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == CMDLINE_RUN && launch_under_mpirun()) {
        train_rank_spec spec = {.run_dir = a.prepared ? a.run_dir : NULL,
                                .prepare = prepare_run, .prepare_arg = &a};
        rc = train_rank_main(&spec);
    } else if (rc == CMDLINE_RUN) {
        rc = launch(&a);
    }
    cli_list_fini(&a.config_path);
    cli_list_fini(&a.cfg.sets);
    return rc;
}
