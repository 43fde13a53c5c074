#include <criterion/criterion.h>

#include "nn/kernels.h"
#include "nn/qnet.h"
#include "nn_ref.h"

static nn_qnet *make(const nn_qnet_config *cfg)
{
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(cfg, &err);
    cr_assert_not_null(net, "nn_qnet_new: %s", err.msg);
    return net;
}

Test(nn_qnet, the_minatar_architecture_string_names_every_layout_field)
{
    nn_qnet_config c = nn_qnet_config_minatar(4, 3);
    nn_qnet *net = make(&c);
    cr_assert_str_eq(nn_qnet_arch(net),
                     "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=0");
    /* conv 9*4*16 + 16, dense 1024*128 + 128, out 128*3 + 3 */
    cr_assert_eq(nn_qnet_n_trainable(net), 576 + 16 + 131072 + 128 + 384 + 3);
    cr_assert_eq(nn_qnet_n_params(net), nn_qnet_n_trainable(net));
    nn_qnet_free(net);
}

Test(nn_qnet, a_bad_config_is_an_error_not_a_crash)
{
    nn_qnet_config c = nn_qnet_config_minatar(4, 3);
    c.n_heads = 0;
    shoal_err err = {0};
    cr_assert_null(nn_qnet_new(&c, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "heads") != NULL, "%s", err.msg);
    c = nn_qnet_config_minatar(4, 3);
    c.max_batch = 0;
    cr_assert_null(nn_qnet_new(&c, &err));
}

/* The forward pass against the double reference written from the documented layout. */
static void check_forward_on(const nn_qnet_config *c, size_t batch, int binary)
{
    nn_qnet *net = make(c);
    size_t nx = batch * nn_qnet_in_floats(net), nq = batch * c->n_heads * c->n_actions;
    float *x = malloc(nx * 4), *q = malloc(nq * 4), *q2 = malloc(nq * 4);
    rng g;
    rng_init(&g, 20, RNG_ROLE_TOOL, 0, 0);
    ref_fill_input(x, nx, &g, binary);
    nn_qnet_forward(net, x, batch, q);
    nn_qnet_forward_train(net, x, batch, q2);
    double *p = ref_to_double(nn_qnet_params(net), nn_qnet_n_params(net));
    double *xd = ref_to_double(x, nx), *qd = malloc(nq * sizeof *qd), *mag = malloc(nq * sizeof *mag);
    ref_qnet(c, p, nn_qnet_n_trainable(net), xd, batch, qd);
    ref_qnet_magnitude(c, p, nn_qnet_n_params(net), nn_qnet_n_trainable(net), xd, batch, mag);
    /* Float32 bound (nn_ref.h): whichever kernels OpenBLAS runs, each Q-value is within
     * γ_(chained ops) · Σ|terms| of the exact value. */
    double r = ref_bound_ratio(q, qd, mag, nq, ref_gamma(ref_qnet_chain_ops(c)));
    cr_assert_leq(r, 1.0, "%s: forward differs from the reference by %g of its float32 bound",
                  nn_qnet_arch(net), r);
    /* Bit-exact by construction: the same calls, shapes and data, in another workspace. */
    cr_assert_eq(memcmp(q, q2, nq * 4), 0, "inference and training forwards differ");
    free(x), free(q), free(q2), free(p), free(xd), free(qd), free(mag);
    nn_qnet_free(net);
}

Test(nn_qnet, forward_matches_a_double_reference_of_the_documented_layout)
{
    nn_qnet_config c = ref_full_config();
    check_forward_on(&c, 4, 0);
    c = nn_qnet_config_minatar(4, 6);
    c.n_heads = 10;
    c.prior_scale = 3.0f;
    c.max_batch = 20;
    check_forward_on(&c, 1, 0);
    check_forward_on(&c, 20, 0); /* past the small-batch path */
    check_forward_on(&c, 20, 1);
}

/* Central difference of L = Σ r ⊙ Q(p, x) with respect to p[i], in double; with magnitude,
 * of the magnitude network (p, r = |params|, |r|) on |x|, which is linear in each |p[i]|. */
static double qnet_loss_diff(const nn_qnet_config *c, double *p, size_t n_params, size_t nt,
                             const double *x, const double *r, size_t batch, size_t i, double h,
                             int magnitude)
{
    size_t nq = batch * c->n_heads * c->n_actions;
    double *q = malloc(nq * sizeof *q), keep = p[i], L[2];
    for (int side = 0; side < 2; side++) {
        /* magnitudes step upwards only, so that |p[i]| never folds over at zero */
        p[i] = keep + (side ? (magnitude ? 0.0 : -h) : h);
        if (magnitude) {
            ref_qnet_magnitude(c, p, n_params, nt, x, batch, q);
        } else {
            ref_qnet(c, p, nt, x, batch, q);
        }
        L[side] = 0.0;
        for (size_t j = 0; j < nq; j++) {
            L[side] += r[j] * q[j];
        }
    }
    p[i] = keep;
    free(q);
    return (L[0] - L[1]) / (magnitude ? h : 2.0 * h);
}

/* Finite differences of L = Σ R ⊙ Q in double against nn_qnet_backward for every parameter. */
static void check_gradients_on(const nn_qnet_config *c, size_t batch, int binary)
{
    nn_qnet *net = make(c);
    size_t nx = batch * nn_qnet_in_floats(net), nq = batch * c->n_heads * c->n_actions;
    size_t nt = nn_qnet_n_trainable(net);
    float *x = malloc(nx * 4), *q = malloc(nq * 4), *r = malloc(nq * 4);
    rng g;
    rng_init(&g, 21, RNG_ROLE_TOOL, 0, 0);
    ref_fill_input(x, nx, &g, binary);
    ref_fill(r, nq, &g, -1, 1);
    nn_qnet_forward_train(net, x, batch, q);
    nn_qnet_backward(net, r, batch);
    double *p = ref_to_double(nn_qnet_params(net), nn_qnet_n_params(net));
    double *xd = ref_to_double(x, nx), *num = malloc(nt * sizeof *num);
    double *g_mag = malloc(nt * sizeof *g_mag), *rd = ref_to_double(r, nq);
    double *pa = ref_abs(p, nn_qnet_n_params(net)), *ra = ref_abs(rd, nq);
    const double h = 1e-5;
    for (size_t i = 0; i < nt; i++) {
        num[i] = qnet_loss_diff(c, p, nn_qnet_n_params(net), nt, xd, rd, batch, i, h, 0);
        /* The same derivative of the loss on magnitudes (every ReLU open) bounds Σ|terms| of
         * the chain rule's sum for this parameter. */
        g_mag[i] = qnet_loss_diff(c, pa, nn_qnet_n_params(net), nt, xd, ra, batch, i, h, 1);
        /* The torso's gradient is scaled by 1/K (Bootstrapped DQN), so the analytic torso
         * gradient is 1/K of the true derivative. */
        if (i < nn_qnet_view(net, c->n_conv + c->n_shared, 0).offset) {
            num[i] /= (double)c->n_heads;
            g_mag[i] /= (double)c->n_heads;
        }
    }
    /* Float32 bound (nn_ref.h): each gradient term is an activation (forward chain) times a
     * back-propagated delta (backward chain, no longer than the forward one), and the terms
     * are summed over the batch and every position of a convolution. This assumes the float
     * forward pass opens the same ReLUs as the exact one (no pre-activation within its bound
     * of zero), which random inputs meet with overwhelming probability. */
    size_t n_ops = 2 * ref_qnet_chain_ops(c) + batch * c->in_h * c->in_w;
    double loss_mag = 0.0;
    double *mag = malloc(nq * sizeof *mag);
    ref_qnet_magnitude(c, p, nn_qnet_n_params(net), nt, xd, batch, mag);
    for (size_t j = 0; j < nq; j++) {
        loss_mag += ra[j] * mag[j];
    }
    double e = ref_gradient_bound_ratio(nn_qnet_grads(net), num, g_mag, nt, ref_gamma(n_ops),
                                        n_ops, loss_mag, h);
    cr_assert_leq(e, 1.0, "%s: gradient differs by %g of its float32 bound", nn_qnet_arch(net), e);
    free(x), free(q), free(r), free(p), free(xd), free(num), free(g_mag), free(rd), free(pa);
    free(ra), free(mag);
    nn_qnet_free(net);
}

Test(nn_qnet, gradients_with_three_heads_dueling_and_prior_match_finite_differences)
{
    nn_qnet_config c = ref_full_config();
    check_gradients_on(&c, 3, 0);
}

Test(nn_qnet, gradients_through_the_direct_first_convolution_match_finite_differences)
{
    nn_qnet_config c = ref_full_config();
    c.in_h = 8;
    c.conv_filters[0] = 16; /* a multiple of 16 takes the direct kernel */
    check_gradients_on(&c, 4, 1);
}

Test(nn_qnet, gradients_of_heads_on_a_shared_dense_layer_without_conv_match_finite_differences)
{
    nn_qnet_config c = ref_full_config();
    c.n_conv = 0;
    c.n_shared = 2;
    c.shared[1] = 4;
    c.n_dense = 0;
    check_gradients_on(&c, 3, 0);
}

Test(nn_qnet, gradients_of_a_single_head_mlp_match_finite_differences)
{
    nn_qnet_config c = ref_full_config();
    c.n_conv = 0;
    c.n_shared = 0;
    c.n_dense = 1;
    c.n_heads = 1;
    c.dueling = 0;
    c.prior_scale = 0.0f;
    check_gradients_on(&c, 4, 0);
}

Test(nn_qnet, gradients_of_the_minatar_net_at_a_large_batch_match_finite_differences, .timeout = 60)
{
    nn_qnet_config c = nn_qnet_config_minatar(2, 3);
    c.in_h = 5;
    c.in_w = 5;
    c.dense[0] = 8;
    c.conv_filters[0] = 4;
    c.n_heads = 2;
    c.max_batch = 20;
    check_gradients_on(&c, 20, 0); /* the sgemm path of every layer */
}

Test(nn_qnet, every_kernel_choice_gives_the_reference_forward_and_gradients)
{
    /* Two convolutions of 16 filters, so both can run either kernel; the mixed choices cover
     * a backward that needs im2col after a direct forward (layer 1) and each first-layer
     * gradient candidate with and without cols. */
    nn_qnet_config c = ref_full_config();
    c.in_h = 5;
    c.in_w = 5;
    c.conv_filters[0] = 16;
    c.conv_filters[1] = 16;
    c.shared[0] = 4;
    const char *specs[] = {
        "linear_forward=sgemm,linear_backward_dw=sgemm,conv_forward=im2col,conv_backward_dw=im2col",
        "linear_forward=small,linear_backward_dw=small,conv_forward=direct,conv_backward_dw=direct",
        "linear_forward=small,linear_backward_dw=sgemm,conv_forward=direct,conv_backward_dw=im2col",
        "linear_forward=sgemm,linear_backward_dw=small,conv_forward=im2col,conv_backward_dw=direct",
        "", /* measured */
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        shoal_err err = {0};
        cr_assert_eq(nn_kernels_force(specs[k], &err), SHOAL_OK, "%s", err.msg);
        check_forward_on(&c, 3, 1);
        check_gradients_on(&c, 2, 1);
    }
}

Test(nn_qnet, dueling_aggregates_v_plus_a_minus_mean_a_and_back)
{
    nn_qnet_config c = {.in_h = 1, .in_w = 1, .in_c = 1, .n_actions = 3, .n_heads = 1,
                        .dueling = 1, .max_batch = 1};
    nn_qnet *net = make(&c);
    float *p = nn_qnet_params(net);
    nn_param_view w = nn_qnet_view(net, 0, 0), b = nn_qnet_view(net, 0, 1);
    cr_assert_eq(b.n, 4, "3 advantages and a value");
    memset(p + w.offset, 0, w.n * 4);
    float bias[4] = {1, 2, 3, 1}; /* A = (1, 2, 3), V = 1 */
    memcpy(p + b.offset, bias, sizeof bias);
    float x = 0.0f, q[3], dq[3] = {1, 0, 0};
    nn_qnet_forward_train(net, &x, 1, q);
    cr_assert_float_eq(q[0], 0.0f, 1e-6f);
    cr_assert_float_eq(q[1], 1.0f, 1e-6f);
    cr_assert_float_eq(q[2], 2.0f, 1e-6f);
    nn_qnet_backward(net, dq, 1);
    const float *g = nn_qnet_grads(net) + b.offset;
    cr_assert_float_eq(g[0], 2.0f / 3.0f, 1e-6f);
    cr_assert_float_eq(g[1], -1.0f / 3.0f, 1e-6f);
    cr_assert_float_eq(g[2], -1.0f / 3.0f, 1e-6f);
    cr_assert_float_eq(g[3], 1.0f, 1e-6f);
    nn_qnet_free(net);
}

Test(nn_qnet, k_identical_heads_give_the_torso_the_gradient_of_one_head)
{
    nn_qnet_config c1 = nn_qnet_config_minatar(3, 4), c4 = c1;
    c1.max_batch = c4.max_batch = 8;
    c4.n_heads = 4;
    nn_qnet *one = make(&c1), *four = make(&c4);
    /* The two networks run GEMMs of different widths (one head, four fused), which OpenBLAS
     * may sum in different orders. Small-integer parameters, binary inputs and gradients in
     * {-1, 0, 1} make every sum exact (nn_ref.h), so the comparisons below are bit-exact by
     * construction and test the fused layout and the 1/K torso scaling, not rounding. */
    rng g;
    rng_init(&g, 22, RNG_ROLE_TOOL, 0, 0);
    ref_params_small_integers(one, &g);
    ref_params_small_integers(four, &g);
    /* Copy one's torso and head 0 into each of four's heads. */
    float *p1 = nn_qnet_params(one), *p4 = nn_qnet_params(four);
    for (size_t L = 0; L < nn_qnet_n_layers(four); L++) {
        for (int which = 0; which < 2; which++) {
            nn_param_view v1 = nn_qnet_view(one, L, which), v4 = nn_qnet_view(four, L, which);
            if (L == 0) {
                memcpy(p4 + v4.offset, p1 + v1.offset, v1.n * 4);
                continue;
            }
            size_t n_out = which ? v1.n : (L == 1 ? 128 : 4), rows = v1.n / n_out;
            for (size_t k = 0; k < 4; k++) {
                for (size_t i = 0; i < rows; i++) {
                    /* layer 1 is fused (n_in, K*n_out); the output layer is (K, n_in, n_out) */
                    size_t at = L == 1 && !which ? (i * 4 + k) * n_out : (k * rows + i) * n_out;
                    memcpy(p4 + v4.offset + at, p1 + v1.offset + i * n_out, n_out * 4);
                }
            }
        }
    }
    enum { B = 8 };
    float x[B * 300], q1[B * 4], q4[B * 16], dq1[B * 4], dq4[B * 16];
    ref_fill_input(x, B * 300, &g, 1);
    for (size_t i = 0; i < B * 4; i++) {
        dq1[i] = (float)rng_below(&g, 3) - 1.0f;
    }
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < 4; k++) {
            memcpy(dq4 + (i * 4 + k) * 4, dq1 + i * 4, 16);
        }
    }
    nn_qnet_forward_train(one, x, B, q1);
    nn_qnet_forward_train(four, x, B, q4);
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < 4; k++) {
            cr_assert_eq(memcmp(q4 + (i * 4 + k) * 4, q1 + i * 4, 16), 0, "head %zu differs", k);
        }
    }
    nn_qnet_backward(one, dq1, B);
    nn_qnet_backward(four, dq4, B);
    nn_param_view w = nn_qnet_view(one, 0, 0);
    cr_assert_eq(memcmp(nn_qnet_grads(four) + w.offset, nn_qnet_grads(one) + w.offset,
                        (w.n + 16) * 4), 0, "torso gradient with K=4 identical heads differs");
    nn_qnet_free(one);
    nn_qnet_free(four);
}

Test(nn_qnet, inference_between_training_forward_and_backward_changes_nothing)
{
    nn_qnet_config c = ref_full_config();
    nn_qnet *net = make(&c);
    size_t nx = 4 * nn_qnet_in_floats(net), nt = nn_qnet_n_trainable(net);
    float *x = malloc(nx * 4), *x2 = malloc(nx * 4), q[36], q2[36], dq[36];
    rng g;
    rng_init(&g, 23, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, nx, &g, -1, 1);
    ref_fill(x2, nx, &g, -1, 1);
    ref_fill(dq, 36, &g, -1, 1);
    nn_qnet_forward_train(net, x, 4, q);
    nn_qnet_backward(net, dq, 4);
    float *before = malloc(nt * 4);
    memcpy(before, nn_qnet_grads(net), nt * 4);
    nn_qnet_forward_train(net, x, 4, q);
    nn_qnet_forward(net, x2, 4, q2);
    nn_qnet_backward(net, dq, 4);
    cr_assert_eq(memcmp(before, nn_qnet_grads(net), nt * 4), 0);
    free(x), free(x2), free(before);
    nn_qnet_free(net);
}

Test(nn_qnet, the_prior_adds_beta_times_a_fixed_network_and_gets_no_gradient)
{
    nn_qnet_config c = ref_full_config(), plain = c;
    plain.prior_scale = 0.0f;
    nn_qnet *net = make(&c), *f = make(&plain);
    size_t nt = nn_qnet_n_trainable(net);
    cr_assert_eq(nn_qnet_n_params(net), 2 * nt);
    cr_assert_eq(nn_qnet_n_trainable(f), nt);
    cr_assert_eq(memcmp(nn_qnet_params(net), nn_qnet_params(f), nt * 4), 0);
    cr_assert_neq(memcmp(nn_qnet_params(net), nn_qnet_params(net) + nt, nt * 4), 0,
                  "the prior must have its own random weights");
    float x[4 * 60], q[36], qf[36], dq[36];
    rng g;
    rng_init(&g, 24, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, 240, &g, -1, 1);
    ref_fill(dq, 36, &g, -1, 1);
    nn_qnet_forward_train(net, x, 4, q);
    nn_qnet_forward_train(f, x, 4, qf);
    /* prior alone = (Q - f) / β: copy the prior into f's params and compare */
    memcpy(nn_qnet_params(f), nn_qnet_params(net) + nt, nt * 4);
    float qp[36];
    nn_qnet_forward(f, x, 4, qp);
    for (int i = 0; i < 36; i++) {
        cr_assert_float_eq(q[i], qf[i] + 0.7f * qp[i], 1e-5f, "Q[%d]", i);
    }
    float *prior = malloc(nt * 4);
    memcpy(prior, nn_qnet_params(net) + nt, nt * 4);
    nn_qnet_backward(net, dq, 4);
    cr_assert_eq(memcmp(prior, nn_qnet_params(net) + nt, nt * 4), 0);
    free(prior);
    nn_qnet_free(net);
    nn_qnet_free(f);
}

Test(nn_qnet, heads_start_different_and_a_prior_differs_from_its_head)
{
    nn_qnet_config c = nn_qnet_config_minatar(4, 3);
    c.n_heads = 2;
    nn_qnet *net = make(&c);
    nn_param_view out = nn_qnet_view(net, 2, 0);
    const float *p = nn_qnet_params(net) + out.offset;
    cr_assert_neq(memcmp(p, p + out.n / 2, out.n / 2 * 4), 0, "heads 0 and 1 are identical");
    nn_qnet_free(net);
}

Test(nn_qnet, params_copy_and_blob_import_refuse_another_architecture)
{
    nn_qnet_config a = nn_qnet_config_minatar(4, 3), b = nn_qnet_config_minatar(4, 6);
    a.max_batch = b.max_batch = 2;
    nn_qnet *na = make(&a), *nb = make(&b), *na2 = NULL;
    a.seed = 99;
    na2 = make(&a);
    shoal_err err = {0};
    cr_assert_eq(nn_qnet_copy_params(nb, na, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "act=6") != NULL, "%s", err.msg);
    cr_assert_eq(nn_qnet_copy_params(na2, na, &err), SHOAL_OK);
    cr_assert_eq(memcmp(nn_qnet_params(na2), nn_qnet_params(na), nn_qnet_blob_bytes(na)), 0);

    size_t n = nn_qnet_blob_bytes(na);
    uint8_t *blob = malloc(n);
    cr_assert_eq(nn_qnet_blob_export(na, blob, n - 1, &err), SHOAL_EINVAL);
    cr_assert_eq(nn_qnet_blob_export(na, blob, n, &err), SHOAL_OK);
    cr_assert_eq(nn_qnet_blob_import(nb, blob, n, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "another architecture") != NULL, "%s", err.msg);
    memset(nn_qnet_params(na2), 0, n);
    cr_assert_eq(nn_qnet_blob_import(na2, blob, n, &err), SHOAL_OK);
    cr_assert_eq(memcmp(nn_qnet_params(na2), nn_qnet_params(na), n), 0);
    free(blob);
    nn_qnet_free(na);
    nn_qnet_free(nb);
    nn_qnet_free(na2);
}

/* What nn_qnet_backward_notify reported: each call's first, and grads as they were then. */
typedef struct ready_log {
    const nn_qnet *net;
    size_t n_calls;
    size_t first[NN_QNET_MAX_LAYERS + 1];
    float *seen[NN_QNET_MAX_LAYERS + 1];
} ready_log;

static void log_ready(void *ctx, size_t first)
{
    ready_log *log = ctx;
    cr_assert_lt(log->n_calls, NN_QNET_MAX_LAYERS + 1);
    size_t nt = nn_qnet_n_trainable(log->net);
    log->first[log->n_calls] = first;
    log->seen[log->n_calls] = malloc(nt * sizeof(float));
    memcpy(log->seen[log->n_calls], nn_qnet_grads(log->net), nt * sizeof(float));
    log->n_calls++;
}

Test(nn_qnet, backward_reports_each_finished_suffix_of_the_gradients_last_layer_first)
{
    nn_qnet_config c = ref_full_config();
    nn_qnet *net = make(&c);
    size_t nx = 4 * nn_qnet_in_floats(net), nt = nn_qnet_n_trainable(net);
    float *x = malloc(nx * 4), q[36], dq[36], *plain = malloc(nt * 4);
    rng g;
    rng_init(&g, 29, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, nx, &g, -1, 1);
    ref_fill(dq, 36, &g, -1, 1);
    nn_qnet_forward_train(net, x, 4, q);
    nn_qnet_backward(net, dq, 4);
    memcpy(plain, nn_qnet_grads(net), nt * 4);
    ready_log log = {.net = net};
    nn_qnet_backward_notify(net, dq, 4, log_ready, &log);
    cr_assert_eq(memcmp(plain, nn_qnet_grads(net), nt * 4), 0, "same bits as nn_qnet_backward");
    /* one call per layer, last layer first, at that layer's weight, ending at 0 */
    size_t L = nn_qnet_n_layers(net);
    cr_assert_eq(log.n_calls, L);
    for (size_t i = 0; i < log.n_calls; i++) {
        cr_assert_eq(log.first[i], nn_qnet_view(net, L - 1 - i, 0).offset, "call %zu", i);
        /* the suffix reported final was final: nothing wrote it later in the pass */
        size_t f = log.first[i];
        cr_assert_eq(memcmp(log.seen[i] + f, plain + f, (nt - f) * 4), 0, "call %zu", i);
        free(log.seen[i]);
    }
    cr_assert_eq(log.first[log.n_calls - 1], 0);
    free(x), free(plain);
    nn_qnet_free(net);
}

Test(nn_qnet, a_replica_reads_its_owners_parameters_in_place_with_its_own_gradients)
{
    nn_qnet_config c = ref_full_config();
    nn_qnet *net = make(&c);
    shoal_err err = {0};
    nn_qnet *rep = nn_qnet_new_replica(net, 2, &err);
    cr_assert_not_null(rep, "%s", err.msg);
    cr_assert_eq(nn_qnet_params(rep), nn_qnet_params(net));
    cr_assert_neq(nn_qnet_grads(rep), nn_qnet_grads(net));
    cr_assert_str_eq(nn_qnet_arch(rep), nn_qnet_arch(net));
    size_t nx = 2 * nn_qnet_in_floats(net), nt = nn_qnet_n_trainable(net);
    float *x = malloc(nx * 4), q[18], qr[18], dq[18];
    rng g;
    rng_init(&g, 31, RNG_ROLE_TOOL, 0, 0);
    ref_fill(x, nx, &g, -1, 1);
    ref_fill(dq, 18, &g, -1, 1);
    for (int round = 0; round < 2; round++) {
        nn_qnet_forward_train(net, x, 2, q);
        nn_qnet_forward_train(rep, x, 2, qr);
        cr_assert_eq(memcmp(q, qr, sizeof q), 0, "round %d", round);
        nn_qnet_backward(net, dq, 2);
        nn_qnet_backward(rep, dq, 2);
        cr_assert_eq(memcmp(nn_qnet_grads(net), nn_qnet_grads(rep), nt * 4), 0);
        /* a parameter change on the owner is the replica's at once */
        nn_qnet_params(net)[nn_qnet_view(net, nn_qnet_n_layers(net) - 1, 1).offset] += 0.5f;
    }
    nn_qnet *rep2 = nn_qnet_new_replica(rep, 1, &err);
    cr_assert_not_null(rep2, "%s", err.msg);
    cr_assert_eq(nn_qnet_params(rep2), nn_qnet_params(net));
    nn_qnet_free(rep2);
    nn_qnet_free(rep);
    nn_qnet_free(net);
    free(x);
}
