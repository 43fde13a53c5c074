/* A shard's introspection recorder: what replay_insight (replay/client.h) reports, kept cheap
 * on the insert and sample paths. Nothing here allocates after replay_insight_rec_new.
 *
 * - Ages in inserts need no storage: the agent ring fills slot (i mod capacity) with its i-th
 *   transition, so the transition in slot s is (inserted - 1 - s) mod capacity inserts old.
 * - Ages in seconds come from the insertion time of the slot's bucket: up to 4096 buckets over
 *   the ring, each holding when it was last written (exact for rings of up to 4096 slots,
 *   otherwise at most capacity/4096 inserts coarse). Slots written before the shard started
 *   (restored from a checkpoint) have no time and are left out of the seconds.
 * - The window is a ring of the last REPLAY_AGE_WINDOW sampled transitions; percentiles are
 *   taken when Stats asks (a sort of a preallocated copy), not when sampling.
 * - Rates come from counter snapshots at most one per second, over the last ~10 s.
 *
 *     replay_insight_rec *r = replay_insight_rec_new(capacity, &err);
 *     replay_insight_rec_inserted(r, inserted_before, n, now_ns);
 *     replay_insight_rec_sampled(r, sample->key, sample->count, inserted, now_ns);
 *     replay_insight_rec_fill(r, now_ns, inserted, sampled, &stats.insight);
 */
#ifndef SHOAL_REPLAY_INSIGHT_H
#define SHOAL_REPLAY_INSIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "replay/client.h"

typedef struct replay_insight_rec replay_insight_rec;

/* A recorder for an agent ring of `capacity` slots. NULL with ENOMEM. */
replay_insight_rec *replay_insight_rec_new(size_t capacity, shoal_err *err);

/* Frees r. NULL is fine. */
void replay_insight_rec_free(replay_insight_rec *r);

/* Notes n agent transitions stored at now_ns, after `inserted_before` earlier ones. */
void replay_insight_rec_inserted(replay_insight_rec *r, uint64_t inserted_before, size_t n,
                                 uint64_t now_ns);

/* Notes a served batch (keys as the store issues them, REPLAY_KEY_*) with `inserted` agent
 * transitions inserted so far. */
void replay_insight_rec_sampled(replay_insight_rec *r, const uint64_t *keys, size_t n,
                                uint64_t inserted, uint64_t now_ns);

/* Takes a rate snapshot when a second has passed since the last one. Cheap; call often. */
void replay_insight_rec_tick(replay_insight_rec *r, uint64_t now_ns, uint64_t inserted,
                             uint64_t sampled);

/* Fills the window, ages and rates of out (the holds, waits and histogram are the server's
 * and the store's to fill). */
void replay_insight_rec_fill(replay_insight_rec *r, uint64_t now_ns, uint64_t inserted,
                             uint64_t sampled, replay_insight *out);

#endif
