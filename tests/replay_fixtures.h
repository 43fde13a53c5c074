/* Shared by the replay test programs: MinAtar-like batches built directly (as plain
 * replay_batch, and as the InsertBatch the client would send for tests that speak the wire
 * themselves), and a shard served from a thread of the test process. Transition `id` carries id
 * in its action and in the first bytes of both observations. */
#ifndef SHOAL_TESTS_REPLAY_FIXTURES_H
#define SHOAL_TESTS_REPLAY_FIXTURES_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "replay/server.h"
#include "replay/wire.h"

#define FX_OB 50
#define FX_MAXN 512

typedef struct fx_batch {
    uint8_t obs[FX_MAXN * FX_OB], next_obs[FX_MAXN * FX_OB];
    uint32_t action[FX_MAXN], mask[FX_MAXN];
    float reward[FX_MAXN], discount[FX_MAXN], priority[FX_MAXN];
    float ep_return[4];
    uint32_t ep_length[4], ep_head[4];
    replay_transitions t;
    replay_batch b;       /* what replay_client_insert takes */
    replay_wire_insert w; /* b on the wire: w.msg (seq 0) */
} fx_batch;

static inline obs_spec fx_spec(void)
{
    obs_spec sp;
    obs_spec_parse("10,10,4", "bit", &sp, NULL);
    return sp;
}

/* n transitions with ids first_id.., as store columns (f->t), as a batch (f->b) and as an
 * InsertBatch (f->w.msg, which tests that speak the wire may break on purpose). */
static inline void fx_batch_fill(fx_batch *f, uint32_t actor_id, uint32_t first_id, size_t n,
                                 float priority, bool demo)
{
    for (size_t k = 0; k < n; k++) {
        uint32_t id = first_id + (uint32_t)k;
        memset(f->obs + k * FX_OB, 0, FX_OB);
        memset(f->next_obs + k * FX_OB, 0, FX_OB);
        memcpy(f->obs + k * FX_OB, &id, sizeof id);
        memcpy(f->next_obs + k * FX_OB, &id, sizeof id);
        f->next_obs[k * FX_OB + FX_OB - 1] = 0xAB;
        f->action[k] = id;
        f->reward[k] = (float)id * 0.5f;
        f->discount[k] = 0.99f;
        f->priority[k] = priority;
    }
    f->t = (replay_transitions){.count = n, .obs = f->obs, .next_obs = f->next_obs,
                                .action = f->action, .reward = f->reward,
                                .discount = f->discount, .priority = f->priority};
    f->b = (replay_batch){.actor_id = demo ? REPLAY_DEMO_ACTOR : actor_id, .demo = demo,
                          .spec = fx_spec(), .t = f->t};
    replay_wire_batch(&f->b, &f->w);
}

static inline replay_server_config fx_server_config(size_t cap, size_t demo_cap)
{
    replay_server_config c;
    memset(&c, 0, sizeof c);
    c.store = (replay_store_config){.capacity = cap, .demo_capacity = demo_cap, .alpha = 1.0,
                                    .epsilon = 0.0, .epsilon_demo = 1.0, .seed = 5,
                                    .max_batch = FX_MAXN};
    c.store.spec = fx_spec();
    snprintf(c.bind, sizeof c.bind, "tcp://127.0.0.1:*");
    c.credits = 4;
    c.max_message_bytes = 1 << 20;
    c.max_actors = 16;
    c.max_pending = 8;
    c.checkpoint_max_failures = 3;
    return c;
}

typedef struct fx_server {
    replay_server *srv;
    pthread_t thread;
    volatile sig_atomic_t stop;
    int rc;
    shoal_err err;
} fx_server;

static inline void *fx_server_main(void *arg)
{
    fx_server *f = arg;
    f->rc = replay_server_run(f->srv, &f->stop, &f->err);
    return NULL;
}

/* Starts a shard serving from a thread; returns 0 or the error code (message in err). */
static inline int fx_server_start(fx_server *f, const replay_server_config *cfg)
{
    memset(f, 0, sizeof *f);
    f->srv = replay_server_new(cfg, &f->err);
    if (!f->srv) {
        return f->err.code;
    }
    return pthread_create(&f->thread, NULL, fx_server_main, f) == 0 ? 0 : SHOAL_EIO;
}

static inline int fx_server_stop(fx_server *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    replay_server_free(f->srv);
    f->srv = NULL;
    return f->rc;
}

#endif
