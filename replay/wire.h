/* The edge between the wire schema and replay's plain structs, private to replay (the client,
 * the server and the demo files use it; no other part sees protobuf). Every protobuf-c message
 * a shard receives is validated here against the shard's observation spec and limits and
 * turned into the plain structs of replay/client.h and replay/store.h (views, nothing copied).
 * Any inconsistency (counts that disagree, sizes that do not match the spec, NaN or negative
 * priorities, non-finite rewards) is EPROTO with a message naming the field, so the server can
 * answer with an Error. The other way, a plain struct is encoded by pointing a message at its
 * columns (nothing copied either; protobuf-c packs from there).
 *
 *     replay_transitions t;
 *     if (replay_wire_insert_view(env->insert_batch, spec, max_count, &t, &err)) reply_error();
 *     replay_store_insert(store, &t, env->insert_batch->demo, &err);
 *
 *     replay_wire_insert m;                       // the client's side of the same message
 *     replay_wire_batch(&batch, &m);              // then frame_send an Envelope of &m.msg
 */
#ifndef SHOAL_REPLAY_WIRE_H
#define SHOAL_REPLAY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/shoal.pb-c.h"
#include "replay/client.h"
#include "replay/store.h"

/* An InsertBatch pointing at a replay_batch's columns, with the storage its pointers need. */
typedef struct replay_wire_insert {
    Shoal__V1__InsertBatch msg;
    Shoal__V1__ObsSpec spec;
    uint32_t shape[3];
} replay_wire_insert;

/* A SampleBatch pointing at a replay_sample's columns, with the storage its pointers need. */
typedef struct replay_wire_sample {
    Shoal__V1__SampleBatch msg;
    Shoal__V1__ObsSpec spec;
    uint32_t shape[3];
} replay_wire_sample;

/* Checks b (count 1..max_count, every column of length count, obs sizes from the spec, obs
 * spec equal to spec, n_heads <= 32 with masks exactly when n_heads > 1, finite rewards,
 * discounts in [0, 1], priorities finite and >= 0, episode columns of equal length, demo
 * exactly with actor_id REPLAY_DEMO_ACTOR except label batches, which are demo batches from an
 * actor id) and points t at its columns. t borrows from b. EPROTO otherwise. */
int replay_wire_insert_view(const Shoal__V1__InsertBatch *b, const obs_spec *spec,
                            size_t max_count, replay_transitions *t, shoal_err *err);

/* Checks a SampleRequest (batch_size 1..max_batch, demo_fraction and beta finite in [0, 1],
 * not both mixed and demo_only) and converts it. EPROTO otherwise. */
int replay_wire_sample_req(const Shoal__V1__SampleRequest *r, size_t max_batch,
                           replay_sample_req *out, shoal_err *err);

/* Checks a PriorityUpdate's shape (as many priorities as keys, 1..max_keys); the store checks
 * the values. EPROTO otherwise. */
int replay_wire_priority_update(const Shoal__V1__PriorityUpdate *u, size_t max_keys,
                                shoal_err *err);

/* Points out->msg at b's columns (seq 0, for the caller). out borrows b's arrays and is only
 * read by the encoder. */
void replay_wire_batch(const replay_batch *b, replay_wire_insert *out);

/* Points out->msg at x's columns (the shard's side); demo_flags and label_flags (x->count
 * each) hold the flag columns as protobuf-c booleans. out borrows all of them and is only read
 * by the encoder. request_id, shard and the totals are left for the caller. */
void replay_wire_sample_batch(const replay_sample *x, const obs_spec *spec,
                              protobuf_c_boolean *demo_flags, protobuf_c_boolean *label_flags,
                              replay_wire_sample *out);

/* The replay_batch a received InsertBatch holds, checked as replay_wire_insert_view checks it
 * (against spec); out borrows m's arrays. EPROTO. */
int replay_wire_batch_view(const Shoal__V1__InsertBatch *m, const obs_spec *spec,
                           size_t max_count, replay_batch *out, shoal_err *err);

/* The spec a message's own obs_spec describes, finished (bytes set). EPROTO when it is missing,
 * not 3 nonzero dimensions, or of an unknown dtype. */
int replay_wire_spec_of(const Shoal__V1__ObsSpec *w, obs_spec *out, shoal_err *err);

/* Fills out (shape pointing at shape_storage) from spec. */
void replay_wire_obs_spec(const obs_spec *spec, Shoal__V1__ObsSpec *out,
                          uint32_t shape_storage[3]);

/* Points st at s (the shard's side): msgs (s->n_actors entries) and ptrs (as many) are the
 * storage its actors need; st borrows them and is only read by the encoder. request_id is left
 * for the caller. */
void replay_wire_stats(const replay_stats *s, Shoal__V1__Stats *st, Shoal__V1__ActorStats *msgs,
                       Shoal__V1__ActorStats **ptrs);

/* Copies a received Stats into out (the client's side); out->actors points at actors, which
 * must hold st->n_actors entries. */
void replay_wire_stats_view(const Shoal__V1__Stats *st, replay_stats *out,
                            replay_actor_stats *actors);

#endif
