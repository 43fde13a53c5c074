/* learner_update's learning rules against references computed outside it: today's loss
 * unchanged bit for bit, Ape-X DQfD's transformed target and its temporal-consistency gradient
 * through the online network on s'. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learner/update.h"
#include "learner_fixtures.h"
#include "nn/loss.h"
#include "nn_ref.h"

static learner_update *update_from(const learner_update_config *c)
{
    shoal_err err = {0};
    learner_update *u = learner_update_new(c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    return u;
}

Test(learner_update, with_the_apex_options_off_an_update_is_todays_computation_bit_for_bit)
{
    enum { B = 8 };
    lx_data data;
    lx_data_init(&data, B, 5);
    learner_update_config c = lx_config(B, 1e-3f);
    /* an ε without the transform, as a config file may leave it, changes nothing */
    c.target_transform = 0;
    c.transform_eps = 0.5f;
    c.lambda_tc = 0.0f;
    learner_update *u = update_from(&c);
    learner_batch b = lx_batch(&data, 0, B);
    float prio[B], prio_ref[B];
    learner_loss loss;
    shoal_err err = {0};
    cr_assert_eq(learner_update_step(u, &b, prio, &loss, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(loss.tc, 0.0f);

    /* The update as it was computed before the Ape-X options existed, from the parts. */
    nn_qnet *net = nn_qnet_new(&c.net, &err), *target = nn_qnet_new(&c.net, &err);
    cr_assert(net && target);
    nn_qnet_copy_params(target, net, NULL);
    size_t A = c.net.n_actions, K = c.net.n_heads, n = B * K * A;
    float *q = malloc(n * 4), *qn = malloc(n * 4), *qt = malloc(n * 4), *dq = malloc(n * 4);
    float y[B * 8];
    cr_assert_leq(K, 8);
    nn_loss_dims d = {B, K, A};
    nn_qnet_forward_train(net, b.obs, B, q);
    nn_qnet_forward(net, b.next_obs, B, qn);
    nn_qnet_forward(target, b.next_obs, B, qt);
    nn_loss_targets(y, qn, qt, b.reward, b.discount, &d, 1);
    nn_td_batch tb = {.dims = d, .actions = b.action, .targets = y, .mask_bits = NULL,
                      .weights = b.weight};
    float td = nn_loss_td(dq, prio_ref, q, &tb);
    float margin = nn_loss_margin(dq, q, b.action, b.demo, b.weight, &d, c.margin,
                                  c.lambda_demo);
    nn_qnet_backward(net, dq, B);
    float l2 = nn_loss_l2(nn_qnet_grads(net), nn_qnet_params(net), nn_qnet_n_trainable(net), c.l2);

    cr_assert_eq(memcmp(prio, prio_ref, sizeof prio), 0, "priorities differ");
    cr_assert_eq(loss.td, td);
    cr_assert_eq(loss.margin, margin);
    cr_assert_eq(loss.l2, l2);
    cr_assert_eq(memcmp(nn_qnet_grads(learner_update_net(u)), nn_qnet_grads(net),
                        nn_qnet_n_trainable(net) * sizeof(float)), 0, "gradients differ");
    free(q), free(qn), free(qt), free(dq);
    nn_qnet_free(net);
    nn_qnet_free(target);
    learner_update_free(u);
    lx_data_fini(&data);
}

/* A small single-head network (convolutions, a prior, no dueling) for the Ape-X checks. */
static learner_update_config apex_config(size_t B)
{
    learner_update_config c;
    memset(&c, 0, sizeof c);
    c.net = ref_full_config();
    c.net.n_heads = 1;
    c.net.dueling = 0;
    c.net.max_batch = B;
    c.optim = nn_optim_adam(1e-3f);
    c.double_q = 1;
    c.target_period = 1000;
    c.target_transform = 1;
    c.transform_eps = 1e-2f;
    return c;
}

Test(learner_update, the_apex_target_is_h_of_the_return_plus_the_discounted_h_inverse)
{
    enum { B = 4 };
    /* unclipped rewards of any scale, and a terminal (discount 0) that bootstraps nothing */
    float R[B] = {250.0f, -40.0f, 0.0f, 1.0f}, C[B] = {0.97f, 0.99f, 0.0f, 0.5f};
    uint32_t act[B] = {2, 0, 1, 2};
    for (int double_q = 0; double_q <= 1; double_q++) {
        learner_update_config c = apex_config(B);
        c.double_q = double_q;
        learner_update *u = update_from(&c);
        size_t nx = B * c.net.in_h * c.net.in_w * c.net.in_c, A = c.net.n_actions;
        float *x = malloc(nx * 4), *xn = malloc(nx * 4), q[B * 3], qn[B * 3], qt[B * 3];
        cr_assert_eq(A, 3);
        rng g;
        rng_init(&g, 40, RNG_ROLE_TOOL, 0, 0);
        ref_fill_input(x, nx, &g, 0);
        ref_fill_input(xn, nx, &g, 0);
        /* a target net unlike the online one, so that the two argmaxes can differ */
        float *tp = nn_qnet_params(learner_update_target(u));
        for (size_t i = 0; i < nn_qnet_n_trainable(learner_update_target(u)); i++) {
            tp[i] += 0.3f * (rng_uniform_f(&g) - 0.5f);
        }
        nn_qnet_forward(learner_update_net(u), x, B, q);
        nn_qnet_forward(learner_update_net(u), xn, B, qn);
        nn_qnet_forward(learner_update_target(u), xn, B, qt);
        learner_batch b = {.count = B, .obs = x, .next_obs = xn, .action = act, .reward = R,
                           .discount = C};
        float prio[B];
        shoal_err err = {0};
        cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
        for (size_t i = 0; i < B; i++) {
            const float *chooser = double_q ? qn + i * A : qt + i * A;
            double boot = ref_value_h_inv(qt[i * A + nn_argmax(chooser, A)], c.transform_eps);
            double inner = R[i] + (double)C[i] * boot;
            double y = ref_value_h(inner, c.transform_eps), qa = q[i * A + act[i]];
            double want = fabs(y - qa);
            /* float32 roundings: h⁻¹ (scaled by C and by h' <= 1/2 + ε), R + C·v (two), h and
             * y - Q, each at most 2^-24 of its own magnitude */
            double bound = ref_gamma(4) * (fabs(y) + fabs(qa) + fabs(inner) + C[i] * fabs(boot));
            cr_assert_leq(fabs(prio[i] - want), bound, "double_q %d sample %zu: |δ| %.9g, "
                          "want %.9g", double_q, i, prio[i], want);
        }
        /* the transform squashes: |y| for R = 250 is far below 250 */
        cr_assert_lt(prio[0], 40.0f);
        free(x), free(xn);
        learner_update_free(u);
    }
}

/* The whole loss of one Ape-X update in double, as a function of the online parameters p, with
 * every constant of the update (targets y, the TC argmax a', the target's values) fixed:
 * Σ_i w_i/B huber(y_i - Q(s_i, a_i)) + λ Σ_i w_i/B huber(Q(s'_i, a'_i) - Q̄(s'_i, a'_i)).
 * With magnitude set, the same derivative's magnitudes: |w|/B and λ|w|/B against the magnitude
 * network (nn_ref.h) of |p| on |x|. */
typedef struct apex_problem {
    const nn_qnet_config *c;
    size_t B, n_params, nt;
    double *x2;          /* (2B, H, W, C): s then s' */
    const uint32_t *act; /* (B) */
    const size_t *a_next;
    const double *y, *qbar, *w;
    double lambda;
} apex_problem;

static double huber_d(double d)
{
    return fabs(d) <= 1.0 ? 0.5 * d * d : fabs(d) - 0.5;
}

static double apex_loss(const apex_problem *pr, const double *p, int magnitude)
{
    size_t A = pr->c->n_actions, B = pr->B;
    double *q = malloc(2 * B * A * sizeof *q), L = 0.0;
    if (magnitude) {
        ref_qnet_magnitude(pr->c, p, pr->n_params, pr->nt, pr->x2, 2 * B, q);
    } else {
        ref_qnet(pr->c, p, pr->nt, pr->x2, 2 * B, q);
    }
    for (size_t i = 0; i < B; i++) {
        double qa = q[i * A + pr->act[i]], qn = q[(B + i) * A + pr->a_next[i]];
        if (magnitude) {
            L += pr->w[i] / (double)B * (qa + pr->lambda * qn);
        } else {
            L += pr->w[i] / (double)B * (huber_d(pr->y[i] - qa) +
                                         pr->lambda * huber_d(qn - pr->qbar[i]));
        }
    }
    free(q);
    return L;
}

Test(learner_update, the_tc_gradient_through_the_online_net_on_s_next_matches_finite_differences)
{
    enum { B = 3 };
    learner_update_config c = apex_config(B);
    c.lambda_tc = 0.7f;
    learner_update *u = update_from(&c);
    nn_qnet *net = learner_update_net(u), *target = learner_update_target(u);
    size_t in = nn_qnet_in_floats(net), A = c.net.n_actions;
    size_t n_params = nn_qnet_n_params(net), nt = nn_qnet_n_trainable(net);
    float *x2 = malloc(2 * B * in * 4), w[B] = {1.0f, 0.4f, 0.75f}, C[B] = {0.9f, 0.0f, 0.81f};
    float q[2 * B * 3], qt[B * 3], R[B];
    uint32_t act[B] = {1, 2, 0};
    rng g;
    rng_init(&g, 41, RNG_ROLE_TOOL, 0, 0);
    ref_fill_input(x2, 2 * B * in, &g, 0);
    /* The target differs from the online net by a shift of each action's output bias, so every
     * TC difference Q(s', a) - Q̄(s', a) is minus that shift: past the Huber kink, linear. */
    const float shift[3] = {2.0f, -2.5f, 1.75f};
    nn_param_view bias = nn_qnet_view(target, nn_qnet_n_layers(target) - 1, 1);
    cr_assert_eq(bias.n, A);
    for (size_t a = 0; a < A; a++) {
        nn_qnet_params(target)[bias.offset + a] += shift[a];
    }
    nn_qnet_forward(net, x2, B, q);
    nn_qnet_forward(net, x2 + B * in, B, q + B * A);
    nn_qnet_forward(target, x2 + B * in, B, qt);
    size_t a_next[B];
    double y[B], qbar[B], wd[B];
    for (size_t i = 0; i < B; i++) {
        const float *qn = q + (B + i) * A;
        a_next[i] = nn_argmax(qn, A);
        for (size_t a = 0; a < A; a++) {
            cr_assert(a == a_next[i] || qn[a_next[i]] - qn[a] > 1e-3f, "argmax near a tie");
        }
        qbar[i] = qt[i * A + a_next[i]];
        /* R puts every TD difference at ±2 in the transformed space, past the kink too */
        double want = q[i * A + act[i]] + (i % 2 ? -2.0 : 2.0);
        double boot = ref_value_h_inv(qt[i * A + a_next[i]], c.transform_eps);
        R[i] = (float)(ref_value_h_inv(want, c.transform_eps) - C[i] * boot);
        y[i] = ref_value_h(R[i] + (double)C[i] * boot, c.transform_eps);
        wd[i] = w[i];
    }
    double *p = ref_to_double(nn_qnet_params(net), n_params);
    learner_batch b = {.count = B, .obs = x2, .next_obs = x2 + B * in, .action = act,
                       .reward = R, .discount = C, .weight = w};
    float prio[B];
    learner_loss loss;
    shoal_err err = {0};
    cr_assert_eq(learner_update_step(u, &b, prio, &loss, &err), SHOAL_OK, "%s", err.msg);
    for (size_t i = 0; i < B; i++) {
        cr_assert_float_eq(prio[i], 2.0f, 1e-4f, "the TD difference was placed at ±2");
    }
    double tc_want = 0.0;
    for (size_t i = 0; i < B; i++) {
        tc_want += c.lambda_tc * w[i] / B * (fabs((double)shift[a_next[i]]) - 0.5);
    }
    cr_assert_float_eq(loss.tc, tc_want, 1e-5 * tc_want, "λ L_TC %g, want %g", loss.tc, tc_want);

    apex_problem pr = {&c.net, B, n_params, nt, ref_to_double(x2, 2 * B * in), act, a_next,
                       y, qbar, wd, c.lambda_tc};
    double *num = malloc(nt * sizeof *num), *g_mag = malloc(nt * sizeof *g_mag);
    double *pa = ref_abs(p, n_params);
    const double h = 1e-5;
    for (size_t i = 0; i < nt; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = apex_loss(&pr, p, 0);
        p[i] = keep - h;
        num[i] = (up - apex_loss(&pr, p, 0)) / (2.0 * h);
        p[i] = keep;
        /* magnitudes step upwards only, so that |p[i]| never folds over at zero */
        double m0 = apex_loss(&pr, pa, 1);
        keep = pa[i];
        pa[i] = keep + h;
        g_mag[i] = (apex_loss(&pr, pa, 1) - m0) / h;
        pa[i] = keep;
    }
    /* As nn_qnet's gradient test (nn_ref.h): each term is a forward chain times a backward
     * chain, summed over the batch of 2B (s and s') and the convolution positions, plus the
     * one add that joins the TD and TC passes' gradients. */
    size_t n_ops = 2 * ref_qnet_chain_ops(&c.net) + 2 * B * c.net.in_h * c.net.in_w + 1;
    double loss_mag = apex_loss(&pr, pa, 1);
    double e = ref_gradient_bound_ratio(nn_qnet_grads(net), num, g_mag, nt, ref_gamma(n_ops),
                                        n_ops, loss_mag, h);
    cr_assert_leq(e, 1.0, "gradient differs by %g of its float32 bound", e);
    /* and the TC term is really in it: without it, the same update's gradient differs */
    learner_update_config c0 = c;
    c0.lambda_tc = 0.0f;
    learner_update *u0 = update_from(&c0);
    memcpy(nn_qnet_params(learner_update_target(u0)), nn_qnet_params(target),
           n_params * sizeof(float));
    cr_assert_eq(learner_update_step(u0, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
    double diff = 0.0;
    for (size_t i = 0; i < nt; i++) {
        diff += fabs((double)nn_qnet_grads(learner_update_net(u0))[i] - nn_qnet_grads(net)[i]);
    }
    cr_assert_gt(diff, 1e-3);
    free(x2), free(p), free(pr.x2), free(num), free(g_mag), free(pa);
    learner_update_free(u0);
    learner_update_free(u);
}

Test(learner_update, the_transform_is_refused_without_a_positive_epsilon)
{
    learner_update_config c = apex_config(2);
    c.transform_eps = 0.0f;
    shoal_err err = {0};
    cr_assert_null(learner_update_new(&c, MPI_COMM_NULL, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "transform_eps"), "%s", err.msg);
}
