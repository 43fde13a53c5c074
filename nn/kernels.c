#include "nn/kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

const nn_kernel_op nn_kernel_linear_forward = {"linear_forward", 2, {"sgemm", "small"}};
const nn_kernel_op nn_kernel_linear_backward_dw = {"linear_backward_dw", 2, {"sgemm", "small"}};
const nn_kernel_op nn_kernel_conv_forward = {"conv_forward", 2, {"direct", "im2col"}};
const nn_kernel_op nn_kernel_conv_backward_dw = {"conv_backward_dw", 2, {"direct", "im2col"}};

static const nn_kernel_op *const ops[] = {&nn_kernel_linear_forward, &nn_kernel_linear_backward_dw,
                                          &nn_kernel_conv_forward, &nn_kernel_conv_backward_dw};
#define N_OPS (sizeof ops / sizeof ops[0])

/* A round of one candidate lasts about this long, so a call of a few µs is timed over many
 * repetitions and the clock's resolution does not matter. */
#define ROUND_NS 50000.0
#define MEASURE_ROUNDS 5
/* After two rounds, stop once the measurement has cost this much (large shapes). */
#define MEASURE_BUDGET_NS 4e6
/* The default candidate stays unless another is faster by more than this factor (kernels.h). */
#define KEEP_DEFAULT 1.10

/* Open addressing over a fixed table: a network has a handful of layers and a process sees a
 * few batch sizes. When it is full, shapes run the default candidate unmeasured. */
#define CACHE_SLOTS 1024

typedef struct slot {
    bool used;
    nn_kernel_choice c;
} slot;

static struct {
    pthread_mutex_t lock;
    pthread_once_t once;
    slot slots[CACHE_SLOTS];
    size_t order[CACHE_SLOTS]; /* slot indices in the order the choices were made */
    size_t n;
    int forced[N_OPS]; /* candidate index + 1, 0 = measure */
} cache = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_ONCE_INIT, {{0}}, {0}, 0, {0}};

static size_t op_index(const nn_kernel_op *op)
{
    for (size_t i = 0; i < N_OPS; i++) {
        if (ops[i] == op) {
            return i;
        }
    }
    return N_OPS;
}

/* Parses "op=name,..." into forced (N_OPS entries); EINVAL on unknown names. */
static int parse_spec(const char *spec, int *forced, shoal_err *err)
{
    memset(forced, 0, N_OPS * sizeof *forced);
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (len == 0) {
            p++;
            continue;
        }
        if (!eq) {
            return shoal_err_set(err, SHOAL_EINVAL, "SHOAL_NN_KERNELS: \"%.*s\" is not op=name "
                                 "(e.g. linear_forward=small)", (int)len, p);
        }
        size_t op_len = (size_t)(eq - p), name_len = len - op_len - 1;
        size_t o = 0;
        while (o < N_OPS && !(strlen(ops[o]->name) == op_len && !memcmp(ops[o]->name, p, op_len))) {
            o++;
        }
        if (o == N_OPS) {
            return shoal_err_set(err, SHOAL_EINVAL, "SHOAL_NN_KERNELS: unknown operation "
                                 "\"%.*s\" (linear_forward, linear_backward_dw, conv_forward, "
                                 "conv_backward_dw)",
                                 (int)op_len, p);
        }
        size_t k = 0;
        while (k < ops[o]->n_candidates &&
               !(strlen(ops[o]->candidate_names[k]) == name_len &&
                 !memcmp(ops[o]->candidate_names[k], eq + 1, name_len))) {
            k++;
        }
        if (k == ops[o]->n_candidates) {
            return shoal_err_set(err, SHOAL_EINVAL, "SHOAL_NN_KERNELS: %s has no candidate "
                                 "\"%.*s\" (%s or %s)", ops[o]->name, (int)name_len, eq + 1,
                                 ops[o]->candidate_names[0], ops[o]->candidate_names[1]);
        }
        forced[o] = (int)k + 1;
        p += len;
    }
    return SHOAL_OK;
}

/* A bad SHOAL_NN_KERNELS is ignored (with the kernels measured) rather than fatal: nn has no
 * logger, and a kernel choice never changes results. nn_kernels_force reports errors. */
static void read_env(void)
{
    const char *spec = getenv("SHOAL_NN_KERNELS");
    int forced[N_OPS];
    if (spec && parse_spec(spec, forced, NULL) == SHOAL_OK) {
        memcpy(cache.forced, forced, sizeof forced);
    }
}

static size_t hash(const nn_kernel_op *op, const size_t *dims)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)op_index(op);
    for (size_t i = 0; i < NN_KERNEL_DIMS; i++) {
        h = (h ^ (uint64_t)dims[i]) * 1099511628211ull;
    }
    return (size_t)(h % CACHE_SLOTS);
}

/* The slot for (op, dims): found, or the empty one where it goes; NULL when the table is full. */
static slot *find(const nn_kernel_op *op, const size_t *dims)
{
    size_t at = hash(op, dims);
    for (size_t probe = 0; probe < CACHE_SLOTS; probe++) {
        slot *s = &cache.slots[(at + probe) % CACHE_SLOTS];
        if (!s->used || (s->c.op == op && !memcmp(s->c.dims, dims, sizeof s->c.dims))) {
            return s;
        }
    }
    return NULL;
}

/* Nanoseconds per call. The thread's CPU time when OpenBLAS runs in this thread alone: it does
 * not count the time other processes hold the core, which on a loaded machine would otherwise
 * decide the choice. With OpenBLAS threads, whose work it would miss, the wall clock. */
static double time_calls(nn_kernel_fn fn, void *ctx, size_t reps, bool cpu)
{
    uint64_t t0 = cpu ? clock_thread_cpu_ns() : clock_now_ns();
    for (size_t r = 0; r < reps; r++) {
        fn(ctx);
    }
    uint64_t t1 = cpu ? clock_thread_cpu_ns() : clock_now_ns();
    return (double)(t1 - t0) / (double)reps;
}

/* Fills c->us and c->chosen by timing every runnable candidate on ctx: the best of alternated
 * rounds, which discounts rounds slowed by other processes on a loaded machine. */
static void measure(nn_kernel_choice *c, const nn_kernel_fn *fns, void *ctx)
{
    size_t n = c->op->n_candidates, reps[NN_KERNEL_MAX_CANDIDATES] = {0};
    double best[NN_KERNEL_MAX_CANDIDATES];
    bool cpu = openblas_get_num_threads() == 1;
    uint64_t t0 = clock_now_ns();
    for (size_t k = 0; k < n; k++) {
        best[k] = -1.0;
        if (fns[k]) {
            double once = time_calls(fns[k], ctx, 1, cpu); /* also warms caches */
            reps[k] = once >= ROUND_NS ? 1 : (size_t)(ROUND_NS / (once > 1.0 ? once : 1.0));
            best[k] = once;
        }
    }
    for (int round = 0; round < MEASURE_ROUNDS; round++) {
        if (round >= 2 && (double)(clock_now_ns() - t0) > MEASURE_BUDGET_NS) {
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (fns[k]) {
                double t = time_calls(fns[k], ctx, reps[k], cpu);
                best[k] = round == 0 || t < best[k] ? t : best[k];
            }
        }
    }
    size_t pick = n;
    for (size_t k = 0; k < n; k++) {
        if (fns[k] && (pick == n || best[k] < best[pick])) {
            pick = k;
        }
    }
    if (fns[0] && best[0] <= KEEP_DEFAULT * best[pick]) {
        pick = 0;
    }
    for (size_t k = 0; k < n; k++) {
        c->us[k] = best[k] < 0 ? -1.0 : best[k] * 1e-3;
    }
    c->chosen = pick;
    c->measure_us = (double)(clock_now_ns() - t0) * 1e-3;
}

size_t nn_kernel_run(const nn_kernel_op *op, const size_t dims[NN_KERNEL_DIMS],
                     const nn_kernel_fn *fns, void *ctx)
{
    pthread_once(&cache.once, read_env);
    pthread_mutex_lock(&cache.lock);
    slot *s = find(op, dims);
    if (s && s->used) {
        size_t k = s->c.chosen;
        pthread_mutex_unlock(&cache.lock);
        fns[k](ctx);
        return k;
    }
    size_t first = 0;
    while (!fns[first]) {
        first++;
    }
    if (!s) {
        pthread_mutex_unlock(&cache.lock);
        fns[first](ctx);
        return first;
    }
    nn_kernel_choice c = {.op = op, .chosen = first};
    memcpy(c.dims, dims, sizeof c.dims);
    size_t o = op_index(op);
    int forced = o < N_OPS ? cache.forced[o] : 0;
    if (forced && fns[forced - 1]) {
        c.chosen = (size_t)forced - 1;
        c.forced = 1;
        for (size_t k = 0; k < NN_KERNEL_MAX_CANDIDATES; k++) {
            c.us[k] = -1.0;
        }
    } else {
        /* Under the lock, so two threads do not time against each other. */
        measure(&c, fns, ctx);
    }
    s->used = true;
    s->c = c;
    cache.order[cache.n++] = (size_t)(s - cache.slots);
    pthread_mutex_unlock(&cache.lock);
    /* The timing runs left the outputs of whichever candidate ran last: run the chosen one so
     * that they are its, as every later call of this shape will compute them. */
    fns[c.chosen](ctx);
    return c.chosen;
}

int nn_kernels_force(const char *spec, shoal_err *err)
{
    pthread_once(&cache.once, read_env);
    int forced[N_OPS];
    if (parse_spec(spec ? spec : "", forced, err) != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    pthread_mutex_lock(&cache.lock);
    memcpy(cache.forced, forced, sizeof forced);
    memset(cache.slots, 0, sizeof cache.slots);
    cache.n = 0;
    pthread_mutex_unlock(&cache.lock);
    return SHOAL_OK;
}

size_t nn_kernels_count(void)
{
    pthread_mutex_lock(&cache.lock);
    size_t n = cache.n;
    pthread_mutex_unlock(&cache.lock);
    return n;
}

int nn_kernels_get(size_t i, nn_kernel_choice *out)
{
    pthread_mutex_lock(&cache.lock);
    int ok = i < cache.n;
    if (ok) {
        *out = cache.slots[cache.order[i]].c;
    }
    pthread_mutex_unlock(&cache.lock);
    return ok ? SHOAL_OK : SHOAL_EINVAL;
}
