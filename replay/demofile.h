/* Demonstration files, private to replay: the writer is declared in replay/client.h (the
 * actor's demo recorder writes through it); reading, counting and loading them into a shard's
 * demo store are here. The format is documented in docs/formats.md ("Demonstration files"):
 *
 *     header   8 bytes "SHOALDEM", u32 version (2), u32 flags (0), u64 records,
 *              u64 transitions, u64 bytes of records, u32 CRC32C of the records  little-endian
 *     records  u32 length, u32 CRC32C of the payload, payload = one packed shoal.v1.InsertBatch
 *              (demo = true, actor_id = 0xFFFFFFFF), repeated to the end of the file
 *
 * A writer builds the file beside its target, fills the header's counts and checksum at close
 * and renames it into place, so a reader never sees half a file. A reader checks the header
 * (magic, version, unknown flag bits, size) before the first record, every record's length,
 * CRC and contents, and the counts and checksum after the last, and names the file and the
 * damage (record index and byte offset where there is one). What reaches a store or a caller's
 * function has been checked whole first: a damaged file is refused, never loaded in part.
 *
 * Version 1 files (header of 16 bytes: magic, version, flags; no counts or checksum) are still
 * read, with every check they allow (flags 0, each record, at least one record), and a warning
 * that a cut at a record boundary cannot be noticed in them: demonstrations recorded before
 * version 2 stay usable, and a run resumed with them keeps working.
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
#define REPLAY_DEMO_VERSION 2u
#define REPLAY_DEMO_HEADER 44   /* bytes of a version 2 header */
#define REPLAY_DEMO_HEADER_V1 16
/* Flag bits this build knows (none yet); a reader refuses a file with any other bit set. */
#define REPLAY_DEMO_FLAGS_KNOWN 0x0u
/* Largest record a reader accepts. */
#define REPLAY_DEMO_MAX_RECORD ((size_t)256 << 20)

/* replay_demo_read, the reader, is declared in replay/client.h (`shoal demos info` and
 * `merge` read through it). */

/* Transitions in the comma-separated files, each checked whole as replay_demo_read does. */
int replay_demo_count(const char *paths, size_t *n_transitions, shoal_err *err);

/* Loads every record of the comma-separated files into the demo store of s after checking all
 * of them whole, also against the store's observation spec and its free demo room (ESTATE),
 * so that on error the store is unchanged (short of a file changing between the check and the
 * load). *n_transitions (may be NULL) counts what was stored. */
int replay_demo_load(replay_store *s, const char *paths, size_t *n_transitions, shoal_err *err);

#endif
