#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
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

/* The path of a file in the run's checkpoint folder. */
static void ckpt_file(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", run_dir, name);
}

/* Flips one byte in the middle of a file. */
static void flip_byte(const char *name)
{
    char p[256];
    ckpt_file(name, p, sizeof p);
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long mid = ftell(f) / 2;
    cr_assert_eq(fseek(f, mid, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, mid, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
}

static void cut_to_half(const char *name)
{
    char p[256];
    struct stat st;
    ckpt_file(name, p, sizeof p);
    cr_assert_eq(stat(p, &st), 0, "%s", p);
    cr_assert_eq(truncate(p, st.st_size / 2), 0);
}

/* Starts logging to a file in the run folder; log_text returns what was logged. */
static void log_to_file(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/learner.log", run_dir);
    cr_assert_eq(log_setup("learner", 0, LOG_INFO, p, NULL), SHOAL_OK);
}

static char *log_text(void)
{
    log_close();
    char p[128];
    snprintf(p, sizeof p, "%s/learner.log", run_dir);
    uint8_t *data = NULL;
    size_t n = 0;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(p, 1 << 20, &data, &n, &err), SHOAL_OK, "%s", err.msg);
    char *text = realloc(data, n + 1);
    cr_assert_not_null(text);
    text[n] = '\0';
    return text;
}

/* Damages the newest of four checkpoints with damage(), resumes, and checks that the third was
 * loaded, that the log names the skipped file with `reason`, and that it was moved aside. */
static void resume_past_damaged_newest(void (*damage)(const char *), const char *file,
                                       const char *reason)
{
    make_checkpoint_dir();
    learner_update *u = write_series(4, 5);
    damage(file);
    log_to_file();
    learner_update *fresh = update_new();
    uint64_t frames = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_resume(run_dir, fresh, &frames, &err), SHOAL_OK, "%s",
                 err.msg);
    char *log = log_text();
    cr_assert_eq(learner_update_steps(fresh), 3, "the newest valid checkpoint");
    cr_assert_eq(frames, 300);
    cr_assert(strstr(log, "skipping checkpoint") && strstr(log, file) && strstr(log, reason),
              "the skipped file and why:\n%s", log);
    cr_assert(strstr(log, "resuming from") && strstr(log, "step-3.ckpt"), "%s", log);
    cr_assert(!exists("step-4.ckpt") && exists("step-4.ckpt.damaged"), "moved aside");
    uint64_t step = 0;
    cr_assert_eq(learner_checkpoint_latest(run_dir, &step, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(step, 3);

    /* the resumed state is the one step 3 was written from: replay it on a fresh copy */
    learner_update *again = update_new();
    lx_data d;
    lx_data_init(&d, 8, 5);
    for (int k = 0; k < 3; k++) {
        step_once(again, &d);
    }
    lx_data_fini(&d);
    cr_assert_eq(learner_update_local_checksum(fresh), learner_update_local_checksum(again));
    free(log);
    learner_update_free(again);
    learner_update_free(fresh);
    learner_update_free(u);
}

Test(learner_checkpoint, resume_skips_a_newest_checkpoint_with_a_flipped_byte)
{
    resume_past_damaged_newest(flip_byte, "step-4.ckpt", "CRC32C mismatch");
}

Test(learner_checkpoint, resume_skips_a_truncated_newest_checkpoint)
{
    resume_past_damaged_newest(cut_to_half, "step-4.ckpt", "truncated");
}

Test(learner_checkpoint, resume_skips_a_checkpoint_whose_target_file_is_damaged)
{
    resume_past_damaged_newest(flip_byte, "step-4.target", "CRC32C mismatch");
    cr_assert(!exists("step-4.target") && exists("step-4.target.damaged"));
}

Test(learner_checkpoint, resume_fails_listing_every_file_when_none_is_valid)
{
    make_checkpoint_dir();
    learner_update *u = write_series(3, 5);
    flip_byte("step-3.ckpt");
    cut_to_half("step-2.ckpt");
    flip_byte("step-1.target");
    log_to_file();
    learner_update *fresh = update_new();
    uint32_t before = learner_update_local_checksum(fresh);
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_resume(run_dir, fresh, NULL, &err), SHOAL_ECORRUPT);
    char *log = log_text();
    cr_assert(strstr(err.msg, "no valid checkpoint") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "step-3.ckpt, step-2.ckpt, step-1.ckpt") != NULL, "%s", err.msg);
    cr_assert(strstr(log, "step-3.ckpt: CRC32C mismatch") && strstr(log, "step-2.ckpt: truncated")
              && strstr(log, "step-1.target: CRC32C mismatch"), "%s", log);
    cr_assert_eq(learner_update_local_checksum(fresh), before, "nothing loaded");
    cr_assert_eq(learner_update_steps(fresh), 0);
    cr_assert(exists("step-3.ckpt") && exists("step-2.ckpt") && exists("step-1.ckpt"),
              "nothing is moved when nothing loads");
    free(log);
    learner_update_free(fresh);
    learner_update_free(u);
}

Test(learner_checkpoint, pruning_after_a_resume_past_damage_keeps_the_new_valid_checkpoints)
{
    make_checkpoint_dir();
    learner_update *u = write_series(3, 1);
    cr_assert(exists("step-3.ckpt") && !exists("step-2.ckpt"));
    /* step 2's checkpoint was pruned; write step 1 again beside a damaged step 3 */
    learner_update_free(u);
    u = write_series(1, 5);
    flip_byte("step-3.ckpt");
    learner_update *fresh = update_new();
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_resume(run_dir, fresh, NULL, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_steps(fresh), 1);
    lx_data d;
    lx_data_init(&d, 8, 5);
    step_once(fresh, &d);
    lx_data_fini(&d);
    cr_assert_eq(learner_checkpoint_write(run_dir, fresh, 200, 1, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(exists("step-2.ckpt"), "keep = 1 keeps the new checkpoint, not the damaged one");
    cr_assert(!exists("step-3.ckpt") && exists("step-3.ckpt.damaged"));
    learner_update_free(fresh);
    learner_update_free(u);
}
