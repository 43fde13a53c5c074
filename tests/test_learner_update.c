/* learner/update.h's modes (learner.mode = bc and offline) and learner.init_from, on data
 * built here: a scripted expert's DeepSea episodes for behaviour cloning, and a constructed
 * dataset that never takes one action for discrete BCQ's support constraint. One learner
 * without MPI (MPI_COMM_NULL). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/commands.h"
#include "common/config.h"
#include "common/obs.h"
#include "common/rng.h"
#include "env/env.h"
#include "env/expert.h"
#include "learner/learner.h"
#include "learner/update.h"
#include "nn/loss.h"
#include "nn/paramfile.h"

/* ---- behaviour cloning on DeepSea from the scripted expert ---- */

#define DS_SIZE 8
#define DS_MAX 256 /* states kept */

typedef struct ds_data {
    size_t n, in;
    float obs[DS_MAX * DS_SIZE * DS_SIZE];
    uint32_t action[DS_MAX];
    float zero[DS_MAX], one[DS_MAX];
} ds_data;

/* Every state the expert visits in `episodes` episodes (DeepSea is deterministic without
 * sticky actions, so these are the DS_SIZE states of its path), with its action. */
static void ds_expert_data(ds_data *d, size_t episodes)
{
    env_options o;
    env_options_default(&o);
    o.sticky = 0.0;
    cr_assert_eq(env_options_set_param(&o, "size", DS_SIZE, NULL), SHOAL_OK);
    shoal_err err = {0};
    env *e = env_make(NULL, "deepsea", &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    obs_spec spec = env_obs_spec(e);
    d->in = obs_shape_values(spec.shape);
    cr_assert_eq(d->in, (size_t)DS_SIZE * DS_SIZE);
    uint8_t raw[4096];
    env_rand r;
    env_rand_seed(&r, ENV_RAND_XOSHIRO, 7);
    d->n = 0;
    for (size_t ep = 0; ep < episodes; ep++) {
        env_seed(e, ep);
        env_reset(e, raw);
        for (;;) {
            cr_assert_lt(d->n, DS_MAX);
            obs_unpack_f32(d->obs + d->n * d->in, raw, &spec, 1);
            uint32_t a = env_expert_action(e, &r);
            d->action[d->n] = a;
            d->zero[d->n] = 0.0f;
            d->one[d->n] = 1.0f;
            d->n++;
            env_step_result s = env_step(e, a, raw);
            if (s.terminal || s.truncated) {
                break;
            }
        }
    }
    env_free(e);
}

static learner_update_config small_config(size_t in_h, size_t in_w, size_t n_actions,
                                          size_t heads, int dueling, float prior)
{
    learner_update_config c;
    memset(&c, 0, sizeof c);
    c.net.in_h = in_h;
    c.net.in_w = in_w;
    c.net.in_c = 1;
    c.net.n_dense = 1;
    c.net.dense[0] = 32;
    c.net.n_actions = n_actions;
    c.net.n_heads = heads;
    c.net.dueling = dueling;
    c.net.prior_scale = prior;
    c.net.max_batch = 64;
    c.net.seed = 3;
    c.optim = nn_optim_adam(3e-3f);
    c.double_q = 1;
    c.target_period = 50;
    c.bcq_threshold = 0.3f;
    return c;
}

/* Share of states where every head's argmax is the expert's action. */
static double agreement(learner_update *u, const ds_data *d)
{
    nn_qnet *net = learner_update_net(u);
    const nn_qnet_config *c = nn_qnet_config_of(net);
    size_t K = c->n_heads, A = c->n_actions;
    float q[DS_MAX * 8 * 4];
    size_t agree = 0;
    for (size_t i = 0; i < d->n; i += c->max_batch) {
        size_t b = d->n - i < c->max_batch ? d->n - i : c->max_batch;
        nn_qnet_forward(net, d->obs + i * d->in, b, q);
        for (size_t j = 0; j < b; j++) {
            bool all = true;
            for (size_t k = 0; k < K; k++) {
                all = all && nn_argmax(q + (j * K + k) * A, A) == d->action[i + j];
            }
            agree += all;
        }
    }
    return (double)agree / (double)d->n;
}

/* Trains BC on d in batches cycling over it until agreement is 100% or max_steps; returns the
 * steps taken. */
static uint64_t bc_until_agreement(learner_update *u, const ds_data *d, uint64_t max_steps)
{
    float prio[64];
    size_t B = d->n < 64 ? d->n : 64;
    uint8_t demo[DS_MAX];
    memset(demo, 1, sizeof demo);
    for (uint64_t step = 0; step < max_steps; step++) {
        if (agreement(u, d) == 1.0) {
            return step;
        }
        size_t first = (step * B) % (d->n - B + 1);
        learner_batch b = {.count = B, .obs = d->obs + first * d->in,
                           .next_obs = d->obs + first * d->in, .action = d->action + first,
                           .reward = d->zero + first, .discount = d->zero + first,
                           .weight = d->one + first, .demo = demo};
        learner_loss loss;
        shoal_err err = {0};
        cr_assert_eq(learner_update_step(u, &b, prio, &loss, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(loss.td, 0.0f, "bc has no TD loss");
        cr_assert_eq(loss.margin, 0.0f, "bc has no margin loss");
        cr_assert(loss.bc > 0.0f && isfinite(loss.bc));
    }
    return max_steps;
}

static void bc_reaches_full_agreement(size_t heads, int dueling, float prior)
{
    static ds_data d;
    ds_expert_data(&d, 3);
    cr_assert_geq(d.n, (size_t)DS_SIZE);
    learner_update_config c = small_config(DS_SIZE, DS_SIZE, 2, heads, dueling, prior);
    c.mode = LEARNER_MODE_BC;
    shoal_err err = {0};
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    cr_assert_null(learner_update_behaviour(u), "only offline has a behaviour model");
    double before = agreement(u, &d);
    uint64_t steps = bc_until_agreement(u, &d, 2000);
    cr_log_info("BC K=%zu dueling=%d prior=%g: %zu states, %.0f%% agreement before, 100%% after "
                "%llu steps", heads, dueling, (double)prior, d.n, 100.0 * before,
                (unsigned long long)steps);
    cr_assert_eq(agreement(u, &d), 1.0, "BC (K=%zu dueling=%d prior=%g) agrees on %.0f%% "
                 "after %llu steps (%.0f%% before)", heads, dueling, (double)prior,
                 100.0 * agreement(u, &d), (unsigned long long)steps, 100.0 * before);
    learner_update_free(u);
}

Test(learner_update, bc_reaches_full_agreement_with_the_deepsea_expert)
{
    bc_reaches_full_agreement(1, 0, 0.0f);
}

Test(learner_update, bc_trains_every_head_of_a_dueling_ensemble_with_a_prior)
{
    bc_reaches_full_agreement(3, 1, 1.0f);
}

Test(learner_update, bc_leaves_the_prior_fixed)
{
    learner_update_config c = small_config(DS_SIZE, DS_SIZE, 2, 2, 0, 1.0f);
    c.mode = LEARNER_MODE_BC;
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, NULL);
    cr_assert_not_null(u);
    nn_qnet *net = learner_update_net(u);
    size_t nt = nn_qnet_n_trainable(net), np = nn_qnet_n_params(net);
    cr_assert_eq(np, 2 * nt);
    float *prior = malloc((np - nt) * sizeof *prior);
    memcpy(prior, nn_qnet_params(net) + nt, (np - nt) * sizeof *prior);
    static ds_data d;
    ds_expert_data(&d, 1);
    bc_until_agreement(u, &d, 20);
    cr_assert_eq(memcmp(prior, nn_qnet_params(net) + nt, (np - nt) * sizeof *prior), 0);
    free(prior);
    learner_update_free(u);
}

/* ---- learner.init_from ---- */

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "/tmp/shoal-test-learner-update-%d-%s", (int)getpid(), name);
}

Test(learner_update, init_from_loads_parameters_exactly_with_step_zero_and_a_fresh_optimizer)
{
    static ds_data d;
    ds_expert_data(&d, 1);
    learner_update_config c = small_config(DS_SIZE, DS_SIZE, 2, 1, 0, 0.0f);
    c.mode = LEARNER_MODE_BC;
    learner_update *src = learner_update_new(&c, MPI_COMM_NULL, NULL);
    cr_assert_not_null(src);
    bc_until_agreement(src, &d, 30);
    char path[256], tpath[300];
    tmp_path(path, sizeof path, "bc.ckpt");
    shoal_err err = {0};
    cr_assert_eq(learner_update_save(src, path, 1234, &err), SHOAL_OK, "%s", err.msg);

    c.mode = LEARNER_MODE_RL;
    c.net.seed = 99; /* other initial weights, so a copy is visible */
    learner_update *dst = learner_update_new(&c, MPI_COMM_NULL, NULL);
    cr_assert_not_null(dst);
    nn_qnet *n_src = learner_update_net(src), *n_dst = learner_update_net(dst);
    size_t np = nn_qnet_n_params(n_src);
    cr_assert_neq(memcmp(nn_qnet_params(n_src), nn_qnet_params(n_dst), np * 4), 0);
    cr_assert_eq(learner_update_init_from(dst, path, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(memcmp(nn_qnet_params(n_src), nn_qnet_params(n_dst), np * 4), 0);
    cr_assert_eq(memcmp(nn_qnet_params(n_src), nn_qnet_params(learner_update_target(dst)),
                        np * 4), 0, "the target starts as the loaded network");
    cr_assert_eq(learner_update_steps(dst), 0);
    cr_assert_eq(nn_optim_steps(learner_update_optim(dst)), 0);
    size_t n_state = 0;
    const float *state = nn_optim_state(learner_update_optim(dst), &n_state);
    for (size_t i = 0; i < n_state; i++) {
        cr_assert_eq(state[i], 0.0f, "optimizer state %zu is not fresh", i);
    }

    /* another architecture: refused, naming both strings, and dst unchanged */
    learner_update_config other = small_config(DS_SIZE, DS_SIZE, 2, 1, 1, 0.0f);
    learner_update *mis = learner_update_new(&other, MPI_COMM_NULL, NULL);
    cr_assert_not_null(mis);
    size_t np_mis = nn_qnet_n_params(learner_update_net(mis));
    float *before = malloc(np_mis * sizeof *before);
    memcpy(before, nn_qnet_params(learner_update_net(mis)), np_mis * sizeof *before);
    cr_assert_eq(learner_update_init_from(mis, path, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "learner.init_from") && strstr(err.msg, nn_qnet_arch(n_src)) &&
              strstr(err.msg, nn_qnet_arch(learner_update_net(mis))), "%s", err.msg);
    cr_assert_eq(memcmp(before, nn_qnet_params(learner_update_net(mis)), np_mis * 4), 0);
    tmp_path(tpath, sizeof tpath, "missing.ckpt");
    cr_assert_eq(learner_update_init_from(dst, tpath, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "learner.init_from"), "%s", err.msg);
    free(before);
    learner_update_free(mis);
    learner_update_free(src);
    learner_update_free(dst);
    learner_update_target_path(path, tpath, sizeof tpath, NULL);
    unlink(path);
    unlink(tpath);
}

/* ---- discrete BCQ's support constraint ---- */

#define OFF_IN 16 /* 4 x 4 x 1 */
#define OFF_N 64
#define OFF_A 3
#define OFF_UNSEEN 2 /* the action the data never takes */

typedef struct off_data {
    float obs[OFF_N * OFF_IN], next_obs[OFF_N * OFF_IN];
    uint32_t action[OFF_N];
    float reward[OFF_N], discount[OFF_N], weight[OFF_N];
} off_data;

/* Random binary states; actions 0 and 1 only, each costing a reward of -1, bootstrapping with
 * γ = 0.9 into another state of the set. Q-learning on this data can only lower Q(s,0) and
 * Q(s,1); the unseen action keeps its untrained value above them, and plain DQN's max chases
 * it. */
static void off_data_init(off_data *d)
{
    rng r;
    rng_init(&r, 5, RNG_ROLE_TOOL, 0, 0);
    for (size_t i = 0; i < OFF_N * OFF_IN; i++) {
        d->obs[i] = (float)rng_bernoulli(&r, 0.5);
    }
    for (size_t i = 0; i < OFF_N; i++) {
        size_t next = (i + 1) % OFF_N;
        memcpy(d->next_obs + i * OFF_IN, d->obs + next * OFF_IN, OFF_IN * sizeof(float));
        d->action[i] = (uint32_t)rng_below(&r, 2);
        d->reward[i] = -1.0f;
        d->discount[i] = 0.9f;
        d->weight[i] = 1.0f;
    }
}

/* Trains on the whole set for `steps` updates; returns how many states' greedy action (under
 * the BCQ restriction when the update has a behaviour model, as the evaluator acts) is the
 * unseen action. */
static size_t train_and_count_unseen(learner_mode mode, const off_data *d, uint64_t steps)
{
    learner_update_config c = small_config(4, 4, OFF_A, 1, 0, 0.0f);
    c.mode = mode;
    c.net.max_batch = OFF_N;
    c.target_period = 20;
    shoal_err err = {0};
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    float prio[OFF_N];
    learner_batch b = {.count = OFF_N, .obs = d->obs, .next_obs = d->next_obs,
                       .action = d->action, .reward = d->reward, .discount = d->discount,
                       .weight = d->weight};
    for (uint64_t s = 0; s < steps; s++) {
        cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
    }
    float q[OFF_N * OFF_A], g[OFF_N * OFF_A];
    nn_qnet_forward(learner_update_net(u), d->obs, OFF_N, q);
    nn_qnet *beh = learner_update_behaviour(u);
    cr_assert_eq(beh != NULL, mode == LEARNER_MODE_OFFLINE);
    if (beh) {
        nn_qnet_forward(beh, d->obs, OFF_N, g);
        nn_bcq_mask(q, g, OFF_N, OFF_A, c.bcq_threshold);
    }
    size_t unseen = 0;
    for (size_t i = 0; i < OFF_N; i++) {
        unseen += nn_argmax(q + i * OFF_A, OFF_A) == OFF_UNSEEN;
    }
    learner_update_free(u);
    return unseen;
}

Test(learner_update, offline_bcq_never_acts_outside_the_datas_support_where_plain_dqn_does)
{
    static off_data d;
    off_data_init(&d);
    size_t dqn = train_and_count_unseen(LEARNER_MODE_RL, &d, 300);
    size_t bcq = train_and_count_unseen(LEARNER_MODE_OFFLINE, &d, 300);
    cr_log_info("greedy action outside the data: plain DQN in %zu of %d states, BCQ in %zu", dqn,
                OFF_N, bcq);
    cr_assert_gt(dqn, OFF_N / 2, "plain DQN on the same data picks the unseen action in only "
                 "%zu of %d states: the dataset does not show the problem", dqn, OFF_N);
    cr_assert_eq(bcq, 0, "discrete BCQ picks the unseen action in %zu of %d states", bcq, OFF_N);
}

Test(learner_update, offline_checkpoints_carry_the_behaviour_model_and_resume_it)
{
    static off_data d;
    off_data_init(&d);
    learner_update_config c = small_config(4, 4, OFF_A, 1, 0, 0.0f);
    c.mode = LEARNER_MODE_OFFLINE;
    c.net.max_batch = OFF_N;
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, NULL);
    cr_assert_not_null(u);
    float prio[OFF_N];
    learner_batch b = {.count = OFF_N, .obs = d.obs, .next_obs = d.next_obs, .action = d.action,
                       .reward = d.reward, .discount = d.discount, .weight = d.weight};
    learner_loss loss;
    for (int s = 0; s < 5; s++) {
        cr_assert_eq(learner_update_step(u, &b, prio, &loss, NULL), SHOAL_OK);
    }
    cr_assert(loss.bc > 0.0f && loss.td > 0.0f, "both losses: bc %g td %g", (double)loss.bc,
              (double)loss.td);
    char path[256], bpath[300], tpath[300];
    tmp_path(path, sizeof path, "off.ckpt");
    shoal_err err = {0};
    cr_assert_eq(learner_update_save(u, path, 0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, bpath,
                                           sizeof bpath, NULL), SHOAL_OK);
    cr_assert_eq(access(bpath, F_OK), 0, "%s missing", bpath);
    c.net.seed = 77;
    learner_update *v = learner_update_new(&c, MPI_COMM_NULL, NULL);
    cr_assert_eq(learner_update_load(v, path, NULL, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_local_checksum(v), learner_update_local_checksum(u),
                 "the whole state, behaviour model and its optimizer included, comes back");
    /* an offline learner refuses to resume a checkpoint without a behaviour model */
    unlink(bpath);
    cr_assert_eq(learner_update_load(v, path, NULL, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "behaviour model"), "%s", err.msg);
    learner_update_free(u);
    learner_update_free(v);
    learner_update_target_path(path, tpath, sizeof tpath, NULL);
    unlink(path);
    unlink(tpath);
}

/* ---- configuration ---- */

static config *schema_config(void)
{
    size_t n = 0;
    const config_key *const *tables = shoal_config_tables(&n);
    config *c = config_new(tables, n, NULL);
    cr_assert_not_null(c);
    return c;
}

Test(learner_update, new_keys_refuse_bad_values_with_a_clear_message)
{
    config *c = schema_config();
    shoal_err err = {0};
    cr_assert_neq(config_set(c, "learner.mode=imitate", "--set", &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "learner.mode") && strstr(err.msg, "bc"), "%s", err.msg);
    cr_assert_neq(config_set(c, "learner.bcq_threshold=1", "--set", &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "learner.bcq_threshold"), "%s", err.msg);
    cr_assert_neq(config_set(c, "learner.bcq_threshold=-0.1", "--set", &err), SHOAL_OK);
    cr_assert_neq(config_set(c, "cluster.actors=-1", "--set", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "cluster.actors=0", "--set", &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(config_set(c, "learner.mode=offline", "--set", &err), SHOAL_OK, "%s", err.msg);
    config_free(c);

    /* the update itself refuses τ = 1 (nothing would pass) when built by hand */
    learner_update_config uc = small_config(4, 4, OFF_A, 1, 0, 0.0f);
    uc.mode = LEARNER_MODE_OFFLINE;
    uc.bcq_threshold = 1.0f;
    cr_assert_null(learner_update_new(&uc, MPI_COMM_NULL, &err));
    cr_assert(strstr(err.msg, "learner.bcq_threshold"), "%s", err.msg);
}

Test(learner_update, learner_config_reads_the_mode_threshold_and_init_from)
{
    config *c = schema_config();
    shoal_err err = {0};
    const char *sets[] = {"env.obs_shape=10,10,4", "env.obs_dtype=bit", "env.n_actions=3",
                          "learner.mode=offline", "learner.bcq_threshold=0.5",
                          "learner.init_from=/data/bc.ckpt"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        cr_assert_eq(config_set(c, sets[i], "test", &err), SHOAL_OK, "%s: %s", sets[i], err.msg);
    }
    learner_config lc;
    cr_assert_eq(learner_config_from(c, 0, "tcp://127.0.0.1:1", "", "", &lc, &err), SHOAL_OK,
                 "%s", err.msg);
    cr_assert_eq(lc.update.mode, LEARNER_MODE_OFFLINE);
    cr_assert_float_eq(lc.update.bcq_threshold, 0.5f, 1e-7f);
    cr_assert_str_eq(lc.init_from, "/data/bc.ckpt");
    config_free(c);
}
