/* evaluator/watch.h: each checkpoint evaluated once, newest first; a restart resumes from
 * eval.jsonl; bad files skipped with one warning and retried when they change; the run loop
 * stops on request; the final pass after a stop evaluates what the stop left, within its bound.
 * Chain with two short episodes keeps every evaluation in milliseconds. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "env/env_config.h"
#include "evaluator/watch.h"
#include "nn/paramfile.h"
#include "tb/reader.h"
#include "evaluator_fixtures.h"
#include "obs_fixtures.h"

static char dir[64];
static char ckpt_dir[128];

static void make_dir(void)
{
    fx_dir_make(dir, "shoal-evaluator-watch");
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoints", dir);
    cr_assert_eq(mkdir(ckpt_dir, 0755), 0);
}

static void remove_dir(void)
{
    fx_dir_remove(dir);
}

TestSuite(evaluator_watch, .init = make_dir, .fini = remove_dir);

static evaluator_config watch_config(evaluator_catch_up catch_up)
{
    evaluator_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.run_dir, dir);
    c.poll_secs = 0.05;
    c.catch_up = catch_up;
    strcpy(c.player.env_name, "chain");
    env_options_default(&c.player.env);
    shoal_err err = {0};
    cr_assert_eq(env_options_set_param(&c.player.env, "length", 10, &err), SHOAL_OK);
    c.player.facts = fx_env_facts("chain", &c.player.env);
    c.player.episodes = 2;
    c.player.epsilon = 0;
    c.player.seed = 1;
    c.player.n_envs = 2;
    return c;
}

static evaluator *make_from(const evaluator_config *c)
{
    shoal_err err = {0};
    evaluator *e = evaluator_new(c, &err);
    cr_assert_not_null(e, "%s", err.msg);
    return e;
}

static evaluator *make(evaluator_catch_up catch_up)
{
    evaluator_config c = watch_config(catch_up);
    shoal_err err = {0};
    evaluator *e = evaluator_new(&c, &err);
    cr_assert_not_null(e, "%s", err.msg);
    return e;
}

/* Saves a Chain network as checkpoints/step-<step>.ckpt. Networks prefer "right" when
 * step % 200 == 0 (return 10) and "left" otherwise (return 0.017), so the returns tell
 * which file was evaluated. */
static void save_checkpoint(uint64_t step)
{
    const int prefer[] = {step % 200 == 0 ? 1 : 0};
    nn_qnet *net = fx_chain_net(1, prefer, 2);
    char path[256];
    shoal_err err = {0};
    snprintf(path, sizeof path, "%s/step-%llu.ckpt", ckpt_dir, (unsigned long long)step);
    cr_assert_eq(nn_paramfile_save(path, net, NULL, step, step * 4, &err), SHOAL_OK, "%s",
                 err.msg);
    nn_qnet_free(net);
}

static size_t poll_once(evaluator *e)
{
    size_t n = 99;
    shoal_err err = {0};
    cr_assert_eq(evaluator_poll(e, NULL, &n, &err), SHOAL_OK, "%s", err.msg);
    return n;
}

/* Sends log lines to dir/log.txt so a test can read the warnings. */
static void log_to_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/log.txt", dir);
    cr_assert_eq(log_setup("evaluator", 0, LOG_INFO, path, NULL), SHOAL_OK);
}

Test(evaluator_watch, each_checkpoint_is_evaluated_once_newest_first)
{
    save_checkpoint(100);
    save_checkpoint(200);
    save_checkpoint(300);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 3);
    const evaluator_history *h = evaluator_history_of(e);
    cr_assert_eq(h->n, 3);
    cr_assert_eq(h->rows[0].step, 300, "the newest first");
    cr_assert_eq(h->rows[1].step, 200);
    cr_assert_eq(h->rows[2].step, 100);
    cr_assert_eq(h->rows[1].frames, 800);
    cr_assert_float_eq(h->rows[1].mean, 10.0, 1e-5, "step 200 goes right");
    cr_assert_float_eq(h->rows[0].mean, 0.017, 1e-6, "step 300 goes left");
    cr_assert_eq(poll_once(e), 0, "nothing is evaluated twice");

    char *jsonl = fx_read_text(dir, "eval.jsonl");
    cr_assert_eq(fx_count(jsonl, "\n"), 3);
    cr_assert(strstr(jsonl, "{\"step\":300,\"frames\":1200,") == jsonl, "%s", jsonl);
    cr_assert(strstr(jsonl, "\"checkpoint\":\"step-200.ckpt\",\"env\":\"chain\""), "%s", jsonl);
    free(jsonl);
    char *csv = fx_read_text(dir, "eval.csv");
    cr_assert_eq(fx_count(csv, "\n"), 4, "header and three rows: %s", csv);
    cr_assert(strstr(csv, "\n200,800,"), "%s", csv);
    free(csv);
    char *svg = fx_read_text(dir, "eval.svg");
    cr_assert(strstr(svg, "<polyline class=\"mean\""), "%s", svg);
    cr_assert(strstr(svg, "3 evaluations; newest: step 300"), "%s", svg);
    free(svg);
    evaluator_free(e);
}

/* The steps of the eval/mean values in the event files of dir/tb/evaluator, in TensorBoard's
 * order. */
typedef struct tb_steps {
    size_t n;
    int64_t step[16];
} tb_steps;

static int take_mean(const tb_value *v, void *arg)
{
    tb_steps *s = arg;
    if (strcmp(v->tag, "eval/mean") == 0 && s->n < 16) {
        s->step[s->n++] = v->step;
    }
    return 0;
}

static tb_steps tb_eval_steps(void)
{
    char folder[128];
    snprintf(folder, sizeof folder, "%s/tb/evaluator", dir);
    tb_steps s = {0};
    shoal_err err = {0};
    cr_assert_eq(tb_dir_each(folder, take_mean, &s, NULL, &err), SHOAL_OK, "%s", err.msg);
    return s;
}

Test(evaluator_watch, tensorboard_gets_each_result_newer_than_all_before_and_no_older_one)
{
    save_checkpoint(100);
    save_checkpoint(200);
    save_checkpoint(300);
    evaluator_config c = watch_config(EVALUATOR_CATCH_UP_ALL);
    snprintf(c.tb_dir, sizeof c.tb_dir, "%s/tb/evaluator", dir);
    evaluator *e = make_from(&c);
    cr_assert_eq(poll_once(e), 3);
    save_checkpoint(400);
    cr_assert_eq(poll_once(e), 1);
    evaluator_free(e);
    tb_steps s = tb_eval_steps();
    cr_assert_eq(s.n, 2, "300 (first), then 400; 200 and 100 went back");
    cr_assert_eq(s.step[0], 300);
    cr_assert_eq(s.step[1], 400);
    /* a restarted evaluator starts a new file and goes on above what eval.jsonl holds */
    sleep(1); /* the file name carries the second: the new one sorts after */
    save_checkpoint(50);
    save_checkpoint(500);
    e = make_from(&c);
    cr_assert_eq(poll_once(e), 2);
    evaluator_free(e);
    s = tb_eval_steps();
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.step[2], 500);
}

Test(evaluator_watch, a_restarted_evaluator_resumes_from_eval_jsonl)
{
    save_checkpoint(100);
    save_checkpoint(200);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 2);
    evaluator_free(e);

    e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(evaluator_history_of(e)->n, 2, "history read back");
    cr_assert_eq(poll_once(e), 0, "nothing evaluated again after a restart");
    save_checkpoint(400);
    cr_assert_eq(poll_once(e), 1);
    cr_assert_eq(evaluator_history_of(e)->rows[2].step, 400);
    evaluator_free(e);
    char *jsonl = fx_read_text(dir, "eval.jsonl");
    cr_assert_eq(fx_count(jsonl, "\n"), 3);
    free(jsonl);
    char *svg = fx_read_text(dir, "eval.svg");
    cr_assert(strstr(svg, "3 evaluations"), "the curve has the old points too: %s", svg);
    free(svg);
}

Test(evaluator_watch, catch_up_newest_skips_checkpoints_older_than_the_newest_evaluated)
{
    save_checkpoint(300);
    evaluator *e = make(EVALUATOR_CATCH_UP_NEWEST);
    cr_assert_eq(poll_once(e), 1);
    save_checkpoint(100);
    save_checkpoint(500);
    cr_assert_eq(poll_once(e), 1);
    cr_assert_eq(evaluator_history_of(e)->rows[1].step, 500);
    cr_assert_eq(poll_once(e), 0, "step 100 stays skipped");
    evaluator_free(e);

    e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 1, "catch_up = all picks step 100 up after a restart");
    evaluator_free(e);
}

Test(evaluator_watch, corrupt_and_partial_checkpoints_are_skipped_with_one_warning)
{
    log_to_file();
    save_checkpoint(100);
    save_checkpoint(200);
    char good[256], bad[256], tmp[256], other[256];
    snprintf(good, sizeof good, "%s/step-200.ckpt", ckpt_dir);
    snprintf(bad, sizeof bad, "%s/step-250.ckpt", ckpt_dir);
    snprintf(tmp, sizeof tmp, "%s/step-260.ckpt.tmp.Ab12Cd", ckpt_dir);
    snprintf(other, sizeof other, "%s/notes.txt", ckpt_dir);
    uint8_t *data;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(good, 1 << 20, &data, &n, &err), SHOAL_OK);
    cr_assert_eq(atomic_write_file(bad, data, n - 10, &err), SHOAL_OK); /* truncated */
    cr_assert_eq(atomic_write_file(tmp, data, n / 2, &err), SHOAL_OK);  /* a write in progress */
    cr_assert_eq(atomic_write_file(other, "hello", 5, &err), SHOAL_OK);

    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 2, "the two good checkpoints");
    cr_assert_eq(evaluator_n_skipped(e), 1);
    cr_assert_eq(poll_once(e), 0);
    cr_assert_eq(evaluator_n_skipped(e), 1, "an unchanged bad file is not tried again");
    char *log = fx_read_text(dir, "log.txt");
    cr_assert_eq(fx_count(log, "skipping checkpoint"), 1, "one warning:\n%s", log);
    cr_assert(strstr(log, "step-250.ckpt") && strstr(log, "truncated"), "%s", log);
    cr_assert_null(strstr(log, "step-260"), "temporary files are not checkpoints:\n%s", log);
    free(log);

    /* the file is completed (rewritten whole): now it is evaluated */
    cr_assert_eq(atomic_write_file(bad, data, n, &err), SHOAL_OK);
    free(data);
    cr_assert_eq(poll_once(e), 1);
    const evaluator_history *h = evaluator_history_of(e);
    cr_assert_eq(h->rows[h->n - 1].step, 250, "recorded under the file's name");
    evaluator_free(e);
    log_close();
}

Test(evaluator_watch, garbage_in_place_of_a_checkpoint_never_stops_the_evaluator)
{
    log_to_file();
    char path[256];
    snprintf(path, sizeof path, "%s/step-7.ckpt", ckpt_dir);
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, "SHOALNET garbage", 16, &err), SHOAL_OK);
    snprintf(path, sizeof path, "%s/step-8.ckpt", ckpt_dir);
    cr_assert_eq(atomic_write_file(path, "", 0, &err), SHOAL_OK);
    /* a MinAtar network does not fit the Chain run */
    nn_qnet_config qc = nn_qnet_config_minatar(4, 3);
    nn_qnet *net = nn_qnet_new(&qc, &err);
    snprintf(path, sizeof path, "%s/step-9.ckpt", ckpt_dir);
    cr_assert_eq(nn_paramfile_save(path, net, NULL, 9, 36, &err), SHOAL_OK);
    nn_qnet_free(net);
    save_checkpoint(10);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 1);
    cr_assert_eq(evaluator_n_skipped(e), 3);
    char *log = fx_read_text(dir, "log.txt");
    cr_assert(strstr(log, "step-9.ckpt") && strstr(log, "chain"), "%s", log);
    free(log);
    evaluator_free(e);
    log_close();
}

Test(evaluator_watch, a_cut_short_eval_jsonl_line_is_skipped_with_a_warning_on_restart)
{
    log_to_file();
    save_checkpoint(100);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 1);
    evaluator_free(e);
    char path[256];
    snprintf(path, sizeof path, "%s/eval.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"step\":200,\"fra", f);
    fclose(f);
    save_checkpoint(200);
    e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(evaluator_history_of(e)->n, 1);
    cr_assert_eq(poll_once(e), 1, "step 200 was never recorded whole: evaluated again");
    evaluator_free(e);
    e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(evaluator_history_of(e)->n, 2);
    evaluator_free(e);
    char *log = fx_read_text(dir, "log.txt");
    cr_assert(strstr(log, "skipped 1 line(s)"), "%s", log);
    free(log);
    log_close();
}

Test(evaluator_watch, a_run_without_checkpoints_yet_is_fine_and_a_missing_run_dir_is_not)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", ckpt_dir);
    cr_assert_eq(system(cmd), 0);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    cr_assert_eq(poll_once(e), 0);
    evaluator_free(e);

    evaluator_config c = watch_config(EVALUATOR_CATCH_UP_ALL);
    strcat(c.run_dir, "/nope");
    shoal_err err = {0};
    cr_assert_null(evaluator_new(&c, &err));
    cr_assert_eq(err.code, SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
}

typedef struct stopper {
    volatile sig_atomic_t *stop;
    uint32_t after_ms;
} stopper;

static void *stop_later(void *arg)
{
    stopper *s = arg;
    clock_sleep_ms(s->after_ms);
    save_checkpoint(600); /* arrives while the loop sleeps */
    clock_sleep_ms(s->after_ms);
    *s->stop = 1;
    return NULL;
}

Test(evaluator_watch, the_run_loop_picks_up_new_checkpoints_and_returns_soon_after_a_stop)
{
    save_checkpoint(100);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    volatile sig_atomic_t stop = 0;
    stopper s = {&stop, 300};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_later, &s), 0);
    uint64_t t0 = clock_now_ns();
    shoal_err err = {0};
    cr_assert_eq(evaluator_run(e, &stop, &err), SHOAL_OK, "%s", err.msg);
    double secs = clock_since_s(t0);
    pthread_join(t, NULL);
    /* A loop that missed the stop would poll on until the suite's timeout; the bound only
     * leaves room for a loaded machine's scheduling (3.6 s seen under ctest -j2 plus MPI). */
    cr_assert_lt(secs, 10.0, "stopped after %.2f s", secs);
    const evaluator_history *h = evaluator_history_of(e);
    cr_assert_eq(h->n, 2);
    cr_assert_eq(h->rows[1].step, 600);
    evaluator_free(e);
}

/* Plays the learner at a stop: after after_ms it writes checkpoint step, then says it is done
 * (*done) or sets the stop flag (*stop), whichever is given. */
typedef struct last_writer {
    uint32_t after_ms;
    uint64_t step;
    volatile sig_atomic_t *done, *stop;
} last_writer;

static void *write_last(void *arg)
{
    last_writer *w = arg;
    clock_sleep_ms(w->after_ms);
    save_checkpoint(w->step);
    if (w->done) {
        *w->done = 1;
    }
    if (w->stop) {
        *w->stop = 1;
    }
    return NULL;
}

static bool flag_set(void *arg)
{
    return *(volatile sig_atomic_t *)arg != 0;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static size_t finish(evaluator *e, const evaluator_final *f, double *secs)
{
    size_t n = 99;
    shoal_err err = {0};
    uint64_t t0 = clock_now_ns();
    cr_assert_eq(evaluator_finish(e, f, &n, &err), SHOAL_OK, "%s", err.msg);
    *secs = clock_since_s(t0);
    return n;
}

Test(evaluator_watch, a_checkpoint_written_just_before_the_stop_is_evaluated_by_the_final_pass)
{
    save_checkpoint(100);
    evaluator_config c = watch_config(EVALUATOR_CATCH_UP_ALL);
    c.poll_secs = 60; /* after the first scan the loop only naps until the stop */
    evaluator *e = make_from(&c);
    volatile sig_atomic_t stop = 0;
    last_writer w = {.after_ms = 300, .step = 600, .stop = &stop};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, write_last, &w), 0);
    shoal_err err = {0};
    cr_assert_eq(evaluator_run(e, &stop, &err), SHOAL_OK, "%s", err.msg);
    pthread_join(t, NULL);
    cr_assert_eq(evaluator_history_of(e)->n, 1, "the run loop saw step 600 only with the stop");

    evaluator_final f = {.secs = 30}; /* a pass that ran to its bound would take 30 s */
    double secs;
    cr_assert_eq(finish(e, &f, &secs), 1);
    cr_assert_lt(secs, 10.0, "took %.2f s", secs);
    const evaluator_history *h = evaluator_history_of(e);
    cr_assert_eq(h->n, 2);
    cr_assert_eq(h->rows[1].step, 600);
    cr_assert_float_eq(h->rows[1].mean, 10.0, 1e-5);
    evaluator_free(e);
    e = make(EVALUATOR_CATCH_UP_ALL);
    h = evaluator_history_of(e);
    cr_assert(h->n == 2 && h->rows[1].step == 600, "eval.jsonl does not hold step 600");
    evaluator_free(e);
}

Test(evaluator_watch, the_final_pass_waits_for_the_last_checkpoint_and_goes_newest_first)
{
    save_checkpoint(100);
    save_checkpoint(200);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    volatile sig_atomic_t learner_done = 0;
    last_writer w = {.after_ms = 300, .step = 800, .done = &learner_done};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, write_last, &w), 0);
    /* Waiting on after the checkpoint came would take wait_secs (20 s); the bound is far
     * below that and far above a loaded machine's delays (3.6 s seen with a bound of 2 s). */
    evaluator_final f = {.secs = 30, .wait_secs = 20, .ready = flag_set,
                         .arg = (void *)&learner_done};
    double secs;
    size_t n = finish(e, &f, &secs);
    pthread_join(t, NULL);
    cr_assert_eq(n, 3);
    cr_assert_geq(secs, 0.25, "it did not wait for the last checkpoint (%.2f s)", secs);
    cr_assert_lt(secs, 10.0, "it waited on after the checkpoint came (%.2f s)", secs);
    const evaluator_history *h = evaluator_history_of(e);
    cr_assert_eq(h->rows[0].step, 800, "the last checkpoint first");
    cr_assert_eq(h->rows[1].step, 200);
    cr_assert_eq(h->rows[2].step, 100);
    evaluator_free(e);
}

Test(evaluator_watch, a_last_checkpoint_that_never_comes_delays_the_final_pass_only_its_wait)
{
    log_to_file();
    save_checkpoint(100);
    evaluator *e = make(EVALUATOR_CATCH_UP_ALL);
    evaluator_final f = {.secs = 30, .wait_secs = 0.3, .ready = never};
    double secs;
    cr_assert_eq(finish(e, &f, &secs), 1, "what is there is evaluated");
    cr_assert_geq(secs, 0.3);
    cr_assert_lt(secs, 10.0, "took %.2f s (the pass's own bound is 30 s)", secs);
    evaluator_free(e);
    char *log = fx_read_text(dir, "log.txt");
    cr_assert(strstr(log, "last checkpoint was not written within 0.3 s"), "%s", log);
    cr_assert(strstr(log, "nothing left to evaluate (1 evaluated"), "%s", log);
    free(log);
    log_close();
}

Test(evaluator_watch, the_final_pass_keeps_to_its_bound_and_names_what_it_left, .timeout = 120)
{
    log_to_file();
    /* Chain of length 100, always right: 100,000 episodes of 108 steps, seconds per
     * checkpoint (about 0.4 s for 100,000 episodes at length 10) */
    evaluator_config c = watch_config(EVALUATOR_CATCH_UP_ALL);
    shoal_err err = {0};
    cr_assert_eq(env_options_set_param(&c.player.env, "length", 100, &err), SHOAL_OK);
    c.player.facts = fx_env_facts("chain", &c.player.env);
    c.player.episodes = EVALUATOR_MAX_EPISODES;
    c.player.n_envs = 1;
    const int right[] = {1};
    nn_qnet *net = fx_chain_net_of_length(100, 1, right, 1);
    for (uint64_t step = 100; step <= 200; step += 100) {
        char path[256];
        snprintf(path, sizeof path, "%s/step-%llu.ckpt", ckpt_dir, (unsigned long long)step);
        cr_assert_eq(nn_paramfile_save(path, net, NULL, step, step * 4, &err), SHOAL_OK, "%s",
                     err.msg);
    }
    nn_qnet_free(net);
    evaluator *e = make_from(&c);
    evaluator_final f = {.secs = 0.3};
    double secs;
    cr_assert_eq(finish(e, &f, &secs), 0, "the evaluation was cut at the bound");
    cr_assert_lt(secs, 1.5, "took %.2f s for a bound of 0.3 s", secs);
    cr_assert_eq(evaluator_history_of(e)->n, 0, "a cut evaluation is not recorded");
    evaluator_free(e);
    char *log = fx_read_text(dir, "log.txt");
    cr_assert(strstr(log, "2 checkpoint(s) not evaluated within the 0.3 s") &&
              strstr(log, "the newest: step 200") && strstr(log, "shoal evaluate --run-dir"),
              "the log does not say what was left:\n%s", log);
    free(log);
    log_close();
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "%s/eval.jsonl", dir);
    cr_assert(stat(path, &st) != 0 || st.st_size == 0, "nothing was recorded");
}

Test(evaluator_watch, config_from_reads_the_watcher_keys)
{
    static const config_key run_seed_keys[] = {
        {"run", "seed", CONFIG_INT, "1", 0, 4294967295.0, NULL, "seed"},
        CONFIG_KEY_END,
    };
    const config_key *const tables[] = {run_seed_keys, env_config_keys, obs_facts_config_keys,
                                        evaluator_config_keys};
    shoal_err err = {0};
    config *cfg = config_new(tables, 4, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    fx_derive_facts(cfg);
    cr_assert_eq(config_set(cfg, "evaluator.catch_up=newest", "--set", &err), SHOAL_OK);
    cr_assert_eq(config_set(cfg, "evaluator.poll_secs=0.5", "--set", &err), SHOAL_OK);
    evaluator_config ec;
    cr_assert_eq(evaluator_config_from(cfg, dir, &ec, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(ec.catch_up, EVALUATOR_CATCH_UP_NEWEST);
    cr_assert_float_eq(ec.poll_secs, 0.5, 1e-12);
    cr_assert_str_eq(ec.run_dir, dir);
    cr_assert_str_eq(ec.player.env_name, "minatar/breakout");
    cr_assert_eq(config_set(cfg, "evaluator.poll_secs=0", "--set", &err), SHOAL_EINVAL);
    config_free(cfg);
}
