#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "actor/actor.h"
#include "actor/record.h"
#include "cluster/commands.h"
#include "common/clock.h"
#include "learner/learner.h"
#include "learner/params.h"
#include "learner/update.h"
#include "nn/kernels.h"
#include "nn/loss.h"
#include "replay/client.h"
#include "replay/demofile.h"
#include "nn_ref.h"
#include "obs_fixtures.h"
#include "replay_fixtures.h"

/* Breakout's observations are 10x10x4 bits, the fixture shard's spec. */
static config *breakout_config(const char *extra)
{
    shoal_err err = {0};
    const char *sets[] = {"env.name=minatar/breakout", "env.max_episode_steps=40",
                          "actor.envs=4", "actor.batch=16", "actor.n_step=3",
                          "actor.gamma=0.9", "run.seed=11"};
    config *cfg = shoal_config_load(NULL, sets, sizeof sets / sizeof sets[0], &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    if (extra) {
        cr_assert_eq(config_load_string(cfg, extra, "test", &err), SHOAL_OK, "%s", err.msg);
    }
    fx_derive_facts(cfg);
    return cfg;
}

static actor *make_actor(const config *cfg, const char *replay, const char *params,
                         actor_config *ac)
{
    shoal_err err = {0};
    cr_assert_eq(actor_config_from(cfg, 0, 1, replay, params, ac, &err), SHOAL_OK, "%s",
                 err.msg);
    actor *a = actor_new(ac, &err);
    cr_assert_not_null(a, "%s", err.msg);
    return a;
}

static replay_store_counters stop_server(fx_server *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    replay_store_counters c = replay_store_counters_get(replay_server_store(f->srv));
    replay_server_free(f->srv);
    return c;
}

Test(actor, inserts_exactly_the_transitions_it_generated_into_a_real_shard)
{
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    config *cfg = breakout_config("[actor]\nmax_env_steps = 2002\n");
    actor_config ac;
    actor *a = make_actor(cfg, replay_server_endpoint(srv.srv), "", &ac);
    /* The actor's forward passes run at another batch size than the recomputation's, which
     * OpenBLAS may sum in another order. Small-integer weights make every Q-value exact
     * (nn_ref.h), so both compute |δ| from the same Q-values with the same float operations:
     * equal by construction, up to the shard's (p + ε)^α. */
    rng g;
    rng_init(&g, 5, RNG_ROLE_TOOL, 0, 0);
    ref_params_small_integers((nn_qnet *)actor_net(a), &g);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    cr_assert_eq(actor_run(a, &stop, &err), SHOAL_OK, "%s", err.msg);
    actor_stats st = actor_stats_get(a);
    /* 2002 is not a multiple of 4 envs: the loop stops at the first count at or above it. */
    cr_assert_eq(st.env_steps, 2004);
    cr_assert_gt(st.episodes, 0);
    /* Every env step is one transition, except the records of unfinished episodes. */
    cr_assert_eq(st.transitions + st.held, st.env_steps, "%llu + %llu",
                 (unsigned long long)st.transitions, (unsigned long long)st.held);
    cr_assert_leq(st.held, 4 * 2);
    cr_assert_eq(st.sent, st.transitions, "the partial buffer is flushed");
    cr_assert_eq(st.acked, st.sent);
    cr_assert_geq(st.batches, st.sent / 16);
    /* The shard's view: the same count, and the env steps and episodes the batches carried. */
    replay_client_options o = {.timeout_ms = 5000};
    const char *ep = replay_server_endpoint(srv.srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    const replay_stats *ss = NULL;
    cr_assert_eq(replay_client_stats(c, 0, &ss, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(ss->inserted, st.sent);
    cr_assert_eq(ss->n_actors, 1);
    cr_assert_eq(ss->actors[0].env_steps, st.env_steps);
    cr_assert_eq(ss->actors[0].episodes, st.episodes);
    replay_client_free(c);
    replay_store_counters k = stop_server(&srv);
    cr_assert_eq(k.inserted, st.sent);
    actor_free(a);
    config_free(cfg);
}

Test(actor, the_episode_log_has_one_row_per_finished_episode_and_appends)
{
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    char dir[] = "/tmp/shoal-eplog-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char extra[256], path[64];
    snprintf(extra, sizeof extra, "[actor]\nmax_env_steps = 400\nepisode_log = %s/ep-%%d.csv\n",
             dir);
    snprintf(path, sizeof path, "%s/ep-0.csv", dir);
    config *cfg = breakout_config(extra);
    uint64_t episodes = 0;
    for (int session = 0; session < 2; session++) {
        actor_config ac;
        actor *a = make_actor(cfg, replay_server_endpoint(srv.srv), "", &ac);
        cr_assert_str_eq(ac.episode_log, path);
        shoal_err err = {0};
        volatile sig_atomic_t stop = 0;
        cr_assert_eq(actor_run(a, &stop, &err), SHOAL_OK, "%s", err.msg);
        episodes += actor_stats_get(a).episodes;
        actor_free(a);
    }
    cr_assert_gt(episodes, 0);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "env_steps,return,length,head,intrinsic_return,params_version\n");
    uint64_t rows = 0, last_steps = 0, restarts = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long steps;
        float ret;
        unsigned length;
        cr_assert_eq(sscanf(line, "%llu,%f,%u", &steps, &ret, &length), 3, "%s", line);
        /* env.max_episode_steps = 40 cuts every episode at 40 steps or fewer. */
        cr_assert(length >= 1 && length <= 40, "%s", line);
        cr_assert_geq(ret, 0.0f);
        cr_assert_leq(steps, 400 + 4);
        restarts += steps < last_steps;
        last_steps = steps;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, episodes, "one row per episode over both sessions, one header");
    cr_assert_eq(restarts, 1, "env steps grow within a session; the second session appends");
    stop_server(&srv);
    config_free(cfg);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* |δ| of one sampled transition recomputed with net, as the actor defines it; eps > 0: with
 * Ape-X DQfD's transformed target h(R + C h⁻¹(Q(s', a*))). */
static float recompute_priority(nn_qnet *net, const replay_sample *b, size_t j, float eps)
{
    const nn_qnet_config *nc = nn_qnet_config_of(net);
    size_t qa = nc->n_heads * nc->n_actions, d = nn_qnet_in_floats(net);
    float x[2 * 400], q[2 * 64], y[16], dq[64], prio;
    cr_assert_leq(d, 400);
    obs_spec sp = {.shape = {.h = 10, .w = 10, .c = 4}, .dtype = OBS_DTYPE_BIT};
    obs_unpack_f32(x, b->obs + j * b->obs_bytes, &sp, 1);
    obs_unpack_f32(x + d, b->next_obs + j * b->obs_bytes, &sp, 1);
    nn_qnet_forward(net, x, 2, q);
    nn_loss_dims dims = {.batch = 1, .n_heads = nc->n_heads, .n_actions = nc->n_actions};
    if (eps > 0.0f) {
        nn_value_h_inv_n(q + qa, q + qa, qa, eps);
    }
    nn_loss_targets(y, q + qa, q + qa, &b->reward[j], &b->discount[j], &dims, 1);
    if (eps > 0.0f) {
        nn_value_h_n(y, y, nc->n_heads, eps);
    }
    nn_td_batch tb = {.dims = dims, .actions = &b->action[j], .targets = y,
                      .mask_bits = nc->n_heads > 1 ? &b->mask[j] : NULL};
    nn_loss_td(dq, &prio, q, &tb);
    return prio;
}

/* Runs a bootstrap actor with episodes cut at max_steps, samples 256 of its transitions back
 * from the shard and checks each leaf (α = 1, ε = 0: the priority) against |δ| recomputed with
 * the actor's network. Counts the transitions ending in a terminal and in a time-limit cut. */
static void check_priorities(int max_steps, float transform_eps, size_t *terminal,
                             size_t *truncated)
{
    /* The actor's forward pass runs at the batch of its envs, the recomputation at batch 2:
     * measurement may pick other kernels at another batch size (nn/kernels.h), and sgemm may sum
     * in another order. These two kernels compute each sample by itself, in the same order at
     * any batch, so both sides do the same float arithmetic. */
    shoal_err kerr = {0};
    cr_assert_eq(nn_kernels_force("linear_forward=small,conv_forward=direct", &kerr), SHOAL_OK,
                 "%s", kerr.msg);
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    char extra[384];
    snprintf(extra, sizeof extra, "[env]\nmax_episode_steps = %d\n[actor]\nmax_env_steps = "
             "400\n[network]\nheads = 3\n[exploration]\nstrategy = bootstrap\n"
             "[learner]\ntarget_transform = %s\ntransform_eps = %g\n", max_steps,
             transform_eps > 0.0f ? "apex" : "none",
             transform_eps > 0.0f ? (double)transform_eps : 0.01);
    config *cfg = breakout_config(extra);
    actor_config ac;
    actor *a = make_actor(cfg, replay_server_endpoint(srv.srv), "", &ac);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    cr_assert_eq(actor_run(a, &stop, &err), SHOAL_OK, "%s", err.msg);
    replay_client_options o = {.timeout_ms = 5000, .obs_bytes = FX_OB, .max_batch = 256,
                               .pipeline = 1, .seed = 1};
    const char *ep = replay_server_endpoint(srv.srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    replay_sample_req req = {.batch_size = 256, .beta = 0.0};
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->n_heads, 3);
    nn_qnet *net = (nn_qnet *)actor_net(a);
    *terminal = *truncated = 0;
    for (size_t j = 0; j < b->count; j++) {
        float want = recompute_priority(net, b, j, transform_eps);
        cr_assert_float_eq(b->leaf[j], want, 4.0 * FLT_EPSILON * fabsf(want),
                           "transition %zu: %g vs %g", j, b->leaf[j], (double)want);
        cr_assert_eq(b->mask[j] >> 3, 0);
        *terminal += b->discount[j] == 0.0f;
        /* γ^m with m < 3 and no terminal: a tail cut by the time limit, whose priority came
         * from the extra forward pass over final observations. */
        *truncated += b->discount[j] > 0.73f;
    }
    replay_client_free(c);
    stop_server(&srv);
    actor_free(a);
    config_free(cfg);
}

Test(actor, initial_priorities_are_the_actors_n_step_double_dqn_error)
{
    /* The initial network loses Breakout's ball at step 6: a limit of 5 cuts every episode,
     * 40 lets every episode terminate. */
    size_t terminal, truncated;
    check_priorities(5, 0.0f, &terminal, &truncated);
    cr_assert_gt(truncated, 0, "the sample holds tails cut by the time limit");
    check_priorities(40, 0.0f, &terminal, &truncated);
    cr_assert_gt(terminal, 0, "the sample holds ends of episodes");
}

Test(actor, with_the_apex_transform_initial_priorities_are_in_the_learners_units)
{
    size_t terminal, truncated;
    check_priorities(5, 0.5f, &terminal, &truncated);
    cr_assert_gt(truncated, 0);
    check_priorities(40, 0.5f, &terminal, &truncated);
    cr_assert_gt(terminal, 0);
}

typedef struct publisher {
    void *ctx;
    learner_params_pub *pub;
    nn_qnet *net;
    volatile sig_atomic_t *actor_stop;
    volatile int done;
    uint64_t first, second; /* versions: first for 0.3 s, then second for 0.5 s */
} publisher;

static void *publish_main(void *arg)
{
    publisher *p = arg;
    uint64_t t0 = clock_now_ns();
    nn_qnet_params(p->net)[0] = 0.25f;
    learner_params_pub_send(p->pub, p->first, 0, p->net, NULL);
    bool switched = false;
    while (clock_since_s(t0) < 0.8) {
        if (!switched && clock_since_s(t0) > 0.3) {
            nn_qnet_params(p->net)[0] = 0.5f;
            learner_params_pub_send(p->pub, p->second, 0, p->net, NULL);
            switched = true;
        }
        learner_params_pub_repeat(p->pub, NULL);
        clock_sleep_ms(10);
    }
    *p->actor_stop = 1;
    return NULL;
}

Test(actor, waits_for_parameters_and_picks_up_a_newer_version)
{
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    config *cfg = breakout_config("[actor]\nparam_refresh_steps = 8\n");
    shoal_err err = {0};
    publisher p = {.ctx = zmq_ctx_new(), .first = 5, .second = 9};
    char bound[256];
    p.pub = learner_params_pub_new(p.ctx, "tcp://127.0.0.1:*", NULL, bound, sizeof bound, &err);
    cr_assert_not_null(p.pub, "%s", err.msg);
    actor_config ac;
    actor *a = make_actor(cfg, replay_server_endpoint(srv.srv), bound, &ac);
    p.net = nn_qnet_new(&ac.net, &err);
    volatile sig_atomic_t stop = 0;
    p.actor_stop = &stop;
    pthread_t th;
    pthread_create(&th, NULL, publish_main, &p);
    cr_assert_eq(actor_run(a, &stop, &err), SHOAL_OK, "%s", err.msg);
    pthread_join(th, NULL);
    actor_stats st = actor_stats_get(a);
    cr_assert_eq(st.params_version, 9);
    cr_assert_geq(st.params_updates, 1);
    cr_assert_eq(nn_qnet_params(actor_net(a))[0], 0.5f, "the network holds the new parameters");
    cr_assert_eq(st.sent, st.transitions);
    /* The shard saw the version in the batches. */
    replay_client_options o = {.timeout_ms = 5000};
    const char *ep = replay_server_endpoint(srv.srv);
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    const replay_stats *ss = NULL;
    cr_assert_eq(replay_client_stats(c, 0, &ss, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(ss->actors[0].params_version, 9);
    replay_client_free(c);
    stop_server(&srv);
    actor_free(a);
    nn_qnet_free(p.net);
    learner_params_pub_free(p.pub);
    zmq_ctx_term(p.ctx);
    config_free(cfg);
}

Test(actor, without_parameters_it_gives_up_naming_the_endpoint_and_the_arch_check)
{
    config *cfg = breakout_config("[actor]\nparams_timeout_s = 0.3\n");
    actor_config ac;
    actor *a = make_actor(cfg, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", &ac);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    uint64_t t0 = clock_now_ns();
    cr_assert_eq(actor_run(a, &stop, &err), SHOAL_ETIMEOUT);
    cr_assert_lt(clock_since_s(t0), 3.0);
    cr_assert(strstr(err.msg, "tcp://127.0.0.1:2"), "%s", err.msg);
    cr_assert(strstr(err.msg, "[network]"), "%s", err.msg);
    actor_free(a);
    config_free(cfg);
}

Test(actor, parameters_of_another_architecture_are_refused)
{
    config *cfg = breakout_config("[actor]\nparams_timeout_s = 5\n");
    shoal_err err = {0};
    void *ctx = zmq_ctx_new();
    char bound[256];
    learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound,
                                                     sizeof bound, &err);
    actor_config ac;
    actor *a = make_actor(cfg, "tcp://127.0.0.1:1", bound, &ac);
    nn_qnet_config other = ac.net;
    other.n_heads = 2;
    nn_qnet *net = nn_qnet_new(&other, &err);
    publisher p = {.ctx = ctx, .pub = pub, .net = net, .first = 3, .second = 3};
    volatile sig_atomic_t stop = 0;
    p.actor_stop = &stop;
    pthread_t th;
    pthread_create(&th, NULL, publish_main, &p);
    int rc = actor_run(a, &stop, &err);
    pthread_join(th, NULL);
    cr_assert_eq(rc, SHOAL_EARCH, "%s", err.msg);
    cr_assert(strstr(err.msg, "[network]"), "%s", err.msg);
    actor_free(a);
    nn_qnet_free(net);
    learner_params_pub_free(pub);
    zmq_ctx_term(ctx);
    config_free(cfg);
}

Test(actor, bad_configurations_are_refused_with_the_key)
{
    config *cfg = breakout_config("[exploration]\nstrategy = bootstrap\n");
    actor_config ac;
    shoal_err err = {0};
    cr_assert_eq(actor_config_from(cfg, 0, 1, "tcp://127.0.0.1:1", "", &ac, &err), SHOAL_OK);
    cr_assert_null(actor_new(&ac, &err));
    cr_assert(strstr(err.msg, "network.heads"), "%s", err.msg);
    cr_assert_eq(actor_config_from(cfg, 3, 3, "tcp://127.0.0.1:1", "", &ac, &err), SHOAL_EINVAL);
    cr_assert_eq(actor_config_from(cfg, 0, 1, "", "", &ac, &err), SHOAL_EINVAL);
    cr_assert_eq(actor_config_from(cfg, 0, 1, "tcp://a:1,,tcp://b:2", "", &ac, &err),
                 SHOAL_EINVAL);
    cr_assert_eq(config_set(cfg, "env.name=nosuch", "test", &err), SHOAL_OK);
    cr_assert_eq(actor_config_from(cfg, 0, 1, "tcp://127.0.0.1:1", "", &ac, &err), SHOAL_OK);
    cr_assert_null(actor_new(&ac, &err));
    cr_assert_eq(err.code, SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "nosuch"), "%s", err.msg);
    config_free(cfg);
}

Test(actor, reads_the_env_facts_from_its_config_and_checks_its_envs_against_them)
{
    config *cfg = breakout_config(NULL);
    actor_config ac;
    shoal_err err = {0};
    cr_assert_eq(config_set(cfg, "env.n_actions=5", "test", &err), SHOAL_OK);
    cr_assert_eq(actor_config_from(cfg, 0, 1, "tcp://127.0.0.1:1", "", &ac, &err), SHOAL_OK);
    cr_assert_eq(ac.net.n_actions, 5, "the network is sized from the facts, not a probe");
    cr_assert_null(actor_new(&ac, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "minatar/breakout") && strstr(err.msg, "env.n_actions"), "%s",
              err.msg);
    cr_assert_eq(config_set(cfg, "env.obs_shape=", "test", &err), SHOAL_OK);
    cr_assert_eq(actor_config_from(cfg, 0, 1, "tcp://127.0.0.1:1", "", &ac, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "env.obs_shape is not set"), "%s", err.msg);
    config_free(cfg);
}

typedef struct load_ctx {
    size_t transitions, episodes;
    uint32_t heads;
} load_ctx;

static int count_records(void *ctx, const replay_batch *b, shoal_err *err)
{
    (void)err;
    load_ctx *l = ctx;
    l->transitions += b->t.count;
    l->episodes += b->episodes.count;
    l->heads = b->t.n_heads;
    return SHOAL_OK;
}

Test(actor, recorded_demonstrations_load_into_a_replay_shard)
{
    char path[] = "/tmp/shoal-demo-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    config *cfg = breakout_config("[network]\nheads = 4\n");
    shoal_err err = {0};
    actor_record_config rc;
    cr_assert_eq(actor_record_config_from(cfg, NULL, "expert", 3, path, &rc, &err), SHOAL_OK,
                 "%s", err.msg);
    actor_record_summary s;
    cr_assert_eq(actor_record_run(&rc, &s, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(s.episodes, 3);
    cr_assert_eq(s.transitions, s.env_steps, "whole episodes: one transition per step");
    cr_assert_gt(s.mean_return, 0.0, "the expert scores in Breakout");
    load_ctx l = {0};
    cr_assert_eq(replay_demo_read(path, count_records, &l, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(l.transitions, s.transitions);
    cr_assert_eq(l.episodes, 3);
    cr_assert_eq(l.heads, 4);
    /* A shard loads the file at start into its demo store. */
    replay_server_config sc = fx_server_config(1000, 4096);
    snprintf(sc.demos, sizeof sc.demos, "%s", path);
    replay_server *srv = replay_server_new(&sc, &err);
    cr_assert_not_null(srv, "%s", err.msg);
    replay_totals t = replay_store_totals(replay_server_store(srv));
    cr_assert_eq(t.demo_size, s.transitions);
    replay_server_free(srv);
    unlink(path);
    config_free(cfg);
}

Test(actor, recording_a_game_without_an_expert_is_refused_and_leaves_no_file)
{
    config *cfg = breakout_config(NULL);
    shoal_err err = {0};
    actor_record_config rc;
    const char *path = "/tmp/shoal-demo-none.demo";
    unlink(path);
    cr_assert_eq(actor_record_config_from(cfg, "minatar/breakout", "checkpoint:/nonexistent",
                                          1, path, &rc, &err), SHOAL_OK);
    actor_record_summary s;
    cr_assert_neq(actor_record_run(&rc, &s, &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "/nonexistent"), "%s", err.msg);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(actor_record_config_from(cfg, NULL, "random", 1, path, &rc, &err),
                 SHOAL_EINVAL);
    config_free(cfg);
}

/* ---- RND: the predictor travels with the network from a real learner ---- */

typedef struct learner_thread {
    learner *l;
    volatile sig_atomic_t stop;
    int rc;
    shoal_err err;
} learner_thread;

static void *learner_main(void *arg)
{
    learner_thread *t = arg;
    t->rc = learner_run(t->l, &t->stop, &t->err);
    return NULL;
}

typedef struct actor_thread {
    actor *a;
    volatile sig_atomic_t stop;
    int rc;
    shoal_err err;
} actor_thread;

static void *actor_main(void *arg)
{
    actor_thread *t = arg;
    t->rc = actor_run(t->a, &t->stop, &t->err);
    return NULL;
}

Test(actor, the_rnd_predictor_reaches_the_actor_with_the_learners_network, .timeout = 120)
{
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    sc.limiter.min_size = 64; /* the learner's samples wait for the actor's first batches */
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    const char *ep = replay_server_endpoint(srv.srv);
    config *cfg = breakout_config("[exploration]\nstrategy = rnd\n"
                                  "[rnd]\nfeatures = 8\nhidden = 16\nlr = 1e-3\n"
                                  "[actor]\nparam_refresh_steps = 8\n"
                                  "[learner]\nbatch_size = 16\npublish_period = 1\n"
                                  "publish_repeat_secs = 0.05\nchecksum_period = 1000\n"
                                  "[replay]\ndemo_fraction = 0\n");
    shoal_err err = {0};
    learner_config lc;
    cr_assert_eq(learner_config_from(cfg, 0, ep, "", "tcp://127.0.0.1:*", &lc, &err), SHOAL_OK,
                 "%s", err.msg);
    cr_assert(lc.update.rnd, "exploration.strategy = rnd trains a predictor in the learner");
    learner_thread lt = {.l = learner_new(&lc, MPI_COMM_NULL, &err)};
    cr_assert_not_null(lt.l, "%s", err.msg);
    actor_config ac;
    actor_thread at = {.a = make_actor(cfg, ep, learner_params_endpoint(lt.l), &ac)};
    const nn_rnd *mine = actor_rnd(at.a);
    cr_assert_not_null(mine);
    /* What the actor starts from: the predictor as the seed makes it, μ = 0, σ = 1. */
    size_t nb = nn_rnd_blob_bytes(mine);
    uint8_t *start = malloc(nb), *got = malloc(nb), *want = malloc(nb);
    cr_assert_eq(nn_rnd_blob_export(mine, start, nb, &err), SHOAL_OK, "%s", err.msg);
    pthread_t lth, ath;
    pthread_create(&lth, NULL, learner_main, &lt);
    pthread_create(&ath, NULL, actor_main, &at);
    learner_update *u = learner_update_of(lt.l);
    uint64_t t0 = clock_now_ns();
    while (learner_update_steps(u) < 30 && clock_since_s(t0) < 60) {
        clock_sleep_ms(20);
    }
    lt.stop = 1;
    pthread_join(lth, NULL);
    cr_assert_eq(lt.rc, SHOAL_OK, "%s", lt.err.msg);
    uint64_t steps = learner_update_steps(u);
    cr_assert_geq(steps, 30, "the learner trained from the actor's batches");
    /* The learner published its last parameters on the way out; the actor takes them at its
     * next refresh. */
    t0 = clock_now_ns();
    while (actor_stats_get(at.a).params_version < steps && clock_since_s(t0) < 30) {
        clock_sleep_ms(20);
    }
    at.stop = 1;
    pthread_join(ath, NULL);
    cr_assert_eq(at.rc, SHOAL_OK, "%s", at.err.msg);
    cr_assert_eq(actor_stats_get(at.a).params_version, steps);
    const nn_rnd *theirs = learner_update_rnd(u);
    cr_assert_eq(nn_rnd_blob_export(mine, got, nb, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(nn_rnd_blob_export(theirs, want, nb, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_neq(memcmp(start, want, nb), 0, "the learner trained the predictor");
    cr_assert_eq(memcmp(got, want, nb), 0, "the actor holds the learner's predictor and "
                 "normaliser");
    nn_qnet *net = learner_update_net(u);
    cr_assert_eq(memcmp(nn_qnet_params(actor_net(at.a)), nn_qnet_params(net),
                        nn_qnet_blob_bytes(net)), 0, "and the network of the same version");
    free(start);
    free(got);
    free(want);
    actor_free(at.a);
    learner_free(lt.l);
    stop_server(&srv);
    config_free(cfg);
}
