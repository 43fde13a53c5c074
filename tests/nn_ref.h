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

/* One network (trainable or prior) with parameters p, in the documented layout; q (B, K, A). */
static inline void ref_net(const nn_qnet_config *c, const double *p, const double *x, size_t B,
                           double *q)
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
            q[r * A + a] = c->dueling ? raw[A] + raw[a] - mean : raw[a];
        }
    }
    free(h);
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

#endif
