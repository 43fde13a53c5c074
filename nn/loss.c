#include "nn/loss.h"

#include <assert.h>
#include <math.h>
#include <string.h>

float nn_huber(float delta)
{
    float a = fabsf(delta);
    return a <= 1.0f ? 0.5f * delta * delta : a - 0.5f;
}

float nn_huber_grad(float delta)
{
    return delta > 1.0f ? 1.0f : delta < -1.0f ? -1.0f : delta;
}

size_t nn_argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t a = 1; a < n; a++) {
        if (v[a] > v[best]) {
            best = a;
        }
    }
    return best;
}

int nn_bcq_allowed(const float *g, size_t n, size_t a, float tau)
{
    float g_max = g[nn_argmax(g, n)];
    /* G(a)/G(a_max) of a softmax is exp(g_a - g_max): no normalisation needed. */
    return tau <= 0.0f || expf(g[a] - g_max) > tau; /* τ = 0: all, even where exp underflows */
}

size_t nn_bcq_argmax(const float *q, const float *g, size_t n, float tau)
{
    size_t g_best = nn_argmax(g, n);
    size_t best = g_best; /* always allowed for tau < 1 */
    for (size_t a = 0; a < n; a++) {
        if (a != best && (tau <= 0.0f || expf(g[a] - g[g_best]) > tau) && (q[a] > q[best] ||
                                                          (q[a] == q[best] && a < best))) {
            best = a;
        }
    }
    return best;
}

void nn_bcq_mask(float *q, const float *g, size_t rows, size_t n, float tau)
{
    for (size_t r = 0; r < rows && tau > 0.0f; r++) {
        const float *gr = g + r * n;
        float g_max = gr[nn_argmax(gr, n)];
        for (size_t a = 0; a < n; a++) {
            if (!(expf(gr[a] - g_max) > tau)) {
                q[r * n + a] = -INFINITY;
            }
        }
    }
}

static void targets(float *y, const float *q_next_online, const float *q_next_target,
                    const float *g_next, float tau, const float *returns,
                    const float *discounts, const nn_loss_dims *d, int double_q)
{
    size_t K = d->n_heads, A = d->n_actions;
    for (size_t i = 0; i < d->batch; i++) {
        for (size_t k = 0; k < K; k++) {
            size_t at = (i * K + k) * A;
            const float *qt = q_next_target + at;
            const float *chooser = double_q ? q_next_online + at : qt;
            size_t a_star = g_next ? nn_bcq_argmax(chooser, g_next + at, A, tau)
                                   : nn_argmax(chooser, A);
            y[i * K + k] = returns[i] + discounts[i] * qt[a_star];
        }
    }
}

void nn_loss_targets(float *y, const float *q_next_online, const float *q_next_target,
                     const float *returns, const float *discounts, const nn_loss_dims *d,
                     int double_q)
{
    targets(y, q_next_online, q_next_target, NULL, 0.0f, returns, discounts, d, double_q);
}

void nn_loss_targets_bcq(float *y, const float *q_next_online, const float *q_next_target,
                         const float *g_next, float tau, const float *returns,
                         const float *discounts, const nn_loss_dims *d, int double_q)
{
    targets(y, q_next_online, q_next_target, g_next, tau, returns, discounts, d, double_q);
}

float nn_loss_td(float *dq, float *priorities, const float *q, const nn_td_batch *b)
{
    size_t B = b->dims.batch, K = b->dims.n_heads, A = b->dims.n_actions;
    /* Each head's loss is a mean over the batch, divided by B and not by Σm (§3.3: bsuite). */
    float inv_b = 1.0f / (float)B;
    double loss = 0.0;
    memset(dq, 0, B * K * A * sizeof *dq);
    for (size_t i = 0; i < B; i++) {
        uint32_t bits = b->mask_bits ? b->mask_bits[i] : UINT32_MAX;
        float w = b->weights ? b->weights[i] : 1.0f;
        double abs_masked = 0.0, abs_all = 0.0;
        size_t n_masked = 0;
        assert(b->actions[i] < A); /* the learner validates sampled batches */
        for (size_t k = 0; k < K; k++) {
            size_t at = (i * K + k) * A + b->actions[i];
            float delta = b->targets[i * K + k] - q[at];
            abs_all += fabsf(delta);
            /* heads beyond 32 have no mask bit and always train */
            if (k < 32 && !(bits >> k & 1u)) {
                continue;
            }
            abs_masked += fabsf(delta);
            n_masked++;
            loss += (double)(w * inv_b * nn_huber(delta));
            /* δ = y - Q, so dL/dQ = -w/B · huber'(δ) */
            dq[at] = -w * inv_b * nn_huber_grad(delta);
        }
        if (priorities) {
            priorities[i] = n_masked ? (float)(abs_masked / (double)n_masked)
                                     : (float)(abs_all / (double)K);
        }
    }
    return (float)loss;
}

float nn_loss_margin(float *dq, const float *q, const uint32_t *actions, const uint8_t *is_demo,
                     const float *weights, const nn_loss_dims *d, float margin, float lambda)
{
    size_t B = d->batch, K = d->n_heads, A = d->n_actions;
    float scale = lambda / (float)B;
    double loss = 0.0;
    for (size_t i = 0; i < B; i++) {
        if (!is_demo[i]) {
            continue;
        }
        float w = weights ? weights[i] : 1.0f;
        size_t a_e = actions[i];
        assert(a_e < A);
        for (size_t k = 0; k < K; k++) {
            const float *qi = q + (i * K + k) * A;
            size_t a_max = a_e;
            float best = qi[a_e];
            for (size_t a = 0; a < A; a++) {
                float v = qi[a] + (a == a_e ? 0.0f : margin);
                if (v > best || (v == best && a < a_max)) {
                    best = v;
                    a_max = a;
                }
            }
            loss += (double)(scale * w * (best - qi[a_e]));
            /* sub-gradient: +1 into Q(a_max), -1 into Q(a_E); they cancel when equal (§6.1) */
            dq[(i * K + k) * A + a_max] += scale * w;
            dq[(i * K + k) * A + a_e] -= scale * w;
        }
    }
    return (float)loss;
}

float nn_loss_xent(float *dq, float *per_sample, const float *q, const uint32_t *actions,
                   const float *weights, const nn_loss_dims *d, float lambda)
{
    size_t B = d->batch, K = d->n_heads, A = d->n_actions;
    float scale = lambda / (float)B;
    double loss = 0.0;
    for (size_t i = 0; i < B; i++) {
        float w = weights ? weights[i] : 1.0f;
        size_t a_e = actions[i];
        assert(a_e < A);
        double sample = 0.0;
        for (size_t k = 0; k < K; k++) {
            const float *qi = q + (i * K + k) * A;
            float *gi = dq + (i * K + k) * A;
            /* logsumexp shifted by the max: exact for any logit scale Q values take */
            float m = qi[nn_argmax(qi, A)];
            double z = 0.0;
            for (size_t a = 0; a < A; a++) {
                z += exp((double)(qi[a] - m));
            }
            double ce = (double)m + log(z) - (double)qi[a_e];
            sample += ce;
            loss += (double)(scale * w) * ce;
            for (size_t a = 0; a < A; a++) {
                double p = exp((double)(qi[a] - m)) / z;
                gi[a] = (float)((double)(scale * w) * (p - (a == a_e ? 1.0 : 0.0)));
            }
        }
        if (per_sample) {
            per_sample[i] = (float)(sample / (double)K);
        }
    }
    return (float)loss;
}

float nn_loss_l2(float *grads, const float *params, size_t n, float lambda)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)params[i] * params[i];
        grads[i] += 2.0f * lambda * params[i];
    }
    return (float)(lambda * sum);
}

float nn_value_h(float z, float eps)
{
    double x = z, a = fabs(x);
    /* sqrt(a + 1) - 1 written as a / (sqrt(a + 1) + 1): no cancellation near 0 */
    double root = a / (sqrt(a + 1.0) + 1.0);
    return (float)(copysign(root, x) + (double)eps * x);
}

float nn_value_h_inv(float z, float eps)
{
    double x = z, a = fabs(x), e = eps;
    /* u = (sqrt(1 + 4ε(a + 1 + ε)) - 1) / (2ε) = 2(a + 1 + ε) / (s + 1) and u² - 1 =
     * (u - 1)(u + 1) with u - 1 = 2a(1 - 2ε / (1 + 2ε + s)) / (s + 1): the same value as the
     * paper's form without the two cancellations it has near 0. */
    double s = sqrt(1.0 + 4.0 * e * (a + 1.0 + e));
    double u = 2.0 * (a + 1.0 + e) / (s + 1.0);
    double u_minus_1 = 2.0 * a * (1.0 - 2.0 * e / (1.0 + 2.0 * e + s)) / (s + 1.0);
    return (float)copysign(u_minus_1 * (u + 1.0), x);
}

void nn_value_h_n(float *out, const float *in, size_t n, float eps)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = nn_value_h(in[i], eps);
    }
}

void nn_value_h_inv_n(float *out, const float *in, size_t n, float eps)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = nn_value_h_inv(in[i], eps);
    }
}

float nn_loss_tc(float *dq_next, const float *q_next_online, const float *q_next_target,
                 const uint32_t *mask_bits, const float *weights, const nn_loss_dims *d,
                 float lambda)
{
    size_t B = d->batch, K = d->n_heads, A = d->n_actions;
    float scale = lambda / (float)B;
    double loss = 0.0;
    memset(dq_next, 0, B * K * A * sizeof *dq_next);
    for (size_t i = 0; i < B; i++) {
        uint32_t bits = mask_bits ? mask_bits[i] : UINT32_MAX;
        float w = weights ? weights[i] : 1.0f;
        for (size_t k = 0; k < K; k++) {
            /* heads beyond 32 have no mask bit and always train, as in nn_loss_td */
            if (k < 32 && !(bits >> k & 1u)) {
                continue;
            }
            size_t row = (i * K + k) * A;
            size_t at = row + nn_argmax(q_next_online + row, A);
            float delta = q_next_online[at] - q_next_target[at];
            loss += (double)(scale * w * nn_huber(delta));
            dq_next[at] = scale * w * nn_huber_grad(delta);
        }
    }
    return (float)loss;
}
