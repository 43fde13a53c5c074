/* env/rand.c: MT19937 with numpy's RandomState draw rules (specs/minatar.md §2.4). */
#include <criterion/criterion.h>
#include <math.h>

#include "env/rand.h"

Test(env_rand, mt19937_matches_the_reference_outputs_of_init_genrand)
{
    env_rand r;
    env_rand_seed(&r, ENV_RAND_MT19937, 5489);
    cr_assert_eq(env_rand_mt_u32(&r), 3499211612u); /* the MT19937 paper's default seed */
    env_rand_seed(&r, ENV_RAND_MT19937, 0);
    cr_assert_eq(env_rand_mt_u32(&r), 2357136044u);
    cr_assert_eq(env_rand_mt_u32(&r), 2546248239u);
    cr_assert_eq(env_rand_mt_u32(&r), 3071714933u);
}

Test(env_rand, uniform_double_is_numpy_rand_for_seed_zero)
{
    env_rand r;
    env_rand_seed(&r, ENV_RAND_MT19937, 0);
    /* numpy.random.RandomState(0).rand() */
    cr_assert_eq(env_rand_double(&r), 0.5488135039273248);
}

Test(env_rand, randint_masks_and_rejects_like_numpy)
{
    env_rand r;
    env_rand_seed(&r, ENV_RAND_MT19937, 0);
    /* numpy.random.RandomState(0).randint(0, 10) == 5: outputs & 15 are 12, 15 (rejected), 5. */
    cr_assert_eq(env_rand_int(&r, 0, 10), 5);
    env_rand a, b;
    env_rand_seed(&a, ENV_RAND_MT19937, 9);
    env_rand_seed(&b, ENV_RAND_MT19937, 9);
    cr_assert_eq(env_rand_int(&a, 4, 5), 4, "a one-value range");
    cr_assert_eq(env_rand_mt_u32(&a), env_rand_mt_u32(&b), "and it consumed no output");
}

Test(env_rand, draws_stay_in_range_across_many_twists)
{
    env_rand r;
    env_rand_seed(&r, ENV_RAND_MT19937, 4294967295u);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) {
        int64_t v = env_rand_int(&r, 1, 6);
        cr_assert(v >= 1 && v <= 5);
        counts[v - 1]++;
        double u = env_rand_double(&r);
        cr_assert(u >= 0 && u < 1);
    }
    for (int k = 0; k < 5; k++) {
        cr_assert(counts[k] > 9500 && counts[k] < 10500, "value %d: %d", k + 1, counts[k]);
    }
}

Test(env_rand, xoshiro_kind_gives_the_same_ranges)
{
    env_rand r;
    env_rand_seed(&r, ENV_RAND_XOSHIRO, 1);
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t v = env_rand_int(&r, 1, 9);
        cr_assert(v >= 1 && v <= 8);
        sum += env_rand_double(&r);
    }
    cr_assert(sum / 10000 > 0.48 && sum / 10000 < 0.52);
}

/* The sticky-action rule compares the draw's 53 bits with env_rand_u53_bound(p) instead of the
 * double with p: the same answer for every draw, also at probabilities whose p * 2^53 is a
 * whole number and right next to the draw itself. */
Test(env_rand, integer_sticky_test_agrees_with_the_double_test)
{
    const double ps[] = {0, 1, 0.1, 0.5, 0.25, 1.0 / 3.0, 0x1p-53, 0x1.8p-52, 0.999999999};
    env_rand a, b;
    env_rand_seed(&a, ENV_RAND_MT19937, 3);
    env_rand_seed(&b, ENV_RAND_MT19937, 3);
    for (int i = 0; i < 20000; i++) {
        uint64_t u = env_rand_mt_u53(&a);
        double d = env_rand_double(&b);
        cr_assert_eq((double)u / 9007199254740992.0, d, "the same draw");
        /* p exactly the draw, and the doubles on either side of it. */
        double around[3] = {d, nextafter(d, 0), nextafter(d, 1)};
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(u < env_rand_u53_bound(around[k]), d < around[k], "p=%a d=%a",
                         around[k], d);
        }
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            cr_assert_eq(u < env_rand_u53_bound(ps[k]), d < ps[k], "p=%a d=%a", ps[k], d);
        }
    }
    cr_assert_eq(env_rand_u53_bound(0), 0);
    cr_assert_eq(env_rand_u53_bound(1), (uint64_t)1 << 53);
}
