#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/config.h"
#include "nn/optim.h"
#include "nn/rnd.h"

#define SIDE 6
#define D (SIDE * SIDE)

/* DeepSea's kind of observation: one cell of a SIDE x SIDE grid set. */
static void one_hot(float *x, size_t cell)
{
    memset(x, 0, D * sizeof *x);
    x[cell] = 1.0f;
}

static nn_qnet_config mlp(void)
{
    nn_qnet_config c = {.in_h = SIDE, .in_w = SIDE, .in_c = 1, .n_actions = 2, .n_heads = 1,
                        .n_dense = 1, .dense = {32}, .max_batch = 64, .seed = 1};
    return c;
}

static const nn_rnd_config rc = {.features = 16, .hidden = 32, .lr = 1e-3f, .beta = 1.0f,
                                 .obs_clip = 5.0f};

static float mean_error(nn_rnd *r, const float *x, size_t n)
{
    float e[64];
    nn_rnd_error(r, x, n, e);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += e[i];
    }
    return (float)(s / (double)n);
}

Test(nn_rnd, the_error_falls_on_repeated_observations_and_stays_high_on_new_ones)
{
    nn_qnet_config net = mlp();
    shoal_err err = {0};
    nn_rnd *r = nn_rnd_new(&net, &rc, 64, 7, &err);
    cr_assert_not_null(r, "%s", err.msg);
    nn_qnet *p = nn_rnd_predictor(r);
    nn_optim_config oc = nn_optim_adam(rc.lr);
    nn_optim *opt = nn_optim_new(&oc, nn_qnet_n_trainable(p), &err);
    /* seen: the first 6 cells, 8 copies each (a batch of 48); new: the last 6 cells */
    float seen[48 * D], fresh[6 * D];
    for (size_t i = 0; i < 48; i++) {
        one_hot(seen + i * D, i % 6);
    }
    for (size_t i = 0; i < 6; i++) {
        one_hot(fresh + i * D, D - 1 - i);
    }
    double sums[1 + 2 * D];
    float seen0 = mean_error(r, seen, 6), fresh0 = mean_error(r, fresh, 6);
    for (int step = 0; step < 300; step++) {
        nn_rnd_moments(r, seen, 48, sums);
        nn_rnd_observe(r, sums);
        nn_rnd_gradient(r, seen, 48);
        nn_optim_step(opt, nn_qnet_params(p), nn_qnet_grads(p));
    }
    float seen1 = mean_error(r, seen, 6), fresh1 = mean_error(r, fresh, 6);
    cr_assert_lt(seen1, 0.05f * seen0, "repeated: %g -> %g", seen0, seen1);
    /* The new cells were never seen: normalised they sit at the clip (+5), far outside what the
     * predictor was fitted on. */
    cr_assert_gt(fresh1, 0.5f * fresh0, "new: %g -> %g", fresh0, fresh1);
    cr_assert_gt(fresh1, 100.0f * seen1, "new %g against repeated %g", fresh1, seen1);
    cr_assert_eq(nn_rnd_observed(r), 300.0 * 48);
    nn_optim_free(opt);
    nn_rnd_free(r);
}

Test(nn_rnd, the_normaliser_holds_the_running_mean_and_std_and_clips)
{
    nn_qnet_config net = mlp();
    nn_rnd *r = nn_rnd_new(&net, &rc, 64, 7, NULL);
    float x[4 * D];
    for (size_t i = 0; i < 4 * D; i++) {
        x[i] = (float)(i / D); /* rows 0, 1, 2, 3 */
    }
    double sums[1 + 2 * D];
    nn_rnd_moments(r, x, 2, sums);
    nn_rnd_observe(r, sums);
    nn_rnd_moments(r, x + 2 * D, 2, sums);
    nn_rnd_observe(r, sums);
    /* μ = 1.5, σ² = 1.25 over 0..3 (merged from two halves); exported after the predictor */
    size_t np = nn_qnet_n_params(nn_rnd_predictor(r));
    float blob[8192];
    cr_assert_lt(nn_rnd_blob_bytes(r), sizeof blob);
    cr_assert_eq(nn_rnd_blob_export(r, blob, sizeof blob, NULL), SHOAL_OK);
    cr_assert_float_eq(blob[np], 1.5f, 1e-6);
    cr_assert_float_eq(blob[np + D], sqrtf(1.25f), 1e-6);
    /* A second one built from the same seed takes the blob and computes the same errors. */
    nn_rnd *r2 = nn_rnd_new(&net, &rc, 64, 7, NULL);
    cr_assert_str_eq(nn_rnd_arch(r), nn_rnd_arch(r2));
    cr_assert_eq(nn_rnd_blob_import(r2, blob, nn_rnd_blob_bytes(r), NULL), SHOAL_OK);
    float big[D], e1, e2;
    for (size_t j = 0; j < D; j++) {
        big[j] = 1000.0f; /* clipped to +5 */
    }
    nn_rnd_error(r, big, 1, &e1);
    nn_rnd_error(r2, big, 1, &e2);
    cr_assert_eq(e1, e2);
    for (size_t j = 0; j < D; j++) {
        big[j] = 1.5f + 5.0f * sqrtf(1.25f) + 0.01f; /* just past the clip: the same input */
    }
    nn_rnd_error(r, big, 1, &e2);
    cr_assert_float_eq(e1, e2, 1e-6f * (1 + e1));
    shoal_err err = {0};
    cr_assert_eq(nn_rnd_blob_import(r2, blob, 12, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "rnd"), "%s", err.msg);
    /* Another seed is another target: another architecture string. */
    nn_rnd *r3 = nn_rnd_new(&net, &rc, 64, 8, NULL);
    cr_assert_str_neq(nn_rnd_arch(r), nn_rnd_arch(r3));
    nn_rnd_free(r3);
    nn_rnd_free(r2);
    nn_rnd_free(r);
}

Test(nn_rnd, its_keys_are_read_and_a_bad_learning_rate_is_refused)
{
    const config_key *const tables[] = {nn_rnd_config_keys};
    config *c = config_new(tables, 1, NULL);
    cr_assert_not_null(c);
    shoal_err err = {0};
    nn_rnd_config out;
    cr_assert_eq(nn_rnd_config_from(c, &out, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(out.features, 64);
    cr_assert_float_eq(out.obs_clip, 5.0f, 0);
    cr_assert_eq(config_set(c, "rnd.lr=0", "--set", &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(nn_rnd_config_from(c, &out, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "rnd.lr"), "%s", err.msg);
    config_free(c);
}
