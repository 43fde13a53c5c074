/* Parameter files: a network's parameters (and optionally its optimizer state) with the step
 * and frame counters, written atomically (common/fileio.h) and checked on load by magic,
 * format version, architecture string, exact size and a CRC32C over everything before it.
 * The byte layout is in docs/formats.md ("Parameter file"). A load either succeeds completely
 * or changes nothing.
 *
 *     nn_paramfile_save("runs/x/checkpoints/step-1000.ckpt", net, opt, 1000, frames, &err);
 *     nn_paramfile_load(path, net, NULL, &step, &frames, &err);   // parameters only
 *     nn_paramfile_read_arch(path, arch, sizeof arch, &err);      // to build a matching net
 *
 * It also owns the names of a run's checkpoints, RUN_DIR/checkpoints/step-<N>.ckpt with N the
 * learner's update count: the learner writes them and the evaluator watches for them, so both
 * build and read the names here.
 */
#ifndef SHOAL_NN_PARAMFILE_H
#define SHOAL_NN_PARAMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "nn/optim.h"
#include "nn/qnet.h"

#define NN_PARAMFILE_VERSION 1u

/* The folder of a run that holds its checkpoints, and room for any checkpoint name in it:
 * "step-" + 20 digits + ".ckpt" + NUL. */
#define NN_PARAMFILE_CHECKPOINT_DIR "checkpoints"
#define NN_PARAMFILE_NAME_MAX 32

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

/* Writes the checkpoint name "step-<step>.ckpt" into name; NN_PARAMFILE_NAME_MAX bytes always
 * suffice. EINVAL when cap is too small. */
int nn_paramfile_checkpoint_name(uint64_t step, char *name, size_t cap, shoal_err *err);

/* Writes the path "<run_dir>/checkpoints/step-<step>.ckpt" into out. EINVAL naming run_dir when
 * it does not fit in cap. */
int nn_paramfile_checkpoint_path(const char *run_dir, uint64_t step, char *out, size_t cap,
                                 shoal_err *err);

/* A file that belongs to checkpoint path, "<path without .ckpt><ext>": the learner's target
 * network (".target") and discrete BCQ's behaviour model (NN_PARAMFILE_BEHAVIOUR_EXT), which
 * the evaluator looks for beside a checkpoint. EINVAL when it does not fit in cap. */
#define NN_PARAMFILE_BEHAVIOUR_EXT ".behaviour"
int nn_paramfile_sibling_path(const char *path, const char *ext, char *out, size_t cap,
                              shoal_err *err);

/* The N of a checkpoint name, which must be exactly what nn_paramfile_checkpoint_name writes
 * ("step-" and N in decimal without sign, spaces or leading zeros, then ".ckpt"). false for
 * any other name, such as the temporary files of an atomic write ("step-5.ckpt.tmp.Ab12Cd"). */
bool nn_paramfile_checkpoint_step(const char *name, uint64_t *step);

/* Calls fn(step, arg, err) for every checkpoint name in run_dir/checkpoints, in directory
 * order, and stops at the first call that does not return SHOAL_OK, returning its code.
 * ENOTFOUND when the folder does not exist, EIO when it cannot be read, EINVAL when its path
 * is too long. */
int nn_paramfile_checkpoint_each(const char *run_dir,
                                 int (*fn)(uint64_t step, void *arg, shoal_err *err), void *arg,
                                 shoal_err *err);

#endif
