#include "nn/optim.h"
#include "nn/simd.h"

#include <math.h>
#include <stdlib.h>

struct nn_optim {
    nn_optim_config cfg;
    size_t n;
    uint64_t t;
    float *state; /* 2n floats */
};

nn_optim_config nn_optim_adam(float lr)
{
    nn_optim_config c = {.kind = NN_OPTIM_ADAM, .lr = lr, .eps = 1e-8f, .beta1 = 0.9f,
                         .beta2 = 0.999f};
    return c;
}

nn_optim_config nn_optim_rmsprop(float lr)
{
    nn_optim_config c = {.kind = NN_OPTIM_RMSPROP, .lr = lr, .eps = 0.01f, .decay = 0.95f,
                         .centered = 1};
    return c;
}

static int in_unit(float v)
{
    return v >= 0.0f && v < 1.0f;
}

nn_optim *nn_optim_new(const nn_optim_config *cfg, size_t n_params, shoal_err *err)
{
    if (cfg->kind != NN_OPTIM_ADAM && cfg->kind != NN_OPTIM_RMSPROP) {
        shoal_err_set(err, SHOAL_EINVAL, "optim: unknown kind %d; expected Adam (1) or RMSProp (2)",
                      (int)cfg->kind);
        return NULL;
    }
    int ok = isfinite(cfg->lr) && cfg->lr > 0.0f && cfg->eps > 0.0f && isfinite(cfg->eps);
    if (cfg->kind == NN_OPTIM_ADAM) {
        ok = ok && in_unit(cfg->beta1) && in_unit(cfg->beta2) && cfg->weight_decay >= 0.0f;
    } else {
        ok = ok && in_unit(cfg->decay);
    }
    if (!ok) {
        shoal_err_set(err, SHOAL_EINVAL, "optim: bad hyper-parameters (lr %g, eps %g, beta1 %g, "
                      "beta2 %g, decay %g, weight decay %g); lr and eps must be > 0 and decays in "
                      "[0, 1)", (double)cfg->lr, (double)cfg->eps, (double)cfg->beta1,
                      (double)cfg->beta2, (double)cfg->decay, (double)cfg->weight_decay);
        return NULL;
    }
    nn_optim *o = calloc(1, sizeof *o);
    if (o) {
        o->state = calloc(2 * n_params + 1, sizeof *o->state);
    }
    if (!o || !o->state) {
        shoal_err_set(err, SHOAL_ENOMEM, "optim: cannot allocate state for %zu parameters",
                      n_params);
        nn_optim_free(o);
        return NULL;
    }
    o->cfg = *cfg;
    o->n = n_params;
    return o;
}

void nn_optim_free(nn_optim *opt)
{
    if (!opt) {
        return;
    }
    free(opt->state);
    free(opt);
}

/* Moment estimates below this are stored as zero. Where a parameter's gradient stays zero (a
 * ReLU that never fires, an input that is always empty: common on MinAtar), its moments decay
 * geometrically and reach subnormal floats after about 800 Adam steps (0.9^n); arithmetic on
 * subnormals takes a slow microcode path on x86, which made the whole Adam step about 9x slower
 * after the first thousand updates. A moment this small moves its parameter by less than
 * lr * 1e-30 / eps, far below the rounding of any parameter. */
#define MOMENT_FLOOR 1e-30f

/* x, or 0 where |x| < MOMENT_FLOOR (a compare and a blend once vectorized). */
static inline float floored(float x)
{
    return fabsf(x) < MOMENT_FLOOR ? 0.0f : x;
}

MULTIVERSION static void adam_step(nn_optim *o, float *restrict p, const float *restrict g)
{
    const nn_optim_config *c = &o->cfg;
    float *restrict m = o->state, *restrict v = o->state + o->n;
    /* Bias corrections folded into two scalars, computed in double for large t. */
    double t = (double)o->t;
    float inv_bc1 = (float)(1.0 / (1.0 - pow(c->beta1, t)));
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(c->beta2, t)));
    float b1 = c->beta1, b2 = c->beta2, lr = c->lr, eps = c->eps;
    float keep = 1.0f - c->lr * c->weight_decay;
    for (size_t i = 0; i < o->n; i++) {
        m[i] = floored(b1 * m[i] + (1.0f - b1) * g[i]);
        v[i] = floored(b2 * v[i] + (1.0f - b2) * g[i] * g[i]);
        /* θ ← θ - lr·m̂/(√v̂ + ε), with m̂ = m/bc1 and √v̂ = √v/√bc2 */
        p[i] = p[i] * keep - lr * (m[i] * inv_bc1) / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

MULTIVERSION static void rmsprop_step(nn_optim *o, float *restrict p, const float *restrict g)
{
    const nn_optim_config *c = &o->cfg;
    float *restrict sq = o->state, *restrict mg = o->state + o->n;
    float a = c->decay, lr = c->lr, eps = c->eps;
    for (size_t i = 0; i < o->n; i++) {
        sq[i] = floored(a * sq[i] + (1.0f - a) * g[i] * g[i]);
        float var = sq[i];
        if (c->centered) {
            mg[i] = floored(a * mg[i] + (1.0f - a) * g[i]);
            var -= mg[i] * mg[i];
        }
        var = var > 0.0f ? var : 0.0f; /* rounding can make n - ḡ² slightly negative */
        float denom = c->eps_inside_root ? sqrtf(var + eps) : sqrtf(var) + eps;
        p[i] -= lr * g[i] / denom;
    }
}

void nn_optim_step(nn_optim *opt, float *params, const float *grads)
{
    opt->t++;
    if (opt->cfg.kind == NN_OPTIM_ADAM) {
        adam_step(opt, params, grads);
    } else {
        rmsprop_step(opt, params, grads);
    }
}

const nn_optim_config *nn_optim_config_of(const nn_optim *opt)
{
    return &opt->cfg;
}

size_t nn_optim_n_params(const nn_optim *opt)
{
    return opt->n;
}

float *nn_optim_state(const nn_optim *opt, size_t *n_state)
{
    *n_state = 2 * opt->n;
    return opt->state;
}

uint64_t nn_optim_steps(const nn_optim *opt)
{
    return opt->t;
}

void nn_optim_set_steps(nn_optim *opt, uint64_t steps)
{
    opt->t = steps;
}
