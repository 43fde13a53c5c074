/* Demonstration files: what the actor's demo recorder (and `shoal play`) writes and what
 * `replay.demos = FILE[,FILE...]` loads into the shard's demo store at start-up. The format is
 * documented in docs/formats.md ("Demonstration files"):
 *
 *     header   8 bytes "SHOALDEM", u32 version (1), u32 flags (0)        little-endian
 *     records  u32 length, u32 CRC32C of the payload, payload = one packed shoal.v1.InsertBatch
 *              (demo = true, actor_id = 0xFFFFFFFF), repeated to the end of the file
 *
 * A writer builds the file beside its target and renames it into place on close, so a reader
 * never sees half a file; a reader checks every length and CRC and names the record and byte
 * offset of any damage.
 *
 *     replay_demo_writer *w = replay_demo_writer_open("demos/breakout.demo", &err);
 *     replay_demo_writer_append(w, &batch, &err);   // batch.demo = true
 *     replay_demo_writer_close(w, &err);
 */
#ifndef SHOAL_REPLAY_DEMOFILE_H
#define SHOAL_REPLAY_DEMOFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/shoal.pb-c.h"
#include "replay/store.h"

#define REPLAY_DEMO_MAGIC "SHOALDEM"
#define REPLAY_DEMO_VERSION 1u
/* Largest record a reader accepts. */
#define REPLAY_DEMO_MAX_RECORD ((size_t)256 << 20)

typedef struct replay_demo_writer replay_demo_writer;

/* Starts a demo file at path (atomic: nothing appears at path before close). EIO. */
replay_demo_writer *replay_demo_writer_open(const char *path, shoal_err *err);

/* Appends one batch. EINVAL unless b->demo is set, actor_id is 0xFFFFFFFF and the batch is
 * consistent with its own obs_spec (the checks a shard makes); EIO on write errors. */
int replay_demo_writer_append(replay_demo_writer *w, const Shoal__V1__InsertBatch *b,
                              shoal_err *err);

/* Commits the file (fsync, rename) and frees w. EIO; the target is untouched on failure. */
int replay_demo_writer_close(replay_demo_writer *w, shoal_err *err);

/* Drops the file being written and frees w. NULL is fine. */
void replay_demo_writer_abort(replay_demo_writer *w);

/* Calls fn for each record of the file in order; the batch lives until fn returns. Stops at
 * the first error: ENOTFOUND, EIO, ECORRUPT (bad magic, truncated record, CRC mismatch,
 * undecodable record, with record index and byte offset), EVERSION, or fn's own code. */
typedef int (*replay_demo_fn)(void *ctx, const Shoal__V1__InsertBatch *b, shoal_err *err);
int replay_demo_read(const char *path, replay_demo_fn fn, void *ctx, shoal_err *err);

/* Transitions in the comma-separated files (each record checked as replay_demo_read does). */
int replay_demo_count(const char *paths, size_t *n_transitions, shoal_err *err);

/* Loads every record of the comma-separated files into the demo store of s, validated against
 * the store's observation spec. *n_transitions (may be NULL) counts what was stored. */
int replay_demo_load(replay_store *s, const char *paths, size_t *n_transitions, shoal_err *err);

#endif
