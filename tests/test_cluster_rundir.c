#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/rundir.h"
#include "common/fileio.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-rundir-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cluster_rundir, .init = make_dir, .fini = remove_dir);

Test(cluster_rundir, a_new_run_refuses_a_folder_that_holds_one_and_resume_needs_one)
{
    char run[128];
    snprintf(run, sizeof run, "%s/runs/a", dir);
    shoal_err err = {0};
    cr_assert_eq(rundir_prepare(run, true, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "--run-dir") != NULL, "%s", err.msg);
    cr_assert_eq(rundir_prepare(run, false, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(rundir_prepare(run, false, &err), SHOAL_EINVAL, "checkpoints/ exists now");
    cr_assert(strstr(err.msg, "--resume") != NULL, "%s", err.msg);
    char cfg[160];
    snprintf(cfg, sizeof cfg, "%s/config.ini", run);
    cr_assert_eq(atomic_write_file(cfg, "[run]\n", 6, NULL), SHOAL_OK);
    cr_assert_eq(rundir_prepare(run, true, &err), SHOAL_OK, "%s", err.msg);
}
