/* Optimisers over a flat parameter buffer: Adam (PyTorch form, optional decoupled weight decay
 * as in AdamW) and RMSProp (plain or centered; ε outside the root as PyTorch, or inside as
 * DeepMind/optax), exactly the update rules of specs/algorithms.md §1.6. The state is one flat
 * float buffer of 2n floats plus a step count, so it can be checkpointed as a block, and every
 * learner rank applying the same averaged gradient stays bit-identical.
 *
 *     nn_optim_config oc = nn_optim_adam(1e-4f);
 *     nn_optim *opt = nn_optim_new(&oc, nn_qnet_n_trainable(net), &err);
 *     nn_optim_step(opt, nn_qnet_params(net), nn_qnet_grads(net));
 */
#ifndef SHOAL_NN_OPTIM_H
#define SHOAL_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum nn_optim_kind {
    NN_OPTIM_ADAM = 1,
    NN_OPTIM_RMSPROP = 2,
} nn_optim_kind;

typedef struct nn_optim_config {
    nn_optim_kind kind;
    float lr;
    float eps;
    float beta1, beta2;  /* Adam moment decays */
    float weight_decay;  /* Adam: θ ← θ(1 - lr·wd) before the step (AdamW); 0 = none */
    float decay;         /* RMSProp α */
    int centered;        /* RMSProp: subtract the squared running mean of g */
    int eps_inside_root; /* RMSProp: g/√(n - ḡ² + ε) instead of g/(√(n - ḡ²) + ε) */
} nn_optim_config;

typedef struct nn_optim nn_optim;

/* Adam with β1 0.9, β2 0.999, ε 1e-8, no weight decay. */
nn_optim_config nn_optim_adam(float lr);

/* Centered RMSProp as the MinAtar reference: α 0.95, ε 0.01 outside the root. */
nn_optim_config nn_optim_rmsprop(float lr);

/* State for n parameters, zeroed, step 0. EINVAL for a bad kind or hyper-parameter. */
nn_optim *nn_optim_new(const nn_optim_config *cfg, size_t n_params, shoal_err *err);

/* NULL is fine. */
void nn_optim_free(nn_optim *opt);

/* One update of params[0..n) with grads[0..n); never allocates. */
void nn_optim_step(nn_optim *opt, float *params, const float *grads);

const nn_optim_config *nn_optim_config_of(const nn_optim *opt);
size_t nn_optim_n_params(const nn_optim *opt);

/* The flat state, n_state floats (Adam: m then v; RMSProp: mean square then mean gradient),
 * owned by opt, valid while it lives; writable (as nn_qnet_params), for restoring a checkpoint. */
float *nn_optim_state(const nn_optim *opt, size_t *n_state);

/* Updates taken so far (Adam's bias correction uses it); settable when restoring. */
uint64_t nn_optim_steps(const nn_optim *opt);
void nn_optim_set_steps(nn_optim *opt, uint64_t steps);

#endif
