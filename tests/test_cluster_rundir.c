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

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(atomic_write_file(path, text, strlen(text), NULL), SHOAL_OK);
}

TestSuite(cluster_rundir, .init = make_dir, .fini = remove_dir);

Test(cluster_rundir, endpoints_round_trip)
{
    rundir_endpoints ep = {.n_replay = 2};
    strcpy(ep.replay[0], "tcp://127.0.0.1:40001");
    strcpy(ep.replay[1], "tcp://10.0.0.2:40002");
    strcpy(ep.params, "tcp://127.0.0.1:40100");
    shoal_err err = {0};
    cr_assert_eq(rundir_endpoints_write(dir, &ep, &err), SHOAL_OK, "%s", err.msg);
    rundir_endpoints got;
    cr_assert_eq(rundir_endpoints_read(dir, &got, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(got.n_replay, 2);
    cr_assert_str_eq(got.replay[1], "tcp://10.0.0.2:40002");
    cr_assert_str_eq(got.params, "tcp://127.0.0.1:40100");
}

Test(cluster_rundir, malformed_or_missing_endpoints_are_clear_errors)
{
    rundir_endpoints ep;
    shoal_err err = {0};
    cr_assert_eq(rundir_endpoints_read(dir, &ep, &err), SHOAL_ENOTFOUND);
    const char *bad[] = {"", "{}", "{\"replay\": [], \"params\": \"x\"}",
                         "{\"replay\": [\"a\"]}", "{\"replay\": [\"a\", ], \"params\": \"x\"}",
                         "{\"replay\": \"a\", \"params\": \"x\"}", "{\"other\": 1}",
                         "{\"replay\": [\"a\"], \"params\": \"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("endpoints.json", bad[i]);
        cr_assert_eq(rundir_endpoints_read(dir, &ep, &err), SHOAL_ECORRUPT, "accepted: %s", bad[i]);
        cr_assert(strstr(err.msg, "endpoints.json") != NULL, "%s", err.msg);
    }
}

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
