#include <criterion/criterion.h>

#include "nn/loss.h"
#include "nn_ref.h"

Test(nn_loss, huber_has_the_specified_values_and_slopes)
{
    cr_assert_float_eq(nn_huber(0.5f), 0.125f, 1e-7f);
    cr_assert_float_eq(nn_huber(1.0f), 0.5f, 1e-7f);
    cr_assert_float_eq(nn_huber(2.0f), 1.5f, 1e-7f);
    cr_assert_float_eq(nn_huber(-3.0f), 2.5f, 1e-7f);
    cr_assert_float_eq(nn_huber_grad(-3.0f), -1.0f, 1e-7f);
    cr_assert_float_eq(nn_huber_grad(0.25f), 0.25f, 1e-7f);
    cr_assert_float_eq(nn_huber_grad(7.0f), 1.0f, 1e-7f);
}

Test(nn_loss, double_dqn_lets_the_online_net_choose_and_the_target_net_evaluate)
{
    /* specs/algorithms.md §8: Q_online(s') = (1,3,2), Q_target(s') = (5,0,4), r = 1, γ = 0.9 */
    float qo[3] = {1, 3, 2}, qt[3] = {5, 0, 4}, R = 1.0f, C = 0.9f, y;
    nn_loss_dims d = {1, 1, 3};
    nn_loss_targets(&y, qo, qt, &R, &C, &d, 1);
    cr_assert_float_eq(y, 1.0f, 1e-6f, "double y = 1 + 0.9 * 0");
    nn_loss_targets(&y, NULL, qt, &R, &C, &d, 0);
    cr_assert_float_eq(y, 5.5f, 1e-6f, "plain-max y = 1 + 0.9 * 5");
    C = 0.0f;
    nn_loss_targets(&y, qo, qt, &R, &C, &d, 1);
    cr_assert_float_eq(y, 1.0f, 1e-6f, "a terminal bootstraps nothing");
}

Test(nn_loss, each_head_bootstraps_from_its_own_target_head_and_ties_pick_the_lowest_action)
{
    /* B = 1, K = 2, A = 3; head 1's online values tie between actions 1 and 2 */
    float qo[6] = {9, 0, 0, 0, 4, 4}, qt[6] = {1, 2, 3, 10, 20, 30}, R = 0.5f, C = 0.5f, y[2];
    nn_loss_dims d = {1, 2, 3};
    nn_loss_targets(y, qo, qt, &R, &C, &d, 1);
    cr_assert_float_eq(y[0], 0.5f + 0.5f * 1.0f, 1e-6f);
    cr_assert_float_eq(y[1], 0.5f + 0.5f * 20.0f, 1e-6f);
    cr_assert_eq(nn_argmax((float[]){1, 5, 5, 2}, 4), 1);
}

/* The TD loss in double, for finite differences. */
static double td_ref(const double *q, const nn_td_batch *b)
{
    size_t B = b->dims.batch, K = b->dims.n_heads, A = b->dims.n_actions;
    double L = 0.0;
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < K; k++) {
            if (b->mask_bits && !(b->mask_bits[i] >> k & 1u)) {
                continue;
            }
            double delta = b->targets[i * K + k] - q[(i * K + k) * A + b->actions[i]];
            double h = fabs(delta) <= 1.0 ? 0.5 * delta * delta : fabs(delta) - 0.5;
            L += (b->weights ? b->weights[i] : 1.0) * h / (double)B;
        }
    }
    return L;
}

Test(nn_loss, td_loss_gradient_with_masks_and_weights_matches_finite_differences)
{
    enum { B = 6, K = 3, A = 4 };
    float q[B * K * A], y[B * K], w[B], dq[B * K * A], prio[B];
    uint32_t act[B] = {0, 3, 1, 2, 2, 0}, mask[B] = {7, 1, 6, 0, 5, 2};
    rng g;
    rng_init(&g, 30, RNG_ROLE_TOOL, 0, 0);
    ref_fill(q, B * K * A, &g, -2, 2);
    ref_fill(w, B, &g, 0.1f, 1);
    for (size_t i = 0; i < B * K; i++) {
        /* |δ| in [0.1, 0.8] or [1.2, 3]: no difference step crosses the Huber kink */
        float u = rng_uniform_f(&g), mag = i % 2 ? 0.1f + 0.7f * u : 1.2f + 1.8f * u;
        y[i] = q[(i / K * K + i % K) * A + act[i / K]] + (i % 3 ? mag : -mag);
    }
    nn_td_batch b = {{B, K, A}, act, y, mask, w};
    float L = nn_loss_td(dq, prio, q, &b);
    double *qd = ref_to_double(q, B * K * A), num[B * K * A];
    cr_assert_float_eq(L, td_ref(qd, &b), 1e-5, "loss %f vs %f", L, td_ref(qd, &b));
    for (size_t i = 0; i < B * K * A; i++) {
        double keep = qd[i], h = 1e-5;
        qd[i] = keep + h;
        double up = td_ref(qd, &b);
        qd[i] = keep - h;
        num[i] = (up - td_ref(qd, &b)) / (2 * h);
        qd[i] = keep;
    }
    double e = ref_max_rel_err(dq, num, B * K * A, 1e-3);
    cr_assert_lt(e, 1e-3, "relative error %g", e);
    free(qd);
}

Test(nn_loss, a_masked_head_gets_no_loss_and_priorities_average_the_trained_heads)
{
    /* B = 2, K = 2, A = 1: sample 0 trains head 1 only; sample 1 trains no head */
    float q[4] = {0, 0, 0, 0}, y[4] = {0.5f, -2.0f, 1.0f, 3.0f}, dq[4], prio[2];
    uint32_t act[2] = {0, 0}, mask[2] = {2, 0};
    nn_td_batch b = {{2, 2, 1}, act, y, mask, NULL};
    float L = nn_loss_td(dq, prio, q, &b);
    cr_assert_float_eq(L, 1.5f / 2.0f, 1e-6f, "only huber(-2) = 1.5, over B = 2");
    cr_assert_eq(dq[0], 0.0f);
    cr_assert_float_eq(dq[1], 0.5f, 1e-6f, "-(1/B) * clip(-2) = 0.5");
    cr_assert_eq(dq[2], 0.0f);
    cr_assert_eq(dq[3], 0.0f);
    cr_assert_float_eq(prio[0], 2.0f, 1e-6f, "|δ| of the one trained head");
    cr_assert_float_eq(prio[1], 2.0f, 1e-6f, "no head trained: the mean over all, (1 + 3) / 2");
}

Test(nn_loss, importance_weights_scale_loss_and_gradient)
{
    float q[2] = {0, 0}, y[2] = {0.5f, 0.5f}, w[2] = {1.0f, 0.25f}, dq[2];
    uint32_t act[2] = {0, 0};
    nn_td_batch b = {{2, 1, 1}, act, y, NULL, w};
    float L = nn_loss_td(dq, NULL, q, &b);
    cr_assert_float_eq(L, (0.125f + 0.25f * 0.125f) / 2.0f, 1e-7f);
    cr_assert_float_eq(dq[0], -0.25f, 1e-7f);
    cr_assert_float_eq(dq[1], -0.0625f, 1e-7f);
}

Test(nn_loss, the_margin_loss_pushes_the_demonstrated_action_above_the_rest_by_the_margin)
{
    /* sample 0: demo, a_E = 0, Q = (1, 2, 0.5): max(1, 2.8, 1.3) - 1 = 1.8
     * sample 1: demo, a_E = 0, Q = (3, 2, 1): the margin holds, loss 0, no gradient
     * sample 2: agent data: ignored */
    float q[9] = {1, 2, 0.5f, 3, 2, 1, 0, 9, 9}, dq[9] = {0};
    uint32_t act[3] = {0, 0, 0};
    uint8_t demo[3] = {1, 1, 0};
    nn_loss_dims d = {3, 1, 3};
    float L = nn_loss_margin(dq, q, act, demo, NULL, &d, 0.8f, 1.0f);
    cr_assert_float_eq(L, 1.8f / 3.0f, 1e-6f);
    float want[9] = {-1.0f / 3, 1.0f / 3, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) {
        cr_assert_float_eq(dq[i], want[i], 1e-6f, "dq[%d] = %f", i, dq[i]);
    }
}

static double margin_ref(const double *q, const uint32_t *act, const uint8_t *demo,
                         const float *w, size_t B, size_t K, size_t A, double lambda)
{
    double L = 0.0;
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; demo[i] && k < K; k++) {
            const double *qi = q + (i * K + k) * A;
            double best = -INFINITY;
            for (size_t a = 0; a < A; a++) {
                best = fmax(best, qi[a] + (a == act[i] ? 0.0 : 0.8));
            }
            L += lambda * w[i] * (best - qi[act[i]]) / (double)B;
        }
    }
    return L;
}

Test(nn_loss, margin_loss_gradient_matches_finite_differences_and_adds_into_dq)
{
    enum { B = 5, K = 2, A = 4 };
    float q[B * K * A], w[B], dq[B * K * A], base[B * K * A];
    uint32_t act[B] = {0, 1, 2, 3, 1};
    uint8_t demo[B] = {1, 1, 0, 1, 1};
    rng g;
    rng_init(&g, 31, RNG_ROLE_TOOL, 0, 0);
    /* values on a 0.1 grid offset by 0.013: no two candidates within a difference step */
    for (size_t i = 0; i < B * K * A; i++) {
        q[i] = 0.1f * (float)rng_below(&g, 30) + 0.013f * (float)(i % 7);
    }
    ref_fill(w, B, &g, 0.2f, 1);
    ref_fill(base, B * K * A, &g, -1, 1);
    memcpy(dq, base, sizeof dq);
    nn_loss_dims d = {B, K, A};
    float L = nn_loss_margin(dq, q, act, demo, w, &d, 0.8f, 0.5f);
    double *qd = ref_to_double(q, B * K * A), num[B * K * A];
    cr_assert_float_eq(L, margin_ref(qd, act, demo, w, B, K, A, 0.5), 1e-5);
    for (size_t i = 0; i < B * K * A; i++) {
        double keep = qd[i], h = 1e-4;
        qd[i] = keep + h;
        double up = margin_ref(qd, act, demo, w, B, K, A, 0.5);
        qd[i] = keep - h;
        num[i] = (up - margin_ref(qd, act, demo, w, B, K, A, 0.5)) / (2 * h) + base[i];
        qd[i] = keep;
    }
    double e = ref_max_rel_err(dq, num, B * K * A, 1e-2);
    cr_assert_lt(e, 1e-3, "relative error %g", e);
    free(qd);
}

Test(nn_loss, l2_adds_its_value_and_gradient)
{
    float p[3] = {1, -2, 0.5f}, g[3] = {1, 1, 1};
    float L = nn_loss_l2(g, p, 3, 0.1f);
    cr_assert_float_eq(L, 0.1f * 5.25f, 1e-6f);
    cr_assert_float_eq(g[0], 1.2f, 1e-6f);
    cr_assert_float_eq(g[1], 0.6f, 1e-6f);
    cr_assert_float_eq(g[2], 1.1f, 1e-6f);
    /* the added gradient equals the central difference of λθ² at θ = -2 */
    double h = 1e-4, up = 0.1 * (-2 + h) * (-2 + h), down = 0.1 * (-2 - h) * (-2 - h);
    cr_assert_float_eq(g[1] - 1.0f, (float)((up - down) / (2 * h)), 1e-5f);
}

/* Softmax cross-entropy in double, for finite differences. */
static double xent_ref(const double *q, const uint32_t *act, const float *w, size_t B, size_t K,
                       size_t A, double lambda)
{
    double L = 0.0;
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < K; k++) {
            const double *qi = q + (i * K + k) * A;
            double z = 0.0;
            for (size_t a = 0; a < A; a++) {
                z += exp(qi[a]);
            }
            L += lambda * (w ? w[i] : 1.0) * (log(z) - qi[act[i]]) / (double)B;
        }
    }
    return L;
}

Test(nn_loss, cross_entropy_value_and_gradient_match_finite_differences_on_every_head)
{
    enum { B = 5, K = 3, A = 4 };
    float q[B * K * A], w[B], dq[B * K * A], per[B];
    uint32_t act[B] = {0, 3, 1, 2, 2};
    rng g;
    rng_init(&g, 31, RNG_ROLE_TOOL, 0, 0);
    ref_fill(q, B * K * A, &g, -3, 3);
    ref_fill(w, B, &g, 0.1f, 1);
    nn_loss_dims d = {B, K, A};
    float L = nn_loss_xent(dq, per, q, act, w, &d, 0.5f);
    double *qd = ref_to_double(q, B * K * A), num[B * K * A];
    double want = xent_ref(qd, act, w, B, K, A, 0.5);
    cr_assert_float_eq(L, want, 1e-5, "loss %f vs %f", L, want);
    for (size_t i = 0; i < B * K * A; i++) {
        double keep = qd[i], h = 1e-5;
        qd[i] = keep + h;
        double up = xent_ref(qd, act, w, B, K, A, 0.5);
        qd[i] = keep - h;
        num[i] = (up - xent_ref(qd, act, w, B, K, A, 0.5)) / (2 * h);
        qd[i] = keep;
    }
    double e = ref_max_rel_err(dq, num, B * K * A, 1e-3);
    cr_assert_lt(e, 1e-3, "relative error %g", e);
    /* per-sample: the mean over heads of each sample's unweighted cross-entropy */
    double s0 = xent_ref(qd, act, NULL, 1, K, A, 1.0) / (double)K;
    cr_assert_float_eq(per[0], s0, 1e-5, "%f vs %f", per[0], s0);
    free(qd);
}

Test(nn_loss, cross_entropy_stays_finite_for_large_logits)
{
    float q[3] = {1000.0f, 0.0f, -1000.0f}, dq[3];
    uint32_t act = 2;
    nn_loss_dims d = {1, 1, 3};
    float L = nn_loss_xent(dq, NULL, q, &act, NULL, &d, 1.0f);
    cr_assert_float_eq(L, 2000.0f, 1e-2f);
    cr_assert_float_eq(dq[0], 1.0f, 1e-6f);
    cr_assert_float_eq(dq[2], -1.0f, 1e-6f);
}

Test(nn_loss, bcq_allows_actions_whose_probability_ratio_to_the_best_exceeds_tau)
{
    /* G = softmax(log(0.6), log(0.3), log(0.1)): ratios 1, 0.5, 1/6 */
    float g[3] = {logf(0.6f), logf(0.3f), logf(0.1f)};
    cr_assert(nn_bcq_allowed(g, 3, 0, 0.3f));
    cr_assert(nn_bcq_allowed(g, 3, 1, 0.3f));
    cr_assert(!nn_bcq_allowed(g, 3, 2, 0.3f));
    cr_assert(nn_bcq_allowed(g, 3, 2, 0.1f));
    cr_assert(nn_bcq_allowed((float[]){0, -1000}, 2, 1, 0.0f), "τ = 0 allows everything");
    float q[3] = {0.0f, 1.0f, 5.0f};
    cr_assert_eq(nn_bcq_argmax(q, g, 3, 0.3f), 1, "action 2 has the best Q but no support");
    cr_assert_eq(nn_bcq_argmax(q, g, 3, 0.0f), 2, "τ = 0 is plain argmax");
    cr_assert_eq(nn_bcq_argmax(q, g, 3, 0.9f), 0, "only the likeliest action passes");
    float masked[6] = {0.0f, 1.0f, 5.0f, 0.0f, 1.0f, 5.0f};
    float g2[6] = {logf(0.6f), logf(0.3f), logf(0.1f), 0, 0, 0};
    nn_bcq_mask(masked, g2, 2, 3, 0.3f);
    cr_assert(isinf(masked[2]) && masked[2] < 0 && masked[1] == 1.0f);
    cr_assert_eq(masked[5], 5.0f, "a uniform G allows every action");
}

Test(nn_loss, bcq_targets_bootstrap_from_the_best_supported_action)
{
    /* Q_online(s') = (1, 3, 9): action 2 would win but G never takes it */
    float qo[3] = {1, 3, 9}, qt[3] = {10, 20, 30}, g[3] = {0, 0, -20}, R = 1.0f, C = 0.5f, y;
    nn_loss_dims d = {1, 1, 3};
    nn_loss_targets_bcq(&y, qo, qt, g, 0.3f, &R, &C, &d, 1);
    cr_assert_float_eq(y, 1.0f + 0.5f * 20.0f, 1e-5f);
    nn_loss_targets_bcq(&y, qo, qt, g, 0.0f, &R, &C, &d, 1);
    cr_assert_float_eq(y, 1.0f + 0.5f * 30.0f, 1e-5f, "τ = 0: double DQN's target");
}

Test(nn_loss, the_apex_transform_and_its_inverse_undo_each_other_to_float32_rounding)
{
    /* h and h⁻¹ are each rounded once from double. A float input's rounding error is scaled by
     * the other function's condition number |z f'(z) / f(z)|, at most 2 for either (h⁻¹ grows
     * like z², h like sqrt(z)): so a round trip is within (1 + 2 + 1) · 2^-24 relative, to which
     * one ulp of slack is added. */
    const double tol = 5.0 * ldexp(1.0, -24);
    const float eps_values[] = {1e-2f, 1e-3f, 0.5f};
    size_t n_checked = 0;
    for (size_t e = 0; e < sizeof eps_values / sizeof eps_values[0]; e++) {
        float eps = eps_values[e];
        cr_assert_eq(nn_value_h(0.0f, eps), 0.0f);
        cr_assert_eq(nn_value_h_inv(0.0f, eps), 0.0f);
        /* |x| from 1e-30 to 1e12 in steps of 2^(1/8), both signs */
        for (double m = 1e-30; m < 1e12; m *= 1.0905077326652577) {
            for (int sign = -1; sign <= 1; sign += 2) {
                float x = (float)(sign * m);
                float there = nn_value_h(x, eps), back = nn_value_h_inv(there, eps);
                cr_assert_leq(fabs((double)back - x), tol * fabs((double)x),
                              "ε %g: h⁻¹(h(%.9g)) = %.9g", eps, x, back);
                float inv = nn_value_h_inv(x, eps);
                if (isfinite(inv)) {
                    float fwd = nn_value_h(inv, eps);
                    cr_assert_leq(fabs((double)fwd - x), tol * fabs((double)x),
                                  "ε %g: h(h⁻¹(%.9g)) = %.9g", eps, x, fwd);
                }
                /* both agree with the paper's formulas, evaluated in double where their
                 * cancellations near 0 cost it less than 2^-30 (|x| >= 1e-6) */
                if (m < 1e-6) {
                    n_checked++;
                    continue;
                }
                cr_assert_leq(fabs((double)there - ref_value_h(x, eps)),
                              ldexp(1.0, -23) * fabs(ref_value_h(x, eps)), "h(%.9g)", x);
                cr_assert_leq(fabs((double)inv - ref_value_h_inv(x, eps)),
                              ldexp(1.0, -23) * fabs(ref_value_h_inv(x, eps)) + 1e-300,
                              "h⁻¹(%.9g)", x);
                n_checked++;
            }
        }
    }
    cr_assert_gt(n_checked, 3000);
    /* h(3) = 1 + 3ε; h is odd and increasing */
    cr_assert_float_eq(nn_value_h(3.0f, 0.01f), 1.03f, 1e-6f);
    cr_assert_float_eq(nn_value_h(-3.0f, 0.01f), -1.03f, 1e-6f);
    cr_assert_float_eq(nn_value_h_inv(1.03f, 0.01f), 3.0f, 1e-5f);
    float v[4] = {-5.0f, 0.25f, 80.0f, 1e6f}, w[4];
    nn_value_h_n(w, v, 4, 0.01f);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(w[i], nn_value_h(v[i], 0.01f));
    }
    nn_value_h_inv_n(w, w, 4, 0.01f); /* in place */
    for (size_t i = 0; i < 4; i++) {
        cr_assert_leq(fabsf(w[i] - v[i]), 4e-7f * fabsf(v[i]));
    }
}

/* The TC loss in double with the argmax a' fixed (finite differences must not move it). */
static double tc_ref(const double *qn, const float *qt, const size_t *a_next, const uint32_t *mask,
                     const float *w, size_t B, size_t K, size_t A, double lambda)
{
    double L = 0.0;
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < K; k++) {
            if (mask && !(mask[i] >> k & 1u)) {
                continue;
            }
            size_t at = (i * K + k) * A + a_next[i * K + k];
            double delta = qn[at] - qt[at];
            double h = fabs(delta) <= 1.0 ? 0.5 * delta * delta : fabs(delta) - 0.5;
            L += lambda * (w ? w[i] : 1.0) * h / (double)B;
        }
    }
    return L;
}

Test(nn_loss, tc_loss_penalises_the_online_argmax_value_moving_from_the_target_net)
{
    /* B = 1, K = 1, A = 3: the online net prefers action 1 (4 vs target 1.5: δ = 2.5, huber 2);
     * the target's own max (action 2) plays no part */
    float qn[3] = {0, 4, 3}, qt[3] = {0, 1.5f, 9}, dq[3] = {7, 7, 7};
    nn_loss_dims d = {1, 1, 3};
    float L = nn_loss_tc(dq, qn, qt, NULL, NULL, &d, 0.5f);
    cr_assert_float_eq(L, 0.5f * 2.0f, 1e-6f);
    cr_assert_eq(dq[0], 0.0f, "dq is overwritten");
    cr_assert_float_eq(dq[1], 0.5f, 1e-7f, "λ · clip(δ)");
    cr_assert_eq(dq[2], 0.0f);
    qt[1] = 4.0f; /* no change from the target: no loss, no gradient */
    cr_assert_eq(nn_loss_tc(dq, qn, qt, NULL, NULL, &d, 1.0f), 0.0f);
    cr_assert_eq(dq[1], 0.0f);
}

Test(nn_loss, tc_loss_gradient_with_masks_and_weights_matches_finite_differences)
{
    enum { B = 5, K = 3, A = 4 };
    float qn[B * K * A], qt[B * K * A], w[B], dq[B * K * A];
    uint32_t mask[B] = {7, 1, 6, 0, 5};
    size_t a_next[B * K];
    rng g;
    rng_init(&g, 31, RNG_ROLE_TOOL, 0, 0);
    ref_fill(qn, B * K * A, &g, -2, 2);
    ref_fill(w, B, &g, 0.1f, 1);
    for (size_t r = 0; r < B * K; r++) {
        a_next[r] = nn_argmax(qn + r * A, A);
        for (size_t a = 0; a < A; a++) {
            /* |δ| in [0.1, 0.8] or [1.2, 3]: no difference step crosses the Huber kink */
            float u = rng_uniform_f(&g), mag = (r + a) % 2 ? 0.1f + 0.7f * u : 1.2f + 1.8f * u;
            qt[r * A + a] = qn[r * A + a] + ((r + a) % 3 ? mag : -mag);
        }
    }
    /* the argmax must keep its lead under a step of h */
    for (size_t r = 0; r < B * K; r++) {
        for (size_t a = 0; a < A; a++) {
            cr_assert(a == a_next[r] || qn[r * A + a_next[r]] - qn[r * A + a] > 1e-3f);
        }
    }
    nn_loss_dims d = {B, K, A};
    const float lambda = 0.7f;
    float L = nn_loss_tc(dq, qn, qt, mask, w, &d, lambda);
    double *qd = ref_to_double(qn, B * K * A), num[B * K * A];
    double Lref = tc_ref(qd, qt, a_next, mask, w, B, K, A, lambda);
    cr_assert_float_eq(L, Lref, 1e-5, "loss %f vs %f", L, Lref);
    for (size_t i = 0; i < B * K * A; i++) {
        double keep = qd[i], h = 1e-5;
        qd[i] = keep + h;
        double up = tc_ref(qd, qt, a_next, mask, w, B, K, A, lambda);
        qd[i] = keep - h;
        num[i] = (up - tc_ref(qd, qt, a_next, mask, w, B, K, A, lambda)) / (2 * h);
        qd[i] = keep;
    }
    double e = ref_max_rel_err(dq, num, B * K * A, 1e-3);
    cr_assert_lt(e, 1e-3, "relative error %g", e);
    free(qd);
}
