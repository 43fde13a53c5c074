/* The run monitor behind the progress line and the run budget. It reads RUN_DIR/endpoints.json
 * once the roles have written it (and again when it is rewritten), asks every shard for its Stats, reads the last rows of
 * metrics.csv (learner) and eval.csv (evaluator), prints the progress line, and reports when
 * [run] max_frames or max_seconds is reached. It runs in the `shoal train` launcher on this
 * machine, or in world rank 0 when the job was started with your own mpirun.
 *
 *     monitor *m = monitor_new(run_dir, cfg, isatty(1), &err);
 *     while (!stop) { monitor_tick(m, &over_budget); sleep(progress_secs); }
 */
#ifndef SHOAL_CLUSTER_MONITOR_H
#define SHOAL_CLUSTER_MONITOR_H

#include <stdbool.h>

#include "cluster/progress.h"
#include "common/config.h"
#include "common/err.h"

typedef struct monitor monitor;

/* A monitor of the run in run_dir (borrowed string, must outlive m). tty: overwrite one line
 * with '\r' instead of printing a line each tick. NULL with ENOMEM. */
monitor *monitor_new(const char *run_dir, const config *cfg, bool tty, shoal_err *err);

/* Frees m (ending a TTY line with a newline). NULL is fine. */
void monitor_free(monitor *m);

/* Gathers a snapshot, prints the progress line to stdout, and sets *over_budget when the run
 * has reached max_frames or max_seconds. Unreachable shards or missing files show as dashes,
 * never as an error. */
void monitor_tick(monitor *m, bool *over_budget);

/* Ends an open TTY progress line with a newline, so that other lines go below it; NULL is
 * fine. */
void monitor_end_line(monitor *m);

/* The budget the last tick found reached: "run.max_frames" (checked first, the run's intended
 * budget) or "run.max_seconds" (a time cap), or NULL. A static string. */
const char *monitor_budget_reached(const monitor *m);

/* The last snapshot gathered. */
const progress_snapshot *monitor_last(const monitor *m);

#endif
