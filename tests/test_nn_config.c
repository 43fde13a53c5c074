#include <criterion/criterion.h>
#include <string.h>

#include "common/config.h"
#include "nn/nn_config.h"

static config *make(void)
{
    const config_key *tables[] = {nn_config_keys};
    config *c = config_new(tables, 1, NULL);
    cr_assert_not_null(c);
    return c;
}

Test(nn_config, defaults_give_the_minatar_network)
{
    config *c = make();
    nn_qnet_config q;
    shoal_err err = {0};
    cr_assert_eq(nn_qnet_config_from(c, 10, 10, 4, 3, 64, 1, &q, &err), SHOAL_OK, "%s", err.msg);
    char arch[NN_QNET_ARCH_MAX];
    cr_assert_eq(nn_qnet_config_arch(&q, arch, sizeof arch, &err), SHOAL_OK);
    cr_assert_str_eq(arch, "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=0");
    config_free(c);
}

Test(nn_config, keys_set_heads_prior_and_layers)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c,
                                    "[network]\nconv = 16,16\nshared = 128\ndense =\nheads = 10\n"
                                    "prior_scale = 3\ndueling = on\n",
                                    "t.ini", &err),
                 SHOAL_OK, "%s", err.msg);
    nn_qnet_config q;
    cr_assert_eq(nn_qnet_config_from(c, 10, 10, 4, 3, 64, 1, &q, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(q.n_conv, 2);
    cr_assert_eq(q.n_shared, 1);
    cr_assert_eq(q.shared[0], 128);
    cr_assert_eq(q.n_dense, 0);
    cr_assert_eq(q.n_heads, 10);
    cr_assert(q.dueling);
    cr_assert_float_eq(q.prior_scale, 3.0f, 1e-6);
    config_free(c);
}

Test(nn_config, a_malformed_layer_list_names_the_key)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_set(c, "network.dense=128,x", "--set", &err), SHOAL_OK);
    nn_qnet_config q;
    cr_assert_eq(nn_qnet_config_from(c, 10, 10, 4, 3, 64, 1, &q, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "network.dense = '128,x'") != NULL, "%s", err.msg);
    cr_assert_eq(config_set(c, "network.dense=1,2,3,4,5", "--set", &err), SHOAL_OK);
    cr_assert_eq(nn_qnet_config_from(c, 10, 10, 4, 3, 64, 1, &q, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "at most") != NULL, "%s", err.msg);
    config_free(c);
}
