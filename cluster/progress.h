/* The progress line of `shoal train`: one line every few seconds with elapsed time, frames and
 * frames/s, learner updates/s, replay fill per shard, demo share served, actors alive, the
 * params version the actors act with, DAgger's labels (when any), and the last evaluation. Gathering (shard Stats, the
 * tails of metrics.csv and eval.csv) is separate from formatting, so the format is testable.
 *
 *     progress_snapshot s;  progress_gather(&mon, &s, &err);
 *     char line[512];       progress_format(&s, line, sizeof line);
 */
#ifndef SHOAL_CLUSTER_PROGRESS_H
#define SHOAL_CLUSTER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PROGRESS_MAX_SHARDS 16

typedef struct progress_snapshot {
    double elapsed_s;
    uint64_t frames;
    double frames_per_s;    /* since the previous snapshot; < 0 unknown */
    double updates_per_s;   /* learner; < 0 unknown */
    uint64_t learner_step;
    double learner_quiet_s; /* > 0: no new learner metrics for this long (no rate shown) */
    size_t n_shards;        /* shards that answered */
    size_t n_shards_total;
    double fill[PROGRESS_MAX_SHARDS]; /* size / capacity per shard */
    double demo_share;      /* demo transitions served / transitions served; < 0 unknown */
    uint32_t actors_alive;  /* seen by a shard in the last few seconds */
    uint32_t actors_total;  /* ever seen */
    uint64_t params_min, params_max; /* params versions the alive actors act with */
    bool have_eval;
    uint64_t eval_step;
    double eval_mean, eval_std;
    /* DAgger (actor.label): labels stored by the shards; the rest since the previous snapshot
     * (cumulative for the first): labels/s (< 0 unknown), the expert's µs per label and the
     * share of labelled steps the expert drove. Shown only when labels > 0. */
    uint64_t labels;
    double labels_per_s, label_us, expert_share;
} progress_snapshot;

/* Writes the one-line summary (no newline) into line. */
void progress_format(const progress_snapshot *s, char *line, size_t cap);

/* Reads the last line of the CSV file at path and the value of column `name` (by the header).
 * ENOTFOUND when the file, a data row or the column is missing. */
int progress_csv_last(const char *path, const char *name, double *value, shoal_err *err);

#endif
