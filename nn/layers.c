#include "nn/layers.h"

#include <cblas.h>
#include <string.h>

/* Below this many rows a linear product runs in small_forward: sgemm's packing and dispatch
 * cost more than the arithmetic there (bench/nn.c measures both). */
#define SMALL_BATCH 16

/* GCC compiles the hot small loops once per listed target and picks one at load time, so the
 * library runs on any x86-64 yet uses AVX-512 or AVX2 where present. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

nn_linear_shape nn_linear_dense(size_t batch, size_t n_in, size_t n_out)
{
    nn_linear_shape s = {batch, n_in, n_out, n_in, n_out};
    return s;
}

/* x: (B, n_in) ldx; w: (n_in, n_out); y: (B, n_out) ldy. The input index runs outside the batch
 * index so each weight row is loaded once for all rows; zero inputs are skipped. */
MULTIVERSION
static void small_forward(float *restrict y, const float *restrict x, const float *restrict w,
                          const float *restrict b, const nn_linear_shape *s)
{
    size_t n_out = s->n_out;
    for (size_t r = 0; r < s->batch; r++) {
        memcpy(y + r * s->ldy, b, n_out * sizeof *y);
    }
    for (size_t i = 0; i < s->n_in; i++) {
        const float *wrow = w + i * n_out;
        for (size_t r = 0; r < s->batch; r++) {
            float xi = x[r * s->ldx + i];
            if (xi == 0.0f) {
                continue;
            }
            float *yrow = y + r * s->ldy;
            for (size_t o = 0; o < n_out; o++) {
                yrow[o] += xi * wrow[o];
            }
        }
    }
}

void nn_linear_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_linear_shape *s)
{
    if (s->batch <= SMALL_BATCH) {
        small_forward(y, x, w, b, s);
        return;
    }
    for (size_t r = 0; r < s->batch; r++) {
        memcpy(y + r * s->ldy, b, s->n_out * sizeof *y);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->batch, (int)s->n_out,
                (int)s->n_in, 1.0f, x, (int)s->ldx, w, (int)s->n_out, 1.0f, y, (int)s->ldy);
}

void nn_linear_forward_naive(float *y, const float *x, const float *w, const float *b,
                             const nn_linear_shape *s)
{
    for (size_t r = 0; r < s->batch; r++) {
        for (size_t o = 0; o < s->n_out; o++) {
            float acc = b[o];
            for (size_t i = 0; i < s->n_in; i++) {
                acc += x[r * s->ldx + i] * w[i * s->n_out + o];
            }
            y[r * s->ldy + o] = acc;
        }
    }
}

MULTIVERSION
static void column_sums(float *restrict db, const float *restrict dy, size_t rows, size_t cols,
                        size_t ld)
{
    memset(db, 0, cols * sizeof *db);
    for (size_t r = 0; r < rows; r++) {
        const float *row = dy + r * ld;
        for (size_t o = 0; o < cols; o++) {
            db[o] += row[o];
        }
    }
}

void nn_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, float dx_scale, const nn_linear_shape *s)
{
    int B = (int)s->batch, n_in = (int)s->n_in, n_out = (int)s->n_out;
    /* dw (n_in, n_out) = x^T (n_in, B) · dy (B, n_out) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_out, B, 1.0f, x, (int)s->ldx,
                dy, (int)s->ldy, 0.0f, dw, n_out);
    column_sums(db, dy, s->batch, s->n_out, s->ldy);
    if (dx) {
        /* dx (B, n_in) = dy (B, n_out) · w^T (n_out, n_in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_in, n_out, dx_scale, dy,
                    (int)s->ldy, w, n_out, 0.0f, dx, (int)s->ldx);
    }
}

MULTIVERSION
void nn_relu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

MULTIVERSION
void nn_relu_backward(float *dx, const float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

size_t nn_conv_cols_rows(const nn_conv_shape *s)
{
    return s->batch * (s->h - 2) * (s->w - 2);
}

void nn_conv_im2col(float *cols, const float *x, const nn_conv_shape *s)
{
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c;
    /* The three pixels of a kernel row are adjacent in (H, W, C) memory: one copy of 3C floats. */
    for (size_t b = 0; b < s->batch; b++) {
        for (size_t oy = 0; oy < oh; oy++) {
            for (size_t ox = 0; ox < ow; ox++) {
                float *row = cols + ((b * oh + oy) * ow + ox) * 9 * c;
                for (size_t kh = 0; kh < 3; kh++) {
                    const float *src = x + ((b * s->h + oy + kh) * s->w + ox) * c;
                    memcpy(row + kh * 3 * c, src, 3 * c * sizeof *row);
                }
            }
        }
    }
}

void nn_conv_col2im(float *dx, const float *dcols, const nn_conv_shape *s)
{
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c;
    memset(dx, 0, s->batch * s->h * s->w * c * sizeof *dx);
    for (size_t b = 0; b < s->batch; b++) {
        for (size_t oy = 0; oy < oh; oy++) {
            for (size_t ox = 0; ox < ow; ox++) {
                const float *row = dcols + ((b * oh + oy) * ow + ox) * 9 * c;
                for (size_t kh = 0; kh < 3; kh++) {
                    float *dst = dx + ((b * s->h + oy + kh) * s->w + ox) * c;
                    for (size_t j = 0; j < 3 * c; j++) {
                        dst[j] += row[kh * 3 * c + j];
                    }
                }
            }
        }
    }
}

void nn_conv_forward(float *y, float *cols, const float *x, const float *w, const float *b,
                     const nn_conv_shape *s)
{
    nn_conv_im2col(cols, x, s);
    nn_linear_shape ls = nn_linear_dense(nn_conv_cols_rows(s), 9 * s->c, s->f);
    nn_linear_forward(y, cols, w, b, &ls);
}

void nn_conv_forward_naive(float *y, const float *x, const float *w, const float *b,
                           const nn_conv_shape *s)
{
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c, f = s->f;
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < oh; oy++) {
            for (size_t ox = 0; ox < ow; ox++) {
                for (size_t o = 0; o < f; o++) {
                    float acc = b[o];
                    for (size_t kh = 0; kh < 3; kh++) {
                        for (size_t kw = 0; kw < 3; kw++) {
                            for (size_t i = 0; i < c; i++) {
                                float xv = x[((n * s->h + oy + kh) * s->w + ox + kw) * c + i];
                                acc += xv * w[((kh * 3 + kw) * c + i) * f + o];
                            }
                        }
                    }
                    y[((n * oh + oy) * ow + ox) * f + o] = acc;
                }
            }
        }
    }
}

void nn_conv_backward(float *dx, float *dw, float *db, float *dcols, const float *dy,
                      const float *cols, const float *w, const nn_conv_shape *s)
{
    nn_linear_shape ls = nn_linear_dense(nn_conv_cols_rows(s), 9 * s->c, s->f);
    nn_linear_backward(dx ? dcols : NULL, dw, db, dy, cols, w, 1.0f, &ls);
    if (dx) {
        nn_conv_col2im(dx, dcols, s);
    }
}

size_t nn_count_nonzero(const float *x, size_t n)
{
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) {
        nnz += x[i] != 0.0f;
    }
    return nnz;
}

/* Both sparse kernels walk the same scatter: input pixel (yy, xx) channel c touches the outputs
 * (yy - kh, xx - kw) through weight row (kh, kw, c). */
MULTIVERSION
void nn_conv_forward_sparse(float *restrict y, const float *restrict x, const float *restrict w,
                            const float *restrict b, const nn_conv_shape *s)
{
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c, f = s->f;
    for (size_t r = 0; r < s->batch * oh * ow; r++) {
        memcpy(y + r * f, b, f * sizeof *y);
    }
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t yy = 0; yy < s->h; yy++) {
            for (size_t xx = 0; xx < s->w; xx++) {
                const float *px = x + ((n * s->h + yy) * s->w + xx) * c;
                for (size_t ch = 0; ch < c; ch++) {
                    float v = px[ch];
                    if (v == 0.0f) {
                        continue;
                    }
                    for (size_t kh = 0; kh < 3; kh++) {
                        if (yy < kh || yy - kh >= oh) {
                            continue;
                        }
                        for (size_t kw = 0; kw < 3; kw++) {
                            if (xx < kw || xx - kw >= ow) {
                                continue;
                            }
                            const float *wrow = w + ((kh * 3 + kw) * c + ch) * f;
                            float *yrow = y + ((n * oh + yy - kh) * ow + xx - kw) * f;
                            for (size_t o = 0; o < f; o++) {
                                yrow[o] += v * wrow[o];
                            }
                        }
                    }
                }
            }
        }
    }
}

MULTIVERSION
void nn_conv_backward_sparse(float *restrict dw, float *restrict db, const float *restrict dy,
                             const float *restrict x, const nn_conv_shape *s)
{
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c, f = s->f;
    memset(dw, 0, 9 * c * f * sizeof *dw);
    column_sums(db, dy, s->batch * oh * ow, f, f);
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t yy = 0; yy < s->h; yy++) {
            for (size_t xx = 0; xx < s->w; xx++) {
                const float *px = x + ((n * s->h + yy) * s->w + xx) * c;
                for (size_t ch = 0; ch < c; ch++) {
                    float v = px[ch];
                    if (v == 0.0f) {
                        continue;
                    }
                    for (size_t kh = 0; kh < 3; kh++) {
                        if (yy < kh || yy - kh >= oh) {
                            continue;
                        }
                        for (size_t kw = 0; kw < 3; kw++) {
                            if (xx < kw || xx - kw >= ow) {
                                continue;
                            }
                            float *dwrow = dw + ((kh * 3 + kw) * c + ch) * f;
                            const float *dyrow = dy + ((n * oh + yy - kh) * ow + xx - kw) * f;
                            for (size_t o = 0; o < f; o++) {
                                dwrow[o] += v * dyrow[o];
                            }
                        }
                    }
                }
            }
        }
    }
}
