/* shoal train: the whole system in one command.
 *
 * Without mpirun, this process is the launcher: it prepares the run folder, starts
 * `mpirun -np N ... shoal train --run-dir DIR --prepared` in its own process group, prints the
 * progress line, and turns Ctrl-C, SIGTERM or the end of the budget into a graceful stop (the
 * STOP file every rank watches), with SIGTERM and then SIGKILL to the job as the last resort
 * 10 seconds later. Under mpirun (ours or the user's, e.g. with --hostfile on a cluster), each
 * rank takes its role from the layout in [cluster] (cluster/layout.h), binds, exchanges
 * endpoints with one MPI_Allgather and runs its role until it is told to stop. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/record.h"
#include "cluster/commands.h"
#include "cluster/launch.h"
#include "cluster/layout.h"
#include "cluster/monitor.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "cluster/train_roles.h"
#include "common/cli.h"
#include "common/endpoints.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/registry.h"

/* The process's stop flag (cluster/stop.h): set by SIGINT/SIGTERM and by the stop watcher;
 * every role polls it. */
static volatile sig_atomic_t *stop_requested;

typedef struct train_args {
    const char *config_path;
    const char **sets;
    int n_sets;
    const char *run_dir;
    const char *resume;
    const char *hostfile;
    bool prepared; /* internal: the launcher prepared RUN_DIR; load its config.ini */
} train_args;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal train [CONFIG] [--set section.key=value ...] [--run-dir DIR]\n"
            "                   [--resume DIR] [--hostfile FILE]\n"
            "\n"
            "Trains an agent with every role: replay shards, learners, an evaluator and actors.\n"
            "Without mpirun, re-runs itself under `mpirun -np N --oversubscribe --enable-recovery`\n"
            "on this machine (N from [cluster]) and prints a progress line every\n"
            "run.progress_secs. Under your own mpirun (e.g. mpirun --hostfile H -np N shoal train\n"
            "CONFIG --run-dir /shared/dir) every rank after the evaluator is an actor.\n"
            "\n"
            "CONFIG            INI file (cluster/configs/); without it the built-in defaults train\n"
            "                  MinAtar Breakout\n"
            "--set S.K=V       override one key after the file (repeatable)\n"
            "--run-dir DIR     run folder (default runs/<run.name>); refused if it holds a run\n"
            "--resume DIR      continue the run in DIR from its checkpoints (its config.ini, then\n"
            "                  any --set)\n"
            "--hostfile FILE   passed to mpirun to spread the processes over several machines\n"
            "                  (set cluster.bind_host=auto and use a shared run folder)\n"
            "\n"
            "Ctrl-C or SIGTERM stops every role; learners and shards write their checkpoints\n"
            "and every process is gone within 10 seconds. Files: RUN_DIR/metrics.csv,\n"
            "eval.csv, eval.svg, checkpoints/, log/.\n");
}

static int parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc + 1, sizeof *a->sets);
    if (!a->sets) {
        fprintf(stderr, "shoal train: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        const char *missing = NULL;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return -1;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            missing = v ? NULL : "--set needs section.key=value";
            a->sets[a->n_sets++] = v;
        } else if (cli_match(argc, argv, &i, "--run-dir", &v)) {
            missing = v ? NULL : "--run-dir needs a folder";
            a->run_dir = v;
        } else if (cli_match(argc, argv, &i, "--resume", &v)) {
            missing = v ? NULL : "--resume needs the run folder";
            a->resume = v;
        } else if (cli_match(argc, argv, &i, "--hostfile", &v)) {
            missing = v ? NULL : "--hostfile needs a file";
            a->hostfile = v;
        } else if (cli_flag(argv[i], "--prepared")) {
            a->prepared = true;
        } else if (argv[i][0] != '-' && !a->config_path) {
            a->config_path = argv[i];
        } else {
            fprintf(stderr, "shoal train: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "shoal train: %s\n", missing);
            return 2;
        }
    }
    if (a->resume && (a->run_dir || a->config_path)) {
        fprintf(stderr, "shoal train: --resume DIR takes the run's own config.ini and folder; "
                        "drop CONFIG and --run-dir (use --set to change keys)\n");
        return 2;
    }
    return 0;
}

/* The replay shards store observations in the environment's own encoding. */
static int derive_obs_spec(config *cfg, shoal_err *err)
{
    env_registry *reg = env_registry_from_config(cfg, err);
    if (!reg) {
        return err->code;
    }
    env_options opt;
    int rc = env_options_from_config(&opt, cfg, err);
    env *e = rc == SHOAL_OK ? env_make(reg, config_str(cfg, "env", "name"), &opt, err) : NULL;
    if (!e) {
        env_registry_free(reg);
        return err->code;
    }
    obs_shape shape = env_obs_shape(e);
    char text[96];
    snprintf(text, sizeof text, "replay.obs_shape=%u,%u,%u", (unsigned)shape.h, (unsigned)shape.w,
             (unsigned)shape.c);
    rc = config_set(cfg, text, "derived from env.name", err);
    if (rc == SHOAL_OK) {
        snprintf(text, sizeof text, "replay.obs_dtype=%s",
                 env_obs_dtype(e) == OBS_DTYPE_BIT ? "bit" : "uint8");
        rc = config_set(cfg, text, "derived from env.name", err);
    }
    env_free(e);
    env_registry_free(reg);
    return rc;
}

/* DQfD runs start from demonstrations: each file of replay.demos that does not exist yet is
 * recorded with the scripted expert (run.demo_episodes episodes), as `shoal demos record`
 * would. Relative demo paths are taken from the current folder, like every other path. */
static int record_missing_demos(const config *cfg, shoal_err *err)
{
    uint64_t episodes = (uint64_t)config_int(cfg, "run", "demo_episodes");
    const char *list = config_str(cfg, "replay", "demos");
    if (episodes == 0 || !list[0]) {
        return SHOAL_OK;
    }
    char files[16][FILEIO_PATH_MAX];
    size_t n = 0;
    int rc = endpoints_split(list, &files[0][0], 16, FILEIO_PATH_MAX, &n, err);
    for (size_t i = 0; rc == SHOAL_OK && i < n; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0) {
            continue;
        }
        char folder[FILEIO_PATH_MAX];
        snprintf(folder, sizeof folder, "%s", files[i]);
        char *slash = strrchr(folder, '/');
        if (slash && slash != folder) {
            *slash = '\0';
            rc = file_mkdirs(folder, err);
            if (rc != SHOAL_OK) {
                break;
            }
        }
        actor_record_config rc_cfg;
        actor_record_summary sum;
        printf("shoal train: recording %llu expert episodes into %s\n",
               (unsigned long long)episodes, files[i]);
        fflush(stdout);
        rc = actor_record_config_from(cfg, NULL, "expert", episodes, files[i], &rc_cfg, err);
        if (rc == SHOAL_OK) {
            rc = actor_record_run(&rc_cfg, &sum, err);
        }
        if (rc == SHOAL_OK) {
            printf("shoal train: %llu episodes, %llu transitions, mean return %.2f\n",
                   (unsigned long long)sum.episodes, (unsigned long long)sum.transitions,
                   sum.mean_return);
        }
    }
    return rc;
}

/* Loads the configuration: the run's config.ini when resuming (or when the launcher prepared
 * the folder), else CONFIG; then every --set. */
static config *load_config(const train_args *a, const char *run_dir, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    const char *file = a->config_path;
    if (a->resume || a->prepared) {
        if (rundir_path(path, sizeof path, run_dir, "config.ini", err) != SHOAL_OK) {
            return NULL;
        }
        file = path;
    }
    return shoal_config_load(file, a->sets, a->n_sets, err);
}

/* The STOP file every rank watches; run_dir was checked to leave room for it. */
static void stop_file_path(char *out, size_t cap, const char *run_dir)
{
    if (rundir_path(out, cap, run_dir, "STOP", NULL) != SHOAL_OK) {
        out[0] = '\0';
    }
}

/* mpirun --enable-recovery does not pass exit codes on, so a rank that fails says so in
 * RUN_DIR/log/<role>-<index>.failed, which the launcher reads when the job has ended. */
/* RUN_DIR/log/<role>-<index><suffix>: each rank's log and its markers. False when too long. */
static bool role_file(char *out, size_t cap, const char *run_dir, const char *role,
                      uint32_t index, const char *suffix)
{
    return snprintf(out, cap, "%s/log/%s-%u%s", run_dir, role, index, suffix) < (int)cap;
}

static void write_marker(const char *run_dir, const char *role, uint32_t index,
                         const char *suffix, const char *text)
{
    char path[FILEIO_PATH_MAX];
    if (role_file(path, sizeof path, run_dir, role, index, suffix)) {
        atomic_write_file(path, text, strlen(text), NULL);
    }
}

static void mark_failed(const char *run_dir, const char *role, uint32_t index, const char *why)
{
    write_marker(run_dir, role, index, ".failed", why);
}

/* Calls fn on every RUN_DIR/log file starting with prefix (NULL: any) and ending in suffix;
 * returns how many there were. */
static int for_markers(const char *run_dir, const char *prefix, const char *suffix,
                       void (*fn)(const char *path, const char *name, size_t name_len))
{
    char dir_path[FILEIO_PATH_MAX];
    if (rundir_path(dir_path, sizeof dir_path, run_dir, "log", NULL) != SHOAL_OK) {
        return 0;
    }
    DIR *d = opendir(dir_path);
    if (!d) {
        return 0;
    }
    size_t slen = strlen(suffix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char path[FILEIO_PATH_MAX];
        if (len < slen || strcmp(e->d_name + len - slen, suffix) != 0 ||
            (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0) ||
            rundir_path(path, sizeof path, dir_path, e->d_name, NULL) != SHOAL_OK) {
            continue;
        }
        if (fn) {
            fn(path, e->d_name, len - slen);
        }
        n++;
    }
    closedir(d);
    return n;
}

static void print_and_remove_failure(const char *path, const char *name, size_t name_len)
{
    uint8_t *why;
    size_t why_len;
    if (file_read_all(path, 4096, &why, &why_len, NULL) == SHOAL_OK) {
        fprintf(stderr, "shoal train: %.*s failed: %s\n", (int)name_len, name, (char *)why);
        free(why);
    }
    unlink(path);
}

static void remove_marker(const char *path, const char *name, size_t name_len)
{
    (void)name;
    (void)name_len;
    unlink(path);
}

/* Prints every failure marker and removes it; returns how many there were. */
static int report_failures(const char *run_dir)
{
    return for_markers(run_dir, NULL, ".failed", print_and_remove_failure);
}

/* A rank whose role has returned says so in RUN_DIR/log/<role>-<index>.done: the shards keep
 * serving until every other rank is done, so the actors' last batches are stored. */
static void mark_done(const char *run_dir, const char *role, uint32_t index)
{
    write_marker(run_dir, role, index, ".done", "");
}


/* Resolves, creates and fills the run folder; writes its absolute path into run_dir. */
static config *prepare_run(const train_args *a, char *run_dir, size_t cap, shoal_err *err)
{
    if (a->resume) {
        snprintf(run_dir, cap, "%s", a->resume);
    } else if (a->run_dir) {
        snprintf(run_dir, cap, "%s", a->run_dir);
    } else {
        config *probe = shoal_config_load(a->config_path, a->sets, a->n_sets, err);
        if (!probe) {
            return NULL;
        }
        snprintf(run_dir, cap, "runs/%s", config_str(probe, "run", "name"));
        config_free(probe);
    }
    if (rundir_prepare(run_dir, a->resume != NULL, err) != SHOAL_OK) {
        return NULL;
    }
    char absolute[PATH_MAX];
    if (realpath(run_dir, absolute)) {
        snprintf(run_dir, cap, "%s", absolute);
    }
    config *cfg = load_config(a, run_dir, err);
    if (cfg && (derive_obs_spec(cfg, err) != SHOAL_OK || record_missing_demos(cfg, err) != SHOAL_OK ||
                rundir_write_config(run_dir, cfg, err) != SHOAL_OK)) {
        config_free(cfg);
        return NULL;
    }
    char stop_path[FILEIO_PATH_MAX];
    stop_file_path(stop_path, sizeof stop_path, run_dir);
    unlink(stop_path); /* a resumed run must not stop at once */
    report_failures(run_dir); /* forget a previous attempt's failures */
    for_markers(run_dir, NULL, ".done", remove_marker);
    return cfg;
}

static void request_stop(const char *run_dir)
{
    char path[FILEIO_PATH_MAX];
    stop_file_path(path, sizeof path, run_dir);
    atomic_write_file(path, "stop\n", 5, NULL);
}

/* ---- launcher ---- */

/* Local ranks the launcher can remember for its last-resort signals (more than a machine runs). */
#define LAUNCH_MAX_LOCAL_RANKS 1024

/* sig to mpirun's process group and to each remembered local rank's own group. */
static void signal_job(pid_t mpirun_pid, const pid_t *ranks, size_t n_ranks, int sig)
{
    kill(-mpirun_pid, sig);
    for (size_t i = 0; i < n_ranks; i++) {
        if (kill(-ranks[i], sig) != 0) {
            kill(ranks[i], sig); /* not a group leader under another MPI */
        }
    }
}

static int launch(const train_args *a)
{
    shoal_err err = {0};
    char run_dir[FILEIO_PATH_MAX];
    config *cfg = prepare_run(a, run_dir, sizeof run_dir, &err);
    if (!cfg) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
        return 1;
    }
    uint32_t n = (uint32_t)(config_int(cfg, "cluster", "replay_shards") +
                            config_int(cfg, "cluster", "learners") +
                            config_int(cfg, "cluster", "evaluators") +
                            config_int(cfg, "cluster", "actors"));
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "shoal train: cannot find this program's path: %s\n", strerror(errno));
        config_free(cfg);
        return 1;
    }
    self[len] = '\0';
    char *rank_args[] = {"train", "--run-dir", run_dir, "--prepared"};
    launch_spec spec = {.mpirun = "mpirun", .n_procs = n, .as_root = geteuid() == 0,
                        .hostfile = a->hostfile, .self = self, .n_args = 4, .args = rank_args};
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    if (launch_mpirun_argv(&spec, np, argv, LAUNCH_ARGV_MAX, &argc, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    printf("shoal train: %u processes (%lld shard(s), %lld learner(s), %lld evaluator(s), %lld "
           "actor(s)); run folder %s\n",
           n, (long long)config_int(cfg, "cluster", "replay_shards"),
           (long long)config_int(cfg, "cluster", "learners"),
           (long long)config_int(cfg, "cluster", "evaluators"),
           (long long)config_int(cfg, "cluster", "actors"), run_dir);
    fflush(stdout);

    stop_requested = cluster_stop_on_signals();
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "shoal train: fork: %s\n", strerror(errno));
        config_free(cfg);
        return 1;
    }
    if (child == 0) {
        /* Its own process group: the terminal's Ctrl-C reaches only the launcher, which then
         * stops the job gracefully instead of mpirun killing it. */
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "shoal train: cannot run %s: %s (install openmpi-bin)\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    setpgid(child, child);

    monitor *mon = monitor_new(run_dir, cfg, isatty(STDOUT_FILENO), &err);
    double period = config_float(cfg, "run", "progress_secs");
    uint64_t stop_ns = 0, next_tick = 0;
    int status = 0;
    bool signalled = false;
    pid_t ranks[LAUNCH_MAX_LOCAL_RANKS];
    size_t n_ranks = 0;
    for (;;) {
        pid_t done = waitpid(child, &status, WNOHANG);
        if (done == child) {
            break;
        }
        uint64_t now = clock_now_ns();
        /* After the stop request the shards stop answering; polling them would only delay
         * the deadlines below. */
        if (mon && !stop_ns && now >= next_tick) {
            bool over = false;
            monitor_tick(mon, &over);
            next_tick = now + (uint64_t)(period * 1e9);
            if (over && !stop_ns) {
                log_info("budget reached (run.max_frames or run.max_seconds); stopping");
                *stop_requested = 1;
            }
        }
        if (*stop_requested && !stop_ns) {
            request_stop(run_dir);
            stop_ns = now;
            if (isatty(STDOUT_FILENO)) {
                putchar('\n'); /* keep the last progress line */
            }
            printf("shoal train: stopping; roles write their checkpoints (at most 10 s)\n");
            fflush(stdout);
        }
        /* Graceful first; the job must be gone within 10 s of the request. The ranks are
         * remembered at the first signal: mpirun may exit before them, orphaning them. */
        if (stop_ns && !signalled && now - stop_ns > 8000000000ull) {
            n_ranks = launch_job_children(child, ranks, LAUNCH_MAX_LOCAL_RANKS);
            signal_job(child, ranks, n_ranks, SIGTERM);
            signalled = true;
        }
        if (stop_ns && now - stop_ns > 9500000000ull) {
            signal_job(child, ranks, n_ranks, SIGKILL);
        }
        clock_sleep_ms(100);
    }
    if (signalled) {
        signal_job(child, ranks, n_ranks, SIGKILL);
    }
    monitor_free(mon);
    /* mpirun --enable-recovery does not report its ranks' outcome (it may exit 0 after a
     * failure, or 1 after an actor was killed, which the run survives), so the run folder
     * decides: every shard, learner and evaluator finished, and no rank reported a failure. */
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int essential = (int)(config_int(cfg, "cluster", "replay_shards") +
                          config_int(cfg, "cluster", "learners") +
                          config_int(cfg, "cluster", "evaluators"));
    int finished = for_markers(run_dir, "replay-", ".done", NULL) +
                   for_markers(run_dir, "learner-", ".done", NULL) +
                   for_markers(run_dir, "evaluator-", ".done", NULL);
    int failures = report_failures(run_dir);
    if (code != 127) {
        code = failures == 0 && finished == essential ? 0 : 1;
    }
    if (code && failures == 0 && finished < essential) {
        fprintf(stderr, "shoal train: %d of %d shard, learner and evaluator processes did not "
                        "finish (crashed or killed); see %s/log/\n", essential - finished,
                essential, run_dir);
    }
    config_free(cfg);
    if (code == 0) {
        printf("shoal train: finished; run folder %s (metrics.csv, eval.csv, eval.svg, "
               "checkpoints/). Continue with: shoal train --resume %s\n", run_dir, run_dir);
    } else {
        fprintf(stderr, "shoal train: the job ended with code %d; see %s/log/\n", code, run_dir);
    }
    return code;
}

/* ---- ranks ---- */

/* After the stop request a shard serves until the learners and the evaluator are done (they
 * need it to finish), and the actors too, except that a second without another actor finishing
 * means the rest are gone (a killed actor never says it is done). SHARD_DRAIN_SECS bounds it
 * all, within the 10 s a stop may take. */
#define SHARD_DRAIN_SECS 6.0
#define SHARD_DRAIN_QUIET_SECS 1.0

typedef struct watcher {
    const char *run_dir;
    bool drain;         /* shards: serve until the other ranks are done */
    int drain_actors;   /* actors among them */
    int drain_others;   /* learners and evaluator */
    pthread_t thread;
    bool started;
    monitor *mon; /* world rank 0 under a user's mpirun: progress and budget */
    double period;
    volatile sig_atomic_t draining; /* set at the stop request; the shard stops holding acks */
} watcher;

/* Turns the STOP file (and, with a monitor, the budget) into the stop flag. */
static void *watch(void *arg)
{
    watcher *w = arg;
    char path[FILEIO_PATH_MAX];
    stop_file_path(path, sizeof path, w->run_dir);
    uint64_t next_tick = 0, stop_seen = 0, last_actor = 0;
    int actors_done = 0;
    while (!*stop_requested) {
        struct stat st;
        if (!stop_seen && stat(path, &st) == 0) {
            stop_seen = last_actor = clock_now_ns();
            w->draining = 1;
        }
        bool drained = !w->drain;
        if (stop_seen && w->drain) {
            int now = for_markers(w->run_dir, "actor-", ".done", NULL);
            if (now != actors_done) {
                actors_done = now;
                last_actor = clock_now_ns();
            }
            int others = for_markers(w->run_dir, "learner-", ".done", NULL) +
                         for_markers(w->run_dir, "evaluator-", ".done", NULL);
            drained = others >= w->drain_others &&
                      (actors_done >= w->drain_actors ||
                       clock_since_s(last_actor) > SHARD_DRAIN_QUIET_SECS);
        }
        if (stop_seen && (drained || clock_since_s(stop_seen) > SHARD_DRAIN_SECS)) {
            *stop_requested = 1;
            break;
        }
        if (w->mon && clock_now_ns() >= next_tick) {
            bool over = false;
            monitor_tick(w->mon, &over);
            next_tick = clock_now_ns() + (uint64_t)(w->period * 1e9);
            if (over) {
                request_stop(w->run_dir);
            }
        }
        clock_sleep_ms(200);
    }
    return NULL;
}

/* Replaces the host of a bound endpoint ("tcp://0.0.0.0:5555") by this machine's name when
 * binding every interface, so other machines can connect. */
static void advertise(char *endpoint, size_t cap, const char *bind_host)
{
    if (strcmp(bind_host, "auto") != 0) {
        return;
    }
    char host[128];
    const char *port = strrchr(endpoint, ':');
    if (!port || strlen(port) > 16 || gethostname(host, sizeof host) != 0) {
        return;
    }
    host[sizeof host - 1] = '\0';
    char out[sizeof host + 32];
    snprintf(out, sizeof out, "tcp://%s%s", host, port);
    snprintf(endpoint, cap, "%s", out);
}

static int rank_main(const train_args *a)
{
    int provided = 0;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    int world_rank = 0, world_size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    stop_requested = cluster_stop_on_signals();

    /* Rank 0 prepares the folder when the user started mpirun; everyone learns its path. */
    shoal_err err = {0};
    char run_dir[FILEIO_PATH_MAX] = "";
    int ok = 1;
    if (world_rank == 0) {
        if (a->prepared) {
            snprintf(run_dir, sizeof run_dir, "%s", a->run_dir);
        } else {
            config *prep = prepare_run(a, run_dir, sizeof run_dir, &err);
            ok = prep != NULL;
            config_free(prep);
            if (!ok) {
                fprintf(stderr, "shoal train: %s\n", err.msg);
            }
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(run_dir, sizeof run_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    config *cfg = NULL;
    cluster_layout layout;
    if (ok) {
        train_args loaded = *a;
        loaded.prepared = true; /* every rank reads the run's config.ini */
        loaded.n_sets = 0;
        cfg = load_config(&loaded, run_dir, &err);
        ok = cfg && cluster_layout_init(&layout,
                                        (uint32_t)config_int(cfg, "cluster", "replay_shards"),
                                        (uint32_t)config_int(cfg, "cluster", "learners"),
                                        (uint32_t)config_int(cfg, "cluster", "evaluators"),
                                        (uint32_t)world_size, &err) == SHOAL_OK;
        if (!ok && world_rank == 0) {
            fprintf(stderr, "shoal train: %s\n", err.msg);
        }
    }
    if (!ok) {
        config_free(cfg);
        MPI_Finalize();
        return 1;
    }

    cluster_role role;
    uint32_t index;
    cluster_role_of(&layout, (uint32_t)world_rank, &role, &index);
    char log_path[FILEIO_PATH_MAX];
    role_file(log_path, sizeof log_path, run_dir, cluster_role_name(role), index, ".log");
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    if (log_setup(cluster_role_name(role), (int)index, level, log_path, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
    }
    log_set_stderr_level(LOG_WARN);
    MPI_Comm role_comm;
    MPI_Comm_split(MPI_COMM_WORLD, (int)role, world_rank, &role_comm);

    watcher w = {.run_dir = run_dir, .period = config_float(cfg, "run", "progress_secs")};
    if (role == CLUSTER_ROLE_REPLAY) {
        w.drain = true;
        w.drain_actors = (int)layout.actors;
        w.drain_others = (int)(layout.learners + layout.evaluators);
    }
    if (world_rank == 0 && !a->prepared) {
        w.mon = monitor_new(run_dir, cfg, false, NULL);
    }
    w.started = pthread_create(&w.thread, NULL, watch, &w) == 0;

    train_role_ctx ctx = {
        .cfg = cfg, .run_dir = run_dir, .layout = &layout, .role = role, .index = index,
        .world_rank = (uint32_t)world_rank, .role_comm = role_comm, .stop = stop_requested,
        .drain = &w.draining,
    };
    snprintf(ctx.bind, sizeof ctx.bind, "tcp://%s:*",
             strcmp(config_str(cfg, "cluster", "bind_host"), "auto") == 0
                 ? "*"
                 : config_str(cfg, "cluster", "bind_host"));

    /* Phase 1: shards bind, then one MPI_Allgather tells everyone where. Every rank takes part
     * even when its start failed, so nobody waits forever; the failure is then agreed on. */
    char mine[ENDPOINTS_MAX_LEN] = "";
    int started = train_role_bind(&ctx, mine, sizeof mine, &err) == SHOAL_OK;
    if (started) {
        advertise(mine, sizeof mine, config_str(cfg, "cluster", "bind_host"));
    }
    char *all = calloc((size_t)world_size, ENDPOINTS_MAX_LEN);
    MPI_Allgather(mine, ENDPOINTS_MAX_LEN, MPI_CHAR, all, ENDPOINTS_MAX_LEN, MPI_CHAR,
                  MPI_COMM_WORLD);
    endpoint_file *ep = &ctx.endpoints;
    ep->n_replay = layout.replay_shards;
    for (uint32_t i = 0; i < layout.replay_shards; i++) {
        snprintf(ep->replay[i], ENDPOINTS_MAX_LEN, "%s", all + (size_t)i * ENDPOINTS_MAX_LEN);
    }
    free(all);

    /* Phase 2: learners connect to the shards and learner 0 binds the parameter publisher;
     * its endpoint reaches every rank by broadcast. */
    int shards_up = 0;
    MPI_Allreduce(&started, &shards_up, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (shards_up && started && role == CLUSTER_ROLE_LEARNER) {
        started = train_role_connect(&ctx, mine, sizeof mine, &err) == SHOAL_OK;
        if (started) {
            advertise(mine, sizeof mine, config_str(cfg, "cluster", "bind_host"));
        }
    }
    if (!started) {
        log_error("%s %u failed to start: %s", cluster_role_name(role), index, err.msg);
        mark_failed(run_dir, cluster_role_name(role), index, err.msg);
    }
    snprintf(ep->params, sizeof ep->params, "%s", mine);
    MPI_Bcast(ep->params, sizeof ep->params, MPI_CHAR,
              (int)cluster_first_rank(&layout, CLUSTER_ROLE_LEARNER), MPI_COMM_WORLD);
    int all_started = 0;
    MPI_Allreduce(&started, &all_started, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);

    int rc = 1;
    if (all_started) {
        log_info("%s %u running; replay %s, params %s", cluster_role_name(role), index,
                 ep->replay[0], ep->params);
        rc = train_role_run(&ctx, &err) == SHOAL_OK ? 0 : 1;
        if (rc) {
            log_error("%s %u stopped with an error: %s", cluster_role_name(role), index, err.msg);
            mark_failed(run_dir, cluster_role_name(role), index, err.msg);
        }
        /* Without a learner the run cannot go on; a learner that ended on its own (an error,
         * or learner.max_updates) ends the run for everyone. */
        if (role == CLUSTER_ROLE_LEARNER && index == 0 && !*stop_requested) {
            request_stop(run_dir);
        }
        if (rc && role == CLUSTER_ROLE_LEARNER && layout.learners > 1) {
            /* The other learners may be blocked in an all-reduce this rank will never join. */
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    } else if (world_rank == 0) {
        log_error("a role failed to start; every rank stops (see %s/log/)", run_dir);
    }
    train_role_free(&ctx);
    mark_done(run_dir, cluster_role_name(role), index);
    *stop_requested = 1;
    if (w.started) {
        pthread_join(w.thread, NULL);
    }
    monitor_free(w.mon);
    MPI_Comm_free(&role_comm);
    config_free(cfg);
    log_close();
    MPI_Finalize();
    return rc;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 0) {
        rc = launch_under_mpirun() ? rank_main(&a) : launch(&a);
    } else if (rc < 0) {
        rc = 0;
    }
    free(a.sets);
    return rc;
}
