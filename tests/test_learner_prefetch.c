#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "learner/prefetch.h"
#include "replay/client.h"
#include "replay_fixtures.h"

#define BATCH 8
#define IN_FLOATS 400 /* 10x10x4 */

/* Inserts n agent transitions (ids first..) of actor 1 and, when demos, 8 demonstrations (ids
 * 1000..), each agent batch carrying two episodes of returns 1 and 3. */
static void fill_shard(const char *ep, uint32_t first, size_t n, bool demos)
{
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch f;
    fx_batch_fill(&f, 1, first, n, 1.0f, false);
    f.ep_return[0] = 1.0f;
    f.ep_return[1] = 3.0f;
    f.b.env_steps = n;
    f.b.episodes = (replay_episodes){.count = 2, .ret = f.ep_return, .length = f.ep_length,
                                     .head = f.ep_head};
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    if (demos) {
        fx_batch_fill(&f, 0, 1000, 8, 1.0f, true);
        cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
}

/* Starts a shard (room for demo_cap demonstrations) holding what fill_shard inserts. */
static const char *start_filled(fx_server *s, size_t demo_cap, bool demos)
{
    replay_server_config cfg = fx_server_config(100, demo_cap);
    cr_assert_eq(fx_server_start(s, &cfg), 0, "%s", s->err.msg);
    const char *ep = replay_server_endpoint(s->srv);
    fill_shard(ep, 0, 40, demos);
    return ep;
}

static learner_prefetch *prefetch_of(const char **ep, uint64_t n_demo_only, uint64_t n_batches)
{
    learner_prefetch_config cfg = {
        .endpoints = ep, .n_shards = 1, .client = {.seed = 3},
        .req = {.batch_size = BATCH, .demo_fraction = 0.25, .beta = 0.4},
        .obs = fx_spec(), .depth = 2, .pipeline = 2,
        .n_demo_only = n_demo_only, .n_batches = n_batches, .stats_secs = 0.05};
    shoal_err err = {0};
    learner_prefetch *p = learner_prefetch_new(&cfg, &err);
    cr_assert_not_null(p, "%s", err.msg);
    return p;
}

/* The next batch, waiting through EAGAIN for up to 10 s. */
static int next_batch(learner_prefetch *p, const learner_batch **b, float **prio, shoal_err *err)
{
    double give_up = clock_now_s() + 10.0;
    int rc;
    do {
        rc = learner_prefetch_next(p, 100, b, prio, err);
    } while (rc == SHOAL_EAGAIN && clock_now_s() < give_up);
    return rc;
}

/* Transition i of b is the fixture's transition with id action[i], unpacked to floats. */
static void check_transition(const learner_batch *b, size_t i)
{
    uint32_t id = b->action[i];
    cr_assert_float_eq(b->reward[i], 0.5f * (float)id, 0);
    cr_assert_float_eq(b->discount[i], 0.99f, 0);
    const float *o = b->obs + i * IN_FLOATS, *n = b->next_obs + i * IN_FLOATS;
    for (size_t k = 0; k < 32; k++) {
        cr_assert_eq(o[k], (float)((id >> k) & 1u), "obs value %zu of id %u", k, id);
        cr_assert_eq(n[k], o[k]);
    }
    for (size_t k = 0; k < 8; k++) {
        cr_assert_eq(n[392 + k], (float)((0xABu >> k) & 1u), "last byte of next_obs, bit %zu", k);
    }
    cr_assert(b->weight[i] > 0.0f && b->weight[i] <= 1.0f);
}

static uint64_t priority_updates(const char *ep)
{
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    uint64_t n = st->priority_updates + st->stale_updates;
    replay_client_free(c);
    return n;
}

Test(learner_prefetch, decodes_batches_from_a_shard_and_sends_their_priorities_back,
     .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 0, false);
    learner_prefetch *p = prefetch_of(&ep, 0, 3);
    shoal_err err = {0};
    for (int k = 0; k < 3; k++) {
        const learner_batch *b;
        float *prio;
        cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(b->count, BATCH);
        float wmax = 0.0f;
        for (size_t i = 0; i < b->count; i++) {
            check_transition(b, i);
            cr_assert_eq(b->demo[i], 0, "no demonstrations: the demo share is dropped");
            wmax = fmaxf(wmax, b->weight[i]);
            prio[i] = 2.0f;
        }
        cr_assert_float_eq(wmax, 1.0f, 1e-6, "weights are normalised by the batch maximum");
        learner_prefetch_done(p, true);
    }
    const learner_batch *b;
    float *prio;
    cr_assert_eq(learner_prefetch_next(p, 100, &b, &prio, &err), SHOAL_ESTATE,
                 "every requested batch was delivered");
    learner_replay_stats st = learner_prefetch_stats(p);
    cr_assert(st.known);
    cr_assert_eq(st.size, 40);
    cr_assert_eq(st.capacity, 100);
    cr_assert_eq(st.inserted, 40);
    cr_assert_eq(st.env_steps, 40);
    cr_assert_eq(st.n_actors, 1);
    cr_assert_eq(st.episodes, 2);
    cr_assert_float_eq(st.return_sum, 4.0, 1e-9);
    cr_assert_float_eq(st.last_return_sum, 3.0, 1e-9);
    learner_prefetch_free(p);
    cr_assert_eq(priority_updates(ep), 3 * BATCH, "free sends every handed-back update");
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, a_batch_handed_back_without_priorities_sends_none, .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 0, false);
    learner_prefetch *p = prefetch_of(&ep, 0, 3);
    shoal_err err = {0};
    for (int k = 0; k < 3; k++) {
        const learner_batch *b;
        float *prio;
        cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_OK, "%s", err.msg);
        for (size_t i = 0; i < b->count; i++) {
            prio[i] = 2.0f;
        }
        /* the second batch's update failed: its priorities were never written */
        learner_prefetch_done(p, k != 1);
    }
    learner_prefetch_free(p);
    cr_assert_eq(priority_updates(ep), 2 * BATCH, "only the two filled batches are sent");
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, pretraining_batches_are_demonstrations_then_the_demo_share_holds,
     .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 16, true);
    learner_prefetch *p = prefetch_of(&ep, 1, 2);
    shoal_err err = {0};
    size_t demos[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const learner_batch *b;
        float *prio;
        cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_OK, "%s", err.msg);
        for (size_t i = 0; i < b->count; i++) {
            check_transition(b, i);
            cr_assert_eq(b->demo[i], b->action[i] >= 1000, "the demo flag follows the store");
            demos[k] += b->demo[i];
            prio[i] = 1.0f;
        }
        learner_prefetch_done(p, true);
    }
    cr_assert_eq(demos[0], BATCH, "pre-training: demonstrations only");
    cr_assert_eq(demos[1], 2, "then exactly demo_fraction of the batch");
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, pretraining_without_demonstrations_is_refused, .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 0, false);
    learner_prefetch *p = prefetch_of(&ep, 5, 0);
    const learner_batch *b;
    float *prio;
    shoal_err err = {0};
    cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "pretrain_steps") && strstr(err.msg, "no demonstrations"), "%s",
              err.msg);
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, a_pipeline_deeper_than_the_ring_is_refused)
{
    const char *ep = "tcp://127.0.0.1:1";
    learner_prefetch_config cfg = {.endpoints = &ep, .n_shards = 1,
                                   .req = {.batch_size = BATCH}, .obs = fx_spec(),
                                   .depth = 2, .pipeline = 3};
    shoal_err err = {0};
    cr_assert_null(learner_prefetch_new(&cfg, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "learner.pipeline"), "%s", err.msg);
}

/* learner_prefetch_poll_stats: without periodic polls (stats_secs 0) the statistics are the
 * start-up probe's until asked; a poll asked for sees what arrived since; a shard that does not
 * answer makes it give up in time, the statistics left as they were. */
Test(learner_prefetch, a_stats_poll_on_request_sees_what_arrived_since, .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 16, false);
    learner_prefetch_config cfg = {
        .endpoints = &ep, .n_shards = 1, .client = {.seed = 3},
        .req = {.batch_size = BATCH, .beta = 0.4}, .obs = fx_spec(), .depth = 2, .pipeline = 2,
        .stats_secs = 0};
    shoal_err err = {0};
    learner_prefetch *p = learner_prefetch_new(&cfg, &err);
    cr_assert_not_null(p, "%s", err.msg);
    for (int tries = 0; tries < 500 && !learner_prefetch_stats(p).known; tries++) {
        clock_sleep_ms(10);
    }
    learner_replay_stats st = learner_prefetch_stats(p);
    cr_assert(st.known);
    cr_assert_eq(st.env_steps, 40);
    cr_assert_eq(st.episodes, 2);

    fill_shard(ep, 100, 8, false);
    clock_sleep_ms(50);
    cr_assert_eq(learner_prefetch_stats(p).env_steps, 40, "polled without being asked");
    cr_assert(learner_prefetch_poll_stats(p, 5000));
    st = learner_prefetch_stats(p);
    cr_assert_eq(st.env_steps, 48);
    cr_assert_eq(st.episodes, 4);
    cr_assert_eq(st.inserted, 48);

    fx_server_stop(&s);
    uint64_t t0 = clock_now_ns();
    cr_assert(!learner_prefetch_poll_stats(p, 300), "no shard answers");
    double took = clock_since_s(t0);
    cr_assert(took >= 0.25 && took < 1.0, "gave up after %.2f s", took);
    cr_assert_eq(learner_prefetch_stats(p).env_steps, 48);
    learner_prefetch_free(p);
}

/* A prefetcher of n_batches demo-only-or-offline batches; mixed as the request asks. */
static learner_prefetch *prefetch_with(const char **ep, uint64_t n_demo_only, bool offline,
                                       bool mixed, uint64_t n_batches)
{
    learner_prefetch_config cfg = {
        .endpoints = ep, .n_shards = 1, .client = {.seed = 3},
        .req = {.batch_size = BATCH, .demo_fraction = mixed ? 0.0 : 0.25, .beta = 0.4,
                .mixed = mixed},
        .obs = fx_spec(), .depth = 2, .pipeline = 2, .n_demo_only = n_demo_only,
        .offline = offline, .n_batches = n_batches, .stats_secs = 0.05};
    shoal_err err = {0};
    learner_prefetch *p = learner_prefetch_new(&cfg, &err);
    cr_assert_not_null(p, "%s", err.msg);
    return p;
}

/* Takes n batches and returns how many of their samples were not demonstrations. */
static size_t agent_samples(learner_prefetch *p, int n)
{
    size_t agent = 0;
    for (int k = 0; k < n; k++) {
        const learner_batch *b;
        float *prio;
        shoal_err err = {0};
        cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_OK, "%s", err.msg);
        for (size_t i = 0; i < b->count; i++) {
            agent += !b->demo[i];
            prio[i] = 1.0f;
        }
        learner_prefetch_done(p, true);
    }
    return agent;
}

Test(learner_prefetch, behaviour_cloning_samples_demonstrations_only_even_with_mixed_sampling,
     .timeout = 60)
{
    fx_server s;
    const char *ep = start_filled(&s, 16, true);
    /* learner.mode = bc: every batch demo-only; replay.mixed must not reach the wire with it */
    learner_prefetch *p = prefetch_with(&ep, UINT64_MAX, false, true, 3);
    cr_assert_eq(agent_samples(p, 3), 0);
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, offline_without_agent_data_samples_the_demonstrations, .timeout = 60)
{
    fx_server s;
    replay_server_config cfg = fx_server_config(100, 16);
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    const char *ep = replay_server_endpoint(s.srv);
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    static fx_batch f;
    fx_batch_fill(&f, 0, 1000, 8, 1.0f, true);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
    /* no agent data: a normal request would wait for replay.min_size forever */
    learner_prefetch *p = prefetch_with(&ep, 0, true, false, 2);
    cr_assert_eq(agent_samples(p, 2), 0);
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, offline_and_bc_without_any_data_say_what_to_set, .timeout = 60)
{
    fx_server s;
    replay_server_config cfg = fx_server_config(100, 0);
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    const char *ep = replay_server_endpoint(s.srv);
    const learner_batch *b;
    float *prio;
    shoal_err err = {0};
    learner_prefetch *p = prefetch_with(&ep, 0, true, false, 0);
    cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "offline") && strstr(err.msg, "replay.demos"), "%s", err.msg);
    learner_prefetch_free(p);
    p = prefetch_with(&ep, UINT64_MAX, false, false, 0);
    cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "learner.mode = bc") && strstr(err.msg, "replay.demos"), "%s",
              err.msg);
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* DAgger with a behaviour-cloning learner: the actors' labels are the only demonstrations and
 * arrive after the learner starts, so it waits for them instead of failing, then samples them
 * alone. */
Test(learner_prefetch, behaviour_cloning_on_dagger_labels_waits_for_the_first_labels,
     .timeout = 60)
{
    fx_server s;
    replay_server_config cfg = fx_server_config(100, 16);
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    const char *ep = replay_server_endpoint(s.srv);
    learner_prefetch_config pc = {
        .endpoints = &ep, .n_shards = 1, .client = {.seed = 3},
        .req = {.batch_size = BATCH, .beta = 0.4}, .obs = fx_spec(), .depth = 2,
        .pipeline = 2, .n_demo_only = UINT64_MAX, .n_batches = 3, .stats_secs = 0.05,
        .await_labels = true};
    shoal_err err = {0};
    learner_prefetch *p = learner_prefetch_new(&pc, &err);
    cr_assert_not_null(p, "%s", err.msg);
    const learner_batch *b;
    float *prio;
    cr_assert_eq(learner_prefetch_next(p, 300, &b, &prio, &err), SHOAL_EAGAIN,
                 "no labels yet: it waits (%s)", err.msg);
    fill_shard(ep, 0, 20, true);
    cr_assert_eq(agent_samples(p, 3), 0, "labels only, once they are there");
    learner_prefetch_free(p);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(learner_prefetch, beta_rises_linearly_to_one_over_the_annealing_batches)
{
    cr_assert_float_eq(learner_prefetch_beta(0.4, 0, 1000000), 0.4, 1e-12, "0: fixed β");
    cr_assert_float_eq(learner_prefetch_beta(0.4, 100, 0), 0.4, 1e-12);
    cr_assert_float_eq(learner_prefetch_beta(0.4, 100, 50), 0.7, 1e-12);
    cr_assert_float_eq(learner_prefetch_beta(0.4, 100, 100), 1.0, 1e-12);
    cr_assert_float_eq(learner_prefetch_beta(0.4, 100, 5000), 1.0, 1e-12);
}

/* Batch k of a prefetcher that starts at the run's batch `first`, β annealed from 0 over 4
 * batches: with priorities 1 (ids 0..39) and 4 (ids 100..139) and α = 1, a priority-4
 * transition's weight is 4^-β relative to a priority-1 one (which has the batch's largest,
 * 1); with β = 0 every weight is 1. */
static void check_annealed_weights(const char *ep, uint64_t first, int *mixed_late)
{
    learner_prefetch_config cfg = {
        .endpoints = &ep, .n_shards = 1, .client = {.seed = 3},
        .req = {.batch_size = BATCH, .beta = 0.0}, .obs = fx_spec(), .depth = 2,
        .pipeline = 2, .n_batches = 10, .beta_anneal = 4, .first_batch = first};
    shoal_err err = {0};
    learner_prefetch *p = learner_prefetch_new(&cfg, &err);
    cr_assert_not_null(p, "%s", err.msg);
    for (uint64_t k = 0; k < 10; k++) {
        const learner_batch *b;
        float *prio;
        cr_assert_eq(next_batch(p, &b, &prio, &err), SHOAL_OK, "%s", err.msg);
        double beta = fmin(1.0, (double)(first + k) / 4.0);
        bool low = false;
        for (size_t i = 0; i < b->count; i++) {
            low |= b->action[i] < 100;
        }
        for (size_t i = 0; i < b->count; i++) {
            double want = low && b->action[i] >= 100 ? pow(4.0, -beta) : 1.0;
            cr_assert_float_eq(b->weight[i], want, 1e-5, "batch %llu (β %g), id %u: %g",
                               (unsigned long long)(first + k), beta, b->action[i],
                               (double)b->weight[i]);
        }
        *mixed_late += low && first + k >= 4;
        learner_prefetch_done(p, false);
    }
    learner_prefetch_free(p);
}

Test(learner_prefetch, annealed_beta_reaches_the_shard_from_the_runs_batch_number,
     .timeout = 60)
{
    fx_server s;
    replay_server_config cfg = fx_server_config(100, 0);
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    const char *ep = replay_server_endpoint(s.srv);
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch f;
    fx_batch_fill(&f, 1, 0, 40, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    fx_batch_fill(&f, 1, 100, 40, 4.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
    int mixed_late = 0;
    check_annealed_weights(ep, 0, &mixed_late);
    check_annealed_weights(ep, 2, &mixed_late); /* a resumed run goes on from its step */
    cr_assert_gt(mixed_late, 0, "no batch after the annealing mixed both priorities");
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}
