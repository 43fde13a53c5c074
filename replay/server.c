#include "replay/server.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/counts.h"
#include "common/grow.h"
#include "common/fileio.h"
#include "common/frame.h"
#include "common/log.h"
#include "replay/checkpoint.h"
#include "replay/demofile.h"
#include "replay/insight.h"
#include "replay/wire.h"

const config_key replay_config_keys[] = {
    {"replay", "capacity", CONFIG_INT, "1000000", 1, 4294967295.0, NULL,
     "agent transitions each shard keeps (FIFO ring; memory is allocated at start)"},
    {"replay", "demo_capacity", CONFIG_INT, "0", 0, 4294967295.0, NULL,
     "demonstrations each shard can hold (never evicted); at least what replay.demos holds"},
    /* Run folders written before the env facts hold these two in their config.ini; they are
     * accepted so that such runs still resume, and ignored: the facts are derived again. */
    {"replay", "obs_shape", CONFIG_STRING, "", 0, 0, NULL,
     "ignored; superseded by env.obs_shape (accepted so that older run folders resume)"},
    {"replay", "obs_dtype", CONFIG_STRING, "", 0, 0, NULL,
     "ignored; superseded by env.obs_dtype (accepted so that older run folders resume)"},
    {"replay", "alpha", CONFIG_FLOAT, "0.6", 0, 1, NULL, "priority exponent α (PER)"},
    {"replay", "beta", CONFIG_FLOAT, "0.4", 0, 1, NULL,
     "importance-sampling exponent β requested by learners (the start of its annealing "
     "when learner.beta_anneal_updates > 0)"},
    {"replay", "epsilon", CONFIG_FLOAT, "1e-6", 0, 1e6, NULL,
     "ε added to every |δ| before ^α (ε_a for agent data)"},
    {"replay", "epsilon_demo", CONFIG_FLOAT, "1.0", 0, 1e6, NULL,
     "DQfD demo bonus ε_d: demonstrations' ε in mixed sampling"},
    {"replay", "demo_fraction", CONFIG_FLOAT, "0.25", 0, 1, NULL,
     "exact share of demonstrations in each learner batch (Ape-X DQfD)"},
    {"replay", "mixed", CONFIG_BOOL, "false", 0, 0, NULL,
     "learners sample one mixed tree with the demo bonus (DQfD) instead of a fixed fraction"},
    {"replay", "min_size", CONFIG_INT, "1000", 0, 4294967295.0, NULL,
     "agent transitions a shard must hold before it serves samples"},
    {"replay", "samples_per_insert", CONFIG_FLOAT, "8", 0, 1e6, NULL,
     "target ratio of sampled to inserted transitions (0: no ratio; 8 is Nature DQN's batch of "
     "32 every 4 frames, docs/results.md)"},
    {"replay", "tolerance", CONFIG_FLOAT, "4096", 0, 1e12, NULL,
     "half-width of the samples-per-insert band, in transitions (>= batch size / 2)"},
    {"replay", "credits", CONFIG_INT, "4", 1, 1024, NULL,
     "insert batches an actor may have unacknowledged per shard (flow control)"},
    {"replay", "max_batch", CONFIG_INT, "1024", 1, 1048576, NULL,
     "largest sample batch a shard serves"},
    {"replay", "max_message_bytes", CONFIG_INT, "67108864", 4096, 2147483647.0, NULL,
     "largest message a shard accepts; larger ones get an Error"},
    {"replay", "max_actors", CONFIG_INT, "4096", 1, 1048576, NULL,
     "actor ids a shard accepts (0..max_actors-1)"},
    {"replay", "max_pending", CONFIG_INT, "256", 1, 65536, NULL,
     "sample requests the rate limiter may hold at once per shard"},
    {"replay", "checkpoint", CONFIG_STRING, "", 0, 0, NULL,
     "checkpoint file of shard I: '%d' is replaced by I (empty: no checkpoints)"},
    {"replay", "checkpoint_secs", CONFIG_FLOAT, "600", 0, 1e9, NULL,
     "seconds between checkpoints (0: only on SIGTERM/SIGINT)"},
    {"replay", "checkpoint_max_failures", CONFIG_INT, "3", 1, 1000000, NULL,
     "periodic checkpoints that may fail in a row (retried with back-off, the previous file "
     "kept) before the shard stops with an error"},
    {"replay", "count_table", CONFIG_INT, "1048576", 16, 1073741824.0, NULL,
     "slots of the shard's table of the SimHash codes its actors send (exploration.counts = "
     "shared; a power of two, 16 bytes each, allocated with the first codes)"},
    {"replay", "demos", CONFIG_STRING, "", 0, 0, NULL,
     "demonstration files loaded at start, comma-separated (docs/formats.md)"},
    CONFIG_KEY_END,
};

typedef struct peer_id {
    uint8_t id[FRAME_ID_MAX];
    size_t len;
} peer_id;

typedef struct held_sample {
    peer_id peer;
    uint64_t request_id;
    replay_sample_req req;
    uint64_t since_ns;
} held_sample;

typedef struct held_ack {
    peer_id peer;
    uint64_t seq;
    uint32_t accepted;
    uint32_t actor;
    uint64_t since_ns;
} held_ack;

/* Shared counts: the codes one actor sent since its last ack, whose totals its next ack
 * carries. Grows to the largest backlog an actor builds (credits batches), then stays. */
typedef struct visit_list {
    uint64_t *code;
    size_t n, cap;
} visit_list;

/* A FIFO of fixed capacity over caller-sized items. */
typedef struct fifo {
    void *items;
    size_t item_bytes, cap, head, n;
} fifo;

/* DAgger labels an actor sent (ActorStats.labels...): counters of the run's traffic, kept
 * apart from replay_actor_rec, which checkpoints hold; they restart from 0 with the shard. */
typedef struct label_rec {
    uint64_t labels, label_ns, expert_steps;
} label_rec;

struct replay_server {
    replay_server_config cfg;
    char endpoint[256];
    void *ctx;
    void *sock;
    curve_zap *zap; /* with cfg.curve.on: who may connect */
    replay_store *store;
    replay_limiter lim;
    frame_arena *arena;
    replay_sample *sample;
    protobuf_c_boolean *demo_flags; /* (max_batch) for SampleBatch.demo */
    protobuf_c_boolean *label_flags; /* (max_batch) for SampleBatch.label */
    label_rec *labels;               /* (max_actors) DAgger labels per actor */
    replay_actor_rec *actors;              /* (max_actors) */
    Shoal__V1__ActorStats *actor_msgs;
    Shoal__V1__ActorStats **actor_ptrs;
    replay_actor_stats *actor_stats; /* (max_actors) the Stats reply's actors */
    fifo samples; /* held_sample */
    fifo acks;    /* held_ack */
    uint64_t errors;
    uint64_t start_ns;
    uint64_t env_steps;
    replay_insight_rec *insight;
    uint64_t insert_holds, sample_holds; /* replies the limiter has held since start */
    replay_ckpt_job ckpt;      /* the periodic checkpoint being written, if any */
    uint64_t next_ckpt_ns;     /* when the next periodic checkpoint starts */
    uint32_t ckpt_failures;    /* periodic checkpoints failed in a row */
    /* shared counts (NULL until the first batch with visit codes) */
    count_table *visit_counts;
    visit_list *visits;        /* (max_actors) */
    uint64_t *reply_counts;    /* the counts of one ack, grown as visit lists grow */
    size_t reply_cap;
};

static int fifo_init(fifo *q, size_t item_bytes, size_t cap)
{
    q->items = calloc(cap, item_bytes);
    q->item_bytes = item_bytes;
    q->cap = cap;
    return q->items ? SHOAL_OK : SHOAL_ENOMEM;
}

static void *fifo_at(const fifo *q, size_t i)
{
    return (uint8_t *)q->items + ((q->head + i) % q->cap) * q->item_bytes;
}

static void *fifo_push(fifo *q)
{
    if (q->n == q->cap) {
        return NULL;
    }
    return fifo_at(q, q->n++);
}

static void fifo_pop(fifo *q)
{
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

int replay_server_config_from(const config *c, uint32_t shard, const char *bind,
                              replay_server_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    replay_store_config *st = &out->store;
    obs_facts facts;
    if (obs_facts_from_config(c, &facts, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    st->spec = facts.obs;
    st->capacity = (size_t)config_int(c, "replay", "capacity");
    st->demo_capacity = (size_t)config_int(c, "replay", "demo_capacity");
    st->alpha = config_float(c, "replay", "alpha");
    st->epsilon = config_float(c, "replay", "epsilon");
    st->epsilon_demo = config_float(c, "replay", "epsilon_demo");
    st->seed = (uint64_t)config_int(c, "run", "seed");
    st->shard = shard;
    st->max_batch = (size_t)config_int(c, "replay", "max_batch");
    out->limiter.min_size = (uint64_t)config_int(c, "replay", "min_size");
    out->limiter.samples_per_insert = config_float(c, "replay", "samples_per_insert");
    out->limiter.tolerance = config_float(c, "replay", "tolerance");
    out->credits = (uint32_t)config_int(c, "replay", "credits");
    out->max_message_bytes = (size_t)config_int(c, "replay", "max_message_bytes");
    out->max_actors = (uint32_t)config_int(c, "replay", "max_actors");
    out->max_pending = (size_t)config_int(c, "replay", "max_pending");
    out->checkpoint_secs = config_float(c, "replay", "checkpoint_secs");
    out->checkpoint_max_failures = (uint32_t)config_int(c, "replay", "checkpoint_max_failures");
    out->count_table = (size_t)config_int(c, "replay", "count_table");
    if (strlen(bind) >= sizeof out->bind) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s' is too long", bind);
    }
    strcpy(out->bind, bind);
    const char *demos = config_str(c, "replay", "demos");
    const char *ck = config_str(c, "replay", "checkpoint");
    if (strlen(demos) >= sizeof out->demos) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.demos is too long");
    }
    strcpy(out->demos, demos);
    /* '%d' becomes the shard index, so one config serves every shard. */
    int rc = file_path_with_index(out->checkpoint_path, sizeof out->checkpoint_path, ck, shard,
                                  "replay.checkpoint", err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    return replay_limiter_check(&out->limiter, st->capacity, err);
}

static bool may_ack(const replay_server *s)
{
    return (s->cfg.drain && *s->cfg.drain) || replay_limiter_can_ack(&s->lim);
}

/* ---- replies ---- */

static void reply_error(replay_server *s, const peer_id *p, int code, uint64_t request_id,
                        const char *message)
{
    Shoal__V1__Error e = SHOAL__V1__ERROR__INIT;
    e.code = (uint32_t)code;
    e.message = (char *)message;
    e.request_id = request_id;
    e.shard = s->cfg.store.shard;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    s->errors++;
    shoal_err err = {0};
    if (frame_send_to(s->sock, p->id, p->len, &env, ZMQ_DONTWAIT, &err) != SHOAL_OK) {
        log_warn("shard %u: cannot send an Error reply: %s", s->cfg.store.shard, err.msg);
    }
    log_debug("shard %u: answered %s: %s", s->cfg.store.shard, shoal_err_name(code), message);
}

static void send_or_log(replay_server *s, const peer_id *p, Shoal__V1__Envelope *env,
                        const char *what)
{
    shoal_err err = {0};
    if (frame_send_to(s->sock, p->id, p->len, env, ZMQ_DONTWAIT, &err) != SHOAL_OK) {
        log_warn("shard %u: cannot send %s: %s", s->cfg.store.shard, what, err.msg);
    }
}

/* The ack to actor `actor` (UINT32_MAX: a demo batch) carries the totals of the codes that
 * actor sent since its previous ack, read now, so a held ack hands back the freshest counts. */
static void send_ack(replay_server *s, const peer_id *p, uint64_t seq, uint32_t accepted,
                     uint32_t actor)
{
    Shoal__V1__InsertAck a = SHOAL__V1__INSERT_ACK__INIT;
    a.seq = seq;
    a.accepted = accepted;
    a.credits = s->cfg.credits;
    visit_list *v = s->visits && actor < s->cfg.max_actors ? &s->visits[actor] : NULL;
    if (v && v->n) {
        for (size_t i = 0; i < v->n; i++) {
            s->reply_counts[i] = count_table_get(s->visit_counts, v->code[i]);
        }
        a.n_visit_code = a.n_visit_count = v->n;
        a.visit_code = v->code;
        a.visit_count = s->reply_counts;
        v->n = 0;
    }
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_ACK;
    env.insert_ack = &a;
    send_or_log(s, p, &env, "an InsertAck");
}

static void fill_totals(const replay_totals *t, double *agent, double *demo, double *bonus)
{
    *agent = t->agent;
    *demo = t->demo;
    *bonus = t->demo_bonus;
}

/* Samples and sends; the request has passed validation and the limiter. */
static void serve_sample(replay_server *s, const peer_id *p, uint64_t request_id,
                         const replay_sample_req *req)
{
    shoal_err err = {0};
    replay_sample *x = s->sample;
    if (replay_store_sample(s->store, req, x, &err) != SHOAL_OK) {
        reply_error(s, p, err.code, request_id, err.msg);
        return;
    }
    if (!req->demo_only || req->paced) {
        replay_limiter_sampled(&s->lim, x->count);
    }
    replay_insight_rec_sampled(s->insight, x->key, x->count,
                               replay_store_counters_get(s->store).inserted, clock_now_ns());
    replay_wire_sample w;
    replay_wire_sample_batch(x, replay_store_spec(s->store), s->demo_flags, s->label_flags, &w);
    Shoal__V1__SampleBatch *b = &w.msg;
    b->request_id = request_id;
    b->shard = s->cfg.store.shard;
    replay_totals t = replay_store_totals(s->store);
    fill_totals(&t, &b->agent_total, &b->demo_total, &b->demo_bonus_total);
    b->size = t.size;
    b->demo_size = t.demo_size;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_SAMPLE_BATCH;
    env.sample_batch = b;
    send_or_log(s, p, &env, "a SampleBatch");
}

/* ---- handlers ---- */

static void note_actor(replay_server *s, const Shoal__V1__InsertBatch *b)
{
    s->env_steps += b->env_steps;
    if (b->actor_id >= s->cfg.max_actors) {
        return; /* demonstrations */
    }
    replay_actor_rec *a = &s->actors[b->actor_id];
    a->seen = true;
    a->params_version = b->params_version;
    a->last_seen_s = clock_since_s(s->start_ns);
    if (b->label) {
        label_rec *l = &s->labels[b->actor_id];
        l->labels += b->count;
        l->label_ns += b->label_ns;
        l->expert_steps += b->expert_steps;
        return; /* its env steps and episodes travel in the actor's own batches */
    }
    a->transitions += b->count;
    a->env_steps += b->env_steps;
    for (size_t i = 0; i < b->n_episode_return; i++) {
        a->episodes++;
        a->return_sum += b->episode_return[i];
        a->last_return = b->episode_return[i];
        if (b->n_episode_intrinsic_return) {
            a->intrinsic_sum += b->episode_intrinsic_return[i];
        }
    }
}

/* Shared counts: adds an agent batch's visit codes to the shard's counts and queues them for
 * the actor's next ack. */
static int count_visits(replay_server *s, const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    if (b->demo || b->label) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.visit_code in a demonstration or "
                             "label batch; only an actor's own batches carry visits");
    }
    if (b->n_visit_code > REPLAY_MAX_VISITS) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch carries %zu visit codes; at most "
                             "%u", b->n_visit_code, REPLAY_MAX_VISITS);
    }
    if (!s->visit_counts) {
        size_t slots = s->cfg.count_table ? s->cfg.count_table : (size_t)1 << 20;
        s->visit_counts = count_table_new(slots, "replay.count_table", err);
        s->visits = s->visit_counts ? calloc(s->cfg.max_actors, sizeof *s->visits) : NULL;
        if (!s->visits) {
            return s->visit_counts ? shoal_err_set(err, SHOAL_ENOMEM, "shard %u: out of memory "
                                                   "for shared counts", s->cfg.store.shard)
                                   : err->code;
        }
    }
    visit_list *v = &s->visits[b->actor_id];
    size_t need = v->n + b->n_visit_code;
    if (grow_items((void **)&v->code, &v->cap, need, sizeof *v->code) != SHOAL_OK ||
        grow_items((void **)&s->reply_counts, &s->reply_cap, need, sizeof *s->reply_counts) !=
            SHOAL_OK) {
        return shoal_err_set(err, SHOAL_ENOMEM, "shard %u: out of memory for %zu visit codes",
                             s->cfg.store.shard, need);
    }
    for (size_t i = 0; i < b->n_visit_code; i++) {
        count_table_add(s->visit_counts, b->visit_code[i], 1);
        v->code[v->n++] = b->visit_code[i];
    }
    return SHOAL_OK;
}

static void on_insert(replay_server *s, const peer_id *p, const Shoal__V1__InsertBatch *b)
{
    shoal_err err = {0};
    replay_transitions t;
    if (replay_wire_insert_view(b, replay_store_spec(s->store), s->cfg.max_message_bytes, &t,
                                &err) != SHOAL_OK) {
        reply_error(s, p, err.code, b->seq, err.msg);
        return;
    }
    if ((!b->demo || b->label) && b->actor_id >= s->cfg.max_actors) {
        shoal_err_set(&err, SHOAL_EPROTO, "insert_batch.actor_id %u is out of range 0..%u "
                      "(replay.max_actors)", b->actor_id, s->cfg.max_actors - 1);
        reply_error(s, p, err.code, b->seq, err.msg);
        return;
    }
    /* Demonstrations and DAgger labels are acked at once: the limiter paces the agent data,
     * and an actor's labels come one per step it also sends, so that pacing bounds them. */
    replay_actor_rec *a = b->demo ? NULL : &s->actors[b->actor_id];
    if (a && a->held >= s->cfg.credits) {
        shoal_err_set(&err, SHOAL_EPROTO, "actor %u sent batch seq %llu beyond its %u credits "
                      "(wait for an InsertAck before sending more); nothing stored", b->actor_id,
                      (unsigned long long)b->seq, s->cfg.credits);
        reply_error(s, p, err.code, b->seq, err.msg);
        return;
    }
    if (b->n_visit_code && count_visits(s, b, &err) != SHOAL_OK) {
        reply_error(s, p, err.code, b->seq, err.msg);
        return;
    }
    uint64_t inserted_before = replay_store_counters_get(s->store).inserted;
    if (replay_store_insert(s->store, &t, b->demo, &err) != SHOAL_OK) {
        reply_error(s, p, err.code, b->seq, err.msg);
        return;
    }
    if (!b->demo) {
        replay_insight_rec_inserted(s->insight, inserted_before, t.count, clock_now_ns());
    }
    note_actor(s, b);
    if (!a) {
        send_ack(s, p, b->seq, b->count, UINT32_MAX);
        return;
    }
    replay_limiter_inserted(&s->lim, t.count);
    if (s->acks.n == 0 && may_ack(s)) {
        send_ack(s, p, b->seq, b->count, b->actor_id);
        return;
    }
    held_ack *h = fifo_push(&s->acks); /* cannot fail: held <= credits per actor */
    h->peer = *p;
    h->seq = b->seq;
    h->accepted = b->count;
    h->actor = b->actor_id;
    h->since_ns = clock_now_ns();
    a->held++;
    s->insert_holds++;
}

static void on_sample(replay_server *s, const peer_id *p, const Shoal__V1__SampleRequest *r)
{
    shoal_err err = {0};
    replay_sample_req req;
    if (replay_wire_sample_req(r, s->cfg.store.max_batch, &req, &err) != SHOAL_OK) {
        reply_error(s, p, err.code, r->request_id, err.msg);
        return;
    }
    if (req.demo_only && !req.paced) {
        serve_sample(s, p, r->request_id, &req); /* pre-training: no actors to pace */
        return;
    }
    size_t max = replay_limiter_max_batch(&s->lim);
    if (req.batch_size > max) {
        shoal_err_set(&err, SHOAL_EPROTO, "sample_request.batch_size %zu exceeds %zu (twice "
                      "replay.tolerance): the rate limiter could never serve it", req.batch_size,
                      max);
        reply_error(s, p, err.code, r->request_id, err.msg);
        return;
    }
    uint64_t size = replay_store_totals(s->store).size;
    if (s->samples.n == 0 && replay_limiter_can_sample(&s->lim, size, req.batch_size)) {
        serve_sample(s, p, r->request_id, &req);
        return;
    }
    held_sample *h = fifo_push(&s->samples);
    if (!h) {
        shoal_err_set(&err, SHOAL_EAGAIN, "%zu sample requests are already waiting for the rate "
                      "limiter (replay.max_pending); retry later", s->samples.cap);
        reply_error(s, p, err.code, r->request_id, err.msg);
        return;
    }
    h->peer = *p;
    h->request_id = r->request_id;
    h->req = req;
    h->since_ns = clock_now_ns();
    s->sample_holds++;
}

static void on_update(replay_server *s, const peer_id *p, const Shoal__V1__PriorityUpdate *u)
{
    shoal_err err = {0};
    if (replay_wire_priority_update(u, s->cfg.max_message_bytes, &err) != SHOAL_OK ||
        replay_store_update(s->store, u->key, u->priority, u->n_key, NULL, &err) != SHOAL_OK) {
        reply_error(s, p, err.code, 0, err.msg);
    }
}

/* How long the oldest reply held in q has waited at now_ns (0 when none). The held items
 * begin with their kind's fields; since_ns is read through the offset the caller gives. */
static double oldest_wait_s(const fifo *q, size_t since_offset, uint64_t now_ns)
{
    if (q->n == 0) {
        return 0.0;
    }
    uint64_t since;
    memcpy(&since, (const uint8_t *)fifo_at(q, 0) + since_offset, sizeof since);
    return now_ns > since ? (double)(now_ns - since) * 1e-9 : 0.0;
}

static void fill_insight(replay_server *s, const replay_store_counters *c, replay_insight *out)
{
    uint64_t now = clock_now_ns();
    replay_insight_rec_fill(s->insight, now, c->inserted, c->sampled, out);
    out->insert_holds = s->insert_holds;
    out->sample_holds = s->sample_holds;
    out->insert_wait_s = oldest_wait_s(&s->acks, offsetof(held_ack, since_ns), now);
    out->sample_wait_s = oldest_wait_s(&s->samples, offsetof(held_sample, since_ns), now);
    replay_store_priority_hist(s->store, out->priority_hist);
}

static void on_stats(replay_server *s, const peer_id *p, const Shoal__V1__StatsRequest *r)
{
    replay_totals t = replay_store_totals(s->store);
    replay_store_counters c = replay_store_counters_get(s->store);
    replay_limiter_account(&s->lim, s->acks.n > 0, s->samples.n > 0, clock_now_ns());
    replay_stats st = {
        .shard = s->cfg.store.shard, .size = t.size,
        .capacity = replay_store_capacity(s->store), .demo_size = t.demo_size,
        .demo_capacity = replay_store_demo_capacity(s->store), .inserted = c.inserted,
        .sampled = c.sampled, .demo_sampled = c.demo_sampled,
        .insert_blocked_s = s->lim.insert_blocked_s, .sample_blocked_s = s->lim.sample_blocked_s,
        .memory_bytes = replay_store_footprint(s->store), .env_steps = s->env_steps,
        .uptime_s = clock_since_s(s->start_ns), .priority_updates = c.updates,
        .stale_updates = c.stale_updates, .errors = s->errors,
        .held_samples = (uint32_t)s->samples.n, .held_acks = (uint32_t)s->acks.n,
        .actors = s->actor_stats};
    fill_totals(&t, &st.agent_total, &st.demo_total, &st.demo_bonus_total);
    fill_insight(s, &c, &st.insight);
    for (uint32_t i = 0; i < s->cfg.max_actors; i++) {
        const replay_actor_rec *a = &s->actors[i];
        const label_rec *l = &s->labels[i];
        if (a->seen) {
            s->actor_stats[st.n_actors++] = (replay_actor_stats){
                .actor_id = i, .episodes = a->episodes, .env_steps = a->env_steps,
                .return_sum = a->return_sum, .last_return = a->last_return,
                .intrinsic_return_sum = a->intrinsic_sum,
                .params_version = a->params_version, .last_seen_s = a->last_seen_s,
                .labels = l->labels, .label_ns = l->label_ns, .expert_steps = l->expert_steps};
        }
    }
    Shoal__V1__Stats msg;
    replay_wire_stats(&st, &msg, s->actor_msgs, s->actor_ptrs);
    msg.request_id = r->request_id;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_STATS;
    env.stats = &msg;
    send_or_log(s, p, &env, "Stats");
}

static void dispatch(replay_server *s, const peer_id *p, const Shoal__V1__Envelope *env)
{
    switch (env->body_case) {
    case SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH: on_insert(s, p, env->insert_batch); break;
    case SHOAL__V1__ENVELOPE__BODY_SAMPLE_REQUEST: on_sample(s, p, env->sample_request); break;
    case SHOAL__V1__ENVELOPE__BODY_PRIORITY_UPDATE: on_update(s, p, env->priority_update); break;
    case SHOAL__V1__ENVELOPE__BODY_STATS_REQUEST: on_stats(s, p, env->stats_request); break;
    default:
        reply_error(s, p, SHOAL_EPROTO, 0, "a replay shard serves InsertBatch, SampleRequest, "
                    "PriorityUpdate and StatsRequest only");
    }
}

/* Releases held replies in arrival order while the limiter allows. */
static void release(replay_server *s)
{
    while (s->samples.n) {
        held_sample *h = fifo_at(&s->samples, 0);
        if (!replay_limiter_can_sample(&s->lim, replay_store_totals(s->store).size,
                                       h->req.batch_size)) {
            break;
        }
        held_sample copy = *h;
        fifo_pop(&s->samples);
        serve_sample(s, &copy.peer, copy.request_id, &copy.req);
    }
    while (s->acks.n && may_ack(s)) {
        held_ack *h = fifo_at(&s->acks, 0);
        s->actors[h->actor].held--;
        send_ack(s, &h->peer, h->seq, h->accepted, h->actor);
        fifo_pop(&s->acks);
    }
    replay_limiter_account(&s->lim, s->acks.n > 0, s->samples.n > 0, clock_now_ns());
    replay_store_counters c = replay_store_counters_get(s->store);
    replay_insight_rec_tick(s->insight, clock_now_ns(), c.inserted, c.sampled);
}

/* Receives one message without waiting; EAGAIN when none is queued. */
static int serve_one(replay_server *s, shoal_err *err)
{
    peer_id p;
    Shoal__V1__Envelope *env = NULL;
    frame_arena_reset(s->arena);
    int rc = frame_recv_from(s->sock, p.id, &p.len, s->cfg.max_message_bytes, s->arena, &env,
                             ZMQ_DONTWAIT, err);
    if (rc == SHOAL_EPROTO || rc == SHOAL_EVERSION) {
        if (p.len) {
            reply_error(s, &p, rc, 0, err->msg);
        }
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    dispatch(s, &p, env);
    return SHOAL_OK;
}

int replay_server_poll(replay_server *s, int timeout_ms, shoal_err *err)
{
    zmq_pollitem_t item = {.socket = s->sock, .events = ZMQ_POLLIN};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) {
        if (zmq_errno() == EINTR) {
            return SHOAL_OK; /* a signal: the caller checks its stop flag */
        }
        return shoal_err_set(err, SHOAL_EIO, "shard %u: zmq_poll: %s", s->cfg.store.shard,
                             zmq_strerror(zmq_errno()));
    }
    /* Bounded batch per wake-up so held replies are released between bursts. */
    for (int i = 0; n > 0 && i < 1024; i++) {
        shoal_err e = {0};
        int rc = serve_one(s, &e);
        if (rc == SHOAL_EAGAIN || rc == SHOAL_EINTERRUPTED) {
            break;
        }
        if (rc != SHOAL_OK) {
            return shoal_err_set(err, rc, "shard %u: %s", s->cfg.store.shard, e.msg);
        }
    }
    release(s);
    return SHOAL_OK;
}

/* ---- checkpoints ---- */

static replay_ckpt_state ckpt_state(replay_server *s)
{
    return (replay_ckpt_state){.shard = s->cfg.store.shard, .store = s->store, .lim = &s->lim,
                               .errors = &s->errors, .env_steps = &s->env_steps,
                               .actors = s->actors, .max_actors = s->cfg.max_actors};
}

/* Brings the limiter's blocked time up to now, so that the checkpoint holds it. */
static void account_now(replay_server *s)
{
    replay_limiter_account(&s->lim, s->acks.n > 0, s->samples.n > 0, clock_now_ns());
}

/* Writes in this process, the serve loop waiting (the final checkpoint, or when no child can
 * be forked). */
static int write_here(replay_server *s, shoal_err *err)
{
    uint64_t t0 = clock_now_ns();
    account_now(s);
    replay_ckpt_state st = ckpt_state(s);
    uint64_t bytes = 0;
    int rc = replay_ckpt_write(s->cfg.checkpoint_path, &st, &bytes, err);
    if (rc == SHOAL_OK) {
        log_info("shard %u: checkpoint %s written (%llu bytes, %.3f s, serving paused)",
                 s->cfg.store.shard, s->cfg.checkpoint_path, (unsigned long long)bytes,
                 clock_since_s(t0));
    }
    return rc;
}

int replay_server_checkpoint(replay_server *s, shoal_err *err)
{
    if (!s->cfg.checkpoint_path[0]) {
        return shoal_err_set(err, SHOAL_ESTATE, "no checkpoint path (replay.checkpoint)");
    }
    shoal_err e = {0};
    if (replay_ckpt_poll(&s->ckpt, true, NULL, &e) != SHOAL_OK) {
        log_warn("shard %u: the periodic checkpoint in progress failed: %s", s->cfg.store.shard,
                 e.msg);
    }
    return write_here(s, err);
}

/* Seconds until the next attempt after `failures` failed ones in a row: the period, doubled
 * after each failure from one second up (so a tiny period cannot retry in a tight loop) and
 * capped at the larger of the period and a minute. */
static double retry_secs(double period_s, uint32_t failures)
{
    double base = period_s > 1.0 ? period_s : 1.0;
    double cap = period_s > 60.0 ? period_s : 60.0;
    double d = base;
    for (uint32_t i = 1; i < failures && d < cap; i++) {
        d *= 2;
    }
    return d < cap ? d : cap;
}

/* Counts the outcome of a periodic checkpoint and schedules the next. A failure is logged once
 * per attempt, and attempts are at least a period apart, so the log gets at most one line per
 * period; after checkpoint_max_failures in a row the shard gives up: ESTATE (the caller stops
 * serving and the run learns of it from the role's failure). */
static int count_outcome(replay_server *s, const replay_ckpt_job *job, int rc,
                         const replay_ckpt_done *done, const shoal_err *e, shoal_err *err)
{
    uint32_t shard = s->cfg.store.shard;
    const char *path = s->cfg.checkpoint_path;
    if (rc == SHOAL_OK) {
        log_info("shard %u: checkpoint %s written (%llu bytes, %.3f s in a child process; "
                 "serving paused %.1f ms for the fork)%s", shard, path,
                 (unsigned long long)done->bytes, done->write_s, job->fork_s * 1e3,
                 s->ckpt_failures ? " after failed attempts" : "");
        s->ckpt_failures = 0;
        return SHOAL_OK;
    }
    s->ckpt_failures++;
    if (s->ckpt_failures >= s->cfg.checkpoint_max_failures) {
        return shoal_err_set(err, SHOAL_ESTATE, "checkpoint failed %u times in a row "
                             "(replay.checkpoint_max_failures), last: %s; the previous checkpoint "
                             "%s is kept: free space (or fix the folder) and resume the run",
                             s->ckpt_failures, e->msg, path);
    }
    double wait_s = retry_secs(s->cfg.checkpoint_secs, s->ckpt_failures);
    s->next_ckpt_ns = clock_now_ns() + (uint64_t)(wait_s * 1e9);
    log_error("shard %u: checkpoint failed (%u of %u in a row): %s; next attempt in %.0f s",
              shard, s->ckpt_failures, s->cfg.checkpoint_max_failures, e->msg, wait_s);
    return SHOAL_OK;
}

/* The periodic checkpoint: starts one when it is due and none is in flight, and collects the
 * result of the one in flight without waiting. The fork snapshots the shard at one point in
 * time (its store, demonstrations and counters), so serving goes on while the child writes. */
static int periodic_checkpoint(replay_server *s, shoal_err *err)
{
    replay_ckpt_done done = {0};
    shoal_err e = {0};
    if (s->ckpt.pid > 0) {
        replay_ckpt_job job = s->ckpt;
        int rc = replay_ckpt_poll(&s->ckpt, false, &done, &e);
        return rc == SHOAL_EAGAIN ? SHOAL_OK : count_outcome(s, &job, rc, &done, &e, err);
    }
    uint64_t now = clock_now_ns();
    if (now < s->next_ckpt_ns) {
        return SHOAL_OK;
    }
    s->next_ckpt_ns = now + (uint64_t)(s->cfg.checkpoint_secs * 1e9);
    account_now(s);
    replay_ckpt_state st = ckpt_state(s);
    int rc = replay_ckpt_start(&s->ckpt, s->cfg.checkpoint_path, &st, &e);
    if (rc == SHOAL_EAGAIN) {
        log_warn("shard %u: %s; writing the checkpoint in the serve loop", s->cfg.store.shard,
                 e.msg);
        e = (shoal_err){0};
        rc = write_here(s, &e);
        if (rc == SHOAL_OK) {
            s->ckpt_failures = 0;
            return SHOAL_OK;
        }
        return count_outcome(s, &s->ckpt, rc, &done, &e, err);
    }
    return rc == SHOAL_OK ? SHOAL_OK : count_outcome(s, &s->ckpt, rc, &done, &e, err);
}

/* Restores the checkpoint at path. ENOTFOUND when there is none; on any other error the shard
 * is left empty. */
static int restore(replay_server *s, const char *path, shoal_err *err)
{
    replay_ckpt_state st = ckpt_state(s);
    int rc = replay_ckpt_read(path, &st, err);
    if (rc != SHOAL_OK && rc != SHOAL_ENOTFOUND) {
        replay_store_clear(s->store);
        memset(s->actors, 0, s->cfg.max_actors * sizeof *s->actors);
        replay_limiter_init(&s->lim, &s->cfg.limiter);
        s->errors = 0;
        s->env_steps = 0;
    }
    return rc;
}

/* ---- lifecycle ---- */

static int bind_socket(replay_server *s, shoal_err *err)
{
    s->ctx = zmq_ctx_new();
    if (!s->ctx) {
        return shoal_err_set(err, SHOAL_EIO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    }
    s->sock = zmq_socket(s->ctx, ZMQ_ROUTER);
    if (!s->sock) {
        return shoal_err_set(err, SHOAL_EIO, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    }
    int64_t hard = (int64_t)s->cfg.max_message_bytes * 2;
    int linger = 0;
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* The default high-water marks stay: a peer that never reads its replies loses the ones
     * beyond 1000 queued (ROUTER drops, never blocks) instead of growing the shard's memory;
     * credits and pipelining keep well-behaved peers far below that. */
    if (s->cfg.curve.on) {
        s->zap = curve_zap_new(s->ctx, &s->cfg.curve, err);
        if (!s->zap || curve_socket_server(s->sock, &s->cfg.curve, err) != SHOAL_OK) {
            return shoal_err_prefix(err, "shard %u", s->cfg.store.shard);
        }
    }
    if (zmq_bind(s->sock, s->cfg.bind) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "shard %u: cannot bind %s: %s (is the port in use?)",
                             s->cfg.store.shard, s->cfg.bind, zmq_strerror(zmq_errno()));
    }
    size_t n = sizeof s->endpoint;
    if (zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &n) != 0) {
        snprintf(s->endpoint, sizeof s->endpoint, "%s", s->cfg.bind);
    }
    return SHOAL_OK;
}

static int alloc_all(replay_server *s, shoal_err *err)
{
    size_t mb = s->cfg.store.max_batch;
    s->sample = replay_sample_new(mb, s->cfg.store.spec.bytes, err);
    s->arena = frame_arena_new(1 << 20, err);
    s->demo_flags = calloc(mb, sizeof *s->demo_flags);
    s->label_flags = calloc(mb, sizeof *s->label_flags);
    s->labels = calloc(s->cfg.max_actors, sizeof *s->labels);
    s->actors = calloc(s->cfg.max_actors, sizeof *s->actors);
    s->actor_msgs = calloc(s->cfg.max_actors, sizeof *s->actor_msgs);
    s->actor_ptrs = calloc(s->cfg.max_actors, sizeof *s->actor_ptrs);
    s->actor_stats = calloc(s->cfg.max_actors, sizeof *s->actor_stats);
    s->insight = replay_insight_rec_new(s->cfg.store.capacity, err);
    if (!s->sample || !s->arena || !s->demo_flags || !s->label_flags || !s->labels || !s->actors || !s->actor_msgs ||
        !s->actor_ptrs || !s->actor_stats || !s->insight ||
        fifo_init(&s->samples, sizeof(held_sample), s->cfg.max_pending) ||
        fifo_init(&s->acks, sizeof(held_ack), (size_t)s->cfg.max_actors * s->cfg.credits)) {
        return shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the shard's buffers");
    }
    return SHOAL_OK;
}

/* Demo capacity: what the config asks, but at least what the demo files hold. */
static int size_demos(replay_server_config *cfg, shoal_err *err)
{
    if (!cfg->demos[0]) {
        return SHOAL_OK;
    }
    size_t n;
    if (replay_demo_count(cfg->demos, &n, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "replay.demos");
    }
    if (n > cfg->store.demo_capacity) {
        cfg->store.demo_capacity = n;
    }
    return SHOAL_OK;
}

static int fill_store(replay_server *s, shoal_err *err)
{
    const char *ck = s->cfg.checkpoint_path;
    int rc = ck[0] ? restore(s, ck, err) : SHOAL_ENOTFOUND;
    if (rc == SHOAL_OK) {
        replay_totals t = replay_store_totals(s->store);
        log_info("shard %u: restored %s: %llu transitions, %llu demonstrations", s->cfg.store.shard,
                 ck, (unsigned long long)t.size, (unsigned long long)t.demo_size);
        if (s->cfg.demos[0]) {
            log_info("shard %u: demonstrations come from the checkpoint; replay.demos not reloaded",
                     s->cfg.store.shard);
        }
        return SHOAL_OK;
    }
    if (rc != SHOAL_ENOTFOUND) {
        return shoal_err_prefix(err, "refusing checkpoint (left in place; fix or move it away "
                                "to start empty)");
    }
    size_t n = 0;
    if (s->cfg.demos[0] && replay_demo_load(s->store, s->cfg.demos, &n, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "replay.demos");
    }
    if (n) {
        log_info("shard %u: loaded %zu demonstrations from %s", s->cfg.store.shard, n,
                 s->cfg.demos);
    }
    return SHOAL_OK;
}

replay_server *replay_server_new(const replay_server_config *cfg, shoal_err *err)
{
    replay_server *s = calloc(1, sizeof *s);
    if (!s) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the replay server");
        return NULL;
    }
    s->cfg = *cfg;
    s->start_ns = clock_now_ns();
    s->next_ckpt_ns = s->start_ns + (uint64_t)(cfg->checkpoint_secs * 1e9);
    s->ckpt = (replay_ckpt_job)REPLAY_CKPT_JOB_INIT;
    replay_limiter_init(&s->lim, &cfg->limiter);
    if (cfg->credits == 0 || cfg->max_actors == 0 || cfg->max_pending == 0 ||
        cfg->max_message_bytes < 4096 ||
        (cfg->checkpoint_path[0] && cfg->checkpoint_max_failures == 0)) {
        shoal_err_set(err, SHOAL_EINVAL, "credits, max_actors, max_pending and (with a checkpoint) "
                      "checkpoint_max_failures must be >= 1 and max_message_bytes >= 4096");
        goto fail;
    }
    if (replay_limiter_check(&cfg->limiter, cfg->store.capacity, err) != SHOAL_OK ||
        size_demos(&s->cfg, err) != SHOAL_OK) {
        goto fail;
    }
    s->store = replay_store_new(&s->cfg.store, err);
    if (!s->store || alloc_all(s, err) != SHOAL_OK || fill_store(s, err) != SHOAL_OK ||
        bind_socket(s, err) != SHOAL_OK) {
        goto fail;
    }
    return s;
fail:
    replay_server_free(s);
    return NULL;
}

void replay_server_free(replay_server *s)
{
    if (!s) {
        return;
    }
    shoal_err e = {0};
    if (replay_ckpt_poll(&s->ckpt, true, NULL, &e) != SHOAL_OK) {
        log_warn("shard %u: the checkpoint in progress failed: %s", s->cfg.store.shard, e.msg);
    }
    if (s->sock) {
        zmq_close(s->sock);
    }
    curve_zap_free(s->zap);
    if (s->ctx) {
        zmq_ctx_term(s->ctx);
    }
    curve_keys_wipe(&s->cfg.curve);
    replay_store_free(s->store);
    replay_sample_free(s->sample);
    frame_arena_free(s->arena);
    free(s->demo_flags);
    free(s->label_flags);
    free(s->labels);
    free(s->actors);
    free(s->actor_msgs);
    free(s->actor_ptrs);
    free(s->actor_stats);
    replay_insight_rec_free(s->insight);
    free(s->samples.items);
    free(s->acks.items);
    if (s->visits) {
        for (uint32_t i = 0; i < s->cfg.max_actors; i++) {
            free(s->visits[i].code);
        }
    }
    free(s->visits);
    count_table_free(s->visit_counts);
    free(s->reply_counts);
    free(s);
}

const char *replay_server_endpoint(const replay_server *s)
{
    return s->endpoint;
}

const replay_store *replay_server_store(const replay_server *s)
{
    return s->store;
}

int replay_server_run(replay_server *s, volatile sig_atomic_t *stop, shoal_err *err)
{
    bool ckpt = s->cfg.checkpoint_path[0] != '\0';
    bool periodic = ckpt && s->cfg.checkpoint_secs > 0;
    while (!*stop) {
        int rc = replay_server_poll(s, 100, err);
        if (rc == SHOAL_OK && periodic) {
            rc = periodic_checkpoint(s, err);
        }
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    if (ckpt) {
        return replay_server_checkpoint(s, err);
    }
    return SHOAL_OK;
}
