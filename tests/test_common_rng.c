#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"

Test(rng, the_same_stream_reproduces_exactly)
{
    rng a, b;
    rng_init(&a, 42, RNG_ROLE_ACTOR, 3, 7);
    rng_init(&b, 42, RNG_ROLE_ACTOR, 3, 7);
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(rng_u64(&a), rng_u64(&b));
    }
}

Test(rng, xoshiro256starstar_matches_the_reference_sequence)
{
    /* State 1,2,3,4 through the reference xoshiro256** (Blackman & Vigna) gives these. */
    rng r = {{1, 2, 3, 4}};
    const uint64_t expect[] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(rng_u64(&r), expect[i], "output %d", i);
    }
}

Test(rng, streams_differing_in_any_field_differ)
{
    rng base, other[4];
    rng_init(&base, 1, 2, 3, 4);
    rng_init(&other[0], 2, 2, 3, 4);
    rng_init(&other[1], 1, 3, 3, 4);
    rng_init(&other[2], 1, 2, 4, 4);
    rng_init(&other[3], 1, 2, 3, 5);
    uint64_t b[64];
    for (int i = 0; i < 64; i++) {
        b[i] = rng_u64(&base);
    }
    for (int k = 0; k < 4; k++) {
        int same = 0;
        for (int i = 0; i < 64; i++) {
            same += rng_u64(&other[k]) == b[i];
        }
        cr_assert_eq(same, 0, "stream %d repeats the base stream", k);
    }
}

Test(rng, neighbouring_streams_are_uncorrelated)
{
    /* Pearson correlation of uniforms from ranks 0 and 1 over 200k draws: |r| < 0.01
     * (5 standard deviations of the null distribution, 1/sqrt(n) = 0.0022). */
    rng a, b;
    rng_init(&a, 7, RNG_ROLE_ACTOR, 0, 0);
    rng_init(&b, 7, RNG_ROLE_ACTOR, 1, 0);
    const int n = 200000;
    double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_uniform(&a), y = rng_uniform(&b);
        sa += x;
        sb += y;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    double cov = sab / n - (sa / n) * (sb / n);
    double r = cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
    cr_assert(fabs(r) < 0.01, "correlation %g", r);
}

Test(rng, uniform_is_in_range_with_the_right_moments)
{
    rng r;
    rng_init(&r, 3, 0, 0, 0);
    const int n = 400000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0);
        float f = rng_uniform_f(&r);
        cr_assert(f >= 0.0f && f < 1.0f);
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    cr_assert(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n), "mean %g", mean);
    cr_assert(fabs(var - 1.0 / 12) < 0.002, "variance %g", var);
}

Test(rng, below_is_unbiased_by_chi_square)
{
    rng r;
    rng_init(&r, 5, 0, 0, 0);
    enum { K = 7, N = 700000 };
    long counts[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t v = rng_below(&r, K);
        cr_assert(v < K);
        counts[v]++;
    }
    double chi2 = 0, e = (double)N / K;
    for (int k = 0; k < K; k++) {
        chi2 += (counts[k] - e) * (counts[k] - e) / e;
    }
    cr_assert(chi2 < 22.46, "chi2 %g with 6 dof exceeds the 0.001 critical value", chi2);
    cr_assert_eq(rng_below(&r, 1), 0);
}

Test(rng, normal_has_mean_zero_and_unit_variance)
{
    rng r;
    rng_init(&r, 9, 0, 0, 0);
    const int n = 400000;
    double sum = 0, sum2 = 0, sum4 = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&r);
        cr_assert(isfinite(x));
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
    }
    cr_assert(fabs(sum / n) < 0.01, "mean %g", sum / n);
    cr_assert(fabs(sum2 / n - 1.0) < 0.015, "variance %g", sum2 / n);
    cr_assert(fabs(sum4 / n - 3.0) < 0.1, "fourth moment %g", sum4 / n);
}

Test(rng, bernoulli_rate_matches_p_and_edges_are_exact)
{
    rng r;
    rng_init(&r, 11, 0, 0, 0);
    const int n = 200000;
    int ones = 0;
    for (int i = 0; i < n; i++) {
        ones += rng_bernoulli(&r, 0.3);
        cr_assert_eq(rng_bernoulli(&r, 0.0), 0);
        cr_assert_eq(rng_bernoulli(&r, 1.0), 1);
    }
    double p = (double)ones / n;
    cr_assert(fabs(p - 0.3) < 5 * sqrt(0.3 * 0.7 / n), "rate %g", p);
}

Test(rng, categorical_follows_the_weights_and_skips_zeros)
{
    rng r;
    rng_init(&r, 13, 0, 0, 0);
    const double w[4] = {1.0, 0.0, 3.0, 0.0};
    long counts[4] = {0};
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        counts[rng_categorical(&r, w, 4)]++;
    }
    cr_assert_eq(counts[1], 0);
    cr_assert_eq(counts[3], 0);
    double p0 = (double)counts[0] / n;
    cr_assert(fabs(p0 - 0.25) < 5 * sqrt(0.25 * 0.75 / n), "p0 %g", p0);
}
