#include "learner/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "nn/paramfile.h"

/* The steps of a run's checkpoints, grown as the folder is read. */
typedef struct step_list {
    uint64_t *steps;
    size_t n, cap;
} step_list;

static int take_step(uint64_t step, void *arg, shoal_err *err)
{
    step_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        uint64_t *bigger = realloc(l->steps, cap * sizeof *bigger);
        if (!bigger) {
            return shoal_err_set(err, SHOAL_ENOMEM, "out of memory listing %zu checkpoints", cap);
        }
        l->steps = bigger;
        l->cap = cap;
    }
    l->steps[l->n++] = step;
    return SHOAL_OK;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Every checkpoint step of run_dir, newest first (l->steps is the caller's to free, also on
 * error). ENOTFOUND when the folder does not exist, EIO, ENOMEM. */
static int list_newest_first(const char *run_dir, step_list *l, shoal_err *err)
{
    *l = (step_list){0};
    int rc = nn_paramfile_checkpoint_each(run_dir, take_step, l, err);
    if (rc == SHOAL_OK && l->n > 1) {
        qsort(l->steps, l->n, sizeof l->steps[0], cmp_desc);
    }
    return rc;
}

int learner_checkpoint_latest(const char *run_dir, uint64_t *step, shoal_err *err)
{
    step_list l;
    int rc = list_newest_first(run_dir, &l, err);
    if (rc == SHOAL_OK && l.n == 0) {
        rc = shoal_err_set(err, SHOAL_ENOTFOUND, "%s/" NN_PARAMFILE_CHECKPOINT_DIR
                           " holds no step-<N>.ckpt", run_dir);
    }
    if (rc == SHOAL_OK) {
        *step = l.steps[0];
    }
    free(l.steps);
    return rc;
}

/* Deletes every checkpoint older than the newest `keep` (with its target and behaviour files). */
static void prune(const char *run_dir, uint64_t keep)
{
    step_list l;
    if (list_newest_first(run_dir, &l, NULL) == SHOAL_OK) {
        for (size_t i = (size_t)(keep < l.n ? keep : l.n); i < l.n; i++) {
            char path[FILEIO_PATH_MAX], tpath[FILEIO_PATH_MAX];
            if (nn_paramfile_checkpoint_path(run_dir, l.steps[i], path, sizeof path, NULL) ||
                learner_update_target_path(path, tpath, sizeof tpath, NULL)) {
                break;
            }
            if (unlink(path) != 0) {
                log_warn("cannot delete old checkpoint %s: %s", path, strerror(errno));
                break;
            }
            unlink(tpath);
            /* discrete BCQ's behaviour model, when the run is offline */
            if (nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, tpath, sizeof tpath,
                                          NULL) == SHOAL_OK) {
                unlink(tpath);
            }
        }
    }
    free(l.steps);
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

/* Whether a checkpoint that failed to load with code is damaged (or gone) on its own, so that
 * an older one may still load; other codes (EARCH, ESTATE, EVERSION, ENOMEM, EINVAL) say the
 * run's configuration or this build does not fit its checkpoints, which the older ones share. */
static bool damaged(int code)
{
    return code == SHOAL_ECORRUPT || code == SHOAL_ENOTFOUND || code == SHOAL_EIO;
}

/* Appends ", name" (or "name" first) to the list of tried files while it fits. */
static void note_tried(char *tried, size_t cap, uint64_t step)
{
    char name[NN_PARAMFILE_NAME_MAX];
    nn_paramfile_checkpoint_name(step, name, sizeof name, NULL);
    size_t used = strlen(tried);
    if (used + strlen(name) + 6 < cap) {
        snprintf(tried + used, cap - used, "%s%s", used ? ", " : "", name);
    } else if (!strstr(tried, "...")) {
        snprintf(tried + used, cap - used, ", ...");
    }
}

/* Renames a skipped checkpoint (and its target file) to "<name>.damaged": no longer a
 * checkpoint name, so the evaluator, later resumes and pruning leave it alone (pruning would
 * otherwise count it among the newest and could delete the valid ones written after it), and
 * it stays for inspection. */
static void move_aside(const char *run_dir, uint64_t step)
{
    char path[FILEIO_PATH_MAX], tpath[FILEIO_PATH_MAX], to[FILEIO_PATH_MAX + 16];
    if (nn_paramfile_checkpoint_path(run_dir, step, path, sizeof path, NULL) ||
        learner_update_target_path(path, tpath, sizeof tpath, NULL)) {
        return;
    }
    snprintf(to, sizeof to, "%s.damaged", path);
    if (rename(path, to) != 0 && errno != ENOENT) {
        log_warn("cannot move the damaged checkpoint %s aside: %s", path, strerror(errno));
        return;
    }
    snprintf(to, sizeof to, "%s.damaged", tpath);
    rename(tpath, to);
}

int learner_checkpoint_resume(const char *run_dir, learner_update *u, uint64_t *frames,
                              shoal_err *err)
{
    step_list l;
    shoal_err e = {0};
    int rc = list_newest_first(run_dir, &l, &e);
    if (rc == SHOAL_ENOTFOUND || (rc == SHOAL_OK && l.n == 0)) {
        free(l.steps);
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        free(l.steps);
        if (err) {
            *err = e;
        }
        return rc;
    }
    char tried[160] = "";
    size_t i = 0;
    for (; i < l.n; i++) {
        char path[FILEIO_PATH_MAX];
        rc = nn_paramfile_checkpoint_path(run_dir, l.steps[i], path, sizeof path, &e);
        if (rc == SHOAL_OK) {
            rc = learner_update_load(u, path, frames, &e);
        }
        if (rc == SHOAL_OK) {
            if (i == 0) {
                log_info("resuming from %s (step %" PRIu64 ")", path, l.steps[i]);
            } else {
                log_warn("resuming from %s (step %" PRIu64 "), the newest valid checkpoint; "
                         "skipped %zu newer one%s (%s), moved aside as <name>.damaged", path,
                         l.steps[i], i, i == 1 ? "" : "s", tried);
            }
            for (size_t k = 0; k < i; k++) {
                move_aside(run_dir, l.steps[k]);
            }
            break;
        }
        note_tried(tried, sizeof tried, l.steps[i]);
        if (!damaged(rc)) {
            break; /* e names the file and says why */
        }
        /* e.msg names the file and what is wrong with it */
        log_warn("resume: skipping checkpoint: %s", e.msg);
    }
    if (rc != SHOAL_OK && damaged(rc)) {
        rc = shoal_err_set(&e, SHOAL_ECORRUPT, "%s/" NN_PARAMFILE_CHECKPOINT_DIR ": no valid "
                           "checkpoint to resume from; tried %s (each reason is logged above); "
                           "move them away to start afresh", run_dir, tried);
    }
    free(l.steps);
    if (rc != SHOAL_OK && err) {
        *err = e;
    }
    return rc;
}
