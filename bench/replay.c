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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/median.h"
#include "bench/rawzmq.h"
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

/* Envelope bytes of the SampleBatch a full shard of the bench's capacity sends for n
 * transitions (one head, no demonstrations; keys of generation 1 and 2 as after the fill). */
static size_t sample_bytes(size_t n, const obs_spec *spec, size_t capacity)
{
    replay_sample *x = replay_sample_new(n, OB, NULL);
    protobuf_c_boolean *flags = calloc(2 * n, sizeof *flags);
    if (!x || !flags) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    x->count = n;
    x->n_heads = 1;
    memset(x->obs, 0x5A, n * OB);
    memset(x->next_obs, 0xA5, n * OB);
    for (size_t k = 0; k < n; k++) {
        x->key[k] = ((uint64_t)(1 + k % 2) << 32) | (k * 2053 % capacity);
        x->weight[k] = 0.5f;
        x->leaf[k] = 1.25;
        x->action[k] = (uint32_t)(k % 6);
        x->reward[k] = 1.0f;
        x->discount[k] = 0.97f;
        x->demo[k] = x->label[k] = false;
    }
    replay_wire_sample w;
    replay_wire_sample_batch(x, spec, flags, flags + n, &w);
    w.msg.request_id = ((uint64_t)1 << 63) | 1000;
    w.msg.agent_total = 1e5;
    w.msg.size = capacity;
    Shoal__V1__Envelope env = SHOAL__V1__ENVELOPE__INIT;
    env.body_case = SHOAL__V1__ENVELOPE__BODY_SAMPLE_BATCH;
    env.sample_batch = &w.msg;
    size_t bytes = frame_packed_size(&env);
    free(flags);
    replay_sample_free(x);
    return bytes;
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
    double c0 = bench_process_cpu_s();
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
    *cpu_us = (bench_process_cpu_s() - c0) * 1e6 / (double)(total / n * n);
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
    double c0 = bench_process_cpu_s();
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
    *cpu_us = (bench_process_cpu_s() - c0) * 1e6 / (double)(batches * n);
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

typedef struct opts {
    bool smoke, plain, raw, insert, sample;
    int reps;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.insert = true, .sample = true, .reps = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--smoke") == 0) {
            o->smoke = true;
            o->reps = 1;
        } else if (strcmp(a, "--plain") == 0) {
            o->plain = true;
        } else if (strcmp(a, "--raw") == 0) {
            o->raw = true;
        } else if (strcmp(a, "--only") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "insert") == 0 || strcmp(argv[i + 1], "sample") == 0)) {
            o->insert = strcmp(argv[++i], "insert") == 0;
            o->sample = !o->insert;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: bench_replay [reps] [--plain] [--raw] [--only insert|sample] "
                   "[--smoke]\n"
                   "  reps      runs per figure, the median printed (default 5)\n"
                   "  --plain   no CURVE runs\n"
                   "  --raw     alternate every run with raw ZeroMQ PUSH/PULL of the same "
                   "message bytes\n"
                   "            and print the rate and CPU per transition as %% of it\n"
                   "  --only    insert or sample rows only\n"
                   "  --smoke   one short run of each (for the test suite)\n");
            return -1;
        } else if (a[0] != '-' && atoi(a) >= 1 && atoi(a) <= 100) {
            o->reps = atoi(a);
        } else {
            fprintf(stderr, "bench_replay: unknown argument '%s' (try --help)\n", a);
            return 2;
        }
    }
    return 0;
}

/* The figures of one row, reps runs each: wall rates (transitions/s) and process CPU
 * microseconds per transition, of the plain shard, the CURVE shard and raw ZeroMQ. */
typedef struct row {
    double plain[100], curve[100], raw[100];
    double cpu_plain[100], cpu_curve[100], cpu_raw[100];
    double ratio[100], cpu_ratio[100]; /* plain against raw, per round */
} row;

static void print_header(const opts *o)
{
    printf("%-8s %6s %14s %9s %9s", "op", "batch", "transitions/s", "MB/s", "msg bytes");
    if (!o->plain) {
        printf(" %14s %8s", "CURVE tr/s", "cost");
    }
    printf(" %9s", "cpu us/tr");
    if (!o->plain) {
        printf(" %9s", "CURVE us");
    }
    if (o->raw) {
        printf(" %14s %7s %9s %9s", "raw tr/s", "% raw", "raw us/tr", "% raw cpu");
    }
    printf("\n");
}

static void print_row(const opts *o, const char *op, size_t n, row *w, size_t msg_bytes)
{
    size_t reps = (size_t)o->reps;
    double m = bench_median(w->plain, reps);
    printf("%-8s %6zu %14.0f %9.1f %9zu", op, n, m, m * (double)msg_bytes / (double)n / 1e6,
           msg_bytes);
    if (!o->plain) {
        double mc = bench_median(w->curve, reps);
        printf(" %14.0f %7.1f%%", mc, 100.0 * (m - mc) / m);
    }
    printf(" %9.3f", bench_median(w->cpu_plain, reps));
    if (!o->plain) {
        printf(" %9.3f", bench_median(w->cpu_curve, reps));
    }
    if (o->raw) {
        printf(" %14.0f %6.1f%% %9.3f %8.1f%%", bench_median(w->raw, reps),
               100.0 * bench_median(w->ratio, reps), bench_median(w->cpu_raw, reps),
               100.0 * bench_median(w->cpu_ratio, reps));
    }
    printf("\n");
}

/* One round of raw ZeroMQ for row w: messages of msg_bytes carrying n transitions each. */
static void run_raw(row *w, int r, size_t n, size_t msg_bytes, size_t total)
{
    double cpu;
    size_t msgs = total / n;
    w->raw[r] = bench_raw_zmq(msg_bytes, msgs, &cpu) * (double)n;
    w->cpu_raw[r] = cpu * 1e6 / (double)(msgs * n);
    w->ratio[r] = w->plain[r] / w->raw[r];
    w->cpu_ratio[r] = w->cpu_raw[r] / w->cpu_plain[r];
}

int main(int argc, char **argv)
{
    opts o;
    int prc = parse(argc, argv, &o);
    if (prc != 0) {
        return prc < 0 ? 0 : prc;
    }
    int reps = o.reps;
    size_t inserts = o.smoke ? 1u << 13 : 1u << 20, samples = o.smoke ? 1u << 13 : 1u << 19;
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
    if (!o.plain) {
        start_shard(&sc, &cfg);
    }
    char ep[256], epc[256] = "";
    snprintf(ep, sizeof ep, "%s", replay_server_endpoint(s.srv));
    if (!o.plain) {
        snprintf(epc, sizeof epc, "%s", replay_server_endpoint(sc.srv));
    }
    printf("one replay shard, tcp loopback, MinAtar transitions (2 x 50-byte obs), median of %d;\n"
           "%s; cpu: the process's CPU time (every thread) per transition\n", reps,
           o.plain ? (o.raw ? "runs alternated with raw ZeroMQ of the same bytes" : "plain only")
                   : (o.raw ? "plain, CURVE and raw ZeroMQ runs alternated"
                            : "plain and CURVE runs alternated"));
    print_header(&o);
    const size_t sizes[2] = {64, 512};
    static row w;
    for (size_t i = 0; o.insert && i < 2; i++) {
        cols c;
        make_batch(&c, sizes[i], &cfg.store.spec);
        size_t bytes = envelope_bytes(&c.w.msg);
        free_batch(&c);
        for (int r = 0; r < reps; r++) {
            w.plain[r] = run_insert(ep, &plain, &cfg.store.spec, sizes[i], inserts, &w.cpu_plain[r]);
            if (!o.plain) {
                w.curve[r] = run_insert(epc, &curve, &cfg.store.spec, sizes[i], inserts,
                                        &w.cpu_curve[r]);
            }
            if (o.raw) {
                run_raw(&w, r, sizes[i], bytes, inserts);
            }
        }
        print_row(&o, "insert", sizes[i], &w, bytes);
    }
    if (o.sample && !o.insert) { /* sampling needs a filled store */
        for (int r = 0; r < 2; r++) {
            double cpu;
            run_insert(ep, &plain, &cfg.store.spec, 512, inserts, &cpu);
            if (!o.plain) {
                run_insert(epc, &curve, &cfg.store.spec, 512, inserts, &cpu);
            }
        }
    }
    for (size_t i = 0; o.sample && i < 2; i++) {
        size_t bytes = sample_bytes(sizes[i], &cfg.store.spec, cfg.store.capacity);
        for (int r = 0; r < reps; r++) {
            w.plain[r] = run_sample(ep, &plain, sizes[i], samples, &w.cpu_plain[r]);
            if (!o.plain) {
                w.curve[r] = run_sample(epc, &curve, sizes[i], samples, &w.cpu_curve[r]);
            }
            if (o.raw) {
                run_raw(&w, r, sizes[i], bytes, samples);
            }
        }
        print_row(&o, "sample", sizes[i], &w, bytes);
    }
    stop_shard(&s);
    if (!o.plain) {
        stop_shard(&sc);
    }
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
