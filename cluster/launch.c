#include "cluster/launch.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/hosts.h"
#include "cluster/liveness.h"
#include "cluster/monitor.h"
#include "cluster/rundir.h"
#include "common/clock.h"
#include "common/log.h"

bool launch_under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int launch_mpirun_argv(const launch_spec *spec, char *np_buf, char **argv, size_t cap,
                       size_t *argc, shoal_err *err)
{
    if (spec->n_procs == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "cannot launch 0 processes");
    }
    snprintf(np_buf, 16, "%u", spec->n_procs);
    /* Fixed words: why each is there.
     * --oversubscribe: a laptop runs more processes than cores.
     * --enable-recovery: a crashed actor must not end the job.
     * --bind-to none: with more processes than cores, pinning would stack them on one core.
     * mpi_yield_when_idle: an idle rank sleeps instead of spinning (ARCHITECTURE.md).
     * btl_vader_single_copy_mechanism none: CMA is often forbidden in containers.
     * odls_base_sigkill_timeout 10: a SIGTERM to mpirun (Slurm sends one to every process of
     * a job it cancels, requeues or times out) is passed to the ranks, and SIGKILL followed
     * after 1 s by default, before a shard or learner had written its checkpoint; a stop
     * takes up to 10 s (docs/cluster.md). shoal train's own stop sends SIGKILL itself at
     * 9.5 s, so it is not slowed.
     * -x OPENBLAS_NUM_THREADS=1: one BLAS thread per process. */
    const char *fixed[] = {
        spec->mpirun, "-np", np_buf, "--oversubscribe", "--enable-recovery", "--bind-to", "none",
        "--mca", "mpi_yield_when_idle", "1", "--mca", "btl_vader_single_copy_mechanism", "none",
        "--mca", "odls_base_sigkill_timeout", "10", "-x", "OPENBLAS_NUM_THREADS=1",
    };
    size_t n_fixed = sizeof fixed / sizeof fixed[0];
    size_t need = n_fixed + (spec->as_root ? 1 : 0) + (spec->hostfile ? 2 : 0) +
                  (spec->interface ? 6 : 0) + spec->n_extra + 1 + (size_t)spec->n_args + 1;
    if (need > cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "mpirun command line of %zu words exceeds %zu",
                             need, cap);
    }
    size_t n = 0;
    for (size_t i = 0; i < n_fixed; i++) {
        argv[n++] = (char *)fixed[i];
    }
    if (spec->as_root) {
        argv[n++] = "--allow-run-as-root";
    }
    if (spec->hostfile) {
        argv[n++] = "--hostfile";
        argv[n++] = (char *)spec->hostfile;
    }
    if (spec->interface) {
        /* MPI's traffic is not encrypted (docs/cluster.md, threat model): at least it goes
         * only where the run does, and its listeners are not open on other networks. */
        const char *words[] = {"--mca", "btl_tcp_if_include", spec->interface,
                               "--mca", "oob_tcp_if_include", spec->interface};
        for (size_t i = 0; i < 6; i++) {
            argv[n++] = (char *)words[i];
        }
    }
    /* After the fixed words: mpirun takes the last of a repeated --mca, so the user's win. */
    for (size_t i = 0; i < spec->n_extra; i++) {
        argv[n++] = spec->extra[i];
    }
    argv[n++] = (char *)spec->self;
    for (int i = 0; i < spec->n_args; i++) {
        argv[n++] = spec->args[i];
    }
    argv[n] = NULL;
    *argc = n;
    return SHOAL_OK;
}

/* The command name (field 2 of /proc/PID/stat) may hold spaces and parentheses, so parsing
 * starts after its last ')'. */
pid_t launch_parent_of(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *close = strrchr(text, ')');
    int ppid;
    char state;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2) {
        return -1;
    }
    return (pid_t)ppid;
}

pid_t launch_job_daemon(void)
{
    static const char *const daemons[] = {"mpirun", "orterun", "orted", "prterun", "prted"};
    pid_t pid = getpid();
    for (int level = 0; level < 4 && pid > 1; level++) {
        pid = launch_parent_of(pid);
        char path[64], comm[64] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        FILE *f = pid > 1 ? fopen(path, "r") : NULL;
        if (f) {
            if (!fgets(comm, sizeof comm, f)) {
                comm[0] = '\0';
            }
            fclose(f);
        }
        comm[strcspn(comm, "\n")] = '\0';
        for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++) {
            if (strcmp(comm, daemons[i]) == 0) {
                return pid;
            }
        }
    }
    return -1;
}

size_t launch_job_children(pid_t mpirun_pid, pid_t *out, size_t cap)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && n < cap && (e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && launch_parent_of(pid) == mpirun_pid) {
            out[n++] = pid;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

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

const char *launch_mpi_interface(const config *cfg, bool hostfile)
{
    const char *named = config_str(cfg, "cluster", "interface");
    if (named[0]) {
        return named;
    }
    return hostfile ? NULL : "127.0.0.1/8";
}

static uint32_t role_count(const config *cfg, bool with_actors)
{
    return (uint32_t)(config_int(cfg, "cluster", "replay_shards") +
                      config_int(cfg, "cluster", "learners") +
                      config_int(cfg, "cluster", "evaluators") +
                      (with_actors ? config_int(cfg, "cluster", "actors") : 0));
}

/* Starts `mpirun ... shoal train --run-dir DIR --prepared` in a process group of its own;
 * returns its pid, or -1 with err set. */
static pid_t spawn(const char *run_dir, const config *cfg, const char *hostfile, shoal_err *err)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        shoal_err_set(err, SHOAL_EIO, "cannot find this program's path: %s", strerror(errno));
        return -1;
    }
    self[len] = '\0';
    char *rank_args[] = {"train", "--run-dir", (char *)run_dir, "--prepared"};
    char extra_text[4096];
    char *extra[LAUNCH_ARGV_MAX / 2];
    size_t n_extra = 0;
    const char *user = config_str(cfg, "cluster", "mpirun_args");
    shoal_err why = {0};
    if (snprintf(extra_text, sizeof extra_text, "%s", user) >= (int)sizeof extra_text) {
        shoal_err_set(&why, SHOAL_EINVAL, "longer than %zu bytes", sizeof extra_text - 1);
    } else {
        hosts_split_words(extra_text, extra, LAUNCH_ARGV_MAX / 2, &n_extra, &why);
    }
    if (why.code != SHOAL_OK) {
        shoal_err_set(err, SHOAL_EINVAL, "cluster.mpirun_args: %s", why.msg);
        return -1;
    }
    launch_spec spec = {.mpirun = "mpirun", .n_procs = role_count(cfg, true),
                        .as_root = geteuid() == 0, .hostfile = hostfile, .self = self,
                        .interface = launch_mpi_interface(cfg, hostfile != NULL),
                        .n_args = 4, .args = rank_args, .n_extra = n_extra, .extra = extra};
    if (!spec.interface) {
        printf("shoal train: MPI may listen on every interface of each host; set "
               "cluster.interface (e.g. eth1 or 10.0.0.0/24) to restrict it\n");
    }
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    if (launch_mpirun_argv(&spec, np, argv, LAUNCH_ARGV_MAX, &argc, err) != SHOAL_OK) {
        return -1;
    }
    printf("shoal train: %u processes (%lld shard(s), %lld learner(s), %lld evaluator(s), %lld "
           "actor(s)); run folder %s\n",
           spec.n_procs, (long long)config_int(cfg, "cluster", "replay_shards"),
           (long long)config_int(cfg, "cluster", "learners"),
           (long long)config_int(cfg, "cluster", "evaluators"),
           (long long)config_int(cfg, "cluster", "actors"), run_dir);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        shoal_err_set(err, SHOAL_EIO, "fork: %s", strerror(errno));
        return -1;
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
    return child;
}

/* The launcher's side of a stop: when it was asked for, and the job's local ranks. */
typedef struct stopping {
    uint64_t since_ns; /* 0: not asked yet */
    bool signalled;
    pid_t ranks[LAUNCH_MAX_LOCAL_RANKS];
    size_t n_ranks;
} stopping;

/* Graceful first; the job must be gone within 10 s of the request. The ranks are remembered at
 * the first signal: mpirun may exit before them, orphaning them. */
static void escalate(stopping *s, pid_t child, uint64_t now)
{
    if (s->since_ns && !s->signalled && now - s->since_ns > 8000000000ull) {
        s->n_ranks = launch_job_children(child, s->ranks, LAUNCH_MAX_LOCAL_RANKS);
        signal_job(child, s->ranks, s->n_ranks, SIGTERM);
        s->signalled = true;
    }
    if (s->since_ns && now - s->since_ns > 9500000000ull) {
        signal_job(child, s->ranks, s->n_ranks, SIGKILL);
    }
}

/* Says which budget ended the run (key: from monitor_budget_reached; NULL: none, the stop was
 * asked for). On stdout: a time cap cutting a run short of its frames is worth seeing, and
 * bench/learning reports it from this line. */
static void report_budget(const char *key, const config *cfg)
{
    if (key && strcmp(key, "run.max_seconds") == 0) {
        printf("shoal train: time cap reached (run.max_seconds = %g) before run.max_frames\n",
               config_float(cfg, "run", "max_seconds"));
    } else if (key) {
        printf("shoal train: frame budget reached (run.max_frames = %lld)\n",
               (long long)config_int(cfg, "run", "max_frames"));
    }
}

/* Why the launcher stops the job. */
typedef enum stop_cause {
    STOP_NONE,
    STOP_ASKED,  /* Ctrl-C or SIGTERM to shoal train */
    STOP_BUDGET, /* run.max_frames or run.max_seconds */
    STOP_LOST,   /* a shard, learner or evaluator died or stopped answering */
    STOP_FAILED, /* a role reported an error */
} stop_cause;

/* Seconds between liveness checks: a death is named well within the 10 s the issue allows. */
#define LAUNCH_LIVENESS_PERIOD_NS 500000000ull

/* liveness_check, its findings below an open TTY progress line. */
static void check_ranks(liveness *live, monitor *mon, liveness_news *news)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    liveness_check(live, out ? out : stderr, news);
    if (out) {
        fclose(out);
        if (len) {
            monitor_end_line(mon);
            fputs(text, stderr);
            fflush(stderr);
        }
    }
    free(text);
}

/* Waits for mpirun (child), printing progress, naming every rank that fails, dies or stops
 * answering, and turning a stop request, the end of the budget or the loss of a shard, learner
 * or evaluator into the STOP file; returns its wait status and why the job was stopped. */
static int supervise(pid_t child, const char *run_dir, const config *cfg,
                     volatile sig_atomic_t *stop, liveness *live, stop_cause *cause)
{
    monitor *mon = monitor_new(run_dir, cfg, isatty(STDOUT_FILENO), NULL);
    double period = config_float(cfg, "run", "progress_secs");
    uint64_t next_tick = 0, next_check = 0;
    int status = 0;
    stopping s = {0};
    const char *reached = NULL; /* the budget that ended the run, if one did */
    *cause = STOP_NONE;
    while (waitpid(child, &status, WNOHANG) != child) {
        uint64_t now = clock_now_ns();
        /* After the stop request the shards stop answering; polling them would only delay
         * the deadlines. */
        if (mon && !s.since_ns && now >= next_tick) {
            bool over = false;
            monitor_tick(mon, &over);
            next_tick = now + (uint64_t)(period * 1e9);
            if (over) {
                reached = monitor_budget_reached(mon);
                *cause = STOP_BUDGET;
            }
        }
        if (live && now >= next_check) {
            liveness_news news;
            check_ranks(live, mon, &news);
            next_check = now + LAUNCH_LIVENESS_PERIOD_NS;
            if (!s.since_ns && news.essential_lost) {
                *cause = STOP_LOST;
            } else if (!s.since_ns && news.essential_failed) {
                *cause = STOP_FAILED;
            }
        }
        if (*stop && !s.since_ns) {
            *cause = STOP_ASKED;
        }
        if (*cause != STOP_NONE && !s.since_ns) {
            rundir_request_stop(run_dir);
            s.since_ns = now;
            monitor_end_line(mon); /* keep the last progress line */
            report_budget(reached, cfg);
            printf("shoal train: stopping%s; roles write their checkpoints (at most 10 s)\n",
                   *cause == STOP_LOST ? " the run: a shard, learner or evaluator is lost"
                   : *cause == STOP_FAILED ? " the run: a shard, learner or evaluator failed"
                                           : "");
            fflush(stdout);
        }
        escalate(&s, child, now);
        clock_sleep_ms(100);
    }
    if (s.signalled) {
        signal_job(child, s.ranks, s.n_ranks, SIGKILL);
    }
    monitor_free(mon);
    return status;
}

/* mpirun --enable-recovery does not report its ranks' outcome (it may exit 0 after a failure,
 * or 1 after an actor was killed, which the run survives), so the run folder decides: every
 * shard, learner and evaluator finished, and no rank failed; a lost actor is forgiven. */
static int outcome(int status, const char *run_dir, const config *cfg, liveness *live)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int essential = (int)role_count(cfg, false);
    int finished = rundir_count_markers(run_dir, "replay-", RUNDIR_DONE) +
                   rundir_count_markers(run_dir, "learner-", RUNDIR_DONE) +
                   rundir_count_markers(run_dir, "evaluator-", RUNDIR_DONE);
    liveness_news found = {0};
    if (live) {
        liveness_news news;
        liveness_check(live, stderr, &news); /* what the last ranks left */
        liveness_totals(live, &found);
    }
    int failures = (int)(found.essential_failed + found.actors_failed);
    int lost = (int)found.essential_lost;
    if (code != 127) {
        code = failures == 0 && lost == 0 && finished == essential ? 0 : 1;
    }
    if (code && failures == 0 && lost == 0 && finished < essential) {
        fprintf(stderr, "shoal train: %d of %d shard, learner and evaluator processes did not "
                        "finish (crashed or killed); see %s/log/\n", essential - finished,
                essential, run_dir);
    }
    if (code == 0) {
        /* eval.csv and eval.svg are the evaluator's: named only when the run had one. */
        bool evaluated = config_int(cfg, "cluster", "evaluators") > 0;
        printf("shoal train: finished; run folder %s (metrics.csv, %scheckpoints/). Continue "
               "with: shoal train --resume %s\n",
               run_dir, evaluated ? "eval.csv, eval.svg, " : "", run_dir);
    } else {
        fprintf(stderr, "shoal train: the job ended with code %d; see %s/log/\n", code, run_dir);
    }
    return code;
}

int launch_run(const char *run_dir, const config *cfg, const char *hostfile,
               volatile sig_atomic_t *stop, bool *restartable)
{
    shoal_err err = {0};
    *restartable = false;
    pid_t child = spawn(run_dir, cfg, hostfile, &err);
    if (child < 0) {
        fprintf(stderr, "shoal train: %s\n", err.msg);
        return 1;
    }
    const uint32_t counts[4] = {
        (uint32_t)config_int(cfg, "cluster", "replay_shards"),
        (uint32_t)config_int(cfg, "cluster", "learners"),
        (uint32_t)config_int(cfg, "cluster", "evaluators"),
        (uint32_t)config_int(cfg, "cluster", "actors"),
    };
    liveness *live = liveness_new(run_dir, counts, LIVENESS_SILENT_SECS, &err);
    if (!live) {
        fprintf(stderr, "shoal train: %s; ranks are not watched\n", err.msg);
    }
    stop_cause cause;
    int status = supervise(child, run_dir, cfg, stop, live, &cause);
    int code = outcome(status, run_dir, cfg, live);
    *restartable = code != 0 && code != 127 && cause == STOP_LOST;
    liveness_free(live);
    return code;
}
