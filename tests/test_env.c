/* env/env.h, env/registry.h, env/vec.h, env/measure.h, env/expert.h, env/trace.h,
 * env/env_config.h: the wrapper, options and their errors, determinism, DeepSea, Chain, the
 * vector env, random-play statistics against specs/minatar.md §6.1 and the experts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/expert.h"
#include "env/measure.h"
#include "env/registry.h"
#include "env/trace.h"
#include "env/vec.h"

static const char *const minatar[] = {"minatar/breakout", "minatar/asterix", "minatar/freeway",
                                      "minatar/seaquest", "minatar/space_invaders"};

static env *make_opts(const char *name, const char *options)
{
    env_options o;
    env_options_default(&o);
    shoal_err err = {0};
    cr_assert_eq(env_options_parse(&o, options, &err), SHOAL_OK, "%s", err.msg);
    env *e = env_make(NULL, name, &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    return e;
}

Test(env, unknown_name_is_an_error_listing_every_environment)
{
    env_options o;
    env_options_default(&o);
    shoal_err err = {0};
    cr_assert_null(env_make(NULL, "minatar/pong", &o, &err));
    cr_assert_eq(err.code, SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "minatar/pong") && strstr(err.msg, "minatar/breakout") &&
              strstr(err.msg, "deepsea") && strstr(err.msg, "chain"), "%s", err.msg);
}

Test(env, unknown_or_out_of_range_options_are_errors_naming_what_exists)
{
    env_options o;
    env_options_default(&o);
    shoal_err err = {0};
    cr_assert_eq(env_options_parse(&o, "size=20", &err), SHOAL_OK);
    cr_assert_null(env_make(NULL, "minatar/breakout", &o, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "'size'") && strstr(err.msg, "sticky"), "%s", err.msg);

    cr_assert_null(env_make(NULL, "chain", &o, &err));
    cr_assert(strstr(err.msg, "length"), "chain lists its parameter: %s", err.msg);

    env_options_default(&o);
    cr_assert_eq(env_options_parse(&o, "size=0", &err), SHOAL_OK);
    cr_assert_null(env_make(NULL, "deepsea", &o, &err));
    cr_assert(strstr(err.msg, "size=0"), "%s", err.msg);
    env_options_default(&o);
    cr_assert_eq(env_options_parse(&o, "length=10.5", &err), SHOAL_OK);
    cr_assert_null(env_make(NULL, "chain", &o, &err));
    cr_assert(strstr(err.msg, "whole number"), "%s", err.msg);

    const char *bad[] = {"sticky=2", "sticky", "=3", "ramping=maybe", "actions=some",
                         "rng=mt", "max_episode_steps=-1", "sticky=abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        env_options_default(&o);
        err = (shoal_err){0};
        cr_assert_eq(env_options_parse(&o, bad[i], &err), SHOAL_EINVAL, "%s", bad[i]);
        cr_assert(err.msg[0] != '\0');
    }
    env_options_default(&o);
    cr_assert_eq(env_options_parse(&o, "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9", &err),
                 SHOAL_EINVAL, "more parameters than fit");
}

Test(env, options_parse_sets_every_common_field)
{
    env_options o;
    env_options_default(&o);
    cr_assert_eq(o.sticky, 0.1);
    cr_assert(o.ramping);
    cr_assert_eq(env_options_parse(&o, "sticky=0,ramping=off,max_episode_steps=7,actions=full,"
                                       "rng=xoshiro,,size=12", NULL), SHOAL_OK);
    cr_assert_eq(o.sticky, 0);
    cr_assert(!o.ramping);
    cr_assert_eq(o.max_episode_steps, 7);
    cr_assert(o.full_action_set);
    cr_assert_eq(o.rand_kind, ENV_RAND_XOSHIRO);
    cr_assert_eq(o.n_params, 1);
    cr_assert_str_eq(o.params[0].name, "size");
    cr_assert_eq(o.params[0].value, 12);
}

Test(env, games_report_shape_dtype_and_minimal_actions)
{
    static const struct {
        const char *name;
        uint32_t c, n_actions;
        size_t bytes;
    } want[] = {{"minatar/breakout", 4, 3, 50}, {"minatar/asterix", 4, 5, 50},
                {"minatar/freeway", 7, 3, 88}, {"minatar/seaquest", 10, 6, 125},
                {"minatar/space_invaders", 6, 4, 75}};
    for (size_t i = 0; i < 5; i++) {
        env *e = make_opts(want[i].name, "");
        cr_assert_eq(env_obs_shape(e).h, 10);
        cr_assert_eq(env_obs_shape(e).c, want[i].c);
        cr_assert_eq(env_obs_dtype(e), OBS_DTYPE_BIT);
        cr_assert_eq(env_obs_bytes(e), want[i].bytes);
        cr_assert_eq(env_n_actions(e), want[i].n_actions);
        env_free(e);
    }
    env *e = make_opts("minatar/space_invaders", "");
    cr_assert_str_eq(env_action_name(e, 3), "fire");
    cr_assert_str_eq(env_action_name(e, 4), "?");
    env_free(e);
    e = make_opts("minatar/space_invaders", "actions=full");
    cr_assert_eq(env_n_actions(e), 6);
    env_free(e);
    e = make_opts("deepsea", "size=20");
    cr_assert_eq(env_obs_shape(e).w, 20);
    cr_assert_eq(env_obs_dtype(e), OBS_DTYPE_UINT8);
    cr_assert_eq(env_obs_bytes(e), 400);
    env_free(e);
}

/* Plays n steps of a fixed pseudo-random action sequence; returns an FNV hash of everything. */
static uint64_t trajectory_hash(const char *name, uint64_t seed, int n)
{
    env *e = make_opts(name, "");
    uint8_t obs[4096];
    env_seed(e, seed);
    env_reset(e, obs);
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t a = 12345;
    for (int t = 0; t < n; t++) {
        a = a * 6364136223846793005ull + 1442695040888963407ull;
        env_step_result r = env_step(e, (uint32_t)((a >> 33) % env_n_actions(e)), obs);
        for (size_t i = 0; i < env_obs_bytes(e); i++) {
            h = (h ^ obs[i]) * 0x100000001b3ull;
        }
        h = (h ^ (uint64_t)(r.reward * 1000) ^ ((uint64_t)r.terminal << 40)) * 0x100000001b3ull;
        if (r.terminal) {
            env_reset(e, obs);
        }
    }
    env_free(e);
    return h;
}

Test(env, same_seed_and_actions_give_the_same_trajectory_and_other_seeds_differ)
{
    for (size_t i = 0; i < 5; i++) {
        uint64_t a = trajectory_hash(minatar[i], 7, 3000);
        cr_assert_eq(a, trajectory_hash(minatar[i], 7, 3000), "%s", minatar[i]);
        cr_assert_neq(a, trajectory_hash(minatar[i], 8, 3000), "%s", minatar[i]);
    }
}

Test(env, time_limit_truncates_without_terminal_and_done_envs_stay_done)
{
    env *e = make_opts("minatar/freeway", "max_episode_steps=5");
    env_seed(e, 1);
    env_reset(e, NULL);
    for (int t = 1; t <= 4; t++) {
        env_step_result r = env_step(e, 0, NULL);
        cr_assert(!r.truncated && !r.terminal);
    }
    env_step_result r = env_step(e, 0, NULL);
    cr_assert(r.truncated);
    cr_assert(!r.terminal);
    cr_assert_eq(env_episode_steps(e), 5);
    r = env_step(e, 1, NULL);
    cr_assert(r.truncated);
    cr_assert_eq(r.reward, 0.0f);
    cr_assert_eq(env_episode_steps(e), 5);
    env_reset(e, NULL);
    cr_assert_eq(env_episode_steps(e), 0);
    env_free(e);
}

Test(env, unpack_f32_matches_every_packed_value)
{
    env *e = make_opts("minatar/seaquest", "");
    uint8_t obs[2 * 125];
    env_reset(e, obs);
    for (int t = 0; t < 40; t++) {
        env_step(e, (uint32_t)(t % 6), obs + 125);
    }
    float f[2 * 1000];
    obs_spec sp = env_obs_spec(e);
    obs_unpack_f32(f, obs, &sp, 2);
    int ones = 0;
    for (int k = 0; k < 2; k++) {
        for (uint32_t y = 0; y < 10; y++) {
            for (uint32_t x = 0; x < 10; x++) {
                for (uint32_t c = 0; c < 10; c++) {
                    float want = (float)env_obs_value(obs + 125 * k, env_obs_shape(e),
                                                      OBS_DTYPE_BIT, y, x, c);
                    cr_assert_eq(f[k * 1000 + (y * 10 + x) * 10 + c], want);
                    ones += want > 0;
                }
            }
        }
    }
    cr_assert_gt(ones, 10);
    env_free(e);
    uint8_t u8[3] = {0, 1, 1};
    float g[3];
    obs_unpack_f32(g, u8, &(obs_spec){.shape = {1, 3, 1}, .dtype = OBS_DTYPE_UINT8}, 1);
    cr_assert(g[0] == 0 && g[1] == 1 && g[2] == 1);
}

Test(env, ascii_render_draws_the_bricks_and_the_paddle)
{
    env *e = make_opts("minatar/breakout", "");
    env_seed(e, 0);
    env_reset(e, NULL);
    char buf[256];
    size_t n = env_render(e, buf, sizeof buf);
    cr_assert_eq(n, 110);
    cr_assert_eq(strlen(buf), 110);
    cr_assert_eq(strncmp(buf + 11, "##########\n", 11), 0, "%s", buf);
    cr_assert_eq(buf[9 * 11 + 4], '=', "paddle at (9, 4):\n%s", buf);
    char small[8];
    cr_assert_eq(env_render(e, small, sizeof small), 110);
    cr_assert_eq(strlen(small), 7, "truncated but terminated");
    env_free(e);
}

Test(env, deepsea_optimal_return_is_0_99_and_one_mapping_serves_every_seed_unless_asked)
{
    const int sizes[] = {5, 10, 20, 50};
    for (size_t k = 0; k < 4; k++) {
        char opts[32];
        snprintf(opts, sizeof opts, "size=%d", sizes[k]);
        env_play_stats s;
        env_options o;
        env_options_default(&o);
        cr_assert_eq(env_options_parse(&o, opts, NULL), SHOAL_OK);
        cr_assert_eq(env_play(NULL, "deepsea", &o, ENV_POLICY_EXPERT, 0, 5, 3, &s, NULL),
                     SHOAL_OK);
        cr_assert(fabs(s.mean_return - 0.99) < 1e-5, "N=%d: %f", sizes[k], s.mean_return);
        cr_assert_eq(s.mean_length, sizes[k]);
    }
    /* The mapping is fixed by default (mapping_seed 42, so every env of a run is the same
     * problem) and follows the environment's seed with mapping_seed -1. */
    for (int follow = 0; follow < 2; follow++) {
        env *e = make_opts("deepsea", follow ? "size=10,mapping_seed=-1" : "size=10");
        uint8_t first[100], other[100];
        env_rand r;
        env_rand_seed(&r, ENV_RAND_XOSHIRO, 0);
        for (int seed = 0; seed < 2; seed++) {
            env_seed(e, (uint64_t)seed);
            env_reset(e, NULL);
            uint8_t *m = seed == 0 ? first : other;
            for (int t = 0; t < 10; t++) {
                m[t] = (uint8_t)env_expert_action(e, &r);
                env_step(e, m[t], NULL);
            }
        }
        if (follow) {
            cr_assert_neq(memcmp(first, other, 10), 0, "seeds 0 and 1 give different mappings");
        } else {
            cr_assert_eq(memcmp(first, other, 10), 0, "one mapping whatever the seed");
        }
        env_free(e);
    }
    env *e;
    /* Always taking action 0 cannot reach the reward. */
    e = make_opts("deepsea", "size=10");
    uint8_t obs[100];
    env_reset(e, obs);
    cr_assert_eq(obs[0], 1);
    double ret = 0;
    env_step_result s = {0};
    for (int t = 0; t < 10; t++) {
        s = env_step(e, 0, obs);
        ret += s.reward;
    }
    cr_assert(s.terminal);
    cr_assert(ret <= 0);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(obs[i], 0, "the final observation is all zeros");
    }
    env_free(e);
}

Test(env, chain_always_right_returns_exactly_ten)
{
    const int lengths[] = {5, 10, 50, 100};
    for (size_t k = 0; k < 4; k++) {
        char opts[32];
        snprintf(opts, sizeof opts, "length=%d", lengths[k]);
        env *e = make_opts("chain", opts);
        uint8_t obs[128];
        env_reset(e, obs);
        cr_assert(obs[0] == 1 && obs[1] == 1 && obs[2] == 0, "thermometer of s_2");
        double ret = 0;
        int steps = 0;
        env_step_result r = {0};
        while (!r.terminal) {
            r = env_step(e, 1, obs);
            ret += r.reward;
            steps++;
        }
        cr_assert_eq(ret, 10.0, "N=%d", lengths[k]);
        cr_assert_eq(steps, lengths[k] + 8);
        cr_assert_eq(obs[lengths[k] - 1], 1);
        env_free(e);
    }
    env *e = make_opts("chain", "length=10");
    env_reset(e, NULL);
    double ret = 0;
    for (int t = 0; t < 18; t++) {
        ret += env_step(e, 0, NULL).reward;
    }
    cr_assert(fabs(ret - 17 * 0.001) < 1e-6, "always left: %f", ret);
    env_free(e);
}

Test(env, vector_env_resets_finished_episodes_and_reports_their_stats)
{
    enum { E = 8 };
    env_options o;
    env_options_default(&o);
    shoal_err err = {0};
    cr_assert_null(env_vec_new(NULL, "minatar/breakout", &o, 0, 1, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    env_vec *v = env_vec_new(NULL, "minatar/breakout", &o, E, 1, &err);
    cr_assert_not_null(v, "%s", err.msg);
    uint8_t obs[E * 50], final[E * 50];
    float reward[E];
    uint8_t term[E], trunc[E];
    double ep_ret[E], running[E] = {0};
    uint64_t ep_len[E], running_len[E] = {0};
    env_vec_out out = {obs, reward, term, trunc, ep_ret, ep_len, final};
    env_vec_reset(v, obs);
    uint32_t actions[E];
    uint64_t finished = 0;
    double sum = 0;
    for (int t = 0; t < 500; t++) {
        for (int i = 0; i < E; i++) {
            actions[i] = (uint32_t)((t * 5 + i * 3) % 3);
        }
        env_vec_step(v, actions, &out);
        for (int i = 0; i < E; i++) {
            running[i] += reward[i];
            running_len[i]++;
            if (term[i] || trunc[i]) {
                cr_assert_eq(ep_ret[i], running[i]);
                cr_assert_eq(ep_len[i], running_len[i]);
                /* The batch holds the new episode (paddle back at column 4, full bricks); the
                 * final observation the terminal one (ball in row 9). */
                const uint8_t *o1 = obs + i * 50, *f1 = final + i * 50;
                obs_shape s = {10, 10, 4};
                cr_assert(env_obs_value(o1, s, OBS_DTYPE_BIT, 9, 4, 0));
                int ball_row9 = 0;
                for (uint32_t x = 0; x < 10; x++) {
                    ball_row9 |= env_obs_value(f1, s, OBS_DTYPE_BIT, 9, x, 1);
                }
                cr_assert(ball_row9);
                finished++;
                sum += running[i];
                running[i] = 0;
                running_len[i] = 0;
            }
        }
    }
    const env_vec_totals *tot = env_vec_totals_get(v);
    cr_assert_gt(finished, 50);
    cr_assert_eq(tot->episodes, finished);
    cr_assert_eq(tot->steps, 500 * E);
    cr_assert(fabs(tot->return_sum - sum) < 1e-9);
    /* Different envs of the vector play different games. */
    cr_assert_neq(memcmp(obs, obs + 50, 50) == 0 && memcmp(obs, obs + 100, 50) == 0, 1);
    env_vec_free(v);
}

/* specs/minatar.md §6.1, defaults (sticky 0.1, ramping on), all six actions. */
static const struct {
    const char *name;
    double len, len_se, ret, ret_se;
    uint64_t steps;
} reference[] = {
    {"minatar/breakout", 11.18, 0.02, 0.5073, 0.0016, 400000},
    {"minatar/asterix", 70.18, 0.24, 0.4954, 0.0046, 400000},
    {"minatar/seaquest", 30.60, 0.13, 0.1009, 0.0013, 400000},
    {"minatar/space_invaders", 51.15, 0.17, 2.8356, 0.0105, 400000},
    {"minatar/freeway", 2501, 0, 0.119, 0.005, 1500000},
};

Test(env, random_play_statistics_agree_with_the_reference_table, .timeout = 240)
{
    for (size_t i = 0; i < sizeof reference / sizeof reference[0]; i++) {
        env_options o;
        env_options_default(&o);
        o.full_action_set = true;
        env_play_stats s;
        shoal_err err = {0};
        cr_assert_eq(env_play(NULL, reference[i].name, &o, ENV_POLICY_RANDOM,
                              reference[i].steps, 0, 11, &s, &err), SHOAL_OK, "%s", err.msg);
        double tol_ret = 4 * sqrt(s.se_return * s.se_return + reference[i].ret_se *
                                  reference[i].ret_se);
        double tol_len = 4 * sqrt(s.se_length * s.se_length + reference[i].len_se *
                                  reference[i].len_se);
        cr_assert(fabs(s.mean_return - reference[i].ret) <= tol_ret,
                  "%s return %.4f +- %.4f vs %.4f", reference[i].name, s.mean_return,
                  s.se_return, reference[i].ret);
        cr_assert(fabs(s.mean_length - reference[i].len) <= tol_len,
                  "%s length %.3f +- %.3f vs %.3f", reference[i].name, s.mean_length,
                  s.se_length, reference[i].len);
    }
    env_options o;
    env_options_default(&o);
    o.full_action_set = true;
    env_play_stats s;
    cr_assert_eq(env_play(NULL, "minatar/freeway", &o, ENV_POLICY_RANDOM, 30000, 0, 2, &s,
                          NULL), SHOAL_OK);
    cr_assert(s.min_length == 2501 && s.max_length == 2501);
    /* The project's own generator gives the same distributions (specs/minatar.md §5). */
    o.rand_kind = ENV_RAND_XOSHIRO;
    cr_assert_eq(env_play(NULL, "minatar/breakout", &o, ENV_POLICY_RANDOM, 400000, 0, 2, &s,
                          NULL), SHOAL_OK);
    cr_assert(fabs(s.mean_return - 0.5073) <= 4 * sqrt(s.se_return * s.se_return + 0.0016 *
                                                       0.0016), "xoshiro: %f", s.mean_return);
}

Test(env, every_expert_beats_random_play)
{
    const char *names[] = {"minatar/breakout", "minatar/asterix", "minatar/freeway",
                           "minatar/seaquest", "minatar/space_invaders", "deepsea", "chain"};
    for (size_t i = 0; i < 7; i++) {
        env_options o;
        env_options_default(&o);
        env_play_stats ex, rnd;
        uint64_t episodes = strcmp(names[i], "minatar/freeway") == 0 ? 3 : 20;
        cr_assert_eq(env_play(NULL, names[i], &o, ENV_POLICY_EXPERT, 0, episodes, 5, &ex, NULL),
                     SHOAL_OK);
        cr_assert_eq(env_play(NULL, names[i], &o, ENV_POLICY_RANDOM, 0, episodes, 5, &rnd,
                              NULL), SHOAL_OK);
        cr_assert_gt(ex.mean_return, 2 * rnd.mean_return + 0.5, "%s: expert %f, random %f",
                     names[i], ex.mean_return, rnd.mean_return);
    }
    shoal_err err = {0};
    env_options o;
    env_options_default(&o);
    env_play_stats s;
    cr_assert_eq(env_play(NULL, "chain", &o, ENV_POLICY_RANDOM, 0, 0, 1, &s, &err),
                 SHOAL_EINVAL);
}

Test(env, config_table_builds_the_options_of_the_named_environment)
{
    const config_key *const tables[] = {env_config_keys};
    shoal_err err = {0};
    config *c = config_new(tables, 1, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(config_set(c, "env.name=deepsea", "test", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "env.deepsea_size=20", "test", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "env.sticky=0", "test", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "env.options=mapping_seed=42", "test", &err), SHOAL_OK);
    env_options o;
    cr_assert_eq(env_options_from_config(&o, c, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(o.sticky, 0);
    env *e = env_make(NULL, config_str(c, "env", "name"), &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(env_obs_shape(e).h, 20);
    env_free(e);
    cr_assert_eq(config_set(c, "env.options=bogus", "test", &err), SHOAL_OK);
    cr_assert_eq(env_options_from_config(&o, c, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "[env]"), "%s", err.msg);
    cr_assert_neq(config_set(c, "env.sticky=1.5", "test", &err), SHOAL_OK);
    config_free(c);
}

/* Copies the first `lines` lines of a fixture into a temporary file, applying edit to line
 * number edit_line (1-based) when edit is not NULL. */
static void write_trace_copy(const char *out, int lines, int edit_line, const char *edit)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/minatar/breakout-random-s0.trace",
             getenv("SHOAL_SHARED_DIR"));
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in, "%s", path);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f);
    static char line[4096];
    for (int n = 1; n <= lines && fgets(line, sizeof line, in); n++) {
        fputs(n == edit_line && edit ? edit : line, f);
    }
    fclose(in);
    fclose(f);
}

Test(env, trace_check_reports_the_first_differing_step_and_cell)
{
    char path[] = "/tmp/shoal-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    env_trace_result res;
    shoal_err err = {0};
    write_trace_copy(path, 30, 1,
                     "# minatar-trace v1 game=breakout seed=0 sticky=0.1 ramping=1 "
                     "policy=random steps=28 obs=full\n");
    cr_assert_eq(env_trace_check(NULL, path, &res, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(res.match, "%s", res.detail);
    cr_assert_eq(res.n_steps, 28);

    write_trace_copy(path, 30, 0, NULL); /* the header promises 5000 steps */
    cr_assert_eq(env_trace_check(NULL, path, &res, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(!res.match);
    cr_assert(strstr(res.detail, "steps=5000"), "%s", res.detail);

    /* Line 4 is step t=2; move the paddle bit of its observation elsewhere. */
    write_trace_copy(path, 30, 4,
                     "S 2 3 3 0 0 d22a9ad2dc5079f6 000000000088888888888888888888888888888840000"
                     "0000000020000000000000000000000000000000000000000200000\n");
    cr_assert_eq(env_trace_check(NULL, path, &res, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(!res.match);
    cr_assert(strstr(res.detail, "t=2") && strstr(res.detail, "row 9, col 5, channel 0"),
              "%s", res.detail);

    write_trace_copy(path, 30, 4, "S 2 3 3 1 0 d22a9ad2dc5079f6\n");
    cr_assert_eq(env_trace_check(NULL, path, &res, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, ":4:"), "%s", err.msg);

    write_trace_copy(path, 30, 1, "hello\n");
    cr_assert_eq(env_trace_check(NULL, path, &res, &err), SHOAL_EINVAL);
    cr_assert_eq(env_trace_check(NULL, "/nonexistent/x.trace", &res, &err), SHOAL_ENOTFOUND);
    unlink(path);
}

/* The vector's step is its own loop (env/vec.c: one memset for the batch, the step inlined,
 * each env observed after its step or its reset): env for env it must give what stepping the
 * same envs one by one gives, observation bytes, rewards, flags and final observations, with
 * and without observations, across episode ends and time limits. */
Test(env, vector_steps_match_the_same_envs_stepped_one_by_one)
{
    enum { E = 6, T = 1500 };
    const char *names[] = {"minatar/breakout", "minatar/asterix", "minatar/freeway",
                           "minatar/seaquest", "minatar/space_invaders", "deepsea", "chain"};
    for (size_t g = 0; g < sizeof names / sizeof names[0]; g++) {
        env_options o;
        env_options_default(&o);
        shoal_err err = {0};
        cr_assert_eq(env_options_parse(&o, "max_episode_steps=97", &err), SHOAL_OK);
        env_vec *v = env_vec_new(NULL, names[g], &o, E, 5, &err);
        cr_assert_not_null(v, "%s", err.msg);
        env *one[E];
        size_t ob = env_obs_bytes(env_vec_env(v, 0));
        uint8_t *obs = calloc(E, ob), *final = calloc(E, ob), *want = calloc(E, ob);
        uint8_t *want_final = calloc(E, ob);
        cr_assert(obs && final && want && want_final);
        for (int i = 0; i < E; i++) {
            one[i] = env_make(NULL, names[g], &o, &err);
            cr_assert_not_null(one[i], "%s", err.msg);
            env_seed(one[i], 100 + (uint64_t)i);
            env_seed(env_vec_env(v, (size_t)i), 100 + (uint64_t)i);
            env_reset(one[i], want + i * ob);
        }
        env_vec_reset(v, obs);
        cr_assert_eq(memcmp(obs, want, E * ob), 0, "%s: first observations", names[g]);
        float reward[E];
        uint8_t term[E], trunc[E];
        uint32_t actions[E];
        uint32_t n_actions = env_n_actions(one[0]);
        int ends = 0;
        for (int t = 0; t < T; t++) {
            bool with_obs = t % 3 != 2;
            env_vec_out out = {.obs = with_obs ? obs : NULL, .reward = reward, .terminal = term,
                               .truncated = trunc, .final_obs = final};
            for (int i = 0; i < E; i++) {
                actions[i] = (uint32_t)((t * 7 + i * 5 + t / 11) % n_actions);
            }
            env_vec_step(v, actions, &out);
            for (int i = 0; i < E; i++) {
                uint8_t *w = want + i * ob;
                env_step_result r = env_step(one[i], actions[i], with_obs ? w : NULL);
                cr_assert_eq(reward[i], r.reward, "%s t=%d env %d", names[g], t, i);
                cr_assert_eq(term[i], r.terminal, "%s t=%d env %d", names[g], t, i);
                cr_assert_eq(trunc[i], r.truncated, "%s t=%d env %d", names[g], t, i);
                if (r.terminal || r.truncated) {
                    env_observe(one[i], want_final + i * ob);
                    cr_assert_eq(memcmp(final + i * ob, want_final + i * ob, ob), 0,
                                 "%s t=%d env %d: final observation", names[g], t, i);
                    env_reset(one[i], with_obs ? w : NULL);
                    ends++;
                }
            }
            if (with_obs) {
                cr_assert_eq(memcmp(obs, want, E * ob), 0, "%s t=%d: observations", names[g],
                             t);
            }
        }
        cr_assert_gt(ends, 10, "%s: episodes ended", names[g]);
        for (int i = 0; i < E; i++) {
            env_free(one[i]);
        }
        free(obs), free(final), free(want), free(want_final);
        env_vec_free(v);
    }
}
