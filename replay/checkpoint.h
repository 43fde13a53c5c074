/* Shard checkpoints, private to replay (replay/server.c is the only user): the store's columns
 * and the shard's own state (rate-limiter counters, blocked time, error count, per-actor
 * statistics) in one file, CRC32C at the end ("Replay checkpoints" in docs/formats.md):
 *
 *     8 bytes REPLAY_CKPT_MAGIC, u32 version, u32 shard, the store (replay_store_save),
 *     f64 insert/sample blocked s, u64 inserted, sampled, errors, env steps, actors seen,
 *     then per actor seen: u32 id, its record; u32 CRC32C of everything before
 *
 * The server owns the state; a replay_ckpt_state borrows it for one write or read.
 *
 *     replay_ckpt_state st = {.shard = 0, .store = store, .lim = &lim, ...};
 *     replay_ckpt_write(path, &st, &bytes, &err);   // atomic: the old file stays on failure
 *     replay_ckpt_read(path, &st, &err);            // SHOAL_ENOTFOUND: start empty
 *
 * A checkpoint can also be written off the serve loop (replay_ckpt_start): a child process
 * forked from the shard sees its memory as it was at the fork (copy-on-write), so the file
 * holds one point in time, demonstrations included, while the shard goes on serving; the shard
 * pauses only for the fork (page tables, about 1 ms per 100 MB resident). The child touches no
 * ZeroMQ socket, logs nothing (another thread may hold the log's lock at the fork) and ends
 * with _exit; it sends its result back through a pipe, so the parent learns success or the
 * error without blocking (replay_ckpt_poll):
 *
 *     replay_ckpt_job job = REPLAY_CKPT_JOB_INIT;
 *     replay_ckpt_start(&job, path, &st, &err);     // returns at once; st may change after
 *     while (replay_ckpt_poll(&job, false, &done, &err) == SHOAL_EAGAIN) { serve(); }
 */
#ifndef SHOAL_REPLAY_CHECKPOINT_H
#define SHOAL_REPLAY_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "replay/limiter.h"
#include "replay/store.h"

/* Checkpoint format ("Replay checkpoints" in docs/formats.md). */
#define REPLAY_CKPT_MAGIC "SHOALRCK"
#define REPLAY_CKPT_VERSION 1u

/* Per-actor episode statistics, as carried by its inserts (proto ActorStats), plus flow
 * control state (held, which a checkpoint does not keep). */
typedef struct replay_actor_rec {
    bool seen;
    uint32_t held;        /* acks held by the limiter */
    uint64_t episodes;
    uint64_t env_steps;
    uint64_t transitions;
    uint64_t params_version;
    double return_sum;
    double intrinsic_sum;
    float last_return;
    double last_seen_s;
} replay_actor_rec;

/* The shard state a checkpoint holds, borrowed from the server. */
typedef struct replay_ckpt_state {
    uint32_t shard;
    replay_store *store;
    replay_limiter *lim;       /* inserted, sampled and blocked time are kept */
    uint64_t *errors;
    uint64_t *env_steps;
    replay_actor_rec *actors;  /* (max_actors) */
    uint32_t max_actors;
} replay_ckpt_state;

/* Writes the checkpoint of st at path atomically (the previous file is kept on failure);
 * *bytes (may be NULL) is the file's size. EIO. */
int replay_ckpt_write(const char *path, const replay_ckpt_state *st, uint64_t *bytes,
                      shoal_err *err);

/* Reads the checkpoint at path into st (an empty store of the same configuration, actors
 * zeroed). ENOTFOUND when there is no file (err untouched); ECORRUPT, EVERSION, EINVAL or EIO
 * with what is wrong. On error st may be half filled: the caller empties it. */
int replay_ckpt_read(const char *path, const replay_ckpt_state *st, shoal_err *err);

/* A checkpoint being written by a child process. */
typedef struct replay_ckpt_job {
    int pid;          /* the writer; 0 when none is in flight */
    int fd;           /* read end of its result pipe */
    uint64_t start_ns;
    double fork_s;    /* how long the caller was paused by the fork */
} replay_ckpt_job;

#define REPLAY_CKPT_JOB_INIT {.pid = 0, .fd = -1}

/* Forks a child that writes the checkpoint of st at path (as replay_ckpt_write) and returns at
 * once; st may change from then on without changing the file. One job at a time: ESTATE while
 * job is in flight. EAGAIN when the process cannot fork (no memory or process slots); the
 * caller may write in-process instead. */
int replay_ckpt_start(replay_ckpt_job *job, const char *path, const replay_ckpt_state *st,
                      shoal_err *err);

/* What a finished job wrote. */
typedef struct replay_ckpt_done {
    uint64_t bytes;  /* the file's size */
    double write_s;  /* the child's time to write it */
} replay_ckpt_done;

/* Collects the job's result: EAGAIN while the child is still writing (wait false); otherwise
 * SHOAL_OK with *done (may be NULL) filled, or the write's error (EIO with what failed, or EIO
 * saying how the child died), and the job is over (pid 0). SHOAL_OK at once when no job is in
 * flight (done zeroed). With wait, blocks until the child is done. */
int replay_ckpt_poll(replay_ckpt_job *job, bool wait, replay_ckpt_done *done, shoal_err *err);

#endif
