#include <criterion/criterion.h>
#include <string.h>

#include "common/obs.h"

Test(common_obs, parse_and_format_round_trip)
{
    const char *shapes[] = {"10,10,4", "1,10,1", "84,84,4", "65536,1,1"};
    const char *dtypes[] = {"bit", "uint8", "float32"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (size_t d = 0; d < 3; d++) {
            obs_spec sp;
            shoal_err err = {0};
            cr_assert_eq(obs_spec_parse(shapes[i], dtypes[d], &sp, &err), SHOAL_OK, "%s", err.msg);
            char text[OBS_SHAPE_TEXT_MAX];
            cr_assert_str_eq(obs_shape_format(sp.shape, text, sizeof text), shapes[i]);
            cr_assert_str_eq(obs_dtype_name(sp.dtype), dtypes[d]);
            obs_dtype back;
            cr_assert_eq(obs_dtype_parse(dtypes[d], &back, &err), SHOAL_OK);
            cr_assert_eq(back, sp.dtype);
        }
    }
    obs_spec sp;
    cr_assert_eq(obs_spec_parse("10,20,7", "uint8", &sp, NULL), SHOAL_OK);
    cr_assert(sp.shape.h == 10 && sp.shape.w == 20 && sp.shape.c == 7);
    cr_assert_eq(sp.dtype, OBS_DTYPE_UINT8);
    char text[OBS_SHAPE_TEXT_MAX];
    cr_assert_str_eq(obs_shape_format((obs_shape){65536, 65536, 65536}, text, sizeof text),
                     "65536,65536,65536", "the longest shape fits OBS_SHAPE_TEXT_MAX");
}

Test(common_obs, dtype_values_are_the_wire_numbers)
{
    cr_assert_eq(OBS_DTYPE_BIT, 1);
    cr_assert_eq(OBS_DTYPE_UINT8, 2);
    cr_assert_eq(OBS_DTYPE_FLOAT32, 3);
    cr_assert_null(obs_dtype_name((obs_dtype)0));
    cr_assert_null(obs_dtype_name((obs_dtype)4));
}

Test(common_obs, bad_input_is_refused_naming_it)
{
    const char *bad_shapes[] = {"10,10", "10,0,4", "10,10,4,1", "", "a,b,c", "10,10,4x",
                                "65537,1,1", "-1,10,4", "10,,4"};
    obs_spec sp;
    shoal_err err = {0};
    for (size_t i = 0; i < sizeof bad_shapes / sizeof bad_shapes[0]; i++) {
        cr_assert_eq(obs_spec_parse(bad_shapes[i], "bit", &sp, &err), SHOAL_EINVAL, "%s",
                     bad_shapes[i]);
        cr_assert(strstr(err.msg, "H,W,C"), "%s", err.msg);
    }
    cr_assert_eq(obs_spec_parse("10,10,4", "int16", &sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "'int16'") && strstr(err.msg, "float32"), "%s", err.msg);
    obs_dtype d;
    cr_assert_eq(obs_dtype_parse("BIT", &d, &err), SHOAL_EINVAL);
    cr_assert_eq(obs_spec_parse("65536,65536,1", "bit", &sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "too large"), "%s", err.msg);
    sp = (obs_spec){.shape = {10, 10, 4}, .dtype = (obs_dtype)9};
    cr_assert_eq(obs_spec_finish(&sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "dtype 9"), "%s", err.msg);
    sp = (obs_spec){.shape = {10, 0, 4}, .dtype = OBS_DTYPE_BIT};
    cr_assert_eq(obs_spec_finish(&sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "shape[1] = 0"), "%s", err.msg);
}

Test(common_obs, bytes_per_dtype)
{
    obs_shape s = {10, 10, 4};
    cr_assert_eq(obs_shape_values(s), 400);
    cr_assert_eq(obs_shape_bytes(s, OBS_DTYPE_BIT), 50);
    cr_assert_eq(obs_shape_bytes(s, OBS_DTYPE_UINT8), 400);
    cr_assert_eq(obs_shape_bytes(s, OBS_DTYPE_FLOAT32), 1600);
    cr_assert_eq(obs_shape_bytes((obs_shape){10, 10, 10}, OBS_DTYPE_BIT), 125);
    cr_assert_eq(obs_shape_bytes((obs_shape){1, 3, 3}, OBS_DTYPE_BIT), 2, "9 bits round up");
    obs_spec sp = {.shape = {10, 10, 7}, .dtype = OBS_DTYPE_BIT};
    cr_assert_eq(obs_spec_finish(&sp, NULL), SHOAL_OK);
    cr_assert_eq(sp.bytes, 88);
}

/* Two 1x3x3 bit observations (9 values, 2 bytes each): value (x*3 + c) is bit i of byte i/8. */
Test(common_obs, unpack_of_bits_follows_the_packing_order)
{
    /* first: values 0, 4 and 8 on; second: values 1, 2 and 7 on */
    const uint8_t packed[4] = {0x11, 0x01, 0x86, 0x00};
    obs_spec sp = {.shape = {1, 3, 3}, .dtype = OBS_DTYPE_BIT};
    cr_assert_eq(obs_spec_finish(&sp, NULL), SHOAL_OK);
    float out[18];
    memset(out, 0xff, sizeof out);
    obs_unpack_f32(out, packed, &sp, 2);
    const float want[18] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0};
    for (size_t i = 0; i < 18; i++) {
        cr_assert_eq(out[i], want[i], "value %zu", i);
    }
}

Test(common_obs, unpack_of_uint8_and_float32_keeps_the_values)
{
    const uint8_t bytes[6] = {0, 1, 255, 7, 0, 3};
    obs_spec sp = {.shape = {1, 3, 1}, .dtype = OBS_DTYPE_UINT8};
    float out[6];
    obs_unpack_f32(out, bytes, &sp, 2);
    const float want[6] = {0, 1, 255, 7, 0, 3};
    cr_assert_arr_eq(out, want, sizeof want);
    const float src[4] = {0.5f, -2, 3e9f, 0};
    float copy[4];
    obs_unpack_f32(copy, src, &(obs_spec){.shape = {2, 1, 2}, .dtype = OBS_DTYPE_FLOAT32}, 1);
    cr_assert_arr_eq(copy, src, sizeof src);
}

static config *facts_config(void)
{
    const config_key *const tables[] = {obs_facts_config_keys};
    shoal_err err = {0};
    config *cfg = config_new(tables, 1, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    return cfg;
}

Test(common_obs, facts_are_unset_until_derived_and_the_error_names_the_keys)
{
    config *cfg = facts_config();
    obs_facts f;
    shoal_err err = {0};
    cr_assert_not(obs_facts_in_config(cfg));
    cr_assert_eq(obs_facts_from_config(cfg, &f, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "env.obs_shape is not set") && strstr(err.msg, "shoal train") &&
                  strstr(err.msg, "env.n_actions"), "%s", err.msg);
    cr_assert_eq(config_set(cfg, "env.obs_shape=10,10,4", "test", &err), SHOAL_OK);
    cr_assert_not(obs_facts_in_config(cfg), "n_actions 0 is not derived either");
    cr_assert_eq(obs_facts_from_config(cfg, &f, &err), SHOAL_EINVAL);
    config_free(cfg);
}

Test(common_obs, facts_round_trip_through_a_config)
{
    config *cfg = facts_config();
    obs_facts in = {.obs = {.shape = {1, 12, 1}, .dtype = OBS_DTYPE_UINT8}, .n_actions = 2};
    shoal_err err = {0};
    cr_assert_eq(obs_facts_to_config(cfg, &in, "derived from env.name", &err), SHOAL_OK, "%s",
                 err.msg);
    cr_assert(obs_facts_in_config(cfg));
    cr_assert_str_eq(config_str(cfg, "env", "obs_shape"), "1,12,1");
    cr_assert_str_eq(config_str(cfg, "env", "obs_dtype"), "uint8");
    obs_facts out;
    cr_assert_eq(obs_facts_from_config(cfg, &out, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(out.obs.shape.h == 1 && out.obs.shape.w == 12 && out.obs.shape.c == 1);
    cr_assert_eq(out.obs.dtype, OBS_DTYPE_UINT8);
    cr_assert_eq(out.obs.bytes, 12);
    cr_assert_eq(out.n_actions, 2);
    obs_facts bad = in;
    bad.n_actions = 0;
    cr_assert_eq(obs_facts_to_config(cfg, &bad, "test", &err), SHOAL_EINVAL);
    bad = in;
    bad.obs.shape.c = 0;
    cr_assert_eq(obs_facts_to_config(cfg, &bad, "test", &err), SHOAL_EINVAL);
    cr_assert_eq(config_set(cfg, "env.obs_shape=1,12", "test", &err), SHOAL_OK);
    cr_assert_eq(obs_facts_from_config(cfg, &out, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "env.obs_shape") && strstr(err.msg, "'1,12'"), "%s", err.msg);
    config_free(cfg);
}

Test(common_obs, check_compares_shape_dtype_and_actions)
{
    obs_facts want = {.obs = {.shape = {10, 10, 4}, .dtype = OBS_DTYPE_BIT}, .n_actions = 3};
    obs_facts got = want;
    shoal_err err = {0};
    cr_assert_eq(obs_facts_check(&want, &got, "minatar/breakout", &err), SHOAL_OK);
    got.n_actions = 5;
    cr_assert_eq(obs_facts_check(&want, &got, "minatar/asterix", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "minatar/asterix has observations 10,10,4 bit and 5 actions") &&
                  strstr(err.msg, "say 10,10,4 bit and 3 actions"), "%s", err.msg);
    got = want;
    got.obs.dtype = OBS_DTYPE_UINT8;
    cr_assert_eq(obs_facts_check(&want, &got, "x", &err), SHOAL_EINVAL);
    got = want;
    got.obs.shape.c = 7;
    cr_assert_eq(obs_facts_check(&want, &got, "x", &err), SHOAL_EINVAL);
}
