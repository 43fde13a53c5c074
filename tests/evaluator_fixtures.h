/* Shared by the evaluator test programs: a scratch folder per test, whole-file reads, substring
 * counts, and Chain Q-networks whose actions are known in advance. */
#ifndef SHOAL_TESTS_EVALUATOR_FIXTURES_H
#define SHOAL_TESTS_EVALUATOR_FIXTURES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "nn/qnet.h"

/* Creates /tmp/<prefix>-XXXXXX into dir (64 bytes). */
static inline void fx_dir_make(char *dir, const char *prefix)
{
    snprintf(dir, 64, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir));
}

static inline void fx_dir_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The whole of dir/name as a NUL-terminated string (caller frees). */
static inline char *fx_read_text(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *data;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 20, &data, &n, &err), SHOAL_OK, "%s", err.msg);
    data[n] = '\0';
    return (char *)data;
}

/* Occurrences of what in text. */
static inline size_t fx_count(const char *text, const char *what)
{
    size_t n = 0, len = strlen(what);
    for (size_t i = 0; text[i]; i++) {
        n += strncmp(text + i, what, len) == 0;
    }
    return n;
}

/* A linear Q-network on the 1xLx1 observation of a Chain of length L whose weights are zero
 * and whose output bias makes head k prefer action prefer[k] (0 left, 1 right) in every
 * state, with Q 1 + k. Always-right returns 10; always-left (L + 7) * 0.001 (every left in
 * s_1). */
static inline nn_qnet *fx_chain_net_of_length(size_t length, size_t n_heads, const int *prefer,
                                              size_t max_batch)
{
    nn_qnet_config qc = {.in_h = 1, .in_w = length, .in_c = 1, .n_actions = 2,
                         .n_heads = n_heads, .max_batch = max_batch, .seed = 3};
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(&qc, &err);
    cr_assert_not_null(net, "%s", err.msg);
    float *params = nn_qnet_params(net);
    memset(params, 0, nn_qnet_n_params(net) * sizeof *params);
    nn_param_view b = nn_qnet_view(net, nn_qnet_n_layers(net) - 1, 1);
    cr_assert_eq(b.n, 2 * n_heads);
    for (size_t k = 0; k < n_heads; k++) {
        params[b.offset + 2 * k + (size_t)prefer[k]] = 1.0f + (float)k;
    }
    return net;
}

/* fx_chain_net_of_length for Chain's length 10: always-left returns 17 * 0.001. */
static inline nn_qnet *fx_chain_net(size_t n_heads, const int *prefer, size_t max_batch)
{
    return fx_chain_net_of_length(10, n_heads, prefer, max_batch);
}

#endif
