#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/layers.h"

/* Criterion runs each test in a fresh process, so each starts with an empty choice cache. */

typedef struct lin {
    nn_linear_shape s;
    float *x, *w, *b, *y;
} lin;

static lin lin_new(size_t batch, size_t n_in, size_t n_out)
{
    lin l = {nn_linear_dense(batch, n_in, n_out), calloc(batch * n_in, 4),
             calloc(n_in * n_out, 4), calloc(n_out, 4), calloc(batch * n_out, 4)};
    for (size_t i = 0; i < batch * n_in; i++) {
        l.x[i] = (float)(i % 7) - 3.0f;
    }
    for (size_t i = 0; i < n_in * n_out; i++) {
        l.w[i] = (float)(i % 5) - 2.0f; /* small integers: every candidate sums exactly */
    }
    return l;
}

static void lin_free(lin *l)
{
    free(l->x), free(l->w), free(l->b), free(l->y);
}

static nn_kernel_choice choice(size_t i)
{
    nn_kernel_choice c;
    cr_assert_eq(nn_kernels_get(i, &c), SHOAL_OK, "no choice %zu", i);
    return c;
}

Test(nn_kernels, a_shape_is_measured_once_and_its_choice_reused)
{
    lin l = lin_new(1, 256, 64);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    cr_assert_eq(nn_kernels_count(), 1);
    nn_kernel_choice c = choice(0);
    cr_assert_eq(c.op, &nn_kernel_linear_forward);
    cr_assert_eq(c.dims[0], 1);
    cr_assert_eq(c.dims[1], 256);
    cr_assert_eq(c.dims[2], 64);
    cr_assert_not(c.forced);
    cr_assert_gt(c.us[0], 0.0, "sgemm was timed");
    cr_assert_gt(c.us[1], 0.0, "the loop was timed");
    cr_assert_gt(c.measure_us, 0.0);
    /* the default (sgemm) stays unless the other is more than 10% faster */
    if (c.chosen == 1) {
        cr_assert_lt(c.us[1] * 1.10, c.us[0], "small chosen at %g us against sgemm's %g", c.us[1],
                     c.us[0]);
    } else {
        cr_assert_leq(c.us[0], c.us[1] * 1.10, "sgemm kept at %g us against %g", c.us[0],
                      c.us[1]);
    }
    for (int k = 0; k < 5; k++) {
        nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    }
    cr_assert_eq(nn_kernels_count(), 1, "the same shape again is looked up, not measured");
    lin_free(&l);
    lin m = lin_new(3, 256, 64);
    nn_linear_forward(m.y, m.x, m.w, m.b, &m.s);
    cr_assert_eq(nn_kernels_count(), 2, "another batch size is another shape");
    cr_assert_eq(choice(1).dims[0], 3);
    lin_free(&m);
}

Test(nn_kernels, the_outputs_are_the_chosen_candidates_bit_for_bit)
{
    /* random-looking floats: candidates may round differently, so equality shows which ran */
    lin l = lin_new(2, 300, 40);
    for (size_t i = 0; i < 2 * 300; i++) {
        l.x[i] = 1.0f / (float)(i + 3);
    }
    for (size_t i = 0; i < 300 * 40; i++) {
        l.w[i] = 1.0f / (float)(i % 97 + 1) - 0.3f;
    }
    float *want = calloc(2 * 40, 4);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    size_t k = choice(0).chosen;
    if (k == 0) {
        nn_linear_forward_sgemm(want, l.x, l.w, l.b, &l.s);
    } else {
        nn_linear_forward_small(want, l.x, l.w, l.b, &l.s);
    }
    cr_assert_eq(memcmp(l.y, want, 2 * 40 * 4), 0, "first call: candidate %zu's result", k);
    memset(l.y, 0, 2 * 40 * 4);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    cr_assert_eq(memcmp(l.y, want, 2 * 40 * 4), 0, "later call: candidate %zu's result", k);
    free(want);
    lin_free(&l);
}

Test(nn_kernels, forcing_by_name_runs_that_candidate_without_timing)
{
    shoal_err err = {0};
    cr_assert_eq(nn_kernels_force("linear_forward=small,conv_forward=im2col", &err), SHOAL_OK,
                 "%s", err.msg);
    lin l = lin_new(64, 128, 32);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    nn_kernel_choice c = choice(0);
    cr_assert_eq(c.chosen, 1);
    cr_assert(c.forced);
    cr_assert_lt(c.us[0], 0.0, "nothing timed");
    lin_free(&l);
    /* the direct convolution cannot run F = 5; forcing it falls back to measuring the others */
    cr_assert_eq(nn_kernels_force("conv_forward=direct", &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(nn_kernels_count(), 0, "forcing forgets earlier choices");
    nn_conv_shape s = {1, 5, 5, 2, 5};
    float x[50] = {0}, w[90] = {0}, b[5] = {0}, y[45], cols[9 * 18];
    cr_assert_eq(nn_conv_forward(y, cols, x, w, b, &s), 1, "im2col ran and filled cols");
    cr_assert_eq(choice(0).chosen, 1);
    cr_assert_not(choice(0).forced);
    nn_conv_shape s16 = {1, 5, 5, 2, 16};
    float w16[9 * 2 * 16] = {0}, b16[16] = {0}, y16[9 * 16];
    cr_assert_eq(nn_conv_forward(y16, cols, x, w16, b16, &s16), 0, "direct ran: no cols");
    cr_assert(choice(1).forced);
}

Test(nn_kernels, unknown_names_are_refused_and_change_nothing)
{
    shoal_err err = {0};
    cr_assert_eq(nn_kernels_force("linear_forward=small", &err), SHOAL_OK);
    cr_assert_eq(nn_kernels_force("linear_forward=fast", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "\"fast\"") && strstr(err.msg, "sgemm or small"), "%s", err.msg);
    cr_assert_eq(nn_kernels_force("matmul=small", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "unknown operation \"matmul\""), "%s", err.msg);
    cr_assert_eq(nn_kernels_force("linear_forward", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "op=name"), "%s", err.msg);
    lin l = lin_new(1, 64, 32);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    cr_assert(choice(0).forced, "the earlier forcing still holds");
    cr_assert_eq(choice(0).chosen, 1);
    lin_free(&l);
}

Test(nn_kernels, the_environment_variable_forces_candidates)
{
    setenv("SHOAL_NN_KERNELS", "linear_forward=sgemm", 1);
    lin l = lin_new(1, 1024, 128);
    nn_linear_forward(l.y, l.x, l.w, l.b, &l.s);
    cr_assert(choice(0).forced);
    cr_assert_eq(choice(0).chosen, 0);
    lin_free(&l);
}
