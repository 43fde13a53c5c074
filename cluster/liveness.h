/* Liveness of the ranks of a `shoal train` run, read from the run folder so that it works the
 * same for ranks on this machine and on others (docs/cluster.md, Supervision). For each rank it
 * looks, in this order, at:
 *   log/<role>-<i>.failed  the role reported an error (its reason);
 *   log/<role>-<i>.died    the rank ended without finishing, reported by its guardian
 *                          (cluster/guardian.h) with the cause: "killed by signal 9 (Killed)";
 *   log/<role>-<i>.done    the role finished: nothing more to watch;
 *   log/<role>-<i>.alive   the heartbeat ("HOST PID"): a rank on this machine whose pid is gone
 *                          without a .died within LIVENESS_REPORT_GRACE_SECS (its guardian died
 *                          too), or any rank whose heartbeat has not changed for silent_secs of
 *                          this process's clock (so clocks of other machines do not matter), is
 *                          lost.
 * Each finding is printed once, as one line naming the rank, e.g.
 *   shoal train: replay shard 0 (node3, pid 1234) died: killed by signal 9 (Killed)
 *   shoal train: actor 1 (node5, pid 99) stopped answering: no heartbeat for 6 s; the run goes on
 * The caller decides what to do: the launcher stops the run when a shard, learner or evaluator
 * is lost or failed, and tolerates actors.
 *
 *     liveness *l = liveness_new(run_dir, counts, LIVENESS_SILENT_SECS, &err);
 *     liveness_news news;
 *     liveness_check(l, stderr, &news);       // every half second
 *     if (news.essential_lost) ... stop the run ...
 */
#ifndef SHOAL_CLUSTER_LIVENESS_H
#define SHOAL_CLUSTER_LIVENESS_H

#include <stdint.h>
#include <stdio.h>

#include "cluster/layout.h"
#include "common/err.h"

/* A heartbeat unchanged this long means the rank stopped answering (its watcher beats every
 * second). */
#define LIVENESS_SILENT_SECS 6.0
/* How long a vanished local pid may wait for its guardian's report (which carries the cause). */
#define LIVENESS_REPORT_GRACE_SECS 1.5

typedef struct liveness liveness;

/* What one check (or, from liveness_totals, every check so far) found. */
typedef struct liveness_news {
    uint32_t essential_lost;   /* shards, learners, evaluators that died or stopped answering */
    uint32_t essential_failed; /* ... that reported an error */
    uint32_t actors_lost;
    uint32_t actors_failed;
} liveness_news;

/* Watches the ranks of run_dir (borrowed, must outlive l): counts[role] ranks of each
 * cluster_role. NULL with ENOMEM. */
liveness *liveness_new(const char *run_dir, const uint32_t counts[4], double silent_secs,
                       shoal_err *err);

void liveness_free(liveness *l);

/* Looks at every rank still watched, prints one line on out for each new finding, and fills
 * news with what this check found. */
void liveness_check(liveness *l, FILE *out, liveness_news *news);

/* Everything found since liveness_new. */
void liveness_totals(const liveness *l, liveness_news *totals);

#endif
