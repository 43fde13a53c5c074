/* cluster/cmd_eval.c: `shoal eval CHECKPOINT` and `shoal evaluate --run-dir DIR`, their
 * outputs, the run's config.ini picked up by default, exit codes and SIGTERM. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "evaluator/results.h"
#include "nn/paramfile.h"
#include "evaluator_fixtures.h"

static char dir[64];
static char out[1 << 16];

/* A Chain run: config.ini and checkpoints/step-5.ckpt with an always-right network. */
static void make_run(void)
{
    fx_dir_make(dir, "shoal-cmd-eval");
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    const char *ini = "[env]\nname = chain\nchain_length = 10\n"
                      "[evaluator]\nepisodes = 3\nepsilon = 0\nn_envs = 2\npoll_secs = 0.1\n";
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, ini, strlen(ini), &err), SHOAL_OK);
    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    snprintf(path, sizeof path, "%s/checkpoints/step-5.ckpt", dir);
    cr_assert_eq(nn_paramfile_save(path, net, NULL, 5, 20, &err), SHOAL_OK, "%s", err.msg);
    nn_qnet_free(net);
}

static void remove_run(void)
{
    fx_dir_remove(dir);
}

TestSuite(cmd_eval, .init = make_run, .fini = remove_run);

/* Runs `shoal <args>` (printf-style), capturing stdout (and stderr unless json_only) into
 * out; returns the exit code. */
static int run(int with_stderr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(int with_stderr, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s %s", getenv("SHOAL_BIN"), args,
             with_stderr ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(cmd_eval, eval_prints_the_result_using_the_runs_config)
{
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt", dir), 0, "%s", out);
    cr_assert(strstr(out, "step 5, 20 frames, chain"), "%s", out);
    cr_assert(strstr(out, "mean return 10 \u00b1 0 (min 10, max 10) over 3 episodes"), "%s", out);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --episodes 4", dir), 0, "%s", out);
    cr_assert(strstr(out, "over 4 episodes"), "%s", out);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --set evaluator.epsilon=1", dir), 0);
    cr_assert_null(strstr(out, "mean return 10 "), "random actions do worse: %s", out);
}

Test(cmd_eval, eval_json_is_one_eval_jsonl_object)
{
    cr_assert_eq(run(0, "eval %s/checkpoints/step-5.ckpt --json", dir), 0, "%s", out);
    cr_assert_eq(out[0], '{', "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
    evaluator_record rec;
    shoal_err err = {0};
    cr_assert_eq(evaluator_record_parse(out, &rec, &err), SHOAL_OK, "%s: %s", err.msg, out);
    cr_assert_eq(rec.step, 5);
    cr_assert_eq(rec.frames, 20);
    cr_assert_eq(rec.episodes, 3);
    cr_assert_float_eq(rec.mean, 10.0, 1e-5);
    cr_assert_gt(rec.wall_seconds, 1e9, "the checkpoint's mtime");
    cr_assert(strstr(out, "\"returns\":[10,10,10]"), "%s", out);
}

Test(cmd_eval, eval_refuses_what_it_cannot_evaluate_with_exit_1)
{
    cr_assert_eq(run(1, "eval %s/checkpoints/step-6.ckpt", dir), 1);
    cr_assert(strstr(out, "step-6.ckpt"), "%s", out);
    /* elsewhere than in a run, the defaults (MinAtar Breakout) do not fit a Chain network */
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --config /dev/null", dir), 1, "%s",
                 out);
    cr_assert(strstr(out, "--config"), "the message says what to do: %s", out);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --config %s/none.ini", dir, dir), 1);
    cr_assert(strstr(out, "none.ini"), "%s", out);
}

Test(cmd_eval, bad_usage_exits_2_and_help_exits_0)
{
    cr_assert_eq(run(1, "eval"), 2);
    cr_assert(strstr(out, "CHECKPOINT is required"), "%s", out);
    cr_assert_eq(run(1, "eval a.ckpt b.ckpt"), 2);
    cr_assert_eq(run(1, "eval a.ckpt --bogus"), 2);
    cr_assert_eq(run(1, "eval a.ckpt --episodes"), 2);
    cr_assert(strstr(out, "--episodes needs a value"), "%s", out);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --episodes 0", dir), 2);
    cr_assert(strstr(out, "evaluator.episodes"), "%s", out);
    cr_assert_eq(run(1, "evaluate"), 2);
    cr_assert(strstr(out, "--run-dir is required"), "%s", out);
    cr_assert_eq(run(1, "evaluate --run-dir %s --json", dir), 2);
    cr_assert_eq(run(1, "eval --help"), 0);
    cr_assert(strstr(out, "--episodes") && strstr(out, "--json"), "%s", out);
    cr_assert_eq(run(1, "evaluate --help"), 0);
    cr_assert(strstr(out, "--run-dir") && strstr(out, "SIGTERM"), "%s", out);
    cr_assert_eq(run(1, "evaluate --run-dir %s/nope", dir), 1);
    cr_assert(strstr(out, "nope"), "%s", out);
}

/* Starts `shoal evaluate --run-dir DIR --set evaluator.poll_secs=<poll>` (stderr to
 * /dev/null) and waits until eval.csv has its first row. */
static pid_t start_evaluate(const char *poll)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char run_dir[128], set[64];
        snprintf(run_dir, sizeof run_dir, "%s", dir);
        snprintf(set, sizeof set, "evaluator.poll_secs=%s", poll);
        freopen("/dev/null", "w", stderr);
        execl(getenv("SHOAL_BIN"), "shoal", "evaluate", "--run-dir", run_dir, "--set", set,
              (char *)NULL);
        _exit(127);
    }
    char csv[256];
    snprintf(csv, sizeof csv, "%s/eval.csv", dir);
    struct stat st;
    uint64_t t0 = clock_now_ns();
    while ((stat(csv, &st) != 0 || st.st_size < 60) && clock_since_s(t0) < 20) {
        clock_sleep_ms(50);
    }
    return pid;
}

/* SIGTERM to pid; checks that it exits 0 within 3 s. */
static void stop_evaluate(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status;
    uint64_t t1 = clock_now_ns();
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_lt(clock_since_s(t1), 3.0, "stops promptly");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

Test(cmd_eval, evaluate_watches_the_run_and_exits_0_on_sigterm)
{
    stop_evaluate(start_evaluate("0.1"));
    char *text = fx_read_text(dir, "eval.csv");
    cr_assert(strstr(text, EVALUATOR_CSV_HEADER "5,20,"), "%s", text);
    free(text);
    char svg[256];
    struct stat st;
    snprintf(svg, sizeof svg, "%s/eval.svg", dir);
    cr_assert_eq(stat(svg, &st), 0, "eval.svg drawn");
}

Test(cmd_eval, evaluate_evaluates_a_checkpoint_written_just_before_sigterm)
{
    pid_t pid = start_evaluate("60"); /* after the first scan it only naps until the signal */
    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    char path[256];
    snprintf(path, sizeof path, "%s/checkpoints/step-9.ckpt", dir);
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_save(path, net, NULL, 9, 36, &err), SHOAL_OK, "%s", err.msg);
    nn_qnet_free(net);
    stop_evaluate(pid);
    char *text = fx_read_text(dir, "eval.csv");
    cr_assert(strstr(text, "\n9,36,"), "step 9 was not evaluated at the stop:\n%s", text);
    free(text);
}

Test(cmd_eval, eval_shows_a_progress_bar_on_a_terminal_only)
{
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --episodes 4", dir), 0, "%s", out);
    cr_assert_null(strchr(out, '\r'), "a carriage return went to a pipe: %s", out);
    cr_assert_null(strstr(out, "episodes 100%"), "%s", out);
    if (system("script --version > /dev/null 2>&1") != 0) {
        cr_skip_test("util-linux script(1) is not installed: the terminal half is not checked");
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "script -q -e -c '%s eval %s/checkpoints/step-5.ckpt --episodes 4' "
             "/dev/null", getenv("SHOAL_BIN"), dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "%s", out);
    cr_assert(strstr(out, "shoal eval [########################] 4/4 episodes 100%"), "%s", out);
    cr_assert(strstr(out, "over 4 episodes"), "%s", out);
}

Test(cmd_eval, eval_agreement_prints_the_experts_share_per_span_as_text_or_csv)
{
    /* Chain 10: 18 steps an episode, the always-right network is the expert's own policy */
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --agreement 10", dir), 0, "%s", out);
    cr_assert(strstr(out, "mean return 10 "), "%s", out);
    cr_assert(strstr(out, "steps      0..9       : 100.0% of 30"), "%s", out);
    cr_assert(strstr(out, "steps     10..19      : 100.0% of 24"), "%s", out);
    cr_assert_eq(run(0, "eval %s/checkpoints/step-5.ckpt --agreement 10 --csv", dir), 0, "%s",
                 out);
    cr_assert_str_eq(out, "first_step,last_step,visits,agreement\n0,9,30,1.0000\n"
                          "10,19,24,1.0000\n");
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --csv", dir), 2);
    cr_assert(strstr(out, "give --agreement"), "%s", out);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --agreement 0", dir), 2);
    cr_assert_eq(run(1, "eval %s/checkpoints/step-5.ckpt --agreement 5 --csv --json", dir), 2);
}
