#include "nn/nn_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const config_key nn_config_keys[] = {
    {"network", "conv", CONFIG_STRING, "16", 0, 0, NULL,
     "filters of each 3x3 stride-1 convolution, comma-separated (empty: no convolution)"},
    {"network", "shared", CONFIG_STRING, "", 0, 0, NULL,
     "dense ReLU layers shared by all heads after the convolutions, comma-separated"},
    {"network", "dense", CONFIG_STRING, "128", 0, 0, NULL,
     "dense ReLU layers of each head, comma-separated (MinAtar: 128)"},
    {"network", "heads", CONFIG_INT, "1", 1, NN_QNET_MAX_HEADS, NULL,
     "Q heads K: 1 is DQN, K > 1 is Bootstrapped DQN"},
    {"network", "dueling", CONFIG_BOOL, "false", 0, 0, NULL, "dueling heads (V + A - mean A)"},
    {"network", "prior_scale", CONFIG_FLOAT, "0", 0, 1000, NULL,
     "randomized prior scale beta per head (0: no prior network)"},
    CONFIG_KEY_END,
};

/* Parses "16,32" into sizes; an empty text gives 0 entries. */
static int parse_sizes(const char *text, const char *key, size_t *out, size_t cap, size_t *n,
                       shoal_err *err)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || v < 1 || v > 65536 || (*end != ',' && *end != '\0')) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "%s = '%s': expected comma-separated sizes from 1 to 65536", key,
                                 text);
        }
        if (*n == cap) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s = '%s': at most %zu layers", key, text,
                                 cap);
        }
        out[(*n)++] = (size_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return SHOAL_OK;
}

int nn_qnet_config_from(const config *c, size_t in_h, size_t in_w, size_t in_c, size_t n_actions,
                        size_t max_batch, uint64_t seed, nn_qnet_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    out->in_h = in_h;
    out->in_w = in_w;
    out->in_c = in_c;
    out->n_actions = n_actions;
    out->max_batch = max_batch;
    out->seed = seed;
    int rc = parse_sizes(config_str(c, "network", "conv"), "network.conv", out->conv_filters,
                         NN_QNET_MAX_CONV, &out->n_conv, err);
    if (rc == SHOAL_OK) {
        rc = parse_sizes(config_str(c, "network", "shared"), "network.shared", out->shared,
                         NN_QNET_MAX_DENSE, &out->n_shared, err);
    }
    if (rc == SHOAL_OK) {
        rc = parse_sizes(config_str(c, "network", "dense"), "network.dense", out->dense,
                         NN_QNET_MAX_DENSE, &out->n_dense, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->n_heads = (size_t)config_int(c, "network", "heads");
    out->dueling = config_bool(c, "network", "dueling");
    out->prior_scale = (float)config_float(c, "network", "prior_scale");
    return nn_qnet_config_check(out, err);
}
