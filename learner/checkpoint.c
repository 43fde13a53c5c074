#include "learner/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "nn/paramfile.h"

typedef struct latest_arg {
    bool found;
    uint64_t step;
} latest_arg;

static int take_latest(uint64_t step, void *arg, shoal_err *err)
{
    (void)err;
    latest_arg *a = arg;
    if (!a->found || step > a->step) {
        a->found = true;
        a->step = step;
    }
    return SHOAL_OK;
}

int learner_checkpoint_latest(const char *run_dir, uint64_t *step, shoal_err *err)
{
    latest_arg a = {0};
    int rc = nn_paramfile_checkpoint_each(run_dir, take_latest, &a, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (!a.found) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s/" NN_PARAMFILE_CHECKPOINT_DIR
                             " holds no step-<N>.ckpt", run_dir);
    }
    *step = a.step;
    return SHOAL_OK;
}

typedef struct prune_arg {
    uint64_t newer[64]; /* the newest steps seen, to find the oldest to keep */
    size_t n;
} prune_arg;

static int collect(uint64_t step, void *arg, shoal_err *err)
{
    (void)err;
    prune_arg *a = arg;
    if (a->n < sizeof a->newer / sizeof a->newer[0]) {
        a->newer[a->n++] = step;
        return SHOAL_OK;
    }
    size_t min_i = 0; /* replace the oldest kept when this one is newer */
    for (size_t i = 1; i < a->n; i++) {
        if (a->newer[i] < a->newer[min_i]) {
            min_i = i;
        }
    }
    if (step > a->newer[min_i]) {
        a->newer[min_i] = step;
    }
    return SHOAL_OK;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Deletes every checkpoint older than the newest `keep` (with its target file). */
static void prune(const char *run_dir, uint64_t keep)
{
    /* Each pass deletes the oldest of at most 64 tracked steps: repeat until done. */
    for (;;) {
        prune_arg a = {0};
        if (nn_paramfile_checkpoint_each(run_dir, collect, &a, NULL) != SHOAL_OK || a.n <= keep) {
            return;
        }
        qsort(a.newer, a.n, sizeof a.newer[0], cmp_desc);
        uint64_t oldest = a.newer[a.n - 1];
        char path[FILEIO_PATH_MAX], tpath[FILEIO_PATH_MAX];
        if (nn_paramfile_checkpoint_path(run_dir, oldest, path, sizeof path, NULL) ||
            learner_update_target_path(path, tpath, sizeof tpath, NULL)) {
            return;
        }
        if (unlink(path) != 0) {
            log_warn("cannot delete old checkpoint %s: %s", path, strerror(errno));
            return;
        }
        unlink(tpath);
    }
}

int learner_checkpoint_write(const char *run_dir, const learner_update *u, uint64_t frames,
                             uint64_t keep, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    int rc = nn_paramfile_checkpoint_path(run_dir, learner_update_steps(u), path, sizeof path,
                                          err);
    if (rc == SHOAL_OK) {
        rc = learner_update_save(u, path, frames, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    log_info("checkpoint %s (%" PRIu64 " frames)", path, frames);
    prune(run_dir, keep);
    return SHOAL_OK;
}

int learner_checkpoint_resume(const char *run_dir, learner_update *u, uint64_t *frames,
                              shoal_err *err)
{
    uint64_t step = 0;
    shoal_err e = {0};
    int rc = learner_checkpoint_latest(run_dir, &step, &e);
    if (rc == SHOAL_ENOTFOUND) {
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        if (err) {
            *err = e;
        }
        return rc;
    }
    char path[FILEIO_PATH_MAX];
    rc = nn_paramfile_checkpoint_path(run_dir, step, path, sizeof path, err);
    if (rc == SHOAL_OK) {
        rc = learner_update_load(u, path, frames, err);
    }
    if (rc == SHOAL_OK) {
        log_info("resuming from %s (step %" PRIu64 ")", path, step);
    }
    return rc;
}
