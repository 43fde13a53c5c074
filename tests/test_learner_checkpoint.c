#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learner/checkpoint.h"
#include "learner_fixtures.h"
#include "nn/paramfile.h"

static char run_dir[64];

static void make_run_dir(void)
{
    strcpy(run_dir, "/tmp/shoal-learner-checkpoint-XXXXXX");
    cr_assert_not_null(mkdtemp(run_dir));
}

static void remove_run_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(learner_checkpoint, .init = make_run_dir, .fini = remove_run_dir);

/* A small update state (batch 8) and the fixed data it trains on. */
static learner_update *update_new(void)
{
    learner_update_config c = lx_config(8, 1e-3f);
    shoal_err err = {0};
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    return u;
}

static void step_once(learner_update *u, const lx_data *d)
{
    learner_batch b = lx_batch(d, 0, 8);
    float prio[8];
    shoal_err err = {0};
    cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
}

static bool exists(const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", run_dir, name);
    return stat(p, &st) == 0;
}

static void make_checkpoint_dir(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR, run_dir);
    cr_assert_eq(mkdir(p, 0700), 0);
}

/* Writes a checkpoint after each of `updates` updates, keeping `keep`. */
static learner_update *write_series(size_t updates, uint64_t keep)
{
    learner_update *u = update_new();
    lx_data d;
    lx_data_init(&d, 8, 5);
    shoal_err err = {0};
    for (size_t k = 0; k < updates; k++) {
        step_once(u, &d);
        cr_assert_eq(learner_checkpoint_write(run_dir, u, 100 * (k + 1), keep, &err), SHOAL_OK,
                     "%s", err.msg);
    }
    lx_data_fini(&d);
    return u;
}

Test(learner_checkpoint, no_folder_or_an_empty_one_has_no_latest)
{
    uint64_t step = 7;
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_latest(run_dir, &step, &err), SHOAL_ENOTFOUND);
    make_checkpoint_dir();
    cr_assert_eq(learner_checkpoint_latest(run_dir, &step, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "step-<N>.ckpt") != NULL, "%s", err.msg);
    cr_assert_eq(step, 7);
}

Test(learner_checkpoint, writing_keeps_the_newest_and_deletes_older_ones_with_their_targets)
{
    make_checkpoint_dir();
    learner_update *u = write_series(3, 2);
    cr_assert(exists("step-3.ckpt") && exists("step-3.target"));
    cr_assert(exists("step-2.ckpt") && exists("step-2.target"));
    cr_assert(!exists("step-1.ckpt") && !exists("step-1.target"), "keep = 2");
    uint64_t step = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_latest(run_dir, &step, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(step, 3);
    learner_update_free(u);
}

Test(learner_checkpoint, resuming_loads_the_newest_or_changes_nothing_without_one)
{
    learner_update *fresh = update_new();
    uint32_t before = learner_update_local_checksum(fresh);
    uint64_t frames = 42;
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_resume(run_dir, fresh, &frames, &err), SHOAL_OK, "%s",
                 err.msg);
    cr_assert_eq(learner_update_local_checksum(fresh), before);
    cr_assert_eq(frames, 42);

    make_checkpoint_dir();
    learner_update *u = write_series(3, 5);
    cr_assert_eq(learner_checkpoint_resume(run_dir, fresh, &frames, &err), SHOAL_OK, "%s",
                 err.msg);
    cr_assert_eq(learner_update_steps(fresh), 3);
    cr_assert_eq(frames, 300);
    cr_assert_eq(learner_update_local_checksum(fresh), learner_update_local_checksum(u));
    learner_update_free(u);
    learner_update_free(fresh);
}

Test(learner_checkpoint, a_checkpoint_that_cannot_be_loaded_is_an_error_naming_it)
{
    make_checkpoint_dir();
    char p[256];
    snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/step-9.ckpt", run_dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("not a parameter file", f);
    fclose(f);
    learner_update *u = update_new();
    shoal_err err = {0};
    cr_assert_neq(learner_checkpoint_resume(run_dir, u, NULL, &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "step-9") != NULL, "%s", err.msg);
    cr_assert_eq(learner_update_steps(u), 0);
    learner_update_free(u);
}

Test(learner_checkpoint, pruning_past_sixty_four_checkpoints_still_keeps_only_the_newest)
{
    make_checkpoint_dir();
    for (int s = 100; s < 170; s++) {
        char p[256];
        snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/step-%d.ckpt", run_dir, s);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    learner_update *u = write_series(1, 3);
    for (int s = 100; s < 170; s++) {
        char name[NN_PARAMFILE_NAME_MAX];
        nn_paramfile_checkpoint_name((uint64_t)s, name, sizeof name, NULL);
        cr_assert_eq(exists(name), s >= 167, "%s", name);
    }
    cr_assert(!exists("step-1.ckpt") && !exists("step-1.target"), "older than the newest 3");
    learner_update_free(u);
}
