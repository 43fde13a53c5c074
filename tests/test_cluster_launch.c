#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

#include "cluster/commands.h"
#include "cluster/launch.h"

static int index_of(char **argv, size_t argc, const char *word)
{
    for (size_t i = 0; i < argc; i++) {
        if (strcmp(argv[i], word) == 0) {
            return (int)i;
        }
    }
    return -1;
}

Test(cluster_launch, mpirun_line_has_the_recovery_and_idle_flags_and_passes_args_through)
{
    char *args[] = {"train", "cfg.ini", "--set", "run.seed=3"};
    launch_spec s = {.mpirun = "mpirun", .n_procs = 7, .self = "/opt/shoal", .n_args = 4,
                     .args = args};
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    shoal_err err = {0};
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, LAUNCH_ARGV_MAX, &argc, &err), SHOAL_OK);
    cr_assert_str_eq(argv[0], "mpirun");
    int np_at = index_of(argv, argc, "-np");
    cr_assert(np_at >= 0);
    cr_assert_str_eq(argv[np_at + 1], "7");
    cr_assert(index_of(argv, argc, "--oversubscribe") > 0);
    cr_assert(index_of(argv, argc, "--enable-recovery") > 0);
    cr_assert(index_of(argv, argc, "mpi_yield_when_idle") > 0);
    int kill_at = index_of(argv, argc, "odls_base_sigkill_timeout");
    cr_assert(kill_at > 0 && strcmp(argv[kill_at + 1], "10") == 0,
              "a SIGTERM to mpirun leaves the ranks 10 s to stop before SIGKILL");
    cr_assert_eq(index_of(argv, argc, "--allow-run-as-root"), -1);
    cr_assert_eq(index_of(argv, argc, "--hostfile"), -1);
    int self = index_of(argv, argc, "/opt/shoal");
    cr_assert_eq((size_t)self + 5, argc, "the binary and its 4 args come last");
    cr_assert_str_eq(argv[argc - 1], "run.seed=3");
    cr_assert_null(argv[argc]);
}

Test(cluster_launch, root_and_hostfile_add_their_flags)
{
    launch_spec s = {.mpirun = "mpirun", .n_procs = 2, .as_root = true, .hostfile = "hosts",
                     .self = "shoal"};
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, LAUNCH_ARGV_MAX, &argc, NULL), SHOAL_OK);
    cr_assert(index_of(argv, argc, "--allow-run-as-root") > 0);
    int h = index_of(argv, argc, "--hostfile");
    cr_assert(h > 0);
    cr_assert_str_eq(argv[h + 1], "hosts");
}

Test(cluster_launch, mpi_is_restricted_to_the_runs_interfaces)
{
    config *cfg = shoal_config_load(NULL, NULL, 0, NULL);
    cr_assert_not_null(cfg);
    cr_assert_str_eq(launch_mpi_interface(cfg, false), "127.0.0.1/8", "one machine: loopback");
    cr_assert_null(launch_mpi_interface(cfg, true), "a hostfile without cluster.interface");
    const char *set[] = {"cluster.interface=10.0.0.0/24"};
    config *named = shoal_config_load(NULL, set, 1, NULL);
    cr_assert_str_eq(launch_mpi_interface(named, true), "10.0.0.0/24");
    launch_spec s = {.mpirun = "mpirun", .n_procs = 3, .self = "shoal",
                     .interface = launch_mpi_interface(named, true)};
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, LAUNCH_ARGV_MAX, &argc, NULL), SHOAL_OK);
    int btl = index_of(argv, argc, "btl_tcp_if_include");
    int oob = index_of(argv, argc, "oob_tcp_if_include");
    cr_assert(btl > 0 && oob > 0);
    cr_assert_str_eq(argv[btl - 1], "--mca");
    cr_assert_str_eq(argv[btl + 1], "10.0.0.0/24");
    cr_assert_str_eq(argv[oob - 1], "--mca");
    cr_assert_str_eq(argv[oob + 1], "10.0.0.0/24");
    cr_assert_lt(oob, index_of(argv, argc, "shoal"), "mpirun's options come before the binary");
    s.interface = NULL;
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, LAUNCH_ARGV_MAX, &argc, NULL), SHOAL_OK);
    cr_assert_eq(index_of(argv, argc, "btl_tcp_if_include"), -1);
    config_free(cfg);
    config_free(named);
}

Test(cluster_launch, too_small_an_array_or_no_processes_is_an_error)
{
    launch_spec s = {.mpirun = "mpirun", .n_procs = 2, .self = "shoal"};
    char np[16];
    char *argv[8];
    size_t argc;
    shoal_err err = {0};
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, 8, &argc, &err), SHOAL_EINVAL);
    s.n_procs = 0;
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, 8, &argc, &err), SHOAL_EINVAL);
}

/* Stands in for mpirun: two children, each in a process group of its own as OpenMPI starts
 * ranks, then waits for them. */
static pid_t start_fake_job(void)
{
    pid_t job = fork();
    cr_assert(job >= 0);
    if (job == 0) {
        setpgid(0, 0); /* as the launcher starts mpirun */
        for (int i = 0; i < 2; i++) {
            if (fork() == 0) {
                setpgid(0, 0);
                sleep(30); /* bounded: a failed test leaves nothing running for long */
                _exit(0);
            }
        }
        while (wait(NULL) > 0) {
        }
        _exit(0);
    }
    return job;
}

Test(cluster_launch, the_job_children_are_found_and_outlive_their_parent_until_signalled)
{
    /* Orphaned ranks come back to this process, so the test can see them end. */
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t job = start_fake_job();
    pid_t ranks[8];
    size_t n = 0;
    uint64_t t0 = clock_now_ns();
    while ((n = launch_job_children(job, ranks, 8)) < 2 && clock_since_s(t0) < 10.0) {
        clock_sleep_ms(10);
    }
    cr_assert_eq(n, 2);
    cr_assert_eq(launch_job_children(job, ranks, 1), 1, "cap is respected");
    n = launch_job_children(job, ranks, 8);
    for (size_t i = 0; i < n; i++) { /* each rank makes its own group right after the fork */
        while (getpgid(ranks[i]) != ranks[i] && clock_since_s(t0) < 10.0) {
            clock_sleep_ms(1);
        }
    }
    /* A kill of the parent's group alone leaves the ranks running: why the launcher keeps them. */
    cr_assert_eq(kill(-job, SIGKILL), 0);
    cr_assert_eq(waitpid(job, NULL, 0), job);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(kill(ranks[i], 0), 0, "rank %d ended with its parent", (int)ranks[i]);
        cr_assert_eq(kill(-ranks[i], SIGKILL), 0);
        cr_assert_eq(waitpid(ranks[i], NULL, 0), ranks[i]);
    }
    cr_assert_eq(launch_job_children(getpid(), ranks, 8), 0);
}

Test(cluster_launch, the_users_mpirun_options_come_after_the_fixed_ones_before_the_binary)
{
    char *extra[] = {"--mca", "plm_rsh_agent", "/opt/agent.sh"};
    launch_spec s = {.mpirun = "mpirun", .n_procs = 2, .hostfile = "hosts", .self = "shoal",
                     .n_extra = 3, .extra = extra};
    char np[16];
    char *argv[LAUNCH_ARGV_MAX];
    size_t argc;
    cr_assert_eq(launch_mpirun_argv(&s, np, argv, LAUNCH_ARGV_MAX, &argc, NULL), SHOAL_OK);
    int agent = index_of(argv, argc, "plm_rsh_agent");
    cr_assert(agent > index_of(argv, argc, "btl_vader_single_copy_mechanism"));
    cr_assert_str_eq(argv[agent - 1], "--mca");
    cr_assert_str_eq(argv[agent + 1], "/opt/agent.sh");
    cr_assert_eq(agent + 2, index_of(argv, argc, "shoal"));
}

Test(cluster_launch, the_nearest_mpirun_or_orted_above_a_rank_is_its_job_daemon)
{
    /* A stand-in named "mpirun" (its comm) with a rank below it, and a guardian between them
     * as shoal train has; the rank reports what it finds through a pipe. */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t daemon = fork();
    cr_assert(daemon >= 0);
    if (daemon == 0) {
        prctl(PR_SET_NAME, "mpirun");
        pid_t guardian = fork();
        if (guardian == 0) {
            prctl(PR_SET_NAME, "shoal"); /* not the name it inherited */
            pid_t rank = fork();
            if (rank == 0) {
                pid_t found = launch_job_daemon();
                _exit(write(fds[1], &found, sizeof found) == sizeof found ? 0 : 1);
            }
            int st;
            waitpid(rank, &st, 0);
            _exit(0);
        }
        int st;
        waitpid(guardian, &st, 0);
        _exit(0);
    }
    pid_t found = 0;
    cr_assert_eq(read(fds[0], &found, sizeof found), (ssize_t)sizeof found);
    int st;
    waitpid(daemon, &st, 0);
    cr_assert_eq(found, daemon, "found %d, the stand-in is %d", (int)found, (int)daemon);
    if (!launch_under_mpirun()) {
        cr_assert_eq(launch_job_daemon(), -1, "ctest and Criterion are no mpirun");
    }
}
