#include <criterion/criterion.h>
#include <math.h>

#include "replay/sumtree.h"

static replay_sumtree *tree_of(const double *v, size_t n)
{
    shoal_err err = {0};
    replay_sumtree *t = replay_sumtree_new(n, &err);
    cr_assert_not_null(t, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        replay_sumtree_set(t, i, v[i]);
    }
    return t;
}

/* Pearson chi-square of counts against expected probabilities. */
static double chi_square(const size_t *counts, const double *p, size_t n, size_t draws)
{
    double chi = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = p[i] * (double)draws;
        if (e > 0.0) {
            chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
        } else {
            cr_assert_eq(counts[i], 0, "leaf %zu has zero priority but was drawn", i);
        }
    }
    return chi;
}

Test(replay_sumtree, total_and_find_match_the_spec_example)
{
    const double v[] = {1, 2, 3, 4};
    replay_sumtree *t = tree_of(v, 4);
    cr_assert_float_eq(replay_sumtree_total(t), 10.0, 1e-12);
    cr_assert_eq(replay_sumtree_find(t, 3.5), 2);
    cr_assert_eq(replay_sumtree_find(t, 0.0), 0);
    cr_assert_eq(replay_sumtree_find(t, 0.999), 0);
    cr_assert_eq(replay_sumtree_find(t, 1.0), 1);
    cr_assert_eq(replay_sumtree_find(t, 9.999), 3);
    replay_sumtree_free(t);
}

Test(replay_sumtree, find_never_lands_on_a_zero_leaf_at_the_right_edge)
{
    const double v[] = {1, 2, 0, 0, 0};
    replay_sumtree *t = tree_of(v, 5); /* base 8: three padding leaves too */
    cr_assert_eq(replay_sumtree_find(t, 3.0), 1);
    cr_assert_eq(replay_sumtree_find(t, 3.0 + 1e-9), 1);
    cr_assert_eq(replay_sumtree_find(t, 1e300), 1);
    cr_assert_eq(replay_sumtree_find(t, -1.0), 0);
    replay_sumtree_set(t, 0, 0.0);
    cr_assert_eq(replay_sumtree_find(t, 0.0), 1, "a zero leaf on the left is skipped too");
    replay_sumtree_free(t);
}

Test(replay_sumtree, updates_recompute_parents_and_rebuild_agrees)
{
    double v[37];
    for (size_t i = 0; i < 37; i++) {
        v[i] = (double)(i % 5) * 0.25;
    }
    replay_sumtree *t = tree_of(v, 37);
    double sum = 0.0;
    for (size_t i = 0; i < 37; i++) {
        sum += v[i];
    }
    cr_assert_float_eq(replay_sumtree_total(t), sum, 1e-12);
    replay_sumtree_set(t, 36, 10.0);
    cr_assert_float_eq(replay_sumtree_total(t), sum - v[36] + 10.0, 1e-12);
    cr_assert_float_eq(replay_sumtree_get(t, 36), 10.0, 0.0);
    double before = replay_sumtree_total(t);
    replay_sumtree_rebuild(t);
    cr_assert_float_eq(replay_sumtree_total(t), before, 1e-12);
    replay_sumtree_clear(t);
    cr_assert_float_eq(replay_sumtree_total(t), 0.0, 0.0);
    replay_sumtree_free(t);
}

Test(replay_sumtree, zero_capacity_is_an_error)
{
    shoal_err err = {0};
    cr_assert_null(replay_sumtree_new(0, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "capacity") != NULL);
}

/* algorithms.md §2.2: 10^6 draws from (1,2,3,4) match P within 3 sigma per leaf. */
Test(replay_sumtree, a_million_single_draws_match_the_priorities_within_three_sigma)
{
    const double v[] = {1, 2, 3, 4};
    replay_sumtree *t = tree_of(v, 4);
    rng r;
    rng_init(&r, 7, RNG_ROLE_REPLAY, 0, 0);
    size_t counts[4] = {0};
    const size_t draws = 1000000;
    for (size_t k = 0; k < draws; k++) {
        counts[replay_sumtree_find(t, rng_uniform(&r) * 10.0)]++;
    }
    for (size_t i = 0; i < 4; i++) {
        double p = v[i] / 10.0;
        double sigma = sqrt((double)draws * p * (1 - p));
        cr_assert(fabs((double)counts[i] - p * (double)draws) < 3 * sigma, "leaf %zu: %zu draws",
                  i, counts[i]);
    }
    replay_sumtree_free(t);
}

/* Stratified batches over 200 uneven leaves: chi-square with 199 dof (ignoring zero leaves).
 * The 99.9% quantile of chi2(199) is about 273; stratification only lowers the statistic. A
 * sampler that ignored the priorities (uniform) gives a statistic in the tens of thousands. */
Test(replay_sumtree, stratified_batches_pass_a_chi_square_frequency_test)
{
    enum { N = 200, BATCH = 32, BATCHES = 20000 };
    double v[N], p[N], total = 0.0;
    rng r;
    rng_init(&r, 11, RNG_ROLE_REPLAY, 0, 1);
    for (size_t i = 0; i < N; i++) {
        v[i] = (i % 17 == 0) ? 0.0 : 0.05 + rng_uniform(&r) * (double)(i % 9);
        total += v[i];
    }
    size_t dof = 0;
    for (size_t i = 0; i < N; i++) {
        p[i] = v[i] / total;
        dof += v[i] > 0.0;
    }
    replay_sumtree *t = tree_of(v, N);
    size_t counts[N] = {0}, idx[BATCH];
    for (size_t b = 0; b < BATCHES; b++) {
        replay_sumtree_sample(t, BATCH, &r, idx);
        for (size_t k = 0; k < BATCH; k++) {
            cr_assert_lt(idx[k], (size_t)N);
            counts[idx[k]]++;
        }
    }
    double chi = chi_square(counts, p, N, (size_t)BATCH * BATCHES);
    cr_assert_eq(dof, 188);
    cr_assert_lt(chi, 260.0, "chi-square %.1f with %zu dof", chi, dof - 1);
    /* the same statistic against uniform probabilities must be far off */
    double u[N];
    for (size_t i = 0; i < N; i++) {
        u[i] = v[i] > 0.0 ? 1.0 / (double)dof : 0.0;
    }
    cr_assert_gt(chi_square(counts, u, N, (size_t)BATCH * BATCHES), 5000.0);
    replay_sumtree_free(t);
}

/* The batch sampler descends level by level in lockstep; it must give exactly the leaves that
 * one find per stratum gives for the same random draws, across chunk boundaries too. */
Test(replay_sumtree, lockstep_batch_sampling_equals_one_find_per_stratum)
{
    enum { N = 5000, B = 150 };
    static double v[N];
    rng r, r2;
    rng_init(&r, 3, RNG_ROLE_REPLAY, 0, 2);
    for (size_t i = 0; i < N; i++) {
        v[i] = i % 13 == 0 ? 0.0 : rng_uniform(&r);
    }
    replay_sumtree *t = tree_of(v, N);
    rng_init(&r, 4, RNG_ROLE_REPLAY, 0, 3);
    r2 = r;
    size_t got[B];
    replay_sumtree_sample(t, B, &r, got);
    double seg = replay_sumtree_total(t) / B;
    for (size_t k = 0; k < B; k++) {
        size_t want = replay_sumtree_find(t, seg * ((double)k + rng_uniform(&r2)));
        cr_assert_eq(got[k], want, "stratum %zu", k);
        cr_assert_gt(v[got[k]], 0.0);
    }
    replay_sumtree_free(t);
}

/* A descent by the definition: leaves scanned left to right, u reduced by each leaf it passes.
 * It groups the subtractions differently from the tree, so it is a reference for the leaf found
 * away from the edges of a leaf's interval, where rounding cannot tell the two apart. */
static size_t linear_find(const double *v, size_t n, double u)
{
    size_t i = 0;
    while (i + 1 < n && (u >= v[i] || v[i] <= 0.0)) {
        u -= v[i];
        i++;
    }
    return i;
}

Test(replay_sumtree, find_agrees_with_a_linear_scan_of_the_leaves)
{
    enum { N = 3001 };
    static double v[N], cum[N + 1];
    rng r;
    rng_init(&r, 9, RNG_ROLE_REPLAY, 0, 4);
    for (size_t i = 0; i < N; i++) {
        v[i] = i % 7 == 3 ? 0.0 : 0.1 + rng_uniform(&r);
        cum[i + 1] = cum[i] + v[i];
    }
    replay_sumtree *t = tree_of(v, N);
    for (size_t i = 0; i < N; i++) {
        if (v[i] > 0.0) { /* the middle of leaf i's interval */
            double u = 0.5 * (cum[i] + cum[i + 1]);
            cr_assert_eq(replay_sumtree_find(t, u), i, "u %.17g", u);
            cr_assert_eq(linear_find(v, N, u), i, "the reference itself, u %.17g", u);
        }
    }
    replay_sumtree_free(t);
}

/* set_batch walks many leaves to the root together; the tree must end exactly (to the bit) as
 * the same sets one at a time leave it, repeated leaves included (the last value wins). */
Test(replay_sumtree, batched_sets_leave_the_tree_as_sequential_sets_do)
{
    enum { N = 70000, K = 1000 };
    static double v[N];
    static size_t idx[K];
    static double val[K];
    rng r;
    rng_init(&r, 5, RNG_ROLE_REPLAY, 0, 5);
    for (size_t i = 0; i < N; i++) {
        v[i] = rng_uniform(&r);
    }
    replay_sumtree *a = tree_of(v, N), *b = tree_of(v, N);
    for (size_t k = 0; k < K; k++) {
        idx[k] = k % 10 == 9 ? idx[k - 3] : (size_t)(rng_uniform(&r) * N) % N;
        val[k] = k % 17 == 0 ? 0.0 : 3.0 * rng_uniform(&r);
    }
    for (size_t k = 0; k < K; k++) {
        replay_sumtree_set(a, idx[k], val[k]);
    }
    replay_sumtree_set_batch(b, idx, val, K);
    cr_assert(replay_sumtree_total(a) == replay_sumtree_total(b), "totals %.17g and %.17g",
              replay_sumtree_total(a), replay_sumtree_total(b));
    for (size_t i = 0; i < N; i++) {
        cr_assert(replay_sumtree_get(a, i) == replay_sumtree_get(b, i), "leaf %zu", i);
    }
    double total = replay_sumtree_total(a);
    for (size_t q = 0; q < 4096; q++) {
        double u = total * ((double)q + 0.5) / 4096.0;
        cr_assert_eq(replay_sumtree_find(a, u), replay_sumtree_find(b, u), "u %.17g", u);
    }
    replay_sumtree_set_batch(b, idx, val, 0);
    cr_assert(replay_sumtree_total(a) == replay_sumtree_total(b), "an empty batch changes nothing");
    replay_sumtree_free(a);
    replay_sumtree_free(b);
}
