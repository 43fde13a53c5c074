/* Demonstration files, private to replay: the writer is declared in replay/client.h (the
 * actor's demo recorder writes through it); reading, counting and loading them into a shard's
 * demo store are here. The format is documented in docs/formats.md ("Demonstration files"):
 *
 *     header   8 bytes "SHOALDEM", u32 version (1), u32 flags (0)        little-endian
 *     records  u32 length, u32 CRC32C of the payload, payload = one packed shoal.v1.InsertBatch
 *              (demo = true, actor_id = 0xFFFFFFFF), repeated to the end of the file
 *
 * A writer builds the file beside its target and renames it into place on close, so a reader
 * never sees half a file; a reader checks every length and CRC and names the record and byte
 * offset of any damage.
 *
 *     replay_demo_count("a.demo,b.demo", &n, &err);   // to size the demo store
 *     replay_demo_load(store, "a.demo,b.demo", &n, &err);
 */
#ifndef SHOAL_REPLAY_DEMOFILE_H
#define SHOAL_REPLAY_DEMOFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "replay/client.h"
#include "replay/store.h"

#define REPLAY_DEMO_MAGIC "SHOALDEM"
#define REPLAY_DEMO_VERSION 1u
/* Largest record a reader accepts. */
#define REPLAY_DEMO_MAX_RECORD ((size_t)256 << 20)

/* Calls fn for each record of the file in order, decoded and checked against its own spec;
 * the batch lives until fn returns. Stops at the first error: ENOTFOUND, EIO, ECORRUPT (bad
 * magic, truncated record, CRC mismatch, undecodable or inconsistent record, with record index
 * and byte offset), EVERSION, or fn's own code. */
typedef int (*replay_demo_fn)(void *ctx, const replay_batch *b, shoal_err *err);
int replay_demo_read(const char *path, replay_demo_fn fn, void *ctx, shoal_err *err);

/* Transitions in the comma-separated files (each record checked as replay_demo_read does). */
int replay_demo_count(const char *paths, size_t *n_transitions, shoal_err *err);

/* Loads every record of the comma-separated files into the demo store of s, validated against
 * the store's observation spec. *n_transitions (may be NULL) counts what was stored. */
int replay_demo_load(replay_store *s, const char *paths, size_t *n_transitions, shoal_err *err);

#endif
