#include "replay/sumtree.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* 1-indexed heap layout (algorithms.md §2.2): root at 1, leaves at base .. 2*base-1, children of
 * node j at 2j and 2j+1. Node 0 is unused. */
struct replay_sumtree {
    size_t cap;   /* leaves in use */
    size_t base;  /* power of two >= cap */
    size_t n_updates;
    double *node; /* 2*base entries */
};

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
    t->base = 1;
    while (t->base < cap) {
        t->base <<= 1;
    }
    t->node = calloc(2 * t->base, sizeof *t->node);
    if (!t->node) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a sum-tree of %zu leaves (%zu bytes)",
                      cap, 2 * t->base * sizeof *t->node);
        replay_sumtree_free(t);
        return NULL;
    }
    return t;
}

void replay_sumtree_free(replay_sumtree *t)
{
    if (!t) {
        return;
    }
    free(t->node);
    free(t);
}

size_t replay_sumtree_cap(const replay_sumtree *t)
{
    return t->cap;
}

void replay_sumtree_set(replay_sumtree *t, size_t i, double v)
{
    assert(i < t->cap);
    assert(isfinite(v) && v >= 0.0);
    size_t j = t->base + i;
    t->node[j] = v;
    for (j >>= 1; j >= 1; j >>= 1) {
        t->node[j] = t->node[2 * j] + t->node[2 * j + 1];
    }
    if (++t->n_updates >= REPLAY_SUMTREE_REBUILD_EVERY) {
        replay_sumtree_rebuild(t);
    }
}

double replay_sumtree_get(const replay_sumtree *t, size_t i)
{
    assert(i < t->cap);
    return t->node[t->base + i];
}

double replay_sumtree_total(const replay_sumtree *t)
{
    return t->node[1];
}

size_t replay_sumtree_find(const replay_sumtree *t, double u)
{
    assert(t->node[1] > 0.0);
    if (!(u >= 0.0)) {
        u = 0.0;
    }
    size_t j = 1;
    while (j < t->base) {
        double left = t->node[2 * j];
        if (u < left) {
            j = 2 * j;
        } else {
            u -= left;
            j = 2 * j + 1;
        }
    }
    size_t i = j - t->base;
    /* Rounding (u a hair above the true total, or sums that lost the last ulp) can walk into a
     * zero leaf at the right edge: step to the nearest non-zero leaf on the left. */
    while (i > 0 && (i >= t->cap || t->node[t->base + i] <= 0.0)) {
        i--;
    }
    while (i + 1 < t->cap && t->node[t->base + i] <= 0.0) {
        i++; /* only when every leaf left of i is zero */
    }
    return i;
}

void replay_sumtree_sample(const replay_sumtree *t, size_t n, rng *r, size_t *out)
{
    double seg = t->node[1] / (double)n;
    for (size_t k = 0; k < n; k++) {
        out[k] = replay_sumtree_find(t, seg * ((double)k + rng_uniform(r)));
    }
}

void replay_sumtree_clear(replay_sumtree *t)
{
    for (size_t j = 0; j < 2 * t->base; j++) {
        t->node[j] = 0.0;
    }
    t->n_updates = 0;
}

void replay_sumtree_rebuild(replay_sumtree *t)
{
    for (size_t j = t->base - 1; j >= 1; j--) {
        t->node[j] = t->node[2 * j] + t->node[2 * j + 1];
    }
    t->n_updates = 0;
}
