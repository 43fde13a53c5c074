/* evaluator/results.h: the eval.jsonl line and eval.csv row formats, appending (header once,
 * a cut-short line repaired), and rebuilding the history from eval.jsonl. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "evaluator/results.h"
#include "evaluator_fixtures.h"

static char dir[64];

static void make_dir(void)
{
    fx_dir_make(dir, "shoal-evaluator-results");
}

static void remove_dir(void)
{
    fx_dir_remove(dir);
}

TestSuite(evaluator_results, .init = make_dir, .fini = remove_dir);

static const double returns[] = {1, 2, 3.5};
static const double head_returns[] = {1, 1, 2, 2}; /* 2 heads x 2 episodes */

static evaluator_result result(uint64_t step, size_t head_episodes)
{
    evaluator_result r;
    memset(&r, 0, sizeof r);
    r.step = step;
    r.frames = step * 4;
    r.episodes = 3;
    r.mean = 6.5 / 3;
    r.std = 1.0;
    r.min = 1;
    r.max = 3.5;
    r.returns = returns;
    r.n_heads = 2;
    r.head_episodes = head_episodes;
    r.head_mean[0] = 1;
    r.head_mean[1] = 2;
    r.head_returns = head_returns;
    r.env_steps = 42;
    r.seconds = 0.25;
    return r;
}

Test(evaluator_results, a_json_line_holds_every_field_and_parses_back)
{
    evaluator_result r = result(1000, 2);
    evaluator_json_info info = {"step-1000.ckpt", "odd \"name\"", 0.001};
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    shoal_err err = {0};
    cr_assert_eq(evaluator_json_write(mem, &info, &r, 1700000000.5, &err), SHOAL_OK);
    fclose(mem);
    cr_assert_eq(fx_count(text, "\n"), 1, "one line: %s", text);
    cr_assert(strstr(text, "\"returns\":[1,2,3.5]"), "%s", text);
    cr_assert(strstr(text, "\"heads\":2,\"head_episodes\":2,\"head_means\":[1,2]"), "%s", text);
    cr_assert(strstr(text, "\"head_returns\":[[1,1],[2,2]]"), "%s", text);
    cr_assert(strstr(text, "\"env\":\"odd \\\"name\\\"\""), "quotes escaped: %s", text);
    cr_assert(strstr(text, "\"checkpoint\":\"step-1000.ckpt\""), "%s", text);
    cr_assert(strstr(text, "\"epsilon\":0.001"), "%s", text);
    evaluator_record rec;
    cr_assert_eq(evaluator_record_parse(text, &rec, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(rec.step, 1000);
    cr_assert_eq(rec.frames, 4000);
    cr_assert_float_eq(rec.wall_seconds, 1700000000.5, 1e-3);
    cr_assert_eq(rec.episodes, 3);
    cr_assert_float_eq(rec.mean, 6.5 / 3, 1e-8);
    cr_assert_float_eq(rec.std, 1.0, 1e-9);
    cr_assert_float_eq(rec.min, 1.0, 1e-9);
    cr_assert_float_eq(rec.max, 3.5, 1e-9);
    free(text);
}

Test(evaluator_results, a_single_head_line_has_no_per_head_fields)
{
    evaluator_result r = result(5, 0);
    r.n_heads = 1;
    evaluator_json_info info = {"x.ckpt", "chain", 0};
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    cr_assert_eq(evaluator_json_write(mem, &info, &r, 1, NULL), SHOAL_OK);
    fclose(mem);
    cr_assert(strstr(text, "\"heads\":1}"), "%s", text);
    cr_assert_null(strstr(text, "head_means"), "%s", text);
    free(text);
}

Test(evaluator_results, records_missing_a_field_are_refused_naming_it)
{
    evaluator_record rec;
    shoal_err err = {0};
    cr_assert_eq(evaluator_record_parse("{\"step\":1,\"frames\":2}", &rec, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "wall_seconds"), "%s", err.msg);
    cr_assert_eq(evaluator_record_parse("{\"step\":-1}", &rec, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "\"step\""), "%s", err.msg);
    cr_assert_eq(evaluator_record_parse("{\"step\":9,\"frames\":1,\"wall_seconds\":0,\"episod",
                                        &rec, &err),
                 SHOAL_EINVAL, "a line cut short");
    cr_assert_eq(evaluator_record_parse("", &rec, &err), SHOAL_EINVAL);
}

Test(evaluator_results, appending_writes_the_csv_header_once_and_one_line_per_checkpoint)
{
    shoal_err err = {0};
    evaluator_json_info info = {"step-1.ckpt", "chain", 0.001};
    for (uint64_t s = 1; s <= 3; s++) {
        evaluator_result r = result(s * 10, 0);
        cr_assert_eq(evaluator_results_append(dir, &info, &r, 100.0 + (double)s, &err), SHOAL_OK,
                     "%s", err.msg);
    }
    char *csv = fx_read_text(dir, "eval.csv");
    cr_assert_eq(strncmp(csv, EVALUATOR_CSV_HEADER, strlen(EVALUATOR_CSV_HEADER)), 0, "%s", csv);
    cr_assert_eq(fx_count(csv, "step,"), 1, "header once: %s", csv);
    cr_assert_eq(fx_count(csv, "\n"), 4, "%s", csv);
    cr_assert(strstr(csv, "\n20,80,102.000,3,2.16666667,1,1,3.5\n"), "%s", csv);
    free(csv);
    char *jsonl = fx_read_text(dir, "eval.jsonl");
    cr_assert_eq(fx_count(jsonl, "\n"), 3, "%s", jsonl);
    cr_assert_eq(fx_count(jsonl, "{\"step\":"), 3, "%s", jsonl);
    free(jsonl);

    evaluator_history h;
    evaluator_history_init(&h);
    char path[128];
    snprintf(path, sizeof path, "%s/eval.jsonl", dir);
    size_t bad = 99;
    cr_assert_eq(evaluator_history_load(&h, path, &bad, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(h.n, 3);
    cr_assert_eq(bad, 0);
    cr_assert_eq(h.rows[2].step, 30);
    cr_assert_float_eq(h.rows[0].wall_seconds, 101.0, 1e-6);
    cr_assert(evaluator_history_has(&h, 20));
    cr_assert_not(evaluator_history_has(&h, 25));
    evaluator_history_fini(&h);
}

Test(evaluator_results, a_line_cut_short_by_a_crash_is_skipped_and_does_not_spoil_the_next)
{
    shoal_err err = {0};
    evaluator_json_info info = {"step-1.ckpt", "chain", 0.001};
    evaluator_result r = result(10, 0);
    cr_assert_eq(evaluator_results_append(dir, &info, &r, 1, &err), SHOAL_OK, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/eval.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"step\":20,\"frames\":80,\"wall_sec", f);
    fclose(f);
    r = result(30, 0);
    cr_assert_eq(evaluator_results_append(dir, &info, &r, 3, &err), SHOAL_OK, "%s", err.msg);
    evaluator_history h;
    evaluator_history_init(&h);
    size_t bad = 0;
    cr_assert_eq(evaluator_history_load(&h, path, &bad, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(h.n, 2);
    cr_assert_eq(bad, 1);
    cr_assert_eq(h.rows[0].step, 10);
    cr_assert_eq(h.rows[1].step, 30);
    evaluator_history_fini(&h);
}

Test(evaluator_results, loading_a_missing_file_gives_an_empty_history)
{
    evaluator_history h;
    evaluator_history_init(&h);
    shoal_err err = {0};
    size_t bad = 5;
    char path[128];
    snprintf(path, sizeof path, "%s/none.jsonl", dir);
    cr_assert_eq(evaluator_history_load(&h, path, &bad, &err), SHOAL_OK);
    cr_assert_eq(h.n, 0);
    cr_assert_eq(bad, 0);
    evaluator_history_fini(&h);
}

Test(evaluator_results, appending_into_a_missing_folder_is_an_io_error_naming_the_file)
{
    shoal_err err = {0};
    evaluator_json_info info = {"step-1.ckpt", "chain", 0.001};
    evaluator_result r = result(10, 0);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    cr_assert_eq(evaluator_results_append(missing, &info, &r, 1, &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "nope/eval.jsonl"), "%s", err.msg);
}
