/* Layer kernels: 3x3 stride-1 unpadded convolution (im2col + sgemm), linear, ReLU; each with a
 * forward and a backward pass. Tensors are float32, row-major, batch first; images are
 * (B, H, W, C) (channels last), so a convolution's output (B, OH, OW, F) is already its
 * flattened form (B, OH*OW*F): flatten is a reinterpretation, not a copy.
 *
 * Where a layer has several implementations (the small-batch loop or sgemm; the direct
 * convolution or im2col + sgemm), the entry point without a suffix runs the one measured
 * fastest for the call's shape on this machine (nn/kernels.h); the suffixed ones are each
 * candidate alone, for tests and benchmarks.
 *
 * Weight layouts were chosen by measuring OpenBLAS sgemm on the MinAtar shapes (bench/nn.c):
 * a linear layer's weight is (n_in, n_out) so the forward product is x·W with no transpose,
 * and a convolution's weight is (3, 3, C, F) = (9C, F), which makes it the linear layer
 * applied to the im2col matrix. Kernels take outputs first, then inputs, then shapes (llm.c),
 * never allocate, and write (not accumulate into) their outputs.
 *
 *     nn_linear_shape s = nn_linear_dense(batch, 1024, 128);
 *     nn_linear_forward(h, x, w, b, &s);
 *     nn_relu_forward(h, h, batch * 128);
 */
#ifndef SHOAL_NN_LAYERS_H
#define SHOAL_NN_LAYERS_H

#include <stddef.h>

/* Shape of one linear product over a batch. x rows are ldx floats apart, y rows ldy floats
 * apart (ldx >= n_in, ldy >= n_out), so a layer can read and write column slices of wider
 * matrices: the K heads of a Q-network live side by side in one (B, K*n) activation. */
typedef struct nn_linear_shape {
    size_t batch;
    size_t n_in;
    size_t n_out;
    size_t ldx;
    size_t ldy;
} nn_linear_shape;

/* The dense case: ldx = n_in, ldy = n_out. */
nn_linear_shape nn_linear_dense(size_t batch, size_t n_in, size_t n_out);

/* y (B, n_out) = x (B, n_in) · w (n_in, n_out) + b (n_out), by whichever of the two candidates
 * below is faster at this shape here (measured on first use, nn/kernels.h). */
void nn_linear_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_linear_shape *s);

/* Candidate "sgemm": cblas_sgemm onto rows of b. Fast from a few rows up, but at one row some
 * OpenBLAS kernels (Haswell/Zen in 0.3.21) take 7x longer than the loop below on 1024 -> 128,
 * and it packs the whole weight matrix per call. */
void nn_linear_forward_sgemm(float *y, const float *x, const float *w, const float *b,
                             const nn_linear_shape *s);

/* Candidate "small": a register-blocked loop, four rows sharing each weight load, with no
 * packing or call overhead; any batch, meant for a few rows. */
void nn_linear_forward_small(float *y, const float *x, const float *w, const float *b,
                             const nn_linear_shape *s);

/* The plain triple loop, kept as the reference for tests. */
void nn_linear_forward_naive(float *y, const float *x, const float *w, const float *b,
                             const nn_linear_shape *s);

/* Given dy (B, n_out): dw (n_in, n_out) = x^T·dy, db (n_out) = column sums of dy, and, when dx is
 * not NULL, dx (B, n_in) = dx_scale · dy·w^T (dx uses ldx). dw and db are overwritten. dw by
 * whichever candidate below is faster at this shape (nn/kernels.h), dx by sgemm. */
void nn_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, float dx_scale, const nn_linear_shape *s);

/* The candidates for dw alone: "sgemm", and "small", the small-batch loop over x^T (four
 * weight rows at a time, reading x down its columns). */
void nn_linear_backward_dw_sgemm(float *dw, const float *dy, const float *x,
                                 const nn_linear_shape *s);
void nn_linear_backward_dw_small(float *dw, const float *dy, const float *x,
                                 const nn_linear_shape *s);

/* y = max(x, 0) over n floats; y may equal x. */
void nn_relu_forward(float *y, const float *x, size_t n);

/* dx = dy where y > 0, else 0 (y is the forward output); dx may equal dy. */
void nn_relu_backward(float *dx, const float *dy, const float *y, size_t n);

/* Shape of a 3x3, stride 1, unpadded convolution: (B, H, W, C) -> (B, H-2, W-2, F). */
typedef struct nn_conv_shape {
    size_t batch;
    size_t h;
    size_t w;
    size_t c;
    size_t f;
} nn_conv_shape;

/* Rows of the im2col matrix: B*(H-2)*(W-2); columns: 9*C. */
size_t nn_conv_cols_rows(const nn_conv_shape *s);

/* cols (B*OH*OW, 9C): row p holds the 3x3xC patch under output position p, in (kh, kw, c)
 * order, matching the weight layout. */
void nn_conv_im2col(float *cols, const float *x, const nn_conv_shape *s);

/* Adds each row of dcols back onto the patch it came from: dx (B, H, W, C) is overwritten. */
void nn_conv_col2im(float *dx, const float *dcols, const nn_conv_shape *s);

/* y (B, OH, OW, F) = conv(x, w (9C, F)) + b (F), by the faster of the direct kernel (when
 * nn_conv_direct_ok) and im2col + sgemm at this shape (nn/kernels.h). cols is workspace of
 * nn_conv_cols_rows(s) * 9C floats. Returns 1 when it ran im2col and left im2col(x) in cols
 * (for nn_conv_backward), 0 when cols do not hold it. */
int nn_conv_forward(float *y, float *cols, const float *x, const float *w, const float *b,
                    const nn_conv_shape *s);

/* Candidate "im2col": im2col into cols (left there for the backward pass), then sgemm. */
void nn_conv_forward_im2col(float *y, float *cols, const float *x, const float *w, const float *b,
                            const nn_conv_shape *s);

/* Direct loops over the same definition, kept as the reference for tests. */
void nn_conv_forward_naive(float *y, const float *x, const float *w, const float *b,
                           const nn_conv_shape *s);

/* Given dy (B, OH, OW, F) and cols = im2col(x) (left by nn_conv_forward_im2col): dw (9C, F),
 * db (F), and, when dx is not NULL, dx (B, H, W, C) through dcols (workspace, same size as
 * cols; w and dcols may be NULL when dx is). */
void nn_conv_backward(float *dx, float *dw, float *db, float *dcols, const float *dy,
                      const float *cols, const float *w, const nn_conv_shape *s);

/* Candidate "direct": the convolution without im2col for F a multiple of 16
 * (nn_conv_direct_ok): each output row is computed in blocks of 8 positions x 16 filters held
 * in vector registers, so the input is read in place and no cols workspace is needed. */
int nn_conv_direct_ok(const nn_conv_shape *s);
void nn_conv_forward_direct(float *y, const float *x, const float *w, const float *b,
                            const nn_conv_shape *s);

/* Candidate "direct" of nn_conv_backward_dw: dw (9C, F) and db (F) from dy and x, again
 * without im2col. */
void nn_conv_backward_direct(float *dw, float *db, const float *dy, const float *x,
                             const nn_conv_shape *s);

/* dw and db only (no input gradient: a first layer, fed by observations), by the faster of
 * the direct kernel and im2col + sgemm at this shape (nn/kernels.h). cols_ok says whether cols
 * already hold im2col(x) (nn_conv_forward returned 1); if not, the im2col candidate fills them. */
void nn_conv_backward_dw(float *dw, float *db, float *cols, int cols_ok, const float *dy,
                         const float *x, const nn_conv_shape *s);

#endif
