/* Throughput of the nn part on the MinAtar network (conv 16 3x3 -> dense 128 -> actions) for
 * C = 4 and C = 10 input channels, one head and 10 bootstrapped heads: inference forwards per
 * second at batch 1, 16, 64 and full double-DQN updates per second (online forward on s,
 * online and target forwards on s', targets, Huber loss, backward, Adam) at batch 32 and 512,
 * single thread, median of several runs, beside PyTorch's figures from issue 4.
 *
 *     bench_nn              the table
 *     bench_nn --compare    only the rows bench/reference/nn_torch.py prints (C = 10, one head),
 *                           then the kernels they ran
 *     bench_nn --layouts    the kernel choices measured for the network's shapes (nn/kernels.h)
 *                           and the sgemm layout and small-batch measurements behind nn/layers.c
 *     bench_nn --smoke      every row at C = 10 with a few ms of work each (for the test suite)
 *     bench_nn --deepsea    updates per second of bsuite's deep_sea agents' networks against
 *                           the DeepSea size N (bench/learning/deep_sea_bsuite.sh)
 *     bench_nn --cpu [mode] rates per second of this thread's CPU time instead of wall time:
 *                           the same on an idle machine (one thread), but not slowed by other
 *                           processes on a loaded one (bench/reference/nn_torch.py --cpu too)
 *
 * SHOAL_NN_KERNELS=op=name,... forces kernels (nn/kernels.h), to compare with fixed choices.
 *
 * OpenBLAS 0.3.21 does not recognise some recent Xeons and falls back to its generic
 * "Prescott" kernels (about 6x slower here); when that happens on a CPU with AVX-512 this
 * program re-runs itself with OPENBLAS_CORETYPE=SkylakeX and says so. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bench/median.h"
#include "common/clock.h"
#include "common/rng.h"
#include "nn/blas.h"
#include "nn/kernels.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/qnet.h"

#define RUNS 5
#define RUN_SECONDS 0.25

/* Runs and their length: RUNS x RUN_SECONDS, or a single short run in --smoke mode. */
static int n_runs = RUNS;
static double run_seconds = RUN_SECONDS;
static double (*now_s)(void) = clock_now_s; /* or thread_cpu_s (--cpu) */

static double thread_cpu_s(void)
{
    return (double)clock_thread_cpu_ns() * 1e-9;
}

/* Median over n_runs runs of calls per second of fn, each run lasting about run_seconds. */
typedef void (*work_fn)(void *ctx);

static double median_rate(work_fn fn, void *ctx)
{
    double rates[RUNS];
    fn(ctx); /* warm caches, page in the workspace, and let nn/kernels.h measure its choices */
    for (int r = 0; r < n_runs; r++) {
        size_t calls = 0;
        double t0 = now_s(), t;
        do {
            fn(ctx);
            calls++;
            t = now_s() - t0;
        } while (t < run_seconds);
        rates[r] = (double)calls / t;
    }
    return bench_median(rates, (size_t)n_runs);
}

typedef struct update_ctx {
    nn_qnet *online, *target;
    nn_optim *opt;
    size_t batch, K, A;
    float *s, *s2, *q, *q2o, *q2t, *dq, *y, *R, *C, *prio;
    uint32_t *act, *mask;
} update_ctx;

static void inference(void *p)
{
    update_ctx *u = p;
    nn_qnet_forward(u->online, u->s, u->batch, u->q);
}

/* One full double-DQN update: what the learner does per batch. */
static void update(void *p)
{
    update_ctx *u = p;
    nn_loss_dims d = {u->batch, u->K, u->A};
    nn_qnet_forward(u->online, u->s2, u->batch, u->q2o);
    nn_qnet_forward(u->target, u->s2, u->batch, u->q2t);
    nn_loss_targets(u->y, u->q2o, u->q2t, u->R, u->C, &d, 1);
    nn_qnet_forward_train(u->online, u->s, u->batch, u->q);
    nn_td_batch b = {d, u->act, u->y, u->K > 1 ? u->mask : NULL, NULL};
    nn_loss_td(u->dq, u->prio, u->q, &b);
    nn_qnet_backward(u->online, u->dq, u->batch);
    nn_optim_step(u->opt, nn_qnet_params(u->online), nn_qnet_grads(u->online));
}

static float *obs(size_t n, rng *r)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rng_bernoulli(r, 0.1); /* MinAtar: binary, mostly empty */
    }
    return x;
}

/* n observations of size floats each, one-hot at a random place (DeepSea's grid). */
static float *one_hot_obs(size_t n, size_t size, rng *r)
{
    float *x = calloc(n * size, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i * size + rng_below(r, size)] = 1.0f;
    }
    return x;
}

/* Bootstrapped layouts: heads of 128 -> A on the shared conv + 128 torso (as the PyTorch
 * reference: its 10-head figures match the 1-head ones, so its heads cannot each own a
 * 1024 -> 128 layer), or each head with its own 128-unit layer (algorithms.md §3.1). */
enum { HEADS_SHARED = 0, HEADS_OWN_MLP = 1 };

/* The networks and buffers of updates of batch on the network c (max_batch 512); one-hot
 * observations when one_hot, else MinAtar-like ones. */
static void ctx_init_net(update_ctx *u, const nn_qnet_config *c, size_t batch, int one_hot)
{
    shoal_err err = {0};
    u->online = nn_qnet_new(c, &err);
    u->target = nn_qnet_new(c, &err);
    nn_optim_config oc = nn_optim_adam(1e-4f);
    oc.eps = 3.125e-4f;
    u->opt = nn_optim_new(&oc, u->online ? nn_qnet_n_trainable(u->online) : 1, &err);
    if (!u->online || !u->target || !u->opt) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    nn_qnet_copy_params(u->target, u->online, NULL);
    u->batch = batch;
    u->K = c->n_heads;
    u->A = c->n_actions;
    rng r;
    rng_init(&r, 1, RNG_ROLE_TOOL, 0, 0);
    size_t in = nn_qnet_in_floats(u->online), nx = 512 * in, nq = 512 * u->K * u->A;
    u->s = one_hot ? one_hot_obs(512, in, &r) : obs(nx, &r);
    u->s2 = one_hot ? one_hot_obs(512, in, &r) : obs(nx, &r);
    u->q = malloc(nq * 4);
    u->q2o = malloc(nq * 4);
    u->q2t = malloc(nq * 4);
    u->dq = malloc(nq * 4);
    u->y = malloc(512 * u->K * 4);
    u->R = malloc(512 * 4);
    u->C = malloc(512 * 4);
    u->prio = malloc(512 * 4);
    u->act = malloc(512 * 4);
    u->mask = malloc(512 * 4);
    for (size_t i = 0; i < 512; i++) {
        u->R[i] = (float)rng_below(&r, 2);
        u->C[i] = 0.99f;
        u->act[i] = (uint32_t)rng_below(&r, u->A);
        u->mask[i] = (uint32_t)rng_u64(&r);
    }
}

static void ctx_init(update_ctx *u, size_t C, size_t K, int layout, size_t batch)
{
    nn_qnet_config c = nn_qnet_config_minatar(C, 6);
    c.n_heads = K;
    if (K > 1 && layout == HEADS_SHARED) {
        c.n_shared = 1;
        c.shared[0] = 128;
        c.n_dense = 0;
    }
    ctx_init_net(u, &c, batch, 0);
}

static void ctx_free(update_ctx *u)
{
    nn_qnet_free(u->online);
    nn_qnet_free(u->target);
    nn_optim_free(u->opt);
    free(u->s), free(u->s2), free(u->q), free(u->q2o), free(u->q2t), free(u->dq);
    free(u->y), free(u->R), free(u->C), free(u->prio), free(u->act), free(u->mask);
}

/* Floating-point operations of one update per sample: three forwards (online s, online s',
 * target s') and a backward of two products per layer except the first convolution's input
 * gradient, which is never needed. */
static double update_flops(const nn_qnet *net)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    double conv0 = 64.0 * 9.0 * (double)c->in_c * 16.0;
    double fwd = nn_qnet_forward_macs(net);
    return 2.0 * (3.0 * fwd + 2.0 * fwd - conv0);
}

typedef struct row {
    const char *work;
    size_t K;
    int layout;
    size_t batch;
    int is_update;
    double torch[2]; /* C = 4, C = 10 */
} row;

static const row rows[] = {
    {"inference, batch 1", 1, 0, 1, 0, {17800, 22200}},
    {"inference, batch 16", 1, 0, 16, 0, {3420, 4610}},
    {"inference, batch 64", 1, 0, 64, 0, {2050, 1840}},
    {"10-head inference, batch 1", 10, HEADS_SHARED, 1, 0, {21000, 22700}},
    {"10-head inference, batch 16", 10, HEADS_SHARED, 16, 0, {0, 0}},
    {"10-head inference, batch 64", 10, HEADS_SHARED, 64, 0, {2180, 2080}},
    {"double-DQN update + Adam, batch 32", 1, 0, 32, 1, {258, 310}},
    {"double-DQN update + Adam, batch 512", 1, 0, 512, 1, {53.7, 48.2}},
    {"10-head update + Adam, batch 32", 10, HEADS_SHARED, 32, 1, {322, 292}},
    {"10-head update + Adam, batch 512", 10, HEADS_SHARED, 512, 1, {54.1, 43.0}},
    {"10 own-MLP heads: inference, batch 1", 10, HEADS_OWN_MLP, 1, 0, {0, 0}},
    {"10 own-MLP heads: inference, batch 64", 10, HEADS_OWN_MLP, 64, 0, {0, 0}},
    {"10 own-MLP heads: update, batch 32", 10, HEADS_OWN_MLP, 32, 1, {0, 0}},
};

/* The rows of the comparison with bench/reference/nn_torch.py: the single-head network. */
static int compared(const row *r)
{
    return r->K == 1;
}

static void table(int compare_only, int smoke)
{
    static const size_t channels[2] = {4, 10};
    printf("%-38s %5s %12s %10s %7s %8s\n", "work (MinAtar net, 6 actions)", "C", "shoal/s",
           "torch/s", "ratio", "GFLOP/s");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (int ci = compare_only || smoke ? 1 : 0; ci < 2; ci++) {
            if (compare_only && !compared(&rows[i])) {
                continue;
            }
            update_ctx u = {0};
            ctx_init(&u, channels[ci], rows[i].K, rows[i].layout, rows[i].batch);
            double rate = median_rate(rows[i].is_update ? update : inference, &u);
            double flops = rows[i].is_update ? update_flops(u.online)
                                             : 2.0 * nn_qnet_forward_macs(u.online);
            double gflops = rate * flops * (double)rows[i].batch * 1e-9;
            char torch[16] = "-", ratio[16] = "-";
            if (rows[i].torch[ci] > 0) {
                snprintf(torch, sizeof torch, "%.0f", rows[i].torch[ci]);
                snprintf(ratio, sizeof ratio, "%.2fx", rate / rows[i].torch[ci]);
            }
            printf("%-38s %5zu %12.1f %10s %7s %8.1f\n", rows[i].work, channels[ci], rate, torch,
                   ratio, gflops);
            fflush(stdout);
            ctx_free(&u);
        }
    }
}

/* bsuite's deep_sea agents on shoal's network (bench/learning/deep_sea_bsuite.sh): the CPU
 * cost of one learner update against the DeepSea size N, from which a sweep's cost follows
 * (one update per environment step, N steps per episode). boot_dqn: 20 heads of two hidden
 * layers of 50 on the N x N one-hot grid, priors of scale 3, batch 128; dqn: one such head,
 * batch 32. The update is the double-DQN one above (one forward more than the sweep's
 * plain-max targets need: an upper bound). */
static void deepsea(void)
{
    printf("%-26s %4s %12s %12s %14s\n", "deep_sea agent", "N", "updates/s", "ms/update",
           "s/1000 episodes");
    for (int agent = 0; agent < 2; agent++) {
        for (size_t n = 10; n <= 50; n += 10) {
            nn_qnet_config c = {.in_h = n, .in_w = n, .in_c = 1, .n_dense = 2, .dense = {50, 50},
                                .n_actions = 2, .n_heads = agent ? 1 : 20,
                                .prior_scale = agent ? 0.0f : 3.0f, .max_batch = 512, .seed = 1};
            update_ctx u = {0};
            ctx_init_net(&u, &c, agent ? 32 : 128, 1);
            double rate = median_rate(update, &u);
            printf("%-26s %4zu %12.1f %12.3f %14.0f\n",
                   agent ? "dqn (1 head, batch 32)" : "boot_dqn (20 heads, 128)", n, rate,
                   1e3 / rate, 1000.0 * (double)n / rate);
            fflush(stdout);
            ctx_free(&u);
        }
    }
}

/* ---- layout and small-batch measurements ---- */

typedef struct gemm_ctx {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K;
    float *A, *B, *C;
} gemm_ctx;

static void gemm(void *p)
{
    gemm_ctx *g = p;
    int lda = g->ta == CblasNoTrans ? g->K : g->M, ldb = g->tb == CblasNoTrans ? g->N : g->K;
    cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, lda, g->B, ldb, 0.0f,
                g->C, g->N);
}

static void gemm_row(const char *what, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K)
{
    gemm_ctx g = {ta, tb, M, N, K, calloc((size_t)M * K, 4), calloc((size_t)K * N, 4),
                  calloc((size_t)M * N, 4)};
    double rate = median_rate(gemm, &g);
    printf("  %-34s %c%c M=%6d N=%5d K=%5d %9.1f us %6.1f GFLOP/s\n", what,
           ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', M, N, K, 1e6 / rate,
           2.0 * M * N * K * rate * 1e-9);
    free(g.A), free(g.B), free(g.C);
}

typedef struct lin_ctx {
    nn_linear_shape s;
    float *x, *w, *b, *y;
    int plain_sgemm;
} lin_ctx;

static void lin(void *p)
{
    lin_ctx *l = p;
    if (l->plain_sgemm) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l->s.batch, (int)l->s.n_out,
                    (int)l->s.n_in, 1.0f, l->x, (int)l->s.n_in, l->w, (int)l->s.n_out, 0.0f, l->y,
                    (int)l->s.n_out);
    } else {
        nn_linear_forward(l->y, l->x, l->w, l->b, &l->s);
    }
}

/* The small-batch loop alone, whatever the batch. */
static void small_loop(void *p)
{
    lin_ctx *l = p;
    nn_linear_forward_small(l->y, l->x, l->w, l->b, &l->s);
}

typedef struct conv_ctx {
    nn_conv_shape s;
    float *x, *w, *b, *y, *cols;
    int im2col;
} conv_ctx;

static void conv_run(void *p)
{
    conv_ctx *c = p;
    if (c->im2col) {
        nn_conv_forward_im2col(c->y, c->cols, c->x, c->w, c->b, &c->s);
    } else {
        nn_conv_forward_direct(c->y, c->x, c->w, c->b, &c->s);
    }
}

/* Runs the network of each row once (C = 10) so nn/kernels.h measures its shapes, then prints
 * every choice: the candidates' best times per call and the one kept. */
static void choices(void)
{
    printf("kernels chosen by measurement for the network's shapes, C = 10 (nn/kernels.h):\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        update_ctx u = {0};
        ctx_init(&u, 10, rows[i].K, rows[i].layout, rows[i].batch);
        (rows[i].is_update ? update : inference)(&u);
        ctx_free(&u);
    }
    printf("  %-16s %-28s %-30s %-8s %s\n", "op", "shape", "candidates (us per call)", "chosen",
           "measuring (ms)");
    double total_us = 0.0;
    for (size_t i = 0; i < nn_kernels_count(); i++) {
        nn_kernel_choice c;
        nn_kernels_get(i, &c);
        char shape[64], times[96] = "";
        const size_t *d = c.dims;
        if (c.op == &nn_kernel_linear_forward || c.op == &nn_kernel_linear_backward_dw) {
            snprintf(shape, sizeof shape, "B=%zu %zu->%zu ld %zu/%zu", d[0], d[1], d[2], d[3], d[4]);
        } else {
            snprintf(shape, sizeof shape, "B=%zu %zux%zux%zu F=%zu%s", d[0], d[1], d[2], d[3], d[4],
                     c.op == &nn_kernel_conv_backward_dw && d[5] ? " +cols" : "");
        }
        for (size_t k = 0; k < c.op->n_candidates; k++) {
            size_t at = strlen(times);
            if (c.us[k] >= 0) {
                snprintf(times + at, sizeof times - at, "%s %.1f  ", c.op->candidate_names[k],
                         c.us[k]);
            } else {
                snprintf(times + at, sizeof times - at, "%s -  ", c.op->candidate_names[k]);
            }
        }
        printf("  %-16s %-28s %-30s %-8s %.2f%s\n", c.op->name, shape, times,
               c.op->candidate_names[c.chosen], c.measure_us * 1e-3, c.forced ? " (forced)" : "");
        total_us += c.measure_us;
    }
    printf("  measuring all %zu shapes took %.1f ms\n", nn_kernels_count(), total_us * 1e-3);
}

static void layouts(void)
{
    choices();
    printf("sgemm layouts on the MinAtar shapes, C = 10 (P = B*64 conv positions):\n");
    int batches[3] = {1, 32, 512};
    for (int i = 0; i < 3; i++) {
        int B = batches[i], P = B * 64;
        gemm_row("conv fwd, w (F, 9C)", CblasNoTrans, CblasTrans, P, 16, 90);
        gemm_row("conv fwd, w (9C, F)  [chosen]", CblasNoTrans, CblasNoTrans, P, 16, 90);
        gemm_row("conv dw (F, 9C) = dy^T cols", CblasTrans, CblasNoTrans, 16, 90, P);
        gemm_row("conv dw (9C, F) = cols^T dy [chosen]", CblasTrans, CblasNoTrans, 90, 16, P);
        gemm_row("dense fwd, w (out, in)", CblasNoTrans, CblasTrans, B, 128, 1024);
        gemm_row("dense fwd, w (in, out)  [chosen]", CblasNoTrans, CblasNoTrans, B, 128, 1024);
        gemm_row("10 heads fused, w (out, in)", CblasNoTrans, CblasTrans, B, 1280, 1024);
        gemm_row("10 heads fused, w (in, out) [chosen]", CblasNoTrans, CblasNoTrans, B, 1280, 1024);
    }
    rng r;
    rng_init(&r, 2, RNG_ROLE_TOOL, 0, 0);
    static const size_t outs[2] = {128, 1280};
    for (int oi = 0; oi < 2; oi++) {
        size_t n_out = outs[oi];
        printf("linear 1024 -> %zu, ReLU-like input (half zeros): the small-batch loop vs sgemm\n",
               n_out);
        for (size_t B = 1; B <= 64; B *= 2) {
            lin_ctx l = {nn_linear_dense(B, 1024, n_out), malloc(B * 1024 * 4),
                         malloc(1024 * n_out * 4), calloc(n_out, 4), malloc(B * n_out * 4), 0};
            for (size_t i = 0; i < B * 1024; i++) {
                l.x[i] = rng_bernoulli(&r, 0.5) ? rng_uniform_f(&r) : 0.0f;
            }
            for (size_t i = 0; i < 1024 * n_out; i++) {
                l.w[i] = rng_uniform_f(&r);
            }
            double small = median_rate(small_loop, &l);
            l.plain_sgemm = 1;
            double blas = median_rate(lin, &l);
            printf("  batch %2zu: loop %9.1f us, sgemm %9.1f us\n", B, 1e6 / small, 1e6 / blas);
            free(l.x), free(l.w), free(l.b), free(l.y);
        }
    }
    printf("first convolution, C = 10: direct kernel vs im2col + sgemm\n");
    for (size_t B = 1; B <= 512; B *= 8) {
        conv_ctx cc = {{B, 10, 10, 10, 16}, calloc(B * 1000, 4), calloc(1440, 4), calloc(16, 4),
                       malloc(B * 1024 * 4), malloc(B * 64 * 90 * 4), 0};
        double direct = median_rate(conv_run, &cc);
        cc.im2col = 1;
        double im2col = median_rate(conv_run, &cc);
        printf("  batch %3zu: direct %9.1f us, im2col + sgemm %9.1f us\n", B, 1e6 / direct,
               1e6 / im2col);
        free(cc.x), free(cc.w), free(cc.b), free(cc.y), free(cc.cols);
    }
}

int main(int argc, char **argv)
{
    if (nn_blas_setup()) {
        execv("/proc/self/exe", argv);
    }
    const char *mode = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu") == 0) {
            now_s = thread_cpu_s;
        } else if (!*mode && (!strcmp(argv[i], "--layouts") || !strcmp(argv[i], "--compare") ||
                              !strcmp(argv[i], "--smoke") || !strcmp(argv[i], "--deepsea"))) {
            mode = argv[i];
        } else {
            int help = strcmp(argv[i], "--help") == 0;
            fprintf(help ? stdout : stderr,
                    "usage: bench_nn [--cpu] [--compare | --layouts | --smoke | --deepsea]\n");
            return help ? 0 : 2;
        }
    }
    if (strcmp(mode, "--smoke") == 0) {
        n_runs = 1;
        run_seconds = 0.002;
    }
    printf("OpenBLAS %s, core %s, 1 thread; medians of %d runs of %.3f s (%s)\n",
           openblas_get_config(), openblas_get_corename(), n_runs, run_seconds,
           now_s == clock_now_s ? "wall time" : "thread CPU time");
    if (getenv("OPENBLAS_CORETYPE")) {
        printf("(OPENBLAS_CORETYPE=%s)\n", getenv("OPENBLAS_CORETYPE"));
    }
    if (getenv("SHOAL_NN_KERNELS")) {
        printf("(SHOAL_NN_KERNELS=%s)\n", getenv("SHOAL_NN_KERNELS"));
    }
    if (strcmp(mode, "--layouts") == 0) {
        layouts();
    } else if (strcmp(mode, "--deepsea") == 0) {
        deepsea();
    } else {
        table(strcmp(mode, "--compare") == 0, strcmp(mode, "--smoke") == 0);
    }
    if (strcmp(mode, "--smoke") == 0 || strcmp(mode, "--compare") == 0) {
        choices(); /* which kernels those figures ran */
    }
    return 0;
}
