#include "learner/prefetch.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

/* How long the thread blocks in one client call, so that stop and handed-back priorities are
 * noticed promptly; a shard that takes longer is simply waited for again. */
#define WAIT_MS 200
#define WARN_EVERY_S 10.0

/* DROPPED: handed back without priorities (the update failed), so nothing is sent for it. */
typedef enum slot_state { SLOT_FREE, SLOT_READY, SLOT_IN_USE, SLOT_DONE, SLOT_DROPPED } slot_state;

typedef struct slot {
    slot_state state;
    replay_sample *meta;  /* keys and shards of the samples, for the priority update */
    float *obs, *next_obs;
    uint32_t *action, *mask;
    float *reward, *discount, *weight, *priority;
    uint8_t *demo;
    learner_batch batch;
} slot;

struct learner_prefetch {
    learner_prefetch_config cfg;
    char **endpoints;
    replay_client *client;
    slot *slots;
    size_t n_slots;
    size_t fill, take, send; /* ring positions of the three hand-overs */
    size_t in_flight;        /* requests issued and not yet received */
    uint64_t issued, delivered;
    pthread_mutex_t mu;
    pthread_cond_t ready;    /* a slot became READY, a Stats poll completed, or the thread
                              * stopped (the learner's thread is the only waiter) */
    pthread_cond_t work;     /* a slot became DONE, or stop was asked */
    bool mu_ok, ready_ok, work_ok, thread_ok;
    pthread_t thread;
    bool stop, stopped;
    int rc;
    shoal_err err;
    learner_replay_stats stats;
    double next_stats_s;
    bool poll_asked;         /* learner_prefetch_poll_stats waits for a poll */
    bool demos_awaited;      /* the demo share waits for demonstrations (see probe) */
    uint64_t polls_begun;    /* Stats polls started; each is numbered by this count */
    uint64_t polls_done;     /* the number of the latest poll every shard answered */
    double next_warn_s;
};

static void slot_fini(slot *s)
{
    replay_sample_free(s->meta);
    free(s->obs);
    free(s->next_obs);
    free(s->action);
    free(s->mask);
    free(s->reward);
    free(s->discount);
    free(s->weight);
    free(s->priority);
    free(s->demo);
}

static int slot_init(slot *s, size_t max_batch, size_t obs_bytes, size_t in_floats,
                     shoal_err *err)
{
    memset(s, 0, sizeof *s);
    s->meta = replay_sample_new(max_batch, obs_bytes, err);
    s->obs = malloc(max_batch * in_floats * sizeof(float));
    s->next_obs = malloc(max_batch * in_floats * sizeof(float));
    s->action = malloc(max_batch * sizeof *s->action);
    s->mask = malloc(max_batch * sizeof *s->mask);
    s->reward = malloc(max_batch * sizeof *s->reward);
    s->discount = malloc(max_batch * sizeof *s->discount);
    s->weight = malloc(max_batch * sizeof *s->weight);
    s->priority = malloc(max_batch * sizeof *s->priority);
    s->demo = malloc(max_batch);
    if (!s->meta || !s->obs || !s->next_obs || !s->action || !s->mask || !s->reward ||
        !s->discount || !s->weight || !s->priority || !s->demo) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory for prefetch buffers (batch %zu)",
                             max_batch);
    }
    return SHOAL_OK;
}

/* Copies what the update and the priority update need out of the client's batch, which is
 * only valid until the next client call. */
static void slot_fill(slot *s, const replay_sample *x, const learner_prefetch_config *cfg)
{
    size_t n = x->count;
    s->meta->count = n;
    s->meta->n_heads = x->n_heads;
    s->meta->n_demo = x->n_demo;
    memcpy(s->meta->key, x->key, n * sizeof *x->key);
    memcpy(s->meta->shard, x->shard, n * sizeof *x->shard);
    obs_unpack_f32(s->obs, x->obs, &cfg->obs, n);
    obs_unpack_f32(s->next_obs, x->next_obs, &cfg->obs, n);
    memcpy(s->action, x->action, n * sizeof *x->action);
    memcpy(s->mask, x->mask, n * sizeof *x->mask);
    memcpy(s->reward, x->reward, n * sizeof *x->reward);
    memcpy(s->discount, x->discount, n * sizeof *x->discount);
    memcpy(s->weight, x->weight, n * sizeof *x->weight);
    for (size_t i = 0; i < n; i++) {
        s->demo[i] = x->demo[i] ? 1 : 0;
    }
    s->batch = (learner_batch){.count = n, .obs = s->obs, .next_obs = s->next_obs,
                               .action = s->action, .reward = s->reward,
                               .discount = s->discount, .mask = s->mask, .weight = s->weight,
                               .demo = s->demo};
}

static void add_shard_stats(learner_replay_stats *t, const replay_stats *s)
{
    t->size += s->size;
    t->demo_size += s->demo_size;
    t->capacity += s->capacity;
    t->inserted += s->inserted;
    t->sampled += s->sampled;
    t->demo_sampled += s->demo_sampled;
    t->priority_updates += s->priority_updates;
    t->stale_updates += s->stale_updates;
    t->env_steps += s->env_steps;
    t->sample_blocked_s += s->sample_blocked_s;
    t->insert_blocked_s += s->insert_blocked_s;
    replay_insight_merge(&t->insight, &s->insight);
    for (size_t a = 0; a < s->n_actors; a++) {
        t->episodes += s->actors[a].episodes;
        t->return_sum += s->actors[a].return_sum;
        t->intrinsic_return_sum += s->actors[a].intrinsic_return_sum;
        t->last_return_sum += s->actors[a].last_return;
        t->labels += s->actors[a].labels;
        t->label_ns += s->actors[a].label_ns;
        t->expert_steps += s->actors[a].expert_steps;
    }
    t->n_actors += s->n_actors;
}

static void warn_waiting(learner_prefetch *p, const shoal_err *e)
{
    double now = clock_now_s();
    if (now >= p->next_warn_s) {
        /* Before the first batch the shards are still filling up to replay.min_size: expected,
         * so it is news for the log file, not a warning for the terminal. */
        bool filling = __atomic_load_n(&p->delivered, __ATOMIC_RELAXED) == 0;
        log_write(filling ? LOG_INFO : LOG_WARN, "waiting for replay: %s", e->msg);
        p->next_warn_s = now + WARN_EVERY_S;
    }
}

/* Locked on entry and exit. One Stats round over the shards; ETIMEOUT is a retry (the poll is
 * left incomplete); anything else is returned. */
static int poll_stats(learner_prefetch *p)
{
    uint64_t id = ++p->polls_begun;
    pthread_mutex_unlock(&p->mu);
    learner_replay_stats t;
    memset(&t, 0, sizeof t);
    int rc = SHOAL_OK;
    shoal_err e = {0};
    for (size_t i = 0; i < p->cfg.n_shards; i++) {
        const replay_stats *s = NULL;
        rc = replay_client_stats(p->client, i, &s, &e);
        if (rc != SHOAL_OK) {
            break;
        }
        add_shard_stats(&t, s);
    }
    if (rc == SHOAL_ETIMEOUT) {
        warn_waiting(p, &e);
    }
    pthread_mutex_lock(&p->mu);
    if (rc == SHOAL_ETIMEOUT) {
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        p->err = e;
        return rc;
    }
    t.known = true;
    p->stats = t;
    p->polls_done = id;
    p->poll_asked = false;
    pthread_cond_broadcast(&p->ready);
    return SHOAL_OK;
}

/* Locked on entry and exit. Sends the priorities of every DONE slot, oldest first, and frees
 * DROPPED ones. */
static int send_done(learner_prefetch *p)
{
    while (p->slots[p->send].state == SLOT_DONE || p->slots[p->send].state == SLOT_DROPPED) {
        slot *s = &p->slots[p->send];
        if (s->state == SLOT_DROPPED) {
            s->state = SLOT_FREE;
            p->send = (p->send + 1) % p->n_slots;
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        shoal_err e = {0};
        int rc = replay_client_update_priorities(p->client, s->meta, s->priority, &e);
        pthread_mutex_lock(&p->mu);
        if (rc != SHOAL_OK) {
            p->err = e;
            return rc;
        }
        s->state = SLOT_FREE;
        p->send = (p->send + 1) % p->n_slots;
    }
    return SHOAL_OK;
}

static size_t n_free(const learner_prefetch *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_slots; i++) {
        n += p->slots[i].state == SLOT_FREE;
    }
    return n;
}

static bool may_issue(const learner_prefetch *p)
{
    bool more = p->cfg.n_batches == 0 || p->issued < p->cfg.n_batches;
    return more && p->in_flight < p->cfg.pipeline && n_free(p) > p->in_flight;
}

/* Whether a shard held demonstrations at its last reply (every SampleBatch says). */
static bool shards_hold_demos(const learner_prefetch *p)
{
    for (size_t i = 0; i < replay_client_shards(p->client); i++) {
        if (replay_client_totals(p->client, i).demo_size > 0) {
            return true;
        }
    }
    return false;
}

/* Locked on entry and exit. One request; ETIMEOUT (the first request's Stats round trip) is a
 * retry. */
static int issue(learner_prefetch *p)
{
    replay_sample_req req = p->cfg.req;
    req.beta = learner_prefetch_beta(req.beta, p->cfg.beta_anneal, p->cfg.first_batch + p->issued);
    req.demo_only = p->issued < p->cfg.n_demo_only;
    req.paced = req.demo_only && p->cfg.n_demo_only == UINT64_MAX && p->cfg.await_labels;
    if (p->demos_awaited && shards_hold_demos(p)) {
        log_info("demonstrations have arrived in replay: sampling replay.demo_fraction = %g of "
                 "each batch from them", req.demo_fraction);
        p->demos_awaited = false;
    }
    if (p->demos_awaited) {
        req.demo_fraction = 0.0;
    }
    req.mixed = req.mixed && !req.demo_only; /* the wire refuses both: demo-only has no mix */
    pthread_mutex_unlock(&p->mu);
    shoal_err e = {0};
    int rc = replay_client_sample_request(p->client, &req, &e);
    if (rc == SHOAL_ETIMEOUT) {
        warn_waiting(p, &e);
    }
    pthread_mutex_lock(&p->mu);
    if (rc == SHOAL_OK) {
        p->issued++;
        p->in_flight++;
    } else if (rc != SHOAL_ETIMEOUT) {
        p->err = e;
        return rc;
    }
    return SHOAL_OK;
}

/* Locked on entry and exit. Receives the oldest request into the slot at p->fill (FREE: a
 * request is only issued for a free slot). */
static int receive(learner_prefetch *p)
{
    slot *s = &p->slots[p->fill];
    assert(s->state == SLOT_FREE);
    pthread_mutex_unlock(&p->mu);
    const replay_sample *x = NULL;
    shoal_err e = {0};
    int rc = replay_client_sample_next(p->client, &x, &e);
    if (rc == SHOAL_OK) {
        slot_fill(s, x, &p->cfg);
    } else if (rc == SHOAL_ETIMEOUT) {
        warn_waiting(p, &e);
    }
    pthread_mutex_lock(&p->mu);
    if (rc == SHOAL_ETIMEOUT) {
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        p->err = e;
        return rc;
    }
    p->in_flight--;
    s->state = SLOT_READY;
    p->fill = (p->fill + 1) % p->n_slots;
    pthread_cond_signal(&p->ready);
    return SHOAL_OK;
}

/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait (the conds use that clock). */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void wait_work(learner_prefetch *p, int ms)
{
    struct timespec ts = deadline_in(ms);
    pthread_cond_timedwait(&p->work, &p->mu, &ts);
}

/* Locked on entry and exit. Asks every shard for its Stats until all have answered, then fits
 * the request to what they hold: without demonstrations a demo fraction would be refused by
 * every shard, so it is dropped (plain DQN with the default config); pre-training without
 * demonstrations is an error. */
static int probe(learner_prefetch *p)
{
    while (!p->stats.known) {
        if (p->stop) {
            return SHOAL_OK;
        }
        int rc = poll_stats(p);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    if (p->cfg.offline && p->stats.size == 0) {
        if (p->stats.demo_size == 0) {
            return shoal_err_set(&p->err, SHOAL_ESTATE, "learner.mode = offline but the replay "
                                 "shards hold no data: give demonstration files (replay.demos) "
                                 "or a replay checkpoint (replay.checkpoint)");
        }
        /* Demonstration files only: the agent store stays empty, and demo-only requests
         * bypass the rate limiter, which nothing would ever feed without actors. */
        p->cfg.n_demo_only = UINT64_MAX;
    }
    if (p->stats.demo_size > 0) {
        return SHOAL_OK;
    }
    if (p->cfg.n_demo_only == UINT64_MAX && p->cfg.await_labels) {
        log_info("learner.mode = bc: waiting for the actors' first labelled states (actor.label)");
        while (p->stats.demo_size == 0 && !p->stop) {
            wait_work(p, WAIT_MS);
            int rc = poll_stats(p);
            if (rc != SHOAL_OK) {
                return rc;
            }
        }
        return SHOAL_OK;
    }
    if (p->cfg.n_demo_only == UINT64_MAX) {
        return shoal_err_set(&p->err, SHOAL_ESTATE, "learner.mode = bc learns from "
                             "demonstrations only, but the replay shards hold none (set "
                             "replay.demos)");
    }
    if (p->cfg.n_demo_only > 0) {
        return shoal_err_set(&p->err, SHOAL_ESTATE, "%llu pre-training updates are due "
                             "(learner.pretrain_steps) but the replay shards hold no "
                             "demonstrations (replay.demos)",
                             (unsigned long long)p->cfg.n_demo_only);
    }
    if (p->cfg.req.demo_fraction > 0.0 && !p->cfg.req.mixed) {
        /* DAgger's actors (actor.label) fill the demo store while the run goes. */
        log_info("the replay shards hold no demonstrations: sampling agent data only until "
                 "some arrive (replay.demo_fraction = %g then)", p->cfg.req.demo_fraction);
        p->demos_awaited = true;
    }
    return SHOAL_OK;
}

static void *run(void *arg)
{
    learner_prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    int rc = probe(p);
    while (rc == SHOAL_OK) {
        rc = send_done(p);
        if (rc != SHOAL_OK || p->stop) {
            break;
        }
        bool due = p->cfg.stats_secs > 0 && clock_now_s() >= p->next_stats_s;
        if (due || p->poll_asked) {
            if (due) {
                p->next_stats_s = clock_now_s() + p->cfg.stats_secs;
            }
            rc = poll_stats(p);
            continue;
        }
        if (may_issue(p)) {
            rc = issue(p);
        } else if (p->in_flight > 0 && p->slots[p->fill].state == SLOT_FREE) {
            rc = receive(p);
        } else {
            wait_work(p, WAIT_MS);
        }
    }
    p->rc = rc;
    p->stopped = true;
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

learner_prefetch *learner_prefetch_new(const learner_prefetch_config *cfg, shoal_err *err)
{
    if (cfg->depth < 1 || cfg->pipeline < 1 || cfg->pipeline > cfg->depth) {
        shoal_err_set(err, SHOAL_EINVAL, "prefetch depth %zu and pipeline %zu: need 1 <= "
                      "pipeline <= depth (learner.prefetch_depth, learner.pipeline)",
                      cfg->depth, cfg->pipeline);
        return NULL;
    }
    learner_prefetch *p = calloc(1, sizeof *p);
    if (!p) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the prefetcher");
        return NULL;
    }
    p->cfg = *cfg;
    p->cfg.endpoints = NULL;
    p->n_slots = cfg->depth;
    p->endpoints = calloc(cfg->n_shards, sizeof *p->endpoints);
    p->slots = calloc(p->n_slots, sizeof *p->slots);
    if (!p->endpoints || !p->slots) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the prefetcher");
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_shards; i++) {
        p->endpoints[i] = strdup(cfg->endpoints[i]);
        if (!p->endpoints[i]) {
            shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the prefetcher");
            goto fail;
        }
    }
    size_t obs_bytes = obs_shape_bytes(cfg->obs.shape, cfg->obs.dtype);
    size_t in_floats = obs_shape_values(cfg->obs.shape);
    size_t max_batch = cfg->req.batch_size;
    for (size_t i = 0; i < p->n_slots; i++) {
        if (slot_init(&p->slots[i], max_batch, obs_bytes, in_floats, err) != SHOAL_OK) {
            goto fail;
        }
    }
    p->cfg.client.obs_bytes = obs_bytes;
    p->cfg.client.max_batch = max_batch;
    p->cfg.client.pipeline = cfg->pipeline;
    p->cfg.client.timeout_ms = WAIT_MS;
    p->client = replay_client_new((const char *const *)p->endpoints, cfg->n_shards,
                                  &p->cfg.client, err);
    if (!p->client) {
        goto fail;
    }
    p->mu_ok = pthread_mutex_init(&p->mu, NULL) == 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    p->ready_ok = pthread_cond_init(&p->ready, &ca) == 0;
    p->work_ok = pthread_cond_init(&p->work, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!p->mu_ok || !p->ready_ok || !p->work_ok) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot create the prefetcher's locks");
        goto fail;
    }
    int rc = pthread_create(&p->thread, NULL, run, p);
    if (rc != 0) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot start the prefetch thread: %s", strerror(rc));
        goto fail;
    }
    p->thread_ok = true;
    return p;
fail:
    learner_prefetch_free(p);
    return NULL;
}

void learner_prefetch_free(learner_prefetch *p)
{
    if (!p) {
        return;
    }
    if (p->thread_ok) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->work_ok) {
        pthread_cond_destroy(&p->work);
    }
    if (p->ready_ok) {
        pthread_cond_destroy(&p->ready);
    }
    if (p->mu_ok) {
        pthread_mutex_destroy(&p->mu);
    }
    replay_client_free(p->client);
    for (size_t i = 0; p->slots && i < p->n_slots; i++) {
        slot_fini(&p->slots[i]);
    }
    free(p->slots);
    for (size_t i = 0; p->endpoints && i < p->cfg.n_shards; i++) {
        free(p->endpoints[i]);
    }
    free(p->endpoints);
    free(p);
}

int learner_prefetch_next(learner_prefetch *p, int timeout_ms, const learner_batch **batch,
                          float **priorities, shoal_err *err)
{
    pthread_mutex_lock(&p->mu);
    slot *s = &p->slots[p->take];
    int rc = SHOAL_OK;
    if (s->state == SLOT_IN_USE) {
        rc = shoal_err_set(err, SHOAL_ESTATE, "the previous batch was not handed back");
    } else if (p->cfg.n_batches > 0 && p->delivered >= p->cfg.n_batches) {
        rc = shoal_err_set(err, SHOAL_ESTATE, "all %llu requested batches were delivered",
                           (unsigned long long)p->cfg.n_batches);
    }
    if (rc == SHOAL_OK && s->state != SLOT_READY && !p->stopped) {
        struct timespec ts = deadline_in(timeout_ms);
        while (s->state != SLOT_READY && !p->stopped) {
            if (pthread_cond_timedwait(&p->ready, &p->mu, &ts) == ETIMEDOUT) {
                break;
            }
        }
    }
    if (rc == SHOAL_OK && s->state != SLOT_READY) {
        if (p->stopped && p->rc != SHOAL_OK) {
            rc = p->rc;
            if (err) {
                *err = p->err;
                err->code = rc;
            }
        } else if (p->stopped) {
            rc = shoal_err_set(err, SHOAL_ESTATE, "the prefetcher was stopped");
        } else {
            rc = SHOAL_EAGAIN;
        }
    }
    if (rc == SHOAL_OK) {
        s->state = SLOT_IN_USE;
        __atomic_fetch_add(&p->delivered, 1, __ATOMIC_RELAXED); /* read unlocked by the thread */
        *batch = &s->batch;
        *priorities = s->priority;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void learner_prefetch_done(learner_prefetch *p, bool priorities_filled)
{
    pthread_mutex_lock(&p->mu);
    slot *s = &p->slots[p->take];
    assert(s->state == SLOT_IN_USE);
    s->state = priorities_filled ? SLOT_DONE : SLOT_DROPPED;
    p->take = (p->take + 1) % p->n_slots;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

bool learner_prefetch_poll_stats(learner_prefetch *p, int timeout_ms)
{
    struct timespec ts = deadline_in(timeout_ms);
    pthread_mutex_lock(&p->mu);
    uint64_t want = p->polls_begun + 1; /* the first poll that starts after this call */
    p->poll_asked = true;
    pthread_cond_signal(&p->work);
    while (p->polls_done < want && !p->stopped) {
        if (pthread_cond_timedwait(&p->ready, &p->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool fresh = p->polls_done >= want;
    p->poll_asked = false;
    pthread_mutex_unlock(&p->mu);
    return fresh;
}

learner_replay_stats learner_prefetch_stats(learner_prefetch *p)
{
    pthread_mutex_lock(&p->mu);
    learner_replay_stats t = p->stats;
    pthread_mutex_unlock(&p->mu);
    return t;
}

double learner_prefetch_beta(double beta0, uint64_t anneal, uint64_t batch)
{
    if (anneal == 0 || batch >= anneal) {
        return anneal == 0 ? beta0 : 1.0;
    }
    return beta0 + (1.0 - beta0) * (double)batch / (double)anneal;
}
