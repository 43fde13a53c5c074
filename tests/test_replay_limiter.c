#include <criterion/criterion.h>

#include "common/clock.h"
#include "replay/client.h"
#include "replay/limiter.h"
#include "replay_fixtures.h"

Test(replay_limiter, min_size_gates_sampling_without_a_ratio)
{
    replay_limiter l;
    replay_limiter_config c = {.min_size = 100};
    cr_assert_eq(replay_limiter_check(&c, 1000, NULL), SHOAL_OK);
    replay_limiter_init(&l, &c);
    cr_assert_not(replay_limiter_can_sample(&l, 99, 1));
    cr_assert(replay_limiter_can_sample(&l, 100, 1000000));
    cr_assert(replay_limiter_can_ack(&l));
    cr_assert_eq(replay_limiter_max_batch(&l), SIZE_MAX);
}

/* SPI 2, min_size 10, tolerance 8: centre 20, band [12, 28] on d = 2·inserted − sampled. */
Test(replay_limiter, the_ratio_band_blocks_and_releases_both_directions)
{
    replay_limiter l;
    replay_limiter_config c = {.min_size = 10, .samples_per_insert = 2.0, .tolerance = 8.0};
    cr_assert_eq(replay_limiter_check(&c, 1000, NULL), SHOAL_OK);
    replay_limiter_init(&l, &c);
    cr_assert_eq(replay_limiter_max_batch(&l), 16);
    replay_limiter_inserted(&l, 10); /* d = 20 */
    cr_assert(replay_limiter_can_sample(&l, 10, 8), "20 - 8 = 12 is inside");
    cr_assert_not(replay_limiter_can_sample(&l, 10, 9), "20 - 9 = 11 is below the band");
    cr_assert(replay_limiter_can_ack(&l));
    replay_limiter_inserted(&l, 5); /* d = 30: actors too far ahead */
    cr_assert_not(replay_limiter_can_ack(&l));
    replay_limiter_sampled(&l, 2); /* d = 28 */
    cr_assert(replay_limiter_can_ack(&l), "released once the learner catches up");
    replay_limiter_sampled(&l, 16); /* d = 12 */
    cr_assert_not(replay_limiter_can_sample(&l, 15, 1), "learner too far ahead");
    replay_limiter_inserted(&l, 1); /* d = 14 */
    cr_assert(replay_limiter_can_sample(&l, 16, 2));
}

Test(replay_limiter, impossible_settings_are_refused)
{
    shoal_err err = {0};
    replay_limiter_config c = {.min_size = 2000};
    cr_assert_eq(replay_limiter_check(&c, 1000, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "replay.min_size") != NULL);
    c = (replay_limiter_config){.samples_per_insert = 1.0, .tolerance = 0.5};
    cr_assert_eq(replay_limiter_check(&c, 1000, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "tolerance") != NULL);
    c = (replay_limiter_config){.samples_per_insert = -1.0};
    cr_assert_eq(replay_limiter_check(&c, 1000, &err), SHOAL_EINVAL);
}

Test(replay_limiter, blocked_time_is_charged_to_the_kind_that_waited)
{
    replay_limiter l;
    replay_limiter_config c = {0};
    replay_limiter_init(&l, &c);
    replay_limiter_account(&l, true, false, 1000000000u);
    replay_limiter_account(&l, false, true, 3000000000u);
    replay_limiter_account(&l, false, false, 3500000000u);
    cr_assert_float_eq(l.insert_blocked_s, 2.0, 1e-9);
    cr_assert_float_eq(l.sample_blocked_s, 0.5, 1e-9);
}

static replay_client *client_for(const char *endpoint)
{
    const char *eps[1] = {endpoint};
    replay_client_options o = {.timeout_ms = 300, .obs_bytes = FX_OB, .max_batch = 512};
    shoal_err err = {0};
    replay_client *c = replay_client_new(eps, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* On a live shard: a sample waits for min_size and is released by inserts; acks wait while
 * actors are ahead of the ratio and are released by samples; both waits are reported. */
Test(replay_limiter, a_shard_holds_samples_and_acks_instead_of_dropping)
{
    replay_server_config cfg = fx_server_config(10000, 0);
    cfg.limiter = (replay_limiter_config){.min_size = 64, .samples_per_insert = 1.0,
                                          .tolerance = 64.0};
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *learner = client_for(replay_server_endpoint(s.srv));
    replay_client *actor = client_for(replay_server_endpoint(s.srv));
    shoal_err err = {0};
    static fx_batch f;
    const replay_sample *b;

    replay_sample_req req = {.batch_size = 32, .beta = 0.4};
    cr_assert_eq(replay_client_sample_request(learner, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(learner, &b, &err), SHOAL_ETIMEOUT,
                 "held: the shard is below min_size");
    cr_assert(strstr(err.msg, "did not answer") != NULL, "%s", err.msg);
    fx_batch_fill(&f, 0, 0, 64, 1.0f, false);
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(learner, &b, &err), SHOAL_OK,
                 "released by the insert: %s", err.msg);
    cr_assert_eq(b->count, 32);

    /* d = 64 - 32 = 32, centre 64, band [0, 128]: 200 more inserts put d at 232 */
    fx_batch_fill(&f, 0, 64, 200, 1.0f, false);
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_ETIMEOUT, "ack held: actors ahead");
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(learner, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_acks, 1);
    cr_assert_eq(st->size, 264, "the held batch is stored, not dropped");
    for (int k = 0; k < 4; k++) { /* 4 x 32 = 128 samples: d = 104 <= 128 */
        cr_assert_eq(replay_client_sample_request(learner, &req, &err), SHOAL_OK);
        cr_assert_eq(replay_client_sample_next(learner, &b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_OK, "ack released: %s", err.msg);
    cr_assert_eq(replay_client_acked(actor), 264);
    cr_assert_eq(replay_client_stats(learner, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_acks, 0);
    cr_assert_gt(st->insert_blocked_s, 0.2, "ack waited at least one 300 ms flush timeout");
    cr_assert_gt(st->sample_blocked_s, 0.2, "sample waited at least one timeout");

    /* a batch larger than twice the tolerance could never be served: refused */
    req.batch_size = 129;
    cr_assert_eq(replay_client_sample_request(learner, &req, &err), SHOAL_OK);
    cr_assert_eq(replay_client_sample_next(learner, &b, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "twice replay.tolerance") != NULL, "%s", err.msg);
    replay_client_free(learner);
    replay_client_free(actor);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* Credits: a client whose ack is held waits for a credit instead of sending more. */
Test(replay_limiter, an_actor_waits_for_a_credit_instead_of_sending_more)
{
    replay_server_config cfg = fx_server_config(10000, 0);
    cfg.credits = 2;
    cfg.limiter = (replay_limiter_config){.min_size = 0, .samples_per_insert = 1.0,
                                          .tolerance = 10.0};
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *actor = client_for(replay_server_endpoint(s.srv));
    shoal_err err = {0};
    static fx_batch f;
    fx_batch_fill(&f, 3, 0, 20, 1.0f, false);
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_ETIMEOUT, "held: d = 20 > 10");
    /* the client learnt nothing yet (credits start at 1): its next insert must wait */
    uint64_t t0 = clock_now_ns();
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_ETIMEOUT);
    cr_assert_geq(clock_since_s(t0), 0.25);
    cr_assert(strstr(err.msg, "credit") != NULL, "%s", err.msg);
    replay_client_free(actor);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* When the run stops, the learners stop sampling: a draining shard releases the acks it holds
 * and holds no more, so the actors' last flush ends. */
Test(replay_limiter, a_draining_shard_stops_holding_acks)
{
    static volatile sig_atomic_t drain = 0;
    replay_server_config cfg = fx_server_config(10000, 0);
    cfg.limiter = (replay_limiter_config){.min_size = 0, .samples_per_insert = 1.0,
                                          .tolerance = 10.0};
    cfg.drain = &drain;
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *actor = client_for(replay_server_endpoint(s.srv));
    shoal_err err = {0};
    static fx_batch f;
    fx_batch_fill(&f, 3, 0, 20, 1.0f, false);
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_ETIMEOUT, "held: d = 20 > 10");
    drain = 1;
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_OK, "released by the drain: %s",
                 err.msg);
    fx_batch_fill(&f, 3, 20, 20, 1.0f, false);
    cr_assert_eq(replay_client_insert(actor, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(actor, &err), SHOAL_OK, "not held while draining: %s",
                 err.msg);
    cr_assert_eq(replay_client_acked(actor), 40);
    replay_client_free(actor);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}
