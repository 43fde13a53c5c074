/* Files: atomic replacement (write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the folder), so a reader sees the old file or the new one, never a part;
 * and bounded whole-file reads.
 *
 *     atomic_file af;
 *     if (atomic_file_open(&af, "run/replay-0.ckpt", &err)) return err.code;
 *     fwrite(buf, 1, n, af.f);               // any stdio writes to af.f
 *     return atomic_file_commit(&af, &err);  // or atomic_file_abort(&af) to drop it
 */
#ifndef SHOAL_COMMON_FILEIO_H
#define SHOAL_COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define FILEIO_PATH_MAX 4096

typedef struct atomic_file {
    FILE *f;                          /* write here between open and commit/abort */
    char path[FILEIO_PATH_MAX];       /* the target */
    char tmp_path[FILEIO_PATH_MAX];   /* the temporary file beside it */
} atomic_file;

/* Creates a temporary file in the target's folder. EIO when it cannot be created. */
int atomic_file_open(atomic_file *af, const char *path, shoal_err *err);

/* Flushes, fsyncs and closes the temporary file, renames it over the target and fsyncs the
 * folder. On any failure the temporary file is removed, the target is untouched, and EIO is
 * returned. af is closed either way. */
int atomic_file_commit(atomic_file *af, shoal_err *err);

/* Closes and removes the temporary file; the target is untouched. Safe after a failed open. */
void atomic_file_abort(atomic_file *af);

/* Atomically replaces path with n bytes of data. */
int atomic_write_file(const char *path, const void *data, size_t n, shoal_err *err);

/* Reads the whole file at path into a new buffer (caller frees *data). ENOTFOUND when it does
 * not exist, EINVAL when larger than max_bytes, EIO on read errors. */
int file_read_all(const char *path, size_t max_bytes, uint8_t **data, size_t *n, shoal_err *err);

/* Copies pattern into out with its first "%d" replaced by index, so one config line names a
 * file per shard or per actor ("replay-%d.ckpt" -> "replay-3.ckpt"). EINVAL naming `what` when
 * the result does not fit in cap. */
int file_path_with_index(char *out, size_t cap, const char *pattern, unsigned index,
                         const char *what, shoal_err *err);

/* Creates folder path and its missing parents (mode 0755). EIO with the failing part. */
int file_mkdirs(const char *path, shoal_err *err);

#endif
