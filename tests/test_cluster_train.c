/* End-to-end: `shoal train` on loopback with every role (replay shard, 2 learners, evaluator,
 * 2 actors) under mpirun, started as a user would, stopped with SIGTERM. Each run is bounded:
 * it waits for what it checks with a deadline, then stops the job. */
#include <pthread.h>
#include <stdatomic.h>

#include "cluster/progress.h"
#include "common/curve.h"
#include "common/endpoints.h"
#include "replay/client.h"
#include "tb/reader.h"
#include "train_fixtures.h"

TestSuite(cluster_train, .init = make_dir, .fini = remove_dir, .timeout = 240);

static const char small_ini[] =
    "[cluster]\nreplay_shards = 1\nlearners = 2\nevaluators = 1\nactors = 2\n"
    "[replay]\ncapacity = 20000\nmin_size = 500\n"
    "[actor]\nenvs = 4\n"
    "[learner]\ncheckpoint_period = 100\nmetrics_secs = 1\npublish_period = 20\n"
    "checksum_period = 20\n"
    "[evaluator]\nepisodes = 3\npoll_secs = 1\nmax_episode_steps = 300\nn_envs = 3\n"
    "[run]\nprogress_secs = 1\n";

/* A new run of small.ini in run (RUN_DIR), with one --set assignment when set is not NULL. */
static pid_t start_small(const char *run, const char *set)
{
    char cfg[128];
    path_of(cfg, sizeof cfg, "small.ini");
    const char *args[] = {cfg, "--run-dir", run, set ? "--set" : NULL, set, NULL};
    return start_train(small_ini, args);
}

/* Looks for one tag in the values of a TensorBoard event file. */
typedef struct tb_find {
    const char *tag;
    size_t found;
    bool histogram;
} tb_find;

static int find_tag(const tb_value *v, void *arg)
{
    tb_find *f = arg;
    if (strcmp(v->tag, f->tag) == 0) {
        f->found++;
        f->histogram = v->histogram;
    }
    return 0;
}

/* How many values of tag the event files in RUN_DIR/tb/<role> hold, every file's framing and
 * CRCs checked by tb_dir_each; *histogram says whether they are histograms. */
static size_t tb_count(const char *run, const char *role, const char *tag, bool *histogram)
{
    char folder[192];
    snprintf(folder, sizeof folder, "%s/tb/%s", run, role);
    tb_find f = {.tag = tag};
    shoal_err err = {0};
    cr_assert_eq(tb_dir_each(folder, find_tag, &f, NULL, &err), SHOAL_OK, "%s", err.msg);
    if (histogram) {
        *histogram = f.histogram;
    }
    return f.found;
}

/* What the roles leave in RUN_DIR/tb/ for TensorBoard. */
static void check_tensorboard(const char *run)
{
    bool hist = false;
    cr_assert_gt(tb_count(run, "learner", "learner/loss_td", &hist), 0);
    cr_assert(!hist);
    cr_assert_gt(tb_count(run, "learner", "learner/replay_inserted", NULL), 0);
    cr_assert_gt(tb_count(run, "learner", "learner/priorities", &hist), 0);
    cr_assert(hist, "learner/priorities is a histogram");
    cr_assert_eq(tb_count(run, "learner", "learner/step", NULL), 0, "step is the x axis");
    cr_assert_gt(tb_count(run, "evaluator", "eval/mean", NULL), 0);
    for (int i = 0; i < 2; i++) {
        char role[16];
        snprintf(role, sizeof role, "actor-%d", i);
        cr_assert_gt(tb_count(run, role, "actor/frames_per_s", NULL), 0, "%s", role);
        cr_assert_gt(tb_count(run, role, "actor/env_steps", NULL), 0, "%s", role);
    }
}

Test(cluster_train, a_short_run_trains_evaluates_and_stops_cleanly_on_sigterm)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    double step = wait_above(run, "metrics.csv", "step", 150, 120);
    double evals = wait_above(run, "eval.csv", "episodes", 0, 60);
    /* The actors take new parameters every actor.param_refresh_steps and the progress line
     * shows them a second later: wait for it rather than racing a fast learner. */
    uint64_t t0 = clock_now_ns();
    while (last_params_version() <= 0 && clock_since_s(t0) < 60.0) {
        clock_sleep_ms(200);
    }
    int code = stop_train(pid, run);
    cr_assert_gt(step, 150, "learner updates did not advance");
    cr_assert_gt(evals, 0, "no checkpoint was evaluated");
    cr_assert_eq(code, 0, "shoal train exited with %d:\n%s", code, failures());
    cr_assert_not_null(strstr(out_tail(), "(metrics.csv, eval.csv, eval.svg, checkpoints/)"),
                       "the final message names the evaluator's files: %s", out_tail());
    /* the learners write their last checkpoint at the stop; the evaluator waits for it */
    char *csv = NULL, path[160], row[32];
    size_t n;
    snprintf(path, sizeof path, "%s/eval.csv", run);
    cr_assert_eq(file_read_all(path, 1 << 20, (uint8_t **)&csv, &n, NULL), SHOAL_OK);
    csv[n] = '\0';
    snprintf(row, sizeof row, "\n%ld,", newest_checkpoint(run));
    cr_assert_not_null(strstr(csv, row), "the last checkpoint (step %ld) was not evaluated:\n%s",
                       newest_checkpoint(run), csv);
    free(csv);
    cr_assert_gt(last_value(run, "metrics.csv", "replay_inserted"), 0);
    cr_assert_gt(last_value(run, "metrics.csv", "replay_sampled"), 0);
    cr_assert_gt(last_params_version(), 0, "actors never acted with learned parameters");
    char svg[160];
    snprintf(svg, sizeof svg, "%s/eval.svg", run);
    struct stat st;
    cr_assert_eq(stat(svg, &st), 0, "eval.svg missing");
    cr_assert_gt(st.st_size, 100);
    check_tensorboard(run);
}

/* Asks shard 0 of the running run for its stats with keys k (NULL: none). */
static int ask_shard(const char *run, const curve_keys *k, shoal_err *err)
{
    char path[160];
    snprintf(path, sizeof path, "%s/endpoints.json", run);
    endpoint_file ep;
    cr_assert_eq(endpoints_read(path, &ep, err), SHOAL_OK, "%s", err->msg);
    const char *eps[1] = {ep.replay[0]};
    replay_client_options o = {.timeout_ms = 2000};
    if (k) {
        o.curve = *k;
    }
    replay_client *c = replay_client_new(eps, 1, &o, err);
    cr_assert_not_null(c, "%s", err->msg);
    const replay_stats *st;
    int rc = replay_client_stats(c, 0, &st, err);
    replay_client_free(c);
    return rc;
}

Test(cluster_train, a_run_with_curve_on_trains_and_its_shard_refuses_peers_without_its_keys)
{
    char run[128], keys[160], file[192];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, "cluster.curve=on");
    double step = wait_above(run, "metrics.csv", "step", 50, 120);
    uint64_t t0 = clock_now_ns();
    while (last_params_version() <= 0 && clock_since_s(t0) < 60.0) {
        clock_sleep_ms(200);
    }
    snprintf(keys, sizeof keys, "%s/keys", run);
    curve_keys k;
    shoal_err err = {0};
    cr_assert_eq(curve_keys_load(keys, false, &k, &err), SHOAL_OK, "%s", err.msg);
    int without = ask_shard(run, NULL, &err);
    int with = ask_shard(run, &k, &err);
    /* A joining actor takes the keys from the run folder. */
    char cmd[512], joined[4096] = "";
    snprintf(cmd, sizeof cmd, "%s actor --join %s --set actor.max_env_steps=2000 2>&1",
             getenv("SHOAL_BIN"), run);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(joined, 1, sizeof joined - 1, p);
    joined[got] = '\0';
    int joiner = pclose(p);
    int code = stop_train(pid, run);
    cr_assert(WIFEXITED(joiner) && WEXITSTATUS(joiner) == 0, "the joiner failed: %s", joined);
    unsigned long long acked = 0;
    const char *at = strstr(joined, "batches, ");
    cr_assert(at && sscanf(at, "batches, %llu acknowledged", &acked) == 1, "%s", joined);
    cr_assert_gt(acked, 0, "the joiner's batches were not acknowledged: %s", joined);
    cr_assert_null(strstr(joined, "parameters version 0 "), "the joiner got no parameters: %s",
                   joined);
    cr_assert_gt(step, 50, "learner updates did not advance over CURVE");
    cr_assert_gt(last_params_version(), 0, "actors never received parameters over CURVE");
    cr_assert_eq(code, 0, "shoal train exited with %d:\n%s", code, failures());
    cr_assert_eq(without, SHOAL_ETIMEOUT, "a client without the run's keys was answered");
    cr_assert_eq(with, SHOAL_OK, "a client with the run's keys was not answered");
    struct stat st;
    cr_assert_eq(stat(keys, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    snprintf(file, sizeof file, "%s/" CURVE_SERVER_FILE, keys);
    cr_assert_eq(stat(file, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *log = NULL;
    size_t n;
    snprintf(file, sizeof file, "%s/log/replay-0.log", run);
    cr_assert_eq(file_read_all(file, 1 << 20, (uint8_t **)&log, &n, NULL), SHOAL_OK);
    log[n - 1] = '\0';
    cr_assert_not_null(strstr(log, "(CURVE on)"), "%s", log);
    cr_assert_null(strstr(log, k.client_secret), "no key in the log");
    free(log);
}

Test(cluster_train, a_killed_actor_does_not_stop_the_run)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 50, 120), 50);
    /* Ranks: 0 shard, 1-2 learners, 3 evaluator, 4-5 actors. */
    int victim = pid_of_rank(run, 5);
    cr_assert_gt(victim, 0, "actor rank 5 not found");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    double before = last_value(run, "metrics.csv", "replay_inserted");
    double step_before = last_value(run, "metrics.csv", "step");
    double inserted = wait_above(run, "metrics.csv", "replay_inserted", before + 1000, 60);
    double step = wait_above(run, "metrics.csv", "step", step_before + 50, 60);
    int code = stop_train(pid, run);
    cr_assert_gt(inserted, before + 1000, "the other actor stopped inserting");
    cr_assert_gt(step, step_before + 50, "the learners stopped");
    cr_assert_eq(code, 0, "shoal train exited with %d after losing an actor:\n%s", code,
                 failures());
}

/* Keeps a process stopped: mpirun continues its ranks (SIGCONT) when it is told to end the job,
 * so a single SIGSTOP would not make a rank that hangs. */
typedef struct hang_arg {
    int pid;
    atomic_int done;
} hang_arg;

static void *keep_stopped(void *p)
{
    hang_arg *h = p;
    while (!h->done && kill(h->pid, SIGSTOP) == 0) {
        clock_sleep_ms(1);
    }
    return NULL;
}

Test(cluster_train, a_hung_rank_is_killed_within_the_stop_deadline)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 20, 120), 20);
    /* Ranks: 3 is the evaluator. The others wait for it in MPI_Finalize, and mpirun's children
     * sit in process groups of their own: only the launcher's last-resort SIGKILL to each of
     * them ends the job. Whether the evaluator slipped through its .done before that is up to
     * the scheduler, so the exit code is not checked; stop_train checks that nothing is left
     * and that it took no longer than the deadline. */
    hang_arg h = {.pid = pid_of_rank(run, 3)};
    cr_assert_gt(h.pid, 0, "evaluator rank 3 not found");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, keep_stopped, &h), 0);
    stop_train(pid, run);
    h.done = 1;
    pthread_join(t, NULL);
}

Test(cluster_train, a_resumed_run_continues_from_its_checkpoint)
{
    char run[128];
    path_of(run, sizeof run, "run");
    pid_t pid = start_small(run, NULL);
    cr_assert_gt(wait_above(run, "metrics.csv", "step", 150, 120), 150, "%s", out_tail());
    cr_assert_eq(stop_train(pid, run), 0, "%s", failures());
    long stopped_at = newest_checkpoint(run);
    cr_assert_gt(stopped_at, 150);

    const char *again[] = {"--resume", run, NULL};
    pid = start_train(small_ini, again);
    double step = wait_above(run, "metrics.csv", "step", (double)stopped_at + 50, 120);
    cr_assert_eq(stop_train(pid, run), 0, "%s\n%s", failures(), out_tail());
    cr_assert_gt(step, stopped_at + 50, "the resumed learner did not continue");
    char log_path[160];
    snprintf(log_path, sizeof log_path, "%s/log/learner-0.log", run);
    uint8_t *text;
    size_t n;
    cr_assert_eq(file_read_all(log_path, 64 << 20, &text, &n, NULL), SHOAL_OK);
    char want[64];
    snprintf(want, sizeof want, "(step %ld)", stopped_at);
    cr_assert_not_null(strstr((char *)text, want), "no 'resuming from ... %s' in the log", want);
    free(text);
    cr_assert_gt(newest_checkpoint(run), stopped_at);
}

Test(cluster_train, a_role_that_cannot_start_fails_the_run_with_its_reason)
{
    char run[128];
    path_of(run, sizeof run, "run");
    /* 3 samples cannot be split evenly over 2 learners: learner_new refuses on both. */
    pid_t pid = start_small(run, "learner.batch_size=3");
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 60.0, "shoal train did not end after a failed start");
        clock_sleep_ms(100);
    }
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1);
    cr_assert_not_null(strstr(failures(), "shoal train: learner 0 ("), "%s", failures());
    cr_assert_not_null(strstr(failures(), ") failed: learner.batch_size = 3 does not split"),
                       "%s", failures());
    cr_assert_eq(procs_of(run), 0);
}

Test(cluster_train, a_time_capped_run_without_evaluator_says_so_and_names_no_eval_files)
{
    char run[128], cfg[128];
    path_of(run, sizeof run, "run");
    path_of(cfg, sizeof cfg, "small.ini");
    const char *args[] = {cfg,   "--run-dir", run, "--set", "cluster.evaluators=0",
                          "--set", "run.max_seconds=10", "--set", "run.max_frames=1000000000",
                          NULL};
    pid_t pid = start_train(small_ini, args);
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 90.0, "the 10 s cap did not end the run: %s", out_tail());
        clock_sleep_ms(200);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%s", failures(), out_tail());
    const char *out = out_tail();
    cr_assert_not_null(strstr(out, "time cap reached (run.max_seconds = 10) before run.max_frames"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "(metrics.csv, checkpoints/)"), "%s", out);
    cr_assert_null(strstr(out, "eval.csv"), "no evaluator, no eval.csv: %s", out);
}

/* learner.mode = offline with cluster.actors = 0: the shards hold only the demonstrations that
 * shoal train records first, learner.max_updates ends the run (no frames ever come), each
 * checkpoint carries its behaviour model and the evaluator scores it. */
Test(cluster_train, an_actorless_offline_run_learns_from_demonstrations_and_ends_by_updates)
{
    char run[128], cfg[128], demos[160];
    path_of(run, sizeof run, "run");
    path_of(cfg, sizeof cfg, "small.ini");
    snprintf(demos, sizeof demos, "replay.demos=%s/expert.demo", dir);
    const char *args[] = {cfg, "--run-dir", run, "--set", "cluster.actors=0", "--set",
                          "cluster.learners=1", "--set", "learner.mode=offline", "--set", demos,
                          "--set", "run.demo_episodes=3", "--set", "replay.demo_capacity=20000",
                          "--set", "learner.max_updates=300", NULL};
    pid_t pid = start_train(small_ini, args);
    uint64_t t0 = clock_now_ns();
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 120.0, "learner.max_updates did not end the run: %s",
                  out_tail());
        clock_sleep_ms(200);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%s", failures(), out_tail());
    cr_assert_eq(last_value(run, "metrics.csv", "step"), 300.0, "%s", out_tail());
    cr_assert_eq(last_value(run, "metrics.csv", "frames"), 0.0);
    cr_assert_gt(last_value(run, "metrics.csv", "loss_bc"), 0.0, "the behaviour model trains");
    char path[256], text[8192] = "";
    snprintf(path, sizeof path, "%s/eval.csv", run);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no eval.csv: %s", out_tail());
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(text, "\n300,0,"), "the last checkpoint is evaluated: %s", text);
    snprintf(path, sizeof path, "%s/checkpoints/step-300.behaviour", run);
    cr_assert_eq(access(path, F_OK), 0, "%s missing", path);
}
