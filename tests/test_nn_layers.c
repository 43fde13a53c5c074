#include <criterion/criterion.h>

#include "nn/kernels.h"
#include "nn/layers.h"
#include "nn_ref.h"

/* Central difference of L = Σ R ⊙ f(v) with respect to v[i], f evaluated in double. */
typedef double (*loss_fn)(const double *v, void *ctx);

static double central_diff(double *v, size_t i, loss_fn f, void *ctx)
{
    const double h = 1e-4;
    double keep = v[i];
    v[i] = keep + h;
    double up = f(v, ctx);
    v[i] = keep - h;
    double down = f(v, ctx);
    v[i] = keep;
    return (up - down) / (2.0 * h);
}

/* Checks analytic against numeric gradients of a loss that is linear in the variable, with
 * the float32 bound of nn_ref.h: g_mag and the loss's magnitude come from the same loss on
 * |v| (mag_v) and the case's magnitudes (mag_ctx). n_terms bounds the products any gradient
 * entry sums. */
static double gradient_check(const float *an, double *v, double *mag_v, size_t n, loss_fn f,
                             void *ctx, void *mag_ctx, size_t n_terms, double scale)
{
    double *num = malloc(n * sizeof *num), *g_mag = malloc(n * sizeof *g_mag);
    for (size_t i = 0; i < n; i++) {
        num[i] = central_diff(v, i, f, ctx) * scale;
        g_mag[i] = central_diff(mag_v, i, f, mag_ctx) * fabs(scale);
    }
    double r = ref_gradient_bound_ratio(an, num, g_mag, n, ref_gamma(n_terms + 2), 2 * n_terms,
                                        f(mag_v, mag_ctx), 1e-4);
    free(num), free(g_mag);
    return r;
}

/* Two float32 computations of one product, y and y0, differ by at most twice the float32
 * bound γ_n·Σ|terms| of each (nn_ref.h); mag is Σ|terms| per output. Returns the largest
 * |y − y0| over that bound. */
static double paths_ratio(const float *y, const float *y0, const double *mag, size_t n,
                          size_t n_terms)
{
    double *want = ref_to_double(y0, n);
    double r = ref_bound_ratio(y, want, mag, n, 2.0 * ref_gamma(n_terms + 2));
    free(want);
    return r;
}

/* Σ|terms| of each output of a convolution: the convolution of the magnitudes. */
static double *conv_magnitude(const float *x, const float *w, const float *b,
                              const nn_conv_shape *s)
{
    size_t nx = s->batch * s->h * s->w * s->c, nw = 9 * s->c * s->f;
    double *xd = ref_to_double(x, nx), *wd = ref_to_double(w, nw), *bd = ref_to_double(b, s->f);
    double *xa = ref_abs(xd, nx), *wa = ref_abs(wd, nw), *ba = ref_abs(bd, s->f);
    double *mag = malloc(nn_conv_cols_rows(s) * s->f * sizeof *mag);
    ref_conv(mag, xa, wa, ba, s->batch, s->h, s->w, s->c, s->f);
    free(xd), free(wd), free(bd), free(xa), free(wa), free(ba);
    return mag;
}

/* Σ|terms| of each output of a linear layer (padding entries of y stay 0). */
static double *linear_magnitude(const float *x, const float *w, const float *b,
                                const nn_linear_shape *s)
{
    size_t nx = s->batch * s->ldx, nw = s->n_in * s->n_out;
    double *xd = ref_to_double(x, nx), *wd = ref_to_double(w, nw), *bd = ref_to_double(b, s->n_out);
    double *xa = ref_abs(xd, nx), *wa = ref_abs(wd, nw), *ba = ref_abs(bd, s->n_out);
    double *mag = calloc(s->batch * s->ldy, sizeof *mag);
    ref_linear(mag, s->ldy, xa, s->ldx, wa, ba, s->batch, s->n_in, s->n_out);
    free(xd), free(wd), free(bd), free(xa), free(wa), free(ba);
    return mag;
}

/* ---- convolution ---- */

typedef struct conv_case {
    nn_conv_shape s;
    double *x, *w, *b, *r; /* r: the fixed weights of the loss */
    int wrt;               /* 0: x, 1: w, 2: b */
} conv_case;

static double conv_loss(const double *v, void *ctx)
{
    conv_case *k = ctx;
    const nn_conv_shape *s = &k->s;
    size_t n = nn_conv_cols_rows(s) * s->f;
    double *y = malloc(n * sizeof *y);
    ref_conv(y, k->wrt == 0 ? v : k->x, k->wrt == 1 ? v : k->w, k->wrt == 2 ? v : k->b, s->batch,
             s->h, s->w, s->c, s->f);
    double L = 0.0;
    for (size_t i = 0; i < n; i++) {
        L += k->r[i] * y[i];
    }
    free(y);
    return L;
}

Test(nn_layers, a_3x3_convolution_of_ones_sums_its_patch_plus_the_bias)
{
    nn_conv_shape s = {1, 3, 3, 2, 1};
    float x[18], w[18], b[1] = {0.5f}, y[1], cols[18];
    for (int i = 0; i < 18; i++) {
        x[i] = 1.0f;
        w[i] = (float)(i + 1);
    }
    nn_conv_forward_im2col(y, cols, x, w, b, &s);
    cr_assert_float_eq(y[0], 171.5f, 1e-4f, "1+2+...+18 + 0.5 = 171.5, got %f", y[0]);
}

/* The candidates of a convolution's forward: im2col, direct (when it can run the shape), and the
 * measured choice, which must also leave im2col(x) in cols when it says so. */
enum { CONV_IM2COL, CONV_DIRECT, CONV_MEASURED, CONV_PATHS };

Test(nn_layers, every_convolution_candidate_and_the_measured_choice_match_the_naive_loops)
{
    nn_conv_shape shapes[] = {{1, 10, 10, 4, 16}, {3, 10, 10, 10, 16}, {2, 5, 7, 3, 5},
                              {40, 6, 6, 2, 3}};
    rng r;
    rng_init(&r, 7, RNG_ROLE_TOOL, 0, 0);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        nn_conv_shape s = shapes[t];
        size_t nx = s.batch * s.h * s.w * s.c, nw = 9 * s.c * s.f, rows = nn_conv_cols_rows(&s);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(s.f * 4);
        float *y = malloc(rows * s.f * 4), *y0 = malloc(rows * s.f * 4);
        float *cols = malloc(rows * 9 * s.c * 4);
        ref_fill(x, nx, &r, -1, 1);
        ref_fill(w, nw, &r, -1, 1);
        ref_fill(b, s.f, &r, -1, 1);
        nn_conv_forward_naive(y0, x, w, b, &s);
        double *mag = conv_magnitude(x, w, b, &s);
        float *want_cols = malloc(rows * 9 * s.c * 4);
        nn_conv_im2col(want_cols, x, &s);
        for (int path = 0; path < CONV_PATHS; path++) {
            if (path == CONV_DIRECT && !nn_conv_direct_ok(&s)) {
                continue;
            }
            memset(cols, 0, rows * 9 * s.c * 4);
            int cols_ok = 1;
            if (path == CONV_IM2COL) {
                nn_conv_forward_im2col(y, cols, x, w, b, &s);
            } else if (path == CONV_DIRECT) {
                nn_conv_forward_direct(y, x, w, b, &s);
            } else {
                cols_ok = nn_conv_forward(y, cols, x, w, b, &s);
            }
            double e = paths_ratio(y, y0, mag, rows * s.f, 9 * s.c);
            cr_assert_leq(e, 1.0, "shape %zu path %d: %g of the float32 bound from the naive "
                          "loops", t, path, e);
            if (path != CONV_DIRECT && cols_ok) {
                cr_assert_eq(memcmp(cols, want_cols, rows * 9 * s.c * 4), 0,
                             "shape %zu path %d says cols hold im2col(x)", t, path);
            }
        }
        free(x), free(w), free(b), free(y), free(y0), free(cols), free(mag), free(want_cols);
    }
}

Test(nn_layers, convolution_gradients_match_finite_differences)
{
    conv_case k = {.s = {2, 5, 6, 3, 4}};
    const nn_conv_shape *s = &k.s;
    size_t nx = s->batch * s->h * s->w * s->c, nw = 9 * s->c * s->f, rows = nn_conv_cols_rows(s);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(s->f * 4), *r = malloc(rows * s->f * 4);
    rng g;
    rng_init(&g, 8, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, nx, &g, -1, 1);
    ref_fill(w, nw, &g, -1, 1);
    ref_fill(b, s->f, &g, -1, 1);
    ref_fill(r, rows * s->f, &g, -1, 1);
    float *y = malloc(rows * s->f * 4), *cols = malloc(rows * 9 * s->c * 4);
    float *dcols = malloc(rows * 9 * s->c * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4);
    float db[4];
    nn_conv_forward_im2col(y, cols, x, w, b, s);
    nn_conv_backward(dx, dw, db, dcols, r, cols, w, s);
    k.x = ref_to_double(x, nx);
    k.w = ref_to_double(w, nw);
    k.b = ref_to_double(b, s->f);
    k.r = ref_to_double(r, rows * s->f);
    conv_case m = k;
    m.x = ref_abs(k.x, nx);
    m.w = ref_abs(k.w, nw);
    m.b = ref_abs(k.b, s->f);
    m.r = ref_abs(k.r, rows * s->f);
    double *vs[3] = {k.x, k.w, k.b}, *ms[3] = {m.x, m.w, m.b};
    float *an[3] = {dx, dw, db};
    size_t ns[3] = {nx, nw, s->f};
    for (int which = 0; which < 3; which++) {
        k.wrt = m.wrt = which;
        double e = gradient_check(an[which], vs[which], ms[which], ns[which], conv_loss, &k, &m,
                                  rows * s->f, 1.0);
        cr_assert_leq(e, 1.0, "gradient %d (0=x, 1=w, 2=b): %g of its float32 bound", which, e);
    }
    free(x), free(w), free(b), free(r), free(y), free(cols), free(dcols), free(dx), free(dw);
    free(k.x), free(k.w), free(k.b), free(k.r), free(m.x), free(m.w), free(m.b), free(m.r);
}

/* ---- linear ---- */

typedef struct linear_case {
    nn_linear_shape s;
    double *x, *w, *b, *r;
    int wrt;
} linear_case;

static double linear_loss(const double *v, void *ctx)
{
    linear_case *k = ctx;
    const nn_linear_shape *s = &k->s;
    double *y = calloc(s->batch * s->ldy, sizeof *y);
    ref_linear(y, s->ldy, k->wrt == 0 ? v : k->x, s->ldx, k->wrt == 1 ? v : k->w,
               k->wrt == 2 ? v : k->b, s->batch, s->n_in, s->n_out);
    double L = 0.0;
    for (size_t i = 0; i < s->batch; i++) {
        for (size_t o = 0; o < s->n_out; o++) {
            L += k->r[i * s->ldy + o] * y[i * s->ldy + o];
        }
    }
    free(y);
    return L;
}

Test(nn_layers, every_linear_candidate_and_the_measured_choice_match_the_naive_loops)
{
    /* sgemm, the small-batch loop and the measured choice on each shape; ld > n exercises
     * slices */
    nn_linear_shape shapes[] = {{1, 1024, 128, 1024, 128}, {16, 1024, 1280, 1024, 1280},
                                {1, 1024, 1280, 1024, 1280}, {3, 40, 70, 45, 75},
                                {64, 300, 7, 300, 7},       {3, 5, 4, 11, 9},
                                {40, 6, 5, 13, 8}};
    rng r;
    rng_init(&r, 9, RNG_ROLE_TOOL, 0, 0);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        nn_linear_shape s = shapes[t];
        float *x = malloc(s.batch * s.ldx * 4), *w = malloc(s.n_in * s.n_out * 4);
        float *b = malloc(s.n_out * 4), *y = calloc(s.batch * s.ldy, 4), *y0 = calloc(s.batch * s.ldy, 4);
        ref_fill(x, s.batch * s.ldx, &r, -1, 1);
        /* a third of the inputs exactly zero, as after a ReLU */
        for (size_t i = 0; i < s.batch * s.ldx; i += 3) {
            x[i] = 0.0f;
        }
        ref_fill(w, s.n_in * s.n_out, &r, -1, 1);
        ref_fill(b, s.n_out, &r, -1, 1);
        nn_linear_forward_naive(y0, x, w, b, &s);
        double *mag = linear_magnitude(x, w, b, &s);
        for (int path = 0; path < 3; path++) {
            memset(y, 0, s.batch * s.ldy * 4); /* padding columns must stay untouched */
            if (path == 0) {
                nn_linear_forward_sgemm(y, x, w, b, &s);
            } else if (path == 1) {
                nn_linear_forward_small(y, x, w, b, &s);
            } else {
                nn_linear_forward(y, x, w, b, &s);
            }
            double e = paths_ratio(y, y0, mag, s.batch * s.ldy, s.n_in);
            cr_assert_leq(e, 1.0, "shape %zu path %d (sgemm, small, measured): %g of the "
                          "float32 bound from the naive loops", t, path, e);
        }
        free(x), free(w), free(b), free(y), free(y0), free(mag);
    }
}

Test(nn_layers, the_small_batch_loop_matches_the_naive_loops_for_any_rows_and_widths)
{
    rng r;
    rng_init(&r, 14, RNG_ROLE_TOOL, 0, 0);
    for (size_t batch = 1; batch <= 9; batch++) {
        /* widths with whole 32-blocks only, a tail only, and both; strided x and y */
        size_t outs[3] = {64, 6, 70};
        for (int t = 0; t < 3; t++) {
            nn_linear_shape s = {batch, 37, outs[t], 41, outs[t] + 3};
            float *x = malloc(batch * s.ldx * 4), *w = malloc(s.n_in * s.n_out * 4);
            float *b = malloc(s.n_out * 4), *y = calloc(batch * s.ldy, 4), *y0 = calloc(batch * s.ldy, 4);
            ref_fill(x, batch * s.ldx, &r, -1, 1);
            ref_fill(w, s.n_in * s.n_out, &r, -1, 1);
            ref_fill(b, s.n_out, &r, -1, 1);
            nn_linear_forward_small(y, x, w, b, &s);
            nn_linear_forward_naive(y0, x, w, b, &s);
            double *mag = linear_magnitude(x, w, b, &s);
            double e = paths_ratio(y, y0, mag, batch * s.ldy, s.n_in);
            cr_assert_leq(e, 1.0, "batch %zu, %zu outputs: %g of the float32 bound", batch,
                          s.n_out, e);
            free(x), free(w), free(b), free(y), free(y0), free(mag);
        }
    }
}

Test(nn_layers, linear_gradients_match_finite_differences_with_strides_and_scale)
{
    /* each weight-gradient candidate forced, and measured; widths past 32 reach the loop's
     * vector blocks */
    nn_linear_shape shapes[] = {{3, 5, 4, 7, 6}, {20, 6, 3, 6, 3}, {5, 6, 37, 9, 40}};
    const char *specs[] = {"linear_backward_dw=sgemm", "linear_backward_dw=small", ""};
    for (size_t t = 0; t < 3 * 3; t++) {
        shoal_err ferr = {0};
        cr_assert_eq(nn_kernels_force(specs[t % 3], &ferr), SHOAL_OK, "%s", ferr.msg);
        linear_case k = {.s = shapes[t / 3]};
        const nn_linear_shape *s = &k.s;
        size_t nx = s->batch * s->ldx, nw = s->n_in * s->n_out, ny = s->batch * s->ldy;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(s->n_out * 4);
        float *r = malloc(ny * 4), *dx = calloc(nx, 4), *dw = malloc(nw * 4), *db = malloc(s->n_out * 4);
        rng g;
        rng_init(&g, 10, RNG_ROLE_TOOL, 0, (uint32_t)t);
        ref_fill(x, nx, &g, -1, 1);
        ref_fill(w, nw, &g, -1, 1);
        ref_fill(b, s->n_out, &g, -1, 1);
        ref_fill(r, ny, &g, -1, 1);
        const float scale = 0.25f;
        nn_linear_backward(dx, dw, db, r, x, w, scale, s);
        k.x = ref_to_double(x, nx);
        k.w = ref_to_double(w, nw);
        k.b = ref_to_double(b, s->n_out);
        k.r = ref_to_double(r, ny);
        linear_case m = k;
        m.x = ref_abs(k.x, nx);
        m.w = ref_abs(k.w, nw);
        m.b = ref_abs(k.b, s->n_out);
        m.r = ref_abs(k.r, ny);
        for (int which = 0; which < 3; which++) {
            k.wrt = m.wrt = which;
            double *v = which == 0 ? k.x : which == 1 ? k.w : k.b;
            double *mv = which == 0 ? m.x : which == 1 ? m.w : m.b;
            size_t n = which == 0 ? nx : which == 1 ? nw : s->n_out;
            const float *an = which == 0 ? dx : which == 1 ? dw : db;
            /* padding columns of x are not inputs: the loss ignores them, so their numeric
             * gradient is 0 and the analytic one must stay untouched (calloc) */
            double e = gradient_check(an, v, mv, n, linear_loss, &k, &m, s->batch * s->n_out,
                                      which == 0 ? scale : 1.0);
            cr_assert_leq(e, 1.0, "shape %zu, \"%s\", gradient %d: %g of its float32 bound",
                          t / 3, specs[t % 3], which, e);
        }
        free(x), free(w), free(b), free(r), free(dx), free(dw), free(db);
        free(k.x), free(k.w), free(k.b), free(k.r), free(m.x), free(m.w), free(m.b), free(m.r);
    }
}

/* ---- ReLU ---- */

Test(nn_layers, relu_passes_positive_values_and_their_gradients_only)
{
    float x[6] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.0f, -1e-30f}, y[6], dx[6];
    float dy[6] = {1, 2, 3, 4, 5, 6};
    nn_relu_forward(y, x, 6);
    float want[6] = {0, 0, 0, 1e-30f, 3.0f, 0};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(y[i], want[i], "relu(x[%d])", i);
    }
    nn_relu_backward(dx, dy, y, 6);
    float want_dx[6] = {0, 0, 0, 4, 5, 0};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(dx[i], want_dx[i], "relu'(x[%d])", i);
    }
}

typedef struct relu_case {
    double *r;
    size_t n;
} relu_case;

static double relu_loss(const double *v, void *ctx)
{
    relu_case *k = ctx;
    double L = 0.0;
    for (size_t i = 0; i < k->n; i++) {
        L += k->r[i] * (v[i] > 0.0 ? v[i] : 0.0);
    }
    return L;
}

Test(nn_layers, relu_gradient_matches_finite_differences_away_from_the_kink)
{
    enum { N = 64 };
    float x[N], y[N], r[N], dx[N];
    rng g;
    rng_init(&g, 11, RNG_ROLE_TOOL, 0, 0);
    ref_fill(r, N, &g, -1, 1);
    for (int i = 0; i < N; i++) {
        /* |x| >= 0.1: the difference step never crosses 0 */
        float u = rng_uniform_f(&g);
        x[i] = (i % 2 ? 1.0f : -1.0f) * (0.1f + u);
    }
    nn_relu_forward(y, x, N);
    nn_relu_backward(dx, r, y, N);
    relu_case k = {ref_to_double(r, N), N};
    double *xd = ref_to_double(x, N), num[N];
    for (int i = 0; i < N; i++) {
        num[i] = central_diff(xd, (size_t)i, relu_loss, &k);
    }
    double e = ref_max_rel_err(dx, num, N, 1e-2);
    cr_assert_lt(e, 1e-6, "relative error %g", e);
    free(k.r), free(xd);
}

Test(nn_layers, col2im_is_the_adjoint_of_im2col)
{
    /* <im2col(x), c> == <x, col2im(c)> for any x, c: the backward of the patch gather. */
    nn_conv_shape s = {2, 5, 4, 3, 1};
    size_t nx = 2 * 5 * 4 * 3, nc = nn_conv_cols_rows(&s) * 27;
    float *x = malloc(nx * 4), *c = malloc(nc * 4), *cols = malloc(nc * 4), *dx = malloc(nx * 4);
    rng g;
    rng_init(&g, 12, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, nx, &g, -1, 1);
    ref_fill(c, nc, &g, -1, 1);
    nn_conv_im2col(cols, x, &s);
    nn_conv_col2im(dx, c, &s);
    double lhs = 0.0, rhs = 0.0;
    for (size_t i = 0; i < nc; i++) {
        lhs += (double)cols[i] * c[i];
    }
    for (size_t i = 0; i < nx; i++) {
        rhs += (double)x[i] * dx[i];
    }
    cr_assert_float_eq(lhs, rhs, 1e-4 * fabs(lhs) + 1e-6, "%g vs %g", lhs, rhs);
    free(x), free(c), free(cols), free(dx);
}

Test(nn_layers, the_direct_convolution_matches_im2col_forward_and_backward)
{
    /* MinAtar's shape, and one with a row narrower than a block and two filter groups */
    nn_conv_shape shapes[] = {{3, 10, 10, 10, 16}, {2, 5, 13, 3, 32}};
    rng g;
    rng_init(&g, 13, RNG_ROLE_TOOL, 0, 0);
    for (size_t t = 0; t < 2; t++) {
        nn_conv_shape s = shapes[t];
        size_t nx = s.batch * s.h * s.w * s.c, nw = 9 * s.c * s.f, rows = nn_conv_cols_rows(&s);
        float *x = calloc(nx, 4), *w = malloc(nw * 4), *b = malloc(s.f * 4), *dy = malloc(rows * s.f * 4);
        float *y = malloc(rows * s.f * 4), *y0 = malloc(rows * s.f * 4), *cols = malloc(rows * 9 * s.c * 4);
        float *dw = malloc(nw * 4), *dw0 = malloc(nw * 4), *db = malloc(s.f * 4), *db0 = malloc(s.f * 4);
        for (size_t i = 0; i < nx; i++) {
            /* binary with a few other values, including corners and edges */
            x[i] = rng_bernoulli(&g, 0.1) ? (i % 5 ? 1.0f : -0.5f) : 0.0f;
        }
        x[0] = 1.0f;
        x[nx - 1] = 2.0f;
        ref_fill(w, nw, &g, -1, 1);
        ref_fill(b, s.f, &g, -1, 1);
        ref_fill(dy, rows * s.f, &g, -1, 1);
        nn_conv_forward_direct(y, x, w, b, &s);
        nn_conv_forward_im2col(y0, cols, x, w, b, &s);
        double *mag = conv_magnitude(x, w, b, &s);
        cr_assert_leq(paths_ratio(y, y0, mag, rows * s.f, 9 * s.c), 1.0, "forward, shape %zu", t);
        nn_conv_backward_direct(dw, db, dy, x, &s);
        nn_conv_backward(NULL, dw0, db0, NULL, dy, cols, w, &s);
        /* dw sums x·dy and db sums dy over the rows: their magnitudes are the same sums of
         * |x|·|dy| and |dy|. */
        double *dw_mag = calloc(nw, sizeof *dw_mag), *db_mag = calloc(s.f, sizeof *db_mag);
        float *xa = malloc(nx * 4), *dya = malloc(rows * s.f * 4);
        for (size_t i = 0; i < nx; i++) {
            xa[i] = fabsf(x[i]);
        }
        for (size_t i = 0; i < rows * s.f; i++) {
            dya[i] = fabsf(dy[i]);
        }
        float *dwa = malloc(nw * 4), *dba = malloc(s.f * 4);
        nn_conv_backward_direct(dwa, dba, dya, xa, &s);
        for (size_t i = 0; i < nw; i++) {
            dw_mag[i] = 1.01 * dwa[i]; /* the 1% covers the float32 rounding of this sum itself */
        }
        for (size_t i = 0; i < s.f; i++) {
            db_mag[i] = 1.01 * dba[i];
        }
        cr_assert_leq(paths_ratio(dw, dw0, dw_mag, nw, rows), 1.0, "dw, shape %zu", t);
        cr_assert_leq(paths_ratio(db, db0, db_mag, s.f, rows), 1.0, "db, shape %zu", t);
        free(x), free(w), free(b), free(dy), free(y), free(y0), free(cols), free(dw), free(dw0);
        free(db), free(db0), free(mag), free(dw_mag), free(db_mag), free(xa), free(dya), free(dwa);
        free(dba);
    }
}

Test(nn_layers, the_first_layer_weight_gradient_matches_im2col_by_either_candidate_with_or_without_cols)
{
    /* direct possible (F = 16) and not (F = 5); each candidate forced, then measured */
    nn_conv_shape shapes[] = {{3, 10, 10, 10, 16}, {2, 5, 7, 3, 5}};
    const char *specs[] = {"conv_backward_dw=direct", "conv_backward_dw=im2col", ""};
    rng g;
    rng_init(&g, 15, RNG_ROLE_TOOL, 0, 0);
    for (size_t t = 0; t < 2; t++) {
        nn_conv_shape s = shapes[t];
        size_t nx = s.batch * s.h * s.w * s.c, nw = 9 * s.c * s.f, rows = nn_conv_cols_rows(&s);
        size_t ncols = rows * 9 * s.c;
        float *x = malloc(nx * 4), *dy = malloc(rows * s.f * 4), *cols = malloc(ncols * 4);
        float *want_cols = malloc(ncols * 4), *dw = malloc(nw * 4), *dw0 = malloc(nw * 4);
        float *db = malloc(s.f * 4), *db0 = malloc(s.f * 4), *dwa = malloc(nw * 4);
        float *dba = malloc(s.f * 4), *xa = malloc(nx * 4), *dya = malloc(rows * s.f * 4);
        ref_fill(x, nx, &g, -1, 1);
        ref_fill(dy, rows * s.f, &g, -1, 1);
        nn_conv_im2col(want_cols, x, &s);
        nn_conv_backward(NULL, dw0, db0, NULL, dy, want_cols, NULL, &s);
        /* magnitudes: the same sums over |x| and |dy| (1% for their own rounding) */
        for (size_t i = 0; i < nx; i++) {
            xa[i] = fabsf(x[i]);
        }
        for (size_t i = 0; i < rows * s.f; i++) {
            dya[i] = fabsf(dy[i]);
        }
        nn_conv_im2col(cols, xa, &s);
        nn_conv_backward(NULL, dwa, dba, NULL, dya, cols, NULL, &s);
        double *dw_mag = malloc(nw * sizeof *dw_mag), *db_mag = malloc(s.f * sizeof *db_mag);
        for (size_t i = 0; i < nw; i++) {
            dw_mag[i] = 1.01 * dwa[i];
        }
        for (size_t i = 0; i < s.f; i++) {
            db_mag[i] = 1.01 * dba[i];
        }
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
            shoal_err err = {0};
            cr_assert_eq(nn_kernels_force(specs[k], &err), SHOAL_OK, "%s", err.msg);
            for (int cols_ok = 0; cols_ok < 2; cols_ok++) {
                if (cols_ok) {
                    memcpy(cols, want_cols, ncols * 4);
                } else {
                    memset(cols, 0, ncols * 4);
                }
                nn_conv_backward_dw(dw, db, cols, cols_ok, dy, x, &s);
                cr_assert_leq(paths_ratio(dw, dw0, dw_mag, nw, rows), 1.0,
                              "dw, shape %zu, \"%s\", cols_ok %d", t, specs[k], cols_ok);
                cr_assert_leq(paths_ratio(db, db0, db_mag, s.f, rows), 1.0,
                              "db, shape %zu, \"%s\", cols_ok %d", t, specs[k], cols_ok);
            }
        }
        free(x), free(dy), free(cols), free(want_cols), free(dw), free(dw0), free(db), free(db0);
        free(dwa), free(dba), free(xa), free(dya), free(dw_mag), free(db_mag);
    }
}

Test(nn_layers, both_weight_gradient_candidates_match_a_double_reference)
{
    /* the MinAtar dense layer at the learner's batch, a strided Q head, and odd sizes */
    nn_linear_shape shapes[] = {{32, 1024, 128, 1024, 128}, {7, 128, 6, 1280, 60},
                                {5, 9, 70, 11, 75}};
    rng g;
    rng_init(&g, 16, RNG_ROLE_TOOL, 0, 0);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        nn_linear_shape s = shapes[t];
        size_t nw = s.n_in * s.n_out;
        float *x = malloc(s.batch * s.ldx * 4), *dy = malloc(s.batch * s.ldy * 4);
        float *dw = malloc(nw * 4);
        double *want = calloc(nw, sizeof *want), *mag = calloc(nw, sizeof *mag);
        ref_fill(x, s.batch * s.ldx, &g, -1, 1);
        ref_fill(dy, s.batch * s.ldy, &g, -1, 1);
        for (size_t r = 0; r < s.batch; r++) {
            for (size_t i = 0; i < s.n_in; i++) {
                for (size_t o = 0; o < s.n_out; o++) {
                    double xv = x[r * s.ldx + i], gv = dy[r * s.ldy + o];
                    want[i * s.n_out + o] += xv * gv;
                    mag[i * s.n_out + o] += fabs(xv * gv);
                }
            }
        }
        for (int path = 0; path < 2; path++) {
            if (path == 0) {
                nn_linear_backward_dw_sgemm(dw, dy, x, &s);
            } else {
                nn_linear_backward_dw_small(dw, dy, x, &s);
            }
            double e = ref_bound_ratio(dw, want, mag, nw, ref_gamma(s.batch + 2));
            cr_assert_leq(e, 1.0, "shape %zu path %d (sgemm, small): %g of the float32 bound", t,
                          path, e);
        }
        free(x), free(dy), free(dw), free(want), free(mag);
    }
}
