/* Double-precision references for the nn tests: naive layers, a whole Q-network written from
 * the layout documented in nn/qnet.h (not from qnet.c), random fills and error measures.
 * Header-only (static inline) so each test program takes what it uses. */
#ifndef SHOAL_TESTS_NN_REF_H
#define SHOAL_TESTS_NN_REF_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "nn/qnet.h"

/* Two convolutions, a shared layer, two hidden layers per head, 3 heads, dueling and a prior:
 * every code path. */
static inline nn_qnet_config ref_full_config(void)
{
    nn_qnet_config c = {0};
    c.in_h = 6;
    c.in_w = 5;
    c.in_c = 2;
    c.n_conv = 2;
    c.conv_filters[0] = 3;
    c.conv_filters[1] = 2;
    c.n_shared = 1;
    c.shared[0] = 7;
    c.n_dense = 2;
    c.dense[0] = 5;
    c.dense[1] = 4;
    c.n_actions = 3;
    c.n_heads = 3;
    c.dueling = 1;
    c.prior_scale = 0.7f;
    c.max_batch = 4;
    c.seed = 3;
    return c;
}

static inline void ref_fill(float *v, size_t n, rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = lo + (hi - lo) * rng_uniform_f(r);
    }
}

/* Inputs uniform in [-1, 1), or binary with 10% ones as MinAtar observations. */
static inline void ref_fill_input(float *x, size_t n, rng *r, int binary)
{
    ref_fill(x, n, r, -1, 1);
    for (size_t i = 0; binary && i < n; i++) {
        x[i] = x[i] > 0.8f ? 1.0f : 0.0f;
    }
}

static inline double *ref_to_double(const float *v, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) {
        d[i] = v[i];
    }
    return d;
}

/* Largest |a - b| / max(|a|, |b|, floor) over n values: a relative error that does not blow
 * up on entries that are zero in both. */
static inline double ref_max_rel_err(const float *a, const double *b, size_t n, double floor)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = fmax(fmax(fabs((double)a[i]), fabs(b[i])), floor);
        double e = fabs((double)a[i] - b[i]) / scale;
        worst = e > worst ? e : worst;
    }
    return worst;
}

/* Float32 error bounds, the tolerance of every comparison between a float32 result and its
 * double reference (or between two float32 paths) whose summation order is not fixed by
 * construction: OpenBLAS picks kernels and blocking per CPU, OPENBLAS_CORETYPE and matrix
 * shape, and each orders its sums differently. Higham, "Accuracy and Stability of Numerical
 * Algorithms" (2nd ed.), §3.1 and Lemma 3.3: a sum of n products computed in float32 in any
 * order, with or without FMA, is within γ_n·Σ|x_i·y_i| of the exact sum, γ_n = n·u/(1 − n·u),
 * u = 2^-24; chained operations compose as γ_j + γ_k + γ_j·γ_k <= γ_(j+k). A bound scaled by
 * the sum of magnitudes holds whatever the cancellation, so it fails only on a real error. */
#define REF_UNIT_ROUNDOFF (1.0 / 16777216.0)

static inline double ref_gamma(size_t n)
{
    double nu = (double)n * REF_UNIT_ROUNDOFF;
    return nu / (1.0 - nu);
}

/* |v|, as a new array: the input of a reference run that yields the magnitudes Σ|x_i·y_i|. */
static inline double *ref_abs(const double *v, size_t n)
{
    double *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        a[i] = fabs(v[i]);
    }
    return a;
}

/* Largest |got − want| / (γ·mag) over n values: at most 1 when every value is within its
 * float32 error bound. want is the exact (double) value, mag the magnitude it is a sum of. */
static inline double ref_bound_ratio(const float *got, const double *want, const double *mag,
                                     size_t n, double gamma)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        double r = e == 0.0 ? 0.0 : e / (gamma * mag[i]);
        worst = r > worst ? r : worst;
    }
    return worst;
}

/* Analytic float32 gradients against central differences of a double loss L(v) that is
 * linear in each variable (or piecewise linear with no kink within h). The differences are
 * then exact but for double rounding: at most n_ops·2^-53·L_mag per loss, over 2h. The float32
 * gradient is within γ_n·g_mag of the exact one, g_mag the same derivative of the loss on
 * magnitudes (|v|, |weights|). Returns the largest |an − num| over that sum: at most 1 when
 * every gradient is within its bound. */
static inline double ref_gradient_bound_ratio(const float *an, const double *num,
                                              const double *g_mag, size_t n, double gamma,
                                              size_t n_ops, double loss_mag, double h)
{
    double fd = 4.0 * (double)n_ops * ldexp(loss_mag, -53) / h, worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)an[i] - num[i]);
        double r = e == 0.0 ? 0.0 : e / (gamma * g_mag[i] + fd);
        worst = r > worst ? r : worst;
    }
    return worst;
}

/* y (B, n_out) = x (B, n_in) · w (n_in, n_out) + b, with row strides. */
static inline void ref_linear(double *y, size_t ldy, const double *x, size_t ldx, const double *w,
                              const double *b, size_t B, size_t n_in, size_t n_out)
{
    for (size_t r = 0; r < B; r++) {
        for (size_t o = 0; o < n_out; o++) {
            double acc = b[o];
            for (size_t i = 0; i < n_in; i++) {
                acc += x[r * ldx + i] * w[i * n_out + o];
            }
            y[r * ldy + o] = acc;
        }
    }
}

/* y (B, H-2, W-2, F) = conv3x3(x (B, H, W, C), w (3, 3, C, F)) + b. */
static inline void ref_conv(double *y, const double *x, const double *w, const double *b,
                            size_t B, size_t H, size_t W, size_t C, size_t F)
{
    for (size_t n = 0; n < B; n++) {
        for (size_t oy = 0; oy + 2 < H; oy++) {
            for (size_t ox = 0; ox + 2 < W; ox++) {
                for (size_t o = 0; o < F; o++) {
                    double acc = b[o];
                    for (size_t kh = 0; kh < 3; kh++) {
                        for (size_t kw = 0; kw < 3; kw++) {
                            for (size_t i = 0; i < C; i++) {
                                acc += x[((n * H + oy + kh) * W + ox + kw) * C + i] *
                                       w[((kh * 3 + kw) * C + i) * F + o];
                            }
                        }
                    }
                    y[((n * (H - 2) + oy) * (W - 2) + ox) * F + o] = acc;
                }
            }
        }
    }
}

static inline void ref_relu(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = v[i] > 0.0 ? v[i] : 0.0;
    }
}

/* One network (trainable or prior) with parameters p, in the documented layout; q (B, K, A).
 * With magnitude set (p and x then hold |params| and |x|), q is the sum of magnitudes that
 * each Q-value's float32 error is proportional to: the dueling aggregate adds |mean| instead
 * of subtracting it (ReLU is 1-Lipschitz, so it passes errors through unchanged). */
static inline void ref_net_mode(const nn_qnet_config *c, const double *p, const double *x, size_t B,
                                double *q, int magnitude)
{
    size_t H = c->in_h, W = c->in_w, C = c->in_c, K = c->n_heads, A = c->n_actions, off = 0;
    size_t n = B * H * W * C;
    double *h = malloc(n * sizeof *h);
    memcpy(h, x, n * sizeof *h);
    for (size_t l = 0; l < c->n_conv; l++) {
        size_t F = c->conv_filters[l];
        double *y = malloc(B * (H - 2) * (W - 2) * F * sizeof *y);
        ref_conv(y, h, p + off, p + off + 9 * C * F, B, H, W, C, F);
        off += 9 * C * F + F;
        H -= 2;
        W -= 2;
        C = F;
        ref_relu(y, B * H * W * C);
        free(h);
        h = y;
    }
    size_t n_in = H * W * C, A_raw = A + (c->dueling ? 1 : 0);
    for (size_t j = 0; j < c->n_shared; j++) {
        size_t n_out = c->shared[j];
        double *y = malloc(B * n_out * sizeof *y);
        ref_linear(y, n_out, h, n_in, p + off, p + off + n_in * n_out, B, n_in, n_out);
        off += n_in * n_out + n_out;
        ref_relu(y, B * n_out);
        free(h);
        h = y;
        n_in = n_out;
    }
    for (size_t j = 0; j <= c->n_dense; j++) {
        size_t n_out = j < c->n_dense ? c->dense[j] : A_raw;
        double *y = malloc(B * K * n_out * sizeof *y);
        const double *w = p + off, *b = p + off + K * n_in * n_out;
        if (j == 0) {
            ref_linear(y, K * n_out, h, n_in, w, b, B, n_in, K * n_out);
        } else {
            for (size_t k = 0; k < K; k++) {
                ref_linear(y + k * n_out, K * n_out, h + k * n_in, K * n_in,
                           w + k * n_in * n_out, b + k * n_out, B, n_in, n_out);
            }
        }
        off += K * n_in * n_out + K * n_out;
        if (j < c->n_dense) {
            ref_relu(y, B * K * n_out);
        }
        free(h);
        h = y;
        n_in = n_out;
    }
    for (size_t r = 0; r < B * K; r++) {
        const double *raw = h + r * A_raw;
        double mean = 0.0;
        for (size_t a = 0; a < A; a++) {
            mean += raw[a] / (double)A;
        }
        for (size_t a = 0; a < A; a++) {
            q[r * A + a] = !c->dueling ? raw[a] : magnitude ? raw[A] + raw[a] + mean
                                                            : raw[A] + raw[a] - mean;
        }
    }
    free(h);
}

static inline void ref_net(const nn_qnet_config *c, const double *p, const double *x, size_t B,
                           double *q)
{
    ref_net_mode(c, p, x, B, q, 0);
}

/* Q = f(params) + β·prior(params + n_trainable). */
static inline void ref_qnet(const nn_qnet_config *c, const double *p, size_t n_trainable,
                            const double *x, size_t B, double *q)
{
    ref_net(c, p, x, B, q);
    if (c->prior_scale != 0.0f) {
        size_t n = B * c->n_heads * c->n_actions;
        double *pq = malloc(n * sizeof *pq);
        ref_net(c, p + n_trainable, x, B, pq);
        for (size_t i = 0; i < n; i++) {
            q[i] += (double)c->prior_scale * pq[i];
        }
        free(pq);
    }
}

/* The float32 operations one Q-value chains, for ref_gamma: each layer's sum of fan-in
 * products plus its bias and the GEMM's α/β update, the dueling mean (A divisions and sums)
 * and aggregate, and β·prior plus its add. The trainable and prior networks are separate
 * chains joined by the final add, so counting both bounds either. */
static inline size_t ref_qnet_chain_ops(const nn_qnet_config *c)
{
    size_t n = 0, C = c->in_c, H = c->in_h, W = c->in_w;
    for (size_t l = 0; l < c->n_conv; l++) {
        n += 9 * C + 2;
        C = c->conv_filters[l];
        H -= 2;
        W -= 2;
    }
    size_t n_in = H * W * C;
    for (size_t j = 0; j < c->n_shared; j++) {
        n += n_in + 2;
        n_in = c->shared[j];
    }
    for (size_t j = 0; j < c->n_dense; j++) {
        n += n_in + 2;
        n_in = c->dense[j];
    }
    n += n_in + 2;
    if (c->dueling) {
        n += 2 * c->n_actions + 2;
    }
    return c->prior_scale != 0.0f ? 2 * n + 2 : n;
}

/* The magnitudes behind ref_qnet's values: the same network on |params| and |x|. */
static inline void ref_qnet_magnitude(const nn_qnet_config *c, const double *p,
                                      size_t n_params, size_t n_trainable, const double *x,
                                      size_t B, double *mag)
{
    double *pa = ref_abs(p, n_params);
    double *xa = ref_abs(x, B * c->in_h * c->in_w * c->in_c);
    ref_net_mode(c, pa, xa, B, mag, 1);
    if (c->prior_scale != 0.0f) {
        size_t n = B * c->n_heads * c->n_actions;
        double *pm = malloc(n * sizeof *pm);
        ref_net_mode(c, pa + n_trainable, xa, B, pm, 1);
        for (size_t i = 0; i < n; i++) {
            mag[i] += fabs((double)c->prior_scale) * pm[i];
        }
        free(pm);
    }
    free(pa);
    free(xa);
}

/* Ape-X DQfD's h and h⁻¹ as the paper writes them, in double (nn/loss.h). Their cancellations
 * near 0 cost double less than 2^-30 relative for |z| >= 1e-6. */
static inline double ref_value_h(double z, double eps)
{
    return (z < 0 ? -1.0 : 1.0) * (sqrt(fabs(z) + 1.0) - 1.0) + eps * z;
}

static inline double ref_value_h_inv(double z, double eps)
{
    double r = (sqrt(1.0 + 4.0 * eps * (fabs(z) + 1.0 + eps)) - 1.0) / (2.0 * eps);
    return (z < 0 ? -1.0 : 1.0) * (r * r - 1.0);
}

/* Sets every parameter of net to -1, 0 or 1 (Bernoulli draws from g). With binary inputs and
 * upstream gradients in {-1, 0, 1}, every partial sum of the forward and backward passes of a
 * MinAtar-sized network is then an integer (or a multiple of a power of two) well below 2^24,
 * so float32 computes it exactly in any order: results are bit-identical by construction
 * whatever kernel, blocking or batch size the computation takes. */
static inline void ref_params_small_integers(nn_qnet *net, rng *g)
{
    float *p = nn_qnet_params(net);
    for (size_t i = 0; i < nn_qnet_n_params(net); i++) {
        p[i] = (float)rng_below(g, 3) - 1.0f;
    }
}

#endif
