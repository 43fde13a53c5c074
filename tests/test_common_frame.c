#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/frame.h"
#include "common/rng.h"

/* A packed Envelope holding an InsertAck, in a malloc'ed buffer. */
static uint8_t *packed_ack(uint32_t version, size_t *n)
{
    Shoal__V1__InsertAck a = SHOAL__V1__INSERT_ACK__INIT;
    a.seq = 12345, a.credits = 4, a.accepted = 64;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_ACK;
    env.insert_ack = &a;
    *n = frame_packed_size(&env);
    uint8_t *buf = malloc(*n);
    frame_pack(&env, buf);
    if (version != SHOAL_WIRE_VERSION) {
        env.version = version; /* pack by hand: frame_pack always stamps the current version */
        *n = shoal__v1__envelope__pack(&env, buf);
    }
    return buf;
}

Test(frame, a_good_envelope_decodes)
{
    size_t n;
    uint8_t *buf = packed_ack(SHOAL_WIRE_VERSION, &n);
    Shoal__V1__Envelope *env;
    shoal_err err = {0};
    cr_assert_eq(frame_decode(buf, n, 1024, NULL, &env, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(env->insert_ack->seq, 12345);
    frame_envelope_free(env);
    free(buf);
}

Test(frame, every_truncation_is_an_error_not_a_crash)
{
    size_t n;
    uint8_t *buf = packed_ack(SHOAL_WIRE_VERSION, &n);
    for (size_t len = 1; len < n; len++) {
        uint8_t *cut = malloc(len); /* exact-size copy: ASan catches any read past the end */
        memcpy(cut, buf, len);
        Shoal__V1__Envelope *env = (void *)1;
        shoal_err err = {0};
        int rc = frame_decode(cut, len, 1024, NULL, &env, &err);
        cr_assert_neq(rc, SHOAL_OK, "truncated to %zu of %zu bytes decoded", len, n);
        cr_assert_null(env);
        cr_assert(err.msg[0] != '\0');
        free(cut);
    }
    free(buf);
}

Test(frame, truncated_envelope_names_the_problem)
{
    size_t n;
    uint8_t *buf = packed_ack(SHOAL_WIRE_VERSION, &n);
    Shoal__V1__Envelope *env;
    shoal_err err = {0};
    cr_assert_eq(frame_decode(buf, n - 2, 1024, NULL, &env, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    free(buf);
}

Test(frame, oversized_input_is_refused_before_decoding)
{
    size_t n;
    uint8_t *buf = packed_ack(SHOAL_WIRE_VERSION, &n);
    Shoal__V1__Envelope *env;
    shoal_err err = {0};
    cr_assert_eq(frame_decode(buf, n, n - 1, NULL, &env, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "oversized") != NULL, "%s", err.msg);
    free(buf);
}

Test(frame, wrong_version_is_refused)
{
    size_t n;
    uint8_t *buf = packed_ack(SHOAL_WIRE_VERSION + 1, &n);
    Shoal__V1__Envelope *env;
    shoal_err err = {0};
    cr_assert_eq(frame_decode(buf, n, 1024, NULL, &env, &err), SHOAL_EVERSION);
    cr_assert(strstr(err.msg, "version 2") != NULL, "%s", err.msg);
    cr_assert_null(env);
    free(buf);
}

Test(frame, an_empty_message_or_one_without_body_is_refused)
{
    Shoal__V1__Envelope *env;
    shoal_err err = {0};
    cr_assert_eq(frame_decode((const uint8_t *)"", 0, 1024, NULL, &env, &err), SHOAL_EVERSION);
    Shoal__V1__Envelope empty = SHOAL__V1__ENVELOPE__INIT;
    uint8_t buf[16];
    size_t n = frame_pack(&empty, buf);
    cr_assert_eq(frame_decode(buf, n, 1024, NULL, &env, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "no body") != NULL, "%s", err.msg);
}

Test(frame, random_bytes_never_crash_the_decoder)
{
    rng r;
    rng_init(&r, 2026, RNG_ROLE_TOOL, 0, 0);
    frame_arena *arena = frame_arena_new(4096, NULL);
    cr_assert_not_null(arena);
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + rng_below(&r, 300);
        uint8_t *buf = malloc(len);
        for (size_t k = 0; k < len; k++) {
            buf[k] = (uint8_t)rng_u64(&r);
        }
        if (i % 2) {
            buf[0] = 0x08; /* field 1 varint: get past the version more often */
            if (len > 1) {
                buf[1] = SHOAL_WIRE_VERSION;
            }
        }
        Shoal__V1__Envelope *env;
        shoal_err err = {0};
        int rc = frame_decode(buf, len, 1 << 16, i % 3 ? arena : NULL, &env, &err);
        if (rc == SHOAL_OK) {
            accepted++;
            cr_assert_eq(env->version, SHOAL_WIRE_VERSION);
            if (!(i % 3)) {
                frame_envelope_free(env);
            }
        } else {
            cr_assert(rc == SHOAL_EPROTO || rc == SHOAL_EVERSION, "code %d", rc);
        }
        frame_arena_reset(arena);
        free(buf);
    }
    cr_assert(accepted < 20000);
    frame_arena_free(arena);
}

Test(frame, the_arena_stops_growing_once_it_has_seen_the_largest_message)
{
    uint32_t action[4096];
    memset(action, 0, sizeof action);
    Shoal__V1__InsertBatch b = SHOAL__V1__INSERT_BATCH__INIT;
    b.n_action = 4096, b.action = action;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH;
    env.insert_batch = &b;
    size_t n = frame_packed_size(&env);
    uint8_t *buf = malloc(n);
    frame_pack(&env, buf);
    frame_arena *arena = frame_arena_new(256, NULL);
    for (int i = 0; i < 3; i++) {
        Shoal__V1__Envelope *out;
        cr_assert_eq(frame_decode(buf, n, 1 << 20, arena, &out, NULL), SHOAL_OK);
        cr_assert_eq(out->insert_batch->n_action, 4096);
        frame_arena_reset(arena);
    }
    free(buf);
    frame_arena_free(arena);
}

/* ZeroMQ round trips over inproc: DEALER -> ROUTER -> DEALER, with the size limit. */
typedef struct pair {
    void *ctx, *router, *dealer;
} pair;

static pair make_pair(int64_t max_msg)
{
    pair p;
    p.ctx = zmq_ctx_new();
    p.router = zmq_socket(p.ctx, ZMQ_ROUTER);
    p.dealer = zmq_socket(p.ctx, ZMQ_DEALER);
    int linger = 0, timeout = 2000;
    zmq_setsockopt(p.router, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(p.router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(p.dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(p.router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(p.dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    cr_assert_eq(zmq_bind(p.router, "inproc://frame-test"), 0);
    cr_assert_eq(zmq_connect(p.dealer, "inproc://frame-test"), 0);
    return p;
}

static void close_pair(pair *p)
{
    zmq_close(p->router);
    zmq_close(p->dealer);
    zmq_ctx_term(p->ctx);
}

Test(frame, router_and_dealer_exchange_envelopes_and_errors)
{
    pair p = make_pair(1 << 20);
    shoal_err err = {0};
    Shoal__V1__StatsRequest r = SHOAL__V1__STATS_REQUEST__INIT;
    r.request_id = 42;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &r;
    cr_assert_eq(frame_send(p.dealer, &env, 0, &err), SHOAL_OK, "%s", err.msg);

    uint8_t id[FRAME_ID_MAX];
    size_t id_len;
    Shoal__V1__Envelope *in;
    cr_assert_eq(frame_recv_from(p.router, id, &id_len, 1 << 20, NULL, &in, 0, &err), SHOAL_OK,
                 "%s", err.msg);
    cr_assert_eq(in->stats_request->request_id, 42);
    frame_envelope_free(in);

    cr_assert_eq(frame_send_error(p.router, id, id_len, SHOAL_EPROTO, "nope", &err), SHOAL_OK);
    cr_assert_eq(frame_recv(p.dealer, 1 << 20, NULL, &in, 0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(in->body_case, SHOAL__V1__ENVELOPE__BODY_ERROR);
    cr_assert_eq(in->error->code, SHOAL_EPROTO);
    cr_assert_str_eq(in->error->message, "nope");
    frame_envelope_free(in);

    cr_assert_eq(frame_recv(p.dealer, 1 << 20, NULL, &in, ZMQ_DONTWAIT, &err), SHOAL_EAGAIN);
    close_pair(&p);
}

Test(frame, garbage_and_extra_frames_on_a_router_are_reported_and_consumed)
{
    pair p = make_pair(1 << 20);
    shoal_err err = {0};
    zmq_send(p.dealer, "\xff\xff\xff", 3, 0);
    zmq_send(p.dealer, "a", 1, ZMQ_SNDMORE);
    zmq_send(p.dealer, "b", 1, 0);
    size_t n;
    uint8_t *good = packed_ack(SHOAL_WIRE_VERSION, &n);
    zmq_send(p.dealer, good, n, 0);
    free(good);

    uint8_t id[FRAME_ID_MAX];
    size_t id_len;
    Shoal__V1__Envelope *in;
    cr_assert_eq(frame_recv_from(p.router, id, &id_len, 1 << 20, NULL, &in, 0, &err), SHOAL_EPROTO);
    cr_assert(id_len > 0, "the sender stays known so it can get an Error");
    cr_assert_eq(frame_recv_from(p.router, id, &id_len, 1 << 20, NULL, &in, 0, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "more frames") != NULL, "%s", err.msg);
    cr_assert_eq(frame_recv_from(p.router, id, &id_len, 1 << 20, NULL, &in, 0, &err), SHOAL_OK,
                 "a good message after bad ones still decodes: %s", err.msg);
    frame_envelope_free(in);
    close_pair(&p);
}

Test(frame, a_message_over_the_limit_is_refused_by_size)
{
    pair p = make_pair(1 << 20);
    shoal_err err = {0};
    uint8_t *big = calloc(1, 5000);
    zmq_send(p.dealer, big, 5000, 0);
    free(big);
    uint8_t id[FRAME_ID_MAX];
    size_t id_len;
    Shoal__V1__Envelope *in;
    cr_assert_eq(frame_recv_from(p.router, id, &id_len, 4096, NULL, &in, 0, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "exceeds the limit") != NULL, "%s", err.msg);
    close_pair(&p);
}

Test(frame, obs_bytes_checks_the_spec)
{
    uint32_t shape[3] = {10, 10, 7};
    Shoal__V1__ObsSpec spec = SHOAL__V1__OBS_SPEC__INIT;
    spec.n_shape = 3, spec.shape = shape, spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_BIT;
    size_t bytes;
    shoal_err err = {0};
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_OK);
    cr_assert_eq(bytes, 88);
    spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_FLOAT32;
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_OK);
    cr_assert_eq(bytes, 2800);
    spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_UNSPECIFIED;
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_EPROTO);
    spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_UINT8;
    spec.n_shape = 2;
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_EPROTO);
    spec.n_shape = 3;
    shape[1] = 0;
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_EPROTO);
    shape[0] = shape[1] = shape[2] = 60000;
    cr_assert_eq(frame_obs_bytes(&spec, &bytes, &err), SHOAL_EPROTO);
    cr_assert_eq(frame_obs_bytes(NULL, &bytes, &err), SHOAL_EPROTO);
}
