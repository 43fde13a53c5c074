/* Kernel choice by measurement. Where a layer has several implementations that compute the same
 * thing (nn/layers.h: the small-batch loop or sgemm for a linear layer; the direct kernel or
 * im2col + sgemm for a convolution), which one is fastest depends on the CPU, on the kernels
 * OpenBLAS picked for it (OPENBLAS_CORETYPE) and on the shape: a threshold tuned on one machine
 * is wrong on the next. So the first call of an operation at a given shape (batch included)
 * times every candidate on that call's own arguments and keeps the fastest; later calls of the
 * same shape run it at the cost of a table look-up.
 *
 * Correctness does not depend on the choice: every candidate computes the same function within
 * float32 rounding (tests/test_nn_layers.c checks each against the naive loops), and each
 * candidate writes its outputs without reading them, so the timing runs leave exactly the
 * chosen candidate's result. Rounding may differ between candidates, so two processes can
 * differ in the last bits where their measurements chose differently; within one process a
 * shape always runs the same kernel (the cache is per process and shared by all networks).
 *
 * Cost: one warm-up call of each candidate, then up to MEASURE_ROUNDS alternated rounds of about
 * 50 µs each (fewer when a call is slow): under 1 ms for a MinAtar layer at small batch, about
 * four calls of each candidate for the large ones (batch 512: tens of ms, once per process).
 *
 * Control: SHOAL_NN_KERNELS (read once, at the first choice) or nn_kernels_force() forces
 * candidates by name, "op=name[,op=name...]", e.g. "linear_forward=small,conv_forward=im2col";
 * an op not named is measured, and a candidate that cannot run a shape (the direct
 * convolution needs filters in multiples of 16) falls back to measurement among the others.
 *
 * The cache is process-wide (like OpenBLAS's own kernel choice) and thread-safe. */
#ifndef SHOAL_NN_KERNELS_H
#define SHOAL_NN_KERNELS_H

#include <stddef.h>

#include "common/err.h"

#define NN_KERNEL_DIMS 6
#define NN_KERNEL_MAX_CANDIDATES 4

/* Runs one candidate on the context of the call. */
typedef void (*nn_kernel_fn)(void *ctx);

/* One operation with its candidates; candidates[i] is NULL where it cannot run this shape. */
typedef struct nn_kernel_op {
    const char *name; /* "linear_forward", ... */
    size_t n_candidates;
    const char *candidate_names[NN_KERNEL_MAX_CANDIDATES];
} nn_kernel_op;

/* The operations that have alternatives, with their candidates in order (nn/layers.c). The
 * first candidate is the default: measurement keeps it unless another is more than 10 % faster.
 * A layer timed alone is not quite the layer inside a network (the caches hold other data), and
 * rounds on a loaded machine vary by about that much, so a closer win is as likely wrong as
 * right; the margin also keeps near-ties from flipping between processes. */
extern const nn_kernel_op nn_kernel_linear_forward;     /* sgemm, small */
extern const nn_kernel_op nn_kernel_linear_backward_dw; /* sgemm, small */
extern const nn_kernel_op nn_kernel_conv_forward;       /* direct, im2col */
extern const nn_kernel_op nn_kernel_conv_backward_dw;   /* direct, im2col: dw and db only */

/* Runs the candidate chosen for (op, dims) on ctx, measuring first when the shape is new.
 * fns has op->n_candidates entries; at least one is not NULL. Returns the index it ran. */
size_t nn_kernel_run(const nn_kernel_op *op, const size_t dims[NN_KERNEL_DIMS],
                     const nn_kernel_fn *fns, void *ctx);

/* Forces candidates by name (the SHOAL_NN_KERNELS syntax above; "" forces nothing) and forgets
 * every choice made so far. EINVAL, naming the bad op or candidate, on an unknown name; nothing
 * changes then. */
int nn_kernels_force(const char *spec, shoal_err *err);

/* One remembered choice, for reports (bench_nn --layouts). */
typedef struct nn_kernel_choice {
    const nn_kernel_op *op;
    size_t dims[NN_KERNEL_DIMS];
    size_t chosen;
    int forced;                                /* chosen by SHOAL_NN_KERNELS, not by timing */
    double us[NN_KERNEL_MAX_CANDIDATES];       /* best time per call; < 0 where not run */
    double measure_us;                         /* what the measurement cost, warm-ups included */
} nn_kernel_choice;

/* The number of choices made so far and the i-th of them (in the order they were made). */
size_t nn_kernels_count(void);
int nn_kernels_get(size_t i, nn_kernel_choice *out);

#endif
