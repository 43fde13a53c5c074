/* Sum-tree (Schaul et al. 2016, algorithms.md §2.2) over `cap` leaves whose internal nodes
 * hold the sum of their children in double precision. Setting a leaf and finding the leaf under
 * a prefix sum are O(log cap); sampling a batch is stratified: [0, total) is cut into n equal
 * segments and one point is drawn in each.
 *
 * Layout: 8-ary rather than the spec's binary heap. The 8 children of a node are 8 doubles in
 * one 64-byte cache line, so a walk from root to leaf over 2^20 leaves touches 7 lines instead
 * of 21; with trees far larger than the cache, those misses are the whole cost of a sample or
 * an update. Level 0 holds the leaves; level l+1 holds the sums of groups of 8 in level l.
 *
 * Invariant: every internal node equals the sum of its two children, recomputed (never adjusted
 * by deltas) on each update, so rounding errors cannot drift; a full rebuild runs every
 * REPLAY_SUMTREE_REBUILD_EVERY updates anyway. Leaves must be finite and >= 0.
 *
 *     replay_sumtree *t = replay_sumtree_new(4, &err);
 *     replay_sumtree_set(t, 2, 3.0);
 *     size_t i = replay_sumtree_find(t, 0.5 * replay_sumtree_total(t));
 */
#ifndef SHOAL_REPLAY_SUMTREE_H
#define SHOAL_REPLAY_SUMTREE_H

#include <stddef.h>

#include "common/err.h"
#include "common/rng.h"

#define REPLAY_SUMTREE_REBUILD_EVERY 1000000u

typedef struct replay_sumtree replay_sumtree;

/* A tree of cap >= 1 leaves, all zero. NULL with EINVAL (cap 0 or too large) or ENOMEM. */
replay_sumtree *replay_sumtree_new(size_t cap, shoal_err *err);

/* Frees t. NULL is fine. */
void replay_sumtree_free(replay_sumtree *t);

/* Number of leaves usable (the cap given to _new). */
size_t replay_sumtree_cap(const replay_sumtree *t);

/* Sets leaf i (< cap) to v (finite, >= 0) and recomputes its ancestors. O(log cap). */
void replay_sumtree_set(replay_sumtree *t, size_t i, double v);

/* Sets leaf idx[k] (< cap) to v[k] (finite, >= 0) for k in 0..n and recomputes the ancestors,
 * the n walks to the root done together so that their cache misses overlap. The tree ends
 * exactly as n calls of replay_sumtree_set in order would leave it (a repeated leaf keeps its
 * last value). Allocates nothing. */
void replay_sumtree_set_batch(replay_sumtree *t, const size_t *idx, const double *v, size_t n);

/* Value of leaf i. */
double replay_sumtree_get(const replay_sumtree *t, size_t i);

/* Sum of all leaves. */
double replay_sumtree_total(const replay_sumtree *t);

/* Leaf whose prefix interval holds u, for 0 <= u < total (u is clamped into range). Never
 * returns a zero leaf while the total is positive: rounding at the right edge steps to the
 * nearest non-zero leaf on the left. The total must be positive. */
size_t replay_sumtree_find(const replay_sumtree *t, double u);

/* Stratified sampling: writes n leaf indices into out, the j-th drawn uniformly from the j-th
 * of n equal segments of [0, total). The total must be positive. Allocates nothing. */
void replay_sumtree_sample(const replay_sumtree *t, size_t n, rng *r, size_t *out);

/* Sets all leaves to zero. */
void replay_sumtree_clear(replay_sumtree *t);

/* Recomputes every internal node from the leaves. O(cap). */
void replay_sumtree_rebuild(replay_sumtree *t);

/* Bytes allocated by t. */
size_t replay_sumtree_footprint(const replay_sumtree *t);

#endif
