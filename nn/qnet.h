/* Q-network: a convolutional torso (3x3 stride-1 convolutions + ReLU, flattened) shared by K
 * heads, each head a stack of dense ReLU layers and a linear output of n_actions values
 * (n_actions + 1 with dueling: the advantages then the state value, aggregated as
 * Q = V + A - mean(A), Wang et al. 2016). The torso may end in shared dense ReLU layers
 * ("shared"), which is the usual 10-head layout for MinAtar (heads of 128 -> A on a shared
 * 128-unit layer); per-head hidden layers ("dense") give every head its own MLP (algorithms.md
 * §3.1). K = 1 is plain DQN; K > 1 is Bootstrapped DQN
 * (Osband et al. 2016). With prior_scale β != 0 every head k adds β·p_k(s), where p is a second
 * network of the same architecture with its own fixed random weights, never trained (randomized
 * prior functions, Osband et al. 2018). The MinAtar network is conv=16 dense=128 on 10x10xC.
 * The config, its check and its architecture string are in nn/arch.h.
 *
 * Buffers, the contract the learner relies on:
 *   - params: one contiguous float buffer of nn_qnet_n_params() floats: the trainable
 *     parameters (nn_qnet_n_trainable() floats) followed by the prior network's (the same count
 *     again when β != 0, else none). Broadcasting the network = sending this buffer; copying it
 *     into another net of the same arch string makes a target network (prior included).
 *   - grads: one contiguous buffer of nn_qnet_n_trainable() floats, aligned with the start of
 *     params. nn_qnet_backward overwrites it; the learner all-reduces it (sum, then scale by
 *     1/ranks) and hands it to the optimizer together with the first n_trainable params.
 *   - Layout inside both, per layer in order: conv l: W (3, 3, C_l, F_l), b (F_l); shared
 *     layer s: W (n_in, n_s), b (n_s); head layer 0
 *     (fed by the shared torso, all heads fused): W (n_flat, K*n_0), b (K*n_0), head k's
 *     columns are k*n_0 ... ; head layer j >= 1: W (K, n_{j-1}, n_j), b (K, n_j).
 *   - Q values are (B, K, n_actions); inputs are float32 (B, H, W, C).
 * The first convolution runs the direct kernel when its filters are a multiple of 16 (it needs
 * no input gradient, so no im2col); later ones run im2col + sgemm (nn/layers.h).
 * The network owns workspaces sized for cfg.max_batch: forward and backward never allocate.
 * A network is used by one thread at a time.
 *
 *     nn_qnet *net = nn_qnet_new(&cfg, &err);            // cfg from nn_qnet_config_minatar()
 *     nn_qnet_forward_train(net, obs, B, q);             // keep activations
 *     nn_qnet_backward(net, dq, B);                      // grads in nn_qnet_grads(net)
 */
#ifndef SHOAL_NN_QNET_H
#define SHOAL_NN_QNET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "nn/arch.h"
#include "nn/layers.h"

#define NN_QNET_MAX_LAYERS (NN_QNET_MAX_CONV + 2 * NN_QNET_MAX_DENSE + 1)

typedef struct nn_qnet nn_qnet;

/* Builds a network with freshly initialised parameters (PyTorch's default: weights and biases
 * uniform in ±1/sqrt(fan_in), each head and the prior from their own streams). NULL and err
 * (EINVAL, ENOMEM) on failure. */
nn_qnet *nn_qnet_new(const nn_qnet_config *cfg, shoal_err *err);

/* A network that reads owner's params in place (no copy: every change to owner's parameters
 * is seen at once) with its own grads and workspaces for batches up to max_batch, so another
 * thread can run forward and backward passes on part of a batch while owner runs on the rest.
 * Writing its params writes owner's. Free it before owner. NULL and err (EINVAL, ENOMEM). */
nn_qnet *nn_qnet_new_replica(const nn_qnet *owner, size_t max_batch, shoal_err *err);

/* Frees the network; NULL is fine. */
void nn_qnet_free(nn_qnet *net);

/* The configuration and architecture string; valid while net lives. */
const nn_qnet_config *nn_qnet_config_of(const nn_qnet *net);
const char *nn_qnet_arch(const nn_qnet *net);

size_t nn_qnet_n_params(const nn_qnet *net);    /* floats in params (trainable + prior) */
size_t nn_qnet_n_trainable(const nn_qnet *net); /* floats in grads */
size_t nn_qnet_in_floats(const nn_qnet *net);   /* H*W*C per observation */

/* The buffers described above; owned by net, valid while it lives. Writing params is how
 * parameters are set (broadcast, target copy, load). Like strchr, a const net still hands out
 * a writable pointer: the buffers are data the caller owns the use of, not the net's state. */
float *nn_qnet_params(const nn_qnet *net);
float *nn_qnet_grads(const nn_qnet *net);

/* A view of one weight or bias inside params or grads. */
typedef struct nn_param_view {
    size_t offset; /* in floats from the start of the buffer */
    size_t n;      /* floats */
} nn_param_view;

/* View of layer `layer` (convs, shared, head layers, the output layer last) weight (which
 * 0) or bias (which 1), in the trainable part; add nn_qnet_n_trainable() for the prior's copy.
 * Returns n = 0 for a layer that does not exist. */
nn_param_view nn_qnet_view(const nn_qnet *net, size_t layer, int which);
size_t nn_qnet_n_layers(const nn_qnet *net);

/* Copies src's params into dst (target network update). EARCH when the arch strings differ. */
int nn_qnet_copy_params(nn_qnet *dst, const nn_qnet *src, shoal_err *err);

/* Inference: q (B, K, n_actions) for x (B, H, W, C), 1 <= B <= max_batch. Does not disturb the
 * activations kept by nn_qnet_forward_train. */
void nn_qnet_forward(nn_qnet *net, const float *x, size_t batch, float *q);

/* Training forward: as nn_qnet_forward, keeping the activations for nn_qnet_backward. */
void nn_qnet_forward_train(nn_qnet *net, const float *x, size_t batch, float *q);

/* Backward from dq = dL/dQ (B, K, n_actions) of the last nn_qnet_forward_train (same batch),
 * whose input x must still hold the same values (the first layer's gradient reads it).
 * Overwrites grads. Head k's parameters get head k's gradient; the torso gets the sum over
 * heads scaled by 1/K (Bootstrapped DQN). The prior receives nothing. */
void nn_qnet_backward(nn_qnet *net, const float *dq, size_t batch);

/* Called during nn_qnet_backward_notify each time a layer's gradient is final: grads[first ..
 * nn_qnet_n_trainable()) will not change again in this pass (layers sit in grads in forward
 * order and backward runs them in reverse, so the finished part is always a suffix; the last
 * call has first = 0). The learner starts the all-reduce of finished layers from it while the
 * earlier layers are still being differentiated. */
typedef void (*nn_grads_ready_fn)(void *ctx, size_t first);

/* nn_qnet_backward, calling ready(ctx, first) after each layer (ready may be NULL). The
 * gradients are the same bits as nn_qnet_backward's; ready must not write grads below first. */
void nn_qnet_backward_notify(nn_qnet *net, const float *dq, size_t batch, nn_grads_ready_fn ready,
                             void *ctx);

/* Multiply-adds of one forward pass per observation (prior included), for FLOP/s figures. */
double nn_qnet_forward_macs(const nn_qnet *net);

/* Flat parameter (de)serialisation for the Params wire message: little-endian IEEE-754 float32,
 * nn_qnet_n_params() * 4 bytes, in the params layout above. export writes that many bytes to
 * blob (EINVAL if cap is smaller); import checks the size (EARCH with both counts: the sender
 * has another architecture) and copies. */
size_t nn_qnet_blob_bytes(const nn_qnet *net);
int nn_qnet_blob_export(const nn_qnet *net, void *blob, size_t cap, shoal_err *err);
int nn_qnet_blob_import(nn_qnet *net, const void *blob, size_t n_bytes, shoal_err *err);

#endif
