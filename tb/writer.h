/* TensorBoard event files, written by shoal itself. A writer owns one file,
 * DIR/events.out.tfevents.<unix seconds>.<host>.<pid>.<name>, in the TFRecord framing
 * TensorBoard reads (tb/record.h): its first record says "brain.Event:2", every later one
 * holds one Event with a Summary of scalars or a histogram (proto/tensorboard.proto). Each
 * folder under a `tensorboard --logdir` is one run in TensorBoard's list; shoal gives each
 * role its own (RUN_DIR/tb/learner, tb/evaluator, tb/actor-<i>: tb_role_dir).
 *
 * Records are packed into one buffer the writer reuses (it grows only for a larger record
 * than any before), so writing a scalar does not allocate. Records reach the file through
 * stdio; tb_writer_flush hands them to the kernel, so that a TensorBoard watching the folder
 * sees them. TensorBoard drops the data of a tag at and after a step when a later record of
 * that tag has a smaller step (it takes that for a restart), so callers write each tag with
 * steps that never go back.
 *
 *     tb_writer *w = tb_writer_new("runs/x/tb/learner", "learner", &err);
 *     tb_writer_scalar(w, "learner/loss_td", step, 0.25, &err);
 *     tb_writer_flush(w, &err);
 *     tb_writer_free(w);
 */
#ifndef SHOAL_TB_WRITER_H
#define SHOAL_TB_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The run folder's subfolder of TensorBoard runs: tensorboard --logdir RUN_DIR/tb */
#define TB_RUN_FOLDER "tb"
/* Longest tag written (longer ones are an EINVAL). */
#define TB_TAG_MAX 128
/* Buckets of tb_writer_histogram. */
#define TB_HISTOGRAM_BUCKETS 30

typedef struct tb_writer tb_writer;

/* One scalar of tb_writer_scalars: tag and value. */
typedef struct tb_scalar {
    const char *tag;
    double value;
} tb_scalar;

/* Writes RUN_DIR/tb/<role> (index < 0) or RUN_DIR/tb/<role>-<index> into out. EINVAL when it
 * does not fit in cap. */
int tb_role_dir(char *out, size_t cap, const char *run_dir, const char *role, int index,
                shoal_err *err);

/* Creates dir (and its parents) and a new event file in it whose name ends in ".<name>", and
 * writes the file_version record. NULL with err: EINVAL (a name with '/' or too long a path),
 * EIO naming the path (cannot create the folder or the file; an existing file of the same
 * name is not overwritten), ENOMEM. */
tb_writer *tb_writer_new(const char *dir, const char *name, shoal_err *err);

/* Flushes and closes the file and frees w. NULL is fine. */
void tb_writer_free(tb_writer *w);

/* The event file's path (owned by w). */
const char *tb_writer_path(const tb_writer *w);

/* One record at step holding the n scalars (stored as float, as TensorBoard's scalars are).
 * EINVAL (n of 0, a tag empty or longer than TB_TAG_MAX), EIO, ENOMEM. */
int tb_writer_scalars(tb_writer *w, int64_t step, const tb_scalar *s, size_t n,
                      shoal_err *err);

/* One scalar at step; as tb_writer_scalars. */
int tb_writer_scalar(tb_writer *w, const char *tag, int64_t step, double value,
                     shoal_err *err);

/* A histogram of n values (non-finite ones are left out) at step, in TB_HISTOGRAM_BUCKETS
 * buckets of equal width from the smallest to the largest value. n of 0 (or no finite value)
 * writes nothing. EINVAL (tag), EIO, ENOMEM. */
int tb_writer_histogram(tb_writer *w, const char *tag, int64_t step, const float *values,
                        size_t n, shoal_err *err);

/* One record from a CSV header and one of its rows: every column whose field is a number
 * becomes the scalar "<prefix><column>", except step_column, whose value is the record's step
 * (a row without it is an EINVAL). So columns added to a CSV file later appear in TensorBoard
 * without a change here. A trailing newline in either line is ignored. EINVAL (a header and
 * row of different column counts, too many columns), EIO, ENOMEM. */
int tb_writer_csv_row(tb_writer *w, const char *prefix, const char *header, const char *row,
                      const char *step_column, shoal_err *err);

/* Hands the records written so far to the kernel. EIO. */
int tb_writer_flush(tb_writer *w, shoal_err *err);

#endif
