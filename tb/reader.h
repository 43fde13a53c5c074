/* Reads TensorBoard event files back: checks the framing of every record (both masked
 * CRC32Cs, tb/record.h), that the first record is the "brain.Event:2" file_version, and hands
 * each summary value over. For tests, and for tools that look into a run's tb/ folder.
 *
 *     size_t n_records;
 *     tb_file_each("runs/x/tb/learner/events.out.tfevents...", on_value, &arg, &n_records, &err);
 *     tb_dir_each("runs/x/tb/learner", on_value, &arg, NULL, &err);   // every file there
 */
#ifndef SHOAL_TB_READER_H
#define SHOAL_TB_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* One value of a summary. */
typedef struct tb_value {
    double wall_time;
    int64_t step;
    const char *tag;  /* valid during the callback only */
    bool histogram;
    double value;     /* the scalar, or for a histogram its count of values */
} tb_value;

/* Called for each value in file order; a nonzero return stops the reading (and is returned). */
typedef int (*tb_value_fn)(const tb_value *v, void *arg);

/* Reads the event file at path (at most 256 MiB) and calls fn for each summary value.
 * *n_records (may be NULL) counts the records, the file_version one included. ECORRUPT naming
 * the file and the record's byte offset (a bad length or CRC, a record cut short, a message
 * that does not decode, a first record that is not a file version), EIO, ENOMEM, or what fn
 * returned. */
int tb_file_each(const char *path, tb_value_fn fn, void *arg, size_t *n_records,
                 shoal_err *err);

/* tb_file_each on every event file (a name holding "tfevents") of the folder dir, in name
 * order, which is TensorBoard's order too. *n_files (may be NULL) counts them. ENOTFOUND when
 * dir cannot be opened or holds no event file; tb_file_each's errors. */
int tb_dir_each(const char *dir, tb_value_fn fn, void *arg, size_t *n_files, shoal_err *err);

#endif
