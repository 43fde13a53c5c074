#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "actor/explore.h"
#include "nn/optim.h"

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

/* ---- RND and shared counts ---- */

#define GRID 6
#define CELLS (GRID * GRID)

static actor_explore_config rnd_config(void)
{
    actor_explore_config c = base(ACTOR_STRATEGY_RND, 2, 1, 2);
    c.obs_floats = CELLS;
    c.gamma = 0.99;
    c.rnd = (nn_rnd_config){.features = 16, .hidden = 32, .lr = 1e-3f, .beta = 0.5f,
                            .obs_clip = 5.0f};
    c.net = (nn_qnet_config){.in_h = GRID, .in_w = GRID, .in_c = 1, .n_actions = 2,
                             .n_heads = 1, .n_dense = 1, .dense = {32}, .max_batch = 2,
                             .seed = 3};
    return c;
}

Test(actor_explore, the_rnd_bonus_falls_on_repeated_observations_and_stays_high_on_new_ones)
{
    actor_explore_config c = rnd_config();
    shoal_err err = {0};
    actor_explore *x = actor_explore_new(&c, &err);
    cr_assert_not_null(x, "%s", err.msg);
    nn_rnd *r = actor_explore_rnd(x);
    cr_assert_not_null(r);
    /* The learner's side, in-process: train the actor's predictor on cell 0 only. */
    nn_qnet *p = nn_rnd_predictor(r);
    nn_optim_config oc = nn_optim_adam(1e-3f);
    nn_optim *opt = nn_optim_new(&oc, nn_qnet_n_trainable(p), &err);
    float pair[2 * CELLS] = {0}; /* env 0: the repeated cell 0; env 1: a new cell each time */
    pair[0] = 1.0f;
    float bonus[2];
    pair[CELLS + 35] = 1.0f;
    actor_explore_bonus(x, pair, 2, bonus);
    float ratio0 = bonus[1] / bonus[0];
    cr_assert(bonus[0] > 0.0f && bonus[1] > 0.0f);
    double sums[1 + 2 * CELLS];
    for (int step = 0; step < 300; step++) {
        nn_rnd_moments(r, pair, 1, sums);
        nn_rnd_observe(r, sums);
        nn_rnd_gradient(r, pair, 1);
        nn_optim_step(opt, nn_qnet_params(p), nn_qnet_grads(p));
    }
    float first_seen = 0.0f;
    for (size_t cell = 1; cell < 30; cell++) {
        memset(pair + CELLS, 0, CELLS * sizeof *pair);
        pair[CELLS + cell] = 1.0f;
        actor_explore_bonus(x, pair, 2, bonus);
        if (cell == 1) {
            first_seen = bonus[0];
        }
        cr_assert_gt(bonus[1], 20.0f * bonus[0], "cell %zu: new %g, repeated %g", cell,
                     (double)bonus[1], (double)bonus[0]);
    }
    cr_assert_lt(ratio0, 20.0f, "before training the two looked alike (ratio %g)",
                 (double)ratio0);
    cr_assert_gt(first_seen, 0.0f);
    cr_assert_gt(actor_explore_intrinsic_std(x), 0.0);
    nn_optim_free(opt);
    actor_explore_free(x);
}

Test(actor_explore, shared_counts_keep_the_visits_and_take_the_shards_totals)
{
    actor_explore_config c = base(ACTOR_STRATEGY_COUNT, 2, 1, 3);
    c.shared_counts = true;
    c.visit_cap = 3;
    actor_explore *x = actor_explore_new(&c, NULL);
    float g[2 * 16];
    for (size_t i = 0; i < 32; i++) {
        g[i] = (float)i - 10.0f;
    }
    float bonus[2];
    actor_explore_bonus(x, g, 2, bonus);
    actor_explore_bonus(x, g, 2, bonus);
    const uint64_t *codes;
    cr_assert_eq(actor_explore_visits(x, &codes), 3, "kept up to visit_cap");
    cr_assert_eq(actor_explore_visits_dropped(x), 1);
    uint64_t a = actor_explore_code(x, g), b = actor_explore_code(x, g + 16);
    cr_assert_eq(codes[0], a);
    cr_assert_eq(codes[1], b);
    cr_assert_eq(actor_explore_count(x, a), 2);
    /* The shard says 10 visits of a (ours and others'); a lower total never lowers ours. */
    uint64_t heard_codes[2] = {a, b}, heard_counts[2] = {10, 1};
    actor_explore_heard(x, heard_codes, heard_counts, 2);
    cr_assert_eq(actor_explore_count(x, a), 10);
    cr_assert_eq(actor_explore_count(x, b), 2);
    actor_explore_visits_sent(x);
    cr_assert_eq(actor_explore_visits(x, &codes), 0);
    actor_explore_bonus(x, g, 1, bonus);
    cr_assert_float_eq(bonus[0], 0.01f / sqrtf(11.0f), 1e-7, "the bonus counts the fleet");
    actor_explore_free(x);
}

Test(actor_explore, rnd_and_shared_count_settings_are_checked_with_the_key)
{
    const config_key *const tables[] = {actor_explore_config_keys, nn_rnd_config_keys};
    config *cfg = config_new(tables, 2, NULL);
    shoal_err err = {0};
    actor_explore_config out;
    cr_assert_eq(config_set(cfg, "exploration.counts=shared", "--set", &err), SHOAL_OK);
    cr_assert_eq(actor_explore_config_from(cfg, &out, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "exploration.counts = shared") && strstr(err.msg, "count"), "%s",
              err.msg);
    cr_assert_eq(config_set(cfg, "exploration.strategy=bootstrap+count", "--set", &err),
                 SHOAL_OK);
    cr_assert_eq(actor_explore_config_from(cfg, &out, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(out.shared_counts);
    cr_assert_eq(config_set(cfg, "exploration.counts=actor", "--set", &err), SHOAL_OK);
    cr_assert_eq(config_set(cfg, "exploration.strategy=bootstrap+rnd", "--set", &err),
                 SHOAL_OK);
    cr_assert_eq(config_set(cfg, "rnd.lr=0", "--set", &err), SHOAL_OK);
    cr_assert_eq(actor_explore_config_from(cfg, &out, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "rnd.lr"), "%s", err.msg);
    cr_assert_neq(config_set(cfg, "exploration.strategy=rnd+count", "--set", &err), SHOAL_OK);
    actor_strategy s;
    cr_assert_eq(actor_strategy_parse("rnd+bootstrap", &s, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "bootstrap+rnd"), "%s", err.msg);
    /* RND reads the observation as the network's input: a mismatch is refused. */
    actor_explore_config c = rnd_config();
    c.obs_floats = CELLS + 1;
    cr_assert_null(actor_explore_new(&c, &err));
    cr_assert(strstr(err.msg, "network's input"), "%s", err.msg);
    config_free(cfg);
}
