/* The bench/learning scripts' command lines, without training: --dry-run prints each effective
 * `shoal train` command (and checks its configuration), so what the options and extra --set
 * assignments become is visible; and the time-cap report of a finished run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shoal_cli.h"

static char out[1 << 17];
static char dir[] = "/tmp/shoal-bench-learning-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(run_shell(cmd, out, sizeof out), 0, "%s", out);
}

TestSuite(bench_learning, .init = make_dir, .fini = remove_dir, .timeout = 60);

/* Runs `ENV bench/learning/<script> <args>` in the test's directory with SHOAL=$SHOAL_BIN,
 * stdout and stderr into out; returns the exit code. */
static int script(const char *env, const char *name, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s SHOAL='%s' '%s/bench/learning/%s' %s 2>&1", dir, env,
             getenv("SHOAL_BIN"), getenv("SHOAL_SOURCE_DIR"), name, args);
    return run_shell(cmd, out, sizeof out);
}

/* The printed command line (from "+ " to its end) that contains key, or NULL. */
static const char *command_with(const char *key, char *line, size_t cap)
{
    for (const char *s = strstr(out, "+ "); s; s = strstr(s, "\n+ ")) {
        s += s[0] == '\n';
        const char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        snprintf(line, cap, "%.*s", (int)len, s);
        if (strstr(line, key)) {
            return line;
        }
    }
    return NULL;
}

/* Whether line ends with the words of tail (the printed command ends with a space). */
static bool ends_with(const char *line, const char *tail)
{
    size_t n = strlen(line), k = strlen(tail);
    while (n && line[n - 1] == ' ') {
        n--;
    }
    return n >= k && strncmp(line + n - k, tail, k) == 0;
}

Test(bench_learning, deep_exploration_takes_heads_seconds_and_extra_sets)
{
    int rc = script("", "deep_exploration.sh",
                    "--dry-run --envs deepsea:10 --strategies 'bootstrap epsilon' --seeds 4 "
                    "--heads 5 --seconds 60 --set learner.lr=0.0005");
    cr_assert_eq(rc, 0, "%s", out);
    char line[4096];
    cr_assert_not_null(command_with("exploration.strategy=bootstrap", line, sizeof line), "%s",
                       out);
    cr_assert_not_null(strstr(line, "shoal train "), "%s", line);
    cr_assert_not_null(strstr(line, "--set network.heads=5 "), "%s", line);
    cr_assert_not_null(strstr(line, "--set run.max_seconds=60 "), "%s", line);
    cr_assert_null(strstr(line, "max_seconds=900"), "%s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0005"), "the extra --set comes last: %s", line);
    cr_assert_not_null(command_with("exploration.strategy=epsilon", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set network.heads=1 "), "epsilon has one head: %s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0005"), "%s", line);
    struct stat st;
    char runs[128];
    snprintf(runs, sizeof runs, "%s/runs", dir);
    cr_assert_neq(stat(runs, &st), 0, "a dry run trains nothing and writes no run");
}

Test(bench_learning, deep_exploration_budgets_come_from_the_variables_its_help_names)
{
    cr_assert_eq(script("", "deep_exploration.sh", "--help"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "DEEPSEA_EPISODES"), "%s", out);
    cr_assert_not_null(strstr(out, "CHAIN_EPISODES"), "%s", out);
    cr_assert_not_null(strstr(out, "--heads N"), "%s", out);
    cr_assert_not_null(strstr(out, "--seconds S"), "%s", out);
    cr_assert_not_null(strstr(out, "--set section.key=value"), "%s", out);
    int rc = script("DEEPSEA_EPISODES=10 CHAIN_EPISODES=7", "deep_exploration.sh",
                    "--dry-run --envs 'deepsea:10 chain:20' --strategies count --seeds 1");
    cr_assert_eq(rc, 0, "%s", out);
    char line[4096];
    /* A few episodes over the budget, at most size (DeepSea) or length + 8 (Chain) steps each. */
    cr_assert_not_null(command_with("env.deepsea_size=10", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set run.max_frames=180 "), "(10 + 8) * 10: %s", line);
    cr_assert_not_null(command_with("env.chain_length=20", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set run.max_frames=420 "), "(7 + 8) * 28: %s", line);
}

Test(bench_learning, minatar_and_demos_default_to_the_million_frames_of_the_results_page)
{
    cr_assert_eq(script("", "minatar.sh", "--dry-run --games breakout --set learner.lr=0.0002"), 0,
                 "%s", out);
    char line[4096];
    cr_assert_not_null(command_with("minatar-breakout.ini", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set run.max_frames=1000000 "), "%s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0002"), "%s", line);

    cr_assert_eq(script("", "demos.sh", "--dry-run --games seaquest --set learner.lr=0.0002"), 0,
                 "%s", out);
    cr_assert_not_null(strstr(out, "shoal demos record --env minatar/seaquest"), "%s", out);
    cr_assert_not_null(command_with("replay.demos=/", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set run.max_frames=1000000 "), "%s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0002"), "%s", line);
    cr_assert_not_null(command_with("learner.pretrain_steps=0", line, sizeof line), "%s", out);
    cr_assert(ends_with(line, "--set learner.lr=0.0002"), "the run without demos too: %s", line);
    char demo[128];
    snprintf(demo, sizeof demo, "%s/runs/learning/demos/seaquest-expert.demo", dir);
    cr_assert_neq(access(demo, F_OK), 0, "a dry run records no demonstrations");
}

Test(bench_learning, replay_ratio_passes_sets_through_minatar)
{
    cr_assert_eq(script("", "replay_ratio.sh", "--dry-run --ratios 8 --set learner.lr=0.0002"),
                 0, "%s", out);
    char line[4096];
    cr_assert_not_null(command_with("replay.samples_per_insert=8", line, sizeof line), "%s", out);
    cr_assert(ends_with(line, "--set learner.lr=0.0002"), "%s", line);
}

Test(bench_learning, a_bad_extra_set_fails_the_dry_run_with_shoals_reason)
{
    cr_assert_eq(script("", "minatar.sh", "--dry-run --games breakout --set run.sed=3"), 1, "%s",
                 out);
    cr_assert_not_null(strstr(out, "unknown key 'sed' in [run]"), "%s", out);
}

Test(bench_learning, a_run_stopped_by_the_time_cap_is_reported_as_such)
{
    /* The lines shoal train prints when a budget ends the run (tests/test_cluster_train.c
     * checks that it prints the time cap's). */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'shoal train: time cap reached (run.max_seconds = 10) before "
             "run.max_frames\\n' > capped.out && printf 'shoal train: frame budget reached "
             "(run.max_frames = 40)\\n' > full.out && SHOAL='%s' bash -c '. "
             "\"%s/bench/learning/common.sh\"; for r in full capped; do ended_by $r; echo "
             "$r=$ended; done; capped_summary' 2>&1",
             dir, getenv("SHOAL_BIN"), getenv("SHOAL_SOURCE_DIR"));
    cr_assert_eq(run_shell(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "full=budget\n"), "%s", out);
    cr_assert_not_null(strstr(out, "capped ended on the time cap (run.max_seconds)"), "%s", out);
    cr_assert_not_null(strstr(out, "capped=time_cap\n"), "%s", out);
    cr_assert_not_null(strstr(out, "1 run(s) ended on the time cap (run.max_seconds) before "
                                   "their budget"),
                       "%s", out);
}

/* Runs train_run of common.sh on a tiny real run (the shell command wrapped by wrap, "%s" for
 * the inner command) into out; returns the exit code. */
static int tiny_train_run(const char *wrap, const char *name)
{
    char ini[256], inner[2048], cmd[4096];
    snprintf(ini, sizeof ini, "%s/tiny.ini", dir);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fputs("[cluster]\nreplay_shards = 1\nlearners = 1\nevaluators = 0\nactors = 1\n"
          "[replay]\ncapacity = 5000\nmin_size = 500\n[learner]\nmetrics_secs = 1\n"
          "[run]\nmax_frames = 6000\nmax_seconds = 40\n", f);
    fclose(f);
    snprintf(inner, sizeof inner, "cd %s && SHOAL=%s bash -c \". %s/bench/learning/common.sh; "
             "train_run %s/%s %s > /dev/null\"", dir, getenv("SHOAL_BIN"),
             getenv("SHOAL_SOURCE_DIR"), dir, name, ini);
    snprintf(cmd, sizeof cmd, wrap, inner);
    return run_shell(cmd, out, sizeof out);
}

Test(bench_learning, train_run_shows_a_percentage_line_on_a_terminal_only, .timeout = 120)
{
    cr_assert_eq(tiny_train_run("%s 2>&1", "piped"), 0, "%s", out);
    cr_assert_null(strstr(out, " frames)"), "a progress line went to a pipe: %s", out);
    cr_assert_null(strchr(out, '\r'), "%s", out);
    if (system("script --version > /dev/null 2>&1") != 0) {
        cr_skip_test("util-linux script(1) is not installed: the terminal half is not checked");
    }
    cr_assert_eq(tiny_train_run("script -q -e -c '%s' /dev/null", "tty"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "% ("), "%s", out);
    cr_assert_not_null(strstr(out, " of 6000 frames)"), "%s", out);
}

Test(bench_learning, imitation_runs_bc_dagger_and_the_rl_rows_with_their_settings)
{
    cr_assert_eq(script("", "imitation.sh", "--dry-run --games breakout --variants "
                        "'bc50 dagger finetune rl' --bc-updates 3000 --set learner.lr=0.0002"),
                 0, "%s", out);
    cr_assert_not_null(strstr(out, "shoal demos record --env minatar/breakout --policy expert "
                                   "--episodes 500"), "%s", out);
    char line[4096];
    cr_assert_not_null(command_with("breakout-bc50-1", line, sizeof line), "%s", out);
    cr_assert(strstr(line, "--set cluster.actors=0 --set learner.mode=bc"), "%s", line);
    cr_assert(strstr(line, "--set learner.max_updates=3000 "), "%s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0002"), "%s", line);
    cr_assert_not_null(command_with("breakout-dagger-1", line, sizeof line), "%s", out);
    cr_assert(strstr(line, "--set actor.label=expert") && strstr(line, "learner.mode=bc") &&
              strstr(line, "replay.samples_per_insert="), "DAgger's learner clones and paces: %s",
              line);
    cr_assert_not_null(command_with("breakout-finetune-1", line, sizeof line), "%s", out);
    cr_assert(strstr(line, "--set learner.init_from="), "%s", line);
    cr_assert_not_null(command_with("breakout-rl-1", line, sizeof line), "%s", out);
    cr_assert(strstr(line, "--set run.max_frames=1000000 "), "%s", line);

    cr_assert_eq(script("", "imitation.sh", "--variants 'bc50 gail'"), 2, "%s", out);
    cr_assert(strstr(out, "unknown variant gail"), "%s", out);
}

/* Writes dir/name: the actor episode log's header and one row per return. */
static void write_log(const char *name, const double *ret, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("env_steps,return,length,head,intrinsic_return,params_version\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%zu,%g,10,0,0,1\n", 10 * (i + 1), ret[i]);
    }
    fclose(f);
}

/* Runs deep_sea_score.awk with the awk variables vars on dir/name into out; returns the exit
 * code. */
static int score(const char *vars, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && awk -F, %s -f '%s/bench/learning/deep_sea_score.awk' %s 2>&1",
             dir, vars, getenv("SHOAL_SOURCE_DIR"), name);
    return run_shell(cmd, out, sizeof out);
}

/* Hand-worked: episodes 1-16 bad, 17-21 good, 22-25 bad, 26-30 good. The running share of bad
 * episodes is 16/20 = 0.8 at 20 (not below 0.8), 16/21 = 0.76 at 21 (first below), but bsuite
 * looks only at its logged episodes: 25 has 20/25 = 0.8 (not below), 30 has 20/30 = 0.67: solved
 * at 30, which is below 2^10 + 100: the run counts in the score. */
Test(bench_learning, deep_sea_score_follows_bsuites_logged_episodes_and_threshold)
{
    double ret[30];
    for (size_t i = 0; i < 30; i++) {
        int ep = (int)i + 1;
        ret[i] = (ep <= 16 || (ep >= 22 && ep <= 25)) ? -0.001 : 0.99;
    }
    write_log("a.csv", ret, 30);
    cr_assert_eq(score("-v size=10", "a.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "30,30,21,17,0.6667,1\n");
    /* The budget cuts the log: at 25 the share is 0.8, not below: unsolved. */
    cr_assert_eq(score("-v size=10 -v budget=25", "a.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "25,,21,17,0.8000,0\n");
    /* At 20 the share is 16/20, not below 0.8: no crossing yet. */
    cr_assert_eq(score("-v size=10 -v budget=20", "a.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "20,,,17,0.8000,0\n");
    cr_assert_eq(score("", "a.csv"), 2, "the size is required: %s", out);
    /* Decided: solved; or, at 25 of a budget of 25 (20 bad), nothing later can cross. */
    cr_assert_eq(score("-v size=10 -v decide=1", "a.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "1\n");
    cr_assert_eq(score("-v size=10 -v budget=25 -v decide=1", "a.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "1\n");
}

/* Not solved yet, and decided only once the bad episodes rule out any crossing within the
 * budget: with 100 (logged) and 16 bad in the first 20, solving at 100 needs fewer than 80 bad,
 * still possible; with 80 bad it is not (80 / 100 is not below 0.8). */
Test(bench_learning, deep_sea_score_decides_an_unsolvable_run_before_its_budget)
{
    double ret[80];
    for (size_t i = 0; i < 80; i++) {
        ret[i] = i < 16 || i >= 20 ? 0 : 0.99; /* 4 good episodes, 17 to 20 */
    }
    write_log("c.csv", ret, 20);
    cr_assert_eq(score("-v size=10 -v budget=100 -v decide=1", "c.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "0\n");
    write_log("c.csv", ret, 80); /* 76 bad of 80 */
    cr_assert_eq(score("-v size=10 -v budget=100 -v decide=1", "c.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "0\n", "76 bad: 24 good episodes more would cross at 100");
    double more[84];
    memcpy(more, ret, sizeof ret);
    for (size_t i = 80; i < 84; i++) {
        more[i] = 0;
    }
    write_log("c.csv", more, 84); /* 80 bad of 84 */
    cr_assert_eq(score("-v size=10 -v budget=100 -v decide=1", "c.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "1\n");
}

/* Solved after 2^N + 100 episodes counts as solved but not in the score: 1,120 bad episodes
 * then good ones cross below 0.8 at 1,401 (1,120 / 1,401 = 0.7994), logged next at 1,700; at
 * size 10 that is later than 2^10 + 100 = 1,124; at size 12 it is earlier than 4,196. */
Test(bench_learning, deep_sea_score_forgives_100_episodes_over_two_to_the_n)
{
    static double ret[1800];
    for (size_t i = 0; i < 1800; i++) {
        ret[i] = i < 1120 ? 0 : 0.99;
    }
    write_log("b.csv", ret, 1800);
    cr_assert_eq(score("-v size=10", "b.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "1800,1700,1401,1121,0.6222,0\n");
    cr_assert_eq(score("-v size=12", "b.csv"), 0, "%s", out);
    cr_assert_str_eq(out, "1800,1700,1401,1121,0.6222,1\n");
}

/* The report's score is the mean over runs of beat_dither; the protocol's score counts the
 * sizes not run as failures (21 sizes, 10 to 50). */
Test(bench_learning, deep_sea_report_scores_each_strategy)
{
    char path[256];
    snprintf(path, sizeof path, "%s/ds", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/ds/summary.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("label,size,seed,episodes,solved_episode,first_below,first_optimal,bad_fraction,"
          "beat_dither,wall_s,ended_by\n"
          "prior,10,1,120,120,118,90,0.7,1,3.0,solved\n"
          "prior,12,1,10000,,,,1.0,0,50.0,budget\n"
          "prior,12,1,900,900,850,700,0.75,1,9.0,solved\n"
          "prior,14,1,10000,,,,0.99,0,60.0,budget\n"
          "epsilon,10,1,1700,1700,1401,1121,0.62,0,8.0,solved\n", f);
    fclose(f);
    cr_assert_eq(script("", "deep_sea_bsuite.sh", "--report --out ds"), 0, "%s", out);
    /* Size 12 ran twice: its last row counts. */
    cr_assert_not_null(strstr(out, "| prior | 3 | 2 | 12 | 0.667 | 0.095 |"), "%s", out);
    cr_assert_not_null(strstr(out, "| epsilon | 1 | 1 | 10 | 0.000 | 0.000 |"), "%s", out);
    cr_assert_not_null(strstr(out, "| prior | 14 | 1 | unsolved |"), "%s", out);
    char svg[256];
    snprintf(svg, sizeof svg, "%s/ds/deep_sea.svg", dir);
    struct stat st;
    cr_assert_eq(stat(svg, &st), 0, "the plot is written: %s", out);
}

Test(bench_learning, deep_sea_bsuite_runs_bsuites_reference_agent_settings)
{
    cr_assert_eq(script("", "deep_sea_bsuite.sh",
                        "--dry-run --sizes '10 50' --episodes 100 --set learner.lr=0.0005"),
                 0, "%s", out);
    char line[4096];
    cr_assert_not_null(command_with("env.deepsea_size=50", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set network.dense=50\\,50 "), "%s", line);
    cr_assert_not_null(strstr(line, "--set network.heads=20 "), "%s", line);
    cr_assert_not_null(strstr(line, "--set network.prior_scale=3 "), "%s", line);
    cr_assert_not_null(strstr(line, "--set run.max_frames=5400 "), "(100 + 8) * 50: %s", line);
    cr_assert(ends_with(line, "--set learner.lr=0.0005"), "the extra --set comes last: %s", line);
    cr_assert_eq(script("", "deep_sea_bsuite.sh", "--dry-run --sizes 10 --strategy epsilon"), 0,
                 "%s", out);
    cr_assert_not_null(command_with("exploration.strategy=epsilon", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set network.heads=1 "), "%s", line);
    cr_assert_eq(script("", "deep_sea_bsuite.sh", "--strategy rnd"), 2, "%s", out);
    cr_assert_not_null(strstr(out, "unknown --strategy rnd"), "%s", out);
}

/* ---- grid.sh and iqm.sh (issue 20's grid) ---- */

static const char grid_header[] =
    "game,setting,seed,frames_budget,frames,updates,eval_final_mean,eval_final_std,"
    "eval_best_mean,eval_episodes,wall_s,frames_per_s,updates_per_s,commit,date,config_hash,sets";

/* Writes text to the file name in the test's directory. */
static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* The number of lines of the file name in the test's directory (-1: no file). */
static int lines_of(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) {
        n += ch == '\n';
    }
    fclose(f);
    return n;
}

/* A MinAtar config small enough for a run of a few seconds: one actor, one learner, no
 * evaluator (so no eval.csv and no curve), as configs/minatar-<game>.ini. */
static void tiny_game_config(const char *game)
{
    char name[128], text[512];
    snprintf(name, sizeof name, "configs/minatar-%s.ini", game);
    snprintf(text, sizeof text,
             "[env]\nname = minatar/%s\n[cluster]\nreplay_shards = 1\nlearners = 1\n"
             "evaluators = 0\nactors = 1\n[replay]\ncapacity = 5000\nmin_size = 500\n"
             "[learner]\nmetrics_secs = 1\ncheckpoint_period = 200\n",
             game);
    char configs[256];
    snprintf(configs, sizeof configs, "%s/configs", dir);
    mkdir(configs, 0755);
    put(name, text);
}

/* The config hash grid.sh prints for a cell ("(config <hash>)") into hash[13]. */
static void printed_hash(const char *cell, char *hash)
{
    const char *s = strstr(out, cell);
    cr_assert_not_null(s, "%s not in: %s", cell, out);
    s = strstr(s, "(config ");
    cr_assert_not_null(s, "%s", out);
    snprintf(hash, 13, "%s", s + 8);
}

Test(bench_learning, grid_skips_cells_in_the_csv_and_starts_only_what_fits_the_hours)
{
    tiny_game_config("breakout");
    tiny_game_config("seaquest");
    cr_assert_eq(script("", "grid.sh", "--dry-run --configs configs --csv grid.csv "
                                       "--games breakout --seeds 1 --frames 3000"),
                 0, "%s", out);
    char hash[13], csv[1024];
    printed_hash("breakout default seed 1, 3000 frames", hash);
    /* seed 1 is done at 10 frames/s; seed 2 would take 1.1 * 3000 / 10 + 120 s for the
     * evaluation */
    snprintf(csv, sizeof csv, "%s\nbreakout,default,1,3000,3100,700,4.5,1,5,100,310,10,2.3,c,d,%s,\n",
             grid_header, hash);
    put("grid.csv", csv);
    cr_assert_eq(script("GRID_DEFAULT_FPS=100", "grid.sh",
                        "--dry-run --configs configs --csv grid.csv --games 'breakout seaquest' "
                        "--seeds '1 2 3' --frames 3000 --hours 0.1"),
                 0, "%s", out);
    cr_assert_not_null(strstr(out, "skip breakout default seed 1, 3000 frames"), "%s", out);
    cr_assert_not_null(strstr(out, "not started breakout default seed 2, 3000 frames: needs "
                                   "about 450 s at 10 frames/s"),
                       "%s", out);
    char line[4096];
    cr_assert_null(command_with("minatar-breakout.ini", line, sizeof line), "%s", out);
    /* seaquest has no rows: 1.1 * 3000 / 100 + 120 = 153 s each, two fit in 360 s, a third
     * not */
    cr_assert_not_null(command_with("seaquest-1 ", line, sizeof line), "%s", out);
    cr_assert_not_null(command_with("seaquest-2 ", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(out, "not started seaquest default seed 3, 3000 frames: needs "
                                   "about 153 s at 100 frames/s"),
                       "%s", out);
    cr_assert_eq(lines_of("grid.csv"), 2, "a dry run adds no row");

    /* another setting is another cell: the row of default does not skip it */
    cr_assert_eq(script("", "grid.sh", "--dry-run --configs configs --csv grid.csv "
                                       "--games breakout --seeds 1 --frames 3000 "
                                       "--settings lr3e-4"),
                 0, "%s", out);
    cr_assert_not_null(command_with("learner.lr=3e-4", line, sizeof line), "%s", out);
    cr_assert_not_null(strstr(line, "--set run.seed=1 "), "%s", line);
    /* an extra --set comes after the setting's and makes another config hash */
    char lr_hash[13], more_hash[13];
    printed_hash("breakout lr3e-4 seed 1", lr_hash);
    cr_assert_eq(script("", "grid.sh", "--dry-run --configs configs --csv grid.csv "
                                       "--games breakout --seeds 1 --frames 3000 "
                                       "--settings lr3e-4 --set learner.target_period=77"),
                 0, "%s", out);
    cr_assert_not_null(command_with("learner.lr=3e-4", line, sizeof line), "%s", out);
    cr_assert(ends_with(line, "--set learner.lr=3e-4 --set learner.target_period=77"), "%s",
              line);
    printed_hash("breakout lr3e-4 seed 1", more_hash);
    cr_assert_str_neq(lr_hash, more_hash);
    cr_assert_not_null(strstr(out, "dry run: 1 would start"), "%s", out);
    cr_assert_eq(script("", "grid.sh", "--dry-run --configs configs --csv grid.csv "
                                       "--games breakout --settings nosuch"),
                 2, "%s", out);
    cr_assert_not_null(strstr(out, "no setting 'nosuch'"), "%s", out);
}

Test(bench_learning, grid_counts_a_finished_run_once_and_never_a_time_capped_one,
     .timeout = 240)
{
    tiny_game_config("breakout");
    const char *args = "--configs configs --csv grid.csv --out runs --games breakout "
                       "--episodes 5 --frames 3000 --seeds 1";
    cr_assert_eq(script("", "grid.sh", args), 0, "%s", out);
    cr_assert_eq(lines_of("grid.csv"), 2, "%s", out);
    char hash[13];
    printed_hash("breakout default seed 1, 3000 frames", hash);
    char path[256], row[1024];
    snprintf(path, sizeof path, "%s/grid.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(row, sizeof row, f));
    cr_assert_eq(strncmp(row, grid_header, strlen(grid_header)), 0, "%s", row);
    cr_assert_not_null(fgets(row, sizeof row, f));
    fclose(f);
    cr_assert_eq(strncmp(row, "breakout,default,1,3000,", 24), 0, "%s", row);
    cr_assert_not_null(strstr(row, hash), "the row carries the config hash: %s", row);
    cr_assert_not_null(strstr(row, ",5,"), "5 evaluation episodes: %s", row);

    /* the same command again: the cell is in the CSV, nothing trains */
    cr_assert_eq(script("", "grid.sh", args), 0, "%s", out);
    cr_assert_not_null(strstr(out, "skip breakout default seed 1, 3000 frames"), "%s", out);
    cr_assert_null(strstr(out, "shoal train"), "%s", out);
    cr_assert_eq(lines_of("grid.csv"), 2, "%s", out);

    /* a run its time cap stops is not counted, and stays a cell to run */
    cr_assert_eq(script("", "grid.sh", "--configs configs --csv grid.csv --out runs "
                                       "--games breakout --episodes 5 --frames 3000000 "
                                       "--seconds 2 --seeds 2"),
                 0, "%s", out);
    cr_assert_not_null(strstr(out, "breakout default seed 2, 3000000 frames not counted: it "
                                   "ended on its time cap of 2 s"),
                       "%s", out);
    cr_assert_eq(lines_of("grid.csv"), 2, "%s", out);
}

/* Writes grid.csv with one row per value: game, setting default, budget frames, seeds 1.. */
static void grid_csv(const char *game, long frames, const char *values)
{
    char csv[4096];
    int n = snprintf(csv, sizeof csv, "%s\n", grid_header);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", values);
    int seed = 1;
    for (char *v = strtok(copy, " "); v; v = strtok(NULL, " ")) {
        n += snprintf(csv + n, sizeof csv - (size_t)n,
                      "%s,default,%d,%ld,%ld,1000,%s,1,%s,100,100,1000,10,c,d,abc,\n", game,
                      seed++, frames, frames, v, v);
    }
    put("grid.csv", csv);
}

Test(bench_learning, iqm_and_its_interval_are_the_hand_worked_values)
{
    /* 3 seeds: trim_mean(0.25) cuts int(0.75) = 0, the mean. Bootstrap: all three draws the
     * lowest has probability 1/27 = 3.7% > 2.5%, so the interval is [min, max]. */
    grid_csv("breakout", 5000000, "3 5 10");
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 20000"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "| breakout | default | 5000000 | abc | 3 | 6.00 | [3.00, "
                                   "10.00] | 3, 5, 10 |"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "| 17 | no |"), "IQM and interval below Breakout's 17: %s",
                       out);
    /* 4 seeds: one cut from each end, IQM (2 + 3) / 2. Three or four draws of 1 (probability
     * 4 (1/4)^3 (3/4) + (1/4)^4 = 5.1% > 2.5%) give an IQM of 1, so the interval is [1, 4]. */
    grid_csv("freeway", 300000, "4 1 3 2");
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 20000"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "| 4 | 2.50 | [1.00, 4.00] |"), "%s", out);
    cr_assert_not_null(strstr(out, "| not measured (budget) |"), "%s", out);
    /* 5 seeds 0 0 0 0 10: one cut from each end. With k draws of 10 (binomial, 5, 1/5) the IQM
     * is 10 min(3, max(0, k - 1)) / 3: P(IQM <= 10/3) = P(k <= 2) = 94.2% < 97.5% <=
     * P(k <= 3) = 99.3%, so the upper end is 20/3; P(IQM = 0) = 73.7%, the lower 0. */
    grid_csv("asterix", 5000000, "0 0 10 0 0");
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 20000"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "| 5 | 0.00 | [0.00, 6.67] |"), "%s", out);
    cr_assert_not_null(strstr(out, "| 20 | no |"), "%s", out);
}

Test(bench_learning, iqm_is_the_same_for_the_same_bootstrap_seed_and_draws_the_seeds_spread)
{
    grid_csv("seaquest", 5000000, "11.3 19.7 24.1 31.9 40.2");
    static char first[sizeof out];
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 3000 --seed 7"), 0, "%s", out);
    memcpy(first, out, sizeof out);
    cr_assert_not_null(strstr(out, "| 5 | 25.23 | ["), "(19.7 + 24.1 + 31.9) / 3: %s", out);
    cr_assert_not_null(strstr(out, "| 20 | not shown (interval reaches below) |"), "%s", out);
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 3000 --seed 7"), 0, "%s", out);
    cr_assert_str_eq(out, first);

    /* curves: the seeds' eval curves beside the CSV, one band per setting */
    char curves[256];
    snprintf(curves, sizeof curves, "%s/grid", dir);
    cr_assert_eq(mkdir(curves, 0755), 0);
    for (int s = 1; s <= 5; s++) {
        char name[128], text[256];
        snprintf(name, sizeof name, "grid/default-seaquest-5000000-s%d-abc.csv", s);
        snprintf(text, sizeof text, "frames,mean,std\n1000000,%d,1\n5000000,%d,1\n", s, 10 * s);
        put(name, text);
    }
    cr_assert_eq(script("", "iqm.sh", "--csv grid.csv --reps 100 --svg svg"), 0, "%s", out);
    char svg[256];
    snprintf(svg, sizeof svg, "%s/svg/seaquest-5000000.svg", dir);
    FILE *f = fopen(svg, "r");
    cr_assert_not_null(f, "%s", out);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert_not_null(strstr(out, "<polygon"), "the band: %s", out);
    cr_assert_not_null(strstr(out, "<polyline"), "the IQM line: %s", out);
    cr_assert_not_null(strstr(out, ">default (5 seeds)</text>"), "%s", out);
}
