/* cluster/cmd_export.c with nn/export.c and common/npz.c: `shoal export` writes every tensor of
 * a checkpoint, prior included, under its documented name, shape and PyTorch layout into a
 * valid .npz (checked by tests/npz_reader.h, not by the writer's code); a naive forward pass
 * with PyTorch's semantics over the exported tensors gives shoal's Q-values; --dump-q writes
 * observations and Q-values; bad input is refused. Where Debian's python3-torch and
 * python3-numpy are installed, examples/pytorch/check_q.py reproduces the Q-values of every
 * MinAtar game within 1e-5 (skipped with a message otherwise). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rng.h"
#include "env/env.h"
#include "nn/paramfile.h"
#include "evaluator_fixtures.h"
#include "npz_reader.h"
#include "shoal_cli.h"

static char dir[64];
static char out[1 << 16];

static void make_dir(void)
{
    fx_dir_make(dir, "shoal-export");
}

static void remove_dir(void)
{
    fx_dir_remove(dir);
}

TestSuite(export, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* A network of the given layout with seeded random parameters, saved as dir/<name>.ckpt. */
static nn_qnet *make_ckpt(const char *name, size_t h, size_t c, const size_t *conv, size_t n_conv,
                          const size_t *shared, size_t n_shared, const size_t *dense,
                          size_t n_dense, size_t actions, size_t heads, int dueling, float prior)
{
    nn_qnet_config cfg = nn_qnet_config_minatar(c, actions);
    cfg.in_h = cfg.in_w = h;
    cfg.n_conv = n_conv;
    cfg.n_shared = n_shared;
    cfg.n_dense = n_dense;
    for (size_t i = 0; i < n_conv; i++) {
        cfg.conv_filters[i] = conv[i];
    }
    for (size_t i = 0; i < n_shared; i++) {
        cfg.shared[i] = shared[i];
    }
    for (size_t i = 0; i < n_dense; i++) {
        cfg.dense[i] = dense[i];
    }
    cfg.n_heads = heads;
    cfg.dueling = dueling;
    cfg.prior_scale = prior;
    cfg.max_batch = 64;
    cfg.seed = 11 + heads + n_conv;
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(&cfg, &err);
    cr_assert_not_null(net, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.ckpt", dir, name);
    cr_assert_eq(nn_paramfile_save(path, net, NULL, 7, 99, &err), SHOAL_OK, "%s", err.msg);
    return net;
}

static const size_t C16[] = {16}, C16_8[] = {16, 8}, S32[] = {32}, D128[] = {128},
                    D16[] = {16}, D32_16[] = {32, 16};

/* The layouts the tests export: plain MinAtar DQN; two convolutions, a shared layer, per-head
 * layers, dueling and a prior; an MLP (no convolution); heads fed by the image directly whose
 * only layer is the dueling output. */
static nn_qnet *layout(int i, const char *name)
{
    switch (i) {
    case 0:
        return make_ckpt(name, 10, 4, C16, 1, NULL, 0, D128, 1, 3, 1, 0, 0.0f);
    case 1:
        return make_ckpt(name, 10, 7, C16_8, 2, S32, 1, D16, 1, 3, 3, 1, 3.0f);
    case 2:
        return make_ckpt(name, 10, 6, NULL, 0, NULL, 0, D32_16, 2, 6, 2, 0, 1.0f);
    default:
        return make_ckpt(name, 10, 4, C16, 1, NULL, 0, NULL, 0, 5, 2, 1, 0.0f);
    }
}

static const npzr_entry *need(const npzr *z, const char *prefix, const char *name,
                              const size_t *shape, size_t n_dims, size_t *n_seen)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const npzr_entry *e = npzr_find(z, full);
    cr_assert_not_null(e, "no tensor %s", full);
    cr_assert(e->is_npy);
    cr_assert_eq(e->n_dims, n_dims, "%s: %zu dimensions", full, e->n_dims);
    for (size_t d = 0; d < n_dims; d++) {
        cr_assert_eq(e->shape[d], shape[d], "%s: dimension %zu is %zu, expected %zu", full, d,
                     e->shape[d], shape[d]);
    }
    (*n_seen)++;
    return e;
}

static void same_bits(float a, float b, const char *what, size_t i)
{
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "%s[%zu]: %.9g in the export, %.9g in the checkpoint",
              what, i, (double)a, (double)b);
}

/* A dense layer stored (n_in, ld) in shoal, columns col0.., must be (n_out, n_in) in the export;
 * with an image (h, w, c) input, shoal's input i = (y*W + x)*C + c is column (c*H + y)*W + x. */
static void check_linear(const npzr *z, const char *prefix, const char *name, const float *w,
                         const float *b, size_t n_in, size_t ld, size_t col0, size_t n_out,
                         const size_t *img, size_t *n_seen)
{
    char wname[128], bname[128];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    size_t ws[2] = {n_out, n_in};
    const npzr_entry *we = need(z, prefix, wname, ws, 2, n_seen);
    const npzr_entry *be = need(z, prefix, bname, &n_out, 1, n_seen);
    for (size_t i = 0; i < n_in; i++) {
        size_t t = img ? (i % img[2]) * img[0] * img[1] + i / img[2] : i;
        for (size_t o = 0; o < n_out; o++) {
            same_bits(we->values[o * n_in + t], w[i * ld + col0 + o], wname, o * n_in + t);
        }
    }
    for (size_t o = 0; o < n_out; o++) {
        same_bits(be->values[o], b[col0 + o], bname, o);
    }
}

/* Every tensor of one network (trainable, or the prior at params + n_trainable). */
static void check_network(const nn_qnet *net, const npzr *z, const float *p, const char *prefix,
                          size_t *n_seen)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    size_t img[3] = {c->in_h, c->in_w, c->in_c};
    for (size_t l = 0; l < c->n_conv; l++) {
        size_t C = img[2], F = c->conv_filters[l];
        const float *w = p + nn_qnet_view(net, l, 0).offset;
        const float *b = p + nn_qnet_view(net, l, 1).offset;
        char wname[64], bname[64];
        snprintf(wname, sizeof wname, "torso.conv%zu.weight", l);
        snprintf(bname, sizeof bname, "torso.conv%zu.bias", l);
        size_t ws[4] = {F, C, 3, 3};
        const npzr_entry *we = need(z, prefix, wname, ws, 4, n_seen);
        const npzr_entry *be = need(z, prefix, bname, &F, 1, n_seen);
        for (size_t kh = 0; kh < 3; kh++) {
            for (size_t kw = 0; kw < 3; kw++) {
                for (size_t ch = 0; ch < C; ch++) {
                    for (size_t f = 0; f < F; f++) {
                        size_t t = ((f * C + ch) * 3 + kh) * 3 + kw;
                        same_bits(we->values[t], w[((kh * 3 + kw) * C + ch) * F + f], wname, t);
                    }
                }
            }
        }
        for (size_t f = 0; f < F; f++) {
            same_bits(be->values[f], b[f], bname, f);
        }
        img[0] -= 2;
        img[1] -= 2;
        img[2] = F;
    }
    const size_t *first = img;
    size_t n_in = img[0] * img[1] * img[2];
    for (size_t s = 0; s < c->n_shared; s++) {
        size_t L = c->n_conv + s;
        char name[64];
        snprintf(name, sizeof name, "torso.shared%zu", s);
        check_linear(z, prefix, name, p + nn_qnet_view(net, L, 0).offset,
                     p + nn_qnet_view(net, L, 1).offset, n_in, c->shared[s], 0, c->shared[s],
                     first, n_seen);
        first = NULL;
        n_in = c->shared[s];
    }
    size_t K = c->n_heads, A = c->n_actions;
    for (size_t k = 0; k < K; k++) {
        size_t hin = n_in;
        const size_t *himg = first;
        for (size_t j = 0; j <= c->n_dense; j++) {
            size_t L = c->n_conv + c->n_shared + j;
            size_t n_out = j < c->n_dense ? c->dense[j] : A + (c->dueling ? 1 : 0);
            const float *w = p + nn_qnet_view(net, L, 0).offset;
            const float *b = p + nn_qnet_view(net, L, 1).offset;
            size_t ld = K * n_out, col0 = k * n_out; /* layer 0: (n_in, K*n_out) */
            if (j > 0) {                              /* later: (K, n_in, n_out) */
                w += k * hin * n_out;
                b += k * n_out;
                ld = n_out;
                col0 = 0;
            }
            char name[64];
            if (j < c->n_dense) {
                snprintf(name, sizeof name, "heads.%zu.dense%zu", k, j);
                check_linear(z, prefix, name, w, b, hin, ld, col0, n_out, himg, n_seen);
            } else if (!c->dueling) {
                snprintf(name, sizeof name, "heads.%zu.out", k);
                check_linear(z, prefix, name, w, b, hin, ld, col0, n_out, himg, n_seen);
            } else {
                snprintf(name, sizeof name, "heads.%zu.advantage", k);
                check_linear(z, prefix, name, w, b, hin, ld, col0, A, himg, n_seen);
                snprintf(name, sizeof name, "heads.%zu.value", k);
                check_linear(z, prefix, name, w, b, hin, ld, col0 + A, 1, himg, n_seen);
            }
            himg = NULL;
            hin = n_out;
        }
    }
}

static char *meta_text(const npzr *z)
{
    const npzr_entry *m = npzr_find(z, "meta.json");
    cr_assert_not_null(m, "no meta.json entry");
    cr_assert(!m->is_npy);
    char *s = malloc(m->size + 1);
    memcpy(s, m->data, m->size);
    s[m->size] = '\0';
    return s;
}

/* One exported tensor by name, for the forward pass below. */
static const float *T(const npzr *z, const char *prefix, const char *fmt, size_t a, size_t b)
{
    char name[128], full[160];
    snprintf(name, sizeof name, fmt, a, b);
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const npzr_entry *e = npzr_find(z, full);
    cr_assert_not_null(e, "no tensor %s", full);
    return e->values;
}

/* q (K, A) of one NHWC observation through the exported tensors with PyTorch's semantics
 * (Conv2d on NCHW, Linear y = W x + b, flatten in (c, h, w) order), in double. */
static void torch_forward(const npzr *z, const char *prefix, const nn_qnet_config *c,
                          const float *x, double *q)
{
    size_t H = c->in_h, W = c->in_w, C = c->in_c;
    double *a = malloc(H * W * 64 * sizeof *a), *b = malloc(H * W * 64 * sizeof *b);
    for (size_t y = 0; y < H; y++) {
        for (size_t xx = 0; xx < W; xx++) {
            for (size_t ch = 0; ch < C; ch++) {
                a[(ch * H + y) * W + xx] = x[(y * W + xx) * C + ch];
            }
        }
    }
    for (size_t l = 0; l < c->n_conv; l++) {
        size_t F = c->conv_filters[l];
        const float *w = T(z, prefix, "torso.conv%zu.weight", l, 0);
        const float *bias = T(z, prefix, "torso.conv%zu.bias", l, 0);
        for (size_t f = 0; f < F; f++) {
            for (size_t y = 0; y + 2 < H; y++) {
                for (size_t xx = 0; xx + 2 < W; xx++) {
                    double s = bias[f];
                    for (size_t ch = 0; ch < C; ch++) {
                        for (size_t kh = 0; kh < 3; kh++) {
                            for (size_t kw = 0; kw < 3; kw++) {
                                s += w[((f * C + ch) * 3 + kh) * 3 + kw] *
                                     a[(ch * H + y + kh) * W + xx + kw];
                            }
                        }
                    }
                    b[(f * (H - 2) + y) * (W - 2) + xx] = s > 0 ? s : 0;
                }
            }
        }
        double *t = a;
        a = b;
        b = t;
        H -= 2;
        W -= 2;
        C = F;
    }
    size_t n = H * W * C; /* a is already in (c, h, w) order */
    for (size_t s = 0; s < c->n_shared; s++) {
        const float *w = T(z, prefix, "torso.shared%zu.weight", s, 0);
        const float *bias = T(z, prefix, "torso.shared%zu.bias", s, 0);
        for (size_t o = 0; o < c->shared[s]; o++) {
            double v = bias[o];
            for (size_t i = 0; i < n; i++) {
                v += w[o * n + i] * a[i];
            }
            b[o] = v > 0 ? v : 0;
        }
        double *t = a;
        a = b;
        b = t;
        n = c->shared[s];
    }
    size_t A = c->n_actions;
    double h1[256], h2[256];
    for (size_t k = 0; k < c->n_heads; k++) {
        const double *h = a;
        size_t hin = n;
        for (size_t j = 0; j < c->n_dense; j++) {
            const float *w = T(z, prefix, "heads.%zu.dense%zu.weight", k, j);
            const float *bias = T(z, prefix, "heads.%zu.dense%zu.bias", k, j);
            double *dst = h == h1 ? h2 : h1;
            for (size_t o = 0; o < c->dense[j]; o++) {
                double v = bias[o];
                for (size_t i = 0; i < hin; i++) {
                    v += w[o * hin + i] * h[i];
                }
                dst[o] = v > 0 ? v : 0;
            }
            h = dst;
            hin = c->dense[j];
        }
        const char *wf = c->dueling ? "heads.%zu.advantage.weight" : "heads.%zu.out.weight";
        const char *bf = c->dueling ? "heads.%zu.advantage.bias" : "heads.%zu.out.bias";
        const float *w = T(z, prefix, wf, k, 0), *bias = T(z, prefix, bf, k, 0);
        double mean = 0, v = 0;
        for (size_t o = 0; o < A; o++) {
            double s = bias[o];
            for (size_t i = 0; i < hin; i++) {
                s += w[o * hin + i] * h[i];
            }
            q[k * A + o] = s;
            mean += s / (double)A;
        }
        if (c->dueling) {
            const float *vw = T(z, prefix, "heads.%zu.value.weight", k, 0);
            v = T(z, prefix, "heads.%zu.value.bias", k, 0)[0];
            for (size_t i = 0; i < hin; i++) {
                v += vw[i] * h[i];
            }
            for (size_t o = 0; o < A; o++) {
                q[k * A + o] += v - mean;
            }
        }
    }
    free(a);
    free(b);
}

/* Layout i saved as dir/net<i>.ckpt, exported with `shoal export` and opened into z. */
static nn_qnet *export_layout(int i, npzr *z)
{
    char name[32], cmd[512];
    snprintf(name, sizeof name, "net%d", i);
    nn_qnet *net = layout(i, name);
    snprintf(cmd, sizeof cmd, "export %s/%s.ckpt --out %s/%s.npz", dir, name, dir, name);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s/%s.npz", dir, name);
    npzr_open(z, cmd);
    return net;
}

Test(export, every_tensor_equals_the_checkpoint_in_its_documented_name_shape_and_layout)
{
    for (int i = 0; i < 4; i++) {
        npzr z;
        nn_qnet *net = export_layout(i, &z);
        size_t n_seen = 0;
        check_network(net, &z, nn_qnet_params(net), "", &n_seen);
        if (nn_qnet_n_params(net) > nn_qnet_n_trainable(net)) {
            check_network(net, &z, nn_qnet_params(net) + nn_qnet_n_trainable(net), "prior.",
                          &n_seen);
        }
        cr_assert_eq(n_seen + 1, z.n, "%s: %zu entries, expected %zu tensors and meta.json", nn_qnet_arch(net),
                     z.n, n_seen);
        char *meta = meta_text(&z);
        cr_assert(strstr(meta, nn_qnet_arch(net)), "no architecture string %s in %s", nn_qnet_arch(net), meta);
        cr_assert(strstr(meta, "\"format\": \"shoal-npz\", \"format_version\": 1"), "%s", meta);
        cr_assert(strstr(meta, "\"step\": 7, \"frames\": 99"), "%s", meta);
        cr_assert(!strstr(meta, "\"env\""), "a lone checkpoint names no environment: %s", meta);
        free(meta);
        npzr_close(&z);
        nn_qnet_free(net);
    }
}

Test(export, pytorch_semantics_over_the_exported_tensors_give_shoals_q_values)
{
    for (int i = 0; i < 4; i++) {
        npzr z;
        nn_qnet *net = export_layout(i, &z);
        const nn_qnet_config *c = nn_qnet_config_of(net);
        size_t in = nn_qnet_in_floats(net), KA = c->n_heads * c->n_actions, B = 8;
        float *x = malloc(B * in * sizeof *x), *q = malloc(B * KA * sizeof *q);
        rng r;
        rng_init(&r, 5, RNG_ROLE_TOOL, 0, (uint32_t)i);
        for (size_t j = 0; j < B * in; j++) {
            x[j] = rng_uniform_f(&r) < 0.3f ? 1.0f : 0.0f; /* MinAtar-like binary images */
        }
        nn_qnet_forward(net, x, B, q);
        double ref[NN_QNET_MAX_HEADS * 32], prior[NN_QNET_MAX_HEADS * 32];
        for (size_t b = 0; b < B; b++) {
            torch_forward(&z, "", c, x + b * in, ref);
            if (c->prior_scale != 0.0f) {
                torch_forward(&z, "prior.", c, x + b * in, prior);
                for (size_t j = 0; j < KA; j++) {
                    ref[j] += (double)c->prior_scale * prior[j];
                }
            }
            for (size_t j = 0; j < KA; j++) {
                cr_assert(fabs(ref[j] - q[b * KA + j]) <= 1e-5, "%s: obs %zu q[%zu]: %.9g vs %.9g",
                          nn_qnet_arch(net), b, j, ref[j], (double)q[b * KA + j]);
            }
        }
        free(x);
        free(q);
        npzr_close(&z);
        nn_qnet_free(net);
    }
}

Test(export, dump_q_writes_observations_of_the_game_and_shoals_q_values_for_them)
{
    nn_qnet *net = layout(1, "freeway"); /* 7 channels, 3 actions: MinAtar Freeway */
    char cmd[1024], path[256];
    snprintf(cmd, sizeof cmd, "export %s/freeway.ckpt --out %s/f.npz --dump-q %s/q.npz "
             "--observations 70 --seed 3 --set env.name=minatar/freeway", dir, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(path, sizeof path, "%s/q.npz", dir);
    npzr z;
    npzr_open(&z, path);
    cr_assert_eq(z.n, 3u);
    const npzr_entry *obs = npzr_find(&z, "obs"), *q = npzr_find(&z, "q");
    cr_assert(obs && q);
    cr_assert(obs->n_dims == 4 && obs->shape[0] == 70 && obs->shape[1] == 10 &&
              obs->shape[2] == 10 && obs->shape[3] == 7);
    cr_assert(q->n_dims == 3 && q->shape[0] == 70 && q->shape[1] == 3 && q->shape[2] == 3);
    size_t in = nn_qnet_in_floats(net), KA = 9, differ = 0;
    float qq[9];
    for (size_t i = 0; i < 70; i++) {
        for (size_t j = 0; j < in; j++) {
            cr_assert(obs->values[i * in + j] == 0.0f || obs->values[i * in + j] == 1.0f);
        }
        differ += i > 0 && memcmp(obs->values + i * in, obs->values + (i - 1) * in, in * 4) != 0;
        nn_qnet_forward(net, obs->values + i * in, 1, qq);
        for (size_t j = 0; j < KA; j++) {
            cr_assert(fabsf(qq[j] - q->values[i * KA + j]) <= 1e-5f, "obs %zu q[%zu]", i, j);
        }
    }
    cr_assert_gt(differ, 30u, "the random policy should move the game: %zu changes", differ);
    char *meta = meta_text(&z);
    cr_assert(strstr(meta, "\"format\": \"shoal-qdump\""), "%s", meta);
    cr_assert(strstr(meta, "\"env\": {\"name\": \"minatar/freeway\", \"obs_hwc\": [10, 10, 7]"),
              "%s", meta);
    cr_assert(strstr(meta, "\"observations\": 70, \"seed\": 3"), "%s", meta);
    free(meta);
    npzr_close(&z);
    /* The same seed gives the same file. */
    snprintf(cmd, sizeof cmd, "export %s/freeway.ckpt --out %s/f2.npz --dump-q %s/q2.npz "
             "--observations 70 --seed 3 --set env.name=minatar/freeway && cmp %s/q.npz %s/q2.npz"
             " && cmp %s/f.npz %s/f2.npz", dir, dir, dir, dir, dir, dir, dir);
    char shell[2048];
    snprintf(shell, sizeof shell, "%s %s 2>&1", getenv("SHOAL_BIN"), cmd);
    cr_assert_eq(run_shell(shell, out, sizeof out), 0, "%s", out);
    nn_qnet_free(net);
}

Test(export, a_checkpoint_in_a_run_folder_names_the_runs_environment)
{
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    const char *ini = "[env]\nname = minatar/asterix\n";
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, ini, strlen(ini), &err), SHOAL_OK);
    nn_qnet *net = layout(3, "checkpoints/step-7"); /* 4 channels, 5 actions: Asterix */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "export %s/checkpoints/step-7.ckpt --out %s/a.npz "
             "--dump-q %s/q.npz", dir, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(path, sizeof path, "%s/a.npz", dir);
    npzr z;
    npzr_open(&z, path);
    char *meta = meta_text(&z);
    cr_assert(strstr(meta, "\"env\": {\"name\": \"minatar/asterix\", \"obs_hwc\": [10, 10, 4], "
                           "\"obs_dtype\": \"bit\", \"n_actions\": 5}"), "%s", meta);
    free(meta);
    npzr_close(&z);
    nn_qnet_free(net);
}

Test(export, bad_input_is_refused_with_a_message_and_exit_code)
{
    nn_qnet *net = layout(0, "net");
    char cmd[512], path[256];
    cr_assert_eq(run("export --help", out, sizeof out), 0);
    cr_assert(strstr(out, "usage: shoal export CHECKPOINT --out FILE"), "%s", out);
    snprintf(cmd, sizeof cmd, "export %s/missing.ckpt --out %s/x.npz", dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "missing.ckpt"), "%s", out);
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt --out %s/x.npz --format pt", dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--format pt: unknown format; the formats are: npz"), "%s", out);
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt", dir);
    cr_assert_eq(run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--out"), "%s", out);
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt --out %s/x.npz --observations 5", dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "belong to --dump-q"), "%s", out);
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt --out %s/no/such/dir/x.npz", dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "no/such/dir/x.npz") && strstr(out, "No such file"), "%s", out);
    /* the game does not fit the network: breakout's net, freeway's 7 channels */
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt --out %s/x.npz --dump-q %s/q.npz "
             "--set env.name=minatar/freeway", dir, dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "takes 10x10x4 observations and 3 actions, but minatar/freeway has "
                          "10x10x7 and 3"), "%s", out);
    snprintf(path, sizeof path, "%s/q.npz", dir);
    cr_assert_neq(access(path, F_OK), 0, "no dump is left behind");
    /* a damaged checkpoint: one flipped bit in the parameters */
    snprintf(path, sizeof path, "%s/net.ckpt", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 200, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(ch ^ 1, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "export %s/net.ckpt --out %s/x.npz", dir, dir);
    cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "CRC32C mismatch"), "%s", out);
    snprintf(path, sizeof path, "%s/x.npz", dir);
    cr_assert_neq(access(path, F_OK), 0, "nothing is written for a refused checkpoint");
    nn_qnet_free(net);
}

/* Debian's interpreter, which has python3-torch when it is installed (another python3 on the
 * PATH may not); SHOAL_PYTHON overrides. */
static const char *python(void)
{
    const char *p = getenv("SHOAL_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

Test(export, pytorch_reproduces_shoals_q_values_on_every_minatar_game_within_1e_5)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' 2>&1", python());
    if (run_shell(cmd, out, sizeof out) != 0) {
        remove_dir(); /* a skipped test does not reach the suite's fini */
        cr_skip_test("python3-torch and python3-numpy are not installed (%s); the C checks above "
                     "still ran. See docs/development.md, \"The PyTorch export check\".", python());
    }
    static const struct {
        const char *game;
        size_t c, a;
        int layout;
    } games[] = {{"breakout", 4, 3, 0}, {"asterix", 4, 5, 3}, {"freeway", 7, 3, 1},
                 {"seaquest", 10, 6, 1}, {"space_invaders", 6, 4, 2}};
    for (size_t g = 0; g < sizeof games / sizeof games[0]; g++) {
        nn_qnet *net;
        switch (games[g].layout) {
        case 0:
            net = make_ckpt(games[g].game, 10, games[g].c, C16, 1, NULL, 0, D128, 1, games[g].a,
                            1, 0, 0.0f);
            break;
        case 1:
            net = make_ckpt(games[g].game, 10, games[g].c, C16_8, 2, S32, 1, D16, 1, games[g].a,
                            3, 1, 3.0f);
            break;
        case 2:
            net = make_ckpt(games[g].game, 10, games[g].c, C16, 1, D128, 1, NULL, 0, games[g].a,
                            10, 0, 1.0f);
            break;
        default:
            net = make_ckpt(games[g].game, 10, games[g].c, C16, 1, NULL, 0, NULL, 0, games[g].a,
                            2, 1, 0.0f);
            break;
        }
        snprintf(cmd, sizeof cmd,
                 "%s export %s/%s.ckpt --out %s/%s.npz --dump-q %s/%s-q.npz --observations 100 "
                 "--set env.name=minatar/%s 2>&1 && %s %s/examples/pytorch/check_q.py %s/%s.npz "
                 "%s/%s-q.npz --tol 1e-5 2>&1",
                 getenv("SHOAL_BIN"), dir, games[g].game, dir, games[g].game, dir, games[g].game,
                 games[g].game, python(), getenv("SHOAL_SOURCE_DIR"), dir, games[g].game, dir,
                 games[g].game);
        int rc = run_shell(cmd, out, sizeof out);
        cr_log_info("%s", out);
        cr_assert_eq(rc, 0, "%s: %s", games[g].game, out);
        cr_assert(strstr(out, "max |q_torch - q_shoal|"), "%s", out);
        nn_qnet_free(net);
    }
}
