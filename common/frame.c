#include "common/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/obs.h"

/* A bump arena: one main block, plus overflow blocks while a message does not fit. On reset
 * the overflow is folded into a bigger main block, so after the largest message has been seen
 * once, decoding allocates nothing. */
typedef struct overflow {
    struct overflow *next;
    size_t bytes;
} overflow;

struct frame_arena {
    uint8_t *block;
    size_t cap;
    size_t used;
    overflow *extra;
    size_t extra_bytes;
    ProtobufCAllocator allocator;
};

#define ALIGN 16

static void *arena_alloc(void *data, size_t size)
{
    frame_arena *a = data;
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need >= size && a->cap - a->used >= need) {
        void *p = a->block + a->used;
        a->used += need;
        return p;
    }
    overflow *o = malloc(sizeof(overflow) + ALIGN + size);
    if (!o) {
        return NULL;
    }
    o->next = a->extra;
    o->bytes = size;
    a->extra = o;
    a->extra_bytes += size + ALIGN;
    return (uint8_t *)o + ALIGN; /* sizeof(overflow) <= ALIGN keeps the payload aligned */
}

static void arena_free_noop(void *data, void *p)
{
    (void)data;
    (void)p; /* everything goes at reset */
}

frame_arena *frame_arena_new(size_t initial_bytes, shoal_err *err)
{
    _Static_assert(sizeof(overflow) <= ALIGN, "overflow header must fit the alignment pad");
    frame_arena *a = calloc(1, sizeof *a);
    if (!a) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a decode arena");
        return NULL;
    }
    a->cap = initial_bytes < 4096 ? 4096 : initial_bytes;
    a->block = aligned_alloc(ALIGN, (a->cap + ALIGN - 1) & ~(size_t)(ALIGN - 1));
    if (!a->block) {
        free(a);
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a decode arena of %zu bytes", initial_bytes);
        return NULL;
    }
    a->allocator.alloc = arena_alloc;
    a->allocator.free = arena_free_noop;
    a->allocator.allocator_data = a;
    return a;
}

static void free_overflow(frame_arena *a)
{
    while (a->extra) {
        overflow *next = a->extra->next;
        free(a->extra);
        a->extra = next;
    }
    a->extra_bytes = 0;
}

void frame_arena_free(frame_arena *a)
{
    if (!a) {
        return;
    }
    free_overflow(a);
    free(a->block);
    free(a);
}

void frame_arena_reset(frame_arena *a)
{
    if (a->extra) {
        size_t want = a->used + a->extra_bytes;
        want = (want + want / 4 + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        uint8_t *bigger = aligned_alloc(ALIGN, want);
        if (bigger) { /* on failure keep the old block; overflow blocks still work */
            free(a->block);
            a->block = bigger;
            a->cap = want;
        }
        free_overflow(a);
    }
    a->used = 0;
}

int frame_decode(const uint8_t *buf, size_t len, size_t max_bytes, frame_arena *arena,
                 Shoal__V1__Envelope **out, shoal_err *err)
{
    *out = NULL;
    if (len > max_bytes) {
        return shoal_err_set(err, SHOAL_EPROTO,
                             "message of %zu bytes exceeds the limit of %zu bytes (oversized)", len,
                             max_bytes);
    }
    Shoal__V1__Envelope *env =
        shoal__v1__envelope__unpack(arena ? &arena->allocator : NULL, len, buf);
    if (!env) {
        return shoal_err_set(err, SHOAL_EPROTO,
                             "cannot decode a %zu-byte message: malformed or truncated envelope "
                             "(not a shoal.v1 message?)", len);
    }
    if (env->version != SHOAL_WIRE_VERSION) {
        uint32_t v = env->version;
        if (!arena) {
            frame_envelope_free(env);
        }
        return shoal_err_set(err, SHOAL_EVERSION,
                             "wire version %u not supported (this build speaks version %u); run "
                             "the same shoal version on every process", v, SHOAL_WIRE_VERSION);
    }
    if (env->body_case == SHOAL__V1__ENVELOPE__BODY__NOT_SET) {
        if (!arena) {
            frame_envelope_free(env);
        }
        return shoal_err_set(err, SHOAL_EPROTO, "envelope of %zu bytes has no body", len);
    }
    *out = env;
    return SHOAL_OK;
}

void frame_envelope_free(Shoal__V1__Envelope *env)
{
    if (env) {
        shoal__v1__envelope__free_unpacked(env, NULL);
    }
}

size_t frame_packed_size(Shoal__V1__Envelope *env)
{
    env->version = SHOAL_WIRE_VERSION;
    return shoal__v1__envelope__get_packed_size(env);
}

size_t frame_pack(Shoal__V1__Envelope *env, uint8_t *buf)
{
    env->version = SHOAL_WIRE_VERSION;
    return shoal__v1__envelope__pack(env, buf);
}

static int zmq_fail(shoal_err *err, const char *what)
{
    int e = zmq_errno();
    if (e == EAGAIN) {
        return shoal_err_set(err, SHOAL_EAGAIN, "%s: would block", what);
    }
    if (e == EINTR) {
        return shoal_err_set(err, SHOAL_EINTERRUPTED, "%s: interrupted by a signal", what);
    }
    return shoal_err_set(err, SHOAL_EIO, "%s: %s", what, zmq_strerror(e));
}

static int send_envelope(void *sock, Shoal__V1__Envelope *env, int flags, shoal_err *err)
{
    zmq_msg_t msg;
    size_t n = frame_packed_size(env);
    if (zmq_msg_init_size(&msg, n) != 0) {
        return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a %zu-byte message", n);
    }
    frame_pack(env, zmq_msg_data(&msg));
    if (zmq_msg_send(&msg, sock, flags) < 0) {
        int rc = zmq_fail(err, "send");
        zmq_msg_close(&msg);
        return rc;
    }
    return SHOAL_OK;
}

int frame_send(void *sock, Shoal__V1__Envelope *env, int flags, shoal_err *err)
{
    return send_envelope(sock, env, flags, err);
}

int frame_send_to(void *sock, const uint8_t *id, size_t id_len, Shoal__V1__Envelope *env, int flags,
                  shoal_err *err)
{
    /* The identity part is queued atomically with the body by ZeroMQ (multipart). */
    if (zmq_send(sock, id, id_len, flags | ZMQ_SNDMORE) < 0) {
        return zmq_fail(err, "send identity");
    }
    return send_envelope(sock, env, flags, err);
}

/* Receives the rest of a multipart message and drops it. */
static void drain(void *sock, zmq_msg_t *msg)
{
    while (zmq_msg_more(msg)) {
        if (zmq_msg_recv(msg, sock, 0) < 0) {
            break;
        }
    }
}

static int recv_payload(void *sock, zmq_msg_t *msg, size_t max_bytes, frame_arena *arena,
                        Shoal__V1__Envelope **out, int flags, shoal_err *err)
{
    if (zmq_msg_recv(msg, sock, flags) < 0) {
        return zmq_fail(err, "receive");
    }
    if (zmq_msg_more(msg)) {
        drain(sock, msg);
        return shoal_err_set(err, SHOAL_EPROTO, "message has more frames than expected");
    }
    return frame_decode(zmq_msg_data(msg), zmq_msg_size(msg), max_bytes, arena, out, err);
}

int frame_recv(void *sock, size_t max_bytes, frame_arena *arena, Shoal__V1__Envelope **out,
               int flags, shoal_err *err)
{
    *out = NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = recv_payload(sock, &msg, max_bytes, arena, out, flags, err);
    zmq_msg_close(&msg);
    return rc;
}

int frame_recv_from(void *sock, uint8_t *id, size_t *id_len, size_t max_bytes, frame_arena *arena,
                    Shoal__V1__Envelope **out, int flags, shoal_err *err)
{
    *out = NULL;
    *id_len = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, flags) < 0) {
        zmq_msg_close(&msg);
        return zmq_fail(err, "receive");
    }
    size_t n = zmq_msg_size(&msg);
    if (n > FRAME_ID_MAX || !zmq_msg_more(&msg)) {
        drain(sock, &msg);
        zmq_msg_close(&msg);
        return shoal_err_set(err, SHOAL_EPROTO, "expected [identity][envelope] frames");
    }
    memcpy(id, zmq_msg_data(&msg), n);
    *id_len = n;
    /* The payload frame is already here (multipart messages arrive whole): never block. */
    int rc = recv_payload(sock, &msg, max_bytes, arena, out, 0, err);
    zmq_msg_close(&msg);
    return rc;
}

int frame_send_error(void *sock, const uint8_t *id, size_t id_len, int code, const char *message,
                     shoal_err *err)
{
    Shoal__V1__Error e = SHOAL__V1__ERROR__INIT;
    e.code = (uint32_t)code;
    e.message = (char *)message;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    if (id) {
        return frame_send_to(sock, id, id_len, &env, ZMQ_DONTWAIT, err);
    }
    return frame_send(sock, &env, ZMQ_DONTWAIT, err);
}

int frame_obs_bytes(const Shoal__V1__ObsSpec *spec, size_t *bytes, shoal_err *err)
{
    *bytes = 0;
    if (!spec) {
        return shoal_err_set(err, SHOAL_EPROTO, "missing obs_spec");
    }
    if (spec->n_shape != 3) {
        return shoal_err_set(err, SHOAL_EPROTO, "obs_spec.shape has %zu dims; expected 3 (H, W, C)",
                             spec->n_shape);
    }
    /* One rule for what an observation may be (common/obs.h); from a peer, breaking it is a
     * protocol error. */
    obs_spec s = {.shape = {spec->shape[0], spec->shape[1], spec->shape[2]},
                  .dtype = (obs_dtype)spec->dtype};
    shoal_err e = {0};
    if (obs_spec_finish(&s, &e) != SHOAL_OK) {
        return shoal_err_set(err, SHOAL_EPROTO, "obs_spec: %s", e.msg);
    }
    *bytes = s.bytes;
    return SHOAL_OK;
}
