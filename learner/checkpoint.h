/* The learner's checkpoints in a run folder: RUN_DIR/checkpoints/step-<N>.ckpt, N the update
 * count (names from nn/paramfile.h, so the evaluator finds the same files), each with its
 * target network beside it (learner_update_target_path). Rank 0 writes one every
 * learner.checkpoint_period updates and on the way out, keeping the newest
 * learner.keep_checkpoints, and resumes from the newest valid one at start
 * (learner/learner.h).
 *
 *     learner_checkpoint_resume("runs/x", u, &frames, &err);       // no checkpoint: nothing
 *     learner_checkpoint_write("runs/x", u, frames, 5, &err);      // step-<N>.ckpt, keep 5
 *     learner_checkpoint_latest("runs/x", &step, &err);
 */
#ifndef SHOAL_LEARNER_CHECKPOINT_H
#define SHOAL_LEARNER_CHECKPOINT_H

#include <stdint.h>

#include "common/err.h"
#include "learner/update.h"

/* The newest step with a checkpoint in run_dir/checkpoints (SHOAL_OK), or ENOTFOUND (also when
 * the folder does not exist); EIO when the folder cannot be read. */
int learner_checkpoint_latest(const char *run_dir, uint64_t *step, shoal_err *err);

/* Writes u's state as the checkpoint of its current step (learner_update_save), then deletes
 * every checkpoint but the newest keep (keep >= 1), each with its target file; a file that
 * cannot be deleted is a warning in the log, not an error. EINVAL (path too long), EIO. */
int learner_checkpoint_write(const char *run_dir, const learner_update *u, uint64_t frames,
                             uint64_t keep, shoal_err *err);

/* Loads the newest valid checkpoint of run_dir into u (*frames from it, may be NULL); SHOAL_OK
 * and u unchanged when there is none. Checkpoints are tried newest first: one that is damaged
 * or incomplete (ECORRUPT: truncated, CRC mismatch, target missing or of another step; EIO;
 * vanished) is skipped with a warning in the log naming the file and what is wrong, and once an
 * older one loads, each skipped one is renamed to "<name>.damaged" (with its target) so that
 * neither pruning nor the evaluator nor a later resume takes it for a checkpoint again. ECORRUPT
 * listing the files tried when none loads (nothing is renamed then); the first other error of
 * learner_update_load (EARCH, ESTATE, EVERSION, ENOMEM: the run's configuration does not fit
 * its checkpoints, so older ones are not tried) as it is; EIO when the folder cannot be read.
 * Not collective: rank 0 calls it, then learner_update_sync. */
int learner_checkpoint_resume(const char *run_dir, learner_update *u, uint64_t *frames,
                              shoal_err *err);

#endif
