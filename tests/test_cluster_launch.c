#include <criterion/criterion.h>
#include <string.h>

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
