/* The edge between the wire schema and the store: every protobuf-c message the shard receives
 * is validated here against the shard's observation spec and limits and turned into the
 * store's plain structs (views, nothing copied). Any inconsistency (counts that disagree,
 * sizes that do not match the spec, NaN or negative priorities, non-finite rewards) is
 * EPROTO with a message naming the field, so the server can answer with an Error.
 *
 *     replay_transitions t;
 *     if (replay_wire_insert_view(env->insert_batch, spec, max_count, &t, &err)) reply_error();
 *     replay_store_insert(store, &t, env->insert_batch->demo, &err);
 */
#ifndef SHOAL_REPLAY_WIRE_H
#define SHOAL_REPLAY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/shoal.pb-c.h"
#include "replay/client.h"
#include "replay/store.h"

/* actor_id of demonstration batches. */
#define REPLAY_DEMO_ACTOR 0xFFFFFFFFu

/* Checks b (count 1..max_count, every column of length count, obs sizes from the spec, obs
 * spec equal to spec, n_heads <= 32 with masks exactly when n_heads > 1, finite rewards,
 * discounts in [0, 1], priorities finite and >= 0, episode columns of equal length) and points
 * t at its columns. t borrows from b. EPROTO otherwise. */
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

/* Points an InsertBatch at t's columns (the actor's side: build, then replay_client_insert or
 * replay_demo_writer_append). b and spec_out borrow t's arrays and shape_storage and are only
 * read by the encoder. Sets count, obs_spec, the columns, n_heads and masks; actor_id, demo,
 * env_steps, params_version and the episode columns are left for the caller. */
void replay_wire_insert_batch(const replay_transitions *t, const obs_spec *spec,
                              Shoal__V1__InsertBatch *b, Shoal__V1__ObsSpec *spec_out,
                              uint32_t shape_storage[3]);

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
