/* Every message of proto/shoal.proto survives encode + decode inside an Envelope. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"

static Shoal__V1__Envelope *round_trip(Shoal__V1__Envelope *env)
{
    size_t n = frame_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    cr_assert_eq(frame_pack(env, buf), n);
    Shoal__V1__Envelope *out = NULL;
    shoal_err err = {0};
    cr_assert_eq(frame_decode(buf, n, 1 << 24, NULL, &out, &err), SHOAL_OK, "%s", err.msg);
    free(buf);
    cr_assert_eq(out->body_case, env->body_case);
    return out;
}

#define ENVELOPE(field, CASE, msg)                                                                 \
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;                                           \
    env.body_case = SHOAL__V1__ENVELOPE__BODY_##CASE;                                              \
    env.field = &(msg)

static uint32_t shape[3] = {10, 10, 4};

Test(proto, insert_batch_round_trips_every_column)
{
    Shoal__V1__ObsSpec spec = SHOAL__V1__OBS_SPEC__INIT;
    spec.n_shape = 3;
    spec.shape = shape;
    spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_BIT;
    uint8_t obs[100], next[100];
    for (int i = 0; i < 100; i++) {
        obs[i] = (uint8_t)i;
        next[i] = (uint8_t)(255 - i);
    }
    uint32_t action[2] = {1, 2}, mask[2] = {0x3, 0x1}, elen[1] = {17}, ehead[1] = {3};
    float reward[2] = {0.5f, -1.0f}, discount[2] = {0.99f, 0.0f}, prio[2] = {1.5f, 0.25f};
    float eret[1] = {12.0f}, eint[1] = {0.75f};
    Shoal__V1__InsertBatch b = SHOAL__V1__INSERT_BATCH__INIT;
    b.actor_id = 7;
    b.seq = 99;
    b.obs_spec = &spec;
    b.count = 2;
    b.obs = (ProtobufCBinaryData){100, obs};
    b.next_obs = (ProtobufCBinaryData){100, next};
    b.n_action = 2, b.action = action;
    b.n_reward = 2, b.reward = reward;
    b.n_discount = 2, b.discount = discount;
    b.n_heads = 2;
    b.n_mask = 2, b.mask = mask;
    b.n_priority = 2, b.priority = prio;
    b.demo = true;
    b.params_version = 123;
    b.env_steps = 456;
    b.n_episode_return = 1, b.episode_return = eret;
    b.n_episode_length = 1, b.episode_length = elen;
    b.n_episode_head = 1, b.episode_head = ehead;
    b.n_episode_intrinsic_return = 1, b.episode_intrinsic_return = eint;
    ENVELOPE(insert_batch, INSERT_BATCH, b);
    Shoal__V1__Envelope *out = round_trip(&env);
    Shoal__V1__InsertBatch *o = out->insert_batch;
    cr_assert_eq(o->actor_id, 7);
    cr_assert_eq(o->seq, 99);
    cr_assert_eq(o->obs_spec->n_shape, 3);
    cr_assert_eq(o->obs_spec->shape[2], 4);
    cr_assert_eq(o->obs_spec->dtype, SHOAL__V1__OBS_DTYPE__OBS_DTYPE_BIT);
    cr_assert_eq(o->count, 2);
    cr_assert_eq(o->obs.len, 100);
    cr_assert_eq(memcmp(o->obs.data, obs, 100), 0);
    cr_assert_eq(memcmp(o->next_obs.data, next, 100), 0);
    cr_assert_eq(o->n_action, 2);
    cr_assert_eq(o->action[1], 2);
    cr_assert_eq(o->reward[1], -1.0f);
    cr_assert_eq(o->discount[0], 0.99f);
    cr_assert_eq(o->n_heads, 2);
    cr_assert_eq(o->mask[0], 3);
    cr_assert_eq(o->priority[1], 0.25f);
    cr_assert(o->demo);
    cr_assert_eq(o->params_version, 123);
    cr_assert_eq(o->env_steps, 456);
    cr_assert_eq(o->episode_return[0], 12.0f);
    cr_assert_eq(o->episode_length[0], 17);
    cr_assert_eq(o->episode_head[0], 3);
    cr_assert_eq(o->episode_intrinsic_return[0], 0.75f);
    frame_envelope_free(out);
}

Test(proto, insert_ack_round_trips)
{
    Shoal__V1__InsertAck a = SHOAL__V1__INSERT_ACK__INIT;
    a.seq = 5, a.accepted = 64, a.credits = 3;
    ENVELOPE(insert_ack, INSERT_ACK, a);
    Shoal__V1__Envelope *out = round_trip(&env);
    cr_assert_eq(out->insert_ack->seq, 5);
    cr_assert_eq(out->insert_ack->accepted, 64);
    cr_assert_eq(out->insert_ack->credits, 3);
    frame_envelope_free(out);
}

Test(proto, sample_request_round_trips)
{
    Shoal__V1__SampleRequest r = SHOAL__V1__SAMPLE_REQUEST__INIT;
    r.request_id = 77, r.batch_size = 512, r.demo_fraction = 0.25f, r.beta = 0.4f;
    r.mixed = true, r.demo_only = true;
    ENVELOPE(sample_request, SAMPLE_REQUEST, r);
    Shoal__V1__Envelope *out = round_trip(&env);
    Shoal__V1__SampleRequest *o = out->sample_request;
    cr_assert_eq(o->request_id, 77);
    cr_assert_eq(o->batch_size, 512);
    cr_assert_eq(o->demo_fraction, 0.25f);
    cr_assert_eq(o->beta, 0.4f);
    cr_assert(o->mixed && o->demo_only);
    frame_envelope_free(out);
}

Test(proto, sample_batch_round_trips)
{
    Shoal__V1__ObsSpec spec = SHOAL__V1__OBS_SPEC__INIT;
    spec.n_shape = 3, spec.shape = shape, spec.dtype = SHOAL__V1__OBS_DTYPE__OBS_DTYPE_UINT8;
    uint64_t key[2] = {1ull << 40 | 3, 9};
    float weight[2] = {1.0f, 0.5f}, reward[2] = {1, 2}, discount[2] = {0.9f, 0};
    uint32_t action[2] = {0, 5}, mask[2] = {1, 2};
    protobuf_c_boolean demo[2] = {0, 1};
    uint8_t obs[800] = {0}, next[800] = {0};
    obs[799] = 7;
    Shoal__V1__SampleBatch b = SHOAL__V1__SAMPLE_BATCH__INIT;
    b.request_id = 4, b.shard = 1, b.obs_spec = &spec, b.count = 2;
    b.n_key = 2, b.key = key, b.n_weight = 2, b.weight = weight;
    b.obs = (ProtobufCBinaryData){800, obs}, b.next_obs = (ProtobufCBinaryData){800, next};
    b.n_action = 2, b.action = action, b.n_reward = 2, b.reward = reward;
    b.n_discount = 2, b.discount = discount, b.n_heads = 2, b.n_mask = 2, b.mask = mask;
    b.n_demo = 2, b.demo = demo;
    ENVELOPE(sample_batch, SAMPLE_BATCH, b);
    Shoal__V1__Envelope *out = round_trip(&env);
    Shoal__V1__SampleBatch *o = out->sample_batch;
    cr_assert_eq(o->request_id, 4);
    cr_assert_eq(o->shard, 1);
    cr_assert_eq(o->key[0], key[0]);
    cr_assert_eq(o->weight[1], 0.5f);
    cr_assert_eq(o->obs.data[799], 7);
    cr_assert_eq(o->action[1], 5);
    cr_assert_eq(o->mask[1], 2);
    cr_assert_eq(o->n_demo, 2);
    cr_assert(!o->demo[0] && o->demo[1]);
    frame_envelope_free(out);
}

Test(proto, priority_update_round_trips)
{
    uint64_t key[3] = {1, 2, UINT64_MAX};
    float prio[3] = {0.1f, 2.0f, 1e-6f};
    Shoal__V1__PriorityUpdate u = SHOAL__V1__PRIORITY_UPDATE__INIT;
    u.n_key = 3, u.key = key, u.n_priority = 3, u.priority = prio;
    ENVELOPE(priority_update, PRIORITY_UPDATE, u);
    Shoal__V1__Envelope *out = round_trip(&env);
    cr_assert_eq(out->priority_update->n_key, 3);
    cr_assert_eq(out->priority_update->key[2], UINT64_MAX);
    cr_assert_eq(out->priority_update->priority[2], 1e-6f);
    frame_envelope_free(out);
}

Test(proto, params_round_trips)
{
    float w[5] = {1, -2, 3.5f, NAN, 0};
    Shoal__V1__Params p = SHOAL__V1__PARAMS__INIT;
    p.version = 1000, p.arch = "qnet/v1", p.data = (ProtobufCBinaryData){sizeof w, (uint8_t *)w};
    p.crc32c = 0xdeadbeef, p.frames = 1ull << 33;
    ENVELOPE(params, PARAMS, p);
    Shoal__V1__Envelope *out = round_trip(&env);
    cr_assert_eq(out->params->version, 1000);
    cr_assert_str_eq(out->params->arch, "qnet/v1");
    cr_assert_eq(out->params->data.len, sizeof w);
    cr_assert_eq(memcmp(out->params->data.data, w, sizeof w), 0);
    cr_assert_eq(out->params->crc32c, 0xdeadbeef);
    cr_assert_eq(out->params->frames, 1ull << 33);
    frame_envelope_free(out);
}

Test(proto, stats_request_and_stats_round_trip)
{
    Shoal__V1__StatsRequest r = SHOAL__V1__STATS_REQUEST__INIT;
    r.request_id = 3;
    ENVELOPE(stats_request, STATS_REQUEST, r);
    Shoal__V1__Envelope *out = round_trip(&env);
    cr_assert_eq(out->stats_request->request_id, 3);
    frame_envelope_free(out);

    Shoal__V1__ActorStats a = SHOAL__V1__ACTOR_STATS__INIT;
    a.actor_id = 2, a.episodes = 10, a.return_sum = 55.5, a.params_version = 8;
    Shoal__V1__ActorStats *actors[1] = {&a};
    Shoal__V1__Stats s = SHOAL__V1__STATS__INIT;
    s.request_id = 3, s.shard = 1, s.size = 100, s.capacity = 1000, s.demo_size = 20;
    s.inserted = 120, s.sampled = 640, s.demo_sampled = 160, s.insert_blocked_s = 1.5;
    s.sample_blocked_s = 2.5, s.memory_bytes = 1 << 20, s.env_steps = 4000, s.uptime_s = 9;
    s.n_actors = 1, s.actors = actors;
    Shoal__V1__Envelope env2 = SHOAL__V1__ENVELOPE__INIT;
    env2.body_case = SHOAL__V1__ENVELOPE__BODY_STATS;
    env2.stats = &s;
    out = round_trip(&env2);
    Shoal__V1__Stats *o = out->stats;
    cr_assert_eq(o->size, 100);
    cr_assert_eq(o->demo_sampled, 160);
    cr_assert_eq(o->sample_blocked_s, 2.5);
    cr_assert_eq(o->n_actors, 1);
    cr_assert_eq(o->actors[0]->episodes, 10);
    cr_assert_eq(o->actors[0]->return_sum, 55.5);
    frame_envelope_free(out);
}

Test(proto, error_round_trips)
{
    Shoal__V1__Error e = SHOAL__V1__ERROR__INIT;
    e.code = SHOAL_EPROTO, e.message = "bad batch";
    ENVELOPE(error, ERROR, e);
    Shoal__V1__Envelope *out = round_trip(&env);
    cr_assert_eq(out->error->code, SHOAL_EPROTO);
    cr_assert_str_eq(out->error->message, "bad batch");
    frame_envelope_free(out);
}
