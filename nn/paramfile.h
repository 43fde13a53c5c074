/* Parameter files: a network's parameters (and optionally its optimizer state) with the step
 * and frame counters, written atomically (common/fileio.h) and checked on load by magic,
 * format version, architecture string, exact size and a CRC32C over everything before it.
 * The byte layout is in docs/formats.md ("Parameter file"). A load either succeeds completely
 * or changes nothing.
 *
 *     nn_paramfile_save("runs/x/checkpoints/step-1000.ckpt", net, opt, 1000, frames, &err);
 *     nn_paramfile_load(path, net, NULL, &step, &frames, &err);   // parameters only
 *     nn_paramfile_read_arch(path, arch, sizeof arch, &err);      // to build a matching net
 */
#ifndef SHOAL_NN_PARAMFILE_H
#define SHOAL_NN_PARAMFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "nn/optim.h"
#include "nn/qnet.h"

#define NN_PARAMFILE_VERSION 1u

/* Writes net's params (all nn_qnet_n_params floats, prior included) and, when opt is not NULL,
 * its kind, step count and state. EIO (the file is untouched on failure). */
int nn_paramfile_save(const char *path, const nn_qnet *net, const nn_optim *opt, uint64_t step,
                      uint64_t frames, shoal_err *err);

/* Reads path into net (and opt when not NULL; step and frames may be NULL). Errors, each naming
 * the file: ENOTFOUND, EIO; ECORRUPT (not a parameter file, truncated, trailing bytes, CRC
 * mismatch); EVERSION; EARCH (another architecture, both strings in the message); ESTATE (opt
 * given but the file holds no or another optimizer's state). On error nothing is changed. */
int nn_paramfile_load(const char *path, nn_qnet *net, nn_optim *opt, uint64_t *step,
                      uint64_t *frames, shoal_err *err);

/* Copies the file's architecture string (NUL-terminated) into arch after checking the whole
 * file as load does. EINVAL when cap is too small. */
int nn_paramfile_read_arch(const char *path, char *arch, size_t cap, shoal_err *err);

#endif
