#include "nn/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/npz.h"

/* The (h, w, c) image a dense layer reads when it is the first after the convolutions (or the
 * input itself without convolutions); NULL img means its input is already a flat vector. */
typedef struct image {
    size_t h, w, c;
} image;

typedef struct exporter {
    const nn_qnet *net;
    npz_writer *out;
    const float *p;     /* the parameters of the network being written (trainable or prior) */
    const char *prefix; /* "" or "prior." */
    float *scratch;     /* room for the largest tensor */
    shoal_err *err;
} exporter;

static int put(exporter *x, const char *name, const float *data, const size_t *shape,
               size_t n_dims)
{
    char full[NPZ_NAME_MAX];
    snprintf(full, sizeof full, "%s%s", x->prefix, name);
    return npz_writer_add_f32(x->out, full, shape, n_dims, data, x->err);
}

/* w (3, 3, C, F) -> (F, C, 3, 3). */
static int put_conv(exporter *x, size_t l, const nn_conv_shape *s)
{
    nn_param_view wv = nn_qnet_view(x->net, l, 0), bv = nn_qnet_view(x->net, l, 1);
    const float *w = x->p + wv.offset;
    for (size_t f = 0; f < s->f; f++) {
        for (size_t c = 0; c < s->c; c++) {
            for (size_t k = 0; k < 9; k++) {
                x->scratch[(f * s->c + c) * 9 + k] = w[(k * s->c + c) * s->f + f];
            }
        }
    }
    char name[64];
    size_t shape[4] = {s->f, s->c, 3, 3};
    snprintf(name, sizeof name, "torso.conv%zu.weight", l);
    int rc = put(x, name, x->scratch, shape, 4);
    snprintf(name, sizeof name, "torso.conv%zu.bias", l);
    return rc != SHOAL_OK ? rc : put(x, name, x->p + bv.offset, &s->f, 1);
}

/* Rows col0 .. col0+n_out-1 of the transpose of w (n_in, ld) into scratch (n_out, n_in), the
 * input index permuted from (h, w, c) to (c, h, w) when img is not NULL. */
static void transpose(exporter *x, const float *w, size_t n_in, size_t ld, size_t col0,
                      size_t n_out, const image *img)
{
    for (size_t i = 0; i < n_in; i++) {
        size_t t = i;
        if (img) {
            size_t c = i % img->c, pos = i / img->c; /* pos = y * W + x */
            t = c * img->h * img->w + pos;
        }
        for (size_t o = 0; o < n_out; o++) {
            x->scratch[o * n_in + t] = w[i * ld + col0 + o];
        }
    }
}

/* One PyTorch Linear: weight (n_out, n_in) from columns col0.. of w (n_in, ld), bias b. */
static int put_linear(exporter *x, const char *name, const float *w, const float *b, size_t n_in,
                      size_t ld, size_t col0, size_t n_out, const image *img)
{
    char full[NPZ_NAME_MAX];
    size_t shape[2] = {n_out, n_in};
    transpose(x, w, n_in, ld, col0, n_out, img);
    snprintf(full, sizeof full, "%s.weight", name);
    int rc = put(x, full, x->scratch, shape, 2);
    snprintf(full, sizeof full, "%s.bias", name);
    return rc != SHOAL_OK ? rc : put(x, full, b + col0, &n_out, 1);
}

/* Head k's layer j: layer 0 is fused across heads (n_in, K*n_out); later ones are
 * (K, n_in, n_out). The output layer is split into advantage and value with dueling. */
static int put_head_layer(exporter *x, size_t k, size_t j, size_t n_in, size_t n_out,
                          const image *img)
{
    const nn_qnet_config *c = nn_qnet_config_of(x->net);
    size_t L = c->n_conv + c->n_shared + j, K = c->n_heads;
    const float *w = x->p + nn_qnet_view(x->net, L, 0).offset;
    const float *b = x->p + nn_qnet_view(x->net, L, 1).offset;
    size_t ld = K * n_out, col0 = k * n_out; /* put_linear takes the bias from col0 too */
    if (j > 0) {
        w += k * n_in * n_out;
        b += k * n_out;
        ld = n_out;
        col0 = 0;
    }
    char name[64];
    if (j < c->n_dense) {
        snprintf(name, sizeof name, "heads.%zu.dense%zu", k, j);
        return put_linear(x, name, w, b, n_in, ld, col0, n_out, img);
    }
    if (!c->dueling) {
        snprintf(name, sizeof name, "heads.%zu.out", k);
        return put_linear(x, name, w, b, n_in, ld, col0, n_out, img);
    }
    /* Raw outputs are the n_actions advantages, then the state value. */
    snprintf(name, sizeof name, "heads.%zu.advantage", k);
    int rc = put_linear(x, name, w, b, n_in, ld, col0, c->n_actions, img);
    snprintf(name, sizeof name, "heads.%zu.value", k);
    return rc != SHOAL_OK ? rc : put_linear(x, name, w, b, n_in, ld, col0 + c->n_actions, 1, img);
}

static int put_network(exporter *x)
{
    const nn_qnet_config *c = nn_qnet_config_of(x->net);
    image img = {c->in_h, c->in_w, c->in_c};
    int rc = SHOAL_OK;
    for (size_t l = 0; l < c->n_conv && rc == SHOAL_OK; l++) {
        nn_conv_shape s = {0, img.h, img.w, img.c, c->conv_filters[l]};
        rc = put_conv(x, l, &s);
        img = (image){img.h - 2, img.w - 2, s.f};
    }
    const image *first = &img; /* the next dense layer reads the image */
    size_t n_in = img.h * img.w * img.c;
    for (size_t s = 0; s < c->n_shared && rc == SHOAL_OK; s++) {
        size_t L = c->n_conv + s;
        char name[64];
        snprintf(name, sizeof name, "torso.shared%zu", s);
        rc = put_linear(x, name, x->p + nn_qnet_view(x->net, L, 0).offset,
                        x->p + nn_qnet_view(x->net, L, 1).offset, n_in, c->shared[s], 0,
                        c->shared[s], first);
        first = NULL;
        n_in = c->shared[s];
    }
    size_t n_raw = c->n_actions + (c->dueling ? 1 : 0);
    for (size_t k = 0; k < c->n_heads; k++) {
        const image *head_first = first;
        size_t head_in = n_in;
        for (size_t j = 0; j <= c->n_dense && rc == SHOAL_OK; j++) {
            size_t n_out = j < c->n_dense ? c->dense[j] : n_raw;
            rc = put_head_layer(x, k, j, head_in, n_out, head_first);
            head_first = NULL;
            head_in = n_out;
        }
    }
    return rc;
}

int nn_export_npz(const nn_qnet *net, const char *meta_json, const char *path, shoal_err *err)
{
    size_t largest = 0;
    for (size_t L = 0; L < nn_qnet_n_layers(net); L++) {
        size_t n = nn_qnet_view(net, L, 0).n;
        largest = n > largest ? n : largest;
    }
    exporter x = {net, NULL, nn_qnet_params(net), "", malloc(largest * sizeof(float)), err};
    if (!x.scratch) {
        return shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", path);
    }
    x.out = npz_writer_open(path, err);
    int rc = x.out ? put_network(&x) : (err ? err->code : SHOAL_EIO);
    if (rc == SHOAL_OK && nn_qnet_n_params(net) > nn_qnet_n_trainable(net)) {
        x.p += nn_qnet_n_trainable(net);
        x.prefix = "prior.";
        rc = put_network(&x);
    }
    if (rc == SHOAL_OK) {
        rc = npz_writer_add_file(x.out, NN_EXPORT_META, meta_json, strlen(meta_json), err);
    }
    if (rc == SHOAL_OK) {
        rc = npz_writer_commit(&x.out, err);
    }
    npz_writer_abort(&x.out);
    free(x.scratch);
    return rc;
}
