#include "env/measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "env/expert.h"
#include "env/vec.h"

/* Running sums of one quantity over episodes. */
typedef struct summary {
    double sum, sq, min, max;
} summary;

static void summary_add(summary *s, double x, uint64_t n_before)
{
    s->sum += x;
    s->sq += x * x;
    s->min = n_before == 0 || x < s->min ? x : s->min;
    s->max = n_before == 0 || x > s->max ? x : s->max;
}

/* Mean, sample standard deviation and its standard error over n episodes. */
static void summary_finish(const summary *s, uint64_t n, double *mean, double *sd, double *se,
                           double *min, double *max)
{
    *mean = n ? s->sum / (double)n : 0;
    double var = n > 1 ? (s->sq - (double)n * *mean * *mean) / (double)(n - 1) : 0;
    *sd = var > 0 ? sqrt(var) : 0;
    *se = n ? *sd / sqrt((double)n) : 0;
    *min = s->min;
    *max = s->max;
}

int env_play(const env_registry *reg, const char *name, const env_options *opts,
             env_policy policy, uint64_t max_steps, uint64_t max_episodes, uint64_t seed,
             env_play_stats *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    if (max_steps == 0 && max_episodes == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: give a number of steps or of episodes",
                             name);
    }
    env *e = env_make(reg, name, opts, err);
    if (!e) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (policy == ENV_POLICY_EXPERT && !env_has_expert(e)) {
        env_free(e);
        return shoal_err_set(err, SHOAL_EINVAL, "%s has no scripted expert", name);
    }
    env_rand pr;
    env_rand_seed(&pr, ENV_RAND_XOSHIRO, seed ^ 0x5eed5eedull);
    summary ret = {0}, len = {0};
    double ep_return = 0;
    uint64_t ep_len = 0;
    env_seed(e, seed);
    env_reset(e, NULL);
    while ((max_steps == 0 || out->steps < max_steps) &&
           (max_episodes == 0 || out->episodes < max_episodes)) {
        uint32_t a = policy == ENV_POLICY_EXPERT
                         ? env_expert_action(e, &pr)
                         : (uint32_t)rng_below(&pr.x, env_n_actions(e));
        env_step_result r = env_step(e, a, NULL);
        out->steps++;
        ep_return += r.reward;
        ep_len++;
        if (r.terminal || r.truncated) {
            summary_add(&ret, ep_return, out->episodes);
            summary_add(&len, (double)ep_len, out->episodes);
            out->episodes++;
            ep_return = 0;
            ep_len = 0;
            env_reset(e, NULL);
        }
    }
    summary_finish(&ret, out->episodes, &out->mean_return, &out->sd_return, &out->se_return,
                   &out->min_return, &out->max_return);
    summary_finish(&len, out->episodes, &out->mean_length, &out->sd_length, &out->se_length,
                   &out->min_length, &out->max_length);
    env_free(e);
    return SHOAL_OK;
}

enum { N_BENCH_ACTIONS = 4096 };

/* One timed run: steps per second by the monotonic clock (returned) and by this thread's CPU
 * time (*cpu_rate). */
static double bench_run(env_vec *v, const uint32_t *actions, const env_vec_out *out,
                        uint64_t steps, double *cpu_rate)
{
    size_t n_envs = env_vec_size(v);
    env_vec_reset(v, out->obs);
    uint64_t t0 = clock_now_ns(), c0 = clock_thread_cpu_ns();
    uint64_t done = 0;
    if (n_envs == 1) {
        /* A single env is stepped directly, as an actor with one env would. */
        env *e = env_vec_env(v, 0);
        for (; done < steps; done++) {
            env_step_result r = env_step(e, actions[done % N_BENCH_ACTIONS], out->obs);
            if (r.terminal || r.truncated) {
                env_reset(e, out->obs);
            }
        }
    } else {
        for (uint64_t k = 0; done < steps; k++, done += n_envs) {
            env_vec_step(v, actions + (k * 977) % N_BENCH_ACTIONS, out);
        }
    }
    double secs = clock_since_s(t0);
    double cpu_secs = (double)(clock_thread_cpu_ns() - c0) * 1e-9;
    *cpu_rate = cpu_secs > 0 ? (double)done / cpu_secs : 0;
    return secs > 0 ? (double)done / secs : 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Median of v[0..n), n >= 1; sorts v. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int env_bench(const env_registry *reg, const char *name, const env_options *opts,
              size_t n_envs, bool write_obs, uint64_t steps, size_t runs,
              env_bench_result *res, shoal_err *err)
{
    if (runs == 0 || runs > ENV_BENCH_MAX_RUNS || steps == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "env bench %s: %zu runs of %llu steps; expected "
                             "1..%d runs of at least one step", name, runs,
                             (unsigned long long)steps, ENV_BENCH_MAX_RUNS);
    }
    env_vec *v = env_vec_new(reg, name, opts, n_envs, 1, err);
    if (!v) {
        return err ? err->code : SHOAL_EINVAL;
    }
    size_t obs_bytes = env_obs_bytes(env_vec_env(v, 0));
    uint32_t *actions = malloc((N_BENCH_ACTIONS + n_envs) * sizeof *actions);
    uint8_t *obs = malloc(n_envs * obs_bytes);
    float *reward = malloc(n_envs * sizeof *reward);
    uint8_t *flags = malloc(2 * n_envs);
    if (!actions || !obs || !reward || !flags) {
        free(actions), free(obs), free(reward), free(flags);
        env_vec_free(v);
        return shoal_err_set(err, SHOAL_ENOMEM, "env bench %s: out of memory", name);
    }
    rng r;
    rng_init(&r, 1, RNG_ROLE_TOOL, 0, 0);
    uint32_t n_actions = env_n_actions(env_vec_env(v, 0));
    for (size_t i = 0; i < N_BENCH_ACTIONS + n_envs; i++) {
        actions[i] = (uint32_t)rng_below(&r, n_actions);
    }
    env_vec_out out = {.obs = write_obs ? obs : NULL, .reward = reward, .terminal = flags,
                       .truncated = flags + n_envs};
    double rates[ENV_BENCH_MAX_RUNS], cpu_rates[ENV_BENCH_MAX_RUNS];
    for (size_t k = 0; k < runs; k++) {
        rates[k] = bench_run(v, actions, &out, steps, &cpu_rates[k]);
    }
    res->median = median(rates, runs);
    res->cpu_median = median(cpu_rates, runs);
    res->min = rates[0];
    res->max = rates[runs - 1];
    free(actions), free(obs), free(reward), free(flags);
    env_vec_free(v);
    return SHOAL_OK;
}
