/* cluster/cmd_env.c: `shoal env` exit codes, output formats and error messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "shoal_cli.h"

static char out[1 << 16];

Test(cmd_env, list_names_every_builtin_environment)
{
    cr_assert_eq(run("env list", out, sizeof out), 0, "%s", out);
    const char *names[] = {"minatar/breakout", "minatar/asterix", "minatar/freeway",
                           "minatar/seaquest", "minatar/space_invaders", "deepsea", "chain"};
    for (size_t i = 0; i < 7; i++) {
        cr_assert(strstr(out, names[i]), "%s missing:\n%s", names[i], out);
    }
    cr_assert(strstr(out, "option size"), "%s", out);
}

Test(cmd_env, bad_usage_exits_2_with_a_message)
{
    cr_assert_eq(run("env", out, sizeof out), 2);
    cr_assert_eq(run("env fly", out, sizeof out), 2);
    cr_assert(strstr(out, "unknown action 'fly'"), "%s", out);
    cr_assert_eq(run("env stats minatar/breakout", out, sizeof out), 2);
    cr_assert(strstr(out, "--seed"), "%s", out);
    cr_assert_eq(run("env stats chain --steps 10 --seed x", out, sizeof out), 2);
    cr_assert_eq(run("env stats chain --steps 10 --seed 1 --policy smart", out, sizeof out), 2);
    cr_assert_eq(run("env bench --bogus", out, sizeof out), 2);
    cr_assert_eq(run("env check-trace", out, sizeof out), 2);
    cr_assert_eq(run("env list --plugin", out, sizeof out), 2);
    cr_assert(strstr(out, "--plugin needs a value"), "%s", out);
    cr_assert_eq(run("env stats chain --steps 10 --seed 1 --options sticky", out, sizeof out), 2);
    cr_assert_eq(run("env --help", out, sizeof out), 0);
    cr_assert(strstr(out, "check-trace"));
    cr_assert_eq(run("env stats --help", out, sizeof out), 0);
}

Test(cmd_env, failures_exit_1_naming_the_input)
{
    cr_assert_eq(run("env stats minatar/pong --steps 10 --seed 1", out, sizeof out), 1);
    cr_assert(strstr(out, "minatar/pong") && strstr(out, "minatar/breakout"), "%s", out);
    cr_assert_eq(run("env bench minatar/pong --runs 1 --steps 10", out, sizeof out), 1);
    cr_assert_eq(run("env check-trace /nonexistent.trace", out, sizeof out), 1);
    cr_assert(strstr(out, "/nonexistent.trace"), "%s", out);
    cr_assert_eq(run("env list --plugin /nonexistent/lib.so", out, sizeof out), 1);
}

Test(cmd_env, stats_and_bench_print_json_objects)
{
    cr_assert_eq(run("env stats chain --episodes 4 --seed 1 --policy expert --json", out,
                     sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "\"mean_return\": 10.000000") && strstr(out, "\"episodes\": 4"),
              "%s", out);
    cr_assert_eq(run("env bench chain --json --runs 1 --steps 1000", out, sizeof out), 0, "%s",
                 out);
    int lines = 0;
    for (char *p = out; (p = strstr(p, "\"steps_per_s\"")) != NULL; p++) {
        lines++;
    }
    cr_assert_eq(lines, 3, "obs, act and vec64 measurements:\n%s", out);
    cr_assert_eq(run("env show minatar/breakout --seed 0", out, sizeof out), 0);
    cr_assert(strstr(out, "##########"), "%s", out);
}
