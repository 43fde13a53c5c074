/* The evaluator role: watches RUN_DIR/checkpoints/ for parameter files named step-<N>.ckpt and
 * evaluates each one once (evaluator/evaluate.h), appending to RUN_DIR/eval.csv and
 * RUN_DIR/eval.jsonl and redrawing RUN_DIR/eval.svg after every evaluation
 * (evaluator/results.h, evaluator/svg.h).
 *
 * Order: the newest checkpoint (largest N) first. After each evaluation the folder is scanned
 * again, so a checkpoint that appeared meanwhile goes next. With catch_up = all (the default)
 * every older checkpoint is still evaluated, newest first, whenever nothing newer is waiting,
 * so the curve fills in backwards when the evaluator falls behind; with catch_up = newest
 * only checkpoints newer than every one evaluated so far are taken, and older ones are
 * skipped for good.
 *
 * With cfg.tb_dir set, each result is also a TensorBoard record at the checkpoint's step
 * (eval/mean, eval/std, eval/min, eval/max, eval/frames, and eval/head_<k>_mean per head when
 * the heads played alone). TensorBoard takes a step that goes back for a restart and drops
 * what came after it, so only results newer than every one written before go there: the
 * older checkpoints that catch_up = all fills in backwards are in eval.csv only.
 *
 * What was evaluated is what eval.jsonl records: the history is loaded from it at start, so a
 * restarted evaluator continues where it stopped. A file that cannot be evaluated (truncated,
 * corrupt, another format version or architecture, still being written by a learner that does
 * not rename atomically) is skipped with one warning and tried again only when its size or
 * modification time changes; a file that vanished before it was read is skipped silently. The
 * loop sleeps poll_secs between scans (no spinning) and returns soon after *stop is set, also
 * in the middle of an evaluation (whose result is then dropped). No ZeroMQ, no MPI: the role
 * talks to the learner only through checkpoint files.
 *
 * The learner writes its last checkpoint when the run stops, after the evaluator was told to
 * stop too; evaluator_finish is the final pass that evaluates it: it waits (bounded) until the
 * caller says the last checkpoint is written, then evaluates every pending checkpoint, newest
 * first, until none is left or its time bound has passed, and logs what it had to leave.
 *
 *     evaluator_config ec;
 *     evaluator_config_from(cfg, "runs/x", &ec, &err);
 *     evaluator *e = evaluator_new(&ec, &err);     // loads runs/x/eval.jsonl
 *     evaluator_run(e, &stop_flag, &err);          // until *stop_flag
 *     evaluator_final f = {.secs = EVALUATOR_FINAL_SECS};
 *     evaluator_finish(e, &f, NULL, &err);         // what the stop left pending
 *     evaluator_free(e);
 */
#ifndef SHOAL_EVALUATOR_WATCH_H
#define SHOAL_EVALUATOR_WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/fileio.h"
#include "evaluator/evaluate.h"
#include "evaluator/results.h"

typedef enum evaluator_catch_up {
    EVALUATOR_CATCH_UP_ALL = 0,    /* every checkpoint, newest first */
    EVALUATOR_CATCH_UP_NEWEST = 1, /* only checkpoints newer than all evaluated ones */
} evaluator_catch_up;

/* Room for the run folder's longest child path: "/checkpoints/step-<20 digits>.ckpt". */
#define EVALUATOR_RUN_DIR_MAX (FILEIO_PATH_MAX - 64)

typedef struct evaluator_config {
    evaluator_player_config player;
    char run_dir[EVALUATOR_RUN_DIR_MAX];
    double poll_secs;
    evaluator_catch_up catch_up;
    char tb_dir[FILEIO_PATH_MAX]; /* TensorBoard folder; "": none (the launcher sets it:
                                   * RUN_DIR/tb/evaluator unless run.tensorboard = false) */
} evaluator_config;

/* Fills out from [env], [evaluator] and run.seed for the run folder run_dir. EINVAL. */
int evaluator_config_from(const config *cfg, const char *run_dir, evaluator_config *out,
                          shoal_err *err);

typedef struct evaluator evaluator;

/* Makes the player (see evaluator_player_new) and loads RUN_DIR/eval.jsonl; lines that do not
 * parse are skipped with a warning. The run folder must exist; checkpoints/ need not yet.
 * NULL with err: ENOTFOUND (no run folder), EIO, ENOMEM, the player's errors. */
evaluator *evaluator_new(const evaluator_config *cfg, shoal_err *err);

/* Frees e. NULL is fine. */
void evaluator_free(evaluator *e);

/* Scans checkpoints/ and evaluates every pending checkpoint, newest first, scanning again
 * after each one. *n_evaluated (may be NULL) counts the evaluations. Files that fail are
 * skipped with a warning (not an error). EINTERRUPTED when *stop became nonzero; EIO when the
 * results could not be written (the checkpoint counts as evaluated for this process, so a
 * full disk does not make it evaluate the same file forever); ENOMEM. */
int evaluator_poll(evaluator *e, volatile sig_atomic_t *stop, size_t *n_evaluated,
                   shoal_err *err);

/* Polls every poll_secs until *stop is nonzero, logging each evaluation; returns SHOAL_OK
 * after a stop. Failures to write results are logged and retried with the next checkpoint;
 * only ENOMEM ends the loop early. */
int evaluator_run(evaluator *e, volatile sig_atomic_t *stop, shoal_err *err);

/* The bound of the final pass in `shoal train` and `shoal evaluate`, in seconds from the stop:
 * it fits in the 10 s a stop of `shoal train` may take (docs/cluster.md), with the shards'
 * checkpoints and MPI's end after it. */
#define EVALUATOR_FINAL_SECS 5.0

/* How the final pass after a stop is bounded, and what it waits for. */
typedef struct evaluator_final {
    double secs;           /* the whole pass, waiting included, from the call */
    double wait_secs;      /* at most this long (within secs) for ready */
    bool (*ready)(void *); /* NULL (do not wait), or whether the run's last checkpoint is
                            * written (in `shoal train`: the learner that writes them is done) */
    void *arg;             /* for ready */
} evaluator_final;

/* The final pass after evaluator_run returned on a stop: polls ready every 50 ms until it is
 * true or wait_secs have passed (a warning then: the last checkpoint may be missing), then
 * evaluates every pending checkpoint, newest first, scanning again after each one, until none
 * is left or secs have passed since the call. An evaluation still running at the bound is
 * dropped. Every checkpoint left unevaluated is counted in one warning that names the newest
 * and says how to evaluate them later; *n_evaluated (may be NULL) counts the evaluations.
 * Files that fail are skipped with a warning and results that cannot be written are logged
 * (as in evaluator_run); only ENOMEM is returned. */
int evaluator_finish(evaluator *e, const evaluator_final *f, size_t *n_evaluated,
                     shoal_err *err);

/* Every evaluation recorded, in evaluation order (eval.jsonl's, then this process's); valid
 * until the next poll. */
const evaluator_history *evaluator_history_of(const evaluator *e);

/* Checkpoints skipped because they could not be evaluated (each counted once per version of
 * the file). */
size_t evaluator_n_skipped(const evaluator *e);

#endif
