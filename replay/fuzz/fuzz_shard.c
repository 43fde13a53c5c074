/* libFuzzer target: one input is one message as a shard receives it. It goes through the same
 * path as in the server (frame_decode with the size limit and an arena, replay/wire.h
 * validation, then the store: insert, sample, priority update) against a small store with a
 * MinAtar observation spec. Any crash, sanitizer report or broken store invariant is a bug.
 *
 *     cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSHOAL_FUZZ=ON -DSHOAL_TESTS=OFF
 *     cmake --build build-fuzz --target fuzz_replay_shard
 *     build-fuzz/replay/fuzz_replay_shard -max_total_time=300 corpus/ */
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "common/frame.h"
#include "replay/store.h"
#include "replay/wire.h"

#define MAX_MESSAGE (1u << 20)

typedef struct fuzz_state {
    replay_store *store;
    replay_sample *sample;
    frame_arena *arena;
} fuzz_state;

static fuzz_state *state(void)
{
    static fuzz_state s;
    if (!s.store) {
        replay_store_config c = {.capacity = 64, .demo_capacity = 64, .alpha = 0.6,
                                 .epsilon = 1e-6, .epsilon_demo = 1.0, .seed = 1,
                                 .max_batch = 128};
        obs_spec_parse("10,10,4", "bit", &c.spec, NULL);
        s.store = replay_store_new(&c, NULL);
        s.sample = replay_sample_new(128, c.spec.bytes, NULL);
        s.arena = frame_arena_new(1 << 16, NULL);
        if (!s.store || !s.sample || !s.arena) {
            abort();
        }
    }
    return &s;
}

static void check_invariants(const replay_store *st)
{
    replay_totals t = replay_store_totals(st);
    if (!isfinite(t.agent) || !isfinite(t.demo) || !isfinite(t.demo_bonus) || t.agent < 0 ||
        t.size > replay_store_capacity(st) || t.demo_size > replay_store_demo_capacity(st)) {
        abort();
    }
}

static void serve(fuzz_state *s, const Shoal__V1__Envelope *env)
{
    shoal_err err = {0};
    switch (env->body_case) {
    case SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH: {
        replay_transitions t;
        const Shoal__V1__InsertBatch *b = env->insert_batch;
        if (replay_wire_insert_view(b, replay_store_spec(s->store), MAX_MESSAGE, &t, &err) ==
            SHOAL_OK) {
            replay_store_insert(s->store, &t, b->demo, &err);
        }
        break;
    }
    case SHOAL__V1__ENVELOPE__BODY_SAMPLE_REQUEST: {
        replay_sample_req req;
        if (replay_wire_sample_req(env->sample_request, 128, &req, &err) == SHOAL_OK &&
            replay_store_sample(s->store, &req, s->sample, &err) == SHOAL_OK) {
            for (size_t j = 0; j < s->sample->count; j++) {
                if (!(s->sample->weight[j] > 0.0f && s->sample->weight[j] <= 1.0f)) {
                    abort();
                }
            }
        }
        break;
    }
    case SHOAL__V1__ENVELOPE__BODY_PRIORITY_UPDATE: {
        const Shoal__V1__PriorityUpdate *u = env->priority_update;
        if (replay_wire_priority_update(u, MAX_MESSAGE, &err) == SHOAL_OK) {
            replay_store_update(s->store, u->key, u->priority, u->n_key, NULL, &err);
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_state *s = state();
    Shoal__V1__Envelope *env = NULL;
    shoal_err err = {0};
    frame_arena_reset(s->arena);
    if (frame_decode(data, size, MAX_MESSAGE, s->arena, &env, &err) == SHOAL_OK) {
        serve(s, env);
    }
    check_invariants(s->store);
    return 0;
}
