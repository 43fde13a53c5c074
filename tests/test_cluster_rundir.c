#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/commands.h"
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

static char *marker(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/log/%s", dir, name);
    return path;
}

Test(cluster_rundir, markers_are_counted_by_role_read_and_cleared)
{
    shoal_err err = {0};
    cr_assert_eq(rundir_prepare(dir, false, &err), SHOAL_OK, "%s", err.msg);
    rundir_mark(dir, "actor", 0, RUNDIR_DONE, "");
    rundir_mark(dir, "actor", 1, RUNDIR_DONE, "");
    rundir_mark(dir, "learner", 0, RUNDIR_DONE, "");
    rundir_mark(dir, "replay", 2, RUNDIR_FAILED, "port in use");
    cr_assert_eq(rundir_count_markers(dir, "actor-", RUNDIR_DONE), 2);
    cr_assert_eq(rundir_count_markers(dir, NULL, RUNDIR_DONE), 3);
    cr_assert_eq(rundir_count_markers(dir, "replay-", RUNDIR_DONE), 0);

    char text[8];
    cr_assert(rundir_read_marker(dir, "replay", 2, RUNDIR_FAILED, text, sizeof text));
    cr_assert_str_eq(text, "port in", "cut to fit");
    cr_assert_not(rundir_read_marker(dir, "replay", 1, RUNDIR_FAILED, text, sizeof text));
    rundir_clear_markers(dir, RUNDIR_FAILED);
    cr_assert_not(rundir_read_marker(dir, "replay", 2, RUNDIR_FAILED, text, sizeof text));

    rundir_clear_markers(dir, RUNDIR_DONE);
    cr_assert_eq(rundir_count_markers(dir, NULL, RUNDIR_DONE), 0);
    FILE *f = fopen(marker("actor-0.log"), "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(rundir_count_markers(dir, "actor-", ".log"), 1, "logs are left alone");
}

Test(cluster_rundir, the_stop_file_is_in_the_run_folder)
{
    char path[256], want[256];
    rundir_stop_path(path, sizeof path, dir);
    snprintf(want, sizeof want, "%s/STOP", dir);
    cr_assert_str_eq(path, want);
    rundir_request_stop(dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "rundir_request_stop writes %s", path);
    fclose(f);
    char role_file[16];
    cr_assert_not(rundir_role_file(role_file, sizeof role_file, dir, "learner", 0, ".log"),
                  "a path that does not fit is refused");
}

Test(cluster_rundir, each_role_has_its_tensorboard_folder_unless_run_tensorboard_is_false)
{
    shoal_err err = {0};
    config *cfg = shoal_config_load(NULL, NULL, 0, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    char path[256], want[256];
    cr_assert_eq(rundir_tb_dir(path, sizeof path, cfg, dir, "learner", -1, &err), SHOAL_OK);
    snprintf(want, sizeof want, "%s/tb/learner", dir);
    cr_assert_str_eq(path, want);
    cr_assert_eq(rundir_tb_dir(path, sizeof path, cfg, dir, "actor", 3, &err), SHOAL_OK);
    snprintf(want, sizeof want, "%s/tb/actor-3", dir);
    cr_assert_str_eq(path, want);
    cr_assert_eq(rundir_tb_dir(path, sizeof path, cfg, "", "learner", -1, &err), SHOAL_OK);
    cr_assert_str_eq(path, "", "no run folder, no events");
    char small[16];
    cr_assert_eq(rundir_tb_dir(small, sizeof small, cfg, dir, "evaluator", -1, &err),
                 SHOAL_EINVAL);
    cr_assert_eq(config_set(cfg, "run.tensorboard=false", "--set", &err), SHOAL_OK);
    cr_assert_eq(rundir_tb_dir(path, sizeof path, cfg, dir, "learner", -1, &err), SHOAL_OK);
    cr_assert_str_eq(path, "");
    config_free(cfg);
}

static config *with(const char *a, const char *b)
{
    const char *sets[2] = {a, b};
    config *cfg = shoal_config_load(NULL, sets, (a != NULL) + (b != NULL), NULL);
    cr_assert_not_null(cfg);
    return cfg;
}

Test(cluster_rundir, curve_is_on_beyond_loopback_and_its_keys_are_made_at_preparation)
{
    config *loop = with(NULL, NULL), *far = with("cluster.bind_host=auto", NULL),
           *forced = with("cluster.curve=on", NULL),
           *off = with("cluster.bind_host=auto", "cluster.curve=off");
    cr_assert_not(rundir_curve_on(loop));
    cr_assert(rundir_curve_on(far));
    cr_assert(rundir_curve_on(forced));
    cr_assert_not(rundir_curve_on(off));
    shoal_err err = {0};
    curve_keys k;
    cr_assert_eq(rundir_curve_keys(loop, dir, true, &k, &err), SHOAL_OK);
    cr_assert_not(k.on, "off on loopback: no keys needed");
    cr_assert_eq(rundir_curve_keys(far, dir, true, &k, &err), SHOAL_ENOTFOUND, "not made yet");
    cr_assert_eq(rundir_curve_prepare(far, dir, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(rundir_curve_keys(far, dir, false, &k, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(k.on);
    /* Without a run folder a process must be told where the keys are. */
    cr_assert_eq(rundir_curve_keys(far, "", false, &k, &err), SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "cluster.curve_keys"), "%s", err.msg);
    char keys[128], set[160];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(set, sizeof set, "cluster.curve_keys=%s", keys);
    config *named = with("cluster.bind_host=auto", set);
    cr_assert_eq(rundir_curve_keys(named, "", false, &k, &err), SHOAL_OK, "%s", err.msg);
    config_free(loop);
    config_free(far);
    config_free(forced);
    config_free(off);
    config_free(named);
}

Test(cluster_rundir, a_hand_started_bind_beyond_loopback_with_curve_off_by_auto_is_refused)
{
    config *loop = with(NULL, NULL), *off = with("cluster.curve=off", NULL),
           *far = with("cluster.bind_host=10.0.0.5", NULL);
    shoal_err err = {0};
    cr_assert_eq(rundir_curve_check_bind(loop, "tcp://0.0.0.0:5555", &err), SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "cluster.curve=off"), "%s", err.msg);
    cr_assert_eq(rundir_curve_check_bind(loop, "tcp://*:5555", &err), SHOAL_EINVAL);
    cr_assert_eq(rundir_curve_check_bind(loop, "tcp://127.0.0.1:5555", &err), SHOAL_OK);
    cr_assert_eq(rundir_curve_check_bind(loop, "tcp://localhost:*", &err), SHOAL_OK);
    cr_assert_eq(rundir_curve_check_bind(off, "tcp://0.0.0.0:5555", &err), SHOAL_OK,
                 "off is the user's explicit choice");
    cr_assert_eq(rundir_curve_check_bind(far, "tcp://10.0.0.5:5555", &err), SHOAL_OK,
                 "CURVE is on there");
    config_free(loop);
    config_free(off);
    config_free(far);
}

Test(cluster_rundir, joiners_claim_distinct_indices_from_the_top_down_until_none_is_left)
{
    shoal_err err = {0};
    uint32_t a = 0, b = 0, c = 0;
    cr_assert_eq(rundir_claim_join(dir, 2, 4, &a, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(rundir_claim_join(dir, 2, 4, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(a, 3);
    cr_assert_eq(b, 2);
    cr_assert_eq(rundir_claim_join(dir, 2, 4, &c, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "join-*.claim"), "%s", err.msg);
    char text[64], host[64];
    cr_assert(rundir_read_marker(dir, "join", 3, ".claim", text, sizeof text));
    cr_assert_eq(gethostname(host, sizeof host), 0);
    cr_assert_eq(strncmp(text, host, strlen(host)), 0, "the claim says who holds it: %s", text);
    rundir_release_join(dir, 3);
    cr_assert_eq(rundir_claim_join(dir, 2, 4, &c, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(c, 3, "a released index is taken again");
}
