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
#include "learner_fixtures.h"
#include "nn_ref.h"

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

/* Ape-X DQfD's learning rule (learner.target_transform, learner.lambda_tc) against references
 * computed outside the update: today's loss unchanged bit for bit, the transformed target and
 * the temporal-consistency gradient through the online network on s'. */
static learner_update *update_from(const learner_update_config *c)
{
    shoal_err err = {0};
    learner_update *u = learner_update_new(c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    return u;
}

Test(learner_update, with_the_apex_options_off_an_update_is_todays_computation_bit_for_bit)
{
    enum { B = 8 };
    lx_data data;
    lx_data_init(&data, B, 5);
    learner_update_config c = lx_config(B, 1e-3f);
    /* an ε without the transform, as a config file may leave it, changes nothing */
    c.target_transform = 0;
    c.transform_eps = 0.5f;
    c.lambda_tc = 0.0f;
    learner_update *u = update_from(&c);
    learner_batch b = lx_batch(&data, 0, B);
    float prio[B], prio_ref[B];
    learner_loss loss;
    shoal_err err = {0};
    cr_assert_eq(learner_update_step(u, &b, prio, &loss, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(loss.tc, 0.0f);

    /* The update as it was computed before the Ape-X options existed, from the parts. */
    nn_qnet *net = nn_qnet_new(&c.net, &err), *target = nn_qnet_new(&c.net, &err);
    cr_assert(net && target);
    nn_qnet_copy_params(target, net, NULL);
    size_t A = c.net.n_actions, K = c.net.n_heads, n = B * K * A;
    float *q = malloc(n * 4), *qn = malloc(n * 4), *qt = malloc(n * 4), *dq = malloc(n * 4);
    float y[B * 8];
    cr_assert_leq(K, 8);
    nn_loss_dims d = {B, K, A};
    nn_qnet_forward_train(net, b.obs, B, q);
    nn_qnet_forward(net, b.next_obs, B, qn);
    nn_qnet_forward(target, b.next_obs, B, qt);
    nn_loss_targets(y, qn, qt, b.reward, b.discount, &d, 1);
    nn_td_batch tb = {.dims = d, .actions = b.action, .targets = y, .mask_bits = NULL,
                      .weights = b.weight};
    float td = nn_loss_td(dq, prio_ref, q, &tb);
    float margin = nn_loss_margin(dq, q, b.action, b.demo, b.weight, &d, c.margin,
                                  c.lambda_demo);
    nn_qnet_backward(net, dq, B);
    float l2 = nn_loss_l2(nn_qnet_grads(net), nn_qnet_params(net), nn_qnet_n_trainable(net), c.l2);

    cr_assert_eq(memcmp(prio, prio_ref, sizeof prio), 0, "priorities differ");
    cr_assert_eq(loss.td, td);
    cr_assert_eq(loss.margin, margin);
    cr_assert_eq(loss.l2, l2);
    cr_assert_eq(memcmp(nn_qnet_grads(learner_update_net(u)), nn_qnet_grads(net),
                        nn_qnet_n_trainable(net) * sizeof(float)), 0, "gradients differ");
    free(q), free(qn), free(qt), free(dq);
    nn_qnet_free(net);
    nn_qnet_free(target);
    learner_update_free(u);
    lx_data_fini(&data);
}

/* A small single-head network (convolutions, a prior, no dueling) for the Ape-X checks. */
static learner_update_config apex_config(size_t B)
{
    learner_update_config c;
    memset(&c, 0, sizeof c);
    c.net = ref_full_config();
    c.net.n_heads = 1;
    c.net.dueling = 0;
    c.net.max_batch = B;
    c.optim = nn_optim_adam(1e-3f);
    c.double_q = 1;
    c.target_period = 1000;
    c.target_transform = 1;
    c.transform_eps = 1e-2f;
    return c;
}

Test(learner_update, the_apex_target_is_h_of_the_return_plus_the_discounted_h_inverse)
{
    enum { B = 4 };
    /* unclipped rewards of any scale, and a terminal (discount 0) that bootstraps nothing */
    float R[B] = {250.0f, -40.0f, 0.0f, 1.0f}, C[B] = {0.97f, 0.99f, 0.0f, 0.5f};
    uint32_t act[B] = {2, 0, 1, 2};
    for (int double_q = 0; double_q <= 1; double_q++) {
        learner_update_config c = apex_config(B);
        c.double_q = double_q;
        learner_update *u = update_from(&c);
        size_t nx = B * c.net.in_h * c.net.in_w * c.net.in_c, A = c.net.n_actions;
        float *x = malloc(nx * 4), *xn = malloc(nx * 4), q[B * 3], qn[B * 3], qt[B * 3];
        cr_assert_eq(A, 3);
        rng g;
        rng_init(&g, 40, RNG_ROLE_TOOL, 0, 0);
        ref_fill_input(x, nx, &g, 0);
        ref_fill_input(xn, nx, &g, 0);
        /* a target net unlike the online one, so that the two argmaxes can differ */
        float *tp = nn_qnet_params(learner_update_target(u));
        for (size_t i = 0; i < nn_qnet_n_trainable(learner_update_target(u)); i++) {
            tp[i] += 0.3f * (rng_uniform_f(&g) - 0.5f);
        }
        nn_qnet_forward(learner_update_net(u), x, B, q);
        nn_qnet_forward(learner_update_net(u), xn, B, qn);
        nn_qnet_forward(learner_update_target(u), xn, B, qt);
        learner_batch b = {.count = B, .obs = x, .next_obs = xn, .action = act, .reward = R,
                           .discount = C};
        float prio[B];
        shoal_err err = {0};
        cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
        for (size_t i = 0; i < B; i++) {
            const float *chooser = double_q ? qn + i * A : qt + i * A;
            double boot = ref_value_h_inv(qt[i * A + nn_argmax(chooser, A)], c.transform_eps);
            double inner = R[i] + (double)C[i] * boot;
            double y = ref_value_h(inner, c.transform_eps), qa = q[i * A + act[i]];
            double want = fabs(y - qa);
            /* float32 roundings: h⁻¹ (scaled by C and by h' <= 1/2 + ε), R + C·v (two), h and
             * y - Q, each at most 2^-24 of its own magnitude */
            double bound = ref_gamma(4) * (fabs(y) + fabs(qa) + fabs(inner) + C[i] * fabs(boot));
            cr_assert_leq(fabs(prio[i] - want), bound, "double_q %d sample %zu: |δ| %.9g, "
                          "want %.9g", double_q, i, prio[i], want);
        }
        /* the transform squashes: |y| for R = 250 is far below 250 */
        cr_assert_lt(prio[0], 40.0f);
        free(x), free(xn);
        learner_update_free(u);
    }
}

/* The whole loss of one Ape-X update in double, as a function of the online parameters p, with
 * every constant of the update (targets y, the TC argmax a', the target's values) fixed:
 * Σ_i w_i/B huber(y_i - Q(s_i, a_i)) + λ Σ_i w_i/B huber(Q(s'_i, a'_i) - Q̄(s'_i, a'_i)).
 * With magnitude set, the same derivative's magnitudes: |w|/B and λ|w|/B against the magnitude
 * network (nn_ref.h) of |p| on |x|. */
typedef struct apex_problem {
    const nn_qnet_config *c;
    size_t B, n_params, nt;
    double *x2;          /* (2B, H, W, C): s then s' */
    const uint32_t *act; /* (B) */
    const size_t *a_next;
    const double *y, *qbar, *w;
    double lambda;
} apex_problem;

static double huber_d(double d)
{
    return fabs(d) <= 1.0 ? 0.5 * d * d : fabs(d) - 0.5;
}

static double apex_loss(const apex_problem *pr, const double *p, int magnitude)
{
    size_t A = pr->c->n_actions, B = pr->B;
    double *q = malloc(2 * B * A * sizeof *q), L = 0.0;
    if (magnitude) {
        ref_qnet_magnitude(pr->c, p, pr->n_params, pr->nt, pr->x2, 2 * B, q);
    } else {
        ref_qnet(pr->c, p, pr->nt, pr->x2, 2 * B, q);
    }
    for (size_t i = 0; i < B; i++) {
        double qa = q[i * A + pr->act[i]], qn = q[(B + i) * A + pr->a_next[i]];
        if (magnitude) {
            L += pr->w[i] / (double)B * (qa + pr->lambda * qn);
        } else {
            L += pr->w[i] / (double)B * (huber_d(pr->y[i] - qa) +
                                         pr->lambda * huber_d(qn - pr->qbar[i]));
        }
    }
    free(q);
    return L;
}

Test(learner_update, the_tc_gradient_through_the_online_net_on_s_next_matches_finite_differences)
{
    enum { B = 3 };
    learner_update_config c = apex_config(B);
    c.lambda_tc = 0.7f;
    learner_update *u = update_from(&c);
    nn_qnet *net = learner_update_net(u), *target = learner_update_target(u);
    size_t in = nn_qnet_in_floats(net), A = c.net.n_actions;
    size_t n_params = nn_qnet_n_params(net), nt = nn_qnet_n_trainable(net);
    float *x2 = malloc(2 * B * in * 4), w[B] = {1.0f, 0.4f, 0.75f}, C[B] = {0.9f, 0.0f, 0.81f};
    float q[2 * B * 3], qt[B * 3], R[B];
    uint32_t act[B] = {1, 2, 0};
    rng g;
    rng_init(&g, 41, RNG_ROLE_TOOL, 0, 0);
    ref_fill_input(x2, 2 * B * in, &g, 0);
    /* The target differs from the online net by a shift of each action's output bias, so every
     * TC difference Q(s', a) - Q̄(s', a) is minus that shift: past the Huber kink, linear. */
    const float shift[3] = {2.0f, -2.5f, 1.75f};
    nn_param_view bias = nn_qnet_view(target, nn_qnet_n_layers(target) - 1, 1);
    cr_assert_eq(bias.n, A);
    for (size_t a = 0; a < A; a++) {
        nn_qnet_params(target)[bias.offset + a] += shift[a];
    }
    nn_qnet_forward(net, x2, B, q);
    nn_qnet_forward(net, x2 + B * in, B, q + B * A);
    nn_qnet_forward(target, x2 + B * in, B, qt);
    size_t a_next[B];
    double y[B], qbar[B], wd[B];
    for (size_t i = 0; i < B; i++) {
        const float *qn = q + (B + i) * A;
        a_next[i] = nn_argmax(qn, A);
        for (size_t a = 0; a < A; a++) {
            cr_assert(a == a_next[i] || qn[a_next[i]] - qn[a] > 1e-3f, "argmax near a tie");
        }
        qbar[i] = qt[i * A + a_next[i]];
        /* R puts every TD difference at ±2 in the transformed space, past the kink too */
        double want = q[i * A + act[i]] + (i % 2 ? -2.0 : 2.0);
        double boot = ref_value_h_inv(qt[i * A + a_next[i]], c.transform_eps);
        R[i] = (float)(ref_value_h_inv(want, c.transform_eps) - C[i] * boot);
        y[i] = ref_value_h(R[i] + (double)C[i] * boot, c.transform_eps);
        wd[i] = w[i];
    }
    double *p = ref_to_double(nn_qnet_params(net), n_params);
    learner_batch b = {.count = B, .obs = x2, .next_obs = x2 + B * in, .action = act,
                       .reward = R, .discount = C, .weight = w};
    float prio[B];
    learner_loss loss;
    shoal_err err = {0};
    cr_assert_eq(learner_update_step(u, &b, prio, &loss, &err), SHOAL_OK, "%s", err.msg);
    for (size_t i = 0; i < B; i++) {
        cr_assert_float_eq(prio[i], 2.0f, 1e-4f, "the TD difference was placed at ±2");
    }
    double tc_want = 0.0;
    for (size_t i = 0; i < B; i++) {
        tc_want += c.lambda_tc * w[i] / B * (fabs((double)shift[a_next[i]]) - 0.5);
    }
    cr_assert_float_eq(loss.tc, tc_want, 1e-5 * tc_want, "λ L_TC %g, want %g", loss.tc, tc_want);

    apex_problem pr = {&c.net, B, n_params, nt, ref_to_double(x2, 2 * B * in), act, a_next,
                       y, qbar, wd, c.lambda_tc};
    double *num = malloc(nt * sizeof *num), *g_mag = malloc(nt * sizeof *g_mag);
    double *pa = ref_abs(p, n_params);
    const double h = 1e-5;
    for (size_t i = 0; i < nt; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = apex_loss(&pr, p, 0);
        p[i] = keep - h;
        num[i] = (up - apex_loss(&pr, p, 0)) / (2.0 * h);
        p[i] = keep;
        /* magnitudes step upwards only, so that |p[i]| never folds over at zero */
        double m0 = apex_loss(&pr, pa, 1);
        keep = pa[i];
        pa[i] = keep + h;
        g_mag[i] = (apex_loss(&pr, pa, 1) - m0) / h;
        pa[i] = keep;
    }
    /* As nn_qnet's gradient test (nn_ref.h): each term is a forward chain times a backward
     * chain, summed over the batch of 2B (s and s') and the convolution positions, plus the
     * one add that joins the TD and TC passes' gradients. */
    size_t n_ops = 2 * ref_qnet_chain_ops(&c.net) + 2 * B * c.net.in_h * c.net.in_w + 1;
    double loss_mag = apex_loss(&pr, pa, 1);
    double e = ref_gradient_bound_ratio(nn_qnet_grads(net), num, g_mag, nt, ref_gamma(n_ops),
                                        n_ops, loss_mag, h);
    cr_assert_leq(e, 1.0, "gradient differs by %g of its float32 bound", e);
    /* and the TC term is really in it: without it, the same update's gradient differs */
    learner_update_config c0 = c;
    c0.lambda_tc = 0.0f;
    learner_update *u0 = update_from(&c0);
    memcpy(nn_qnet_params(learner_update_target(u0)), nn_qnet_params(target),
           n_params * sizeof(float));
    cr_assert_eq(learner_update_step(u0, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
    double diff = 0.0;
    for (size_t i = 0; i < nt; i++) {
        diff += fabs((double)nn_qnet_grads(learner_update_net(u0))[i] - nn_qnet_grads(net)[i]);
    }
    cr_assert_gt(diff, 1e-3);
    free(x2), free(p), free(pr.x2), free(num), free(g_mag), free(pa);
    learner_update_free(u0);
    learner_update_free(u);
}

Test(learner_update, the_transform_is_refused_without_a_positive_epsilon)
{
    learner_update_config c = apex_config(2);
    c.transform_eps = 0.0f;
    shoal_err err = {0};
    cr_assert_null(learner_update_new(&c, MPI_COMM_NULL, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "transform_eps"), "%s", err.msg);
}
