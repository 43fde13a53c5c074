#include "replay/wire.h"

#include <math.h>

#include "common/frame.h"

static int same_spec(const Shoal__V1__ObsSpec *w, const obs_spec *spec, shoal_err *err)
{
    if (!w) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.obs_spec is missing");
    }
    if (w->n_shape != 3 || w->shape[0] != spec->shape.h || w->shape[1] != spec->shape.w ||
        w->shape[2] != spec->shape.c || (uint32_t)w->dtype != spec->dtype) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.obs_spec (%zu dims: %u,%u,%u dtype "
                             "%d) differs from this shard's %u,%u,%u dtype %u", w->n_shape,
                             w->n_shape > 0 ? w->shape[0] : 0, w->n_shape > 1 ? w->shape[1] : 0,
                             w->n_shape > 2 ? w->shape[2] : 0, (int)w->dtype, spec->shape.h,
                             spec->shape.w, spec->shape.c, (unsigned)spec->dtype);
    }
    return SHOAL_OK;
}

static int column(size_t n, size_t want, const char *name, shoal_err *err)
{
    if (n != want) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.%s has %zu entries; count says %zu",
                             name, n, want);
    }
    return SHOAL_OK;
}

static int check_values(const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    for (size_t i = 0; i < b->count; i++) {
        if (!isfinite(b->reward[i])) {
            return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.reward[%zu] is not finite", i);
        }
        if (!(b->discount[i] >= 0.0f && b->discount[i] <= 1.0f)) {
            return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.discount[%zu] = %g; expected "
                                 "[0, 1]", i, (double)b->discount[i]);
        }
        if (!isfinite(b->priority[i]) || b->priority[i] < 0.0f) {
            return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.priority[%zu] = %g; expected "
                                 "finite and >= 0 (NaN or negative priorities are refused)", i,
                                 (double)b->priority[i]);
        }
    }
    return SHOAL_OK;
}

static int check_episodes(const Shoal__V1__InsertBatch *b, shoal_err *err)
{
    size_t n = b->n_episode_return;
    if (b->n_episode_length != n || b->n_episode_head != n ||
        (b->n_episode_intrinsic_return != 0 && b->n_episode_intrinsic_return != n)) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch episode columns disagree: %zu "
                             "returns, %zu lengths, %zu heads, %zu intrinsic returns", n,
                             b->n_episode_length, b->n_episode_head,
                             b->n_episode_intrinsic_return);
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b->episode_return[i]) ||
            (b->n_episode_intrinsic_return && !isfinite(b->episode_intrinsic_return[i]))) {
            return shoal_err_set(err, SHOAL_EPROTO, "insert_batch episode %zu has a non-finite "
                                 "return", i);
        }
    }
    return SHOAL_OK;
}

int replay_wire_insert_view(const Shoal__V1__InsertBatch *b, const obs_spec *spec,
                            size_t max_count, replay_transitions *t, shoal_err *err)
{
    if (b->count == 0 || b->count > max_count) {
        return shoal_err_set(err, SHOAL_EPROTO, "insert_batch.count %u is out of range 1..%zu",
                             b->count, max_count);
    }
    size_t n = b->count;
    int rc = same_spec(b->obs_spec, spec, err);
    if (rc == SHOAL_OK && (b->obs.len != n * spec->bytes ||
                           b->next_obs.len != n * spec->bytes)) {
        rc = shoal_err_set(err, SHOAL_EPROTO, "insert_batch obs/next_obs hold %zu/%zu bytes; "
                           "%zu transitions of %zu-byte observations need %zu", b->obs.len,
                           b->next_obs.len, n, spec->bytes, n * spec->bytes);
    }
    if (rc == SHOAL_OK) {
        rc = column(b->n_action, n, "action", err);
    }
    if (rc == SHOAL_OK) {
        rc = column(b->n_reward, n, "reward", err);
    }
    if (rc == SHOAL_OK) {
        rc = column(b->n_discount, n, "discount", err);
    }
    if (rc == SHOAL_OK) {
        rc = column(b->n_priority, n, "priority", err);
    }
    if (rc == SHOAL_OK && b->n_heads > REPLAY_MAX_HEADS) {
        rc = shoal_err_set(err, SHOAL_EPROTO, "insert_batch.n_heads %u exceeds %u", b->n_heads,
                           REPLAY_MAX_HEADS);
    }
    if (rc == SHOAL_OK) {
        rc = column(b->n_mask, b->n_heads > 1 ? n : 0, "mask", err);
    }
    if (rc == SHOAL_OK && b->label && (!b->demo || b->actor_id == REPLAY_DEMO_ACTOR)) {
        rc = shoal_err_set(err, SHOAL_EPROTO, "insert_batch: a label batch is a demo batch from "
                           "an actor (got actor_id %u, demo %d)", b->actor_id, (int)b->demo);
    }
    if (rc == SHOAL_OK && !b->label && b->demo != (b->actor_id == REPLAY_DEMO_ACTOR)) {
        rc = shoal_err_set(err, SHOAL_EPROTO, "insert_batch: demo batches and only they use "
                           "actor_id 0x%08X (got actor_id %u, demo %d)", REPLAY_DEMO_ACTOR,
                           b->actor_id, (int)b->demo);
    }
    if (rc == SHOAL_OK) {
        rc = check_values(b, err);
    }
    if (rc == SHOAL_OK) {
        rc = check_episodes(b, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    *t = (replay_transitions){
        .count = n,
        .n_heads = b->n_heads,
        .obs = b->obs.data,
        .next_obs = b->next_obs.data,
        .action = b->action,
        .reward = b->reward,
        .discount = b->discount,
        .mask = b->n_heads > 1 ? b->mask : NULL,
        .priority = b->priority,
        .label = b->label,
    };
    return SHOAL_OK;
}

int replay_wire_sample_req(const Shoal__V1__SampleRequest *r, size_t max_batch,
                           replay_sample_req *out, shoal_err *err)
{
    if (r->batch_size == 0 || r->batch_size > max_batch) {
        return shoal_err_set(err, SHOAL_EPROTO, "sample_request.batch_size %u is out of range "
                             "1..%zu", r->batch_size, max_batch);
    }
    if (!(r->demo_fraction >= 0.0f && r->demo_fraction <= 1.0f) ||
        !(r->beta >= 0.0f && r->beta <= 1.0f)) {
        return shoal_err_set(err, SHOAL_EPROTO, "sample_request.demo_fraction (%g) and beta (%g) "
                             "must be in [0, 1]", (double)r->demo_fraction, (double)r->beta);
    }
    if (r->mixed && r->demo_only) {
        return shoal_err_set(err, SHOAL_EPROTO, "sample_request: mixed and demo_only exclude "
                             "each other");
    }
    if (r->paced && !r->demo_only) {
        return shoal_err_set(err, SHOAL_EPROTO, "sample_request: paced applies to demo_only "
                             "requests only (the others are always paced)");
    }
    *out = (replay_sample_req){.batch_size = r->batch_size, .demo_fraction = r->demo_fraction,
                               .beta = r->beta, .mixed = r->mixed, .demo_only = r->demo_only,
                               .paced = r->paced};
    return SHOAL_OK;
}

int replay_wire_priority_update(const Shoal__V1__PriorityUpdate *u, size_t max_keys,
                                shoal_err *err)
{
    if (u->n_key == 0 || u->n_key > max_keys || u->n_priority != u->n_key) {
        return shoal_err_set(err, SHOAL_EPROTO, "priority_update has %zu keys and %zu priorities; "
                             "expected the same number, 1..%zu", u->n_key, u->n_priority,
                             max_keys);
    }
    return SHOAL_OK;
}

void replay_wire_obs_spec(const obs_spec *spec, Shoal__V1__ObsSpec *out,
                          uint32_t shape_storage[3])
{
    shoal__v1__obs_spec__init(out);
    shape_storage[0] = spec->shape.h;
    shape_storage[1] = spec->shape.w;
    shape_storage[2] = spec->shape.c;
    out->n_shape = 3;
    out->shape = shape_storage;
    out->dtype = (Shoal__V1__ObsDtype)spec->dtype;
}

void replay_wire_batch(const replay_batch *b, replay_wire_insert *out)
{
    const replay_transitions *t = &b->t;
    const replay_episodes *e = &b->episodes;
    Shoal__V1__InsertBatch *m = &out->msg;
    size_t n = t->count, ob = b->spec.bytes;
    replay_wire_obs_spec(&b->spec, &out->spec, out->shape);
    shoal__v1__insert_batch__init(m);
    m->actor_id = b->actor_id;
    m->demo = b->demo;
    m->label = t->label;
    m->label_ns = b->label_ns;
    m->expert_steps = b->expert_steps;
    m->params_version = b->params_version;
    m->env_steps = b->env_steps;
    m->obs_spec = &out->spec;
    m->count = (uint32_t)n;
    /* protobuf-c's structs are not const-correct; the encoder only reads these. */
    m->obs = (ProtobufCBinaryData){n * ob, (uint8_t *)t->obs};
    m->next_obs = (ProtobufCBinaryData){n * ob, (uint8_t *)t->next_obs};
    m->n_action = m->n_reward = m->n_discount = m->n_priority = n;
    m->action = (uint32_t *)t->action;
    m->reward = (float *)t->reward;
    m->discount = (float *)t->discount;
    m->priority = (float *)t->priority;
    m->n_heads = t->n_heads;
    m->n_mask = t->n_heads > 1 && t->mask ? n : 0;
    m->mask = (uint32_t *)t->mask;
    m->n_episode_return = m->n_episode_length = m->n_episode_head = e->count;
    m->episode_return = (float *)e->ret;
    m->episode_length = (uint32_t *)e->length;
    m->episode_head = (uint32_t *)e->head;
    m->n_episode_intrinsic_return = e->intrinsic_ret ? e->count : 0;
    m->episode_intrinsic_return = (float *)e->intrinsic_ret;
    m->n_visit_code = b->visits ? b->n_visits : 0;
    m->visit_code = (uint64_t *)b->visits;
}

void replay_wire_sample_batch(const replay_sample *x, const obs_spec *spec,
                              protobuf_c_boolean *demo_flags, protobuf_c_boolean *label_flags,
                              replay_wire_sample *out)
{
    size_t n = x->count, ob = x->obs_bytes;
    bool any_label = false;
    for (size_t j = 0; j < n; j++) {
        demo_flags[j] = x->demo[j];
        label_flags[j] = x->label[j];
        any_label |= x->label[j];
    }
    Shoal__V1__SampleBatch *b = &out->msg;
    replay_wire_obs_spec(spec, &out->spec, out->shape);
    shoal__v1__sample_batch__init(b);
    b->obs_spec = &out->spec;
    b->count = (uint32_t)n;
    b->n_key = n;
    b->key = x->key;
    b->n_weight = n;
    b->weight = x->weight;
    b->obs = (ProtobufCBinaryData){n * ob, x->obs};
    b->next_obs = (ProtobufCBinaryData){n * ob, x->next_obs};
    b->n_action = n;
    b->action = x->action;
    b->n_reward = n;
    b->reward = x->reward;
    b->n_discount = n;
    b->discount = x->discount;
    b->n_heads = x->n_heads;
    b->n_mask = x->n_heads > 1 ? n : 0;
    b->mask = x->mask;
    b->n_demo = n;
    b->demo = demo_flags;
    b->n_label = any_label ? n : 0;
    b->label = label_flags;
    b->n_leaf = n;
    b->leaf = x->leaf;
}

int replay_wire_batch_view(const Shoal__V1__InsertBatch *m, const obs_spec *spec,
                           size_t max_count, replay_batch *out, shoal_err *err)
{
    replay_transitions t;
    int rc = replay_wire_insert_view(m, spec, max_count, &t, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    size_t n = m->n_episode_return;
    *out = (replay_batch){
        .actor_id = m->actor_id, .demo = m->demo, .label_ns = m->label_ns,
        .expert_steps = m->expert_steps, .params_version = m->params_version,
        .env_steps = m->env_steps, .spec = *spec, .t = t,
        .episodes = {.count = n, .ret = m->episode_return, .length = m->episode_length,
                     .head = m->episode_head,
                     .intrinsic_ret = m->n_episode_intrinsic_return ?
                                          m->episode_intrinsic_return : NULL},
        .visits = m->n_visit_code ? m->visit_code : NULL, .n_visits = m->n_visit_code};
    return SHOAL_OK;
}

int replay_wire_spec_of(const Shoal__V1__ObsSpec *w, obs_spec *out, shoal_err *err)
{
    size_t ob;
    int rc = frame_obs_bytes(w, &ob, err);
    if (rc == SHOAL_OK) {
        *out = (obs_spec){.shape = {w->shape[0], w->shape[1], w->shape[2]},
                          .dtype = (obs_dtype)w->dtype, .bytes = ob};
    }
    return rc;
}

/* The fields replay_stats and Stats (and replay_actor_stats and ActorStats) share, under the
 * same names: one list serves both directions, so they cannot drift apart. */
#define STATS_FIELDS(X)                                                                         \
    X(shard) X(size) X(capacity) X(demo_size) X(demo_capacity) X(inserted) X(sampled)          \
    X(demo_sampled) X(insert_blocked_s) X(sample_blocked_s) X(memory_bytes) X(env_steps)       \
    X(uptime_s) X(agent_total) X(demo_total) X(demo_bonus_total) X(priority_updates)           \
    X(stale_updates) X(errors) X(held_samples) X(held_acks)
#define INSIGHT_FIELDS(X)                                                                       \
    X(window) X(window_demo) X(window_aged) X(age_p50) X(age_p90) X(age_s_p50) X(age_s_p90)    \
    X(inserts_per_s) X(samples_per_s) X(insert_holds) X(sample_holds) X(insert_wait_s)         \
    X(sample_wait_s)
#define ACTOR_STATS_FIELDS(X)                                                                   \
    X(actor_id) X(episodes) X(env_steps) X(return_sum) X(last_return)                          \
    X(intrinsic_return_sum) X(params_version) X(last_seen_s) X(labels) X(label_ns)             \
    X(expert_steps)
#define COPY_FIELD(f) to->f = from->f;
#define TO_WIRE(f) to->f = from->insight.f;
#define FROM_WIRE(f) to->insight.f = from->f;

void replay_wire_stats(const replay_stats *s, Shoal__V1__Stats *st, Shoal__V1__ActorStats *msgs,
                       Shoal__V1__ActorStats **ptrs)
{
    shoal__v1__stats__init(st);
    {
        const replay_stats *from = s;
        Shoal__V1__Stats *to = st;
        STATS_FIELDS(COPY_FIELD)
        INSIGHT_FIELDS(TO_WIRE)
    }
    /* The histogram is borrowed from s, like the actors. */
    st->n_priority_hist = REPLAY_PRIORITY_BINS;
    st->priority_hist = (uint64_t *)s->insight.priority_hist;
    st->n_actors = s->n_actors;
    st->actors = ptrs;
    for (size_t i = 0; i < s->n_actors; i++) {
        const replay_actor_stats *from = &s->actors[i];
        Shoal__V1__ActorStats *to = &msgs[i];
        shoal__v1__actor_stats__init(to);
        ACTOR_STATS_FIELDS(COPY_FIELD)
        ptrs[i] = to;
    }
}

void replay_wire_stats_view(const Shoal__V1__Stats *st, replay_stats *out,
                            replay_actor_stats *actors)
{
    *out = (replay_stats){.n_actors = st->n_actors, .actors = actors};
    {
        const Shoal__V1__Stats *from = st;
        replay_stats *to = out;
        STATS_FIELDS(COPY_FIELD)
        INSIGHT_FIELDS(FROM_WIRE)
    }
    /* Bins beyond ours (a newer shard's finer histogram) are dropped, missing ones stay 0. */
    for (size_t k = 0; k < st->n_priority_hist && k < REPLAY_PRIORITY_BINS; k++) {
        out->insight.priority_hist[k] = st->priority_hist[k];
    }
    for (size_t i = 0; i < st->n_actors; i++) {
        const Shoal__V1__ActorStats *from = st->actors[i];
        replay_actor_stats *to = &actors[i];
        ACTOR_STATS_FIELDS(COPY_FIELD)
    }
}
