/* The replay shard server: one ZeroMQ ROUTER serving InsertBatch, SampleRequest,
 * PriorityUpdate and StatsRequest from any number of actors and learners at once, in front of
 * one replay_store, with the rate limiter, credit-based flow control, periodic atomic
 * checkpoints and demonstrations loaded at start (ARCHITECTURE.md, Replay semantics).
 *
 * Every message is validated (replay/wire.h) and a bad one is answered with an Error naming
 * what was wrong; the shard goes on serving everyone else. The loop blocks in zmq_poll with
 * a timeout and never spins. Messages larger than max_message_bytes get an Error; ZeroMQ's
 * ZMQ_MAXMSGSIZE is set to twice that, beyond which ZeroMQ drops the connection itself (the
 * shard is never made to buffer an arbitrarily large message).
 *
 * Checkpoints: the periodic ones are written by a forked child (replay/checkpoint.h), so the
 * shard serves on while the file is written and pauses only for the fork; the one on the way
 * out is written in-process. A failed one is retried with back-off (at least a period apart, so
 * the log gets at most one line per period, with the count); after checkpoint_max_failures in a
 * row the shard stops with an error rather than serve a run it can no longer save. The previous
 * checkpoint file always survives.
 *
 * Flow control: an actor may have `credits` insert batches unacknowledged. Acks are sent at
 * once unless the rate limiter holds them (actors too far ahead); sample replies wait while the
 * learner is too far ahead. An actor that sends beyond its credits gets an Error for the extra
 * batch (nothing stored).
 *
 *     replay_server *s = replay_server_new(&cfg, &err);      // binds, restores, loads demos
 *     replay_server_run(s, &stop_flag, &err);                  // until *stop_flag; checkpoints
 *     replay_server_free(s);
 */
#ifndef SHOAL_REPLAY_SERVER_H
#define SHOAL_REPLAY_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/err.h"
#include "common/fileio.h"
#include "replay/limiter.h"
#include "replay/store.h"

/* The [replay] configuration keys (added to the schema by cluster/schema.c). */
extern const config_key replay_config_keys[];

typedef struct replay_server_config {
    replay_store_config store;      /* demo_capacity: at least what the demo files hold */
    replay_limiter_config limiter;
    char bind[256];                 /* ZeroMQ endpoint, e.g. tcp://127.0.0.1:5555 */
    char checkpoint_path[FILEIO_PATH_MAX]; /* "" disables checkpoints */
    double checkpoint_secs;         /* period; 0 writes only on stop */
    uint32_t checkpoint_max_failures; /* periodic ones failed in a row before run gives up, >= 1 */
    char demos[FILEIO_PATH_MAX];    /* comma-separated demo files, "" for none */
    uint32_t credits;               /* insert batches an actor may have in flight */
    size_t max_message_bytes;       /* larger messages are answered with an Error */
    uint32_t max_actors;            /* actor ids 0..max_actors-1 */
    size_t max_pending;             /* sample requests the limiter may hold at once */
    size_t count_table;             /* slots of the shared-counts table (exploration.counts;
                                     * 0: 1048576) */
    /* NULL, or a flag another thread sets when the run stops: from then on insert acks are
     * never held, since the learners have stopped sampling and actors flushing their last
     * batches would otherwise wait for samples that never come. */
    const volatile sig_atomic_t *drain;
    /* CURVE (common/curve.h): with curve.on the ROUTER is a CURVE server with the run's server
     * key pair, and a ZAP handler admits only the run's client key; off: plain TCP. The
     * launcher fills it (replay_server_config_from leaves it off). */
    curve_keys curve;
} replay_server_config;

/* Fills out from the [replay] and [run] sections, and the observation spec from the env facts
 * (common/obs.h), for shard `shard` bound at `bind`. EINVAL names the bad key. */
int replay_server_config_from(const config *c, uint32_t shard, const char *bind,
                              replay_server_config *out, shoal_err *err);

typedef struct replay_server replay_server;

/* Allocates the store, restores the checkpoint when present (a corrupt or truncated one is
 * refused with ECORRUPT and left in place), loads the demo files when no checkpoint was
 * restored, and binds the ROUTER. NULL with err. */
replay_server *replay_server_new(const replay_server_config *cfg, shoal_err *err);

/* Stops serving and frees everything. NULL is fine. */
void replay_server_free(replay_server *s);

/* The endpoint actually bound (a wildcard port resolved), valid while s lives. */
const char *replay_server_endpoint(const replay_server *s);

/* The store, for inspection (tests, the command's start-up report). */
const replay_store *replay_server_store(const replay_server *s);

/* Waits up to timeout_ms for messages and serves everything that arrived, then releases what
 * the limiter allows. EIO on socket failure. */
int replay_server_poll(replay_server *s, int timeout_ms, shoal_err *err);

/* Serves until *stop becomes nonzero, checkpointing every checkpoint_secs (in a child process)
 * and once more on the way out (in-process; its error is returned). A failed periodic
 * checkpoint is logged and retried with back-off; after checkpoint_max_failures in a row run
 * returns ESTATE naming the last error (the previous file is kept). EIO on socket failure. */
int replay_server_run(replay_server *s, volatile sig_atomic_t *stop, shoal_err *err);

/* Writes the checkpoint now, in this process, after waiting for a periodic one in flight
 * (atomic; the previous file is kept on failure; the format is in docs/formats.md, "Replay
 * checkpoints"). ESTATE without a checkpoint path; EIO with what failed. */
int replay_server_checkpoint(replay_server *s, shoal_err *err);

#endif
