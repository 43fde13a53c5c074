#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay/wire.h"

/* Columns for a batch of N transitions with 4 bootstrap heads and 2 episodes. */
#define N 3
#define OB 50 /* 10x10x4 bits */

typedef struct cols {
    uint8_t obs[N * OB], next_obs[N * OB];
    uint32_t action[N], mask[N];
    float reward[N], discount[N], priority[N];
    float ep_return[2], ep_intrinsic[2];
    uint32_t ep_length[2], ep_head[2];
} cols;

static obs_spec spec_10x10x4(void)
{
    obs_spec sp;
    cr_assert_eq(obs_spec_parse("10,10,4", "bit", &sp, NULL), SHOAL_OK);
    return sp;
}

static replay_batch batch_of(cols *c)
{
    for (size_t i = 0; i < N * OB; i++) {
        c->obs[i] = (uint8_t)(i * 7);
        c->next_obs[i] = (uint8_t)(i * 13 + 1);
    }
    for (uint32_t i = 0; i < N; i++) {
        c->action[i] = i + 1;
        c->mask[i] = 0x5u << i;
        c->reward[i] = -0.5f + (float)i;
        c->discount[i] = i == N - 1 ? 0.0f : 0.97f;
        c->priority[i] = 0.25f * (float)(i + 1);
    }
    for (uint32_t k = 0; k < 2; k++) {
        c->ep_return[k] = 10.0f + (float)k;
        c->ep_intrinsic[k] = 0.5f * (float)k;
        c->ep_length[k] = 100 + k;
        c->ep_head[k] = 3 - k;
    }
    return (replay_batch){
        .actor_id = 7, .params_version = 42, .env_steps = 400, .spec = spec_10x10x4(),
        .t = {.count = N, .n_heads = 4, .obs = c->obs, .next_obs = c->next_obs,
              .action = c->action, .reward = c->reward, .discount = c->discount,
              .mask = c->mask, .priority = c->priority},
        .episodes = {.count = 2, .ret = c->ep_return, .length = c->ep_length,
                     .head = c->ep_head, .intrinsic_ret = c->ep_intrinsic}};
}

/* The bytes of b's InsertBatch (*n of them, caller frees). */
static uint8_t *packed(const replay_batch *b, size_t *n)
{
    replay_wire_insert m;
    replay_wire_batch(b, &m);
    *n = shoal__v1__insert_batch__get_packed_size(&m.msg);
    uint8_t *bytes = malloc(*n);
    shoal__v1__insert_batch__pack(&m.msg, bytes);
    return bytes;
}

/* Packs b as a shard would receive it and unpacks it again (caller frees). */
static Shoal__V1__InsertBatch *through_the_wire(const replay_batch *b, uint8_t **bytes,
                                                size_t *n)
{
    *bytes = packed(b, n);
    Shoal__V1__InsertBatch *got = shoal__v1__insert_batch__unpack(NULL, *n, *bytes);
    cr_assert_not_null(got);
    return got;
}

Test(replay_wire, a_batch_round_trips_through_the_encoder_and_decoder)
{
    cols c;
    replay_batch b = batch_of(&c);
    uint8_t *bytes;
    size_t n;
    Shoal__V1__InsertBatch *m = through_the_wire(&b, &bytes, &n);
    replay_batch got;
    shoal_err err = {0};
    obs_spec sp = spec_10x10x4();
    cr_assert_eq(replay_wire_batch_view(m, &sp, 16, &got, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(got.actor_id, 7);
    cr_assert_not(got.demo);
    cr_assert_eq(got.params_version, 42);
    cr_assert_eq(got.env_steps, 400);
    cr_assert_eq(got.spec.bytes, OB);
    cr_assert_eq(got.t.count, N);
    cr_assert_eq(got.t.n_heads, 4);
    cr_assert_arr_eq(got.t.obs, c.obs, sizeof c.obs);
    cr_assert_arr_eq(got.t.next_obs, c.next_obs, sizeof c.next_obs);
    cr_assert_arr_eq(got.t.action, c.action, sizeof c.action);
    cr_assert_arr_eq(got.t.mask, c.mask, sizeof c.mask);
    cr_assert_arr_eq(got.t.reward, c.reward, sizeof c.reward);
    cr_assert_arr_eq(got.t.discount, c.discount, sizeof c.discount);
    cr_assert_arr_eq(got.t.priority, c.priority, sizeof c.priority);
    cr_assert_eq(got.episodes.count, 2);
    cr_assert_arr_eq(got.episodes.ret, c.ep_return, sizeof c.ep_return);
    cr_assert_arr_eq(got.episodes.length, c.ep_length, sizeof c.ep_length);
    cr_assert_arr_eq(got.episodes.head, c.ep_head, sizeof c.ep_head);
    cr_assert_arr_eq(got.episodes.intrinsic_ret, c.ep_intrinsic, sizeof c.ep_intrinsic);
    shoal__v1__insert_batch__free_unpacked(m, NULL);
    free(bytes);
}

/* The encoding of a batch is pinned: the same bytes as an InsertBatch filled field by field
 * from proto/shoal.proto, so actors, demo files and shards of other builds agree. */
Test(replay_wire, the_encoding_is_the_insert_batch_of_the_schema_byte_for_byte)
{
    cols c;
    replay_batch b = batch_of(&c);
    size_t n;
    uint8_t *bytes = packed(&b, &n);
    uint32_t shape[3] = {10, 10, 4};
    Shoal__V1__ObsSpec spec = SHOAL__V1__OBS_SPEC__INIT;
    spec.n_shape = 3;
    spec.shape = shape;
    spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_BIT;
    Shoal__V1__InsertBatch h = SHOAL__V1__INSERT_BATCH__INIT;
    h.actor_id = 7;
    h.obs_spec = &spec;
    h.count = N;
    h.obs = (ProtobufCBinaryData){sizeof c.obs, c.obs};
    h.next_obs = (ProtobufCBinaryData){sizeof c.next_obs, c.next_obs};
    h.n_action = h.n_reward = h.n_discount = h.n_priority = h.n_mask = N;
    h.action = c.action;
    h.reward = c.reward;
    h.discount = c.discount;
    h.priority = c.priority;
    h.n_heads = 4;
    h.mask = c.mask;
    h.params_version = 42;
    h.env_steps = 400;
    h.n_episode_return = h.n_episode_length = h.n_episode_head = 2;
    h.n_episode_intrinsic_return = 2;
    h.episode_return = c.ep_return;
    h.episode_length = c.ep_length;
    h.episode_head = c.ep_head;
    h.episode_intrinsic_return = c.ep_intrinsic;
    size_t hn = shoal__v1__insert_batch__get_packed_size(&h);
    uint8_t *hb = malloc(hn);
    shoal__v1__insert_batch__pack(&h, hb);
    cr_assert_eq(n, hn);
    cr_assert_arr_eq(bytes, hb, n);
    free(hb);
    free(bytes);
}

Test(replay_wire, optional_columns_stay_off_the_wire_and_come_back_null)
{
    cols c;
    replay_batch b = batch_of(&c);
    b.t.n_heads = 1;
    b.t.mask = NULL;
    b.episodes = (replay_episodes){0};
    b.actor_id = REPLAY_DEMO_ACTOR;
    b.demo = true;
    uint8_t *bytes;
    size_t n;
    Shoal__V1__InsertBatch *m = through_the_wire(&b, &bytes, &n);
    cr_assert_eq(m->n_mask, 0);
    cr_assert_eq(m->n_episode_return, 0);
    cr_assert_eq(m->n_episode_intrinsic_return, 0);
    replay_batch got;
    shoal_err err = {0};
    obs_spec sp = spec_10x10x4();
    cr_assert_eq(replay_wire_batch_view(m, &sp, 16, &got, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(got.demo);
    cr_assert_eq(got.actor_id, REPLAY_DEMO_ACTOR);
    cr_assert_null(got.t.mask);
    cr_assert_eq(got.episodes.count, 0);
    cr_assert_null(got.episodes.intrinsic_ret);
    shoal__v1__insert_batch__free_unpacked(m, NULL);
    free(bytes);
}

Test(replay_wire, a_label_batch_comes_from_an_actor_and_round_trips_its_counters)
{
    cols c;
    replay_batch b = batch_of(&c);
    b.demo = true;
    b.t.label = true;
    b.label_ns = 123456;
    b.expert_steps = 9;
    uint8_t *bytes;
    size_t n;
    Shoal__V1__InsertBatch *m = through_the_wire(&b, &bytes, &n);
    cr_assert(m->label);
    replay_batch got;
    shoal_err err = {0};
    obs_spec sp = spec_10x10x4();
    cr_assert_eq(replay_wire_batch_view(m, &sp, 16, &got, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(got.demo && got.t.label);
    cr_assert_eq(got.actor_id, 7);
    cr_assert_eq(got.label_ns, 123456);
    cr_assert_eq(got.expert_steps, 9);
    shoal__v1__insert_batch__free_unpacked(m, NULL);
    free(bytes);
    /* An ordinary batch says nothing of labels: old senders decode as before. */
    b = batch_of(&c);
    m = through_the_wire(&b, &bytes, &n);
    cr_assert_eq(replay_wire_batch_view(m, &sp, 16, &got, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_not(got.t.label);
    cr_assert_eq(got.label_ns, 0);
    shoal__v1__insert_batch__free_unpacked(m, NULL);
    free(bytes);
}

/* Encodes a good batch, lets `breaks` damage the message, and expects EPROTO naming `what`. */
static void expect_reject(void (*breaks)(Shoal__V1__InsertBatch *m, cols *c), const char *what)
{
    cols c;
    replay_batch b = batch_of(&c);
    replay_wire_insert m;
    replay_wire_batch(&b, &m);
    breaks(&m.msg, &c);
    replay_batch got;
    shoal_err err = {0};
    obs_spec sp = spec_10x10x4();
    cr_assert_eq(replay_wire_batch_view(&m.msg, &sp, 16, &got, &err), SHOAL_EPROTO,
                 "accepted a batch with bad %s", what);
    cr_assert(strstr(err.msg, what) != NULL, "'%s' does not name %s", err.msg, what);
}

static void short_reward(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->n_reward = N - 1;
}

static void short_obs(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->next_obs.len -= 1;
}

static void masks_missing(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->n_mask = 0;
}

static void episode_columns_disagree(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->n_episode_head = 1;
}

static void other_spec(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->obs_spec->shape[2] = 6;
}

static void demo_from_an_actor(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->demo = true;
}

static void label_without_demo(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->label = true;
}

static void label_from_the_demo_actor(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->label = true;
    m->demo = true;
    m->actor_id = REPLAY_DEMO_ACTOR;
}

static void nan_priority(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)m;
    c->priority[1] = NAN;
}

static void discount_above_one(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)m;
    c->discount[0] = 1.5f;
}

static void too_many(Shoal__V1__InsertBatch *m, cols *c)
{
    (void)c;
    m->count = 17;
}

Test(replay_wire, inconsistent_batches_are_refused_naming_the_field)
{
    expect_reject(short_reward, "reward");
    expect_reject(short_obs, "obs/next_obs");
    expect_reject(masks_missing, "mask");
    expect_reject(episode_columns_disagree, "episode columns disagree");
    expect_reject(other_spec, "obs_spec");
    expect_reject(demo_from_an_actor, "actor_id");
    expect_reject(label_without_demo, "label batch");
    expect_reject(label_from_the_demo_actor, "label batch");
    expect_reject(nan_priority, "priority[1]");
    expect_reject(discount_above_one, "discount[0]");
    expect_reject(too_many, "count 17");
}

Test(replay_wire, a_message_spec_is_finished_or_refused)
{
    uint32_t shape[3] = {10, 10, 4};
    Shoal__V1__ObsSpec w = SHOAL__V1__OBS_SPEC__INIT;
    w.n_shape = 3;
    w.shape = shape;
    w.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_BIT;
    obs_spec sp;
    shoal_err err = {0};
    cr_assert_eq(replay_wire_spec_of(&w, &sp, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(sp.shape.h, 10);
    cr_assert_eq(sp.shape.c, 4);
    cr_assert_eq(sp.dtype, OBS_DTYPE_BIT);
    cr_assert_eq(sp.bytes, 50);
    w.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_UNSPECIFIED;
    cr_assert_eq(replay_wire_spec_of(&w, &sp, &err), SHOAL_EPROTO);
    w.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_UINT8;
    w.n_shape = 2;
    cr_assert_eq(replay_wire_spec_of(&w, &sp, &err), SHOAL_EPROTO);
    cr_assert_eq(replay_wire_spec_of(NULL, &sp, &err), SHOAL_EPROTO);
}

Test(replay_wire, stats_round_trip_with_their_actors)
{
    replay_actor_stats actors[2] = {
        {.actor_id = 3, .episodes = 5, .env_steps = 900, .return_sum = 12.5, .last_return = 2.5f,
         .intrinsic_return_sum = 0.75, .params_version = 8, .last_seen_s = 1.5},
        {.actor_id = 9, .episodes = 1, .env_steps = 10, .return_sum = -1.0, .last_return = -1.0f,
         .params_version = 2, .last_seen_s = 3.25}};
    replay_stats s = {
        .shard = 1, .size = 100, .capacity = 1000, .demo_size = 7, .demo_capacity = 8,
        .inserted = 150, .sampled = 64, .demo_sampled = 16, .insert_blocked_s = 0.5,
        .sample_blocked_s = 1.25, .memory_bytes = 123456, .env_steps = 910, .uptime_s = 4.0,
        .agent_total = 55.5, .demo_total = 7.0, .demo_bonus_total = 14.0,
        .priority_updates = 64, .stale_updates = 3, .errors = 1, .held_samples = 2,
        .held_acks = 1, .n_actors = 2, .actors = actors};
    Shoal__V1__Stats st;
    Shoal__V1__ActorStats msgs[2], *ptrs[2];
    replay_wire_stats(&s, &st, msgs, ptrs);
    st.request_id = 77;
    size_t n = shoal__v1__stats__get_packed_size(&st);
    uint8_t *bytes = malloc(n);
    shoal__v1__stats__pack(&st, bytes);
    Shoal__V1__Stats *m = shoal__v1__stats__unpack(NULL, n, bytes);
    cr_assert_not_null(m);
    cr_assert_eq(m->request_id, 77);
    replay_stats got;
    replay_actor_stats got_actors[2];
    replay_wire_stats_view(m, &got, got_actors);
    cr_assert_eq(got.actors, got_actors);
    /* Field by field: padding bytes are not part of the contract. */
    cr_assert(got.shard == s.shard && got.size == s.size && got.capacity == s.capacity &&
              got.demo_size == s.demo_size && got.demo_capacity == s.demo_capacity &&
              got.inserted == s.inserted && got.sampled == s.sampled &&
              got.demo_sampled == s.demo_sampled && got.insert_blocked_s == s.insert_blocked_s &&
              got.sample_blocked_s == s.sample_blocked_s &&
              got.memory_bytes == s.memory_bytes && got.env_steps == s.env_steps &&
              got.uptime_s == s.uptime_s && got.agent_total == s.agent_total &&
              got.demo_total == s.demo_total && got.demo_bonus_total == s.demo_bonus_total &&
              got.priority_updates == s.priority_updates &&
              got.stale_updates == s.stale_updates && got.errors == s.errors &&
              got.held_samples == s.held_samples && got.held_acks == s.held_acks &&
              got.n_actors == 2);
    for (size_t i = 0; i < 2; i++) {
        const replay_actor_stats *a = &got_actors[i], *w = &actors[i];
        cr_assert(a->actor_id == w->actor_id && a->episodes == w->episodes &&
                      a->env_steps == w->env_steps && a->return_sum == w->return_sum &&
                      a->last_return == w->last_return &&
                      a->intrinsic_return_sum == w->intrinsic_return_sum &&
                      a->params_version == w->params_version &&
                      a->last_seen_s == w->last_seen_s,
                  "actor %zu comes back whole", i);
    }
    shoal__v1__stats__free_unpacked(m, NULL);
    free(bytes);
}

Test(replay_wire, sample_requests_and_priority_updates_are_checked)
{
    Shoal__V1__SampleRequest r = SHOAL__V1__SAMPLE_REQUEST__INIT;
    r.batch_size = 32;
    r.demo_fraction = 0.25f;
    r.beta = 0.4f;
    replay_sample_req req;
    shoal_err err = {0};
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(req.batch_size, 32);
    cr_assert_float_eq(req.demo_fraction, 0.25, 1e-7);
    r.batch_size = 65;
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_EPROTO);
    r.batch_size = 32;
    r.beta = NAN;
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_EPROTO);
    r.beta = 0.4f;
    r.mixed = r.demo_only = true;
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_EPROTO);
    r.mixed = r.demo_only = false;
    r.paced = true; /* only a demo-only request can ask for the limiter */
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "paced"), "%s", err.msg);
    r.demo_only = true;
    cr_assert_eq(replay_wire_sample_req(&r, 64, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(req.demo_only && req.paced);
    r.paced = r.demo_only = false;

    uint64_t keys[2] = {1, 2};
    float prio[1] = {0.5f};
    Shoal__V1__PriorityUpdate u = SHOAL__V1__PRIORITY_UPDATE__INIT;
    u.n_key = 2;
    u.key = keys;
    u.n_priority = 1;
    u.priority = prio;
    cr_assert_eq(replay_wire_priority_update(&u, 16, &err), SHOAL_EPROTO);
    cr_assert(strstr(err.msg, "2 keys and 1 priorities"), "%s", err.msg);
    u.n_key = 1;
    cr_assert_eq(replay_wire_priority_update(&u, 16, &err), SHOAL_OK, "%s", err.msg);
}

/* A shard's sampled batch goes out as a SampleBatch pointing at its columns; what arrives holds
 * the same columns, the flags as booleans and labels only when there is one. */
Test(replay_wire, a_sample_round_trips_through_the_encoder_and_decoder)
{
    enum { M = 5 };
    shoal_err err = {0};
    replay_sample *x = replay_sample_new(M, OB, &err);
    cr_assert_not_null(x, "%s", err.msg);
    obs_spec sp = spec_10x10x4();
    x->count = M;
    x->n_heads = 4;
    for (size_t i = 0; i < M * OB; i++) {
        x->obs[i] = (uint8_t)(i * 3);
        x->next_obs[i] = (uint8_t)(i * 11 + 5);
    }
    for (size_t k = 0; k < M; k++) {
        x->key[k] = ((uint64_t)(k + 1) << 32) | (k * 977);
        x->weight[k] = 1.0f / (float)(k + 1);
        x->leaf[k] = 0.1 * (double)(k + 1);
        x->action[k] = (uint32_t)k;
        x->reward[k] = (float)k - 2.0f;
        x->discount[k] = 0.99f;
        x->mask[k] = 0xFu >> k;
        x->demo[k] = k % 2 == 1;
        x->label[k] = false;
    }
    protobuf_c_boolean flags[2 * M];
    for (int with_label = 0; with_label < 2; with_label++) {
        x->label[M - 1] = with_label;
        replay_wire_sample w;
        replay_wire_sample_batch(x, &sp, flags, flags + M, &w);
        w.msg.request_id = 99;
        size_t n = shoal__v1__sample_batch__get_packed_size(&w.msg);
        uint8_t *bytes = malloc(n);
        shoal__v1__sample_batch__pack(&w.msg, bytes);
        Shoal__V1__SampleBatch *m = shoal__v1__sample_batch__unpack(NULL, n, bytes);
        cr_assert_not_null(m);
        cr_assert_eq(m->request_id, 99);
        cr_assert_eq(m->count, M);
        cr_assert_eq(m->n_heads, 4);
        cr_assert_eq(m->obs_spec->n_shape, 3);
        cr_assert_eq(m->n_key, M);
        cr_assert_arr_eq(m->key, x->key, M * sizeof *x->key);
        cr_assert_arr_eq(m->weight, x->weight, M * sizeof *x->weight);
        cr_assert_arr_eq(m->leaf, x->leaf, M * sizeof *x->leaf);
        cr_assert_arr_eq(m->obs.data, x->obs, M * OB);
        cr_assert_arr_eq(m->next_obs.data, x->next_obs, M * OB);
        cr_assert_arr_eq(m->action, x->action, M * sizeof *x->action);
        cr_assert_arr_eq(m->reward, x->reward, M * sizeof *x->reward);
        cr_assert_arr_eq(m->discount, x->discount, M * sizeof *x->discount);
        cr_assert_eq(m->n_mask, M);
        cr_assert_arr_eq(m->mask, x->mask, M * sizeof *x->mask);
        cr_assert_eq(m->n_demo, M);
        for (size_t k = 0; k < M; k++) {
            cr_assert_eq((bool)m->demo[k], x->demo[k], "demo[%zu]", k);
        }
        cr_assert_eq(m->n_label, with_label ? M : 0);
        if (with_label) {
            cr_assert(m->label[M - 1] && !m->label[0]);
        }
        shoal__v1__sample_batch__free_unpacked(m, NULL);
        free(bytes);
    }
    replay_sample_free(x);
}
