/* evaluator/evaluate.h: known-answer evaluations on Chain, the majority vote, determinism
 * for a fixed seed, the step cap, stopping and deadlines, every way a parameter file can be
 * refused, and the evaluation ε of the shipped configs. */
#include <criterion/criterion.h>

#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/commands.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/fileio.h"
#include "env/env_config.h"
#include "evaluator/evaluate.h"
#include "nn_ref.h"
#include "nn/paramfile.h"
#include "evaluator_fixtures.h"
#include "obs_fixtures.h"

static char dir[64];

static void make_dir(void)
{
    fx_dir_make(dir, "shoal-evaluator-evaluate");
}

static void remove_dir(void)
{
    fx_dir_remove(dir);
}

TestSuite(evaluator_evaluate, .init = make_dir, .fini = remove_dir);

/* Chain of length 10 (fx_chain_net). */
static evaluator_player_config chain_config(size_t episodes, double epsilon, size_t n_envs)
{
    evaluator_player_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.env_name, "chain");
    env_options_default(&c.env);
    shoal_err err = {0};
    cr_assert_eq(env_options_set_param(&c.env, "length", 10, &err), SHOAL_OK, "%s", err.msg);
    c.facts = fx_env_facts("chain", &c.env);
    c.episodes = episodes;
    c.head_episodes = 4;
    c.epsilon = epsilon;
    c.seed = 7;
    c.n_envs = n_envs;
    return c;
}

static evaluator_player *player(const evaluator_player_config *c)
{
    shoal_err err = {0};
    evaluator_player *p = evaluator_player_new(c, &err);
    cr_assert_not_null(p, "%s", err.msg);
    return p;
}

static void save(const nn_qnet *net, const char *name, uint64_t step, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_save(path, net, NULL, step, step * 4, &err), SHOAL_OK, "%s",
                 err.msg);
}

/* Evaluates a one-head Chain network preferring action `prefer` under c; the result's arrays
 * are gone with the player (NULL). */
static evaluator_result eval_chain(const evaluator_player_config *c, int prefer)
{
    evaluator_player *p = player(c);
    nn_qnet *net = fx_chain_net(1, &prefer, c->n_envs);
    evaluator_result r;
    shoal_err err = {0};
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    nn_qnet_free(net);
    evaluator_player_free(p);
    r.returns = r.head_returns = NULL;
    return r;
}

Test(evaluator_evaluate, vote_follows_the_majority_of_head_argmaxes)
{
    /* 3 heads, 3 actions: heads 0 and 2 pick action 2, head 1 picks action 0 with a huge Q */
    const float q[] = {0, 1, 2, 100, 0, 0, 0, 0, 5};
    cr_assert_eq(evaluator_vote(q, 3, 3), 2);
    cr_assert_eq(evaluator_argmax(q, 3), 2);
    cr_assert_eq(evaluator_vote(q, 1, 3), 2, "one head votes its argmax");
    cr_assert_eq(evaluator_vote(q + 3, 1, 3), 0);
}

Test(evaluator_evaluate, vote_ties_go_to_the_larger_summed_q_then_the_lower_action)
{
    /* 2 heads disagree: head 0 action 1 (Q 3), head 1 action 0 (Q 2); sums: a0 = 2+0, a1 = 3+1 */
    const float q[] = {0, 3, 2, 1};
    cr_assert_eq(evaluator_vote(q, 2, 2), 1);
    /* sums equal (a0: 1+2, a1: 2+1): the lower action */
    const float even[] = {1, 2, 2, 1};
    cr_assert_eq(evaluator_vote(even, 2, 2), 0);
    /* equal Q within a head: its vote is the lower action */
    const float flat[] = {4, 4, 4, 4};
    cr_assert_eq(evaluator_vote(flat, 2, 2), 0);
    cr_assert_eq(evaluator_argmax(flat, 4), 0);
}

Test(evaluator_evaluate, a_greedy_always_right_network_scores_exactly_ten_on_chain)
{
    evaluator_player_config c = chain_config(5, 0, 3);
    evaluator_result r = eval_chain(&c, 1);
    cr_assert_eq(r.episodes, 5);
    cr_assert_float_eq(r.mean, 10.0, 1e-5);
    cr_assert_float_eq(r.std, 0.0, 1e-6);
    cr_assert_float_eq(r.min, 10.0, 1e-5);
    cr_assert_float_eq(r.max, 10.0, 1e-5);
    cr_assert_eq(r.n_heads, 1);
    cr_assert_eq(r.head_episodes, 0, "a single head has no per-head episodes");
    cr_assert_eq(r.env_steps, 5 * 18);
    c.epsilon = 0;
    r = eval_chain(&c, 0);
    cr_assert_float_eq(r.mean, 0.017, 1e-6, "always left");
}

Test(evaluator_evaluate, bootstrapped_network_acts_by_vote_and_reports_each_head)
{
    evaluator_player_config c = chain_config(6, 0, 4);
    evaluator_player *p = player(&c);
    /* two heads go right, one goes left (with the largest Q, so a Q-sum would pick left) */
    const int prefer[] = {1, 0, 1};
    nn_qnet *net = fx_chain_net(3, prefer, 4);
    evaluator_result r;
    shoal_err err = {0};
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 10.0, 1e-5, "the vote goes right");
    cr_assert_eq(r.n_heads, 3);
    cr_assert_eq(r.head_episodes, 4);
    cr_assert_float_eq(r.head_mean[0], 10.0, 1e-5);
    cr_assert_float_eq(r.head_mean[1], 17 * 0.001, 1e-6, "head 1 alone stays in s_1");
    cr_assert_float_eq(r.head_mean[2], 10.0, 1e-5);
    for (size_t j = 0; j < 4; j++) {
        cr_assert_float_eq(r.head_returns[4 + j], 0.017, 1e-6);
    }
    cr_assert_eq(r.env_steps, (6 + 3 * 4) * 18);
    nn_qnet_free(net);
    evaluator_player_free(p);
}

/* Asterix (varied episodes even for a poor policy) with a freshly initialised MinAtar
 * network, ε = 0.2, short episodes. */
static void eval_asterix(uint64_t seed, size_t n_envs, const char *path, evaluator_result *r,
                          double *returns)
{
    evaluator_player_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.env_name, "minatar/asterix");
    env_options_default(&c.env);
    c.env.max_episode_steps = 150;
    c.facts = fx_env_facts("minatar/asterix", &c.env);
    c.episodes = 6;
    c.epsilon = 0.2;
    c.seed = seed;
    c.n_envs = n_envs;
    evaluator_player *p = player(&c);
    shoal_err err = {0};
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, r, &err), SHOAL_OK, "%s", err.msg);
    memcpy(returns, r->returns, 6 * sizeof *returns);
    r->returns = returns;
    evaluator_player_free(p);
}

Test(evaluator_evaluate, a_saved_network_evaluates_the_same_for_a_fixed_seed_whatever_n_envs)
{
    nn_qnet_config qc = nn_qnet_config_minatar(4, 5);
    qc.seed = 11;
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(&qc, &err);
    cr_assert_not_null(net, "%s", err.msg);
    /* n_envs changes the batch of each forward pass, and OpenBLAS may sum a batch of 4 in
     * another order than a batch of 1: with random weights, a near-tie between two Q-values
     * could then pick another action. Small-integer weights on MinAtar's binary observations
     * make every Q-value exact (nn_ref.h), so equal returns hold by construction. */
    rng g;
    rng_init(&g, 11, RNG_ROLE_TOOL, 0, 0);
    ref_params_small_integers(net, &g);
    char path[128];
    save(net, "step-40.ckpt", 40, path, sizeof path);
    nn_qnet_free(net);

    evaluator_result a, b, c, d;
    double ra[6], rb[6], rc[6], rd[6];
    eval_asterix(5, 4, path, &a, ra);
    eval_asterix(5, 4, path, &b, rb);
    eval_asterix(5, 1, path, &c, rc);
    eval_asterix(6, 4, path, &d, rd);
    cr_assert_eq(a.step, 40);
    cr_assert_eq(a.frames, 160);
    cr_assert_eq(memcmp(ra, rb, sizeof ra), 0, "same seed, same returns");
    cr_assert_eq(a.env_steps, b.env_steps);
    cr_assert_eq(memcmp(ra, rc, sizeof ra), 0, "the returns do not depend on n_envs");
    cr_assert_eq(a.env_steps, c.env_steps);
    cr_assert(a.env_steps != d.env_steps || memcmp(ra, rd, sizeof ra) != 0,
              "another seed plays other episodes");
    cr_assert(a.env_steps > 6, "episodes were played");
}

Test(evaluator_evaluate, the_step_cap_cuts_episodes_and_counts_their_return_so_far)
{
    evaluator_player_config c = chain_config(3, 0, 2);
    c.env.max_episode_steps = 9; /* s_2 -> s_10 takes 8 steps, the 9th earns 1 */
    evaluator_result r = eval_chain(&c, 1);
    cr_assert_float_eq(r.mean, 1.0, 1e-6);
    cr_assert_eq(r.env_steps, 3 * 9);
}

Test(evaluator_evaluate, epsilon_one_plays_uniformly_random_actions)
{
    evaluator_player_config c = chain_config(40, 1.0, 8);
    evaluator_result r = eval_chain(&c, 1);
    cr_assert_lt(r.mean, 5.0, "random play rarely reaches the end of the chain: %g", r.mean);
    cr_assert_gt(r.std, 0.0);
}

Test(evaluator_evaluate, a_stop_request_interrupts_the_evaluation)
{
    evaluator_player_config c = chain_config(3, 0, 2);
    evaluator_player *p = player(&c);
    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    volatile sig_atomic_t stop = 1;
    evaluator_result r;
    shoal_err err = {0};
    cr_assert_eq(evaluator_player_eval_net(p, net, &stop, &r, &err), SHOAL_EINTERRUPTED);
    stop = 0;
    cr_assert_eq(evaluator_player_eval_net(p, net, &stop, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 10.0, 1e-5, "the player is usable after an interruption");
    nn_qnet_free(net);
    evaluator_player_free(p);
}

Test(evaluator_evaluate, a_passed_deadline_cuts_the_evaluation_and_can_be_lifted)
{
    evaluator_player_config c = chain_config(3, 0, 2);
    evaluator_player *p = player(&c);
    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    evaluator_result r;
    shoal_err err = {0};
    evaluator_player_set_deadline(p, clock_now_ns());
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_ETIMEOUT);
    cr_assert(strstr(err.msg, "deadline"), "%s", err.msg);
    evaluator_player_set_deadline(p, clock_now_ns() + 60000000000ull);
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    evaluator_player_set_deadline(p, 0);
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 10.0, 1e-5);
    nn_qnet_free(net);
    evaluator_player_free(p);
}

Test(evaluator_evaluate, files_that_cannot_be_evaluated_are_refused_with_their_name)
{
    evaluator_player_config c = chain_config(2, 0, 2);
    evaluator_player *p = player(&c);
    evaluator_result r;
    shoal_err err = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/missing.ckpt", dir);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "missing.ckpt"), "%s", err.msg);

    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    save(net, "good.ckpt", 9, path, sizeof path);
    nn_qnet_free(net);
    uint8_t *data;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &data, &n, &err), SHOAL_OK);
    char cut[128];
    snprintf(cut, sizeof cut, "%s/cut.ckpt", dir);
    cr_assert_eq(atomic_write_file(cut, data, n / 2, &err), SHOAL_OK);
    cr_assert_eq(evaluator_player_eval_file(p, cut, NULL, &r, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "cut.ckpt"), "%s", err.msg);
    data[n - 3] ^= 0x40;
    cr_assert_eq(atomic_write_file(cut, data, n, &err), SHOAL_OK);
    cr_assert_eq(evaluator_player_eval_file(p, cut, NULL, &r, &err), SHOAL_ECORRUPT);
    free(data);

    /* a MinAtar network does not fit Chain */
    nn_qnet_config qc = nn_qnet_config_minatar(4, 3);
    nn_qnet *breakout = nn_qnet_new(&qc, &err);
    cr_assert_not_null(breakout);
    save(breakout, "breakout.ckpt", 1, path, sizeof path);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "breakout.ckpt") && strstr(err.msg, "chain"), "%s", err.msg);
    cr_assert_eq(evaluator_player_eval_net(p, breakout, NULL, &r, &err), SHOAL_EARCH);
    nn_qnet_free(breakout);

    /* and the good file still evaluates after all that */
    snprintf(path, sizeof path, "%s/good.ckpt", dir);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(r.step, 9);
    cr_assert_float_eq(r.mean, 10.0, 1e-5);
    evaluator_player_free(p);
}

Test(evaluator_evaluate, bad_player_configurations_are_refused)
{
    shoal_err err = {0};
    evaluator_player_config c = chain_config(0, 0, 2);
    cr_assert_null(evaluator_player_new(&c, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    c = chain_config(2, 0, 0);
    cr_assert_null(evaluator_player_new(&c, &err));
    cr_assert(strstr(err.msg, "n_envs"), "%s", err.msg);
    c = chain_config(2, 0, 2);
    strcpy(c.env_name, "minatar/pong");
    cr_assert_null(evaluator_player_new(&c, &err));
    cr_assert_eq(err.code, SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "minatar/pong"), "%s", err.msg);
}

/* [run] seed comes from cluster/schema.c in the binary; a test declares its own. */
static const config_key run_seed_keys[] = {
    {"run", "seed", CONFIG_INT, "1", 0, 4294967295.0, NULL, "seed"},
    CONFIG_KEY_END,
};

Test(evaluator_evaluate, config_takes_the_smaller_step_cap_and_offsets_the_seed)
{
    const config_key *const tables[] = {run_seed_keys, env_config_keys, obs_facts_config_keys,
                                        evaluator_config_keys};
    shoal_err err = {0};
    config *cfg = config_new(tables, 4, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    cr_assert_eq(config_load_string(cfg,
                                    "[run]\nseed = 5\n[env]\nname = deepsea\nmax_episode_steps = 500\n"
                                    "obs_shape = 10,10,1\nobs_dtype = uint8\nn_actions = 2\n"
                                    "[evaluator]\nepisodes = 3\nseed_offset = 100\n"
                                    "max_episode_steps = 200\nn_envs = 2\n",
                                    "t.ini", &err),
                 SHOAL_OK, "%s", err.msg);
    evaluator_player_config pc;
    cr_assert_eq(evaluator_player_config_from(cfg, &pc, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(pc.env_name, "deepsea");
    cr_assert_eq(pc.env.max_episode_steps, 200);
    cr_assert_eq(pc.seed, 105);
    cr_assert_eq(pc.episodes, 3);
    cr_assert_eq(pc.head_episodes, 10);
    cr_assert_float_eq(pc.epsilon, 0.001, 1e-12);
    cr_assert_eq(pc.n_envs, 2);
    cr_assert(pc.facts.obs.shape.h == 10 && pc.facts.obs.dtype == OBS_DTYPE_UINT8 &&
              pc.facts.obs.bytes == 100 && pc.facts.n_actions == 2);
    cr_assert_eq(config_set(cfg, "evaluator.max_episode_steps=0", "--set", &err), SHOAL_OK);
    cr_assert_eq(evaluator_player_config_from(cfg, &pc, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(pc.env.max_episode_steps, 500, "0 leaves env.max_episode_steps");
    cr_assert_eq(config_set(cfg, "env.options=bogus", "--set", &err), SHOAL_OK);
    cr_assert_eq(evaluator_player_config_from(cfg, &pc, &err), SHOAL_EINVAL);
    cr_assert_eq(config_set(cfg, "env.options=", "--set", &err), SHOAL_OK);
    cr_assert_eq(config_set(cfg, "env.n_actions=0", "--set", &err), SHOAL_OK);
    cr_assert_eq(evaluator_player_config_from(cfg, &pc, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "env.obs_shape is not set"), "%s", err.msg);
    config_free(cfg);
}

Test(evaluator_evaluate, shipped_configs_evaluate_deterministic_envs_greedily_others_near_greedily)
{
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/cluster/configs/*.ini", getenv("SHOAL_SOURCE_DIR"));
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no shipped configs: %s", pattern);
    int n_greedy = 0, n_other = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        shoal_err err = {0};
        config *cfg = shoal_config_load(path, NULL, 0, &err);
        cr_assert_not_null(cfg, "%s", err.msg);
        const char *env_name = config_str(cfg, "env", "name");
        double epsilon = config_float(cfg, "evaluator", "epsilon");
        if (strcmp(env_name, "deepsea") == 0 || strcmp(env_name, "chain") == 0) {
            cr_assert_eq(epsilon, 0.0, "%s: %s is deterministic, yet evaluator.epsilon = %g",
                         path, env_name, epsilon);
            n_greedy++;
        } else {
            cr_assert(epsilon > 0.0 && epsilon <= 0.01, "%s: evaluator.epsilon = %g", path,
                      epsilon);
            n_other++;
        }
        config_free(cfg);
    }
    globfree(&g);
    cr_assert_geq(n_greedy, 3, "the DeepSea and Chain configs were not found: %s", pattern);
    cr_assert_geq(n_other, 5);
}

Test(evaluator_evaluate, an_env_that_does_not_match_the_facts_is_refused)
{
    evaluator_player_config c = chain_config(2, 0, 2);
    c.facts.n_actions = 3;
    evaluator_player *p = player(&c);
    const int prefer[] = {1};
    nn_qnet *net = fx_chain_net(1, prefer, 2);
    evaluator_result r;
    shoal_err err = {0};
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_EARCH,
                 "the network (2 actions) does not fit the facts (3): %s", err.msg);
    c.facts.n_actions = 2;
    c.facts.obs.shape.w = 12;
    evaluator_player_free(p);
    p = player(&c);
    nn_qnet_free(net);
    nn_qnet_config qc = {.in_h = 1, .in_w = 12, .in_c = 1, .n_actions = 2, .n_heads = 1,
                         .max_batch = 2, .seed = 3};
    net = nn_qnet_new(&qc, &err);
    cr_assert_not_null(net, "%s", err.msg);
    cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "chain has observations 1,10,1 uint8") &&
                  strstr(err.msg, "say 1,12,1 uint8"), "%s", err.msg);
    nn_qnet_free(net);
    evaluator_player_free(p);
}

/* An offline (discrete BCQ) checkpoint: the Q-network prefers left, but its behaviour model
 * beside it (step-N.behaviour) gives left G(left)/G(right) = e^-1 ≈ 0.37. Above τ the player
 * may only go right (Chain's 10); below τ, or without the file, it goes left. */
Test(evaluator_evaluate, an_offline_checkpoint_acts_only_where_its_behaviour_model_allows)
{
    evaluator_player_config c = chain_config(2, 0, 2);
    c.bcq_threshold = 0.5f;
    int left = 0, right = 1;
    nn_qnet *q = fx_chain_net(1, &left, c.n_envs);
    nn_qnet *g = fx_chain_net(1, &right, c.n_envs);
    char path[256], bpath[300];
    save(q, "step-5.ckpt", 5, path, sizeof path);
    cr_assert_eq(nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, bpath,
                                           sizeof bpath, NULL), SHOAL_OK);
    cr_assert_str_eq(bpath + strlen(bpath) - strlen("step-5.behaviour"), "step-5.behaviour");
    shoal_err err = {0};
    evaluator_result r;
    evaluator_player *p = player(&c);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 0.017, 1e-6, "no behaviour model: the Q-network's left");
    cr_assert_eq(nn_paramfile_save(bpath, g, NULL, 5, 20, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 10.0, 1e-5, "left lacks support: right");
    evaluator_player_free(p);
    c.bcq_threshold = 0.3f;
    p = player(&c);
    cr_assert_eq(evaluator_player_eval_file(p, path, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(r.mean, 0.017, 1e-6, "e^-1 > 0.3: left is allowed");
    evaluator_player_free(p);
    unlink(bpath);
    unlink(path);
    nn_qnet_free(q);
    nn_qnet_free(g);
}

/* The scripted expert (Chain: always right) watches the acting policy at every step: an
 * always-right policy agrees everywhere, an always-left one nowhere, spans of 5 steps over
 * Chain's 18-step episodes; and watching changes no return, even with ε-greedy draws. */
Test(evaluator_evaluate, the_experts_agreement_is_counted_per_span_of_the_episode_without_changing_it)
{
    evaluator_player_config c = chain_config(5, 0, 3);
    c.agreement_steps = 5;
    evaluator_result r = eval_chain(&c, 1);
    cr_assert_float_eq(r.mean, 10.0, 1e-5);
    cr_assert_eq(r.agreement_spans, 4, "18 steps in spans of 5");
    const uint64_t want[4] = {25, 25, 25, 15};
    /* eval_chain freed the player: read the counts through a player kept alive */
    evaluator_player *p = player(&c);
    for (int prefer = 0; prefer < 2; prefer++) {
        nn_qnet *net = fx_chain_net(1, &prefer, c.n_envs);
        shoal_err err = {0};
        cr_assert_eq(evaluator_player_eval_net(p, net, NULL, &r, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(r.agreement_spans, 4);
        for (size_t k = 0; k < 4; k++) {
            cr_assert_eq(r.agreement_visits[k], want[k], "span %zu", k);
            cr_assert_eq(r.agreement_agree[k], prefer ? want[k] : 0, "span %zu, prefer %d", k,
                         prefer);
        }
        nn_qnet_free(net);
    }
    evaluator_player_free(p);

    evaluator_player_config noisy = chain_config(8, 0.5, 2);
    evaluator_result plain = eval_chain(&noisy, 1);
    noisy.agreement_steps = 4;
    evaluator_result watched = eval_chain(&noisy, 1);
    cr_assert_eq(plain.env_steps, watched.env_steps);
    cr_assert_float_eq(plain.mean, watched.mean, 0, "the expert only watches");
    cr_assert_float_eq(plain.std, watched.std, 0);
    cr_assert_eq(plain.agreement_spans, 0, "off without agreement_steps");
}
