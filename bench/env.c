/* Environment stepping speed on one core (issue 3's figures): for every built-in env, steps
 * per second with and without writing observations, and for a vector of 64 envs writing
 * observations; medians of several runs. `shoal env bench --json` gives the same figures as
 * JSON. bench/reference/minatar_env.py prints the reference MinAtar's figures in this table's
 * format (and alternates rounds of both to give ratios). bench_env --smoke: one run of 20000
 * steps, for the test suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/measure.h"
#include "env/registry.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_env [--cpu] [--game NAME]... [STEPS_PER_RUN [RUNS] | --smoke]\n"
            "Steps per second of every built-in env (or of each --game), median of RUNS runs\n"
            "(default 5) of STEPS_PER_RUN steps (default 2000000): one env writing observations,\n"
            "one env acting only, a vector of 64 envs writing observations.\n"
            "  --cpu        time by the stepping thread's CPU time instead of the monotonic\n"
            "               clock (steadier when other processes share the cores)\n"
            "  --game NAME  only this env (repeatable), e.g. minatar/seaquest\n"
            "  --smoke      one run of 20000 steps (for the test suite)\n");
}

int main(int argc, char **argv)
{
    uint64_t steps = 2000000;
    size_t runs = 5;
    bool cpu = false;
    const char *games[32];
    size_t n_games = 0, n_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--smoke") == 0) {
            steps = 20000;
            runs = 1;
            n_pos = 2; /* no STEPS or RUNS after it */
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--cpu") == 0) {
            cpu = true;
        } else if (strcmp(argv[i], "--game") == 0 && i + 1 < argc && n_games < 32) {
            games[n_games++] = argv[++i];
        } else if (argv[i][0] != '-' && n_pos < 2) {
            unsigned long long v = strtoull(argv[i], &end, 10);
            if (*end != '\0' || v == 0) {
                fprintf(stderr, "bench_env: '%s': expected a positive whole number\n", argv[i]);
                return 2;
            }
            if (n_pos++ == 0) {
                steps = v;
            } else {
                runs = (size_t)v;
            }
        } else {
            fprintf(stderr, "bench_env: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    static const struct {
        const char *label;
        size_t n_envs;
        bool obs;
    } modes[] = {{"with obs", 1, true}, {"act only", 1, false}, {"vec64 obs", 64, true}};
    env_options o;
    env_options_default(&o);
    printf("steps/s, median of %zu runs of %llu steps (MT19937, sticky 0.1, random actions, "
           "%s)\n",
           runs, (unsigned long long)steps, cpu ? "thread CPU time" : "monotonic clock");
    printf("%-24s %14s %14s %14s\n", "env", modes[0].label, modes[1].label, modes[2].label);
    size_t n = n_games ? n_games : env_registry_count(NULL);
    for (size_t i = 0; i < n; i++) {
        const char *name = n_games ? games[i] : env_registry_game(NULL, i)->name;
        printf("%-24s", name);
        for (size_t m = 0; m < 3; m++) {
            env_bench_result r;
            shoal_err err = {0};
            if (env_bench(NULL, name, &o, modes[m].n_envs, modes[m].obs, steps, runs, &r,
                          &err) != SHOAL_OK) {
                fprintf(stderr, "\nbench_env: %s\n", err.msg);
                return 1;
            }
            printf(" %14.0f", cpu ? r.cpu_median : r.median);
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}
