/* `shoal status`: on run folders written by hand (finished, stopped by a failure, not a run),
 * and on a tiny live run of `shoal train` while it runs and after it finished. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "evaluator_fixtures.h"
#include "shoal_cli.h"
#include "train_fixtures.h"

TestSuite(cmd_status, .init = make_dir, .fini = remove_dir, .timeout = 180);

static void put(const char *name, const char *text)
{
    char path[256], folder[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(folder, sizeof folder, "%s", path);
    *strrchr(folder, '/') = '\0';
    cr_assert_eq(file_mkdirs(folder, NULL), SHOAL_OK);
    cr_assert_eq(atomic_write_file(path, text, strlen(text), NULL), SHOAL_OK, "%s", path);
}

/* ---- a minimal JSON reader: enough to prove the output parses and to find top-level keys */

typedef struct json_cursor {
    const char *p;
    int depth;
} json_cursor;

static bool json_value(json_cursor *c);

static void json_ws(json_cursor *c)
{
    while (isspace((unsigned char)*c->p)) {
        c->p++;
    }
}

static bool json_string(json_cursor *c)
{
    if (*c->p != '"') {
        return false;
    }
    for (c->p++; *c->p && *c->p != '"'; c->p++) {
        if ((unsigned char)*c->p < 0x20) {
            return false;
        }
        if (*c->p == '\\') {
            c->p++;
            if (!*c->p) {
                return false;
            }
        }
    }
    return *c->p++ == '"';
}

static bool json_members(json_cursor *c, char open, char close)
{
    c->p++;
    json_ws(c);
    if (*c->p == close) {
        c->p++;
        return true;
    }
    for (;;) {
        json_ws(c);
        if (open == '{') {
            if (!json_string(c)) {
                return false;
            }
            json_ws(c);
            if (*c->p++ != ':') {
                return false;
            }
        }
        if (!json_value(c)) {
            return false;
        }
        json_ws(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        return *c->p++ == close;
    }
}

static bool json_value(json_cursor *c)
{
    json_ws(c);
    if (*c->p == '{' || *c->p == '[') {
        return json_members(c, *c->p, *c->p == '{' ? '}' : ']');
    }
    if (*c->p == '"') {
        return json_string(c);
    }
    for (const char *lit = "null\0true\0false\0"; *lit; lit += strlen(lit) + 1) {
        if (strncmp(c->p, lit, strlen(lit)) == 0) {
            c->p += strlen(lit);
            return true;
        }
    }
    char *end;
    strtod(c->p, &end);
    if (end == c->p) {
        return false;
    }
    c->p = end;
    return true;
}

/* Asserts that every key of keys appears in text as a JSON object key. */
static void assert_keys(const char *text, const char *const *keys, size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\":", keys[i]);
        cr_assert_not_null(strstr(text, quoted), "key %s missing in %s", keys[i], text);
    }
}

/* Asserts that text is exactly one JSON object (plus whitespace) with every key of keys. */
static void assert_json_object(const char *text, const char *const *keys, size_t n_keys)
{
    json_cursor c = {text, 0};
    json_ws(&c);
    cr_assert_eq(*c.p, '{', "not an object: %s", text);
    cr_assert(json_value(&c), "not valid JSON near '%.40s' in: %s", c.p, text);
    json_ws(&c);
    cr_assert_eq(*c.p, '\0', "text after the object: %s", c.p);
    assert_keys(text, keys, n_keys);
}

static const char *const top_keys[] = {"run_dir", "state",  "env",        "roles",
                                       "frames",  "step",   "updates_per_s", "elapsed_s",
                                       "replay",  "eval",   "checkpoints", "budget"};
static const char *const replay_keys[] = {"source",       "size",          "capacity",
                                          "demo_size",    "demo_share_recent", "age_p50",
                                          "age_p90",      "age_s_p50",     "age_s_p90",
                                          "inserts_per_s", "samples_per_s", "insert_holds",
                                          "sample_holds", "insert_wait_s", "sample_wait_s",
                                          "priority_hist"};

/* A run folder as `shoal train` leaves one: 1 shard, 1 learner, 2 actors, no evaluator. */
static void fixture_run(bool actor_failed)
{
    put("config.ini", "[cluster]\nreplay_shards = 1\nlearners = 1\nevaluators = 0\nactors = 2\n"
                      "[replay]\ncapacity = 5000\n[run]\nmax_frames = 1000\n");
    /* Port 9 (discard) on loopback: nothing answers there. */
    put("endpoints.json",
        "{\"replay\": [\"tcp://127.0.0.1:9\"], \"params\": \"tcp://127.0.0.1:9\"}");
    put("log/replay-0.done", "");
    put("log/learner-0.done", "");
    put("log/actor-0.done", "");
    put("log/actor-0.log", "started\n");
    if (actor_failed) {
        put("log/actor-1.failed", "env \"exploded\" at step 3\n");
    } else {
        put("log/actor-1.done", "");
    }
    put("metrics.csv",
        "time_s,step,frames,updates_per_s,demo_share,replay_size,replay_demo_size,"
        "replay_age_p50,replay_age_p90,replay_age_s_p50,replay_age_s_p90,"
        "replay_demo_share_recent,replay_inserts_per_s,replay_samples_per_s,replay_prio_bin9\n"
        "10.0,100,300,10.0,0.25,250,50,40,90,1.5,3.5,0.25,30,240,250\n"
        "20.0,200,600,10.0,0.25,500,50,80,180,2.5,4.5,0.25,30,240,500\n");
    put("eval.csv", "step,frames,wall_seconds,episodes,mean,std,min,max\n"
                    "200,600,1796683605.390,3,2.5,0.5,2,3\n");
    put("checkpoints/step-100.ckpt", "x");
    put("checkpoints/step-200.ckpt", "x");
    put("checkpoints/step-300.ckpt.tmp.AbCdEf", "x");
}

Test(cmd_status, a_finished_run_is_shown_from_its_files)
{
    fixture_run(false);
    char out[8192], args[256];
    snprintf(args, sizeof args, "status %s", dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": finished"), "%s", out);
    cr_assert_not_null(strstr(out, "actor       2: 2 done"), "%s", out);
    cr_assert_not_null(strstr(out, "hosts 127.0.0.1"), "%s", out);
    cr_assert_not_null(strstr(out, "600 frames, learner step 200"), "%s", out);
    cr_assert_not_null(strstr(out, "500 transitions of 5000 (10%), 50 demos"), "%s", out);
    cr_assert_not_null(strstr(out, "age p50 80 p90 180 inserts"), "%s", out);
    cr_assert_not_null(strstr(out, "1:500"), "the histogram's bin of 1.0: %s", out);
    cr_assert_not_null(strstr(out, "step 200 (600 frames): 2.5 ± 0.5 over 3 episodes"), "%s", out);
    cr_assert_not_null(strstr(out, "checkpoints 2, newest step-200.ckpt"), "%s", out);
    cr_assert_not_null(strstr(out, "400 of 1000 frames left"), "%s", out);
}

Test(cmd_status, a_run_stopped_by_a_failure_names_the_rank_and_its_reason_in_json_too)
{
    fixture_run(true);
    char out[8192], args[256];
    snprintf(args, sizeof args, "status %s", dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": stopped"), "%s", out);
    cr_assert_not_null(strstr(out, "! actor 1 failed: env \"exploded\" at step 3"), "%s", out);
    snprintf(args, sizeof args, "status %s --json", dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    assert_json_object(out, top_keys, sizeof top_keys / sizeof top_keys[0]);
    cr_assert_not_null(strstr(out, "\"replay\":{"), "%s", out);
    assert_keys(strstr(out, "\"replay\":{"), replay_keys,
                sizeof replay_keys / sizeof replay_keys[0]);
    cr_assert_not_null(strstr(out, "\"state\":\"stopped\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"source\":\"metrics\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"detail\":\"env \\\"exploded\\\" at step 3\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"count\":2,\"newest_step\":200"), "%s", out);
    cr_assert_not_null(strstr(out, "\"frames_left\":400"), "%s", out);
}

Test(cmd_status, a_folder_that_is_not_a_run_is_refused_with_exit_1)
{
    char out[4096], args[256];
    snprintf(args, sizeof args, "status %s", dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "is not a shoal run folder"), "%s", out);
    snprintf(args, sizeof args, "status %s/none --json", dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "No such file"), "%s", out);
}

Test(cmd_status, bad_usage_exits_2_and_help_exits_0)
{
    char out[4096];
    cr_assert_eq(run("status", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("status a b", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("status --frobnicate x", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("status --help", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "usage: shoal status RUN_DIR [--json]"), "%s", out);
}

/* ---- a live run ---- */

/* A tiny run (one shard, learner and actor) ended by its frame budget. */
static pid_t start_tiny(const char *run_dir)
{
    char cfg[128];
    path_of(cfg, sizeof cfg, "small.ini");
    const char *ini = "[cluster]\nreplay_shards = 1\nlearners = 1\nevaluators = 0\nactors = 1\n"
                      "[replay]\ncapacity = 5000\nmin_size = 500\n[actor]\nenvs = 4\n"
                      "[learner]\ncheckpoint_period = 200\nmetrics_secs = 1\n"
                      "[run]\nprogress_secs = 1\nmax_frames = 10000\nmax_seconds = 100\n";
    const char *args[] = {cfg, "--run-dir", run_dir, NULL};
    return start_train(ini, args);
}

Test(cmd_status, a_live_run_is_running_with_live_shard_figures_and_then_finished)
{
    char run_dir[128], out[16384], args[256];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    pid_t pid = start_tiny(run_dir);
    snprintf(args, sizeof args, "status %s --json", run_dir);
    uint64_t t0 = clock_now_ns();
    bool live = false;
    int status = 0;
    /* Until the shard has served samples: then every figure is live. */
    while (!live && clock_since_s(t0) < 90.0 && waitpid(pid, &status, WNOHANG) == 0) {
        clock_sleep_ms(500);
        if (run(args, out, sizeof out) == 0 && strstr(out, "\"source\":\"live\"") &&
            !strstr(out, "\"age_p50\":null")) {
            live = true;
        }
    }
    cr_assert(live, "no live status before the run ended: %s", out);
    assert_json_object(out, top_keys, sizeof top_keys / sizeof top_keys[0]);
    cr_assert_not_null(strstr(out, "\"state\":\"running\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"shards_answering\":1"), "%s", out);
    snprintf(args, sizeof args, "status %s", run_dir);
    /* The shard has 500 ms to answer each Stats round; on a loaded machine one round can miss
     * it (status then says so and shows the learner's last row), so a few rounds are allowed. */
    for (int tries = 0; tries < 10; tries++) {
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
        cr_assert_not_null(strstr(out, ": running"), "%s", out);
        if (strstr(out, "1 of 1 shards answered")) {
            break;
        }
        clock_sleep_ms(300);
    }
    cr_assert_not_null(strstr(out, "1 of 1 shards answered"), "%s", out);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        cr_assert(clock_since_s(t0) < 150.0, "the run did not end by its budget");
        clock_sleep_ms(200);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "shoal train failed");
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": finished"), "%s", out);
    /* The frame budget, or under a sanitizer on a loaded machine the time cap, ended it. */
    cr_assert(strstr(out, "budget      reached (run.max_frames)") ||
              strstr(out, "frames left, time left"), "%s", out);
}
