/* The guardian of a rank (cluster/guardian.h): it reports how the rank ended when the rank did
 * not finish, stays silent when it did, ends the way the rank did, and passes SIGTERM on. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/guardian.h"
#include "cluster/rundir.h"
#include "common/clock.h"
#include "train_fixtures.h"

TestSuite(cluster_guardian, .init = make_dir, .fini = remove_dir, .timeout = 30);

/* Forks a process that starts a guardian; its rank identifies itself as role/index of the run
 * folder dir and then calls end(). Returns the guardian's pid. */
static pid_t guarded_rank(cluster_role role, uint32_t index, void (*end)(void))
{
    pid_t g = fork();
    cr_assert(g >= 0);
    if (g == 0) {
        guardian gd;
        guardian_start(&gd); /* the guardian never returns from here */
        guardian_identify(&gd, dir, role, index);
        end();
        _exit(0);
    }
    return g;
}

static int wait_status(pid_t pid)
{
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void killed(void)
{
    raise(SIGKILL);
}

static void exits_2(void)
{
    _exit(2);
}

static void finishes_with_3(void)
{
    rundir_mark(dir, "learner", 0, RUNDIR_DONE, "");
    _exit(3);
}

static void stops_on_sigterm(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    rundir_mark(dir, "actor", 1, RUNDIR_ALIVE, "ready");
    int sig;
    sigwait(&set, &sig);
    rundir_mark(dir, "actor", 1, RUNDIR_DONE, "");
    _exit(0);
}

static void prepare(void)
{
    shoal_err err = {0};
    cr_assert_eq(rundir_prepare(dir, false, &err), SHOAL_OK, "%s", err.msg);
}

Test(cluster_guardian, a_killed_rank_is_named_with_its_signal_and_the_guardian_dies_the_same_way)
{
    prepare();
    int status = wait_status(guarded_rank(CLUSTER_ROLE_REPLAY, 0, killed));
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
    char text[512];
    cr_assert(rundir_read_marker(dir, "replay", 0, RUNDIR_DIED, text, sizeof text));
    cr_assert_not_null(strstr(text, "replay shard 0 ("), "%s", text);
    cr_assert_not_null(strstr(text, ", pid "), "%s", text);
    cr_assert_not_null(strstr(text, ") died: killed by signal 9 (Killed)"), "%s", text);
}

Test(cluster_guardian, a_rank_that_exits_without_finishing_is_reported_with_its_code)
{
    prepare();
    int status = wait_status(guarded_rank(CLUSTER_ROLE_EVALUATOR, 0, exits_2));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %#x", status);
    char text[512];
    cr_assert(rundir_read_marker(dir, "evaluator", 0, RUNDIR_DIED, text, sizeof text));
    cr_assert_not_null(strstr(text, "died: exited with code 2 before finishing"), "%s", text);
}

Test(cluster_guardian, a_rank_that_finished_is_not_reported)
{
    prepare();
    int status = wait_status(guarded_rank(CLUSTER_ROLE_LEARNER, 0, finishes_with_3));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %#x", status);
    char text[512];
    cr_assert_not(rundir_read_marker(dir, "learner", 0, RUNDIR_DIED, text, sizeof text));
}

Test(cluster_guardian, sigterm_to_the_guardian_reaches_the_rank)
{
    prepare();
    pid_t g = guarded_rank(CLUSTER_ROLE_ACTOR, 1, stops_on_sigterm);
    char text[64];
    uint64_t t0 = clock_now_ns();
    while (!rundir_read_marker(dir, "actor", 1, RUNDIR_ALIVE, text, sizeof text)) {
        cr_assert_lt(clock_since_s(t0), 10.0, "the rank did not start");
        clock_sleep_ms(10);
    }
    cr_assert_eq(kill(g, SIGTERM), 0);
    int status = wait_status(g);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    cr_assert(rundir_read_marker(dir, "actor", 1, RUNDIR_DONE, text, sizeof text));
    cr_assert_not(rundir_read_marker(dir, "actor", 1, RUNDIR_DIED, text, sizeof text));
}
