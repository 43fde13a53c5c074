/* Measurements of an environment: episode statistics of a policy (uniformly random or the
 * scripted expert) and raw stepping speed, shared by `shoal env stats|bench`, bench/env.c and
 * the tests. Statistics follow specs/minatar.md §6.1: the unfinished last episode is dropped
 * and the standard error is the sample standard deviation over sqrt(episodes).
 *
 *     env_play_stats s;
 *     env_play(NULL, "minatar/breakout", &opts, ENV_POLICY_RANDOM, 100000, 0, 1, &s, &err);
 *     printf("%.4f +- %.4f\n", s.mean_return, s.se_return);
 */
#ifndef SHOAL_ENV_MEASURE_H
#define SHOAL_ENV_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

#include "env/env.h"

typedef enum env_policy {
    ENV_POLICY_RANDOM = 0, /* uniform over the env's agent actions, from its own generator */
    ENV_POLICY_EXPERT = 1, /* env/expert.h */
} env_policy;

typedef struct env_play_stats {
    uint64_t steps, episodes;
    double mean_return, se_return, sd_return, min_return, max_return;
    double mean_length, se_length, sd_length, min_length, max_length;
} env_play_stats;

/* Plays policy in env name, seeded with seed (the policy's generator derives from it too),
 * until max_steps steps or max_episodes finished episodes, whichever comes first (0: no limit
 * on that count; at least one must be set). EINVAL/ENOTFOUND as env_make, EINVAL when both
 * limits are 0 or the expert policy is asked of a game without one. */
int env_play(const env_registry *reg, const char *name, const env_options *opts,
             env_policy policy, uint64_t max_steps, uint64_t max_episodes, uint64_t seed,
             env_play_stats *out, shoal_err *err);

/* Steps per second of `runs` timed runs (median, slowest, fastest) by the monotonic clock, and
 * the median by the stepping thread's CPU time (steadier on a machine shared with other work). */
typedef struct env_bench_result {
    double median, min, max;
    double cpu_median;
} env_bench_result;

#define ENV_BENCH_MAX_RUNS 64

/* Stepping speed: steps per second over `steps` steps of uniformly random actions (drawn
 * before timing), on n_envs envs stepped as one vector (1: a single env, stepped directly),
 * writing observations or not; runs (1..ENV_BENCH_MAX_RUNS) timed runs. */
int env_bench(const env_registry *reg, const char *name, const env_options *opts,
              size_t n_envs, bool write_obs, uint64_t steps, size_t runs,
              env_bench_result *out, shoal_err *err);

#endif
