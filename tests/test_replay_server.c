#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/frame.h"
#include "common/log.h"
#include "replay/checkpoint.h"
#include "replay/client.h"
#include "file_checks.h"
#include "replay_fixtures.h"

/* A raw DEALER that can send anything, to play the misbehaving peer. */
typedef struct raw {
    void *ctx, *sock;
} raw;

static void raw_open(raw *r, const char *endpoint)
{
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(r->sock, endpoint), 0);
}

static void raw_close(raw *r)
{
    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
}

static void raw_send_bytes(raw *r, const void *data, size_t n)
{
    cr_assert_eq(zmq_send(r->sock, data, n, 0), (int)n);
}

static void raw_send(raw *r, Shoal__V1__Envelope *env, uint32_t version)
{
    size_t n = frame_packed_size(env);
    uint8_t *buf = malloc(n + 16);
    env->version = version;
    n = shoal__v1__envelope__pack(env, buf);
    raw_send_bytes(r, buf, n);
    free(buf);
}

/* Waits (bounded) for one reply; the caller frees it. */
static Shoal__V1__Envelope *raw_recv(raw *r)
{
    zmq_pollitem_t it = {.socket = r->sock, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1, "no reply within 5 s");
    Shoal__V1__Envelope *env = NULL;
    shoal_err err = {0};
    cr_assert_eq(frame_recv(r->sock, 64 << 20, NULL, &env, 0, &err), SHOAL_OK, "%s", err.msg);
    return env;
}

static void expect_error(raw *r, int code, const char *needle)
{
    Shoal__V1__Envelope *env = raw_recv(r);
    cr_assert_eq(env->body_case, SHOAL__V1__ENVELOPE__BODY_ERROR, "expected an Error reply");
    cr_assert_eq(env->error->code, (uint32_t)code, "code %u (%s) for '%s'", env->error->code,
                 env->error->message, needle);
    cr_assert(strstr(env->error->message, needle) != NULL, "'%s' not in '%s'", needle,
              env->error->message);
    frame_envelope_free(env);
}

static Shoal__V1__Envelope wrap_insert(Shoal__V1__InsertBatch *b)
{
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH;
    env.insert_batch = b;
    return env;
}

static replay_client *client_for(const char *endpoint, int timeout_ms)
{
    const char *eps[1] = {endpoint};
    replay_client_options o = {.timeout_ms = timeout_ms, .obs_bytes = FX_OB, .max_batch = 512};
    shoal_err err = {0};
    replay_client *c = replay_client_new(eps, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static void good_round_trip(replay_client *c, uint32_t actor, uint32_t first_id)
{
    static fx_batch f;
    shoal_err err = {0};
    fx_batch_fill(&f, actor, first_id, 8, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_sample_req req = {.batch_size = 4, .beta = 0.4};
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 4);
}

Test(replay_server, inserts_samples_and_stats_with_per_actor_episodes)
{
    replay_server_config cfg = fx_server_config(1000, 0);
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    for (uint32_t k = 0; k < 3; k++) {
        fx_batch_fill(&f, 2, 100 * k, 50, 1.0f, false);
        f.b.env_steps = 200;
        f.b.params_version = k;
        f.ep_return[0] = 1.0f + (float)k;
        f.ep_return[1] = 3.0f;
        f.b.episodes = (replay_episodes){.count = 2, .ret = f.ep_return, .length = f.ep_length,
                                         .head = f.ep_head};
        cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_acked(c), 150);
    replay_sample_req req = {.batch_size = 64, .beta = 0.4};
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 64);
    for (size_t j = 0; j < b->count; j++) {
        uint32_t id;
        memcpy(&id, b->obs + j * FX_OB, sizeof id);
        cr_assert_eq(id, b->action[j]);
        cr_assert_float_eq(b->weight[j], 1.0f, 1e-6, "equal priorities, equal weights");
        cr_assert_eq(b->shard[j], 0);
    }
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->size, 150);
    cr_assert_eq(st->inserted, 150);
    cr_assert_eq(st->sampled, 64);
    cr_assert_eq(st->capacity, 1000);
    cr_assert_eq(st->env_steps, 600);
    cr_assert_gt(st->memory_bytes, 1000 * 2 * FX_OB);
    cr_assert_float_eq(st->agent_total, 150.0, 1e-9);
    cr_assert_eq(st->n_actors, 1);
    cr_assert_eq(st->actors[0].actor_id, 2);
    cr_assert_eq(st->actors[0].episodes, 6);
    cr_assert_float_eq(st->actors[0].return_sum, 1 + 2 + 3 + 3 * 3.0, 1e-9);
    cr_assert_float_eq(st->actors[0].last_return, 3.0f, 0);
    cr_assert_eq(st->actors[0].params_version, 2);
    cr_assert_eq(st->actors[0].env_steps, 600);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(replay_server, every_bad_message_gets_an_error_while_a_good_client_keeps_working)
{
    replay_server_config cfg = fx_server_config(1000, 0);
    cfg.max_message_bytes = 64 * 1024;
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    const char *ep = replay_server_endpoint(s.srv);
    replay_client *good = client_for(ep, 5000);
    raw r;
    raw_open(&r, ep);
    static fx_batch f;
    Shoal__V1__Envelope env;
    uint32_t next_id = 0;

    raw_send_bytes(&r, "\xff\xff\xff garbage", 12);
    expect_error(&r, SHOAL_EPROTO, "malformed");
    good_round_trip(good, 1, next_id += 8);

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    env = wrap_insert(&f.w.msg);
    raw_send(&r, &env, 7);
    expect_error(&r, SHOAL_EVERSION, "version 7");
    good_round_trip(good, 1, next_id += 8);

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.w.msg.obs.len -= 1;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "obs/next_obs");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.w.msg.n_reward = 3;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "reward has 3 entries");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.priority[2] = NAN;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "priority[2]");

    fx_batch_fill(&f, 1, 0, 4, -0.5f, false);
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "priority[0]");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.w.shape[2] = 6;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "obs_spec");

    fx_batch_fill(&f, 99, 0, 4, 1.0f, false);
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "actor_id 99");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.w.msg.count = 0;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "count 0");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.w.msg.n_heads = 4; /* masks missing */
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "mask");

    fx_batch_fill(&f, 1, 0, 4, 1.0f, false);
    f.discount[1] = 1.5f;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "discount[1]");
    good_round_trip(good, 1, next_id += 8);

    Shoal__V1__SampleRequest sr = SHOAL__V1__SAMPLE_REQUEST__INIT;
    env = (Shoal__V1__Envelope)SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_SAMPLE_REQUEST;
    env.sample_request = &sr;
    sr.request_id = 77;
    sr.batch_size = 0;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "batch_size 0");
    sr.batch_size = FX_MAXN + 1;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "batch_size");
    sr.batch_size = 4;
    sr.beta = NAN;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "beta");
    sr.beta = 0.4f;
    sr.demo_fraction = 0.5f; /* no demonstrations on this shard */
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_ESTATE, "demo store is empty");

    Shoal__V1__PriorityUpdate pu = SHOAL__V1__PRIORITY_UPDATE__INIT;
    uint64_t keys[2] = {((uint64_t)1 << 32) | 5, ((uint64_t)1 << 32) | 5000};
    float pr[2] = {1.0f, 1.0f};
    pu.n_key = 2;
    pu.key = keys;
    pu.n_priority = 1;
    pu.priority = pr;
    env = (Shoal__V1__Envelope)SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_PRIORITY_UPDATE;
    env.priority_update = &pu;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "2 keys and 1 priorities");
    pu.n_priority = 2;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EINVAL, "out of range");
    keys[1] = keys[0];
    pr[1] = NAN;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EINVAL, "priority[1]");
    good_round_trip(good, 1, next_id += 8);

    Shoal__V1__Params params = SHOAL__V1__PARAMS__INIT;
    env = (Shoal__V1__Envelope)SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_PARAMS;
    env.params = &params;
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "serves InsertBatch");

    env = (Shoal__V1__Envelope)SHOAL__V1__ENVELOPE__INIT; /* no body */
    raw_send(&r, &env, SHOAL_WIRE_VERSION);
    expect_error(&r, SHOAL_EPROTO, "no body");

    size_t big = 64 * 1024 + 100; /* over max_message_bytes, under ZMQ_MAXMSGSIZE */
    uint8_t *junk = calloc(1, big);
    raw_send_bytes(&r, junk, big);
    free(junk);
    expect_error(&r, SHOAL_EPROTO, "oversized");
    good_round_trip(good, 1, next_id += 8);

    const replay_stats *st;
    shoal_err err = {0};
    cr_assert_eq(replay_client_stats(good, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->errors, 21);
    cr_assert_eq(st->inserted, 40, "only the good client's batches were stored");
    raw_close(&r);
    replay_client_free(good);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* A peer that ignores its credits gets an Error for the extra batch, which is not stored. */
Test(replay_server, a_batch_beyond_the_credits_is_refused)
{
    replay_server_config cfg = fx_server_config(10000, 0);
    cfg.credits = 2;
    cfg.limiter = (replay_limiter_config){.samples_per_insert = 1.0, .tolerance = 10.0};
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    raw r;
    raw_open(&r, replay_server_endpoint(s.srv));
    static fx_batch f;
    fx_batch_fill(&f, 3, 0, 20, 1.0f, false);
    Shoal__V1__Envelope env = wrap_insert(&f.w.msg);
    for (uint64_t seq = 1; seq <= 3; seq++) { /* all held: d = 20, 40 > 10 */
        f.w.msg.seq = seq;
        raw_send(&r, &env, SHOAL_WIRE_VERSION);
    }
    expect_error(&r, SHOAL_EPROTO, "beyond its 2 credits");
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    const replay_stats *st;
    shoal_err err = {0};
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->size, 40);
    cr_assert_eq(st->held_acks, 2);
    replay_client_free(c);
    raw_close(&r);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

static void stats_of(replay_server_config *cfg, replay_stats *out, double *agent_total)
{
    fx_server s;
    cr_assert_eq(fx_server_start(&s, cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    const replay_stats *st;
    shoal_err err = {0};
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    *out = *st;
    *agent_total = st->agent_total;
    cr_assert_eq(st->n_actors, 1);
    cr_assert_eq(st->actors[0].episodes, 1);
    cr_assert_float_eq(st->actors[0].return_sum, 21.0, 1e-9);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(replay_server, a_checkpoint_round_trips_and_a_damaged_one_is_refused_and_kept)
{
    char dir[] = "/tmp/shoal-ckpt-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    replay_server_config cfg = fx_server_config(100, 8);
    snprintf(cfg.checkpoint_path, sizeof cfg.checkpoint_path, "%s/replay-0.ckpt", dir);
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    fx_batch_fill(&f, 4, 0, 150, 2.0f, false); /* wraps the 100-slot ring */
    float ret = 21.0f;
    uint32_t len = 7, head = 0;
    f.b.episodes = (replay_episodes){.count = 1, .ret = &ret, .length = &len, .head = &head};
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    fx_batch_fill(&f, 0, 1000, 5, 1.0f, true);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_sample_req req = {.batch_size = 16, .beta = 0.4, .demo_fraction = 0.25};
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    float pr[16];
    for (size_t j = 0; j < 16; j++) {
        pr[j] = 0.25f * (float)j;
    }
    cr_assert_eq(replay_client_update_priorities(c, b, pr, &err), SHOAL_OK, "%s", err.msg);
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    replay_stats before = *st;
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK, "stop writes the checkpoint: %s", s.err.msg);

    replay_stats after;
    double total;
    stats_of(&cfg, &after, &total);
    cr_assert_eq(after.size, 100);
    cr_assert_eq(after.size, before.size);
    cr_assert_eq(after.demo_size, 5);
    cr_assert_eq(after.inserted, before.inserted);
    cr_assert_eq(after.sampled, before.sampled);
    cr_assert_eq(after.demo_sampled, 4);
    cr_assert_eq(after.priority_updates, before.priority_updates);
    cr_assert_eq(total, before.agent_total, "trees rebuilt to the same total, bit for bit");
    cr_assert_eq(after.demo_total, before.demo_total);

    size_t n;
    uint8_t *good = fx_slurp(cfg.checkpoint_path, &n);
    uint8_t *bad = malloc(n);
    memcpy(bad, good, n);
    bad[n / 2] ^= 0x10;
    cr_assert_eq(atomic_write_file(cfg.checkpoint_path, bad, n, &err), SHOAL_OK);
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert_eq(err.code, SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "CRC32C") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "left in place") != NULL, "%s", err.msg);
    size_t n2;
    uint8_t *kept = fx_slurp(cfg.checkpoint_path, &n2);
    cr_assert_eq(n2, n);
    cr_assert_eq(memcmp(kept, bad, n), 0, "the refused file is not touched");
    free(kept);

    cr_assert_eq(atomic_write_file(cfg.checkpoint_path, good, n - 100, &err), SHOAL_OK);
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert_eq(err.code, SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);

    cr_assert_eq(atomic_write_file(cfg.checkpoint_path, "not a checkpoint", 16, &err), SHOAL_OK);
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert(strstr(err.msg, "not a shoal replay checkpoint") != NULL, "%s", err.msg);

    cr_assert_eq(atomic_write_file(cfg.checkpoint_path, good, n, &err), SHOAL_OK);
    cfg.store.capacity = 200;
    cr_assert_null(replay_server_new(&cfg, &err));
    cr_assert(strstr(err.msg, "replay.capacity") != NULL, "%s", err.msg);
    free(good);
    free(bad);
    unlink(cfg.checkpoint_path);
    rmdir(dir);
}

Test(replay_server, stats_report_sampled_ages_demo_share_and_histogram)
{
    replay_server_config cfg = fx_server_config(100, 40);
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    /* 150 agent transitions through a ring of 100, priority 0 except insert index 112 (slot
     * 12), which is therefore the only agent transition ever sampled (priority 0 with ε = 0
     * never is): 150 - 1 - 112 = 37 inserts old. */
    for (uint32_t k = 0; k < 3; k++) {
        fx_batch_fill(&f, 1, 50 * k, 50, 0.0f, false);
        if (k == 2) {
            f.priority[12] = 2.0f;
        }
        cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    fx_batch_fill(&f, 0, 1000, 40, 1.0f, true);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->insight.window, 0, "nothing sampled yet");
    cr_assert_eq(st->insight.priority_hist[0], 99);
    cr_assert_eq(st->insight.priority_hist[replay_priority_bin(2.0)], 1);
    replay_sample_req demo_req = {.batch_size = 16, .beta = 0.4, .demo_only = true};
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_request(c, &demo_req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 16);
    replay_sample_req req = {.batch_size = 64, .beta = 0.4, .demo_fraction = 0.25};
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 64);
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    const replay_insight *in = &st->insight;
    cr_assert_eq(in->window, 80);
    cr_assert_eq(in->window_demo, 16 + 16, "16 alone, then round(0.25 * 64)");
    cr_assert_float_eq(in->age_p50, 37.0, 0);
    cr_assert_float_eq(in->age_p90, 37.0, 0);
    cr_assert_eq(in->window_aged, 48);
    cr_assert(in->age_s_p90 >= 0.0 && in->age_s_p90 < 60.0, "age %g s", in->age_s_p90);
    cr_assert_eq(in->sample_holds, 0);
    cr_assert_eq(in->priority_hist[0] + in->priority_hist[replay_priority_bin(2.0)], 100);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

Test(replay_server, a_sample_held_by_the_rate_limiter_shows_in_the_stats)
{
    replay_server_config cfg = fx_server_config(100, 0);
    cfg.limiter.min_size = 80;
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    fx_batch_fill(&f, 1, 0, 50, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_sample_req req = {.batch_size = 8, .beta = 0.4};
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    usleep(200000);
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_samples, 1);
    cr_assert_eq(st->insight.sample_holds, 1);
    cr_assert_geq(st->insight.sample_wait_s, 0.15, "held since the request, %g s",
                  st->insight.sample_wait_s);
    cr_assert_float_eq(st->insight.insert_wait_s, 0.0, 0);
    fx_batch_fill(&f, 1, 50, 50, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_samples, 0);
    cr_assert_float_eq(st->insight.sample_wait_s, 0.0, 0);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* The counters a shard keeps about the same inserts in four places: a checkpoint that mixed two
 * points in time would disagree with itself. */
static uint64_t restored_inserted(const char *path, size_t cap)
{
    replay_server_config c = fx_server_config(cap, 0);
    shoal_err err = {0};
    replay_store *store = replay_store_new(&c.store, &err);
    cr_assert_not_null(store, "%s", err.msg);
    replay_limiter lim;
    replay_limiter_init(&lim, &c.limiter);
    uint64_t errors = 0, env_steps = 0;
    replay_actor_rec actors[16] = {0};
    replay_ckpt_state st = {.shard = 0, .store = store, .lim = &lim, .errors = &errors,
                            .env_steps = &env_steps, .actors = actors, .max_actors = 16};
    cr_assert_eq(replay_ckpt_read(path, &st, &err), SHOAL_OK, "%s", err.msg);
    uint64_t inserted = replay_store_counters_get(store).inserted, by_actors = 0;
    for (size_t i = 0; i < 16; i++) {
        by_actors += actors[i].transitions;
    }
    cr_assert_eq(lim.inserted, inserted);
    cr_assert_eq(by_actors, inserted);
    cr_assert_eq(env_steps, inserted);
    cr_assert_eq(replay_store_totals(store).size, inserted < cap ? inserted : cap);
    replay_store_free(store);
    return inserted;
}

Test(replay_server, periodic_checkpoints_taken_while_inserts_go_on_each_hold_one_point_in_time,
     .timeout = 60)
{
    char dir[] = "/tmp/shoal-pckpt-XXXXXX", copy[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(copy, sizeof copy, "%s/copy.ckpt", dir);
    replay_server_config cfg = fx_server_config(5000, 0);
    snprintf(cfg.checkpoint_path, sizeof cfg.checkpoint_path, "%s/replay-0.ckpt", dir);
    cfg.checkpoint_secs = 0.05;
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    uint64_t seen[64];
    size_t n_seen = 0;
    uint64_t t0 = clock_now_ns();
    for (uint32_t k = 0; clock_since_s(t0) < 2.0 && n_seen < 64; k++) {
        fx_batch_fill(&f, k % 4, k * 100, 100, 1.0f, false);
        f.b.env_steps = 100;
        cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
        size_t n;
        uint8_t *data = NULL;
        if (k % 50 == 0 &&
            file_read_all(cfg.checkpoint_path, 1 << 30, &data, &n, &err) == SHOAL_OK) {
            cr_assert_eq(atomic_write_file(copy, data, n, &err), SHOAL_OK, "%s", err.msg);
            free(data);
            uint64_t inserted = restored_inserted(copy, 5000);
            if (n_seen == 0 || inserted != seen[n_seen - 1]) {
                seen[n_seen++] = inserted;
            }
        }
    }
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK, "%s", s.err.msg);
    cr_assert_geq(n_seen, 2, "checkpoints were written while the shard served inserts");
    cr_assert_gt(restored_inserted(cfg.checkpoint_path, 5000), seen[n_seen - 1],
                 "the final checkpoint holds everything");
    unlink(copy);
    unlink(cfg.checkpoint_path);
    rmdir(dir);
}

Test(replay_server, failing_checkpoints_back_off_log_once_each_and_end_the_shard, .timeout = 60)
{
    char dir[] = "/tmp/shoal-fckpt-XXXXXX", log_path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(log_path, sizeof log_path, "%s/replay-0.log", dir);
    shoal_err err = {0};
    cr_assert_eq(log_setup("replay", 0, LOG_INFO, log_path, &err), SHOAL_OK, "%s", err.msg);
    replay_server_config cfg = fx_server_config(100, 0);
    snprintf(cfg.checkpoint_path, sizeof cfg.checkpoint_path, "%s/gone/replay-0.ckpt", dir);
    cfg.checkpoint_secs = 0.05; /* would be 20 attempts a second without back-off */
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    uint64_t t0 = clock_now_ns();
    pthread_join(s.thread, NULL); /* the shard ends by itself */
    double secs = clock_since_s(t0);
    replay_server_free(s.srv);
    log_close();
    cr_assert_eq(s.rc, SHOAL_ESTATE, "%s", s.err.msg);
    cr_assert(strstr(s.err.msg, "3 times in a row") != NULL, "%s", s.err.msg);
    cr_assert(strstr(s.err.msg, "cannot create a temporary file") != NULL, "%s", s.err.msg);
    cr_assert(strstr(s.err.msg, "previous checkpoint") != NULL, "%s", s.err.msg);
    /* Attempts at about 0.05 s, +1 s and +2 s: the first two are logged, the third is the
     * shard's error. */
    cr_assert_geq(secs, 2.9, "retries backed off (%.2f s)", secs);
    cr_assert_eq(fx_count_lines(log_path, "checkpoint failed ("), 2);
    cr_assert_eq(fx_count_lines(log_path, "next attempt in 1 s"), 1);
    cr_assert_eq(fx_count_lines(log_path, "next attempt in 2 s"), 1);
    unlink(log_path);
    rmdir(dir);
}

/* Behaviour cloning on DAgger's labels samples demonstrations only, yet its actors must not run
 * ahead of it: a paced demo-only request goes through the rate limiter and counts there, while
 * an unpaced one (pre-training, before any actor) is served at once. */
Test(replay_server, a_paced_demo_only_sample_waits_for_the_rate_limiter_and_counts)
{
    replay_server_config cfg = fx_server_config(100, 40);
    /* band around c = 10: d = inserted - sampled must stay in [2, 18] */
    cfg.limiter = (replay_limiter_config){.min_size = 10, .samples_per_insert = 1.0,
                                          .tolerance = 8.0};
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c = client_for(replay_server_endpoint(s.srv), 5000);
    replay_client *other = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    fx_batch_fill(&f, 0, 1000, 40, 1.0f, true);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    fx_batch_fill(&f, 1, 0, 10, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);

    replay_sample_req paced = {.batch_size = 8, .beta = 0.4, .demo_only = true, .paced = true};
    const replay_sample *b;
    cr_assert_eq(replay_client_sample_request(c, &paced, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 8);
    for (size_t j = 0; j < b->count; j++) {
        cr_assert(b->demo[j], "a demo-only sample holds demonstrations only");
    }
    /* d = 10 - 8 = 2: another 8 would leave the band, so the limiter holds it ... */
    cr_assert_eq(replay_client_sample_request(c, &paced, &err), SHOAL_OK, "%s", err.msg);
    usleep(200000);
    const replay_stats *st;
    cr_assert_eq(replay_client_stats(other, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_samples, 1, "the second paced request waits for inserts");
    /* ... while an unpaced demo-only request passes it and does not count */
    replay_sample_req unpaced = {.batch_size = 8, .beta = 0.4, .demo_only = true};
    cr_assert_eq(replay_client_sample_request(other, &unpaced, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(other, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 8);
    cr_assert_eq(replay_client_stats(other, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_samples, 1, "the unpaced sample released nothing");
    /* 8 more agent inserts: d = 18 - 8 = 10, and the held request fits again */
    fx_batch_fill(&f, 1, 10, 8, 1.0f, false);
    cr_assert_eq(replay_client_insert(other, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(other, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(b->count, 8);
    cr_assert_eq(replay_client_stats(other, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(st->held_samples, 0);
    replay_client_free(other);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}

/* The (code, count) pairs client c heard, as a count per code (the later pair wins). */
static uint64_t heard(const replay_client *c, uint64_t code)
{
    const uint64_t *codes, *counts;
    size_t n = replay_client_visit_counts(c, &codes, &counts);
    uint64_t got = 0;
    for (size_t i = 0; i < n; i++) {
        if (codes[i] == code) {
            got = counts[i];
        }
    }
    return got;
}

Test(replay_server, shared_counts_from_two_actors_add_up_in_the_shard)
{
    replay_server_config cfg = fx_server_config(1000, 0);
    fx_server s;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    replay_client *c0 = client_for(replay_server_endpoint(s.srv), 5000);
    replay_client *c1 = client_for(replay_server_endpoint(s.srv), 5000);
    static fx_batch f;
    shoal_err err = {0};
    const uint64_t A = 0xA11CEull, B = 0xB0Bull, C = 0xC0FFEEull;
    /* actor 0 visits A and B */
    const uint64_t v0[] = {A, B};
    fx_batch_fill(&f, 0, 0, 4, 1.0f, false);
    f.b.visits = v0;
    f.b.n_visits = 2;
    cr_assert_eq(replay_client_insert(c0, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(heard(c0, A), 1);
    cr_assert_eq(heard(c0, B), 1);
    /* actor 1 visits A twice and C: A's total is both actors' */
    const uint64_t v1[] = {A, A, C};
    fx_batch_fill(&f, 1, 10, 4, 1.0f, false);
    f.b.visits = v1;
    f.b.n_visits = 3;
    cr_assert_eq(replay_client_insert(c1, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c1, &err), SHOAL_OK, "%s", err.msg);
    const uint64_t *codes, *counts;
    cr_assert_eq(replay_client_visit_counts(c1, &codes, &counts), 3, "one count per code sent");
    cr_assert_eq(heard(c1, A), 3);
    cr_assert_eq(heard(c1, C), 1);
    cr_assert_eq(heard(c1, B), 0, "actor 1 hears only the codes it sent");
    /* actor 0 again: its next ack carries the fleet's A */
    replay_client_visit_counts_clear(c0);
    const uint64_t v2[] = {A, C};
    fx_batch_fill(&f, 0, 20, 4, 1.0f, false);
    f.b.visits = v2;
    f.b.n_visits = 2;
    cr_assert_eq(replay_client_insert(c0, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(heard(c0, A), 4);
    cr_assert_eq(heard(c0, C), 2);
    /* a demonstration batch carries no visits */
    fx_batch_fill(&f, 0, 30, 4, 1.0f, true);
    f.b.visits = v2;
    f.b.n_visits = 2;
    replay_client_insert(c0, &f.b, &err);
    cr_assert_eq(replay_client_flush(c0, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "visit_code"), "%s", err.msg);
    replay_client_free(c0);
    replay_client_free(c1);
    cr_assert_eq(fx_server_stop(&s), SHOAL_OK);
}
