#include "replay/client.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/frame.h"
#include "common/grow.h"
#include "common/rng.h"
#include "replay/wire.h"

/* Request ids: sample batches and stats live above 2^63 so an Error's request_id can be told
 * apart from an insert seq (which counts from 1 per shard). */
#define SAMPLE_ID_BIT ((uint64_t)1 << 63)
#define STATS_ID_BIT ((uint64_t)1 << 62)

typedef struct shard_conn {
    void *sock;
    char endpoint[256];
    uint32_t credits;   /* from the last InsertAck; 1 until the first */
    uint32_t in_flight; /* insert batches not yet acknowledged */
    uint64_t next_seq;
    replay_shard_totals totals;
} shard_conn;

/* One batch request in flight: its parts, where each lands, and the assembled columns. */
typedef struct slot {
    bool busy;
    uint64_t request_id;
    replay_sample_req req;
    size_t *count;   /* (n_shards) transitions asked of each shard */
    size_t *offset;  /* (n_shards) where each shard's part goes */
    size_t n_waiting;
    int failed;
    shoal_err fail;
    replay_sample *batch; /* (max_batch) the assembled columns */
} slot;

struct replay_client {
    replay_client_options opt;
    size_t n;
    shard_conn *sh;
    void *ctx;
    frame_arena *arena;
    rng rng;
    slot *slots;       /* (pipeline + 1) ring, oldest at head: requests in flight plus the
                        * batch last returned, which stays valid until the next sample_next */
    size_t n_slots;
    size_t head, n_busy;
    bool head_taken;   /* the head slot was returned by sample_next and is freed by the next */
    uint64_t next_id;
    uint64_t acked;
    /* shared counts heard in acks, grown to the largest backlog seen */
    uint64_t *heard_code, *heard_count;
    size_t n_heard, heard_code_cap, heard_count_cap;
    size_t demo_rr;
    int async_code;    /* an Error not tied to a waiting call */
    shoal_err async_err;
    const Shoal__V1__Stats *stats; /* the reply awaited; copied into `decoded` when it came */
    replay_stats decoded;
    replay_actor_stats *actors;    /* (actors_cap) grows to the largest actor count seen */
    size_t actors_cap;
    uint64_t stats_id;
    bool stats_done;
    int stats_code;
    shoal_err stats_err;
    double *weights;   /* (n_shards) scratch for splitting */
    size_t *split_a, *split_d;
    uint64_t *upd_key; /* (max_batch) scratch for priority updates */
    double *ratio;     /* (max_batch) scratch for the importance weights */
    float *upd_prio;
};

void replay_client_free(replay_client *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; c->sh && i < c->n; i++) {
        if (c->sh[i].sock) {
            zmq_close(c->sh[i].sock);
        }
    }
    if (c->ctx) {
        zmq_ctx_term(c->ctx);
    }
    for (size_t i = 0; c->slots && i < c->n_slots; i++) {
        free(c->slots[i].count);
        free(c->slots[i].offset);
        replay_sample_free(c->slots[i].batch);
    }
    free(c->slots);
    free(c->sh);
    frame_arena_free(c->arena);
    free(c->weights);
    free(c->split_a);
    free(c->split_d);
    free(c->upd_key);
    free(c->ratio);
    free(c->upd_prio);
    free(c->actors);
    free(c->heard_code);
    free(c->heard_count);
    curve_keys_wipe(&c->opt.curve);
    free(c);
}

static int connect_all(replay_client *c, const char *const *endpoints, shoal_err *err)
{
    c->ctx = zmq_ctx_new();
    if (!c->ctx) {
        return shoal_err_set(err, SHOAL_EIO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    }
    for (size_t i = 0; i < c->n; i++) {
        shard_conn *s = &c->sh[i];
        s->credits = 1;
        s->next_seq = 1;
        snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoints[i]);
        s->sock = zmq_socket(c->ctx, ZMQ_DEALER);
        if (!s->sock) {
            return shoal_err_set(err, SHOAL_EIO, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        }
        int linger = 0;
        int64_t max = (int64_t)c->opt.max_message_bytes;
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
        if (curve_socket_client(s->sock, &c->opt.curve, err) != SHOAL_OK) {
            return SHOAL_EIO;
        }
        if (zmq_connect(s->sock, endpoints[i]) != 0) {
            return shoal_err_set(err, SHOAL_EIO, "cannot connect to shard %zu at %s: %s", i,
                                 endpoints[i], zmq_strerror(zmq_errno()));
        }
    }
    return SHOAL_OK;
}

static int alloc_slots(replay_client *c)
{
    for (size_t i = 0; i < c->n_slots; i++) {
        slot *s = &c->slots[i];
        s->count = calloc(c->n, sizeof *s->count);
        s->offset = calloc(c->n, sizeof *s->offset);
        if (!s->count || !s->offset) {
            return SHOAL_ENOMEM;
        }
        if (c->opt.obs_bytes &&
            !(s->batch = replay_sample_new(c->opt.max_batch, c->opt.obs_bytes, NULL))) {
            return SHOAL_ENOMEM;
        }
    }
    return SHOAL_OK;
}

replay_client *replay_client_new(const char *const *endpoints, size_t n_shards,
                                 const replay_client_options *opt, shoal_err *err)
{
    if (n_shards == 0 || n_shards > REPLAY_CLIENT_MAX_SHARDS) {
        shoal_err_set(err, SHOAL_EINVAL, "%zu shards; expected 1..%d", n_shards,
                      REPLAY_CLIENT_MAX_SHARDS);
        return NULL;
    }
    replay_client *c = calloc(1, sizeof *c);
    if (!c) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a replay client");
        return NULL;
    }
    c->opt = *opt;
    c->opt.timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 10000;
    c->opt.max_message_bytes = opt->max_message_bytes ? opt->max_message_bytes : (64u << 20);
    c->opt.max_batch = opt->max_batch ? opt->max_batch : 1024;
    c->opt.pipeline = opt->pipeline ? opt->pipeline : 4;
    c->n = n_shards;
    rng_init(&c->rng, opt->seed, RNG_ROLE_LEARNER, opt->index, 1);
    c->sh = calloc(n_shards, sizeof *c->sh);
    c->n_slots = c->opt.pipeline + 1;
    c->slots = calloc(c->n_slots, sizeof *c->slots);
    c->weights = calloc(n_shards, sizeof *c->weights);
    c->split_a = calloc(n_shards, sizeof *c->split_a);
    c->split_d = calloc(n_shards, sizeof *c->split_d);
    c->upd_key = malloc(c->opt.max_batch * sizeof *c->upd_key);
    c->upd_prio = malloc(c->opt.max_batch * sizeof *c->upd_prio);
    c->ratio = malloc(c->opt.max_batch * sizeof *c->ratio);
    c->arena = frame_arena_new(1 << 20, err);
    if (!c->sh || !c->slots || !c->weights || !c->split_a || !c->split_d || !c->upd_key ||
        !c->upd_prio || !c->ratio || !c->arena || alloc_slots(c) != SHOAL_OK) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the replay client's buffers");
        goto fail;
    }
    if (connect_all(c, endpoints, err) != SHOAL_OK) {
        goto fail;
    }
    return c;
fail:
    replay_client_free(c);
    return NULL;
}

size_t replay_client_shards(const replay_client *c)
{
    return c->n;
}

uint64_t replay_client_acked(const replay_client *c)
{
    return c->acked;
}

replay_shard_totals replay_client_totals(const replay_client *c, size_t shard)
{
    return c->sh[shard].totals;
}

/* ---- receiving ---- */

static slot *slot_of(replay_client *c, uint64_t request_id)
{
    for (size_t i = 0; i < c->n_slots; i++) {
        if (c->slots[i].busy && c->slots[i].request_id == request_id) {
            return &c->slots[i];
        }
    }
    return NULL;
}

static void set_async(replay_client *c, int code, const char *fmt, const char *a, const char *b)
{
    if (!c->async_code) {
        c->async_code = shoal_err_set(&c->async_err, code, fmt, a, b);
    }
}

static void fail_slot(slot *s, int code, size_t shard, const char *endpoint, const char *msg)
{
    if (!s->failed) {
        s->failed = shoal_err_set(&s->fail, code, "shard %zu (%s): %s", shard, endpoint, msg);
    }
}

static int check_part(const replay_client *c, const Shoal__V1__SampleBatch *b, size_t want,
                      shoal_err *err)
{
    size_t n = b->count;
    size_t ob = c->opt.obs_bytes;
    if (n != want || b->n_key != n || b->n_weight != n || b->n_leaf != n || b->n_action != n ||
        b->n_reward != n || b->n_discount != n || b->n_demo != n ||
        (b->n_label != 0 && b->n_label != n) ||
        (b->n_heads > 1 && b->n_mask != n) || b->obs.len != n * ob || b->next_obs.len != n * ob) {
        return shoal_err_set(err, SHOAL_EPROTO, "sample batch of %zu transitions (asked %zu) "
                             "with inconsistent columns or observations not of %zu bytes", n,
                             want, ob);
    }
    return SHOAL_OK;
}

static void note_totals(shard_conn *s, double agent, double demo, double bonus, uint64_t size,
                        uint64_t demo_size)
{
    s->totals = (replay_shard_totals){true, agent, demo, bonus, size, demo_size};
}

static void on_batch(replay_client *c, size_t i, const Shoal__V1__SampleBatch *b)
{
    note_totals(&c->sh[i], b->agent_total, b->demo_total, b->demo_bonus_total, b->size,
                b->demo_size);
    slot *s = slot_of(c, b->request_id);
    if (!s || s->count[i] == 0 || s->failed) {
        return; /* a reply to a batch already failed or abandoned */
    }
    shoal_err e = {0};
    size_t want = s->count[i];
    s->count[i] = 0;
    s->n_waiting--;
    if (check_part(c, b, want, &e) != SHOAL_OK) {
        fail_slot(s, e.code, i, c->sh[i].endpoint, e.msg);
        return;
    }
    replay_sample *x = s->batch;
    size_t o = s->offset[i], ob = c->opt.obs_bytes;
    memcpy(x->key + o, b->key, want * sizeof *x->key);
    memcpy(x->leaf + o, b->leaf, want * sizeof *x->leaf);
    memcpy(x->obs + o * ob, b->obs.data, want * ob);
    memcpy(x->next_obs + o * ob, b->next_obs.data, want * ob);
    memcpy(x->action + o, b->action, want * sizeof *x->action);
    memcpy(x->reward + o, b->reward, want * sizeof *x->reward);
    memcpy(x->discount + o, b->discount, want * sizeof *x->discount);
    for (size_t k = 0; k < want; k++) {
        x->shard[o + k] = (uint32_t)i;
        x->demo[o + k] = b->demo[k];
        x->mask[o + k] = b->n_heads > 1 ? b->mask[k] : 0xFFFFFFFFu;
        /* A label-only transition's reward and next state are not the label's consequence:
         * mask 0 keeps every head's TD loss off it, whatever learner reads the batch. */
        x->label[o + k] = b->n_label && b->label[k];
        if (x->label[o + k]) {
            x->mask[o + k] = 0;
        }
    }
    if (b->n_heads > x->n_heads) {
        x->n_heads = b->n_heads;
    }
}

static void on_error(replay_client *c, size_t i, const Shoal__V1__Error *e)
{
    const char *msg = e->message ? e->message : "";
    int code = e->code ? (int)e->code : SHOAL_EPROTO;
    if (e->request_id & SAMPLE_ID_BIT) {
        slot *s = slot_of(c, e->request_id);
        if (s && s->count[i]) {
            s->count[i] = 0;
            s->n_waiting--;
            fail_slot(s, code, i, c->sh[i].endpoint, msg);
        }
    } else if (e->request_id & STATS_ID_BIT) {
        if (e->request_id == c->stats_id) {
            c->stats_done = true;
            c->stats_code = shoal_err_set(&c->stats_err, code, "shard %zu (%s): %s", i,
                                          c->sh[i].endpoint, msg);
        }
    } else {
        if (e->request_id && c->sh[i].in_flight) {
            c->sh[i].in_flight--; /* the insert with this seq was refused */
        }
        if (!c->async_code) {
            c->async_code = shoal_err_set(&c->async_err, code, "shard %zu (%s): %s", i,
                                          c->sh[i].endpoint, msg);
        }
    }
}

/* Keeps an ack's visit counts for the actor. A malformed pair of columns is skipped (counts are
 * a hint for the bonus; the ack itself still counts). Growing the buffer is amortised: it
 * settles at the largest backlog between two reads. */
static void hear_counts(replay_client *c, const Shoal__V1__InsertAck *a)
{
    size_t n = a->n_visit_code;
    if (n == 0 || a->n_visit_count != n) {
        return;
    }
    size_t need = c->n_heard + n;
    if (grow_items((void **)&c->heard_code, &c->heard_code_cap, need, sizeof *c->heard_code) !=
            SHOAL_OK ||
        grow_items((void **)&c->heard_count, &c->heard_count_cap, need,
                   sizeof *c->heard_count) != SHOAL_OK) {
        return;
    }
    memcpy(c->heard_code + c->n_heard, a->visit_code, n * sizeof *a->visit_code);
    memcpy(c->heard_count + c->n_heard, a->visit_count, n * sizeof *a->visit_count);
    c->n_heard += n;
}

size_t replay_client_visit_counts(const replay_client *c, const uint64_t **codes,
                                  const uint64_t **counts)
{
    *codes = c->heard_code;
    *counts = c->heard_count;
    return c->n_heard;
}

void replay_client_visit_counts_clear(replay_client *c)
{
    c->n_heard = 0;
}

static void on_message(replay_client *c, size_t i, const Shoal__V1__Envelope *env)
{
    shard_conn *s = &c->sh[i];
    switch (env->body_case) {
    case SHOAL__V1__ENVELOPE__BODY_INSERT_ACK:
        if (s->in_flight) {
            s->in_flight--;
        }
        s->credits = env->insert_ack->credits ? env->insert_ack->credits : 1;
        c->acked += env->insert_ack->accepted;
        hear_counts(c, env->insert_ack);
        break;
    case SHOAL__V1__ENVELOPE__BODY_SAMPLE_BATCH: on_batch(c, i, env->sample_batch); break;
    case SHOAL__V1__ENVELOPE__BODY_STATS:
        if (env->stats->request_id == c->stats_id) {
            const Shoal__V1__Stats *st = env->stats;
            note_totals(s, st->agent_total, st->demo_total, st->demo_bonus_total, st->size,
                        st->demo_size);
            c->stats = st;
            c->stats_done = true;
        }
        break;
    case SHOAL__V1__ENVELOPE__BODY_ERROR: on_error(c, i, env->error); break;
    default:
        set_async(c, SHOAL_EPROTO, "shard %s sent an unexpected message%s", s->endpoint, "");
    }
}

/* Waits up to timeout_ms for messages on any shard and handles all that arrived. */
static int pump(replay_client *c, int timeout_ms, shoal_err *err)
{
    zmq_pollitem_t items[REPLAY_CLIENT_MAX_SHARDS];
    for (size_t i = 0; i < c->n; i++) {
        items[i] = (zmq_pollitem_t){.socket = c->sh[i].sock, .events = ZMQ_POLLIN};
    }
    int n = zmq_poll(items, (int)c->n, timeout_ms);
    if (n < 0) {
        return shoal_err_set(err, SHOAL_EINTERRUPTED, "waiting for replay shards: %s",
                             zmq_strerror(zmq_errno()));
    }
    for (size_t i = 0; n > 0 && i < c->n; i++) {
        for (int k = 0; (items[i].revents & ZMQ_POLLIN) && k < 4096; k++) {
            Shoal__V1__Envelope *env;
            shoal_err e = {0};
            int rc = frame_recv(c->sh[i].sock, c->opt.max_message_bytes, c->arena, &env,
                                ZMQ_DONTWAIT, &e);
            if (rc == SHOAL_EAGAIN) {
                break;
            }
            if (rc != SHOAL_OK) {
                set_async(c, rc, "shard %s: %s", c->sh[i].endpoint, e.msg);
                continue;
            }
            on_message(c, i, env);
        }
    }
    return SHOAL_OK;
}

typedef bool (*done_fn)(const replay_client *c, const void *arg);

/* Pumps until done(c, arg) or the timeout; ETIMEOUT names what was awaited. */
static int wait_for(replay_client *c, done_fn done, const void *arg, const char *what,
                    size_t shard, shoal_err *err)
{
    uint64_t deadline = clock_now_ns() + (uint64_t)c->opt.timeout_ms * 1000000u;
    while (!done(c, arg)) {
        uint64_t now = clock_now_ns();
        if (now >= deadline) {
            return shoal_err_set(err, SHOAL_ETIMEOUT, "shard %zu (%s) did not answer %s within "
                                 "%d ms: filling to replay.min_size, limiter holding it, not "
                                 "running, or refused us (CURVE %s here; cluster.curve and "
                                 "keys must agree)", shard, c->sh[shard].endpoint, what,
                                 c->opt.timeout_ms, c->opt.curve.on ? "on" : "off");
        }
        int rc = pump(c, (int)((deadline - now + 999999) / 1000000), err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    return SHOAL_OK;
}

static int take_async(replay_client *c, shoal_err *err)
{
    if (!c->async_code) {
        return SHOAL_OK;
    }
    int code = c->async_code;
    c->async_code = 0;
    if (err) {
        *err = c->async_err;
    }
    return code;
}

/* Starts a public call: messages decoded by the previous one are forgotten. */
static void begin(replay_client *c)
{
    frame_arena_reset(c->arena);
    c->stats = NULL;
}

/* ---- insert ---- */

static bool has_credit(const replay_client *c, const void *arg)
{
    const shard_conn *s = arg;
    return s->in_flight < s->credits || c->async_code;
}

int replay_client_insert(replay_client *c, const replay_batch *b, shoal_err *err)
{
    begin(c);
    size_t i = b->demo ? (c->demo_rr++ % c->n) : (size_t)(b->actor_id % c->n);
    shard_conn *s = &c->sh[i];
    int rc = wait_for(c, has_credit, s, "an insert with a credit", i, err);
    if (rc == SHOAL_OK) {
        rc = take_async(c, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    replay_wire_insert m;
    replay_wire_batch(b, &m);
    m.msg.seq = s->next_seq++;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH;
    env.insert_batch = &m.msg;
    rc = frame_send(s->sock, &env, ZMQ_DONTWAIT, err);
    if (rc != SHOAL_OK) {
        return shoal_err_prefix(err, "insert to shard %zu (%s)", i, s->endpoint);
    }
    s->in_flight++;
    return SHOAL_OK;
}

static bool all_acked(const replay_client *c, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < c->n; i++) {
        if (c->sh[i].in_flight) {
            return c->async_code != 0;
        }
    }
    return true;
}

static size_t first_unacked(const replay_client *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->sh[i].in_flight) {
            return i;
        }
    }
    return 0;
}

int replay_client_flush(replay_client *c, shoal_err *err)
{
    begin(c);
    int rc = SHOAL_OK;
    while (rc == SHOAL_OK && !all_acked(c, NULL)) {
        rc = wait_for(c, all_acked, NULL, "the acks of its inserts", first_unacked(c), err);
    }
    return rc == SHOAL_OK ? take_async(c, err) : rc;
}

/* ---- stats ---- */

static bool stats_done(const replay_client *c, const void *arg)
{
    (void)arg;
    return c->stats_done;
}

/* Copies the Stats reply into c->decoded, growing the actors' table when it has to. */
static int decode_stats(replay_client *c, shoal_err *err)
{
    size_t n = c->stats->n_actors;
    if (n > c->actors_cap) {
        replay_actor_stats *bigger = realloc(c->actors, n * sizeof *bigger);
        if (!bigger) {
            return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the statistics of %zu "
                                 "actors", n);
        }
        c->actors = bigger;
        c->actors_cap = n;
    }
    replay_wire_stats_view(c->stats, &c->decoded, c->actors);
    return SHOAL_OK;
}

int replay_client_stats(replay_client *c, size_t shard, const replay_stats **out,
                        shoal_err *err)
{
    begin(c);
    *out = NULL;
    if (shard >= c->n) {
        return shoal_err_set(err, SHOAL_EINVAL, "shard %zu of %zu", shard, c->n);
    }
    Shoal__V1__StatsRequest r = SHOAL__V1__STATS_REQUEST__INIT;
    r.request_id = c->stats_id = STATS_ID_BIT | ++c->next_id;
    c->stats_done = false;
    c->stats_code = 0;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &r;
    int rc = frame_send(c->sh[shard].sock, &env, ZMQ_DONTWAIT, err);
    if (rc == SHOAL_OK) {
        rc = wait_for(c, stats_done, NULL, "a StatsRequest", shard, err);
    }
    if (rc == SHOAL_OK && c->stats_code) {
        rc = c->stats_code;
        if (err) {
            *err = c->stats_err;
        }
    }
    if (rc == SHOAL_OK) {
        rc = decode_stats(c, err);
    }
    *out = rc == SHOAL_OK ? &c->decoded : NULL;
    return rc;
}

/* ---- sampling ---- */

/* Systematic sampling: n points (j + u)/n of the cumulative weights, one u for all, so shard s
 * gets n·w_s/Σw in expectation and within one of it always. Equal shares when Σw = 0. */
static void split(rng *r, const double *w, size_t n_shards, size_t n, size_t *out)
{
    double total = 0.0;
    for (size_t s = 0; s < n_shards; s++) {
        out[s] = 0;
        total += w[s];
    }
    bool equal = !(total > 0.0);
    total = equal ? (double)n_shards : total;
    double u = rng_uniform(r), cum = 0.0;
    size_t s = 0;
    for (size_t j = 0; j < n; j++) {
        double x = ((double)j + u) / (double)n * total;
        while (s + 1 < n_shards && x >= cum + (equal ? 1.0 : w[s])) {
            cum += equal ? 1.0 : w[s];
            s++;
        }
        out[s]++;
    }
}

static int refresh_totals(replay_client *c, shoal_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        if (!c->sh[i].totals.known) {
            const replay_stats *st;
            int rc = replay_client_stats(c, i, &st, err);
            if (rc != SHOAL_OK) {
                return rc;
            }
        }
    }
    return SHOAL_OK;
}

static void plan(replay_client *c, const replay_sample_req *req)
{
    size_t b = req->batch_size;
    size_t n_demo = req->demo_only ? b
                    : req->mixed   ? 0
                                   : (size_t)(req->demo_fraction * (double)b + 0.5);
    for (size_t i = 0; i < c->n; i++) {
        const replay_shard_totals *t = &c->sh[i].totals;
        c->weights[i] = req->mixed ? t->agent + t->demo_bonus : t->agent;
    }
    split(&c->rng, c->weights, c->n, b - n_demo, c->split_a);
    for (size_t i = 0; i < c->n; i++) {
        c->weights[i] = c->sh[i].totals.demo;
    }
    split(&c->rng, c->weights, c->n, n_demo, c->split_d);
}

static int send_part(replay_client *c, size_t i, const slot *s, size_t n_agent, size_t n_demo,
                     shoal_err *err)
{
    Shoal__V1__SampleRequest r = SHOAL__V1__SAMPLE_REQUEST__INIT;
    r.request_id = s->request_id;
    r.batch_size = (uint32_t)(n_agent + n_demo);
    /* The shard takes round(fraction · batch) demonstrations: exact for these small counts. */
    r.demo_fraction = (float)((double)n_demo / (double)(n_agent + n_demo));
    r.beta = (float)s->req.beta;
    r.mixed = s->req.mixed;
    r.demo_only = s->req.demo_only;
    r.paced = s->req.paced;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_SAMPLE_REQUEST;
    env.sample_request = &r;
    int rc = frame_send(c->sh[i].sock, &env, ZMQ_DONTWAIT, err);
    return rc == SHOAL_OK ? rc : shoal_err_prefix(err, "shard %zu (%s)", i, c->sh[i].endpoint);
}

int replay_client_sample_request(replay_client *c, const replay_sample_req *req, shoal_err *err)
{
    begin(c);
    if (!c->opt.obs_bytes || req->batch_size == 0 || req->batch_size > c->opt.max_batch) {
        return shoal_err_set(err, SHOAL_EINVAL, "sample request of %zu transitions: expected "
                             "1..%zu and a client made with obs_bytes", req->batch_size,
                             c->opt.max_batch);
    }
    if (c->n_busy - c->head_taken == c->opt.pipeline) {
        return shoal_err_set(err, SHOAL_EINVAL, "%zu sample requests already in flight "
                             "(pipeline); take a batch with replay_client_sample_next first",
                             c->opt.pipeline);
    }
    int rc = refresh_totals(c, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    slot *s = &c->slots[(c->head + c->n_busy) % c->n_slots];
    *s = (slot){.busy = true, .request_id = SAMPLE_ID_BIT | ++c->next_id, .req = *req,
                .count = s->count, .offset = s->offset, .batch = s->batch};
    s->batch->count = req->batch_size;
    s->batch->n_heads = 0;
    plan(c, req);
    size_t off = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t n = c->split_a[i] + c->split_d[i];
        s->count[i] = n;
        s->offset[i] = off;
        off += n;
    }
    c->n_busy++;
    for (size_t i = 0; i < c->n; i++) {
        if (s->count[i]) {
            rc = send_part(c, i, s, c->split_a[i], c->split_d[i], err);
            if (rc != SHOAL_OK) {
                fail_slot(s, rc, i, c->sh[i].endpoint, err ? err->msg : "send failed");
                s->count[i] = 0;
                continue;
            }
            s->n_waiting++;
        }
    }
    return SHOAL_OK;
}

/* Global importance weights: P(i) = leaf_i / ΣT over every shard and N the global population
 * (per population: agent and demo sampled apart keep their own, as within a shard). */
static void global_weights(const replay_client *c, slot *s)
{
    double ta = 0, td = 0, tb = 0, na = 0, nd = 0;
    for (size_t i = 0; i < c->n; i++) {
        const replay_shard_totals *t = &c->sh[i].totals;
        ta += t->agent;
        td += t->demo;
        tb += t->demo_bonus;
        na += (double)t->size;
        nd += (double)t->demo_size;
    }
    replay_sample *x = s->batch;
    x->n_demo = 0;
    for (size_t k = 0; k < x->count; k++) {
        /* N·P(i) of each draw, P(i) = leaf / the total of the tree it was drawn from */
        if (s->req.mixed) {
            c->ratio[k] = (na + nd) * x->leaf[k] / (ta + tb);
        } else if (x->demo[k]) {
            c->ratio[k] = nd * x->leaf[k] / td;
        } else {
            c->ratio[k] = na * x->leaf[k] / ta;
        }
        x->n_demo += x->demo[k];
    }
    replay_importance_weights(x->weight, c->ratio, x->count, s->req.beta);
}

static bool head_complete(const replay_client *c, const void *arg)
{
    (void)arg;
    return c->slots[c->head].n_waiting == 0;
}

static size_t first_waiting(const replay_client *c)
{
    const slot *s = &c->slots[c->head];
    for (size_t i = 0; i < c->n; i++) {
        if (s->count[i]) {
            return i;
        }
    }
    return 0;
}

int replay_client_sample_next(replay_client *c, const replay_sample **out, shoal_err *err)
{
    begin(c);
    *out = NULL;
    if (c->head_taken) {
        c->slots[c->head].busy = false;
        c->head = (c->head + 1) % c->n_slots;
        c->n_busy--;
        c->head_taken = false;
    }
    if (c->n_busy == 0) {
        return shoal_err_set(err, SHOAL_ESTATE, "no sample request in flight");
    }
    slot *s = &c->slots[c->head];
    int rc = wait_for(c, head_complete, NULL, "a SampleRequest", first_waiting(c), err);
    if (rc != SHOAL_OK) {
        return rc; /* the request stays in flight: a later call may still complete it */
    }
    c->head_taken = true;
    if (s->failed) {
        if (err) {
            *err = s->fail;
        }
        return s->failed;
    }
    global_weights(c, s);
    *out = s->batch;
    return take_async(c, err);
}

int replay_client_update_priorities(replay_client *c, const replay_sample *b,
                                    const float *priorities, shoal_err *err)
{
    begin(c);
    for (size_t i = 0; i < c->n; i++) {
        size_t n = 0;
        for (size_t k = 0; k < b->count && n < c->opt.max_batch; k++) {
            if (b->shard[k] == i) {
                c->upd_key[n] = b->key[k];
                c->upd_prio[n++] = priorities[k];
            }
        }
        if (n == 0) {
            continue;
        }
        Shoal__V1__PriorityUpdate u = SHOAL__V1__PRIORITY_UPDATE__INIT;
        u.n_key = n;
        u.key = c->upd_key;
        u.n_priority = n;
        u.priority = c->upd_prio;
        Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
        env.body_case = SHOAL__V1__ENVELOPE__BODY_PRIORITY_UPDATE;
        env.priority_update = &u;
        int rc = frame_send(c->sh[i].sock, &env, ZMQ_DONTWAIT, err);
        if (rc != SHOAL_OK) {
            return shoal_err_prefix(err, "priority update to shard %zu (%s)", i,
                                    c->sh[i].endpoint);
        }
    }
    int rc = pump(c, 0, err);
    return rc == SHOAL_OK ? take_async(c, err) : rc;
}
