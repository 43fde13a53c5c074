/* Throughput of one replay shard over tcp on loopback: transitions inserted per second and
 * transitions sampled per second, batches of 64 and 512 MinAtar transitions (10x10x4 bits, 50
 * bytes per observation). The shard runs in a thread of this process, the client in the main
 * thread (two cores: one each). Each figure is the median of REPS runs.
 *
 *     bench_replay [reps]      (compare with bench_zmq_raw for the same bytes)
 *     bench_replay --smoke     one short run of each (for the test suite) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/median.h"
#include "common/clock.h"
#include "common/frame.h"
#include "replay/client.h"
#include "replay/server.h"
#include "replay/wire.h"

#define OB 50

typedef struct shard {
    replay_server *srv;
    pthread_t th;
    volatile sig_atomic_t stop;
} shard;

static void *serve(void *arg)
{
    shard *s = arg;
    shoal_err err = {0};
    if (replay_server_run(s->srv, &s->stop, &err) != SHOAL_OK) {
        fprintf(stderr, "shard: %s\n", err.msg);
    }
    return NULL;
}

typedef struct cols {
    uint8_t *obs, *next_obs;
    uint32_t *action;
    float *reward, *discount, *priority;
    replay_batch b;
    replay_wire_insert w; /* b on the wire, to count its bytes */
} cols;

static void make_batch(cols *c, size_t n, const obs_spec *spec)
{
    c->obs = calloc(n, OB);
    c->next_obs = calloc(n, OB);
    c->action = calloc(n, sizeof *c->action);
    c->reward = calloc(n, sizeof *c->reward);
    c->discount = calloc(n, sizeof *c->discount);
    c->priority = calloc(n, sizeof *c->priority);
    for (size_t k = 0; k < n * OB; k++) {
        c->obs[k] = (uint8_t)(k * 131);
        c->next_obs[k] = (uint8_t)(k * 71);
    }
    for (size_t k = 0; k < n; k++) {
        c->action[k] = (uint32_t)(k % 6);
        c->discount[k] = 0.97f;
        c->priority[k] = 0.5f + (float)(k % 7);
    }
    c->b = (replay_batch){.spec = *spec,
                          .t = {.count = n, .obs = c->obs, .next_obs = c->next_obs,
                                .action = c->action, .reward = c->reward,
                                .discount = c->discount, .priority = c->priority}};
    replay_wire_batch(&c->b, &c->w);
}

static void free_batch(cols *c)
{
    free(c->obs);
    free(c->next_obs);
    free(c->action);
    free(c->reward);
    free(c->discount);
    free(c->priority);
}

static size_t envelope_bytes(Shoal__V1__InsertBatch *b)
{
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH;
    env.insert_batch = b;
    return frame_packed_size(&env);
}

/* Transitions per second inserted (acknowledged) in batches of n. */
static double run_insert(const char *ep, const obs_spec *spec, size_t n, size_t total)
{
    cols c;
    make_batch(&c, n, spec);
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 30000};
    shoal_err err = {0};
    replay_client *cl = replay_client_new(eps, 1, &o, &err);
    if (!cl) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    uint64_t t0 = clock_now_ns();
    for (size_t k = 0; k < total / n; k++) {
        c.b.actor_id = (uint32_t)(k % 4);
        if (replay_client_insert(cl, &c.b, &err) != SHOAL_OK) {
            fprintf(stderr, "insert: %s\n", err.msg);
            exit(1);
        }
    }
    if (replay_client_flush(cl, &err) != SHOAL_OK) {
        fprintf(stderr, "flush: %s\n", err.msg);
        exit(1);
    }
    double secs = clock_since_s(t0);
    replay_client_free(cl);
    free_batch(&c);
    return (double)(total / n * n) / secs;
}

/* Transitions per second sampled in batches of n, 4 requests in flight, priorities updated. */
static double run_sample(const char *ep, size_t n, size_t total)
{
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 30000, .obs_bytes = OB, .max_batch = n,
                               .pipeline = 4};
    shoal_err err = {0};
    replay_client *cl = replay_client_new(eps, 1, &o, &err);
    float *prio = malloc(n * sizeof *prio);
    for (size_t k = 0; k < n; k++) {
        prio[k] = 1.0f + (float)(k % 3);
    }
    replay_sample_req req = {.batch_size = n, .beta = 0.4};
    size_t batches = total / n;
    uint64_t t0 = clock_now_ns();
    for (size_t k = 0; k < 4; k++) {
        replay_client_sample_request(cl, &req, &err);
    }
    for (size_t k = 0; k < batches; k++) {
        const replay_sample *b;
        if (replay_client_sample_next(cl, &b, &err) != SHOAL_OK ||
            replay_client_update_priorities(cl, b, prio, &err) != SHOAL_OK ||
            (k + 4 < batches && replay_client_sample_request(cl, &req, &err) != SHOAL_OK)) {
            fprintf(stderr, "sample: %s\n", err.msg);
            exit(1);
        }
    }
    double secs = clock_since_s(t0);
    free(prio);
    replay_client_free(cl);
    return (double)(batches * n) / secs;
}

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    int reps = smoke ? 1 : argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 100) {
        reps = 5;
    }
    size_t inserts = smoke ? 1u << 13 : 1u << 20, samples = smoke ? 1u << 13 : 1u << 19;
    replay_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store = (replay_store_config){.capacity = 1 << 20, .alpha = 0.6, .epsilon = 1e-6,
                                      .epsilon_demo = 1.0, .seed = 1, .max_batch = 1024};
    obs_spec_parse("10,10,4", "bit", &cfg.store.spec, NULL);
    snprintf(cfg.bind, sizeof cfg.bind, "tcp://127.0.0.1:*");
    cfg.credits = 16;
    cfg.max_message_bytes = 64 << 20;
    cfg.max_actors = 16;
    cfg.max_pending = 64;
    shoal_err err = {0};
    shard s = {0};
    s.srv = replay_server_new(&cfg, &err);
    if (!s.srv) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char ep[256];
    snprintf(ep, sizeof ep, "%s", replay_server_endpoint(s.srv));
    pthread_create(&s.th, NULL, serve, &s);
    printf("one replay shard, tcp loopback, MinAtar transitions (2 x 50-byte obs), median of %d\n",
           reps);
    printf("%-8s %6s %14s %12s %14s\n", "op", "batch", "transitions/s", "MB/s", "msg bytes");
    const size_t sizes[2] = {64, 512};
    for (size_t i = 0; i < 2; i++) {
        double v[100];
        cols c;
        make_batch(&c, sizes[i], &cfg.store.spec);
        size_t bytes = envelope_bytes(&c.w.msg);
        free_batch(&c);
        for (int r = 0; r < reps; r++) {
            v[r] = run_insert(ep, &cfg.store.spec, sizes[i], inserts);
        }
        double m = bench_median(v, (size_t)reps);
        printf("%-8s %6zu %14.0f %12.1f %14zu\n", "insert", sizes[i], m,
               m / (double)sizes[i] * (double)bytes / 1e6, bytes);
    }
    for (size_t i = 0; i < 2; i++) {
        double v[100];
        for (int r = 0; r < reps; r++) {
            v[r] = run_sample(ep, sizes[i], samples);
        }
        double m = bench_median(v, (size_t)reps);
        /* a SampleBatch carries about 137 bytes per transition (obs, keys, weights, leaves) */
        printf("%-8s %6zu %14.0f %12.1f %14s\n", "sample", sizes[i], m, m * 137.0 / 1e6, "~137/tr");
    }
    s.stop = 1;
    pthread_join(s.th, NULL);
    replay_server_free(s.srv);
    return 0;
}
