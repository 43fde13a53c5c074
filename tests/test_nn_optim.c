#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nn/loss.h"
#include "nn/optim.h"
#include "nn_ref.h"

enum { N = 5, STEPS = 6 };

static const float grads[STEPS][N] = {
    {0.5f, -1.0f, 0.0f, 3.0f, -0.01f}, {-1.0f, -1.0f, 0.2f, 2.0f, 0.02f},
    {0.3f, 0.5f, -0.2f, 1.0f, -0.03f}, {0.0f, 0.1f, 0.0f, -4.0f, 0.5f},
    {1.5f, -0.2f, 0.1f, 0.0f, 0.0f},   {-0.7f, 0.3f, 0.9f, 0.5f, -0.2f},
};

/* Runs the optimizer STEPS times from p0 and compares with the double-precision rule. */
static void check_against(const nn_optim_config *c)
{
    shoal_err err = {0};
    nn_optim *o = nn_optim_new(c, N, &err);
    cr_assert_not_null(o, "%s", err.msg);
    float p[N] = {1.0f, -0.5f, 0.25f, 2.0f, 0.0f};
    double rp[N], s1[N] = {0}, s2[N] = {0};
    for (int i = 0; i < N; i++) {
        rp[i] = p[i];
    }
    for (int t = 1; t <= STEPS; t++) {
        nn_optim_step(o, p, grads[t - 1]);
        for (int i = 0; i < N; i++) {
            double g = grads[t - 1][i];
            if (c->kind == NN_OPTIM_ADAM) {
                rp[i] *= 1.0 - (double)c->lr * c->weight_decay;
                s1[i] = c->beta1 * s1[i] + (1 - (double)c->beta1) * g;
                s2[i] = c->beta2 * s2[i] + (1 - (double)c->beta2) * g * g;
                double mh = s1[i] / (1 - pow(c->beta1, t)), vh = s2[i] / (1 - pow(c->beta2, t));
                rp[i] -= c->lr * mh / (sqrt(vh) + c->eps);
            } else {
                s1[i] = c->decay * s1[i] + (1 - (double)c->decay) * g * g;
                s2[i] = c->decay * s2[i] + (1 - (double)c->decay) * g;
                double var = s1[i] - (c->centered ? s2[i] * s2[i] : 0.0);
                double den = c->eps_inside_root ? sqrt(var + c->eps) : sqrt(var) + c->eps;
                rp[i] -= c->lr * g / den;
            }
        }
    }
    double e = ref_max_rel_err(p, rp, N, 1e-3);
    cr_assert_lt(e, 1e-5, "kind %d: relative error %g against the double rule", c->kind, e);
    cr_assert_eq(nn_optim_steps(o), STEPS);
    nn_optim_free(o);
}

Test(nn_optim, adam_follows_the_pytorch_update_rule)
{
    nn_optim_config c = nn_optim_adam(0.1f);
    check_against(&c);
    c.eps = 3.125e-4f;
    c.weight_decay = 0.05f;
    check_against(&c);
}

/* A gradient that falls to zero and stays there lets the moments decay geometrically; they
 * must end at zero, never as subnormal floats (the slow path of x86 arithmetic), and the
 * parameters must keep the values the unfloored rule gives them to float rounding. */
static void check_moments_never_subnormal(const nn_optim_config *c)
{
    shoal_err err = {0};
    nn_optim *o = nn_optim_new(c, N, &err);
    cr_assert_not_null(o, "%s", err.msg);
    float p[N] = {1.0f, -0.5f, 0.25f, 2.0f, 0.0f}, zero[N] = {0};
    nn_optim_step(o, p, grads[0]);
    float after_first[N];
    memcpy(after_first, p, sizeof p);
    for (int t = 0; t < 3000; t++) {
        nn_optim_step(o, p, zero);
    }
    size_t n_state = 0;
    const float *state = nn_optim_state(o, &n_state);
    for (size_t i = 0; i < n_state; i++) {
        cr_assert_neq(fpclassify(state[i]), FP_SUBNORMAL, "kind %d: state[%zu] = %g is subnormal",
                      c->kind, i, (double)state[i]);
    }
    for (int i = 0; i < N; i++) {
        /* the decaying momentum keeps moving Adam's parameters for a while; RMSProp's not */
        cr_assert(isfinite(p[i]), "kind %d: p[%d] = %g", c->kind, i, (double)p[i]);
        if (c->kind != NN_OPTIM_ADAM) {
            cr_assert_eq(p[i], after_first[i], "kind %d: p[%d] moved on zero gradients", c->kind,
                         i);
        }
    }
    nn_optim_free(o);
}

Test(nn_optim, moments_of_a_gradient_that_stays_zero_end_at_zero_not_subnormal)
{
    nn_optim_config adam = nn_optim_adam(1e-4f);
    adam.eps = 3.125e-4f;
    check_moments_never_subnormal(&adam);
    nn_optim_config rms = nn_optim_rmsprop(1e-3f);
    check_moments_never_subnormal(&rms);
}

Test(nn_optim, the_first_adam_step_moves_every_parameter_by_about_lr)
{
    nn_optim_config c = nn_optim_adam(0.1f);
    nn_optim *o = nn_optim_new(&c, 1, NULL);
    float p = 1.0f, g = 0.5f;
    nn_optim_step(o, &p, &g);
    cr_assert_float_eq(p, 0.9f, 1e-6f, "m̂/√v̂ = sign(g) on step one");
    nn_optim_free(o);
}

Test(nn_optim, rmsprop_follows_both_epsilon_placements_centered_or_not)
{
    nn_optim_config c = nn_optim_rmsprop(0.01f);
    check_against(&c);
    c.eps_inside_root = 1;
    check_against(&c);
    c.centered = 0;
    check_against(&c);
}

Test(nn_optim, bad_hyper_parameters_are_rejected)
{
    shoal_err err = {0};
    nn_optim_config c = nn_optim_adam(0.0f);
    cr_assert_null(nn_optim_new(&c, 3, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    c = nn_optim_adam(1e-3f);
    c.beta2 = 1.0f;
    cr_assert_null(nn_optim_new(&c, 3, &err));
    c.kind = (nn_optim_kind)7;
    cr_assert_null(nn_optim_new(&c, 3, &err));
    cr_assert(strstr(err.msg, "unknown kind") != NULL, "%s", err.msg);
    c = nn_optim_rmsprop(1e-3f);
    c.decay = -0.5f;
    cr_assert_null(nn_optim_new(&c, 3, &err));
}

/* Regress Q toward fixed targets with the TD loss; returns final / initial loss. */
static float regress(const nn_optim_config *oc, int steps)
{
    nn_qnet_config c = {.in_h = 6, .in_w = 6, .in_c = 3, .n_conv = 1, .conv_filters = {8},
                        .n_dense = 1, .dense = {32}, .n_actions = 4, .n_heads = 2,
                        .dueling = 1, .prior_scale = 1.0f, .max_batch = 32, .seed = 5};
    enum { B = 32, K = 2, A = 4 };
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(&c, &err);
    nn_optim *o = nn_optim_new(oc, nn_qnet_n_trainable(net), &err);
    cr_assert(net && o, "%s", err.msg);
    static float x[B * 108], y[B * K], q[B * K * A], dq[B * K * A];
    uint32_t act[B];
    rng g;
    rng_init(&g, 40, RNG_ROLE_TOOL, 0, 0);
    for (size_t i = 0; i < B * 108; i++) {
        x[i] = (float)rng_bernoulli(&g, 0.2); /* binary, sparse, as MinAtar observations */
    }
    ref_fill(y, B * K, &g, -1, 1);
    for (size_t i = 0; i < B; i++) {
        act[i] = (uint32_t)rng_below(&g, A);
    }
    nn_td_batch b = {{B, K, A}, act, y, NULL, NULL};
    float first = 0.0f, last = 0.0f;
    for (int s = 0; s < steps; s++) {
        nn_qnet_forward_train(net, x, B, q);
        last = nn_loss_td(dq, NULL, q, &b);
        first = s == 0 ? last : first;
        nn_qnet_backward(net, dq, B);
        nn_optim_step(o, nn_qnet_params(net), nn_qnet_grads(net));
    }
    nn_optim_free(o);
    nn_qnet_free(net);
    return last / first;
}

Test(nn_optim, training_toward_fixed_targets_cuts_the_loss_a_hundredfold, .timeout = 60)
{
    nn_optim_config adam = nn_optim_adam(3e-3f);
    float ratio = regress(&adam, 400);
    cr_assert_lt(ratio, 0.01f, "Adam: loss fell only to %g of its start", ratio);
    nn_optim_config rms = nn_optim_rmsprop(1e-3f);
    ratio = regress(&rms, 400);
    cr_assert_lt(ratio, 0.01f, "RMSProp: loss fell only to %g of its start", ratio);
}
