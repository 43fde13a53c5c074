/* A Q-network's architecture: the plain config that describes one (nn/qnet.h builds the
 * network from it), its check, and its string form. The architecture string is what parameter
 * files (nn/paramfile.h) and Params messages carry so that a reader can build a matching
 * network or refuse a foreign one: two configs with the same string have the same parameter
 * layout and compute the same function of their parameters. The [network] configuration keys
 * that fill a config live in nn/nn_config.h.
 *
 *     nn_qnet_config c = nn_qnet_config_minatar(4, 3);
 *     nn_qnet_config_arch(&c, arch, sizeof arch, &err);   // "qnet/v1 in=10x10x4 conv=16 ..."
 *     nn_qnet_config_parse(&back, arch, &err);            // the same architecture fields
 */
#ifndef SHOAL_NN_ARCH_H
#define SHOAL_NN_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define NN_QNET_MAX_CONV 4
#define NN_QNET_MAX_DENSE 4
#define NN_QNET_MAX_HEADS 64
#define NN_QNET_ARCH_MAX 256

/* Plain data. The fields up to prior_scale define the architecture (and its string); max_batch
 * and seed do not. */
typedef struct nn_qnet_config {
    size_t in_h, in_w, in_c;               /* input (H, W, C) */
    size_t n_conv;                         /* 0 for an MLP on the flattened input */
    size_t conv_filters[NN_QNET_MAX_CONV]; /* F of each 3x3 convolution */
    size_t n_shared;                       /* dense ReLU layers shared by all heads */
    size_t shared[NN_QNET_MAX_DENSE];
    size_t n_dense;                        /* hidden layers per head */
    size_t dense[NN_QNET_MAX_DENSE];
    size_t n_actions;
    size_t n_heads; /* K >= 1 */
    int dueling;
    float prior_scale; /* β; 0 = no prior network */
    size_t max_batch;  /* largest batch forward/backward will see */
    uint64_t seed;     /* initialisation stream (RNG_ROLE_NET_INIT) */
} nn_qnet_config;

/* The MinAtar network (conv 16, dense 128) on a 10x10xC input, one head, max batch 512. */
nn_qnet_config nn_qnet_config_minatar(size_t in_c, size_t n_actions);

/* Checks a config; EINVAL naming the bad field. */
int nn_qnet_config_check(const nn_qnet_config *cfg, shoal_err *err);

/* Writes the architecture string, e.g. "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1
 * duel=0 prior=0" ("conv=none", "dense=none" when empty; lists joined by ','; " shared=..."
 * after conv only when there are shared layers). EINVAL when cap is too small. */
int nn_qnet_config_arch(const nn_qnet_config *cfg, char *arch, size_t cap, shoal_err *err);

/* Parses an architecture string into cfg's architecture fields (max_batch and seed are left as
 * they were) and checks the result. EINVAL with the offending token or the missing key; cfg is
 * unchanged on error. */
int nn_qnet_config_parse(nn_qnet_config *cfg, const char *arch, shoal_err *err);

#endif
