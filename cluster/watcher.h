/* The stop watcher of a `shoal train` rank: a thread that turns the run folder's STOP file into
 * the process's stop flag (and, for a shard, a signal's request to stop into the STOP file, so
 * that SIGTERM to every rank at once, as Slurm sends it, drains too). A replay shard drains
 * first: after the STOP file appears it keeps
 * serving until the learners are done (they need it to finish; the evaluator does not, and its
 * final evaluations go on meanwhile) and the actors too, except that a second without another actor finishing means the rest are gone (a
 * killed actor never says it is done); WATCHER_DRAIN_SECS bounds it all, within the 10 s a stop
 * may take. On world rank 0 under a user's mpirun it also prints the progress line and writes
 * the STOP file when the budget is spent (with a monitor), and watches the other ranks (with a
 * liveness: a shard, learner or evaluator lost stops the run).
 *
 * It is also the rank's heartbeat: it writes RUN_DIR/log/<role>-<index>.alive ("HOST PID") at
 * start and touches it every WATCHER_HEARTBEAT_SECS, so a rank that hangs or whose machine is
 * gone is noticed (cluster/liveness.h). The thread beats while the role's own thread works; a
 * role stuck in a loop that still lets this thread run is not noticed by the heartbeat.
 *
 *     watcher w = {.run_dir = dir, .stop = stop, .period = 5};
 *     watcher_start(&w);
 *     ... the role runs until *stop ...
 *     watcher_join(&w);
 */
#ifndef SHOAL_CLUSTER_WATCHER_H
#define SHOAL_CLUSTER_WATCHER_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/liveness.h"
#include "cluster/monitor.h"

#define WATCHER_DRAIN_SECS 6.0
#define WATCHER_DRAIN_QUIET_SECS 1.0
#define WATCHER_HEARTBEAT_SECS 1.0
/* A draining shard goes on holding the acks of inserts the rate limiter holds for this long
 * after the STOP file appears: the actors notice the file within a poll (0.2 s), and acks
 * released before they have would let them step unthrottled, tens of thousands of frames past
 * the budget. After it, the acks let the actors' last batches in. */
#define WATCHER_RELEASE_SECS 1.0

typedef struct watcher {
    const char *run_dir;
    volatile sig_atomic_t *stop; /* the process's stop flag (cluster/stop.h) */
    bool drain;                  /* shards: serve until the other ranks are done */
    int drain_actors;            /* actors among them */
    int drain_learners;          /* learners */
    const char *role;            /* cluster_role_name of the rank, for its heartbeat */
    uint32_t index;
    volatile sig_atomic_t *asked; /* NULL, or a signal's request to stop (shards,
                                   * cluster_stop_asked_on_signals): written as the STOP file */
    monitor *mon;                /* NULL, or progress and budget (not owned) */
    liveness *live;              /* NULL, or the other ranks' liveness (not owned) */
    double period;               /* seconds between monitor ticks */
    volatile sig_atomic_t draining; /* set WATCHER_RELEASE_SECS after the stop request; the
                                     * shard stops holding acks */
    volatile sig_atomic_t quit;     /* set by watcher_join: the thread ends */
    pthread_t thread;
    bool started;
} watcher;

/* Starts the thread; w must stay in place until watcher_join. Without a thread (creation
 * failed) the role still stops on signals. */
void watcher_start(watcher *w);

/* Sets *w->stop (the role has returned) and waits for the thread. */
void watcher_join(watcher *w);

#endif
