/* Evaluation results on disk: RUN_DIR/eval.csv (one row per evaluated checkpoint, for
 * spreadsheets and plotting scripts) and RUN_DIR/eval.jsonl (one JSON object per checkpoint
 * with every episode's return and, for bootstrapped networks, each head's). eval.jsonl is the
 * record: the watcher rebuilds its history from it on restart, so a checkpoint whose line is
 * there is never evaluated again. Lines are appended whole with one write(2) on an O_APPEND
 * descriptor and fsync'ed; a line cut short by a crash is skipped on load (with a warning)
 * and a newline is put after it before the next append, so one bad line never spoils the next.
 *
 *     evaluator_history h; evaluator_history_init(&h);
 *     evaluator_history_load(&h, "runs/x/eval.jsonl", &err);   // a missing file is empty
 *     evaluator_results_append(run_dir, &rec, &result, &err);   // both files, header once
 */
#ifndef SHOAL_EVALUATOR_RESULTS_H
#define SHOAL_EVALUATOR_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "evaluator/evaluate.h"

#define EVALUATOR_CSV_HEADER "step,frames,wall_seconds,episodes,mean,std,min,max\n"

/* One evaluated checkpoint: a row of eval.csv and the head of its eval.jsonl line. */
typedef struct evaluator_record {
    uint64_t step, frames;
    double wall_seconds; /* when the checkpoint was written: its mtime, Unix seconds */
    size_t episodes;
    double mean, std, min, max;
} evaluator_record;

/* The context of a JSON line besides the numbers of the result. */
typedef struct evaluator_json_info {
    const char *checkpoint; /* file name as given (the watcher: "step-<N>.ckpt") */
    const char *env_name;
    double epsilon;
} evaluator_json_info;

/* The record of a result: step, frames, episodes and the statistics; wall_seconds as given. */
evaluator_record evaluator_record_of(const evaluator_result *r, double wall_seconds);

/* Writes the result as one JSON object and a newline: step, frames, wall_seconds, checkpoint,
 * env, epsilon, episodes, mean, std, min, max, eval_seconds, env_steps, returns, heads, and
 * when the heads played their own episodes head_episodes, head_means, head_stds and
 * head_returns (one array per head). EIO on a write error. */
int evaluator_json_write(FILE *out, const evaluator_json_info *info, const evaluator_result *r,
                         double wall_seconds, shoal_err *err);

/* Writes rec as one eval.csv row (columns of EVALUATOR_CSV_HEADER). EIO on a write error. */
int evaluator_csv_write(FILE *out, const evaluator_record *rec, shoal_err *err);

/* Appends the JSON line to RUN_DIR/eval.jsonl, then the row to RUN_DIR/eval.csv (writing the
 * header first when the file is new or empty). EIO naming the file. */
int evaluator_results_append(const char *run_dir, const evaluator_json_info *info,
                             const evaluator_result *r, double wall_seconds, shoal_err *err);

/* Records in the order they were evaluated. _init/_fini: a struct the caller holds. */
typedef struct evaluator_history {
    evaluator_record *rows;
    size_t n, cap;
} evaluator_history;

void evaluator_history_init(evaluator_history *h);
void evaluator_history_fini(evaluator_history *h);

/* Appends rec. ENOMEM. */
int evaluator_history_add(evaluator_history *h, const evaluator_record *rec, shoal_err *err);

/* Whether a record for step exists. */
bool evaluator_history_has(const evaluator_history *h, uint64_t step);

/* Appends every record of an eval.jsonl file. A missing file adds nothing; a line without the
 * fields step, frames, wall_seconds, episodes, mean, std, min and max is skipped and counted
 * in *n_bad (may be NULL). EIO (unreadable), ENOMEM. */
int evaluator_history_load(evaluator_history *h, const char *path, size_t *n_bad, shoal_err *err);

/* Parses one eval.jsonl line into rec. EINVAL naming the first missing field. */
int evaluator_record_parse(const char *line, evaluator_record *rec, shoal_err *err);

#endif
