#include "nn/rnd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const config_key nn_rnd_config_keys[] = {
    {"rnd", "features", CONFIG_INT, "64", 1, 4096, NULL,
     "outputs of RND's target and predictor networks (exploration.strategy = rnd, "
     "bootstrap+rnd)"},
    {"rnd", "hidden", CONFIG_INT, "128", 1, 65536, NULL,
     "units of the dense ReLU layer of RND's networks (after the [network] convolutions)"},
    {"rnd", "lr", CONFIG_FLOAT, "1e-4", 0, 1, NULL,
     "learning rate of the RND predictor's own Adam in the learner"},
    {"rnd", "beta", CONFIG_FLOAT, "0.1", 0, 1e6, NULL,
     "weight of the intrinsic reward: β · error / running std of intrinsic returns, added to "
     "the reward by the actors"},
    {"rnd", "obs_clip", CONFIG_FLOAT, "5", 0.1, 1e6, NULL,
     "normalised observations (x − μ)/σ are clipped to ±obs_clip (the RND paper: 5)"},
    CONFIG_KEY_END,
};

struct nn_rnd {
    nn_rnd_config cfg;
    nn_qnet *target, *predictor;
    size_t d, max_batch;
    uint64_t target_seed;
    char arch[NN_RND_ARCH_MAX];
    /* normaliser: running statistics (learner) and the floats every process applies */
    double count, *mean, *m2;
    float *mu, *sigma;
    /* workspaces for max_batch rows */
    float *xn, *ft, *fp, *dp;
};

bool nn_rnd_wanted(const config *cfg)
{
    const char *s = config_str(cfg, "exploration", "strategy");
    size_t n = strlen(s);
    return n >= 3 && strcmp(s + n - 3, "rnd") == 0;
}

int nn_rnd_config_from(const config *cfg, nn_rnd_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    out->features = (size_t)config_int(cfg, "rnd", "features");
    out->hidden = (size_t)config_int(cfg, "rnd", "hidden");
    out->lr = (float)config_float(cfg, "rnd", "lr");
    out->beta = (float)config_float(cfg, "rnd", "beta");
    out->obs_clip = (float)config_float(cfg, "rnd", "obs_clip");
    if (!(out->lr > 0.0f)) {
        return shoal_err_set(err, SHOAL_EINVAL, "rnd.lr = %g: the predictor needs a positive "
                             "learning rate (1e-4 is usual)", (double)out->lr);
    }
    return SHOAL_OK;
}

static nn_qnet_config net_config(const nn_qnet_config *net, const nn_rnd_config *rc,
                                 size_t max_batch, uint64_t seed)
{
    nn_qnet_config c = *net;
    c.n_shared = 0;
    c.n_dense = 1;
    c.dense[0] = rc->hidden;
    c.n_actions = rc->features;
    c.n_heads = 1;
    c.dueling = 0;
    c.prior_scale = 0.0f;
    c.max_batch = max_batch;
    c.seed = seed;
    return c;
}

nn_rnd *nn_rnd_new(const nn_qnet_config *net, const nn_rnd_config *rc, size_t max_batch,
                   uint64_t seed, shoal_err *err)
{
    if (rc->features == 0 || rc->hidden == 0 || max_batch == 0) {
        shoal_err_set(err, SHOAL_EINVAL, "rnd: features = %zu, hidden = %zu, batch = %zu; each "
                      "must be at least 1", rc->features, rc->hidden, max_batch);
        return NULL;
    }
    nn_rnd *r = calloc(1, sizeof *r);
    if (!r) {
        shoal_err_set(err, SHOAL_ENOMEM, "rnd: out of memory");
        return NULL;
    }
    r->cfg = *rc;
    r->max_batch = max_batch;
    r->target_seed = seed ^ NN_RND_TARGET_SALT;
    nn_qnet_config tc = net_config(net, rc, max_batch, r->target_seed);
    nn_qnet_config pc = net_config(net, rc, max_batch, seed ^ NN_RND_PREDICTOR_SALT);
    r->target = nn_qnet_new(&tc, err);
    r->predictor = r->target ? nn_qnet_new(&pc, err) : NULL;
    if (!r->predictor) {
        goto fail;
    }
    r->d = nn_qnet_in_floats(r->target);
    int n = snprintf(r->arch, sizeof r->arch, "rnd/v1 seed=%llu clip=%g %s",
                     (unsigned long long)r->target_seed, (double)rc->obs_clip,
                     nn_qnet_arch(r->predictor));
    if (n < 0 || (size_t)n >= sizeof r->arch) {
        shoal_err_set(err, SHOAL_EINVAL, "rnd: architecture string too long");
        goto fail;
    }
    size_t f = rc->features;
    r->mean = calloc(r->d, sizeof *r->mean);
    r->m2 = calloc(r->d, sizeof *r->m2);
    r->mu = calloc(r->d, sizeof *r->mu);
    r->sigma = malloc(r->d * sizeof *r->sigma);
    r->xn = malloc(max_batch * r->d * sizeof *r->xn);
    r->ft = malloc(max_batch * f * sizeof *r->ft);
    r->fp = malloc(max_batch * f * sizeof *r->fp);
    r->dp = malloc(max_batch * f * sizeof *r->dp);
    if (!r->mean || !r->m2 || !r->mu || !r->sigma || !r->xn || !r->ft || !r->fp || !r->dp) {
        shoal_err_set(err, SHOAL_ENOMEM, "rnd: out of memory for batch %zu", max_batch);
        goto fail;
    }
    for (size_t j = 0; j < r->d; j++) {
        r->sigma[j] = 1.0f;
    }
    return r;
fail:
    nn_rnd_free(r);
    return NULL;
}

void nn_rnd_free(nn_rnd *r)
{
    if (!r) {
        return;
    }
    nn_qnet_free(r->target);
    nn_qnet_free(r->predictor);
    free(r->mean);
    free(r->m2);
    free(r->mu);
    free(r->sigma);
    free(r->xn);
    free(r->ft);
    free(r->fp);
    free(r->dp);
    free(r);
}

const char *nn_rnd_arch(const nn_rnd *r)
{
    return r->arch;
}

nn_qnet *nn_rnd_predictor(const nn_rnd *r)
{
    return r->predictor;
}

size_t nn_rnd_in_floats(const nn_rnd *r)
{
    return r->d;
}

static void normalise(nn_rnd *r, const float *x, size_t n)
{
    float c = r->cfg.obs_clip;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * r->d;
        float *yi = r->xn + i * r->d;
        for (size_t j = 0; j < r->d; j++) {
            float v = (xi[j] - r->mu[j]) / r->sigma[j];
            yi[j] = v > c ? c : (v < -c ? -c : v);
        }
    }
}

/* Normalises x and runs both networks (the predictor keeping activations when train). */
static void forward_both(nn_rnd *r, const float *x, size_t n, int train)
{
    normalise(r, x, n);
    nn_qnet_forward(r->target, r->xn, n, r->ft);
    if (train) {
        nn_qnet_forward_train(r->predictor, r->xn, n, r->fp);
    } else {
        nn_qnet_forward(r->predictor, r->xn, n, r->fp);
    }
}

void nn_rnd_error(nn_rnd *r, const float *x, size_t n, float *err)
{
    size_t f = r->cfg.features;
    forward_both(r, x, n, 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t k = 0; k < f; k++) {
            double e = (double)r->fp[i * f + k] - (double)r->ft[i * f + k];
            s += e * e;
        }
        err[i] = (float)(s / (double)f);
    }
}

float nn_rnd_gradient(nn_rnd *r, const float *x, size_t n)
{
    size_t f = r->cfg.features;
    forward_both(r, x, n, 1);
    double loss = 0.0;
    float scale = 2.0f / (float)(n * f);
    for (size_t i = 0; i < n * f; i++) {
        float e = r->fp[i] - r->ft[i];
        loss += (double)e * e;
        r->dp[i] = scale * e;
    }
    nn_qnet_backward(r->predictor, r->dp, n);
    return (float)(loss / (double)(n * f));
}

void nn_rnd_moments(const nn_rnd *r, const float *x, size_t n, double *sums)
{
    size_t d = r->d;
    memset(sums, 0, (1 + 2 * d) * sizeof *sums);
    sums[0] = (double)n;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * d;
        for (size_t j = 0; j < d; j++) {
            sums[1 + j] += xi[j];
            sums[1 + d + j] += (double)xi[j] * xi[j];
        }
    }
}

void nn_rnd_observe(nn_rnd *r, const double *sums)
{
    double nb = sums[0];
    if (nb <= 0.0) {
        return;
    }
    size_t d = r->d;
    double na = r->count, n = na + nb;
    for (size_t j = 0; j < d; j++) {
        /* Chan et al.'s merge of two (count, mean, M2) summaries */
        double mb = sums[1 + j] / nb;
        double m2b = sums[1 + d + j] - nb * mb * mb;
        if (m2b < 0.0) {
            m2b = 0.0;
        }
        double delta = mb - r->mean[j];
        r->mean[j] += delta * nb / n;
        r->m2[j] += m2b + delta * delta * na * nb / n;
        double var = r->m2[j] / n;
        r->mu[j] = (float)r->mean[j];
        /* A value never seen to vary gets σ = 1e-4: its first change clips to ±c, the most
         * novel a single input can look. */
        r->sigma[j] = (float)sqrt(var > 1e-8 ? var : 1e-8);
    }
    r->count = n;
}

double nn_rnd_observed(const nn_rnd *r)
{
    return r->count;
}

size_t nn_rnd_blob_bytes(const nn_rnd *r)
{
    return nn_qnet_blob_bytes(r->predictor) + 2 * r->d * sizeof(float);
}

int nn_rnd_blob_export(const nn_rnd *r, void *blob, size_t cap, shoal_err *err)
{
    if (cap < nn_rnd_blob_bytes(r)) {
        return shoal_err_set(err, SHOAL_EINVAL, "rnd: blob needs %zu bytes, buffer has %zu",
                             nn_rnd_blob_bytes(r), cap);
    }
    size_t np = nn_qnet_blob_bytes(r->predictor), nd = r->d * sizeof(float);
    uint8_t *b = blob;
    memcpy(b, nn_qnet_params(r->predictor), np);
    memcpy(b + np, r->mu, nd);
    memcpy(b + np + nd, r->sigma, nd);
    return SHOAL_OK;
}

int nn_rnd_blob_import(nn_rnd *r, const void *blob, size_t n_bytes, shoal_err *err)
{
    if (n_bytes != nn_rnd_blob_bytes(r)) {
        return shoal_err_set(err, SHOAL_EARCH, "rnd: blob of %zu bytes but %s needs %zu; the "
                             "sender runs another [rnd] or [network]", n_bytes, r->arch,
                             nn_rnd_blob_bytes(r));
    }
    size_t np = nn_qnet_blob_bytes(r->predictor), nd = r->d * sizeof(float);
    const uint8_t *b = blob;
    memcpy(nn_qnet_params(r->predictor), b, np);
    memcpy(r->mu, b + np, nd);
    memcpy(r->sigma, b + np + nd, nd);
    return SHOAL_OK;
}
