/* Liveness from the run folder (cluster/liveness.h): markers and heartbeats give one line per
 * finding, once, and the counts the launcher acts on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/liveness.h"
#include "cluster/rundir.h"
#include "common/clock.h"
#include "train_fixtures.h"

TestSuite(cluster_liveness, .init = make_dir, .fini = remove_dir, .timeout = 30);

/* One liveness_check; its lines into out (cap bytes). */
static void check(liveness *l, liveness_news *news, char *out, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    liveness_check(l, f, news);
    fclose(f);
    snprintf(out, cap, "%s", text);
    free(text);
}

/* A pid that no longer exists: a child that exited and was reaped. */
static int dead_pid(void)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return (int)pid;
}

Test(cluster_liveness, each_finding_is_named_once_and_counted_by_kind)
{
    shoal_err err = {0};
    cr_assert_eq(rundir_prepare(dir, false, &err), SHOAL_OK, "%s", err.msg);
    char host[256] = "", beat[300];
    gethostname(host, sizeof host - 1);
    const uint32_t counts[4] = {1, 1, 0, 2}; /* shard, learner, no evaluator, 2 actors */
    liveness *l = liveness_new(dir, counts, 0.5, &err);
    cr_assert_not_null(l, "%s", err.msg);
    liveness_news news;
    char out[2048];

    /* Alive (this process), another machine's learner, an actor whose process is gone, an
     * actor on another machine that will fall silent. */
    snprintf(beat, sizeof beat, "%s %d\n", host, (int)getpid());
    rundir_mark(dir, "replay", 0, RUNDIR_ALIVE, beat);
    rundir_mark(dir, "learner", 0, RUNDIR_ALIVE, "node7 42\n");
    snprintf(beat, sizeof beat, "%s %d\n", host, dead_pid());
    rundir_mark(dir, "actor", 0, RUNDIR_ALIVE, beat);
    rundir_mark(dir, "actor", 1, RUNDIR_ALIVE, "node9 77\n");
    check(l, &news, out, sizeof out);
    cr_assert_str_eq(out, "", "nothing yet: %s", out);

    rundir_mark(dir, "learner", 0, RUNDIR_FAILED, "cannot write checkpoint: No space left");
    rundir_mark(dir, "learner", 0, RUNDIR_DONE, ""); /* a role that failed still returns */
    rundir_mark(dir, "replay", 0, RUNDIR_DIED, "replay shard 0 (h, pid 5) died: killed by "
                                               "signal 9 (Killed)");
    check(l, &news, out, sizeof out);
    cr_assert_str_eq(out, "shoal train: replay shard 0 (h, pid 5) died: killed by signal 9 "
                          "(Killed)\n"
                          "shoal train: learner 0 (node7, pid 42) failed: cannot write "
                          "checkpoint: No space left\n");
    cr_assert_eq(news.essential_lost, 1);
    cr_assert_eq(news.essential_failed, 1);

    clock_sleep_ms(LIVENESS_REPORT_GRACE_SECS * 1000 + 300);
    check(l, &news, out, sizeof out);
    char want[512];
    snprintf(want, sizeof want, "shoal train: actor 0 (%s, pid ", host);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, "died: its process is gone without a report"), "%s", out);
    cr_assert_not_null(strstr(out, "shoal train: actor 1 (node9, pid 77) stopped answering: no "
                                   "heartbeat for 2 s; the run goes on without it\n"),
                       "%s", out);
    cr_assert_eq(news.actors_lost, 2);
    cr_assert_eq(news.essential_lost, 0, "counted once");

    check(l, &news, out, sizeof out);
    cr_assert_str_eq(out, "", "every finding is said once: %s", out);
    liveness_totals(l, &news);
    cr_assert_eq(news.essential_lost, 1);
    cr_assert_eq(news.essential_failed, 1);
    cr_assert_eq(news.actors_lost, 2);
    liveness_free(l);
}
