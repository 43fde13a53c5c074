#include "learner/params.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/crc32c.h"
#include "common/frame.h"
#include "common/grow.h"

struct learner_params_pub {
    void *sock;
    curve_zap *zap; /* with CURVE: who may subscribe */
    uint8_t *blob;  /* the parameter blob, reused */
    size_t blob_cap;
    const nn_rnd *rnd; /* NULL: no RND data */
    uint8_t *rnd_blob;
    size_t rnd_cap;
    uint8_t *msg;   /* the last packed Envelope, reused and repeated */
    size_t msg_cap;
    size_t msg_len;
};

struct learner_params_sub {
    void *sock;
    nn_qnet *net;
    size_t blob_bytes;
    nn_rnd *rnd; /* NULL: no RND data expected */
    size_t rnd_bytes;
    uint64_t version;
    bool have; /* a version is in the network */
    frame_arena *arena;
};

/* Room for the envelope around the blob: version, arch string, ints and tags. */
#define ENVELOPE_SLACK (NN_QNET_ARCH_MAX + NN_RND_ARCH_MAX + 128)

learner_params_pub *learner_params_pub_new(void *ctx, const char *endpoint,
                                           const curve_keys *curve, char *bound, size_t cap,
                                           shoal_err *err)
{
    learner_params_pub *pub = calloc(1, sizeof *pub);
    if (!pub) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    if (curve && curve->on && !(pub->zap = curve_zap_new(ctx, curve, err))) {
        goto fail;
    }
    pub->sock = zmq_socket(ctx, ZMQ_PUB);
    int linger = 0;
    if (pub->sock && curve_socket_server(pub->sock, curve, err) != SHOAL_OK) {
        goto fail;
    }
    if (!pub->sock || zmq_setsockopt(pub->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(pub->sock, endpoint) != 0) {
        shoal_err_set(err, SHOAL_EIO, "cannot bind the parameter publisher on %s: %s", endpoint,
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    size_t len = cap;
    if (zmq_getsockopt(pub->sock, ZMQ_LAST_ENDPOINT, bound, &len) != 0) {
        shoal_err_set(err, SHOAL_EIO, "publisher on %s: cannot read the bound endpoint", endpoint);
        goto fail;
    }
    return pub;
fail:
    learner_params_pub_free(pub);
    return NULL;
}

void learner_params_pub_free(learner_params_pub *pub)
{
    if (!pub) {
        return;
    }
    if (pub->sock) {
        zmq_close(pub->sock);
    }
    curve_zap_free(pub->zap);
    free(pub->blob);
    free(pub->rnd_blob);
    free(pub->msg);
    free(pub);
}

/* Grows *buf to at least need bytes; buffers only grow, so steady state never allocates. */
static int reserve(uint8_t **buf, size_t *cap, size_t need, shoal_err *err)
{
    if (grow_items((void **)buf, cap, need, 1) != SHOAL_OK) {
        return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate %zu bytes for parameters", need);
    }
    return SHOAL_OK;
}

int learner_params_pub_send(learner_params_pub *pub, uint64_t version, uint64_t frames,
                            const nn_qnet *net, shoal_err *err)
{
    size_t n = nn_qnet_blob_bytes(net);
    int rc = reserve(&pub->blob, &pub->blob_cap, n, err);
    if (rc == SHOAL_OK) {
        rc = nn_qnet_blob_export(net, pub->blob, pub->blob_cap, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    Shoal__V1__Params p = SHOAL__V1__PARAMS__INIT;
    p.version = version;
    p.frames = frames;
    p.arch = (char *)nn_qnet_arch(net);
    p.data.data = pub->blob;
    p.data.len = n;
    p.crc32c = crc32c(pub->blob, n);
    if (pub->rnd) {
        size_t nr = nn_rnd_blob_bytes(pub->rnd);
        rc = reserve(&pub->rnd_blob, &pub->rnd_cap, nr, err);
        if (rc == SHOAL_OK) {
            rc = nn_rnd_blob_export(pub->rnd, pub->rnd_blob, pub->rnd_cap, err);
        }
        if (rc != SHOAL_OK) {
            return rc;
        }
        p.rnd_arch = (char *)nn_rnd_arch(pub->rnd);
        p.rnd_data.data = pub->rnd_blob;
        p.rnd_data.len = nr;
        p.rnd_crc32c = crc32c(pub->rnd_blob, nr);
    }
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_PARAMS;
    env.params = &p;
    size_t need = frame_packed_size(&env);
    rc = reserve(&pub->msg, &pub->msg_cap, need + ENVELOPE_SLACK, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    pub->msg_len = frame_pack(&env, pub->msg);
    return learner_params_pub_repeat(pub, err);
}

void learner_params_pub_set_rnd(learner_params_pub *pub, const nn_rnd *rnd)
{
    pub->rnd = rnd;
}

int learner_params_pub_repeat(learner_params_pub *pub, shoal_err *err)
{
    if (pub->msg_len == 0) {
        return SHOAL_OK;
    }
    if (zmq_send(pub->sock, pub->msg, pub->msg_len, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN) {
        return shoal_err_set(err, SHOAL_EIO, "publishing parameters: %s",
                             zmq_strerror(zmq_errno()));
    }
    return SHOAL_OK;
}

static size_t sub_max_bytes(const learner_params_sub *sub)
{
    return 2 * (sub->blob_bytes + sub->rnd_bytes) + ENVELOPE_SLACK;
}

learner_params_sub *learner_params_sub_new(void *ctx, const char *endpoint,
                                           const curve_keys *curve, nn_qnet *net, shoal_err *err)
{
    learner_params_sub *sub = calloc(1, sizeof *sub);
    if (!sub) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    sub->net = net;
    sub->blob_bytes = nn_qnet_blob_bytes(net);
    sub->arena = frame_arena_new(sub_max_bytes(sub), err);
    if (!sub->arena) {
        goto fail;
    }
    sub->sock = zmq_socket(ctx, ZMQ_SUB);
    int conflate = 1, linger = 0;
    /* ZeroMQ drops a message over the limit silently (with the connection); twice our own size
     * lets a near miss through to get a clear EARCH, while a huge message stays out. */
    int64_t max_bytes = (int64_t)sub_max_bytes(sub);
    if (!sub->sock || zmq_setsockopt(sub->sock, ZMQ_CONFLATE, &conflate, sizeof conflate) != 0 ||
        zmq_setsockopt(sub->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sub->sock, ZMQ_MAXMSGSIZE, &max_bytes, sizeof max_bytes) != 0 ||
        zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        curve_socket_client(sub->sock, curve, err) != SHOAL_OK ||
        zmq_connect(sub->sock, endpoint) != 0) {
        shoal_err_set(err, SHOAL_EIO, "cannot subscribe to parameters at %s: %s", endpoint,
                      zmq_strerror(zmq_errno()));
        goto fail;
    }
    return sub;
fail:
    learner_params_sub_free(sub);
    return NULL;
}

void learner_params_sub_free(learner_params_sub *sub)
{
    if (!sub) {
        return;
    }
    if (sub->sock) {
        zmq_close(sub->sock);
    }
    frame_arena_free(sub->arena);
    free(sub);
}

int learner_params_sub_set_rnd(learner_params_sub *sub, nn_rnd *rnd, shoal_err *err)
{
    sub->rnd = rnd;
    sub->rnd_bytes = rnd ? nn_rnd_blob_bytes(rnd) : 0;
    frame_arena *a = frame_arena_new(sub_max_bytes(sub), err);
    if (!a) {
        return err ? err->code : SHOAL_ENOMEM;
    }
    frame_arena_free(sub->arena);
    sub->arena = a;
    int64_t max_bytes = (int64_t)sub_max_bytes(sub);
    if (zmq_setsockopt(sub->sock, ZMQ_MAXMSGSIZE, &max_bytes, sizeof max_bytes) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "parameters: cannot raise the message limit: %s",
                             zmq_strerror(zmq_errno()));
    }
    return SHOAL_OK;
}

/* The RND part of p, checked against sub's (when sub expects one). */
static int check_rnd(const learner_params_sub *sub, const Shoal__V1__Params *p, shoal_err *err)
{
    const char *arch = nn_rnd_arch(sub->rnd);
    if (!p->rnd_arch || strcmp(p->rnd_arch, arch) != 0) {
        return shoal_err_set(err, SHOAL_EARCH,
                             "parameters carry RND '%s' but this process runs '%s'; the learner "
                             "and the actors must use the same exploration.strategy, [rnd], "
                             "[network] and run.seed", p->rnd_arch ? p->rnd_arch : "(none)",
                             arch);
    }
    if (p->rnd_data.len != sub->rnd_bytes) {
        return shoal_err_set(err, SHOAL_EARCH, "RND blob of %zu bytes; expected %zu",
                             p->rnd_data.len, sub->rnd_bytes);
    }
    if (crc32c(p->rnd_data.data, p->rnd_data.len) != p->rnd_crc32c) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "RND data of parameters version %llu fail "
                             "their CRC32C", (unsigned long long)p->version);
    }
    return SHOAL_OK;
}

static int accept_params(learner_params_sub *sub, const Shoal__V1__Envelope *env,
                         uint64_t *version, uint64_t *frames, shoal_err *err)
{
    if (env->body_case != SHOAL__V1__ENVELOPE__BODY_PARAMS) {
        return shoal_err_set(err, SHOAL_EPROTO, "expected a Params message, got body %d",
                             (int)env->body_case);
    }
    const Shoal__V1__Params *p = env->params;
    const char *arch = nn_qnet_arch(sub->net);
    if (!p->arch || strcmp(p->arch, arch) != 0) {
        return shoal_err_set(err, SHOAL_EARCH,
                             "parameters for '%s' but this network is '%s'; the learner and this "
                             "process must use the same [network] and [env] configuration",
                             p->arch ? p->arch : "", arch);
    }
    if (p->data.len != sub->blob_bytes) {
        return shoal_err_set(err, SHOAL_EARCH, "parameter blob of %zu bytes; expected %zu",
                             p->data.len, sub->blob_bytes);
    }
    if (crc32c(p->data.data, p->data.len) != p->crc32c) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "parameters version %llu fail their CRC32C",
                             (unsigned long long)p->version);
    }
    if (sub->rnd) {
        int rc = check_rnd(sub, p, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    if (sub->have && p->version <= sub->version) {
        return shoal_err_set(err, SHOAL_EAGAIN, "no newer parameters");
    }
    int rc = nn_qnet_blob_import(sub->net, p->data.data, p->data.len, err);
    if (rc == SHOAL_OK && sub->rnd) {
        rc = nn_rnd_blob_import(sub->rnd, p->rnd_data.data, p->rnd_data.len, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    sub->version = p->version;
    sub->have = true;
    if (version) {
        *version = p->version;
    }
    if (frames) {
        *frames = p->frames;
    }
    return SHOAL_OK;
}

int learner_params_sub_poll(learner_params_sub *sub, int timeout_ms, uint64_t *version,
                            uint64_t *frames, shoal_err *err)
{
    zmq_pollitem_t item = {sub->sock, 0, ZMQ_POLLIN, 0};
    int ready = zmq_poll(&item, 1, timeout_ms);
    if (ready < 0) {
        if (zmq_errno() == EINTR) {
            return shoal_err_set(err, SHOAL_EINTERRUPTED, "interrupted while waiting for parameters");
        }
        return shoal_err_set(err, SHOAL_EIO, "poll: %s", zmq_strerror(zmq_errno()));
    }
    if (ready == 0) {
        return shoal_err_set(err, SHOAL_EAGAIN, "no new parameters");
    }
    Shoal__V1__Envelope *env;
    int rc = frame_recv(sub->sock, sub_max_bytes(sub), sub->arena, &env,
                        ZMQ_DONTWAIT, err);
    if (rc == SHOAL_OK) {
        rc = accept_params(sub, env, version, frames, err);
    }
    frame_arena_reset(sub->arena);
    return rc;
}

uint64_t learner_params_sub_version(const learner_params_sub *sub)
{
    return sub->version;
}
