#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "actor/explore.h"

static actor_explore_config base(actor_strategy s, size_t envs, size_t heads, size_t actions)
{
    actor_explore_config c = {.strategy = s, .epsilon = 0.4, .alpha = 7, .mask_p = 0.5,
                              .simhash_bits = 32, .bonus_beta = 0.01, .simhash_table = 1024,
                              .n_envs = envs, .n_heads = heads, .n_actions = actions,
                              .obs_floats = 16, .actor_index = 0, .n_actors = 1, .seed = 3};
    return c;
}

Test(actor_explore, the_ladder_for_eight_actors_matches_the_spec)
{
    const double want[8] = {0.4, 0.16, 0.064, 0.0256, 0.01024, 0.004096, 0.0016384,
                            0.00065536};
    for (uint32_t i = 0; i < 8; i++) {
        cr_assert_float_eq(actor_explore_ladder(0.4, 7, i, 8), want[i], want[i] * 1e-9,
                           "actor %u", i);
    }
    cr_assert_float_eq(actor_explore_ladder(0.4, 7, 1, 16), 0.260828, 1e-6);
    cr_assert_float_eq(actor_explore_ladder(0.4, 7, 15, 16), 0.00065536, 1e-12);
    cr_assert_eq(actor_explore_ladder(0.4, 7, 0, 1), 0.4, "one actor acts with ε");
}

Test(actor_explore, an_actor_acts_with_its_rung_of_the_ladder)
{
    actor_explore_config c = base(ACTOR_STRATEGY_EPSILON, 1, 1, 4);
    c.actor_index = 2;
    c.n_actors = 8;
    actor_explore *x = actor_explore_new(&c, NULL);
    cr_assert_float_eq(actor_explore_epsilon(x), 0.064, 1e-12);
    /* Greedy unless the coin says otherwise: random actions are uniform over 4, so the share
     * of non-greedy actions is ε·3/4. */
    const float q[4] = {0, 0, 5, 0};
    size_t off = 0, n = 200000;
    for (size_t t = 0; t < n; t++) {
        uint32_t a;
        actor_explore_act(x, q, 1, &a);
        off += a != 2;
    }
    double rate = (double)off / (double)n, want = 0.064 * 0.75;
    cr_assert(fabs(rate - want) < 5 * sqrt(want / (double)n), "rate %g want %g", rate, want);
    actor_explore_free(x);
}

Test(actor_explore, each_env_keeps_one_head_per_episode_and_heads_are_uniform)
{
    size_t envs = 4, heads = 5, actions = 5;
    actor_explore_config c = base(ACTOR_STRATEGY_BOOTSTRAP, envs, heads, actions);
    actor_explore *x = actor_explore_new(&c, NULL);
    cr_assert_eq(actor_explore_epsilon(x), 0.0);
    /* Head h prefers action h, so the action shows the head acted with. */
    float q[4 * 5 * 5];
    for (size_t i = 0; i < envs; i++) {
        for (size_t h = 0; h < heads; h++) {
            for (size_t a = 0; a < actions; a++) {
                q[(i * heads + h) * actions + a] = a == h ? 1.0f : 0.0f;
            }
        }
    }
    size_t hist[5] = {0}, episodes = 20000;
    for (size_t e = 0; e < episodes; e++) {
        size_t i = e % envs;
        actor_explore_episode_start(x, i);
        uint32_t h = actor_explore_head(x, i);
        cr_assert_lt(h, heads);
        hist[h]++;
        for (int t = 0; t < 3; t++) {
            uint32_t acts[4];
            actor_explore_act(x, q, envs, acts);
            cr_assert_eq(acts[i], h, "env %zu acts with its episode's head", i);
        }
    }
    for (size_t h = 0; h < heads; h++) {
        double share = (double)hist[h] / (double)episodes;
        cr_assert(fabs(share - 0.2) < 0.015, "head %zu drawn %g of episodes", h, share);
    }
    actor_explore_free(x);
}

Test(actor_explore, mask_bits_are_set_at_rate_p)
{
    actor_explore_config c = base(ACTOR_STRATEGY_BOOTSTRAP, 1, 10, 3);
    c.mask_p = 0.3;
    actor_explore *x = actor_explore_new(&c, NULL);
    size_t ones[10] = {0}, n = 50000;
    for (size_t t = 0; t < n; t++) {
        uint32_t m = actor_explore_mask(x);
        cr_assert_eq(m >> 10, 0, "only K bits");
        for (int h = 0; h < 10; h++) {
            ones[h] += (m >> h) & 1;
        }
    }
    double sd = sqrt(0.3 * 0.7 / (double)n);
    for (int h = 0; h < 10; h++) {
        double rate = (double)ones[h] / (double)n;
        cr_assert(fabs(rate - 0.3) < 5 * sd, "bit %d rate %g", h, rate);
    }
    actor_explore_free(x);
    c.mask_p = 1.0;
    x = actor_explore_new(&c, NULL);
    cr_assert_eq(actor_explore_mask(x), 0x3FF);
    actor_explore_free(x);
}

Test(actor_explore, identical_observations_share_a_count_and_the_bonus_decays)
{
    actor_explore_config c = base(ACTOR_STRATEGY_COUNT, 2, 1, 3);
    actor_explore *x = actor_explore_new(&c, NULL);
    float g[2 * 16] = {0};
    for (int i = 0; i < 16; i++) {
        g[i] = (float)(i % 3 == 0);
        g[16 + i] = g[i];
    }
    uint64_t code = actor_explore_code(x, g);
    cr_assert_eq(actor_explore_code(x, g + 16), code);
    float bonus[2];
    actor_explore_bonus(x, g, 2, bonus); /* both envs see the same state: counts 1, 2 */
    cr_assert_float_eq(bonus[0], 0.01f, 1e-7);
    cr_assert_float_eq(bonus[1], 0.01f / sqrtf(2.0f), 1e-7);
    actor_explore_bonus(x, g, 2, bonus); /* counts 3, 4 */
    cr_assert_float_eq(bonus[1], 0.005f, 1e-7, "count 4 pays β/2");
    cr_assert_eq(actor_explore_count(x, code), 4);
    for (uint64_t n = 5; n <= 100; n++) {
        actor_explore_bonus(x, g, 1, bonus);
        cr_assert_float_eq(bonus[0], 0.01 / sqrt((double)n), 1e-8, "visit %llu",
                           (unsigned long long)n);
    }
    cr_assert_eq(actor_explore_codes(x), 1);
    /* A different observation starts its own count. */
    float h[16] = {0};
    h[1] = 1.0f;
    cr_assert_neq(actor_explore_code(x, h), code);
    actor_explore_bonus(x, h, 1, bonus);
    cr_assert_float_eq(bonus[0], 0.01f, 1e-7);
    actor_explore_free(x);
}

Test(actor_explore, codes_are_the_signs_of_the_projection_and_fixed_by_the_seed)
{
    actor_explore_config c = base(ACTOR_STRATEGY_COUNT, 1, 1, 3);
    actor_explore *x = actor_explore_new(&c, NULL);
    c.actor_index = 5; /* another actor of the same run hashes alike */
    c.n_actors = 8;
    actor_explore *y = actor_explore_new(&c, NULL);
    c.seed = 4;
    actor_explore *z = actor_explore_new(&c, NULL);
    float g[16];
    for (int i = 0; i < 16; i++) {
        g[i] = (float)((i * 7) % 5 == 1);
    }
    cr_assert_eq(actor_explore_code(x, g), actor_explore_code(y, g));
    cr_assert_neq(actor_explore_code(x, g), actor_explore_code(z, g));
    /* Against the definition, with A drawn from the documented stream. */
    rng pr;
    rng_init(&pr, 3, RNG_ROLE_ACTOR, 0xFFFFFFFFu, 2);
    uint64_t want = 0;
    for (int j = 0; j < 32; j++) {
        double dot = 0.0;
        for (int i = 0; i < 16; i++) {
            dot += (double)(float)rng_normal(&pr) * g[i];
        }
        want |= (uint64_t)(dot > 0.0) << j;
    }
    cr_assert_eq(actor_explore_code(x, g), want);
    actor_explore_free(x);
    actor_explore_free(y);
    actor_explore_free(z);
}

Test(actor_explore, a_full_table_counts_new_codes_as_first_visits)
{
    actor_explore_config c = base(ACTOR_STRATEGY_COUNT, 1, 1, 3);
    c.simhash_table = 16; /* 14 codes fit */
    actor_explore *x = actor_explore_new(&c, NULL);
    float bonus;
    for (int s = 0; s < 16; s++) {
        float g[16] = {0};
        g[s] = 1.0f;
        g[(s + 5) % 16] = -1.0f;
        actor_explore_bonus(x, g, 1, &bonus);
        cr_assert_float_eq(bonus, 0.01f, 1e-7);
    }
    cr_assert_leq(actor_explore_codes(x), 14);
    cr_assert_eq(actor_explore_codes(x) + actor_explore_overflow(x), 16);
    actor_explore_free(x);
}

Test(actor_explore, without_a_count_strategy_the_bonus_is_zero)
{
    actor_explore_config c = base(ACTOR_STRATEGY_BOOTSTRAP, 2, 4, 3);
    actor_explore *x = actor_explore_new(&c, NULL);
    float g[32] = {1}, bonus[2] = {7, 7};
    actor_explore_bonus(x, g, 2, bonus);
    cr_assert_eq(bonus[0], 0.0f);
    cr_assert_eq(bonus[1], 0.0f);
    actor_explore_free(x);
}

Test(actor_explore, bad_configurations_name_what_to_change)
{
    shoal_err err = {0};
    actor_explore_config c = base(ACTOR_STRATEGY_BOOTSTRAP, 1, 1, 3);
    cr_assert_null(actor_explore_new(&c, &err));
    cr_assert(strstr(err.msg, "network.heads"), "%s", err.msg);
    c = base(ACTOR_STRATEGY_COUNT, 1, 1, 3);
    c.simhash_table = 1000;
    cr_assert_null(actor_explore_new(&c, &err));
    cr_assert(strstr(err.msg, "simhash_table"), "%s", err.msg);
    c = base(ACTOR_STRATEGY_EPSILON, 1, 1, 3);
    c.actor_index = 4;
    c.n_actors = 4;
    cr_assert_null(actor_explore_new(&c, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    actor_strategy s;
    cr_assert_eq(actor_strategy_parse("count+bootstrap", &s, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "bootstrap+count"));
    cr_assert_eq(actor_strategy_parse("bootstrap+count", &s, &err), SHOAL_OK);
    cr_assert_eq(s, ACTOR_STRATEGY_BOOTSTRAP_COUNT);
}
