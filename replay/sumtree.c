#include "replay/sumtree.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/hugemem.h"

#define FANOUT 8
#define MAX_LEVELS 16 /* 8^15 leaves is far beyond the 2^40 limit */

/* level[0] are the leaves, padded with zeros to a multiple of 8; level[l + 1][j] is the sum of
 * level[l][8j .. 8j+7]; the top level has exactly 8 entries and the total is their sum. */
struct replay_sumtree {
    size_t cap;
    size_t n_levels;
    size_t size[MAX_LEVELS]; /* entries of each level, multiples of 8 */
    double *level[MAX_LEVELS];
    double *block;           /* every level, 64-byte aligned */
    size_t block_bytes;
    double total;
    size_t n_updates;
};

static size_t round8(size_t n)
{
    return (n + FANOUT - 1) / FANOUT * FANOUT;
}

replay_sumtree *replay_sumtree_new(size_t cap, shoal_err *err)
{
    if (cap == 0 || cap > ((size_t)1 << 40)) {
        shoal_err_set(err, SHOAL_EINVAL, "sum-tree capacity %zu is out of range 1..2^40", cap);
        return NULL;
    }
    replay_sumtree *t = calloc(1, sizeof *t);
    if (!t) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a sum-tree");
        return NULL;
    }
    t->cap = cap;
    size_t n = round8(cap), total = 0;
    do {
        t->size[t->n_levels++] = n;
        total += n;
        n = round8((n + FANOUT - 1) / FANOUT);
    } while (t->size[t->n_levels - 1] > FANOUT);
    t->block_bytes = total * sizeof(double);
    t->block = replay_hugemem_alloc(t->block_bytes);
    if (!t->block) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a sum-tree of %zu leaves (%zu bytes)",
                      cap, t->block_bytes);
        replay_sumtree_free(t);
        return NULL;
    }
    double *p = t->block;
    for (size_t l = 0; l < t->n_levels; l++) {
        t->level[l] = p;
        p += t->size[l]; /* sizes are multiples of 8 doubles: each level stays 64-byte aligned */
    }
    replay_sumtree_clear(t);
    return t;
}

void replay_sumtree_free(replay_sumtree *t)
{
    if (!t) {
        return;
    }
    replay_hugemem_free(t->block);
    free(t);
}

size_t replay_sumtree_cap(const replay_sumtree *t)
{
    return t->cap;
}

size_t replay_sumtree_footprint(const replay_sumtree *t)
{
    return sizeof *t + t->block_bytes;
}

static double sum8(const double *v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

void replay_sumtree_set(replay_sumtree *t, size_t i, double v)
{
    assert(i < t->cap);
    assert(isfinite(v) && v >= 0.0);
    t->level[0][i] = v;
    size_t j = i;
    for (size_t l = 1; l < t->n_levels; l++) {
        j /= FANOUT;
        t->level[l][j] = sum8(t->level[l - 1] + j * FANOUT);
    }
    t->total = sum8(t->level[t->n_levels - 1]);
    if (++t->n_updates >= REPLAY_SUMTREE_REBUILD_EVERY) {
        replay_sumtree_rebuild(t);
    }
}

/* Leaves per lockstep step of set_batch: the ancestors of this many leaves are fetched together. */
#define SET_CHUNK 64

void replay_sumtree_set_batch(replay_sumtree *t, const size_t *idx, const double *v, size_t n)
{
    size_t j[SET_CHUNK];
    for (size_t k0 = 0; k0 < n; k0 += SET_CHUNK) {
        size_t m = n - k0 < SET_CHUNK ? n - k0 : SET_CHUNK;
        for (size_t k = 0; k < m; k++) {
            __builtin_prefetch(t->level[0] + idx[k0 + k], 1);
            __builtin_prefetch(t->level[1] + idx[k0 + k] / FANOUT, 1);
        }
        for (size_t k = 0; k < m; k++) {
            assert(idx[k0 + k] < t->cap);
            assert(isfinite(v[k0 + k]) && v[k0 + k] >= 0.0);
            t->level[0][idx[k0 + k]] = v[k0 + k]; /* in order: a repeated leaf keeps its last */
            j[k] = idx[k0 + k];
        }
        /* Level by level, every leaf of the chunk at once: a parent is recomputed only after
         * all its children are final, so the nodes end as sequential sets would leave them,
         * and each level's misses overlap instead of queueing one set after another. */
        for (size_t l = 1; l < t->n_levels; l++) {
            for (size_t k = 0; k < m; k++) {
                j[k] /= FANOUT;
                if (l + 1 < t->n_levels) {
                    __builtin_prefetch(t->level[l + 1] + j[k] / FANOUT, 1);
                }
            }
            for (size_t k = 0; k < m; k++) {
                t->level[l][j[k]] = sum8(t->level[l - 1] + j[k] * FANOUT);
            }
        }
    }
    if (n) {
        t->total = sum8(t->level[t->n_levels - 1]);
    }
    t->n_updates += n;
    if (t->n_updates >= REPLAY_SUMTREE_REBUILD_EVERY) {
        replay_sumtree_rebuild(t);
    }
}

double replay_sumtree_get(const replay_sumtree *t, size_t i)
{
    assert(i < t->cap);
    return t->level[0][i];
}

double replay_sumtree_total(const replay_sumtree *t)
{
    return t->total;
}

/* One step down: within the group of 8 at g, the child under u; u becomes the remainder.
 * Exactly the sequential walk "while u >= g[k]: u -= g[k], k++" (the same subtractions in the
 * same order, so the same child and remainder to the bit), but without its branches: the
 * remainders before each child are computed in full and the first child whose sum exceeds its
 * remainder is found with a bit scan. The walk's branch went the other way at a random child of
 * every level, and those mispredictions were most of a descent's cost once its lines were
 * fetched. */
static size_t child(const double *g, double *u)
{
    double r[FANOUT];
    unsigned stop = 1u << (FANOUT - 1); /* the last child takes whatever remains */
    r[0] = *u;
    for (size_t k = 0; k + 1 < FANOUT; k++) {
        stop |= (unsigned)!(r[k] >= g[k]) << k;
        r[k + 1] = r[k] - g[k];
    }
    size_t k = (size_t)__builtin_ctz(stop);
    *u = r[k];
    return k;
}

/* The zero-leaf guard of find, applied to the leaf a descent ended on. */
static size_t nonzero_leaf(const replay_sumtree *t, size_t i)
{
    const double *leaf = t->level[0];
    /* Rounding (u a hair above the true total, or sums that lost the last ulp) can walk into a
     * zero leaf at the right edge: step to the nearest non-zero leaf on the left. */
    while (i > 0 && (i >= t->cap || leaf[i] <= 0.0)) {
        i--;
    }
    while (i + 1 < t->cap && leaf[i] <= 0.0) {
        i++; /* only when every leaf left of i is zero */
    }
    return i;
}

size_t replay_sumtree_find(const replay_sumtree *t, double u)
{
    assert(t->total > 0.0);
    if (!(u >= 0.0)) {
        u = 0.0;
    }
    size_t j = 0; /* group index at the current level */
    for (size_t l = t->n_levels; l-- > 0;) {
        j = j * FANOUT + child(t->level[l] + j * FANOUT, &u);
    }
    return nonzero_leaf(t, j);
}

/* Points per lockstep chunk: enough independent descents to hide memory latency. */
#define CHUNK 64

void replay_sumtree_sample(const replay_sumtree *t, size_t n, rng *r, size_t *out)
{
    assert(t->total > 0.0);
    double seg = t->total / (double)n;
    double u[CHUNK];
    /* The descents of a batch are independent, so they go down the tree level by level
     * together: while one point's group is scanned, the lines the others need next are
     * already being fetched. Same draws and results as calling find for each point. */
    for (size_t k0 = 0; k0 < n; k0 += CHUNK) {
        size_t m = n - k0 < CHUNK ? n - k0 : CHUNK;
        for (size_t k = 0; k < m; k++) {
            u[k] = seg * ((double)(k0 + k) + rng_uniform(r));
            out[k0 + k] = 0;
        }
        for (size_t l = t->n_levels; l-- > 0;) {
            const double *lv = t->level[l];
            for (size_t k = 0; k < m; k++) {
                size_t j = out[k0 + k];
                j = j * FANOUT + child(lv + j * FANOUT, &u[k]);
                out[k0 + k] = j;
                if (l > 0) {
                    __builtin_prefetch(t->level[l - 1] + j * FANOUT);
                }
            }
        }
        for (size_t k = 0; k < m; k++) {
            out[k0 + k] = nonzero_leaf(t, out[k0 + k]);
        }
    }
}

void replay_sumtree_clear(replay_sumtree *t)
{
    memset(t->block, 0, t->block_bytes);
    t->total = 0.0;
    t->n_updates = 0;
}

void replay_sumtree_rebuild(replay_sumtree *t)
{
    for (size_t l = 1; l < t->n_levels; l++) {
        for (size_t j = 0; j < t->size[l - 1] / FANOUT; j++) {
            t->level[l][j] = sum8(t->level[l - 1] + j * FANOUT);
        }
    }
    t->total = sum8(t->level[t->n_levels - 1]);
    t->n_updates = 0;
}
