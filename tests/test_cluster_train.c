/* End-to-end: `shoal train` on loopback with every role (replay shard, 2 learners, evaluator,
 * 2 actors) under mpirun, started as a user would, stopped with SIGTERM. Each run is bounded:
 * it waits for what it checks with a deadline, then stops the job. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/progress.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "tb/reader.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-train-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cluster_train, .init = make_dir, .fini = remove_dir, .timeout = 240);

static const char small_ini[] =
    "[cluster]\nreplay_shards = 1\nlearners = 2\nevaluators = 1\nactors = 2\n"
    "[replay]\ncapacity = 20000\nmin_size = 500\n"
    "[actor]\nenvs = 4\n"
    "[learner]\ncheckpoint_period = 100\nmetrics_secs = 1\npublish_period = 20\n"
    "checksum_period = 20\n"
    "[evaluator]\nepisodes = 3\npoll_secs = 1\nmax_episode_steps = 300\nn_envs = 3\n"
    "[run]\nprogress_secs = 1\n";

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Starts `shoal train` with the words in args (NULL-terminated), stdout+stderr to out.log. */
static pid_t start_train(const char *const *args)
{
    char cfg[128], log_path[128];
    path_of(cfg, sizeof cfg, "small.ini");
    cr_assert_eq(atomic_write_file(cfg, small_ini, strlen(small_ini), NULL), SHOAL_OK);
    path_of(log_path, sizeof log_path, "out.log");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        /* OpenMPI's libraries lack frame pointers: ASan needs the slow unwinder to match the
         * suppressions in tests/lsan.supp (ignored by builds without ASan). */
        char asan[512];
        snprintf(asan, sizeof asan, "%s:fast_unwind_on_malloc=0",
                 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "");
        setenv("ASAN_OPTIONS", asan, 1);
        const char *argv[32] = {getenv("SHOAL_BIN"), "train"};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 31; i++) {
            argv[n++] = args[i];
        }
        argv[n] = NULL;
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    return pid;
}

/* A new run of small.ini in run (RUN_DIR), with one --set assignment when set is not NULL. */
static pid_t start_small(const char *run, const char *set)
{
    char cfg[128];
    path_of(cfg, sizeof cfg, "small.ini");
    const char *args[] = {cfg, "--run-dir", run, set ? "--set" : NULL, set, NULL};
    return start_train(args);
}

/* The last value of column in RUN_DIR/<file>, or -1 when there is none yet. */
static double last_value(const char *run, const char *file, const char *column)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", run, file);
    double v;
    return progress_csv_last(path, column, &v, NULL) == SHOAL_OK ? v : -1.0;
}

/* Waits until column of file exceeds min, up to timeout_s; returns the value seen. */
static double wait_above(const char *run, const char *file, const char *column, double min,
                         double timeout_s)
{
    uint64_t t0 = clock_now_ns();
    double v = -1.0;
    while (clock_since_s(t0) < timeout_s && (v = last_value(run, file, column)) <= min) {
        clock_sleep_ms(200);
    }
    return v;
}

/* The command line of pid with NULs as spaces into cmd; false when it is gone. */
static bool cmdline_of(int pid, char *cmd, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    size_t len = fread(cmd, 1, cap - 1, f);
    fclose(f);
    for (size_t i = 0; i < len; i++) {
        cmd[i] = cmd[i] ? cmd[i] : ' ';
    }
    cmd[len] = '\0';
    return true;
}

/* The first process (other than this test) whose command line mentions run and, when not
 * NULL, also `also` and passes keep(pid); returns its pid or -1, and counts them in *n. */
static int find_proc(const char *run, const char *also, int (*keep)(int pid, int arg), int arg,
                     int *n)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    int found = -1;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        char cmd[4096];
        if (pid <= 0 || pid == getpid() || !cmdline_of(pid, cmd, sizeof cmd) ||
            !strstr(cmd, run) || (also && !strstr(cmd, also)) || (keep && !keep(pid, arg))) {
            continue;
        }
        (*n)++;
        found = found < 0 ? pid : found;
    }
    closedir(d);
    return found;
}

/* Processes (other than this test) whose command line mentions run. */
static int procs_of(const char *run)
{
    int n;
    find_proc(run, NULL, NULL, 0, &n);
    return n;
}

/* SIGTERM to the launcher; returns its exit code after checking every process of the run is
 * gone within the 10 seconds the issue allows (plus scheduling slack on a loaded machine). */
static int stop_train(pid_t pid, const char *run)
{
    kill(pid, SIGTERM);
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 20.0, "shoal train did not end 20 s after SIGTERM");
        clock_sleep_ms(100);
    }
    while (procs_of(run) > 0) {
        cr_assert(clock_since_s(t0) < 20.0, "processes of the run are left behind");
        clock_sleep_ms(100);
    }
    double took = clock_since_s(t0);
    cr_log_info("stopping took %.1f s", took);
    cr_assert(took < 12.0, "stopping took %.1f s", took);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The lines of out.log that report failures, for assertion messages. */
static const char *failures(void)
{
    static char text[4096];
    char path[128];
    path_of(path, sizeof path, "out.log");
    FILE *f = fopen(path, "r");
    text[0] = '\0';
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        if ((strstr(line, "failed") || strstr(line, "ERROR")) &&
            strlen(text) + strlen(line) < sizeof text) {
            strcat(text, line);
        }
    }
    if (f) {
        fclose(f);
    }
    return text;
}

/* The last lines of out.log (about 1.5 kB), for assertion messages. */
static const char *out_tail(void)
{
    static char text[1600];
    char path[128];
    path_of(path, sizeof path, "out.log");
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        return text;
    }
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, end > (long)sizeof text - 1 ? end - (long)sizeof text + 1 : 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The largest params version in the progress lines of out.log. */
static long last_params_version(void)
{
    char path[128];
    path_of(path, sizeof path, "out.log");
    uint8_t *text;
    size_t n;
    cr_assert_eq(file_read_all(path, 64 << 20, &text, &n, NULL), SHOAL_OK);
    long best = -1;
    for (const char *p = (char *)text; (p = strstr(p, "params v")); p += 8) {
        long v = strtol(p + 8, NULL, 10);
        best = v > best ? v : best;
    }
    free(text);
    return best;
}

/* The largest N of RUN_DIR/checkpoints/step-N.ckpt. */
static long newest_checkpoint(const char *run)
{
    char path[160];
    snprintf(path, sizeof path, "%s/checkpoints", run);
    DIR *d = opendir(path);
    long best = -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long n;
        char tail[16];
        if (sscanf(e->d_name, "step-%ld.%15s", &n, tail) == 2 && strcmp(tail, "ckpt") == 0) {
            best = n > best ? n : best;
        }
    }
    if (d) {
        closedir(d);
    }
    return best;
}

/* Looks for one tag in the values of a TensorBoard event file. */
typedef struct tb_find {
    const char *tag;
    size_t found;
    bool histogram;
} tb_find;

static int find_tag(const tb_value *v, void *arg)
{
    tb_find *f = arg;
    if (strcmp(v->tag, f->tag) == 0) {
        f->found++;
        f->histogram = v->histogram;
    }
    return 0;
}

/* How many values of tag the event files in RUN_DIR/tb/<role> hold, every file's framing and
 * CRCs checked by tb_dir_each; *histogram says whether they are histograms. */
static size_t tb_count(const char *run, const char *role, const char *tag, bool *histogram)
{
    char folder[192];
    snprintf(folder, sizeof folder, "%s/tb/%s", run, role);
    tb_find f = {.tag = tag};
    shoal_err err = {0};
    cr_assert_eq(tb_dir_each(folder, find_tag, &f, NULL, &err), SHOAL_OK, "%s", err.msg);
    if (histogram) {
        *histogram = f.histogram;
    }
    return f.found;
}

/* What the roles leave in RUN_DIR/tb/ for TensorBoard. */
static void check_tensorboard(const char *run)
{
    bool hist = false;
    cr_assert_gt(tb_count(run, "learner", "learner/loss_td", &hist), 0);
    cr_assert(!hist);
    cr_assert_gt(tb_count(run, "learner", "learner/replay_inserted", NULL), 0);
    cr_assert_gt(tb_count(run, "learner", "learner/priorities", &hist), 0);
    cr_assert(hist, "learner/priorities is a histogram");
    cr_assert_eq(tb_count(run, "learner", "learner/step", NULL), 0, "step is the x axis");
    cr_assert_gt(tb_count(run, "evaluator", "eval/mean", NULL), 0);
    for (int i = 0; i < 2; i++) {
        char role[16];
        snprintf(role, sizeof role, "actor-%d", i);
        cr_assert_gt(tb_count(run, role, "actor/frames_per_s", NULL), 0, "%s", role);
        cr_assert_gt(tb_count(run, role, "actor/env_steps", NULL), 0, "%s", role);
    }
}

Test(cluster_train, a_short_run_trains_evaluates_and_stops_cleanly_on_sigterm)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    double step = wait_above(run, "metrics.csv", "step", 150, 120);
    double evals = wait_above(run, "eval.csv", "episodes", 0, 60);
    /* The actors take new parameters every actor.param_refresh_steps and the progress line
     * shows them a second later: wait for it rather than racing a fast learner. */
    uint64_t t0 = clock_now_ns();
    while (last_params_version() <= 0 && clock_since_s(t0) < 60.0) {
        clock_sleep_ms(200);
    }
    int code = stop_train(pid, run);
    cr_assert_gt(step, 150, "learner updates did not advance");
    cr_assert_gt(evals, 0, "no checkpoint was evaluated");
    cr_assert_eq(code, 0, "shoal train exited with %d:\n%s", code, failures());
    cr_assert_not_null(strstr(out_tail(), "(metrics.csv, eval.csv, eval.svg, checkpoints/)"),
                       "the final message names the evaluator's files: %s", out_tail());
    /* the learners write their last checkpoint at the stop; the evaluator waits for it */
    char *csv = NULL, path[160], row[32];
    size_t n;
    snprintf(path, sizeof path, "%s/eval.csv", run);
    cr_assert_eq(file_read_all(path, 1 << 20, (uint8_t **)&csv, &n, NULL), SHOAL_OK);
    csv[n] = '\0';
    snprintf(row, sizeof row, "\n%ld,", newest_checkpoint(run));
    cr_assert_not_null(strstr(csv, row), "the last checkpoint (step %ld) was not evaluated:\n%s",
                       newest_checkpoint(run), csv);
    free(csv);
    cr_assert_gt(last_value(run, "metrics.csv", "replay_inserted"), 0);
    cr_assert_gt(last_value(run, "metrics.csv", "replay_sampled"), 0);
    cr_assert_gt(last_params_version(), 0, "actors never acted with learned parameters");
    char svg[160];
    snprintf(svg, sizeof svg, "%s/eval.svg", run);
    struct stat st;
    cr_assert_eq(stat(svg, &st), 0, "eval.svg missing");
    cr_assert_gt(st.st_size, 100);
    check_tensorboard(run);
}

/* World rank of a process of the job, from the environment mpirun gives it; -1 if none. */
static int world_rank_of(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    char env[1 << 16];
    size_t len = fread(env, 1, sizeof env - 1, f);
    fclose(f);
    env[len] = '\0';
    for (size_t i = 0; i < len; i += strlen(env + i) + 1) {
        if (strncmp(env + i, "OMPI_COMM_WORLD_RANK=", 21) == 0) {
            return atoi(env + i + 21);
        }
    }
    return -1;
}

static int has_rank(int pid, int rank)
{
    return world_rank_of(pid) == rank;
}

/* The pid of the rank-mode process of run with this world rank, or -1. */
static int pid_of_rank(const char *run, int rank)
{
    int n;
    return find_proc(run, "--prepared", has_rank, rank, &n);
}

Test(cluster_train, a_killed_actor_does_not_stop_the_run)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 50, 120), 50);
    /* Ranks: 0 shard, 1-2 learners, 3 evaluator, 4-5 actors. */
    int victim = pid_of_rank(run, 5);
    cr_assert_gt(victim, 0, "actor rank 5 not found");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    double before = last_value(run, "metrics.csv", "replay_inserted");
    double step_before = last_value(run, "metrics.csv", "step");
    double inserted = wait_above(run, "metrics.csv", "replay_inserted", before + 1000, 60);
    double step = wait_above(run, "metrics.csv", "step", step_before + 50, 60);
    int code = stop_train(pid, run);
    cr_assert_gt(inserted, before + 1000, "the other actor stopped inserting");
    cr_assert_gt(step, step_before + 50, "the learners stopped");
    cr_assert_eq(code, 0, "shoal train exited with %d after losing an actor:\n%s", code,
                 failures());
}

/* Keeps a process stopped: mpirun continues its ranks (SIGCONT) when it is told to end the job,
 * so a single SIGSTOP would not make a rank that hangs. */
typedef struct hang_arg {
    int pid;
    atomic_int done;
} hang_arg;

static void *keep_stopped(void *p)
{
    hang_arg *h = p;
    while (!h->done && kill(h->pid, SIGSTOP) == 0) {
        clock_sleep_ms(1);
    }
    return NULL;
}

Test(cluster_train, a_hung_rank_is_killed_within_the_stop_deadline)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 20, 120), 20);
    /* Ranks: 3 is the evaluator. The others wait for it in MPI_Finalize, and mpirun's children
     * sit in process groups of their own: only the launcher's last-resort SIGKILL to each of
     * them ends the job. Whether the evaluator slipped through its .done before that is up to
     * the scheduler, so the exit code is not checked; stop_train checks that nothing is left
     * and that it took no longer than the deadline. */
    hang_arg h = {.pid = pid_of_rank(run, 3)};
    cr_assert_gt(h.pid, 0, "evaluator rank 3 not found");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, keep_stopped, &h), 0);
    stop_train(pid, run);
    h.done = 1;
    pthread_join(t, NULL);
}

Test(cluster_train, a_resumed_run_continues_from_its_checkpoint)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 150, 120), 150, "%s", out_tail());
    cr_assert_eq(stop_train(pid, run), 0, "%s", failures());
    long stopped_at = newest_checkpoint(run);
    cr_assert_gt(stopped_at, 150);

    const char *again[] = {"--resume", run, NULL};
    pid = start_train(again);
    double step = wait_above(run, "metrics.csv", "step", (double)stopped_at + 50, 120);
    cr_assert_eq(stop_train(pid, run), 0, "%s\n%s", failures(), out_tail());
    cr_assert_gt(step, stopped_at + 50, "the resumed learner did not continue");
    char log_path[160];
    snprintf(log_path, sizeof log_path, "%s/log/learner-0.log", run);
    uint8_t *text;
    size_t n;
    cr_assert_eq(file_read_all(log_path, 64 << 20, &text, &n, NULL), SHOAL_OK);
    char want[64];
    snprintf(want, sizeof want, "(step %ld)", stopped_at);
    cr_assert_not_null(strstr((char *)text, want), "no 'resuming from ... %s' in the log", want);
    free(text);
    cr_assert_gt(newest_checkpoint(run), stopped_at);
}

Test(cluster_train, a_role_that_cannot_start_fails_the_run_with_its_reason)
{
    char run[128];
    path_of(run, sizeof run, "run");
    /* 3 samples cannot be split evenly over 2 learners: learner_new refuses on both. */
    pid_t pid = start_small(run, "learner.batch_size=3");
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 60.0, "shoal train did not end after a failed start");
        clock_sleep_ms(100);
    }
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1);
    cr_assert_not_null(strstr(failures(), "learner-0 failed"), "%s", failures());
    cr_assert_eq(procs_of(run), 0);
}

Test(cluster_train, a_time_capped_run_without_evaluator_says_so_and_names_no_eval_files)
{
    char run[128], cfg[128];
    path_of(run, sizeof run, "run");
    path_of(cfg, sizeof cfg, "small.ini");
    const char *args[] = {cfg,   "--run-dir", run, "--set", "cluster.evaluators=0",
                          "--set", "run.max_seconds=10", "--set", "run.max_frames=1000000000",
                          NULL};
    pid_t pid = start_train(args);
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 90.0, "the 10 s cap did not end the run: %s", out_tail());
        clock_sleep_ms(200);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%s", failures(), out_tail());
    const char *out = out_tail();
    cr_assert_not_null(strstr(out, "time cap reached (run.max_seconds = 10) before run.max_frames"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "(metrics.csv, checkpoints/)"), "%s", out);
    cr_assert_null(strstr(out, "eval.csv"), "no evaluator, no eval.csv: %s", out);
}

/* learner.mode = offline with cluster.actors = 0: the shards hold only the demonstrations that
 * shoal train records first, learner.max_updates ends the run (no frames ever come), each
 * checkpoint carries its behaviour model and the evaluator scores it. */
Test(cluster_train, an_actorless_offline_run_learns_from_demonstrations_and_ends_by_updates)
{
    char run[128], cfg[128], demos[160];
    path_of(run, sizeof run, "run");
    path_of(cfg, sizeof cfg, "small.ini");
    snprintf(demos, sizeof demos, "replay.demos=%s/expert.demo", dir);
    const char *args[] = {cfg, "--run-dir", run, "--set", "cluster.actors=0", "--set",
                          "cluster.learners=1", "--set", "learner.mode=offline", "--set", demos,
                          "--set", "run.demo_episodes=3", "--set", "replay.demo_capacity=20000",
                          "--set", "learner.max_updates=300", NULL};
    pid_t pid = start_train(args);
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 120.0, "learner.max_updates did not end the run: %s",
                  out_tail());
        clock_sleep_ms(200);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%s", failures(), out_tail());
    cr_assert_eq(last_value(run, "metrics.csv", "step"), 300.0, "%s", out_tail());
    cr_assert_eq(last_value(run, "metrics.csv", "frames"), 0.0);
    cr_assert_gt(last_value(run, "metrics.csv", "loss_bc"), 0.0, "the behaviour model trains");
    char path[256], text[8192] = "";
    snprintf(path, sizeof path, "%s/eval.csv", run);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no eval.csv: %s", out_tail());
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(text, "\n300,0,"), "the last checkpoint is evaluated: %s", text);
    snprintf(path, sizeof path, "%s/checkpoints/step-300.behaviour", run);
    cr_assert_eq(access(path, F_OK), 0, "%s missing", path);
}
