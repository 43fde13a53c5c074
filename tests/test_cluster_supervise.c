/* End-to-end supervision: SIGKILL, in turn, an actor, the replay shard and the learner of a real
 * `shoal train` on loopback (one shard, one learner, two actors, demonstrations) and check the
 * line naming the dead rank and its cause, the exit code, the automatic restart (run.restarts),
 * that the demonstrations survive it, that the learner continues from its checkpoint, and that
 * the progress line of the restarted run shows frames. Each test is bounded (waits with
 * deadlines; the suite's fini kills whatever is left). */
#define _GNU_SOURCE /* unshare, for the full-disk test */
#include "disk_fixtures.h"
#include "train_fixtures.h"

TestSuite(cluster_supervise, .init = make_dir, .fini = remove_dir, .timeout = 150);

/* Ranks: 0 the shard, 1 the learner, 2 and 3 the actors. The demo file is recorded at start
 * (run.demo_episodes); the shard checkpoints every 2 s so that a restart has one. */
static const char ini_format[] =
    "[cluster]\nreplay_shards = 1\nlearners = 1\nevaluators = 0\nactors = 2\n"
    "[replay]\ncapacity = 20000\nmin_size = 500\ncheckpoint_secs = 2\ndemos = %s/demo.demo\n"
    "[actor]\nenvs = 4\n"
    "[learner]\ncheckpoint_period = 100\nmetrics_secs = 1\npublish_period = 20\n"
    "checksum_period = 20\n"
    "[run]\nprogress_secs = 1\ndemo_episodes = 2\nrestarts = %d\n";

/* Starts a run of the config above in DIR/run with run.restarts = restarts. */
static pid_t start_run(const char *run, int restarts)
{
    char ini[1024], cfg[128];
    snprintf(ini, sizeof ini, ini_format, dir, restarts);
    path_of(cfg, sizeof cfg, "small.ini");
    const char *args[] = {cfg, "--run-dir", run, NULL};
    return start_train(ini, args);
}

/* The whole of out.log (caller frees). */
static char *output(void)
{
    char path[128];
    path_of(path, sizeof path, "out.log");
    uint8_t *text = NULL;
    size_t n;
    if (file_read_all(path, 64 << 20, &text, &n, NULL) != SHOAL_OK) {
        return strdup("");
    }
    return (char *)text;
}

/* Waits until out.log holds text; returns the seconds it took, or -1 after timeout_s. */
static double wait_output(const char *text, double timeout_s)
{
    uint64_t t0 = clock_now_ns();
    while (clock_since_s(t0) < timeout_s) {
        char *out = output();
        bool found = strstr(out, text) != NULL;
        free(out);
        if (found) {
            return clock_since_s(t0);
        }
        clock_sleep_ms(100);
    }
    return -1.0;
}

/* Waits for the launcher to end by itself; returns its exit code, -1 after timeout_s. */
static int wait_exit(pid_t pid, double timeout_s)
{
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clock_since_s(t0) > timeout_s) {
            return -1;
        }
        clock_sleep_ms(100);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The step N of the learner's "resuming from ... (step N)" log line, or -1. */
static long resumed_step(const char *run)
{
    char path[160];
    snprintf(path, sizeof path, "%s/log/learner-0.log", run);
    uint8_t *text;
    size_t n;
    if (file_read_all(path, 64 << 20, &text, &n, NULL) != SHOAL_OK) {
        return -1;
    }
    const char *p = strstr((char *)text, "resuming from");
    long step = -1;
    if (p && (p = strstr(p, "(step "))) {
        step = strtol(p + 6, NULL, 10);
    }
    free(text);
    return step;
}

/* The first frame count above 0 in the progress lines after the marker line, or 0. */
static double frames_after(const char *marker)
{
    char *out = output();
    const char *p = strstr(out, marker);
    double frames = 0;
    while (p && frames <= 0 && (p = strstr(p, " frames "))) {
        char *end;
        frames = strtod(p + 8, &end);
        frames *= *end == 'k' ? 1e3 : *end == 'M' ? 1e6 : 1.0;
        p = end;
    }
    free(out);
    return frames;
}

/* Kills the world rank's process (not its guardian) once the learner passed step 200 and the
 * shard wrote its first checkpoint; returns the learner's newest checkpoint step then. */
static long kill_rank_when_ready(const char *run, int rank)
{
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 200, 90), 200, "%s", out_tail());
    char ckpt[160];
    snprintf(ckpt, sizeof ckpt, "%s/replay-0.ckpt", run);
    struct stat st;
    uint64_t t0 = clock_now_ns();
    while (stat(ckpt, &st) != 0 && clock_since_s(t0) < 20) {
        clock_sleep_ms(100);
    }
    int victim = pid_of_rank(run, rank);
    cr_assert_gt(victim, 0, "rank %d not found", rank);
    long newest = newest_checkpoint(run);
    cr_assert_eq(kill(victim, SIGKILL), 0);
    return newest;
}

/* Checks that the restarted learner resumed from the checkpoint it had at the kill (newest) or
 * a later one, and that it goes on learning from there. */
static void assert_resumed_from(const char *run, long newest)
{
    uint64_t t0 = clock_now_ns();
    while (resumed_step(run) < 0 && clock_since_s(t0) < 40) {
        clock_sleep_ms(200);
    }
    long resumed = resumed_step(run);
    cr_assert_geq(resumed, newest, "resumed from step %ld, before the checkpoint %ld", resumed,
                  newest);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", (double)resumed + 50, 40),
                 (double)resumed + 50, "the resumed learner did not continue:\n%s", out_tail());
}

Test(cluster_supervise, a_killed_actor_is_named_and_the_run_goes_on)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_run(run, 1);
    kill_rank_when_ready(run, 3);
    double took = wait_output("died: killed by signal 9 (Killed); the run goes on without it", 20);
    cr_assert_geq(took, 0, "no line names the dead actor:\n%s", out_tail());
    cr_log_info("actor death named after %.1f s", took);
    char *out = output();
    cr_assert_not_null(strstr(out, "shoal train: actor 1 ("), "%s", out_tail());
    free(out);
    double step = last_value(run, "metrics.csv", "step");
    cr_assert_gt(wait_above(run, "metrics.csv", "step", step + 50, 30), step + 50,
                 "the learner stopped after the actor died");
    cr_assert_eq(stop_train(pid, run), 0, "a lost actor is tolerated:\n%s", failures());
    cr_assert_null(strstr(out_tail(), "restarting ("), "%s", out_tail());
}

Test(cluster_supervise, a_killed_shard_stops_the_run_and_it_resumes_with_its_demonstrations)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_run(run, 1);
    double demos = wait_above(run, "metrics.csv", "replay_demo_size", 0, 90);
    cr_assert_gt(demos, 0, "no demonstrations loaded:\n%s", out_tail());
    long newest = kill_rank_when_ready(run, 0);
    double took = wait_output("died: killed by signal 9 (Killed)", 20);
    cr_assert_geq(took, 0, "no line names the dead shard:\n%s", out_tail());
    cr_log_info("shard death named after %.1f s", took);
    char *out = output();
    cr_assert_not_null(strstr(out, "shoal train: replay shard 0 ("), "%s", out_tail());
    free(out);
    const char *restart = "restarting (1 of run.restarts = 1)";
    cr_assert_geq(wait_output(restart, 30), 0, "no restart:\n%s", out_tail());
    cr_assert_geq(wait_output("the job ended with code 1", 1), 0, "the failed attempt is not "
                  "reported:\n%s", out_tail());
    /* The resumed learner continues from the checkpoint it had (or a later one it wrote while
     * the run stopped), with the demonstrations back in the shard. */
    assert_resumed_from(run, newest);
    cr_assert_float_eq(last_value(run, "metrics.csv", "replay_demo_size"), demos, 0.5,
                       "demonstrations lost in the restart");
    uint64_t t0 = clock_now_ns();
    while (frames_after(restart) <= 0 && clock_since_s(t0) < 20) {
        clock_sleep_ms(200);
    }
    cr_assert_gt(frames_after(restart), 0, "the restarted run's progress shows no frames:\n%s",
                 out_tail());
    cr_assert_eq(stop_train(pid, run), 0, "the restarted run finished:\n%s", failures());
}

Test(cluster_supervise, a_killed_learner_is_named_and_without_restarts_the_run_fails)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_run(run, 0);
    kill_rank_when_ready(run, 1);
    uint64_t t0 = clock_now_ns();
    double took = wait_output("died: killed by signal 9 (Killed)", 20);
    cr_assert_geq(took, 0, "no line names the dead learner:\n%s", out_tail());
    char *out = output();
    cr_assert_not_null(strstr(out, "shoal train: learner 0 ("), "%s", out_tail());
    free(out);
    int code = wait_exit(pid, 30);
    double ended = clock_since_s(t0);
    cr_log_info("learner death named after %.1f s, the job ended after %.1f s", took, ended);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, out_tail());
    cr_assert_lt(ended, 15.0, "the job took %.1f s to end", ended);
    cr_assert_null(strstr(out_tail(), "restarting ("), "run.restarts = 0: %s", out_tail());
    cr_assert_not_null(strstr(out_tail(), "no restart (run.restarts = 0); continue with: shoal "
                                          "train --resume"), "%s", out_tail());
    cr_assert_null(strstr(out_tail(), "finished;"), "%s", out_tail());
    cr_assert_eq(procs_of(run), 0, "processes of the run are left behind");
}

Test(cluster_supervise, a_killed_learner_is_resumed_from_its_checkpoint)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_run(run, 1);
    long newest = kill_rank_when_ready(run, 1);
    cr_assert_geq(wait_output("shoal train: learner 0 (", 20), 0, "%s", out_tail());
    cr_assert_geq(wait_output("restarting (1 of run.restarts = 1)", 30), 0, "%s", out_tail());
    assert_resumed_from(run, newest);
    cr_assert_eq(stop_train(pid, run), 0, "%s", failures());
}

/* Counts the occurrences of text in out.log. */
static int occurrences(const char *text)
{
    char *out = output();
    int n = 0;
    for (const char *p = out; (p = strstr(p, text)); p += strlen(text)) {
        n++;
    }
    free(out);
    return n;
}

Test(cluster_supervise, a_resumed_run_shows_frames_and_stops_at_its_frame_budget)
{
    char run[128], ini[1024], cfg[128];
    path_of(run, sizeof run, "run");
    snprintf(ini, sizeof ini, ini_format, dir, 0);
    path_of(cfg, sizeof cfg, "small.ini");
    const char *first[] = {cfg, "--run-dir", run, "--set", "run.max_frames=6000", NULL};
    pid_t pid = start_train(ini, first);
    int code = wait_exit(pid, 60);
    cr_assert_eq(code, 0, "%d:\n%s", code, out_tail());
    double frames = last_value(run, "metrics.csv", "frames");
    cr_assert_geq(frames, 6000);
    /* The frame budget counts the whole run: the shard's frame count comes back from its
     * checkpoint, so the resumed run stops 6000 frames later. */
    const char *again[] = {"--resume", run, "--set", "run.max_frames=12000", NULL};
    pid = start_train(ini, again);
    code = wait_exit(pid, 60);
    cr_assert_eq(code, 0, "the resumed run did not stop at its frame budget (%d):\n%s", code,
                 out_tail());
    cr_assert_eq(occurrences("frame budget reached (run.max_frames = 12000)"), 1, "%s",
                 out_tail());
    cr_assert_eq(occurrences("shoal train: stopping"), 2, "once per run:\n%s", out_tail());
    cr_assert_eq(occurrences("shoal train: finished;"), 2, "once per run:\n%s", out_tail());
    cr_assert_geq(frames_after("run.max_frames = 6000"), 6000,
                  "after --resume the frames go on from the checkpoint's:\n%s", out_tail());
    cr_log_info("frames at the end of the resumed run: %.0f",
                last_value(run, "metrics.csv", "frames"));
    cr_assert_lt(last_value(run, "metrics.csv", "frames"), 24000, "the budget is the run's");
}

/* The run folder of the full-disk test is a small tmpfs at DIR/disk (tests/disk_fixtures.h); it
 * is unmounted before the suite's fini removes DIR. */
static void unmount_disk_then_remove_dir(void)
{
    char disk[128];
    path_of(disk, sizeof disk, "disk");
    umount2(disk, MNT_DETACH);
    remove_dir();
}

Test(cluster_supervise, a_full_disk_ends_the_run_non_zero_naming_the_failed_role_once,
     .fini = unmount_disk_then_remove_dir)
{
    char disk[128], run[160], filler[160];
    path_of(disk, sizeof disk, "disk");
    cr_assert_eq(mkdir(disk, 0755), 0);
    fx_mount_small_disk(disk, "64m");
    snprintf(run, sizeof run, "%s/run", disk);
    snprintf(filler, sizeof filler, "%s/filler", disk);
    pid_t pid = start_run(run, 2);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 200, 90), 200, "%s", out_tail());
    fx_fill_disk(filler);
    uint64_t t0 = clock_now_ns();
    /* The learner's next checkpoint (every 100 updates) or the shard's (every 2 s) meets the
     * full disk; either role fails, and a failure is not restarted: it would come back. */
    int code = wait_exit(pid, 60);
    double ended = clock_since_s(t0);
    cr_log_info("the run ended %.1f s after the disk filled", ended);
    cr_assert_eq(code, 1, "exit code %d:\n%s", code, out_tail());
    int learner = occurrences("shoal train: learner 0 (");
    int shard = occurrences("shoal train: replay shard 0 (");
    cr_assert(learner + shard > 0, "no line names the failed role:\n%s", out_tail());
    cr_assert(learner <= 1 && shard <= 1, "each failed role is named once:\n%s", out_tail());
    /* The shard's checkpoint retries back off: one line per attempt, never a flood. */
    cr_assert_leq(occurrences("checkpoint failed ("), 3, "%s", out_tail());
    cr_assert_null(strstr(out_tail(), "restarting ("), "a failure is not restarted:\n%s",
                   out_tail());
    cr_assert_null(strstr(out_tail(), "finished;"), "%s", out_tail());
    cr_assert_eq(procs_of(run), 0, "processes of the run are left behind");
    cr_assert_geq(newest_checkpoint(run), 100, "the checkpoints from before the disk filled stay");
}
