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
