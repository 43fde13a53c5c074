#include "nn/layers.h"
#include "nn/kernels.h"
#include "nn/simd.h"

#include <assert.h>
#include <cblas.h>
#include <stdint.h>
#include <string.h>

nn_linear_shape nn_linear_dense(size_t batch, size_t n_in, size_t n_out)
{
    nn_linear_shape s = {batch, n_in, n_out, n_in, n_out};
    return s;
}

/* Sixteen floats as one value: a single AVX-512 register in the avx512f clone, two or four
 * registers elsewhere. Locals of this type stay in registers, which plain float[16] arrays
 * updated in a loop did not (each update then waited on a store). Memory is reached through
 * memcpy, which compiles to unaligned vector moves and keeps strict aliasing intact. */
typedef float v16 __attribute__((vector_size(64)));

/* Macros rather than functions: a v16 passed or returned by value would change the calling
 * convention between the clones (GCC's -Wpsabi). */
#define LOAD16(v, p) memcpy(&(v), (p), sizeof(v16))
#define STORE16(p, v) memcpy((p), &(v), sizeof(v16))

/* Helpers must be inlined into each clone; called, they would run the default build. */
#define INLINE __attribute__((always_inline)) static inline

#define SMALL_ROWS 4 /* rows of x sharing each load of a weight row */

/* The product the small loop computes, y (rows, n_out) = x (rows, K) · w (K, n_out) + b, with
 * x's element (r, k) at x[r * x_row + k * x_col]: x_col = 1 is a linear layer's forward pass,
 * x_row = 1 its weight gradient x^T · dy. b may be NULL (zeros). */
typedef struct small_product {
    size_t rows, K, n_out, x_row, x_col, ld_w, ld_y;
} small_product;

/* Rows r0 .. r0+nr-1 (nr <= SMALL_ROWS, a constant once inlined), outputs o0 .. o0+31:
 * 2·nr accumulators in registers, each weight vector loaded once for all rows. */
INLINE void small_block(float *y, const float *x, const float *w, const float *b,
                        const small_product *p, size_t r0, size_t nr, size_t o0)
{
    v16 acc[SMALL_ROWS][2], w0, w1;
    for (size_t r = 0; r < nr; r++) {
        if (b) {
            LOAD16(acc[r][0], b + o0);
            LOAD16(acc[r][1], b + o0 + 16);
        } else {
            acc[r][0] = acc[r][1] = (v16){0};
        }
    }
    for (size_t k = 0; k < p->K; k++) {
        LOAD16(w0, w + k * p->ld_w + o0);
        LOAD16(w1, w + k * p->ld_w + o0 + 16);
        for (size_t r = 0; r < nr; r++) {
            float xk = x[(r0 + r) * p->x_row + k * p->x_col];
            acc[r][0] += xk * w0;
            acc[r][1] += xk * w1;
        }
    }
    for (size_t r = 0; r < nr; r++) {
        STORE16(y + (r0 + r) * p->ld_y + o0, acc[r][0]);
        STORE16(y + (r0 + r) * p->ld_y + o0 + 16, acc[r][1]);
    }
}

/* Blocks of 32 outputs go through small_block; the remaining columns (a Q head's few actions)
 * through a plain loop. Inlined into each caller, so x_col = 1 is a constant there. */
INLINE void small_loop(float *restrict y, const float *restrict x, const float *restrict w,
                       const float *restrict b, const small_product *p)
{
    size_t n_vec = p->n_out / 32 * 32;
    for (size_t r0 = 0; r0 < p->rows; r0 += SMALL_ROWS) {
        size_t nr = p->rows - r0 < SMALL_ROWS ? p->rows - r0 : SMALL_ROWS;
        for (size_t o0 = 0; o0 < n_vec; o0 += 32) {
            /* one call per row count, so each inlined copy has fixed-size loops */
            switch (nr) {
            case 1:
                small_block(y, x, w, b, p, r0, 1, o0);
                break;
            case 2:
                small_block(y, x, w, b, p, r0, 2, o0);
                break;
            case 3:
                small_block(y, x, w, b, p, r0, 3, o0);
                break;
            default:
                small_block(y, x, w, b, p, r0, SMALL_ROWS, o0);
                break;
            }
        }
    }
    if (n_vec == p->n_out) {
        return;
    }
    for (size_t r = 0; r < p->rows; r++) {
        float *yrow = y + r * p->ld_y;
        for (size_t o = n_vec; o < p->n_out; o++) {
            yrow[o] = b ? b[o] : 0.0f;
        }
        for (size_t k = 0; k < p->K; k++) {
            float xk = x[r * p->x_row + k * p->x_col];
            const float *wrow = w + k * p->ld_w;
            for (size_t o = n_vec; o < p->n_out; o++) {
                yrow[o] += xk * wrow[o];
            }
        }
    }
}

MULTIVERSION
void nn_linear_forward_small(float *restrict y, const float *restrict x, const float *restrict w,
                             const float *restrict b, const nn_linear_shape *s)
{
    small_product p = {s->batch, s->n_in, s->n_out, s->ldx, 1, s->n_out, s->ldy};
    small_loop(y, x, w, b, &p);
}

MULTIVERSION
void nn_linear_backward_dw_small(float *restrict dw, const float *restrict dy,
                                 const float *restrict x, const nn_linear_shape *s)
{
    small_product p = {s->n_in, s->batch, s->n_out, 1, s->ldx, s->ldy, s->n_out};
    small_loop(dw, x, dy, NULL, &p);
}

void nn_linear_forward_sgemm(float *y, const float *x, const float *w, const float *b,
                             const nn_linear_shape *s)
{
    for (size_t r = 0; r < s->batch; r++) {
        memcpy(y + r * s->ldy, b, s->n_out * sizeof *y);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->batch, (int)s->n_out,
                (int)s->n_in, 1.0f, x, (int)s->ldx, w, (int)s->n_out, 1.0f, y, (int)s->ldy);
}

/* The arguments of one call, for the candidates run by nn_kernel_run. */
typedef struct linear_args {
    float *y;
    const float *x, *w, *b;
    const nn_linear_shape *s;
} linear_args;

static void linear_sgemm(void *p)
{
    linear_args *a = p;
    nn_linear_forward_sgemm(a->y, a->x, a->w, a->b, a->s);
}

static void linear_small(void *p)
{
    linear_args *a = p;
    nn_linear_forward_small(a->y, a->x, a->w, a->b, a->s);
}

void nn_linear_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_linear_shape *s)
{
    /* order of nn_kernel_linear_forward's candidates */
    static const nn_kernel_fn fns[2] = {linear_sgemm, linear_small};
    linear_args a = {y, x, w, b, s};
    size_t dims[NN_KERNEL_DIMS] = {s->batch, s->n_in, s->n_out, s->ldx, s->ldy, 0};
    nn_kernel_run(&nn_kernel_linear_forward, dims, fns, &a);
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

void nn_linear_backward_dw_sgemm(float *dw, const float *dy, const float *x,
                                 const nn_linear_shape *s)
{
    /* dw (n_in, n_out) = x^T (n_in, B) · dy (B, n_out) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)s->n_in, (int)s->n_out,
                (int)s->batch, 1.0f, x, (int)s->ldx, dy, (int)s->ldy, 0.0f, dw, (int)s->n_out);
}

typedef struct dw_args {
    float *dw;
    const float *dy, *x;
    const nn_linear_shape *s;
} dw_args;

static void dw_sgemm(void *p)
{
    dw_args *a = p;
    nn_linear_backward_dw_sgemm(a->dw, a->dy, a->x, a->s);
}

static void dw_small(void *p)
{
    dw_args *a = p;
    nn_linear_backward_dw_small(a->dw, a->dy, a->x, a->s);
}

/* The rest of a linear backward pass once dw is done: db, and dx when not NULL. */
static void backward_db_dx(float *dx, float *db, const float *dy, const float *w, float dx_scale,
                           const nn_linear_shape *s)
{
    int B = (int)s->batch, n_in = (int)s->n_in, n_out = (int)s->n_out;
    column_sums(db, dy, s->batch, s->n_out, s->ldy);
    if (dx) {
        /* dx (B, n_in) = dy (B, n_out) · w^T (n_out, n_in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_in, n_out, dx_scale, dy,
                    (int)s->ldy, w, n_out, 0.0f, dx, (int)s->ldx);
    }
}

void nn_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, float dx_scale, const nn_linear_shape *s)
{
    static const nn_kernel_fn fns[2] = {dw_sgemm, dw_small}; /* nn_kernel_linear_backward_dw */
    dw_args a = {dw, dy, x, s};
    size_t dims[NN_KERNEL_DIMS] = {s->batch, s->n_in, s->n_out, s->ldx, s->ldy, 0};
    nn_kernel_run(&nn_kernel_linear_backward_dw, dims, fns, &a);
    backward_db_dx(dx, db, dy, w, dx_scale, s);
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

void nn_conv_forward_im2col(float *y, float *cols, const float *x, const float *w, const float *b,
                            const nn_conv_shape *s)
{
    nn_conv_im2col(cols, x, s);
    /* sgemm directly: a candidate must not itself go through nn_kernel_run, and the im2col
     * product has at least 64 rows per observation on MinAtar */
    nn_linear_shape ls = nn_linear_dense(nn_conv_cols_rows(s), 9 * s->c, s->f);
    nn_linear_forward_sgemm(y, cols, w, b, &ls);
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
    /* sgemm directly, as in the forward pass: this runs inside a candidate of
     * nn_conv_backward_dw, and the im2col product is sgemm's shape */
    nn_linear_shape ls = nn_linear_dense(nn_conv_cols_rows(s), 9 * s->c, s->f);
    nn_linear_backward_dw_sgemm(dw, dy, cols, &ls);
    backward_db_dx(dx ? dcols : NULL, db, dy, w, 1.0f, &ls);
    if (dx) {
        nn_conv_col2im(dx, dcols, s);
    }
}

#define DIRECT_BLOCK 8 /* output positions computed together: independent FMA chains */

int nn_conv_direct_ok(const nn_conv_shape *s)
{
    return s->f % 16 == 0;
}

/* Outputs ox0 .. ox0+DIRECT_BLOCK-1 of one output row, filters f0 .. f0+15. xr: the input at
 * (oy, ox0); each output's patch row starts c floats after the previous one's. */
INLINE void direct_block(float *y, const float *xr, const float *w, const float *b,
                                const nn_conv_shape *s, size_t f0)
{
    size_t c = s->c, f = s->f, row = s->w * c;
    v16 acc[DIRECT_BLOCK];
    for (size_t i = 0; i < DIRECT_BLOCK; i++) {
        LOAD16(acc[i], b + f0);
    }
    for (size_t kh = 0; kh < 3; kh++) {
        const float *xk = xr + kh * row;
        for (size_t j = 0; j < 3 * c; j++) {
            v16 wj;
            LOAD16(wj, w + (kh * 3 * c + j) * f + f0);
            for (size_t i = 0; i < DIRECT_BLOCK; i++) {
                acc[i] += xk[i * c + j] * wj;
            }
        }
    }
    for (size_t i = 0; i < DIRECT_BLOCK; i++) {
        STORE16(y + i * f + f0, acc[i]);
    }
}

/* A single output position (the tail of a row narrower than a block). */
INLINE void direct_one(float *y, const float *xr, const float *w, const float *b,
                              const nn_conv_shape *s, size_t f0)
{
    size_t c = s->c, f = s->f, row = s->w * c;
    v16 acc, wj;
    LOAD16(acc, b + f0);
    for (size_t kh = 0; kh < 3; kh++) {
        for (size_t j = 0; j < 3 * c; j++) {
            LOAD16(wj, w + (kh * 3 * c + j) * f + f0);
            acc += xr[kh * row + j] * wj;
        }
    }
    STORE16(y + f0, acc);
}

MULTIVERSION
void nn_conv_forward_direct(float *restrict y, const float *restrict x, const float *restrict w,
                            const float *restrict b, const nn_conv_shape *s)
{
    assert(nn_conv_direct_ok(s));
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c, f = s->f;
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < oh; oy++) {
            const float *xrow = x + (n * s->h + oy) * s->w * c;
            float *yrow = y + (n * oh + oy) * ow * f;
            for (size_t f0 = 0; f0 < f; f0 += 16) {
                size_t ox = 0;
                for (; ox + DIRECT_BLOCK <= ow; ox += DIRECT_BLOCK) {
                    direct_block(yrow + ox * f, xrow + ox * c, w, b, s, f0);
                }
                for (; ox < ow; ox++) {
                    direct_one(yrow + ox * f, xrow + ox * c, w, b, s, f0);
                }
            }
        }
    }
}

/* dw row (kh, kw, ch) = Σ over outputs of x(patch input) · dy(output): for each output row
 * block, every weight row takes one multiply-add per output, read once and written once. */
MULTIVERSION
void nn_conv_backward_direct(float *restrict dw, float *restrict db, const float *restrict dy,
                             const float *restrict x, const nn_conv_shape *s)
{
    assert(nn_conv_direct_ok(s));
    size_t oh = s->h - 2, ow = s->w - 2, c = s->c, f = s->f, row = s->w * c;
    memset(dw, 0, 9 * c * f * sizeof *dw);
    column_sums(db, dy, s->batch * oh * ow, f, f);
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < oh; oy++) {
            const float *xrow = x + (n * s->h + oy) * row;
            const float *grow = dy + (n * oh + oy) * ow * f;
            for (size_t f0 = 0; f0 < f; f0 += 16) {
                for (size_t ox0 = 0; ox0 < ow; ox0 += DIRECT_BLOCK) {
                    size_t nb = ow - ox0 < DIRECT_BLOCK ? ow - ox0 : DIRECT_BLOCK;
                    v16 g[DIRECT_BLOCK];
                    for (size_t i = 0; i < nb; i++) {
                        LOAD16(g[i], grow + (ox0 + i) * f + f0);
                    }
                    for (size_t kh = 0; kh < 3; kh++) {
                        const float *xk = xrow + kh * row + ox0 * c;
                        for (size_t j = 0; j < 3 * c; j++) {
                            /* two partial sums halve the dependent chain */
                            v16 a0 = {0}, a1 = {0};
                            size_t i = 0;
                            for (; i + 1 < nb; i += 2) {
                                a0 += xk[i * c + j] * g[i];
                                a1 += xk[(i + 1) * c + j] * g[i + 1];
                            }
                            if (i < nb) {
                                a0 += xk[i * c + j] * g[i];
                            }
                            float *dwj = dw + (kh * 3 * c + j) * f + f0;
                            v16 sum;
                            LOAD16(sum, dwj);
                            sum += a0 + a1;
                            STORE16(dwj, sum);
                        }
                    }
                }
            }
        }
    }
}

/* ---- the convolution by measurement (nn/kernels.h) ---- */

typedef struct conv_args {
    float *y, *cols, *dw, *db;
    const float *x, *w, *b, *dy;
    int cols_ok; /* cols already hold im2col(x) */
    const nn_conv_shape *s;
} conv_args;

static void conv_fwd_direct(void *p)
{
    conv_args *a = p;
    nn_conv_forward_direct(a->y, a->x, a->w, a->b, a->s);
}

static void conv_fwd_im2col(void *p)
{
    conv_args *a = p;
    nn_conv_forward_im2col(a->y, a->cols, a->x, a->w, a->b, a->s);
}

int nn_conv_forward(float *y, float *cols, const float *x, const float *w, const float *b,
                    const nn_conv_shape *s)
{
    nn_kernel_fn fns[2] = {nn_conv_direct_ok(s) ? conv_fwd_direct : NULL, conv_fwd_im2col};
    conv_args a = {.y = y, .cols = cols, .x = x, .w = w, .b = b, .s = s};
    size_t dims[NN_KERNEL_DIMS] = {s->batch, s->h, s->w, s->c, s->f, 0};
    return nn_kernel_run(&nn_kernel_conv_forward, dims, fns, &a) == 1;
}

static void conv_dw_direct(void *p)
{
    conv_args *a = p;
    nn_conv_backward_direct(a->dw, a->db, a->dy, a->x, a->s);
}

static void conv_dw_im2col(void *p)
{
    conv_args *a = p;
    if (!a->cols_ok) {
        nn_conv_im2col(a->cols, a->x, a->s);
    }
    nn_conv_backward(NULL, a->dw, a->db, NULL, a->dy, a->cols, NULL, a->s);
}

void nn_conv_backward_dw(float *dw, float *db, float *cols, int cols_ok, const float *dy,
                         const float *x, const nn_conv_shape *s)
{
    nn_kernel_fn fns[2] = {nn_conv_direct_ok(s) ? conv_dw_direct : NULL, conv_dw_im2col};
    conv_args a = {.dw = dw, .db = db, .cols = cols, .x = x, .dy = dy, .cols_ok = cols_ok,
                   .s = s};
    /* with cols at hand the im2col candidate skips a pass: another shape to measure */
    size_t dims[NN_KERNEL_DIMS] = {s->batch, s->h, s->w, s->c, s->f, cols_ok ? 1 : 0};
    nn_kernel_run(&nn_kernel_conv_backward_dw, dims, fns, &a);
}
