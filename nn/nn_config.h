/* The [network] configuration keys and the Q-network config built from them. The input shape
 * and the number of actions come from the environment, not from the file, so one config file
 * serves every game.
 *
 *     nn_qnet_config qc;
 *     nn_qnet_config_from(cfg, 10, 10, 4, 3, 512, seed, &qc, &err);
 */
#ifndef SHOAL_NN_NN_CONFIG_H
#define SHOAL_NN_NN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "nn/qnet.h"

/* Keys of [network] (conv, shared, dense, heads, dueling, prior_scale). */
extern const config_key nn_config_keys[];

/* Fills out from [network] plus the given input shape, actions, largest batch and seed, then
 * checks it (nn_qnet_config_check). EINVAL names the key (e.g. "network.conv = '16,x'"). */
int nn_qnet_config_from(const config *c, size_t in_h, size_t in_w, size_t in_c, size_t n_actions,
                        size_t max_batch, uint64_t seed, nn_qnet_config *out, shoal_err *err);

#endif
