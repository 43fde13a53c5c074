/* The replay shard's serving pause during a checkpoint. A shard in a thread of this process is
 * filled with MinAtar transitions (Breakout: 10x10x4 bits, 50 bytes per observation) and
 * checkpoints every PERIOD seconds into a temporary folder; a client in the main thread samples
 * (batch 32, priorities updated) and inserts (batch 32) without pause and stamps every sample
 * reply. The pause of one checkpoint is the largest gap between consecutive replies in its
 * period (windows of PERIOD seconds from the start of the measurement, so each holds one
 * checkpoint); the figures are the median and the largest of those over the windows. The same
 * load on a shard without checkpoints gives the gaps the machine makes anyway.
 *
 * It also times what the alternative to fork() would pause for: one memcpy of the store's
 * footprint (an in-memory snapshot handed to a writer thread).
 *
 *     bench_replay_ckpt [capacity=500000] [windows=6] [period_s=2] [dir=/tmp]
 *     bench_replay_ckpt --smoke     a small shard, two short windows (for the test suite) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/median.h"
#include "common/clock.h"
#include "replay/client.h"
#include "replay/server.h"

#define OB 50
#define BATCH 32
#define MAX_WINDOWS 64

typedef struct shard {
    replay_server *srv;
    pthread_t th;
    volatile sig_atomic_t stop;
    int rc;
    shoal_err err;
} shard;

static void *serve(void *arg)
{
    shard *s = arg;
    s->rc = replay_server_run(s->srv, &s->stop, &s->err);
    return NULL;
}

typedef struct load {
    uint8_t obs[1024 * OB], next_obs[1024 * OB];
    uint32_t action[1024];
    float reward[1024], discount[1024], priority[1024];
    replay_batch b;
} load;

static void load_init(load *l, const obs_spec *spec)
{
    for (size_t k = 0; k < sizeof l->obs; k++) {
        l->obs[k] = (uint8_t)(k * 131);
        l->next_obs[k] = (uint8_t)(k * 71);
    }
    for (size_t k = 0; k < 1024; k++) {
        l->action[k] = (uint32_t)(k % 6);
        l->reward[k] = (float)(k % 2);
        l->discount[k] = 0.99f;
        l->priority[k] = 0.5f + (float)(k % 7);
    }
    l->b = (replay_batch){.spec = *spec,
                          .t = {.obs = l->obs, .next_obs = l->next_obs, .action = l->action,
                                .reward = l->reward, .discount = l->discount,
                                .priority = l->priority}};
}

static void die(const char *what, const shoal_err *err)
{
    fprintf(stderr, "bench_replay_ckpt: %s: %s\n", what, err->msg);
    exit(1);
}

static replay_client *connect_to(const char *ep)
{
    const char *eps[1] = {ep};
    replay_client_options o = {.timeout_ms = 60000, .obs_bytes = OB, .max_batch = 1024};
    shoal_err err = {0};
    replay_client *cl = replay_client_new(eps, 1, &o, &err);
    if (!cl) {
        die("connect", &err);
    }
    return cl;
}

static void fill(replay_client *cl, load *l, size_t n)
{
    shoal_err err = {0};
    l->b.t.count = 1024;
    for (size_t k = 0; k < n; k += 1024) {
        l->b.actor_id = (uint32_t)((k / 1024) % 4);
        if (replay_client_insert(cl, &l->b, &err) != SHOAL_OK) {
            die("fill", &err);
        }
    }
    if (replay_client_flush(cl, &err) != SHOAL_OK) {
        die("flush", &err);
    }
}

/* Samples and inserts for windows * period_s seconds; maxgap[w] is the largest gap between
 * consecutive sample replies in window w (seconds). Returns the number of replies. */
static size_t measure(replay_client *cl, load *l, int windows, double period_s, double *maxgap)
{
    shoal_err err = {0};
    float prio[BATCH];
    for (size_t k = 0; k < BATCH; k++) {
        prio[k] = 1.0f + (float)(k % 3);
    }
    replay_sample_req req = {.batch_size = BATCH, .beta = 0.4};
    l->b.t.count = BATCH;
    for (int w = 0; w < windows; w++) {
        maxgap[w] = 0;
    }
    size_t replies = 0;
    uint64_t t0 = clock_now_ns(), last = t0;
    for (;;) {
        const replay_sample *b;
        if (replay_client_sample_request(cl, &req, &err) != SHOAL_OK ||
            replay_client_sample_next(cl, &b, &err) != SHOAL_OK ||
            replay_client_update_priorities(cl, b, prio, &err) != SHOAL_OK) {
            die("sample", &err);
        }
        uint64_t now = clock_now_ns();
        int w = (int)((double)(now - t0) * 1e-9 / period_s);
        if (w >= windows) {
            break;
        }
        double gap = (double)(now - last) * 1e-9;
        maxgap[w] = gap > maxgap[w] ? gap : maxgap[w];
        last = now;
        replies++;
        l->b.actor_id = (uint32_t)(replies % 4);
        if (replay_client_insert(cl, &l->b, &err) != SHOAL_OK) {
            die("insert", &err);
        }
    }
    return replies;
}

/* One shard (checkpointing into dir when dir is not NULL): fill, measure, stop. */
static void run(const replay_server_config *base, const char *dir, int windows, double period_s,
                size_t fill_n)
{
    replay_server_config cfg = *base;
    if (dir) {
        snprintf(cfg.checkpoint_path, sizeof cfg.checkpoint_path, "%s/replay-bench.ckpt", dir);
        cfg.checkpoint_secs = period_s;
        cfg.checkpoint_max_failures = 3;
    }
    shoal_err err = {0};
    shard s = {0};
    s.srv = replay_server_new(&cfg, &err);
    if (!s.srv) {
        die("shard", &err);
    }
    char ep[256];
    snprintf(ep, sizeof ep, "%s", replay_server_endpoint(s.srv));
    pthread_create(&s.th, NULL, serve, &s);
    replay_client *cl = connect_to(ep);
    static load l;
    load_init(&l, &cfg.store.spec);
    fill(cl, &l, fill_n);
    double maxgap[MAX_WINDOWS];
    size_t replies = measure(cl, &l, windows, period_s, maxgap);
    replay_client_free(cl);
    s.stop = 1;
    pthread_join(s.th, NULL);
    if (s.rc != SHOAL_OK) {
        die("shard run", &s.err);
    }
    replay_server_free(s.srv);
    double max = 0;
    for (int w = 0; w < windows; w++) {
        max = maxgap[w] > max ? maxgap[w] : max;
    }
    double med = bench_median(maxgap, (size_t)windows);
    printf("%-22s %8zu %10.1f %10.1f %10.0f\n", dir ? "checkpoint every period" : "no checkpoints",
           replies, med * 1e3, max * 1e3, (double)replies / (windows * period_s));
    if (dir) {
        unlink(cfg.checkpoint_path);
    }
}

/* What an in-memory snapshot would pause for: one copy of bytes into a buffer already touched. */
static double memcpy_ms(size_t bytes)
{
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double v[5];
    for (int r = 0; r < 5; r++) {
        uint64_t t0 = clock_now_ns();
        memcpy(b, a, bytes);
        v[r] = clock_since_s(t0) * 1e3;
        a[r] = b[bytes - 1 - (size_t)r]; /* keeps the copy from being elided */
    }
    free(a);
    free(b);
    return bench_median(v, 5);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--smoke") == 0) {
        static char *smoke[] = {"bench_replay_ckpt", "4096", "2", "0.2", NULL};
        argc = 4;
        argv = smoke;
    }
    size_t cap = argc > 1 ? (size_t)atol(argv[1]) : 500000;
    int windows = argc > 2 ? atoi(argv[2]) : 6;
    double period_s = argc > 3 ? atof(argv[3]) : 2.0;
    const char *parent = argc > 4 ? argv[4] : "/tmp";
    if (cap < 1024 || windows < 1 || windows > MAX_WINDOWS || !(period_s > 0)) {
        fprintf(stderr, "usage: bench_replay_ckpt [capacity>=1024] [windows 1..%d] [period_s>0] "
                        "[dir]\n", MAX_WINDOWS);
        return 2;
    }
    replay_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store = (replay_store_config){.capacity = cap, .alpha = 0.6, .epsilon = 1e-6,
                                      .epsilon_demo = 1.0, .seed = 1, .max_batch = 1024};
    obs_spec_parse("10,10,4", "bit", &cfg.store.spec, NULL);
    snprintf(cfg.bind, sizeof cfg.bind, "tcp://127.0.0.1:*");
    cfg.credits = 4;
    cfg.max_message_bytes = 64 << 20;
    cfg.max_actors = 16;
    cfg.max_pending = 64;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/shoal-bench-ckpt-XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("one replay shard of %zu MinAtar transitions (2 x 50-byte obs), sample+insert batches "
           "of %d, %d windows of %.1f s\n", cap, BATCH, windows, period_s);
    printf("%-22s %8s %10s %10s %10s\n", "shard", "replies", "median ms", "max ms", "replies/s");
    run(&cfg, NULL, windows, period_s, cap);
    run(&cfg, dir, windows, period_s, cap);
    rmdir(dir);
    size_t bytes = cap * (2 * OB + 28);
    printf("in-memory snapshot alternative: memcpy of %.1f MB of columns takes %.1f ms\n",
           (double)bytes / 1e6, memcpy_ms(bytes));
    return 0;
}
