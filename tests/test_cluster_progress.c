#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/progress.h"
#include "common/fileio.h"

Test(cluster_progress, the_line_shows_every_part_of_the_run)
{
    progress_snapshot s = {
        .elapsed_s = 3725, .frames = 1234567, .frames_per_s = 41200, .updates_per_s = 152,
        .learner_step = 5000, .n_shards = 2, .n_shards_total = 2, .fill = {0.45, 0.5},
        .demo_share = 0.25, .actors_alive = 5, .actors_total = 6, .params_min = 4900,
        .params_max = 5000, .have_eval = true, .eval_step = 4000, .eval_mean = 12.3,
        .eval_std = 4.1,
    };
    char line[512];
    progress_format(&s, line, sizeof line);
    cr_assert_str_eq(line, "01:02:05 frames 1.23M (41.2k/s) | learner step 5000, 152 upd/s | "
                           "replay 45% 50% | demo 25% | actors 5/6 params v4900-5000 | "
                           "eval 12.30 ± 4.10 @4000");
}

Test(cluster_progress, dagger_labels_show_their_rate_cost_and_expert_share)
{
    progress_snapshot s = {.frames = 5000, .frames_per_s = -1, .updates_per_s = -1,
                           .demo_share = -1, .n_shards = 1, .n_shards_total = 1, .fill = {0.1},
                           .labels = 12345, .labels_per_s = 450, .label_us = 1.25,
                           .expert_share = 0.5};
    char line[512];
    progress_format(&s, line, sizeof line);
    cr_assert_str_eq(line, "00:00:00 frames 5000 | learner - | replay 10% | actors 0/0 | "
                           "labels 12.3k (450/s) 1.2µs/label expert 50% | eval -");
    s.labels_per_s = -1;
    progress_format(&s, line, sizeof line);
    cr_assert(strstr(line, "| labels 12.3k 1.2µs/label expert 50% |"), "%s", line);
}

Test(cluster_progress, unknown_parts_show_as_dashes_and_missing_shards_are_named)
{
    progress_snapshot s = {.frames_per_s = -1, .updates_per_s = -1, .demo_share = -1,
                           .n_shards_total = 2};
    char line[512];
    progress_format(&s, line, sizeof line);
    cr_assert_str_eq(line, "00:00:00 frames 0 | learner - | replay - (0 of 2 answered) | "
                           "actors 0/0 | eval -");
    char tiny[8];
    progress_format(&s, tiny, sizeof tiny);
    cr_assert_eq(strlen(tiny), 7, "a small buffer is cut, not overrun");
}

Test(cluster_progress, a_silent_learner_shows_its_step_and_no_rate)
{
    progress_snapshot s = {.frames_per_s = -1, .updates_per_s = -1, .learner_step = 4283,
                           .learner_quiet_s = 12.4, .demo_share = -1, .n_shards_total = 1};
    char line[512];
    progress_format(&s, line, sizeof line);
    cr_assert_str_eq(line, "00:00:00 frames 0 | learner step 4283, silent 12 s | replay - (0 of "
                           "1 answered) | actors 0/0 | eval -");
}

Test(cluster_progress, csv_last_reads_a_column_of_the_last_complete_row)
{
    char path[] = "/tmp/shoal-progress-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "step,frames,mean\n1,100,0.5\n2,200,1.5\n3,30";  /* last row incomplete */
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    double v;
    shoal_err err = {0};
    cr_assert_eq(progress_csv_last(path, "mean", &v, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_float_eq(v, 1.5, 1e-12);
    cr_assert_eq(progress_csv_last(path, "frames", &v, &err), SHOAL_OK);
    cr_assert_float_eq(v, 200, 1e-12);
    cr_assert_eq(progress_csv_last(path, "nope", &v, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "nope") != NULL);
    unlink(path);
    cr_assert_eq(progress_csv_last(path, "mean", &v, &err), SHOAL_ENOTFOUND);
}
