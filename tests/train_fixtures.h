/* Shared by the tests that start a real `shoal train` on loopback (test_cluster_train.c,
 * test_cluster_supervise.c): a folder per test, starting the launcher with a config, waiting on
 * the run's CSV files, finding a rank's process, stopping the job and checking nothing is left,
 * and the lines of its output for assertion messages. */
#ifndef SHOAL_TESTS_TRAIN_FIXTURES_H
#define SHOAL_TESTS_TRAIN_FIXTURES_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/launch.h"
#include "cluster/progress.h"
#include "common/clock.h"
#include "common/fileio.h"

static char dir[64]; /* this test's folder: the run folders, configs and out.log */

static inline void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-train-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static inline void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Writes ini into DIR/small.ini and starts `shoal train` with the words in args
 * (NULL-terminated), stdout+stderr appended to DIR/out.log. */
static inline pid_t start_train(const char *ini, const char *const *args)
{
    char cfg[128], log_path[128];
    path_of(cfg, sizeof cfg, "small.ini");
    cr_assert_eq(atomic_write_file(cfg, ini, strlen(ini), NULL), SHOAL_OK);
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

/* The last value of column in RUN_DIR/<file>, or -1 when there is none yet. */
static inline double last_value(const char *run, const char *file, const char *column)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", run, file);
    double v;
    return progress_csv_last(path, column, &v, NULL) == SHOAL_OK ? v : -1.0;
}

/* Waits until column of file exceeds min, up to timeout_s; returns the value seen. */
static inline double wait_above(const char *run, const char *file, const char *column, double min,
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
static inline bool cmdline_of(int pid, char *cmd, size_t cap)
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
static inline int find_proc(const char *run, const char *also, int (*keep)(int pid, int arg), int arg,
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
static inline int procs_of(const char *run)
{
    int n;
    find_proc(run, NULL, NULL, 0, &n);
    return n;
}

/* SIGKILL to every process whose command line mentions this test's folder (a test that failed
 * half-way must not leave its job running), then the folder goes. */
static inline void remove_dir(void)
{
    int n, pid;
    for (int round = 0; round < 100 && (pid = find_proc(dir, NULL, NULL, 0, &n)) > 0; round++) {
        kill(pid, SIGKILL);
        clock_sleep_ms(20);
    }
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* SIGTERM to the launcher; returns its exit code after checking every process of the run is
 * gone within the 10 seconds the issue allows (plus scheduling slack on a loaded machine). */
static inline int stop_train(pid_t pid, const char *run)
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
static inline const char *failures(void)
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
static inline const char *out_tail(void)
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
static inline long last_params_version(void)
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
static inline long newest_checkpoint(const char *run)
{
    char path[256];
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

/* World rank of a process of the job, from the environment mpirun gives it; -1 if none. */
static inline int world_rank_of(int pid)
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

/* Whether pid is the rank itself: the process of that world rank whose parent is its guardian
 * (cluster/guardian.h), which has the same command line and environment. */
static inline int has_rank(int pid, int rank)
{
    return world_rank_of(pid) == rank && world_rank_of((int)launch_parent_of(pid)) == rank;
}

/* The pid of the rank-mode process of run with this world rank (not its guardian), or -1. */
static inline int pid_of_rank(const char *run, int rank)
{
    int n;
    return find_proc(run, "--prepared", has_rank, rank, &n);
}


#endif
