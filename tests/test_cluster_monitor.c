#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster/monitor.h"
#include "cluster/rundir.h"
#include "common/endpoints.h"
#include "replay/client.h"
#include "replay_fixtures.h"

/* The keys monitor_new reads, as in cluster/schema.c. */
static const config_key keys[] = {
    {"run", "max_frames", CONFIG_INT, "0", 0, 9.2e18, NULL, "frames budget"},
    {"run", "max_seconds", CONFIG_FLOAT, "0", 0, 1e9, NULL, "time budget"},
    {"cluster", "replay_shards", CONFIG_INT, "1", 1, 64, NULL, "shards"},
    CONFIG_KEY_END,
};

static config *config_with(const char *max_frames)
{
    const config_key *tables[] = {keys};
    shoal_err err = {0};
    config *c = config_new(tables, 1, &err);
    cr_assert_not_null(c, "%s", err.msg);
    char set[64];
    snprintf(set, sizeof set, "run.max_frames=%s", max_frames);
    cr_assert_eq(config_set(c, set, "test", &err), SHOAL_OK, "%s", err.msg);
    return c;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[FILEIO_PATH_MAX];
    cr_assert_eq(rundir_path(path, sizeof path, dir, name, NULL), SHOAL_OK);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Removes the run folder and the files these tests put there. */
static void remove_run(const char *dir)
{
    const char *names[] = {"endpoints.json", "metrics.csv", "eval.csv"};
    char path[FILEIO_PATH_MAX];
    for (size_t i = 0; i < 3; i++) {
        rundir_path(path, sizeof path, dir, names[i], NULL);
        unlink(path);
    }
    rmdir(dir);
}

/* 40 transitions of actor 2 acting with params version 5 (frames 40), 8 demonstrations, and
 * one sampled batch of 8 with a quarter of demonstrations. */
static void feed(const char *ep)
{
    replay_client_options o = {.timeout_ms = 5000, .obs_bytes = FX_OB, .max_batch = 8};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch f;
    fx_batch_fill(&f, 2, 0, 40, 1.0f, false);
    f.b.env_steps = 40;
    f.b.params_version = 5;
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    fx_batch_fill(&f, 0, 1000, 8, 1.0f, true);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_sample_req req = {.batch_size = 8, .demo_fraction = 0.25, .beta = 0.4};
    const replay_sample *x;
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &x, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
}

Test(cluster_monitor, before_the_roles_start_it_shows_dashes_and_no_error,
     .init = cr_redirect_stdout)
{
    char dir[] = "/tmp/shoal-monitor-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    config *cfg = config_with("0");
    shoal_err err = {0};
    monitor *m = monitor_new(dir, cfg, false, &err);
    cr_assert_not_null(m, "%s", err.msg);
    bool over = true;
    monitor_tick(m, &over);
    cr_assert_not(over, "no budget set");
    cr_assert_null(monitor_budget_reached(m));
    const progress_snapshot *s = monitor_last(m);
    cr_assert_eq(s->n_shards, 0);
    cr_assert_eq(s->n_shards_total, 1);
    cr_assert_lt(s->frames_per_s, 0.0, "unknown");
    cr_assert_lt(s->updates_per_s, 0.0, "unknown");
    cr_assert_lt(s->demo_share, 0.0, "unknown");
    cr_assert_not(s->have_eval);
    monitor_free(m);
    config_free(cfg);
    remove_run(dir);
}

Test(cluster_monitor, reads_the_shards_stats_and_the_roles_csv_files, .timeout = 60,
     .init = cr_redirect_stdout)
{
    char dir[] = "/tmp/shoal-monitor-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    fx_server srv;
    replay_server_config sc = fx_server_config(100, 16);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    const char *ep = replay_server_endpoint(srv.srv);
    feed(ep);
    /* First the endpoints of a previous attempt, whose shard is gone (a resumed run). */
    endpoint_file ef = {.n_replay = 1};
    snprintf(ef.replay[0], sizeof ef.replay[0], "tcp://127.0.0.1:1");
    snprintf(ef.params, sizeof ef.params, "tcp://127.0.0.1:1");
    char path[FILEIO_PATH_MAX];
    rundir_path(path, sizeof path, dir, "endpoints.json", NULL);
    shoal_err err = {0};
    cr_assert_eq(endpoints_write(path, &ef, &err), SHOAL_OK, "%s", err.msg);
    write_file(dir, "metrics.csv", "step,updates_per_s\n10,5.5\n");
    write_file(dir, "eval.csv", "step,mean,std\n20,12.5,1.5\n");

    config *cfg = config_with("40");
    monitor *m = monitor_new(dir, cfg, false, &err);
    cr_assert_not_null(m, "%s", err.msg);
    bool over = false;
    monitor_tick(m, &over);
    const progress_snapshot *s = monitor_last(m);
    cr_assert_eq(s->n_shards, 0, "the old shard does not answer");
    cr_assert_lt(s->updates_per_s, 0.0, "a row from before the monitor started is no rate");
    cr_assert_not(over);

    /* The new attempt's endpoints and a new metrics row: the monitor follows both. */
    snprintf(ef.replay[0], sizeof ef.replay[0], "%s", ep);
    cr_assert_eq(endpoints_write(path, &ef, &err), SHOAL_OK, "%s", err.msg);
    write_file(dir, "metrics.csv", "step,updates_per_s\n10,5.5\n20,7.25\n");
    monitor_tick(m, &over);
    s = monitor_last(m);
    cr_assert_eq(s->n_shards, 1);
    cr_assert_float_eq(s->fill[0], 0.4, 1e-12, "40 of 100");
    cr_assert_eq(s->frames, 40);
    cr_assert_lt(s->frames_per_s, 0.0, "one full snapshot gives no rate");
    cr_assert_float_eq(s->demo_share, 0.25, 1e-12);
    cr_assert_eq(s->actors_total, 1, "demonstrations are not an actor");
    cr_assert_eq(s->actors_alive, 1);
    cr_assert_eq(s->params_min, 5);
    cr_assert_eq(s->params_max, 5);
    cr_assert_float_eq(s->updates_per_s, 7.25, 1e-12);
    cr_assert_eq(s->learner_step, 20);
    cr_assert(s->have_eval);
    cr_assert_eq(s->eval_step, 20);
    cr_assert_float_eq(s->eval_mean, 12.5, 1e-12);
    cr_assert_float_eq(s->eval_std, 1.5, 1e-12);
    cr_assert(over, "run.max_frames = 40 is reached");
    cr_assert_str_eq(monitor_budget_reached(m), "run.max_frames");
    monitor_tick(m, &over);
    cr_assert_float_eq(monitor_last(m)->frames_per_s, 0.0, 1e-9, "no frames since");
    monitor_free(m);
    config_free(cfg);
    remove_run(dir);
    cr_assert_eq(fx_server_stop(&srv), SHOAL_OK);
}

Test(cluster_monitor, names_the_time_cap_when_the_seconds_ran_out_first, .init = cr_redirect_stdout)
{
    char dir[] = "/tmp/shoal-monitor-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    config *cfg = config_with("1000000");
    shoal_err err = {0};
    cr_assert_eq(config_set(cfg, "run.max_seconds=0.001", "test", &err), SHOAL_OK, "%s",
                 err.msg);
    monitor *m = monitor_new(dir, cfg, false, &err);
    cr_assert_not_null(m, "%s", err.msg);
    usleep(5000);
    bool over = false;
    monitor_tick(m, &over);
    cr_assert(over, "1 ms of run.max_seconds has passed");
    cr_assert_str_eq(monitor_budget_reached(m), "run.max_seconds",
                     "no frames: the time cap ended it, not the frame budget");
    monitor_free(m);
    config_free(cfg);
    remove_run(dir);
}
