/* Environment stepping speed on one core (issue 3's figures): for every built-in env, steps
 * per second with and without writing observations, and for a vector of 64 envs writing
 * observations; medians of several runs. `shoal env bench --json` gives the same figures as
 * JSON. Usage: bench_env [steps_per_run] [runs], or bench_env --smoke (one run of 20000 steps,
 * for the test suite) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/measure.h"
#include "env/registry.h"

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    uint64_t steps = smoke ? 20000 : argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    size_t runs = smoke ? 1 : argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 5;
    static const struct {
        const char *label;
        size_t n_envs;
        bool obs;
    } modes[] = {{"with obs", 1, true}, {"act only", 1, false}, {"vec64 obs", 64, true}};
    env_options o;
    env_options_default(&o);
    printf("steps/s, median of %zu runs of %llu steps (MT19937, sticky 0.1, random actions)\n",
           runs, (unsigned long long)steps);
    printf("%-24s %14s %14s %14s\n", "env", modes[0].label, modes[1].label, modes[2].label);
    for (size_t i = 0; i < env_registry_count(NULL); i++) {
        const char *name = env_registry_game(NULL, i)->name;
        printf("%-24s", name);
        for (size_t m = 0; m < 3; m++) {
            env_bench_result r;
            shoal_err err = {0};
            if (env_bench(NULL, name, &o, modes[m].n_envs, modes[m].obs, steps, runs, &r,
                          &err) != SHOAL_OK) {
                fprintf(stderr, "bench_env: %s\n", err.msg);
                return 1;
            }
            printf(" %14.0f", r.median);
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}
