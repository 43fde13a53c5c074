/* The stop flag of a role's process: SIGINT and SIGTERM set it, and the role's run loop
 * (replay_server_run, actor_run, ...) returns after flushing once it sees it. Handlers are
 * installed without SA_RESTART, so a blocking zmq_poll returns at once. One flag per process,
 * because signals are per process.
 *
 *     volatile sig_atomic_t *stop = cluster_stop_on_signals();
 *     actor_run(a, stop, &err);
 */
#ifndef SHOAL_CLUSTER_STOP_H
#define SHOAL_CLUSTER_STOP_H

#include <signal.h>

/* Installs the SIGINT and SIGTERM handlers and returns the flag they set. */
volatile sig_atomic_t *cluster_stop_on_signals(void);

/* For a rank that must not stop the moment a signal comes (a replay shard of shoal train
 * drains first, cluster/watcher.h): the handlers set the returned flag instead, which the
 * rank's watcher turns into the run's STOP file. Under Slurm every process of a job gets
 * SIGTERM at once (scancel, requeue, time limit); a shard that stopped at once lost the
 * actors' last batches. cluster_stop_on_signals() installs the direct handlers again. */
volatile sig_atomic_t *cluster_stop_asked_on_signals(void);

#endif
