/* NumPy .npz archives: a zip file (stored entries, no compression, no zip64) whose entries are
 * arrays in NumPy's .npy format version 1.0 (little-endian float32, C order) or raw files such
 * as a JSON document. np.load(path) reads them: arrays under their name without ".npy", other
 * entries as bytes. The archive is written atomically (common/fileio.h): a reader sees the old
 * file or the finished new one. Layouts: docs/formats.md ("NumPy archives").
 *
 *     npz_writer *w = npz_writer_open("net.npz", &err);
 *     size_t shape[2] = {128, 400};
 *     npz_writer_add_f32(w, "head.weight", shape, 2, data, &err);   // entry head.weight.npy
 *     npz_writer_add_file(w, "meta.json", json, strlen(json), &err);
 *     npz_writer_commit(&w, &err);                                   // or npz_writer_abort(&w)
 */
#ifndef SHOAL_COMMON_NPZ_H
#define SHOAL_COMMON_NPZ_H

#include <stddef.h>

#include "common/err.h"

#define NPZ_MAX_DIMS 8
#define NPZ_NAME_MAX 200

typedef struct npz_writer npz_writer;

/* Starts an archive that will replace path on commit. NULL with EIO (the folder is missing or
 * not writable) or ENOMEM. */
npz_writer *npz_writer_open(const char *path, shoal_err *err);

/* Adds the float32 array data of the given shape (n_dims <= NPZ_MAX_DIMS; 0 for a scalar) as
 * entry "<name>.npy". The data is written now; the writer keeps only the name, CRC and sizes.
 * EINVAL for an empty, too long or repeated name, too many dimensions, or an entry or archive
 * past 4 GiB (no zip64); EIO on a write error. After an error, only abort is valid. */
int npz_writer_add_f32(npz_writer *w, const char *name, const size_t *shape, size_t n_dims,
                       const float *data, shoal_err *err);

/* Adds n bytes as entry name, unchanged (np.load gives them back as bytes). Errors as above. */
int npz_writer_add_file(npz_writer *w, const char *name, const void *data, size_t n,
                        shoal_err *err);

/* Writes the central directory and replaces the target; frees *w and sets it to NULL either
 * way. EIO naming the file on failure (the target is then untouched). */
int npz_writer_commit(npz_writer **w, shoal_err *err);

/* Drops the archive (the target is untouched); frees *w and sets it to NULL. NULL is fine. */
void npz_writer_abort(npz_writer **w);

#endif
