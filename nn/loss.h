/* Losses and targets of the DQN family over Q values laid out (B, K, A) as nn/qnet.h produces
 * them: Huber (κ = 1), n-step double-DQN targets per head, the TD loss with per-head bootstrap
 * masks and importance weights, the DQfD large-margin loss, and L2 (specs/algorithms.md §1.1,
 * §1.2, §3.3, §6.1). Targets are constants: no gradient flows into them.
 *
 * Each loss returns its value and writes dL/dQ: nn_loss_td overwrites dq (and gives the new
 * priorities), nn_loss_margin adds into it, so a DQfD step is td, then margin, then backward,
 * then nn_loss_l2 on the gradients. With K heads the returned value is Σ_k L_k and dq holds
 * each head's own gradient; nn_qnet_backward applies Bootstrapped DQN's 1/K on the torso.
 *
 *     nn_loss_targets(y, q_next_online, q_next_target, R, C, &dims, 1);
 *     float loss = nn_loss_td(dq, prio, q, y, &batch);
 *     nn_qnet_backward(net, dq, B);
 */
#ifndef SHOAL_NN_LOSS_H
#define SHOAL_NN_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Huber loss with threshold 1: 0.5 d^2 for |d| <= 1, |d| - 0.5 beyond. */
float nn_huber(float delta);

/* Its derivative, clip(d, -1, 1). */
float nn_huber_grad(float delta);

typedef struct nn_loss_dims {
    size_t batch;
    size_t n_heads;
    size_t n_actions;
} nn_loss_dims;

/* y (B, K) = R_i + C_i · Q̄_k(s'_i, a*_ik) with a*_ik = argmax_a Q_k(s'_i, a) of the online net
 * when double_q (q_next_online (B, K, A)), else of the target net itself (q_next_online may
 * be NULL). returns: n-step reward sums R (B); discounts: γ^m, 0 after a termination (B).
 * Ties pick the lowest action index. */
void nn_loss_targets(float *y, const float *q_next_online, const float *q_next_target,
                     const float *returns, const float *discounts, const nn_loss_dims *d,
                     int double_q);

/* Index of the largest of n values, the lowest on ties. */
size_t nn_argmax(const float *v, size_t n);

/* The sampled batch a TD loss needs besides Q. */
typedef struct nn_td_batch {
    nn_loss_dims dims;
    const uint32_t *actions;    /* (B) a_i < A */
    const float *targets;       /* (B, K) from nn_loss_targets */
    const uint32_t *mask_bits;  /* (B) bit k: head k trains on sample i; NULL = every head */
    const float *weights;       /* (B) importance weights; NULL = all 1 */
} nn_td_batch;

/* L = Σ_k (1/B) Σ_i m_ik w_i huber(δ_ik), δ_ik = y_ik - Q_k(s_i, a_i). Overwrites dq (B, K, A)
 * with dL/dQ (non-zero only at the taken actions). When priorities (B) is not NULL it gets
 * mean_k |δ_ik| over the heads with m_ik = 1, or over all heads when none has it (§3.3). */
float nn_loss_td(float *dq, float *priorities, const float *q, const nn_td_batch *b);

/* DQfD large-margin loss on demonstration samples (is_demo[i] != 0), every head:
 * L = λ Σ_k (1/B) Σ_i demo_i w_i (max_a [Q_k(s_i,a) + l(a_i,a)] - Q_k(s_i,a_i)), l = margin for
 * a != a_i, else 0. Adds dL/dQ into dq. weights may be NULL. */
float nn_loss_margin(float *dq, const float *q, const uint32_t *actions, const uint8_t *is_demo,
                     const float *weights, const nn_loss_dims *d, float margin, float lambda);

/* Behaviour cloning's loss: softmax cross-entropy with the Q values as logits, every head:
 * L = λ Σ_k (1/B) Σ_i w_i (logsumexp_a Q_k(s_i,a) - Q_k(s_i,a_i)). Overwrites dq (B, K, A) with
 * dL/dQ = λ w_i/B (softmax_k(s_i) - onehot(a_i)). per_sample (B, may be NULL) gets each sample's
 * cross-entropy averaged over the heads (the learner's priority in BC). weights may be NULL.
 * Softmax rather than DQfD's margin: it gives a gradient to every action until the expert's
 * probability is 1, and its probabilities are what discrete BCQ thresholds (nn_bcq_allowed). */
float nn_loss_xent(float *dq, float *per_sample, const float *q, const uint32_t *actions,
                   const float *weights, const nn_loss_dims *d, float lambda);

/* Discrete BCQ's support test (Fujimoto et al. 2019): with g the behaviour model's logits (n),
 * action a is allowed when G(a|s)/max_b G(b|s) = exp(g_a - max g) > tau. The most likely
 * action is always allowed for tau < 1. */
int nn_bcq_allowed(const float *g, size_t n, size_t a, float tau);

/* argmax over the allowed actions of q (n); lowest index on ties. */
size_t nn_bcq_argmax(const float *q, const float *g, size_t n, float tau);

/* Sets q[r][a] = -INFINITY for every action nn_bcq_allowed refuses, in each of rows rows of n
 * values (q and g both (rows, n)), so that any argmax or vote over q keeps to the support. */
void nn_bcq_mask(float *q, const float *g, size_t rows, size_t n, float tau);

/* nn_loss_targets with discrete BCQ's restriction: a*_ik = argmax over the actions allowed by
 * g_next (B, K, A: the behaviour model's logits on s', head k restricting head k) of the online
 * net's Q (double_q) or the target's. */
void nn_loss_targets_bcq(float *y, const float *q_next_online, const float *q_next_target,
                         const float *g_next, float tau, const float *returns,
                         const float *discounts, const nn_loss_dims *d, int double_q);

/* Ape-X DQfD's transformed Bellman operator (Pohlen et al. 2018, §3.1): the network learns
 * h(Q) instead of Q, h(z) = sign(z)(sqrt(|z| + 1) - 1) + εz, which squashes large returns so
 * unclipped rewards of any scale train stably; ε > 0 keeps h⁻¹ Lipschitz. The target becomes
 * y = h(R + C · h⁻¹(Q̄(s', a*))). Both are computed in double and rounded once, so
 * nn_value_h_inv(nn_value_h(x)) is x to a few float32 ulps everywhere (the textbook float form
 * of h⁻¹ loses most digits near 0 to cancellation). eps > 0. */
float nn_value_h(float z, float eps);

/* The exact inverse, h⁻¹(z) = sign(z)(((sqrt(1 + 4ε(|z| + 1 + ε)) - 1) / (2ε))² - 1). */
float nn_value_h_inv(float z, float eps);

/* out[i] = h(in[i]) or h⁻¹(in[i]) over n values; out may be in. */
void nn_value_h_n(float *out, const float *in, size_t n, float eps);
void nn_value_h_inv_n(float *out, const float *in, size_t n, float eps);

/* Ape-X DQfD's temporal-consistency loss (§3.2): with a'_ik = argmax_a Q_k(s'_i, a) of the
 * online net (ties: the lowest index),
 * L = λ Σ_k (1/B) Σ_i m_ik w_i huber(Q_k(s'_i, a'_ik) - Q̄_k(s'_i, a'_ik)),
 * so an update that moves the online net's value of the next state away from the target net's
 * is penalised. Masks and weights as nn_loss_td's (either may be NULL). Overwrites dq_next
 * (B, K, A) with dL/dQ(s') of the online net (non-zero only at a'), for a backward pass from an
 * nn_qnet_forward_train on s'. */
float nn_loss_tc(float *dq_next, const float *q_next_online, const float *q_next_target,
                 const uint32_t *mask_bits, const float *weights, const nn_loss_dims *d,
                 float lambda);

/* L = λ Σ θ² over n parameters; adds 2λθ into grads (DQfD's J_L2 on weights and biases). */
float nn_loss_l2(float *grads, const float *params, size_t n, float lambda);

#endif
