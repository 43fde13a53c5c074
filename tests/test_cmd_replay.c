/* `shoal replay` as a process: a shard whose checkpoint disk fills up. The checkpoint folder is
 * a small tmpfs mounted in a mount namespace of this test's own (so nothing outside sees it and
 * it goes away with the test even if the test dies); the test is skipped, saying why, where it
 * cannot mount one. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "replay/client.h"
#include "disk_fixtures.h"
#include "file_checks.h"
#include "replay_fixtures.h"

extern char **environ;

static char mnt[64], work[64];

static void unmount_all(void)
{
    if (mnt[0]) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
    }
}

/* A tmpfs of `size` at a new folder mnt (tests/disk_fixtures.h). */
static void mount_small_disk(const char *size)
{
    snprintf(mnt, sizeof mnt, "/tmp/shoal-fulldisk-XXXXXX");
    cr_assert_not_null(mkdtemp(mnt));
    fx_mount_small_disk(mnt, size);
}

/* Waits (bounded) for pid to exit; its exit code, or -1 (killed) when it does not. */
static int wait_exit(pid_t pid, double limit_s)
{
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clock_since_s(t0) > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        clock_sleep_ms(20);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads the "listening on ENDPOINT" line of the shard's stdout. */
static void read_endpoint(int fd, char *ep, size_t cap)
{
    FILE *f = fdopen(fd, "r");
    cr_assert_not_null(f);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f), "the shard printed nothing");
    const char *at = strstr(line, "listening on ");
    cr_assert_not_null(at, "%s", line);
    snprintf(ep, cap, "%s", at + strlen("listening on "));
    ep[strcspn(ep, "\n")] = '\0';
    fclose(f);
}

Test(cmd_replay, a_full_disk_ends_the_shard_non_zero_with_one_error_per_attempt_and_the_old_checkpoint_kept,
     .fini = unmount_all, .timeout = 60)
{
    mount_small_disk("4m");
    snprintf(work, sizeof work, "/tmp/shoal-fulldisk-cfg-XXXXXX");
    cr_assert_not_null(mkdtemp(work));
    char cfg_path[128], log_path[128], err_path[128], ckpt[128], filler[128];
    snprintf(cfg_path, sizeof cfg_path, "%s/replay.ini", work);
    snprintf(log_path, sizeof log_path, "%s/replay-0.log", work);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", work);
    snprintf(ckpt, sizeof ckpt, "%s/replay-0.ckpt", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    FILE *f = fopen(cfg_path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[env]\nname = minatar/breakout\n\n[replay]\ncapacity = 50000\nmin_size = 0\n"
               "samples_per_insert = 0\ncheckpoint = %s/replay-%%d.ckpt\ncheckpoint_secs = 0.2\n"
               "checkpoint_max_failures = 3\n\n[log]\nfile = %s\n", mnt, log_path);
    fclose(f);

    int out[2];
    cr_assert_eq(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    char *argv[] = {getenv("SHOAL_BIN"), "replay", "--config", cfg_path, "--shard", "0",
                    "--bind", "tcp://127.0.0.1:*", NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char ep[256];
    read_endpoint(out[0], ep, sizeof ep);

    /* A checkpoint of the empty shard lands first; then the disk fills. */
    uint64_t t0 = clock_now_ns();
    while (access(ckpt, F_OK) != 0 && clock_since_s(t0) < 10) {
        clock_sleep_ms(20);
    }
    cr_assert_eq(access(ckpt, F_OK), 0, "no first checkpoint within 10 s");
    uint64_t full_ns = clock_now_ns();
    fx_fill_disk(filler);
    clock_sleep_ms(400); /* a writer that started before the disk filled has ended by now */
    fx_fill_disk(filler);   /* and whatever its temporary file freed is taken too */
    size_t n_old;
    uint8_t *old = fx_slurp(ckpt, &n_old);

    /* The shard still serves while its checkpoints fail. */
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 5000, .obs_bytes = FX_OB, .max_batch = FX_MAXN};
    shoal_err err = {0};
    replay_client *c = replay_client_new(eps, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch b;
    for (uint32_t k = 0; k < 40; k++) {
        fx_batch_fill(&b, 0, k * 500, 500, 1.0f, false);
        cr_assert_eq(replay_client_insert(c, &b.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);

    int code = wait_exit(pid, 30);
    double secs = clock_since_s(full_ns);
    cr_assert_eq(code, 1, "the shard ends with exit code 1 on a disk that stays full (got %d)",
                 code);
    size_t n_err;
    char *text = (char *)fx_slurp(err_path, &n_err);
    cr_assert(strstr(text, "checkpoint failed 3 times in a row") != NULL, "%s", text);
    cr_assert(strstr(text, "No space left on device") != NULL, "%s", text);
    free(text);
    /* Attempts at least a second apart after the first failure (1 s, then 2 s): two logged
     * lines, the third failure is the shard's error; never one per serve-loop pass. */
    int lines = fx_count_lines(log_path, "checkpoint failed (");
    cr_assert_eq(lines, 2, "%d failure lines in %.1f s", lines, secs);
    cr_assert_geq(secs, 2.9, "retries backed off (ended %.1f s after the disk filled)", secs);
    cr_assert_lt(secs, 20.0);

    fx_assert_file_is(ckpt, old, n_old, "the old checkpoint is intact");
    glob_t g;
    char pattern[96];
    snprintf(pattern, sizeof pattern, "%s/replay-0.ckpt.tmp*", mnt);
    cr_assert_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH, "failed writes leave no temporary "
                                                          "file");
    unlink(cfg_path);
    unlink(log_path);
    unlink(err_path);
    rmdir(work);
}
