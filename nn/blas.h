/* OpenBLAS set-up for shoal processes. OpenBLAS chooses its kernels once, when the library
 * loads, from the CPU it recognises; a CPU newer than the library (0.3.21 on Debian 12) falls
 * back to the generic "Prescott" kernels, about 6x slower for sgemm on the MinAtar network.
 * OPENBLAS_CORETYPE picks better kernels, but only in a fresh process, so programs call
 * nn_blas_setup first thing in main() and re-execute themselves when it asks them to.
 *
 *     if (nn_blas_setup()) { execv("/proc/self/exe", argv); }   // then carry on if exec failed
 */
#ifndef SHOAL_NN_BLAS_H
#define SHOAL_NN_BLAS_H

#include <stdbool.h>

/* Sets OpenBLAS to one thread (every shoal process is single-threaded in BLAS; the user's
 * OPENBLAS_NUM_THREADS wins when set). Returns true when OpenBLAS fell back to generic kernels,
 * OPENBLAS_CORETYPE is unset and the CPU has AVX-512 or AVX2: it has then set
 * OPENBLAS_CORETYPE (SkylakeX or Haswell) in the environment, and the caller should re-execute
 * the program so OpenBLAS loads with it. */
bool nn_blas_setup(void);

/* The kernel family OpenBLAS is using (e.g. "SkylakeX", "Prescott"). */
const char *nn_blas_core(void);

#endif
