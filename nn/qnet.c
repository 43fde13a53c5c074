#include "nn/qnet.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

#define MAX_LAYERS NN_QNET_MAX_LAYERS
#define ALIGN_FLOATS 16 /* 64 bytes: every buffer starts on a cache line */

/* Activations of one forward pass. conv[l]: (B, OH_l, OW_l, F_l) after ReLU; cols[l]: im2col of
 * conv l's input; head[j]: (B, K, n_j) after ReLU for hidden layers, head[n_dense] is the raw
 * output (B, K, A') before the dueling aggregation. */
typedef struct acts {
    float *cols[NN_QNET_MAX_CONV];
    float *conv[NN_QNET_MAX_CONV];
    float *shared[NN_QNET_MAX_DENSE]; /* (B, n_s) after ReLU */
    float *head[NN_QNET_MAX_DENSE + 1];
    const float *x; /* the input of the last forward; backward reads it for the first layer */
    int cols_ok[NN_QNET_MAX_CONV]; /* cols[l] hold im2col of conv l's input */
} acts;

struct nn_qnet {
    nn_qnet_config cfg;
    char arch[NN_QNET_ARCH_MAX];
    size_t n_layers;
    nn_param_view w[MAX_LAYERS], b[MAX_LAYERS];
    nn_conv_shape conv[NN_QNET_MAX_CONV]; /* batch set per call */
    size_t shared_in[NN_QNET_MAX_DENSE];
    size_t head_in[NN_QNET_MAX_DENSE + 1], head_out[NN_QNET_MAX_DENSE + 1]; /* per head */
    size_t n_heads0;  /* layer index of head layer 0: n_conv + n_shared */
    size_t n_flat;    /* width of the torso output feeding the heads */
    size_t n_raw, n_trainable, n_params;
    float *params, *grads;
    const nn_qnet *owner; /* a replica's: whose params it reads (and does not own) */
    acts train, infer;
    float *prior_q;                       /* (B, K, A) */
    float *d_conv[NN_QNET_MAX_CONV];      /* dL/d conv output l */
    float *d_shared[NN_QNET_MAX_DENSE];   /* dL/d shared layer output */
    float *d_head[NN_QNET_MAX_DENSE + 1]; /* dL/d head layer j output; [n_dense] = raw */
    float *dcols;                         /* largest im2col of a conv layer after the first */
    float *arena;
};

/* Lays out params (counting the floats) from the config. */
static void layout_params(nn_qnet *net)
{
    const nn_qnet_config *c = &net->cfg;
    size_t off = 0, h = c->in_h, w = c->in_w, ch = c->in_c, K = c->n_heads;
    for (size_t l = 0; l < c->n_conv; l++) {
        nn_conv_shape s = {0, h, w, ch, c->conv_filters[l]};
        net->conv[l] = s;
        net->w[l] = (nn_param_view){off, 9 * ch * s.f};
        off += net->w[l].n;
        net->b[l] = (nn_param_view){off, s.f};
        off += s.f;
        h -= 2;
        w -= 2;
        ch = s.f;
    }
    size_t n_in = h * w * ch;
    for (size_t j = 0; j < c->n_shared; j++) {
        size_t L = c->n_conv + j;
        net->shared_in[j] = n_in;
        net->w[L] = (nn_param_view){off, n_in * c->shared[j]};
        off += net->w[L].n;
        net->b[L] = (nn_param_view){off, c->shared[j]};
        off += c->shared[j];
        n_in = c->shared[j];
    }
    net->n_flat = n_in;
    net->n_heads0 = c->n_conv + c->n_shared;
    net->n_raw = c->n_actions + (c->dueling ? 1 : 0);
    for (size_t j = 0; j <= c->n_dense; j++) {
        size_t n_out = j < c->n_dense ? c->dense[j] : net->n_raw;
        size_t L = net->n_heads0 + j;
        net->head_in[j] = n_in;
        net->head_out[j] = n_out;
        net->w[L] = (nn_param_view){off, K * n_in * n_out};
        off += net->w[L].n;
        net->b[L] = (nn_param_view){off, K * n_out};
        off += net->b[L].n;
        n_in = n_out;
    }
    net->n_layers = net->n_heads0 + c->n_dense + 1;
    net->n_trainable = off;
    net->n_params = c->prior_scale != 0.0f ? 2 * off : off;
}

/* Assigns the workspace pointers from base (when not NULL); returns the floats needed. */
static size_t plan_workspace(nn_qnet *net, float *base)
{
    const nn_qnet_config *c = &net->cfg;
    size_t Bm = c->max_batch, K = c->n_heads, off = 0;
#define TAKE(ptr, n)                                                                               \
    do {                                                                                           \
        if (base) {                                                                                \
            (ptr) = base + off;                                                                    \
        }                                                                                          \
        off += ((n) + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;                             \
    } while (0)
    if (!net->owner) {
        TAKE(net->params, net->n_params);
    }
    TAKE(net->grads, net->n_trainable);
    acts *sets[2] = {&net->train, &net->infer};
    for (int i = 0; i < 2; i++) {
        for (size_t l = 0; l < c->n_conv; l++) {
            nn_conv_shape s = net->conv[l];
            s.batch = Bm;
            TAKE(sets[i]->cols[l], nn_conv_cols_rows(&s) * 9 * s.c);
            TAKE(sets[i]->conv[l], nn_conv_cols_rows(&s) * s.f);
        }
        for (size_t j = 0; j < c->n_shared; j++) {
            TAKE(sets[i]->shared[j], Bm * c->shared[j]);
        }
        for (size_t j = 0; j <= c->n_dense; j++) {
            TAKE(sets[i]->head[j], Bm * K * net->head_out[j]);
        }
    }
    TAKE(net->prior_q, Bm * K * c->n_actions);
    size_t dcols = 0;
    for (size_t l = 0; l < c->n_conv; l++) {
        nn_conv_shape s = net->conv[l];
        s.batch = Bm;
        TAKE(net->d_conv[l], nn_conv_cols_rows(&s) * s.f);
        if (l > 0 && nn_conv_cols_rows(&s) * 9 * s.c > dcols) {
            dcols = nn_conv_cols_rows(&s) * 9 * s.c;
        }
    }
    TAKE(net->dcols, dcols);
    for (size_t j = 0; j < c->n_shared; j++) {
        TAKE(net->d_shared[j], Bm * c->shared[j]);
    }
    for (size_t j = 0; j <= c->n_dense; j++) {
        TAKE(net->d_head[j], Bm * K * net->head_out[j]);
    }
#undef TAKE
    return off;
}

/* PyTorch's default initialisation: U(-1/sqrt(fan_in), +1/sqrt(fan_in)) for weights and biases.
 * One stream per (network, layer, head), so heads are independent and a head's values do not
 * depend on K. */
static void init_params(nn_qnet *net, float *p, uint32_t which_net)
{
    const nn_qnet_config *c = &net->cfg;
    size_t K = c->n_heads;
    rng r;
    /* the torso: convolutions (fan-in 9C) and shared layers, one stream per layer */
    for (size_t L = 0; L < net->n_heads0; L++) {
        rng_init(&r, c->seed, RNG_ROLE_NET_INIT, which_net, (uint32_t)(L * NN_QNET_MAX_HEADS));
        size_t fan_in = L < c->n_conv ? 9 * net->conv[L].c : net->shared_in[L - c->n_conv];
        float bound = 1.0f / sqrtf((float)fan_in);
        for (size_t i = 0; i < net->w[L].n; i++) {
            p[net->w[L].offset + i] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
        }
        for (size_t i = 0; i < net->b[L].n; i++) {
            p[net->b[L].offset + i] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
        }
    }
    for (size_t j = 0; j <= c->n_dense; j++) {
        size_t L = net->n_heads0 + j, n_in = net->head_in[j], n_out = net->head_out[j];
        float bound = 1.0f / sqrtf((float)n_in);
        for (size_t k = 0; k < K; k++) {
            rng_init(&r, c->seed, RNG_ROLE_NET_INIT, which_net,
                     (uint32_t)(L * NN_QNET_MAX_HEADS + k));
            for (size_t i = 0; i < n_in; i++) {
                for (size_t o = 0; o < n_out; o++) {
                    /* layer 0 is fused (n_in, K*n_out); later layers are (K, n_in, n_out) */
                    size_t at = j == 0 ? i * K * n_out + k * n_out + o : (k * n_in + i) * n_out + o;
                    p[net->w[L].offset + at] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
                }
            }
            for (size_t o = 0; o < n_out; o++) {
                p[net->b[L].offset + k * n_out + o] = bound * (2.0f * rng_uniform_f(&r) - 1.0f);
            }
        }
    }
}

static nn_qnet *qnet_build(const nn_qnet_config *cfg, const nn_qnet *owner, shoal_err *err)
{
    if (nn_qnet_config_check(cfg, err) != SHOAL_OK) {
        return NULL;
    }
    nn_qnet *net = calloc(1, sizeof *net);
    if (!net) {
        shoal_err_set(err, SHOAL_ENOMEM, "qnet: out of memory");
        return NULL;
    }
    net->cfg = *cfg;
    net->owner = owner;
    if (nn_qnet_config_arch(cfg, net->arch, sizeof net->arch, err) != SHOAL_OK) {
        goto fail;
    }
    layout_params(net);
    size_t n = plan_workspace(net, NULL);
    if (n > SIZE_MAX / sizeof(float) / 2) {
        shoal_err_set(err, SHOAL_ENOMEM, "qnet: %s needs %zu floats of memory", net->arch, n);
        goto fail;
    }
    net->arena = aligned_alloc(64, n * sizeof(float));
    if (!net->arena) {
        shoal_err_set(err, SHOAL_ENOMEM, "qnet: cannot allocate %zu MB for %s at max batch %zu",
                      n * sizeof(float) >> 20, net->arch, cfg->max_batch);
        goto fail;
    }
    memset(net->arena, 0, n * sizeof(float));
    plan_workspace(net, net->arena);
    if (owner) {
        net->params = owner->params;
        return net;
    }
    init_params(net, net->params, 0);
    if (net->n_params > net->n_trainable) {
        init_params(net, net->params + net->n_trainable, 1);
    }
    return net;
fail:
    nn_qnet_free(net);
    return NULL;
}

nn_qnet *nn_qnet_new(const nn_qnet_config *cfg, shoal_err *err)
{
    return qnet_build(cfg, NULL, err);
}

nn_qnet *nn_qnet_new_replica(const nn_qnet *owner, size_t max_batch, shoal_err *err)
{
    nn_qnet_config cfg = owner->cfg;
    cfg.max_batch = max_batch;
    return qnet_build(&cfg, owner->owner ? owner->owner : owner, err);
}

void nn_qnet_free(nn_qnet *net)
{
    if (!net) {
        return;
    }
    free(net->arena);
    free(net);
}

const nn_qnet_config *nn_qnet_config_of(const nn_qnet *net)
{
    return &net->cfg;
}

const char *nn_qnet_arch(const nn_qnet *net)
{
    return net->arch;
}

size_t nn_qnet_n_params(const nn_qnet *net)
{
    return net->n_params;
}

size_t nn_qnet_n_trainable(const nn_qnet *net)
{
    return net->n_trainable;
}

size_t nn_qnet_in_floats(const nn_qnet *net)
{
    return net->cfg.in_h * net->cfg.in_w * net->cfg.in_c;
}

float *nn_qnet_params(const nn_qnet *net)
{
    return net->params;
}

float *nn_qnet_grads(const nn_qnet *net)
{
    return net->grads;
}

size_t nn_qnet_n_layers(const nn_qnet *net)
{
    return net->n_layers;
}

nn_param_view nn_qnet_view(const nn_qnet *net, size_t layer, int which)
{
    nn_param_view none = {0, 0};
    if (layer >= net->n_layers) {
        return none;
    }
    return which ? net->b[layer] : net->w[layer];
}

int nn_qnet_copy_params(nn_qnet *dst, const nn_qnet *src, shoal_err *err)
{
    if (strcmp(dst->arch, src->arch) != 0) {
        return shoal_err_set(err, SHOAL_EARCH, "qnet: cannot copy parameters of \"%s\" into "
                             "\"%s\"", src->arch, dst->arch);
    }
    memcpy(dst->params, src->params, src->n_params * sizeof(float));
    return SHOAL_OK;
}

/* raw (B, K, A') -> q (B, K, A): Q = V + A - mean(A) with dueling, a copy without. */
static void aggregate(float *q, const float *raw, size_t rows, size_t A, int dueling)
{
    for (size_t r = 0; r < rows; r++) {
        const float *in = raw + r * (A + (dueling ? 1 : 0));
        float *out = q + r * A;
        if (!dueling) {
            memcpy(out, in, A * sizeof *out);
            continue;
        }
        float mean = 0.0f;
        for (size_t a = 0; a < A; a++) {
            mean += in[a];
        }
        mean /= (float)A;
        for (size_t a = 0; a < A; a++) {
            out[a] = in[A] + in[a] - mean;
        }
    }
}

/* The inverse map for gradients: dA_a = dQ_a - mean(dQ), dV = sum(dQ) (Wang et al. 2016). */
static void disaggregate(float *draw, const float *dq, size_t rows, size_t A, int dueling)
{
    for (size_t r = 0; r < rows; r++) {
        const float *in = dq + r * A;
        float *out = draw + r * (A + (dueling ? 1 : 0));
        if (!dueling) {
            memcpy(out, in, A * sizeof *out);
            continue;
        }
        float sum = 0.0f;
        for (size_t a = 0; a < A; a++) {
            sum += in[a];
        }
        for (size_t a = 0; a < A; a++) {
            out[a] = in[a] - sum / (float)A;
        }
        out[A] = sum;
    }
}

/* Head layer j >= 1 for head k reads a column slice of the (B, K*n_in) activation. */
static nn_linear_shape head_shape(const nn_qnet *net, size_t j, size_t batch)
{
    size_t K = net->cfg.n_heads;
    nn_linear_shape s = {batch, net->head_in[j], net->head_out[j], K * net->head_in[j],
                         K * net->head_out[j]};
    return s;
}

/* One pass of the network with parameters p (trainable or prior) into q (B, K, A). */
static void forward_net(nn_qnet *net, const float *p, acts *a, const float *x, size_t batch,
                        float *q)
{
    const nn_qnet_config *c = &net->cfg;
    size_t K = c->n_heads;
    const float *h = x;
    a->x = x;
    for (size_t l = 0; l < c->n_conv; l++) {
        nn_conv_shape s = net->conv[l];
        s.batch = batch;
        a->cols_ok[l] = nn_conv_forward(a->conv[l], a->cols[l], h, p + net->w[l].offset,
                                        p + net->b[l].offset, &s);
        nn_relu_forward(a->conv[l], a->conv[l], nn_conv_cols_rows(&s) * s.f);
        h = a->conv[l];
    }
    for (size_t j = 0; j < c->n_shared; j++) {
        size_t L = c->n_conv + j;
        nn_linear_shape s = nn_linear_dense(batch, net->shared_in[j], c->shared[j]);
        nn_linear_forward(a->shared[j], h, p + net->w[L].offset, p + net->b[L].offset, &s);
        nn_relu_forward(a->shared[j], a->shared[j], batch * c->shared[j]);
        h = a->shared[j];
    }
    size_t L = net->n_heads0;
    nn_linear_shape s0 = nn_linear_dense(batch, net->n_flat, K * net->head_out[0]);
    nn_linear_forward(a->head[0], h, p + net->w[L].offset, p + net->b[L].offset, &s0);
    for (size_t j = 1; j <= c->n_dense; j++) {
        nn_relu_forward(a->head[j - 1], a->head[j - 1], batch * K * net->head_out[j - 1]);
        nn_linear_shape s = head_shape(net, j, batch);
        const float *w = p + net->w[L + j].offset, *b = p + net->b[L + j].offset;
        for (size_t k = 0; k < K; k++) {
            nn_linear_forward(a->head[j] + k * s.n_out, a->head[j - 1] + k * s.n_in,
                              w + k * s.n_in * s.n_out, b + k * s.n_out, &s);
        }
    }
    aggregate(q, a->head[c->n_dense], batch * K, c->n_actions, c->dueling);
}

/* q += β · prior(x), computed in the inference workspace. */
static void add_prior(nn_qnet *net, const float *x, size_t batch, float *q)
{
    if (net->n_params == net->n_trainable) {
        return;
    }
    forward_net(net, net->params + net->n_trainable, &net->infer, x, batch, net->prior_q);
    size_t n = batch * net->cfg.n_heads * net->cfg.n_actions;
    float beta = net->cfg.prior_scale;
    for (size_t i = 0; i < n; i++) {
        q[i] += beta * net->prior_q[i];
    }
}

void nn_qnet_forward(nn_qnet *net, const float *x, size_t batch, float *q)
{
    assert(batch >= 1 && batch <= net->cfg.max_batch);
    forward_net(net, net->params, &net->infer, x, batch, q);
    add_prior(net, x, batch, q);
}

void nn_qnet_forward_train(nn_qnet *net, const float *x, size_t batch, float *q)
{
    assert(batch >= 1 && batch <= net->cfg.max_batch);
    forward_net(net, net->params, &net->train, x, batch, q);
    add_prior(net, x, batch, q);
}

void nn_qnet_backward(nn_qnet *net, const float *dq, size_t batch)
{
    nn_qnet_backward_notify(net, dq, batch, NULL, NULL);
}

void nn_qnet_backward_notify(nn_qnet *net, const float *dq, size_t batch, nn_grads_ready_fn ready,
                             void *ctx)
{
    assert(batch >= 1 && batch <= net->cfg.max_batch);
    /* Layers sit in params in forward order and are differentiated in reverse, so after layer
     * L the finished gradients are exactly the suffix from layer L's weight on. */
#define READY(layer)                                                                               \
    do {                                                                                           \
        if (ready) {                                                                               \
            ready(ctx, net->w[layer].offset);                                                      \
        }                                                                                          \
    } while (0)
    const nn_qnet_config *c = &net->cfg;
    acts *a = &net->train;
    size_t K = c->n_heads, L = net->n_heads0, n_conv = c->n_conv;
    float *g = net->grads;
    const float *p = net->params;
    disaggregate(net->d_head[c->n_dense], dq, batch * K, c->n_actions, c->dueling);
    for (size_t j = c->n_dense; j >= 1; j--) {
        nn_linear_shape s = head_shape(net, j, batch);
        const float *w = p + net->w[L + j].offset;
        for (size_t k = 0; k < K; k++) {
            nn_linear_backward(net->d_head[j - 1] + k * s.n_in,
                               g + net->w[L + j].offset + k * s.n_in * s.n_out,
                               g + net->b[L + j].offset + k * s.n_out, net->d_head[j] + k * s.n_out,
                               a->head[j - 1] + k * s.n_in, w + k * s.n_in * s.n_out, 1.0f, &s);
        }
        READY(L + j);
        size_t n = batch * K * s.n_in;
        nn_relu_backward(net->d_head[j - 1], net->d_head[j - 1], a->head[j - 1], n);
    }
    /* The fused first head layer: its input gradient sums every head's contribution in one
     * product, and the 1/K of Bootstrapped DQN's torso normalisation rides on it. */
    const float *conv_out = n_conv ? a->conv[n_conv - 1] : a->x;
    float *d_conv_out = n_conv ? net->d_conv[n_conv - 1] : NULL;
    size_t n_sh = c->n_shared;
    const float *torso = n_sh ? a->shared[n_sh - 1] : conv_out;
    float *d_torso = n_sh ? net->d_shared[n_sh - 1] : d_conv_out;
    nn_linear_shape s0 = nn_linear_dense(batch, net->n_flat, K * net->head_out[0]);
    nn_linear_backward(d_torso, g + net->w[L].offset, g + net->b[L].offset, net->d_head[0], torso,
                       p + net->w[L].offset, 1.0f / (float)K, &s0);
    READY(L);
    for (size_t j = n_sh; j-- > 0;) {
        size_t Ls = n_conv + j;
        nn_linear_shape s = nn_linear_dense(batch, net->shared_in[j], c->shared[j]);
        nn_relu_backward(net->d_shared[j], net->d_shared[j], a->shared[j], batch * c->shared[j]);
        nn_linear_backward(j ? net->d_shared[j - 1] : d_conv_out, g + net->w[Ls].offset,
                           g + net->b[Ls].offset, net->d_shared[j], j ? a->shared[j - 1] : conv_out,
                           p + net->w[Ls].offset, 1.0f, &s);
        READY(Ls);
    }
    for (size_t l = n_conv; l-- > 0;) {
        nn_conv_shape s = net->conv[l];
        s.batch = batch;
        nn_relu_backward(net->d_conv[l], net->d_conv[l], a->conv[l], nn_conv_cols_rows(&s) * s.f);
        /* The first layer needs no input gradient, so it can skip im2col altogether. */
        if (l == 0) {
            nn_conv_backward_dw(g + net->w[0].offset, g + net->b[0].offset, a->cols[0],
                                a->cols_ok[0], net->d_conv[0], a->x, &s);
        } else {
            if (!a->cols_ok[l]) { /* the forward ran the direct kernel */
                nn_conv_im2col(a->cols[l], a->conv[l - 1], &s);
                a->cols_ok[l] = 1;
            }
            nn_conv_backward(net->d_conv[l - 1], g + net->w[l].offset, g + net->b[l].offset,
                             net->dcols, net->d_conv[l], a->cols[l], p + net->w[l].offset, &s);
        }
        READY(l);
    }
#undef READY
}

double nn_qnet_forward_macs(const nn_qnet *net)
{
    const nn_qnet_config *c = &net->cfg;
    double macs = 0.0;
    for (size_t l = 0; l < c->n_conv; l++) {
        nn_conv_shape s = net->conv[l];
        s.batch = 1;
        macs += (double)nn_conv_cols_rows(&s) * 9.0 * (double)s.c * (double)s.f;
    }
    for (size_t j = 0; j < c->n_shared; j++) {
        macs += (double)net->shared_in[j] * (double)c->shared[j];
    }
    for (size_t j = 0; j <= c->n_dense; j++) {
        macs += (double)c->n_heads * (double)net->head_in[j] * (double)net->head_out[j];
    }
    return net->n_params > net->n_trainable ? 2.0 * macs : macs;
}

size_t nn_qnet_blob_bytes(const nn_qnet *net)
{
    return net->n_params * sizeof(float);
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the parameter blob is little-endian float32; add byte swapping for this host"
#endif

int nn_qnet_blob_export(const nn_qnet *net, void *blob, size_t cap, shoal_err *err)
{
    if (cap < nn_qnet_blob_bytes(net)) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: parameter blob of %s needs %zu bytes, "
                             "buffer has %zu", net->arch, nn_qnet_blob_bytes(net), cap);
    }
    memcpy(blob, net->params, nn_qnet_blob_bytes(net));
    return SHOAL_OK;
}

int nn_qnet_blob_import(nn_qnet *net, const void *blob, size_t n_bytes, shoal_err *err)
{
    if (n_bytes != nn_qnet_blob_bytes(net)) {
        return shoal_err_set(err, SHOAL_EARCH, "qnet: parameter blob has %zu bytes but %s has "
                             "%zu parameters (%zu bytes); the sender runs another architecture",
                             n_bytes, net->arch, net->n_params, nn_qnet_blob_bytes(net));
    }
    memcpy(net->params, blob, n_bytes);
    return SHOAL_OK;
}
