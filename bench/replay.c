/* Throughput of one replay shard over tcp on loopback: transitions inserted per second and
 * transitions sampled per second, batches of 64 and 512 MinAtar transitions (10x10x4 bits, 50
 * bytes per observation). The shard runs in a thread of this process, the client in the main
 * thread (two cores: one each). Each figure is the median of REPS runs. Every figure is measured
 * twice, on a plain shard and on a CURVE shard (common/curve.h, keys made in a temporary
 * folder), the runs alternated so that a busy machine weighs on both alike. Beside the rates,
 * the CPU time of the whole process (shard, client and ZeroMQ's I/O threads) per transition,
 * which other jobs on the machine disturb less than wall time.
 *
 *     bench_replay [reps]      (compare with bench_zmq_raw for the same bytes)
 *     bench_replay --smoke     one short run of each (for the test suite) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/median.h"
#include "common/clock.h"
#include "common/curve.h"
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

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Transitions per second inserted (acknowledged) in batches of n; *cpu_us the process's CPU
 * microseconds per transition. */
static double run_insert(const char *ep, const curve_keys *keys, const obs_spec *spec, size_t n,
                         size_t total, double *cpu_us)
{
    cols c;
    make_batch(&c, n, spec);
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 30000, .curve = *keys};
    shoal_err err = {0};
    replay_client *cl = replay_client_new(eps, 1, &o, &err);
    if (!cl) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    uint64_t t0 = clock_now_ns();
    double c0 = cpu_s();
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
    *cpu_us = (cpu_s() - c0) * 1e6 / (double)(total / n * n);
    replay_client_free(cl);
    free_batch(&c);
    return (double)(total / n * n) / secs;
}

/* Transitions per second sampled in batches of n, 4 requests in flight, priorities updated. */
static double run_sample(const char *ep, const curve_keys *keys, size_t n, size_t total,
                         double *cpu_us)
{
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 30000, .obs_bytes = OB, .max_batch = n,
                               .pipeline = 4, .curve = *keys};
    shoal_err err = {0};
    replay_client *cl = replay_client_new(eps, 1, &o, &err);
    float *prio = malloc(n * sizeof *prio);
    for (size_t k = 0; k < n; k++) {
        prio[k] = 1.0f + (float)(k % 3);
    }
    replay_sample_req req = {.batch_size = n, .beta = 0.4};
    size_t batches = total / n;
    uint64_t t0 = clock_now_ns();
    double c0 = cpu_s();
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
    *cpu_us = (cpu_s() - c0) * 1e6 / (double)(batches * n);
    free(prio);
    replay_client_free(cl);
    return (double)(batches * n) / secs;
}

static void start_shard(shard *s, const replay_server_config *cfg)
{
    shoal_err err = {0};
    s->srv = replay_server_new(cfg, &err);
    if (!s->srv) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    pthread_create(&s->th, NULL, serve, s);
}

static void stop_shard(shard *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    replay_server_free(s->srv);
}

/* off, on: rates; cpu_off, cpu_on: CPU microseconds per transition (reps each). */
static void print_row(const char *op, size_t n, double *off, double *on, double *cpu_off,
                      double *cpu_on, int reps, double bytes_per_tr, const char *msg_bytes)
{
    double m = bench_median(off, (size_t)reps), mc = bench_median(on, (size_t)reps);
    printf("%-8s %6zu %14.0f %12.1f %14s %14.0f %8.1f%% %9.3f %9.3f\n", op, n, m,
           m * bytes_per_tr / 1e6, msg_bytes, mc, 100.0 * (m - mc) / m,
           bench_median(cpu_off, (size_t)reps), bench_median(cpu_on, (size_t)reps));
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
    char tmp[] = "/tmp/bench-replay-keys-XXXXXX", keys_dir[64];
    shoal_err err = {0};
    curve_keys plain = {0}, curve;
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(keys_dir, sizeof keys_dir, "%s/keys", tmp);
    if (curve_keys_generate(keys_dir, &err) != SHOAL_OK ||
        curve_keys_load(keys_dir, true, &curve, &err) != SHOAL_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    shard s = {0}, sc = {0};
    start_shard(&s, &cfg);
    cfg.curve = curve;
    start_shard(&sc, &cfg);
    char ep[256], epc[256];
    snprintf(ep, sizeof ep, "%s", replay_server_endpoint(s.srv));
    snprintf(epc, sizeof epc, "%s", replay_server_endpoint(sc.srv));
    printf("one replay shard, tcp loopback, MinAtar transitions (2 x 50-byte obs), median of %d;\n"
           "plain and CURVE runs alternated\n", reps);
    printf("%-8s %6s %14s %12s %14s %14s %9s %9s %9s\n", "op", "batch", "transitions/s", "MB/s",
           "msg bytes", "CURVE tr/s", "cost", "cpu us/tr", "CURVE us");
    const size_t sizes[2] = {64, 512};
    for (size_t i = 0; i < 2; i++) {
        double v[100], vc[100], u[100], uc[100];
        cols c;
        make_batch(&c, sizes[i], &cfg.store.spec);
        size_t bytes = envelope_bytes(&c.w.msg);
        free_batch(&c);
        for (int r = 0; r < reps; r++) {
            v[r] = run_insert(ep, &plain, &cfg.store.spec, sizes[i], inserts, &u[r]);
            vc[r] = run_insert(epc, &curve, &cfg.store.spec, sizes[i], inserts, &uc[r]);
        }
        char msg[32];
        snprintf(msg, sizeof msg, "%zu", bytes);
        print_row("insert", sizes[i], v, vc, u, uc, reps, (double)bytes / (double)sizes[i], msg);
    }
    for (size_t i = 0; i < 2; i++) {
        double v[100], vc[100], u[100], uc[100];
        for (int r = 0; r < reps; r++) {
            v[r] = run_sample(ep, &plain, sizes[i], samples, &u[r]);
            vc[r] = run_sample(epc, &curve, sizes[i], samples, &uc[r]);
        }
        /* a SampleBatch carries about 137 bytes per transition (obs, keys, weights, leaves) */
        print_row("sample", sizes[i], v, vc, u, uc, reps, 137.0, "~137/tr");
    }
    stop_shard(&s);
    stop_shard(&sc);
    curve_keys_wipe(&curve);
    char path[96];
    snprintf(path, sizeof path, "%s/" CURVE_SERVER_FILE, keys_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/" CURVE_CLIENT_FILE, keys_dir);
    unlink(path);
    rmdir(keys_dir);
    rmdir(tmp);
    return 0;
}
