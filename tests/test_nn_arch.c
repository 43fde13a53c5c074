#include <criterion/criterion.h>
#include <string.h>

#include "nn/arch.h"
#include "nn_ref.h"

Test(nn_arch, architecture_strings_parse_back_to_the_same_config)
{
    nn_qnet_config cs[3] = {nn_qnet_config_minatar(10, 18), ref_full_config(), ref_full_config()};
    cs[2].n_conv = 0;
    cs[2].n_shared = 2;
    cs[2].shared[1] = 3;
    cs[2].n_dense = 0;
    cs[2].prior_scale = 0.1f;
    for (int i = 0; i < 3; i++) {
        char arch[NN_QNET_ARCH_MAX], again[NN_QNET_ARCH_MAX];
        shoal_err err = {0};
        cr_assert_eq(nn_qnet_config_arch(&cs[i], arch, sizeof arch, &err), SHOAL_OK);
        nn_qnet_config back = {.max_batch = 9, .seed = 4};
        cr_assert_eq(nn_qnet_config_parse(&back, arch, &err), SHOAL_OK, "%s: %s", arch, err.msg);
        cr_assert_eq(nn_qnet_config_arch(&back, again, sizeof again, &err), SHOAL_OK);
        cr_assert_str_eq(arch, again);
        cr_assert_eq(back.prior_scale, cs[i].prior_scale);
        cr_assert_eq(back.max_batch, 9, "max_batch is not part of the architecture");
    }
}

Test(nn_arch, malformed_architecture_strings_are_rejected_with_the_bad_token)
{
    static const char *const bad[] = {
        "qnet/v2 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=0",
        "qnet/v1 in=10x10 conv=16 dense=128 act=3 heads=1 duel=0 prior=0",
        "qnet/v1 in=10x10x4 conv=16, dense=128 act=3 heads=1 duel=0 prior=0",
        "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=2 prior=0",
        "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=x",
        "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=0 act=3",
        "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0 colour=red",
        "qnet/v1 in=10x10x4 conv=16 dense=128 act=0 heads=1 duel=0 prior=0",
        "qnet/v1 in=2x2x4 conv=16 dense=128 act=3 heads=1 duel=0 prior=0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nn_qnet_config c = {0};
        shoal_err err = {0};
        cr_assert_eq(nn_qnet_config_parse(&c, bad[i], &err), SHOAL_EINVAL, "accepted %s", bad[i]);
        cr_assert(strlen(err.msg) > 10, "no message for %s", bad[i]);
    }
    nn_qnet_config c = {0};
    shoal_err err = {0};
    nn_qnet_config_parse(&c, "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=1 duel=0", &err);
    cr_assert(strstr(err.msg, "\"prior\"") != NULL, "%s", err.msg);
}

Test(nn_arch, the_shared_layer_appears_in_the_architecture_string)
{
    nn_qnet_config c = nn_qnet_config_minatar(10, 6);
    c.n_shared = 1;
    c.shared[0] = 128;
    c.n_dense = 0;
    c.n_heads = 10;
    char arch[NN_QNET_ARCH_MAX];
    cr_assert_eq(nn_qnet_config_arch(&c, arch, sizeof arch, NULL), SHOAL_OK);
    cr_assert_str_eq(arch, "qnet/v1 in=10x10x10 conv=16 shared=128 dense=none act=6 heads=10 "
                           "duel=0 prior=0");
}

Test(nn_arch, a_failed_parse_leaves_the_config_as_it_was)
{
    nn_qnet_config c = ref_full_config(), before = c;
    shoal_err err = {0};
    cr_assert_eq(nn_qnet_config_parse(&c, "qnet/v1 in=10x10x4 conv=16 dense=128 act=3 heads=0 "
                                          "duel=0 prior=0", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "heads") != NULL, "%s", err.msg);
    cr_assert(memcmp(&c, &before, sizeof c) == 0);
}

Test(nn_arch, a_buffer_too_small_for_the_string_is_an_error)
{
    nn_qnet_config c = ref_full_config();
    char arch[NN_QNET_ARCH_MAX];
    shoal_err err = {0};
    cr_assert_eq(nn_qnet_config_arch(&c, arch, sizeof arch, &err), SHOAL_OK);
    size_t need = strlen(arch) + 1;
    for (size_t cap = 0; cap < need; cap++) {
        cr_assert_eq(nn_qnet_config_arch(&c, arch, cap, &err), SHOAL_EINVAL, "cap %zu", cap);
    }
    cr_assert_eq(nn_qnet_config_arch(&c, arch, need, &err), SHOAL_OK);
}

Test(nn_arch, the_check_names_the_bad_field)
{
    static const struct {
        size_t field_offset;
        const char *word;
    } cases[] = {
        {offsetof(nn_qnet_config, in_w), "input shape"},
        {offsetof(nn_qnet_config, conv_filters), "conv layer 0"},
        {offsetof(nn_qnet_config, shared), "shared layer 0"},
        {offsetof(nn_qnet_config, dense), "dense layer 0"},
        {offsetof(nn_qnet_config, n_actions), "actions"},
        {offsetof(nn_qnet_config, max_batch), "max_batch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_qnet_config c = ref_full_config();
        shoal_err err = {0};
        cr_assert_eq(nn_qnet_config_check(&c, &err), SHOAL_OK, "%s", err.msg);
        memset((char *)&c + cases[i].field_offset, 0, sizeof(size_t));
        cr_assert_eq(nn_qnet_config_check(&c, &err), SHOAL_EINVAL, "%s", cases[i].word);
        cr_assert(strstr(err.msg, cases[i].word) != NULL, "%s", err.msg);
    }
}
