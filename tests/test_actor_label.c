/* DAgger: actors that label every visited state with an expert's action (actor/label.h and
 * the labelling in actor/actor.c), against a real shard served from a thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "actor/actor.h"
#include "actor/label.h"
#include "cluster/commands.h"
#include "env/env_config.h"
#include "common/clock.h"
#include "env/expert.h"
#include "learner/params.h"
#include "nn/paramfile.h"
#include "nn_ref.h"
#include "obs_fixtures.h"
#include "replay/client.h"
#include "replay/store.h"
#include "replay_fixtures.h"

#define SEA 6 /* DeepSea's side: 6x6x1 uint8 observations, episodes of 6 steps */

static config *load(const char *const *sets, size_t n, const char *extra)
{
    shoal_err err = {0};
    config *cfg = shoal_config_load(NULL, sets, n, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    if (extra) {
        cr_assert_eq(config_load_string(cfg, extra, "test", &err), SHOAL_OK, "%s", err.msg);
    }
    fx_derive_facts(cfg);
    return cfg;
}

static config *deepsea_config(const char *extra)
{
    const char *sets[] = {"env.name=deepsea", "env.deepsea_size=6", "actor.envs=4",
                          "actor.batch=16", "actor.n_step=1", "run.seed=3",
                          "replay.demo_capacity=4096", "exploration.epsilon=1"};
    return load(sets, sizeof sets / sizeof sets[0], extra);
}

static config *breakout_config(const char *extra)
{
    const char *sets[] = {"env.name=minatar/breakout", "env.max_episode_steps=40",
                          "actor.envs=4", "actor.batch=16", "actor.n_step=3", "run.seed=11",
                          "replay.demo_capacity=4096"};
    return load(sets, sizeof sets / sizeof sets[0], extra);
}

/* A shard for spec with room for 4096 demonstrations, sampling whole stores at once: α = 1,
 * ε = 0 and priority 1 make every leaf exactly 1, so a demo-only batch of the demo store's
 * size draws each slot once (stratified over [k, k+1)). */
static int start_shard(fx_server *srv, const obs_spec *spec)
{
    replay_server_config sc = fx_server_config(100000, 4096);
    sc.store.spec = *spec;
    sc.store.max_batch = 4096;
    sc.max_message_bytes = 16 << 20;
    return fx_server_start(srv, &sc);
}

static obs_spec spec_of(const char *shape, const char *dtype)
{
    obs_spec sp;
    cr_assert_eq(obs_spec_parse(shape, dtype, &sp, NULL), SHOAL_OK);
    return sp;
}

/* Loads n_demo plain demonstrations (action 1, obs all 0xFF: no state DeepSea shows) from
 * REPLAY_DEMO_ACTOR, as `replay.demos` would, so that growth is measured from a non-empty
 * store and the demos stay apart from the labels. */
static void preload_demos(fx_server *srv, const obs_spec *spec, size_t n_demo)
{
    static uint8_t obs[64 * 64];
    static uint32_t action[64];
    static float zero[64], one[64];
    cr_assert_leq(n_demo * spec->bytes, sizeof obs);
    memset(obs, 0xFF, sizeof obs);
    for (size_t i = 0; i < n_demo; i++) {
        action[i] = 1;
        one[i] = 1.0f;
    }
    replay_batch b = {.actor_id = REPLAY_DEMO_ACTOR, .demo = true, .spec = *spec,
                      .t = {.count = n_demo, .obs = obs, .next_obs = obs, .action = action,
                            .reward = zero, .discount = zero, .priority = one}};
    shoal_err err = {0};
    replay_client_options o = {.timeout_ms = 5000};
    const char *ep = replay_server_endpoint(srv->srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_eq(replay_client_insert(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
}

static replay_stats shard_stats(fx_server *srv, replay_actor_stats *actor0)
{
    shoal_err err = {0};
    replay_client_options o = {.timeout_ms = 5000};
    const char *ep = replay_server_endpoint(srv->srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    const replay_stats *ss = NULL;
    cr_assert_eq(replay_client_stats(c, 0, &ss, &err), SHOAL_OK, "%s", err.msg);
    replay_stats copy = *ss;
    if (actor0) {
        cr_assert_geq(ss->n_actors, 1);
        *actor0 = ss->actors[0];
    }
    copy.actors = NULL;
    replay_client_free(c);
    return copy;
}

/* Stops the shard's thread and draws every demo slot of its store once (see start_shard). */
static replay_sample *drain_demos(fx_server *srv, size_t demo_size)
{
    srv->stop = 1;
    pthread_join(srv->thread, NULL);
    replay_store *st = (replay_store *)replay_server_store(srv->srv);
    const obs_spec *spec = replay_store_spec(st);
    shoal_err err = {0};
    replay_sample *x = replay_sample_new(demo_size, spec->bytes, &err);
    cr_assert_not_null(x, "%s", err.msg);
    replay_sample_req req = {.batch_size = demo_size, .beta = 0.0, .demo_only = true};
    cr_assert_eq(replay_store_sample(st, &req, x, &err), SHOAL_OK, "%s", err.msg);
    bool *seen = calloc(demo_size, 1);
    for (size_t j = 0; j < x->count; j++) {
        size_t slot = (size_t)(x->key[j] & 0xFFFFFFFFu);
        cr_assert_lt(slot, demo_size);
        cr_assert_not(seen[slot], "slot %zu drawn twice", slot);
        seen[slot] = true;
    }
    free(seen);
    replay_server_free(srv->srv);
    srv->srv = NULL;
    return x;
}

/* DeepSea's expert as a function of the observation, from an env of the same game played
 * along every action sequence: obs (row, col one-hot) -> the expert's action there. */
typedef struct sea_table {
    uint8_t action[SEA * SEA];
    bool known[SEA * SEA];
} sea_table;

static size_t sea_cell(const uint8_t *obs)
{
    size_t cell = SEA * SEA;
    for (size_t k = 0; k < SEA * SEA; k++) {
        if (obs[k]) {
            cr_assert_eq(cell, SEA * SEA, "one-hot observation");
            cell = k;
        }
    }
    return cell;
}

static void sea_expert_table(const config *cfg, sea_table *t)
{
    memset(t, 0, sizeof *t);
    shoal_err err = {0};
    env_options o;
    cr_assert_eq(env_options_from_config(&o, cfg, &err), SHOAL_OK, "%s", err.msg);
    env *e = env_make(NULL, "deepsea", &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    env_rand r;
    env_rand_seed(&r, ENV_RAND_XOSHIRO, 1);
    uint8_t obs[SEA * SEA];
    for (uint32_t seq = 0; seq < (1u << SEA); seq++) {
        env_reset(e, obs);
        for (int step = 0; step < SEA; step++) {
            size_t cell = sea_cell(obs);
            uint8_t a = (uint8_t)env_expert_action(e, &r);
            cr_assert(!t->known[cell] || t->action[cell] == a, "the expert is a function of "
                      "DeepSea's observation");
            t->action[cell] = a;
            t->known[cell] = true;
            env_step(e, (seq >> step) & 1u, obs);
        }
    }
    env_free(e);
}

/* Builds actor 0 of 1 from cfg against srv's shard and runs it to its end (actor.max_env_steps);
 * *rc is actor_run's code. The caller frees the actor. */
static actor *run_actor(const config *cfg, fx_server *srv, int *rc, shoal_err *err)
{
    actor_config ac;
    cr_assert_eq(actor_config_from(cfg, 0, 1, replay_server_endpoint(srv->srv), "", &ac, err),
                 SHOAL_OK, "%s", err->msg);
    actor *a = actor_new(&ac, err);
    cr_assert_not_null(a, "%s", err->msg);
    volatile sig_atomic_t stop = 0;
    *rc = actor_run(a, &stop, err);
    return a;
}

Test(dagger, the_aggregate_grows_by_exactly_the_labels_and_holds_the_experts_actions)
{
    obs_spec spec = spec_of("6,6,1", "uint8");
    fx_server srv;
    cr_assert_eq(start_shard(&srv, &spec), 0, "%s", srv.err.msg);
    const size_t n_demo = 20;
    preload_demos(&srv, &spec, n_demo);
    replay_stats before = shard_stats(&srv, NULL);
    cr_assert_eq(before.demo_size, n_demo);
    /* β = 0.5: half the steps follow the expert, the rest the actor's random actions (ε = 1),
     * so the labels cover states off the expert's path too. */
    config *cfg = deepsea_config("[actor]\nlabel = expert\ndagger_beta = 0.5\n"
                                 "max_env_steps = 1202\n");
    shoal_err err = {0};
    int rc;
    actor *a = run_actor(cfg, &srv, &rc, &err);
    cr_assert_eq(rc, SHOAL_OK, "%s", err.msg);
    actor_stats st = actor_stats_get(a);
    cr_assert_eq(st.env_steps, 1204);
    cr_assert_eq(st.labels, st.env_steps, "every visited state is labelled");
    cr_assert_eq(st.labels_sent, st.labels, "the partial label batch is flushed");
    cr_assert_eq(st.acked, st.sent + st.labels_sent);
    cr_assert_gt(st.expert_steps, st.env_steps * 35 / 100, "%llu",
                 (unsigned long long)st.expert_steps);
    cr_assert_lt(st.expert_steps, st.env_steps * 65 / 100, "%llu",
                 (unsigned long long)st.expert_steps);
    cr_assert_gt(st.ns_label, 0);

    replay_actor_stats as;
    replay_stats after = shard_stats(&srv, &as);
    cr_assert_eq(after.demo_size, before.demo_size + st.labels, "grows by exactly the labels");
    cr_assert_eq(after.inserted, st.sent, "the actor's own transitions still go to the ring");
    cr_assert_eq(as.labels, st.labels);
    cr_assert_eq(as.expert_steps, st.expert_steps);
    cr_assert_eq(as.label_ns, st.ns_label);
    cr_assert_eq(as.env_steps, st.env_steps, "label batches add no env steps");

    /* Through the client, as a learner sees them: label rows come with mask 0 (no head
     * trains its TD error on them), discount 0 and the label flag; the plain demos do not. */
    replay_client_options o = {.timeout_ms = 5000, .obs_bytes = spec.bytes, .max_batch = 256};
    const char *ep = replay_server_endpoint(srv.srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    replay_sample_req req = {.batch_size = 256, .beta = 0.4, .demo_only = true};
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    const replay_sample *b = NULL;
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    size_t n_label = 0;
    for (size_t j = 0; j < b->count; j++) {
        bool plain = b->obs[j * spec.bytes] == 0xFF;
        cr_assert_eq(b->label[j], !plain);
        cr_assert_eq(b->mask[j], plain ? 0xFFFFFFFFu : 0u);
        cr_assert_eq(b->discount[j], 0.0f);
        n_label += b->label[j];
    }
    cr_assert_gt(n_label, 0);
    replay_client_free(c);

    /* Every stored label is the scripted expert's action for its observation. */
    sea_table table;
    sea_expert_table(cfg, &table);
    replay_sample *x = drain_demos(&srv, after.demo_size);
    size_t labels = 0, cells = 0;
    bool covered[SEA * SEA] = {0};
    for (size_t j = 0; j < x->count; j++) {
        const uint8_t *obs = x->obs + j * spec.bytes;
        if (!x->label[j]) {
            cr_assert_eq(obs[0], 0xFF, "only the preloaded demos are not labels");
            continue;
        }
        labels++;
        size_t cell = sea_cell(obs);
        cr_assert(table.known[cell]);
        cr_assert_eq(x->action[j], table.action[cell], "row %zu, cell %zu", j, cell);
        cr_assert_eq(memcmp(obs, x->next_obs + j * spec.bytes, spec.bytes), 0,
                     "next_obs repeats obs");
        cr_assert_eq(x->reward[j], 0.0f);
        cells += !covered[cell];
        covered[cell] = true;
    }
    cr_assert_eq(labels, st.labels);
    cr_assert_gt(cells, SEA, "labels off the expert's path (the diagonal) too: %zu cells", cells);
    replay_sample_free(x);
    actor_free(a);
    config_free(cfg);
}

Test(dagger, beta_one_follows_the_expert_at_every_step_and_zero_never)
{
    obs_spec spec = spec_of("6,6,1", "uint8");
    for (int beta = 0; beta <= 1; beta++) {
        fx_server srv;
        cr_assert_eq(start_shard(&srv, &spec), 0, "%s", srv.err.msg);
        char extra[128];
        snprintf(extra, sizeof extra, "[actor]\nlabel = expert\ndagger_beta = %d\n"
                 "max_env_steps = 240\n", beta);
        config *cfg = deepsea_config(extra);
        shoal_err err = {0};
        int rc;
        actor *a = run_actor(cfg, &srv, &rc, &err);
        cr_assert_eq(rc, SHOAL_OK, "%s", err.msg);
        actor_stats st = actor_stats_get(a);
        cr_assert_eq(st.beta, (double)beta);
        cr_assert_eq(st.expert_steps, beta ? st.env_steps : 0);
        cr_assert_eq(st.labels, st.env_steps);
        replay_actor_stats as;
        shard_stats(&srv, &as);
        cr_assert_eq(as.episodes, 240 / SEA);
        double mean = as.return_sum / (double)as.episodes;
        if (beta) {
            /* DeepSea's expert goes right all the way: 1 − 0.01 every episode. */
            cr_assert_float_eq(mean, 0.99, 1e-5);
        } else {
            cr_assert_lt(mean, 0.5, "random actions rarely find the treasure");
        }
        fx_server_stop(&srv);
        actor_free(a);
        config_free(cfg);
    }
}

typedef struct publisher {
    learner_params_pub *pub;
    volatile int stop;
} publisher;

/* Repeats the last Params until stopped (subscribers join late). */
static void *repeat_params(void *arg)
{
    publisher *p = arg;
    while (!p->stop) {
        learner_params_pub_repeat(p->pub, NULL);
        clock_sleep_ms(5);
    }
    return NULL;
}

Test(dagger, an_iteration_is_dagger_period_learner_updates_and_beta_decays_per_iteration)
{
    obs_spec spec = spec_of("6,6,1", "uint8");
    fx_server srv;
    cr_assert_eq(start_shard(&srv, &spec), 0, "%s", srv.err.msg);
    /* Version 2500 of a period of 1000 is iteration 2: β = 0.8 · 0.5² = 0.2. */
    config *cfg = deepsea_config("[actor]\nlabel = expert\ndagger_beta = 0.8\n"
                                 "dagger_decay = 0.5\ndagger_period = 1000\n"
                                 "max_env_steps = 2000\n");
    shoal_err err = {0};
    void *ctx = zmq_ctx_new();
    char bound[256];
    publisher p = {.pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound, sizeof bound,
                                                 &err)};
    cr_assert_not_null(p.pub, "%s", err.msg);
    actor_config ac;
    cr_assert_eq(actor_config_from(cfg, 0, 1, replay_server_endpoint(srv.srv), bound, &ac, &err),
                 SHOAL_OK, "%s", err.msg);
    nn_qnet *net = nn_qnet_new(&ac.net, &err);
    cr_assert_eq(learner_params_pub_send(p.pub, 2500, 0, net, &err), SHOAL_OK, "%s", err.msg);
    pthread_t th;
    pthread_create(&th, NULL, repeat_params, &p);
    actor *a = actor_new(&ac, &err);
    cr_assert_not_null(a, "%s", err.msg);
    volatile sig_atomic_t stop = 0;
    cr_assert_eq(actor_run(a, &stop, &err), SHOAL_OK, "%s", err.msg);
    p.stop = 1;
    pthread_join(th, NULL);
    actor_stats st = actor_stats_get(a);
    cr_assert_eq(st.params_version, 2500);
    cr_assert_float_eq(st.beta, 0.2, 1e-12);
    cr_assert_gt(st.expert_steps, st.env_steps / 10, "%llu of %llu",
                 (unsigned long long)st.expert_steps, (unsigned long long)st.env_steps);
    cr_assert_lt(st.expert_steps, st.env_steps * 3 / 10, "%llu of %llu",
                 (unsigned long long)st.expert_steps, (unsigned long long)st.env_steps);
    fx_server_stop(&srv);
    actor_free(a);
    nn_qnet_free(net);
    learner_params_pub_free(p.pub);
    zmq_ctx_term(ctx);
    config_free(cfg);
}

/* Greedy action of q (k heads of n actions) on the mean over heads, lowest index on ties. */
static uint32_t greedy(const float *q, size_t k, size_t n)
{
    uint32_t best = 0;
    double best_v = -1e30;
    for (size_t j = 0; j < n; j++) {
        double v = 0.0;
        for (size_t h = 0; h < k; h++) {
            v += q[h * n + j];
        }
        if (v > best_v) {
            best_v = v;
            best = (uint32_t)j;
        }
    }
    return best;
}

Test(dagger, a_teacher_checkpoint_labels_with_its_greedy_action)
{
    obs_spec spec = spec_of("10,10,4", "bit");
    config *probe = breakout_config(NULL);
    actor_config pc;
    shoal_err err = {0};
    cr_assert_eq(actor_config_from(probe, 0, 1, "tcp://127.0.0.1:1", "", &pc, &err), SHOAL_OK,
                 "%s", err.msg);
    /* Small-integer weights make every Q-value exact, so the actor's batched forward pass and
     * this test's one-at-a-time pass agree, ties included (nn_ref.h). */
    nn_qnet_config tc = pc.net;
    tc.max_batch = 1;
    nn_qnet *teacher = nn_qnet_new(&tc, &err);
    cr_assert_not_null(teacher, "%s", err.msg);
    rng g;
    rng_init(&g, 17, RNG_ROLE_TOOL, 0, 0);
    ref_params_small_integers(teacher, &g);
    char path[] = "/tmp/shoal-teacher-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(nn_paramfile_save(path, teacher, NULL, 0, 0, &err), SHOAL_OK, "%s", err.msg);

    fx_server srv;
    cr_assert_eq(start_shard(&srv, &spec), 0, "%s", srv.err.msg);
    char extra[256];
    snprintf(extra, sizeof extra, "[actor]\nlabel = checkpoint:%s\nmax_env_steps = 400\n", path);
    config *cfg = breakout_config(extra);
    int rc;
    actor *a = run_actor(cfg, &srv, &rc, &err);
    cr_assert_eq(rc, SHOAL_OK, "%s", err.msg);
    actor_stats st = actor_stats_get(a);
    cr_assert_eq(st.labels, 400);
    replay_stats after = shard_stats(&srv, NULL);
    cr_assert_eq(after.demo_size, st.labels);

    replay_sample *x = drain_demos(&srv, after.demo_size);
    size_t in = nn_qnet_in_floats(teacher), n_act = tc.n_actions, k = tc.n_heads;
    float *xf = malloc(in * sizeof *xf), *q = malloc(k * n_act * sizeof *q);
    size_t differs_from_noop = 0;
    for (size_t j = 0; j < x->count; j++) {
        cr_assert(x->label[j]);
        obs_unpack_f32(xf, x->obs + j * spec.bytes, &spec, 1);
        nn_qnet_forward(teacher, xf, 1, q);
        uint32_t want = greedy(q, k, n_act);
        cr_assert_eq(x->action[j], want, "row %zu: label %u, teacher's greedy %u", j,
                     x->action[j], want);
        differs_from_noop += want != 0;
    }
    cr_assert_gt(differs_from_noop, 0, "the teacher's labels are not all action 0");
    free(xf);
    free(q);
    replay_sample_free(x);
    actor_free(a);
    config_free(cfg);
    config_free(probe);
    nn_qnet_free(teacher);
    unlink(path);
}

static int config_error(config *cfg, shoal_err *err)
{
    actor_config ac;
    int rc = actor_config_from(cfg, 0, 1, "tcp://127.0.0.1:1", "", &ac, err);
    if (rc == SHOAL_OK) {
        actor *a = actor_new(&ac, err);
        rc = a ? SHOAL_OK : err->code;
        actor_free(a);
    }
    config_free(cfg);
    return rc;
}

Test(dagger, bad_configurations_are_refused_clearly)
{
    shoal_err err = {0};
    cr_assert_eq(config_error(breakout_config("[actor]\nlabel = oracle\n"), &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "actor.label") && strstr(err.msg, "checkpoint:PATH"), "%s",
              err.msg);
    cr_assert_eq(config_error(breakout_config("[actor]\nlabel = checkpoint:\n"), &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "actor.label"), "%s", err.msg);
    cr_assert_eq(config_error(breakout_config("[actor]\nlabel = expert\n"
                                              "[replay]\ndemo_capacity = 0\n"), &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "replay.demo_capacity"), "%s", err.msg);
    cr_assert_neq(config_error(breakout_config("[actor]\nlabel = checkpoint:/nonexistent.ckpt\n"),
                               &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "/nonexistent.ckpt") && strstr(err.msg, "actor.label"), "%s",
              err.msg);
    /* A teacher for another game's observations. */
    config *sea = deepsea_config(NULL);
    actor_config sc;
    cr_assert_eq(actor_config_from(sea, 0, 1, "tcp://127.0.0.1:1", "", &sc, &err), SHOAL_OK);
    nn_qnet *net = nn_qnet_new(&sc.net, &err);
    cr_assert_not_null(net, "%s", err.msg);
    char path[] = "/tmp/shoal-seateacher-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cr_assert_eq(nn_paramfile_save(path, net, NULL, 0, 0, &err), SHOAL_OK, "%s", err.msg);
    char extra[128];
    snprintf(extra, sizeof extra, "[actor]\nlabel = checkpoint:%s\n", path);
    cr_assert_eq(config_error(breakout_config(extra), &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "does not fit"), "%s", err.msg);
    unlink(path);
    nn_qnet_free(net);
    config_free(sea);
    /* The range of β and its decay is the schema's. */
    const char *sets[] = {"env.name=minatar/breakout", "actor.dagger_beta=1.5"};
    config *bad = shoal_config_load(NULL, sets, 2, &err);
    cr_assert_null(bad);
    cr_assert(strstr(err.msg, "dagger_beta"), "%s", err.msg);
}

Test(dagger, a_full_demo_store_refuses_labels_naming_the_key)
{
    obs_spec spec = spec_of("6,6,1", "uint8");
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 30);
    sc.store.spec = spec;
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    config *cfg = deepsea_config("[actor]\nlabel = expert\nmax_env_steps = 200\n");
    shoal_err err = {0};
    int rc;
    actor *a = run_actor(cfg, &srv, &rc, &err);
    cr_assert_neq(rc, SHOAL_OK);
    cr_assert(strstr(err.msg, "DAgger labels") && strstr(err.msg, "replay.demo_capacity"), "%s",
              err.msg);
    replay_stats s = shard_stats(&srv, NULL);
    cr_assert_leq(s.demo_size, 30, "never more than the store holds");
    fx_server_stop(&srv);
    actor_free(a);
    config_free(cfg);
}
