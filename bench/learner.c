/* Learner throughput: updates per second of the full learner (prefetch thread, replay client,
 * decode, update with gradient all-reduce, priorities back to the shard) on the MinAtar network
 * (10x10x4, 3 actions), fed from one local shard served from a thread of rank 0, at global
 * batch 32, 64 and 512, with 1 and 2 MPI ranks; and where the time goes (sample wait,
 * forward/backward, all-reduce, optimizer). Median of several runs.
 *
 *     bench_learner [--threads 2] [--blocking]   runs itself under mpirun with 1 and 2 ranks
 *     bench_learner --smoke              the same with one short run each (for the test suite)
 *     mpirun -np N bench_learner --child [--smoke] ...   one configuration set (what the above does)
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/rng.h"
#include "learner/learner.h"
#include "nn/blas.h"
#include "replay/client.h"
#include "replay/server.h"
#include "tests/learner_fixtures.h"
#include "tests/replay_fixtures.h"

#define RUNS 5

/* learner.threads and !learner.allreduce_overlap, from the command line */
static size_t opt_threads = 1;
static int opt_blocking = 0;
static int opt_ab = 0; /* 1: --ab (overlapped vs blocking), 2: --ab-threads (1 vs 2 threads) */
#define FILL 20000

/* Runs per figure and updates per run; one short run each in --smoke mode. */
static int n_runs = RUNS;
static uint64_t updates_32 = 1000, updates_64 = 500, updates_512 = 100;
#define CHUNK 500

/* A shard holding FILL random MinAtar-like transitions (bit-packed 10x10x4, 3 actions). */
static int start_shard(fx_server *s)
{
    replay_server_config c;
    memset(&c, 0, sizeof c);
    c.store = (replay_store_config){.capacity = 100000, .alpha = 0.6, .epsilon = 1e-6,
                                    .epsilon_demo = 1.0, .seed = 3, .max_batch = 1024};
    obs_spec_parse("10,10,4", "bit", &c.store.spec, NULL);
    snprintf(c.bind, sizeof c.bind, "tcp://127.0.0.1:*");
    c.credits = 4;
    c.max_message_bytes = 64u << 20;
    c.max_actors = 16;
    c.max_pending = 64;
    shoal_err err = {0};
    if (fx_server_start(s, &c) != 0) {
        fprintf(stderr, "shard: %s\n", s->err.msg);
        return 1;
    }
    const char *ep = replay_server_endpoint(s->srv);
    replay_client_options o = {.timeout_ms = 10000};
    replay_client *cl = replay_client_new(&ep, 1, &o, &err);
    static uint8_t obs[CHUNK * 50], next[CHUNK * 50];
    static uint32_t action[CHUNK];
    static float reward[CHUNK], discount[CHUNK], prio[CHUNK];
    rng r;
    rng_init(&r, 1, RNG_ROLE_TOOL, 0, 0);
    for (size_t done = 0; cl && done < FILL; done += CHUNK) {
        for (size_t k = 0; k < CHUNK * 50; k++) {
            obs[k] = (uint8_t)(rng_u64(&r) & rng_u64(&r) & rng_u64(&r));
            next[k] = (uint8_t)(rng_u64(&r) & rng_u64(&r) & rng_u64(&r));
        }
        for (size_t k = 0; k < CHUNK; k++) {
            action[k] = (uint32_t)rng_below(&r, 3);
            reward[k] = (float)rng_bernoulli(&r, 0.1);
            discount[k] = rng_bernoulli(&r, 0.99) ? 0.99f : 0.0f;
            prio[k] = (float)rng_uniform(&r) + 0.01f;
        }
        replay_batch b = {.spec = c.store.spec,
                          .t = {.count = CHUNK, .obs = obs, .next_obs = next, .action = action,
                                .reward = reward, .discount = discount, .priority = prio}};
        if (replay_client_insert(cl, &b, &err) != SHOAL_OK) {
            break;
        }
    }
    int rc = cl && replay_client_flush(cl, &err) == SHOAL_OK ? 0 : 1;
    if (rc) {
        fprintf(stderr, "filling the shard: %s\n", err.msg);
    }
    replay_client_free(cl);
    return rc;
}

static learner_config config_for(const char *endpoint, size_t batch, uint64_t updates, int rank)
{
    learner_config lc;
    memset(&lc, 0, sizeof lc);
    lc.update.net = nn_qnet_config_minatar(4, 3);
    lc.update.net.seed = 1;
    lc.update.optim = nn_optim_adam(1e-4f);
    lc.update.optim.eps = 3.125e-4f;
    lc.update.double_q = 1;
    lc.update.margin = 0.8f;
    lc.update.lambda_demo = 1.0f;
    lc.update.target_period = 1000;
    lc.batch_size = batch;
    lc.sample = (replay_sample_req){.batch_size = batch, .beta = 0.4};
    obs_spec_parse("10,10,4", "bit", &lc.obs, NULL);
    snprintf(lc.replay[0], sizeof lc.replay[0], "%s", endpoint);
    lc.n_shards = 1;
    lc.seed = 1;
    lc.rank = (uint32_t)rank;
    lc.publish_period = lc.checkpoint_period = lc.keep_checkpoints = 1000000;
    lc.checksum_period = 100;
    lc.max_updates = updates;
    lc.publish_repeat_secs = lc.metrics_secs = 1.0;
    lc.prefetch_depth = 4;
    lc.pipeline = 2;
    lc.stop_grace_secs = 30;
    lc.update.threads = opt_threads;
    lc.update.allreduce_overlap = !opt_blocking;
    return lc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One batch size: RUNS fresh learners of `updates` updates each; rank 0 prints medians. */
static int bench_batch(const char *endpoint, size_t batch, uint64_t updates, int rank, int size)
{
    double ups[RUNS], wait[RUNS], fb[RUNS], ar[RUNS], opt[RUNS];
    for (int run = 0; run < n_runs; run++) {
        learner_config lc = config_for(endpoint, batch, updates, rank);
        shoal_err err = {0};
        learner *l = learner_new(&lc, MPI_COMM_WORLD, &err);
        if (!l) {
            fprintf(stderr, "rank %d: %s\n", rank, err.msg);
            return 1;
        }
        volatile sig_atomic_t stop = 0;
        MPI_Barrier(MPI_COMM_WORLD);
        uint64_t t0 = clock_now_ns();
        int rc = learner_run(l, &stop, &err);
        double secs = clock_since_s(t0);
        if (rc != SHOAL_OK) {
            fprintf(stderr, "rank %d: %s\n", rank, err.msg);
            learner_free(l);
            return 1;
        }
        learner_update_times t = learner_update_times_of(learner_update_of(l));
        ups[run] = (double)updates / secs;
        wait[run] = learner_wait_secs(l) / secs;
        fb[run] = t.forward_backward / secs;
        ar[run] = t.allreduce / secs;
        opt[run] = t.optimizer / secs;
        learner_free(l);
    }
    if (rank == 0) {
        printf("ranks %d  batch %4zu (%3zu per rank): %8.1f updates/s  %9.0f samples/s | "
               "wait %4.1f%%  fwd/bwd %4.1f%%  allreduce %4.1f%%  adam %4.1f%%\n",
               size, batch, batch / (size_t)size, median(ups, (size_t)n_runs),
               median(ups, (size_t)n_runs) * (double)batch, 100 * median(wait, (size_t)n_runs),
               100 * median(fb, (size_t)n_runs), 100 * median(ar, (size_t)n_runs),
               100 * median(opt, (size_t)n_runs));
        fflush(stdout);
    }
    return 0;
}

/* --ab: learner_update_step alone (fixed random batches, no shard, no prefetch) of two
 * learners of this rank count that differ in one setting (A: --threads/--blocking as given;
 * B: the other all-reduce, or with --ab-threads the other thread count), in alternating chunks
 * of AB_CHUNK updates so that a loaded machine's drift hits both alike. Prints the medians of
 * the chunks' updates/s. */
#define AB_CHUNK 50
#define AB_ROUNDS 15

static int ab_batch(size_t batch, int rank, int size, int vary_threads)
{
    size_t share = batch / (size_t)size;
    learner_update_config ca = config_for("", batch, 1, rank).update;
    ca.net.max_batch = share;
    learner_update_config cb = ca;
    if (vary_threads) {
        cb.threads = ca.threads > 1 ? 1 : 2;
    } else {
        cb.allreduce_overlap = !ca.allreduce_overlap;
    }
    shoal_err err = {0};
    learner_update *u[2] = {learner_update_new(&ca, MPI_COMM_WORLD, &err), NULL};
    u[1] = u[0] ? learner_update_new(&cb, MPI_COMM_WORLD, &err) : NULL;
    if (!u[1] || learner_update_sync(u[0], &err) || learner_update_sync(u[1], &err)) {
        fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        return 1;
    }
    lx_data d;
    lx_data_init(&d, share, 5 + (uint64_t)rank);
    learner_batch b = lx_batch(&d, 0, share);
    float *prio = malloc(share * sizeof *prio);
    double ups[2][AB_ROUNDS], ar[2][AB_ROUNDS];
    for (int round = 0; round < AB_ROUNDS; round++) {
        for (int w = 0; w < 2; w++) {
            learner_update_times t0 = learner_update_times_of(u[w]);
            MPI_Barrier(MPI_COMM_WORLD);
            uint64_t start = clock_now_ns();
            for (int k = 0; k < AB_CHUNK; k++) {
                if (learner_update_step(u[w], &b, prio, NULL, &err) != SHOAL_OK) {
                    fprintf(stderr, "rank %d: %s\n", rank, err.msg);
                    return 1;
                }
            }
            double secs = clock_since_s(start);
            learner_update_times t1 = learner_update_times_of(u[w]);
            ups[w][round] = AB_CHUNK / secs;
            ar[w][round] = (t1.allreduce - t0.allreduce) / secs;
        }
    }
    if (rank == 0) {
        for (int w = 0; w < 2; w++) {
            const learner_update_config *c = w ? &cb : &ca;
            printf("ranks %d  batch %4zu (%3zu per rank)  threads %zu  all-reduce %-10s: "
                   "%8.1f updates/s (median of %d chunks of %d)  waiting for the all-reduce "
                   "%4.1f%%\n", size, batch, share, c->threads ? c->threads : 1,
                   c->allreduce_overlap ? "overlapped" : "blocking", median(ups[w], AB_ROUNDS),
                   AB_ROUNDS, AB_CHUNK, 100 * median(ar[w], AB_ROUNDS));
        }
        fflush(stdout);
    }
    free(prio);
    lx_data_fini(&d);
    learner_update_free(u[0]);
    learner_update_free(u[1]);
    return 0;
}

static int child(int argc, char **argv)
{
    if (opt_ab) {
        MPI_Init(&argc, &argv);
        int rank, size, rc = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        size_t batches[] = {32, 64, 512};
        for (size_t i = 0; i < 3 && rc == 0; i++) {
            rc = ab_batch(batches[i], rank, size, opt_ab == 2);
        }
        MPI_Finalize();
        return rc;
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fx_server s = {0};
    char endpoint[256] = "";
    int rc = 0;
    if (rank == 0) {
        rc = start_shard(&s);
        if (rc == 0) {
            snprintf(endpoint, sizeof endpoint, "%s", replay_server_endpoint(s.srv));
        }
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(endpoint, sizeof endpoint, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rc == 0) {
        rc = bench_batch(endpoint, 32, updates_32, rank, size);
    }
    if (rc == 0) {
        rc = bench_batch(endpoint, 64, updates_64, rank, size);
    }
    if (rc == 0) {
        rc = bench_batch(endpoint, 512, updates_512, rank, size);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0 && s.srv) {
        fx_server_stop(&s);
    }
    MPI_Finalize();
    return rc;
}

int main(int argc, char **argv)
{
    if (nn_blas_setup()) {
        execv("/proc/self/exe", argv);
    }
    int is_child = 0, smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--child") == 0) {
            is_child = 1;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            smoke = 1;
        } else if (strcmp(argv[i], "--blocking") == 0) {
            opt_blocking = 1;
        } else if (strcmp(argv[i], "--ab") == 0) {
            opt_ab = 1;
        } else if (strcmp(argv[i], "--ab-threads") == 0) {
            opt_ab = 2;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            opt_threads = (size_t)atoi(argv[++i]);
        } else {
            printf("usage: bench_learner [--threads 1|2] [--blocking] [--ab | --ab-threads] "
                   "[--smoke]\n"
                   "  --threads N   learner.threads of every rank (default 1)\n"
                   "  --blocking    one all-reduce after the backward pass "
                   "(learner.allreduce_overlap = false)\n"
                   "  --ab          update steps alone (no shard), alternating chunks of the "
                   "overlapped\n"
                   "                and the blocking all-reduce in one process: a fair A/B on "
                   "a loaded machine\n"
                   "  --ab-threads  the same, 1 thread against 2\n"
                   "  --smoke       one short run of each (for the test suite)\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (smoke) {
        n_runs = 1;
        updates_32 = 20;
        updates_64 = 10;
        updates_512 = 4;
    }
    if (is_child) {
        return child(argc, argv);
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        return 1;
    }
    self[n] = '\0';
    printf("bench_learner: MinAtar network 10x10x4, 3 actions, double DQN + Adam, one local "
           "shard (thread of rank 0), median of %d runs; learner.threads %zu, all-reduce %s\n",
           n_runs, opt_threads, opt_blocking ? "blocking" : "overlapped");
    fflush(stdout);
    int status = 0;
    for (int np = 1; np <= 2; np++) {
        char cmd[4600];
        snprintf(cmd, sizeof cmd, "mpirun --oversubscribe %s--bind-to none --mca "
                 "btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1 -np %d "
                 "%s --child --threads %zu%s%s%s", getuid() == 0 ? "--allow-run-as-root " : "",
                 np, self, opt_threads, opt_blocking ? " --blocking" : "",
                 opt_ab == 1 ? " --ab" : opt_ab == 2 ? " --ab-threads" : "", smoke ? " --smoke" : "");
        status |= system(cmd);
    }
    return status ? 1 : 0;
}
