/* shoal env: list, benchmark, measure and check the environments (env/). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/commands.h"
#include "common/cli.h"
#include "env/env.h"
#include "env/measure.h"
#include "env/plugin.h"
#include "env/registry.h"
#include "env/trace.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal env list [--plugin LIB]\n"
            "       shoal env bench [NAME] [--json] [--steps N] [--runs R] [--options K=V,...]\n"
            "       shoal env stats NAME --steps N --seed S [--episodes E] [--policy "
            "random|expert] [--options K=V,...] [--json]\n"
            "       shoal env show NAME [--seed S] [--options K=V,...]\n"
            "       shoal env check-trace FILE...\n"
            "\n"
            "list         every environment: shape, observation type, actions, parameters\n"
            "bench        steps per second on one core: one env with and without writing\n"
            "             observations, and a vector of 64 (median of --runs runs, default 5)\n"
            "stats        play uniformly random (or expert) actions: mean episode return and\n"
            "             length with standard errors; the unfinished last episode is dropped\n"
            "             (specs/minatar.md §6.1 played all six actions: --options actions=full)\n"
            "show         print the first observation as ASCII\n"
            "check-trace  replay MinAtar golden traces (shared/fixtures/minatar/README.md);\n"
            "             exit 0 only when every observation, reward and terminal matches\n"
            "\n"
            "--options    env options: sticky=P, ramping=on|off, max_episode_steps=N,\n"
            "             actions=minimal|full, rng=mt19937|xoshiro, and game parameters such\n"
            "             as size=20 (deepsea) or length=50 (chain)\n"
            "--plugin LIB load more environments from shared libraries (comma-separated)\n");
}

typedef struct args {
    const char *name;
    const char *options;
    const char *plugins;
    const char *policy;
    uint64_t steps, episodes, seed, runs;
    bool json, has_steps, has_seed;
    const char **files;
    int n_files;
} args;

static int parse_u64(const char *cmd, const char *value, const char *option, uint64_t *out)
{
    shoal_err err = {0};
    if (!value) {
        fprintf(stderr, "shoal env %s: %s needs a value\n", cmd, option);
        return EXIT_USAGE;
    }
    if (cli_parse_u64(value, option, out, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal env %s: %s\n", cmd, err.msg);
        return EXIT_USAGE;
    }
    return 0;
}

static int need_value(const char *cmd, const char *option, const char *value, const char **out)
{
    if (!value) {
        fprintf(stderr, "shoal env %s: %s needs a value\n", cmd, option);
        return EXIT_USAGE;
    }
    *out = value;
    return 0;
}

/* Parses the words after the action; -1 when --help was printed, else an exit code. */
static int parse_args(const char *cmd, int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v;
        int rc = 0;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return -1;
        } else if (cli_flag(argv[i], "--json")) {
            a->json = true;
        } else if (cli_match(argc, argv, &i, "--steps", &v)) {
            rc = parse_u64(cmd, v, "--steps", &a->steps);
            a->has_steps = true;
        } else if (cli_match(argc, argv, &i, "--episodes", &v)) {
            rc = parse_u64(cmd, v, "--episodes", &a->episodes);
        } else if (cli_match(argc, argv, &i, "--seed", &v)) {
            rc = parse_u64(cmd, v, "--seed", &a->seed);
            a->has_seed = true;
        } else if (cli_match(argc, argv, &i, "--runs", &v)) {
            rc = parse_u64(cmd, v, "--runs", &a->runs);
        } else if (cli_match(argc, argv, &i, "--options", &v)) {
            rc = need_value(cmd, "--options", v, &a->options);
        } else if (cli_match(argc, argv, &i, "--plugin", &v)) {
            rc = need_value(cmd, "--plugin", v, &a->plugins);
        } else if (cli_match(argc, argv, &i, "--policy", &v)) {
            rc = need_value(cmd, "--policy", v, &a->policy);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "shoal env %s: unknown option '%s'\n", cmd, argv[i]);
            rc = EXIT_USAGE;
        } else if (a->files) {
            a->files[a->n_files++] = argv[i];
        } else if (!a->name) {
            a->name = argv[i];
        } else {
            fprintf(stderr, "shoal env %s: unexpected argument '%s'\n", cmd, argv[i]);
            rc = EXIT_USAGE;
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int setup(const char *cmd, const args *a, env_registry **reg, env_options *o)
{
    shoal_err err = {0};
    env_options_default(o);
    *reg = env_registry_new(&err);
    if (!*reg || env_plugin_load_list(*reg, a->plugins, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal env %s: %s\n", cmd, err.msg);
        return 1;
    }
    if (env_options_parse(o, a->options, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal env %s: %s\n", cmd, err.msg);
        return EXIT_USAGE;
    }
    return 0;
}

static const char *dtype_name(obs_dtype d)
{
    return d == OBS_DTYPE_BIT ? "bit" : d == OBS_DTYPE_UINT8 ? "uint8" : "float32";
}

static int list(const env_registry *reg)
{
    env_options o;
    env_options_default(&o);
    for (size_t i = 0; i < env_registry_count(reg); i++) {
        const env_game *g = env_registry_game(reg, i);
        shoal_err err = {0};
        env *e = env_make(reg, g->name, &o, &err);
        if (!e) {
            fprintf(stderr, "shoal env list: %s\n", err.msg);
            return 1;
        }
        obs_shape s = env_obs_shape(e);
        printf("%-24s %ux%ux%u %-5s %u actions (", g->name, s.h, s.w, s.c,
               dtype_name(g->dtype), env_n_actions(e));
        for (uint32_t a = 0; a < env_n_actions(e); a++) {
            printf("%s%s", a ? " " : "", env_action_name(e, a));
        }
        printf(")\n    %s\n", g->summary ? g->summary : "");
        for (size_t p = 0; p < g->n_params; p++) {
            printf("    option %s (default %g): %s\n", g->params[p].name,
                   g->params[p].default_value, g->params[p].doc);
        }
        env_free(e);
    }
    return 0;
}

/* The three measurements of the issue: one env with and without observations, and a vector
 * of 64 writing observations. */
static const struct {
    const char *mode;
    size_t n_envs;
    bool obs;
} bench_modes[] = {{"obs", 1, true}, {"act", 1, false}, {"vec64_obs", 64, true}};

static int bench_one(const env_registry *reg, const char *name, const env_options *o,
                     const args *a)
{
    uint64_t steps = a->has_steps ? a->steps : 2000000;
    size_t runs = a->runs ? (size_t)a->runs : 5;
    if (!a->json) {
        printf("%-24s", name);
    }
    for (size_t m = 0; m < sizeof bench_modes / sizeof bench_modes[0]; m++) {
        env_bench_result r;
        shoal_err err = {0};
        if (env_bench(reg, name, o, bench_modes[m].n_envs, bench_modes[m].obs, steps, runs, &r,
                      &err) != SHOAL_OK) {
            fprintf(stderr, "shoal env bench: %s\n", err.msg);
            return 1;
        }
        if (a->json) {
            printf("{\"env\": \"%s\", \"mode\": \"%s\", \"n_envs\": %zu, "
                   "\"write_obs\": %s, \"steps\": %" PRIu64 ", \"runs\": %zu, "
                   "\"steps_per_s\": %.0f, \"min\": %.0f, \"max\": %.0f}\n",
                   name, bench_modes[m].mode, bench_modes[m].n_envs,
                   bench_modes[m].obs ? "true" : "false", steps, runs, r.median, r.min, r.max);
        } else {
            printf("  %s %7.2f M/s", bench_modes[m].mode, r.median / 1e6);
        }
        fflush(stdout);
    }
    if (!a->json) {
        printf("\n");
    }
    return 0;
}

static int stats(const env_registry *reg, const env_options *o, const args *a)
{
    env_policy policy = ENV_POLICY_RANDOM;
    if (a->policy && strcmp(a->policy, "expert") == 0) {
        policy = ENV_POLICY_EXPERT;
    } else if (a->policy && strcmp(a->policy, "random") != 0) {
        fprintf(stderr, "shoal env stats: --policy %s: expected random or expert\n", a->policy);
        return EXIT_USAGE;
    }
    if (!a->name || (!a->has_steps && !a->episodes) || !a->has_seed) {
        fprintf(stderr, "shoal env stats: needs NAME, --steps N (or --episodes E) and --seed S\n");
        return EXIT_USAGE;
    }
    env_play_stats s;
    shoal_err err = {0};
    if (env_play(reg, a->name, o, policy, a->steps, a->episodes, a->seed, &s, &err) !=
        SHOAL_OK) {
        fprintf(stderr, "shoal env stats: %s\n", err.msg);
        return 1;
    }
    const char *pol = policy == ENV_POLICY_EXPERT ? "expert" : "random";
    if (a->json) {
        printf("{\"env\": \"%s\", \"policy\": \"%s\", \"seed\": %" PRIu64 ", \"steps\": %" PRIu64
               ", \"episodes\": %" PRIu64 ", \"mean_return\": %.6f, \"se_return\": %.6f, "
               "\"sd_return\": %.6f, \"max_return\": %g, \"mean_length\": %.4f, "
               "\"se_length\": %.4f, \"sd_length\": %.4f}\n",
               a->name, pol, a->seed, s.steps, s.episodes, s.mean_return, s.se_return,
               s.sd_return, s.max_return, s.mean_length, s.se_length, s.sd_length);
    } else {
        printf("%s, %s policy, seed %" PRIu64 ": %" PRIu64 " steps, %" PRIu64 " episodes\n"
               "  return %.4f +- %.4f (sd %.3f, max %g)\n  length %.2f +- %.2f (sd %.2f, "
               "[%g, %g])\n",
               a->name, pol, a->seed, s.steps, s.episodes, s.mean_return, s.se_return,
               s.sd_return, s.max_return, s.mean_length, s.se_length, s.sd_length,
               s.min_length, s.max_length);
    }
    return 0;
}

static int show(const env_registry *reg, const env_options *o, const args *a)
{
    if (!a->name) {
        fprintf(stderr, "shoal env show: needs NAME\n");
        return EXIT_USAGE;
    }
    shoal_err err = {0};
    env *e = env_make(reg, a->name, o, &err);
    if (!e) {
        fprintf(stderr, "shoal env show: %s\n", err.msg);
        return 1;
    }
    env_seed(e, a->seed);
    env_reset(e, NULL);
    size_t need = env_render(e, NULL, 0) + 1;
    char *buf = malloc(need);
    if (buf) {
        env_render(e, buf, need);
        fputs(buf, stdout);
    }
    free(buf);
    env_free(e);
    return buf ? 0 : 1;
}

static int check_traces(const env_registry *reg, const args *a)
{
    if (a->n_files == 0) {
        fprintf(stderr, "shoal env check-trace: needs at least one FILE\n");
        return EXIT_USAGE;
    }
    int rc = 0;
    for (int i = 0; i < a->n_files; i++) {
        env_trace_result res;
        shoal_err err = {0};
        if (env_trace_check(reg, a->files[i], &res, &err) != SHOAL_OK) {
            fprintf(stderr, "shoal env check-trace: %s\n", err.msg);
            rc = 1;
        } else if (!res.match) {
            printf("%s: MISMATCH at %s\n", a->files[i], res.detail);
            rc = 1;
        } else {
            printf("%s: ok (%" PRIu64 " steps, %" PRIu64 " resets)\n", a->files[i], res.n_steps,
                   res.n_episodes);
        }
    }
    return rc;
}

int cmd_env(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *action = argv[1];
    static const char *const actions[] = {"list", "bench", "stats", "show", "check-trace"};
    size_t k = 0;
    while (k < sizeof actions / sizeof actions[0] && strcmp(action, actions[k]) != 0) {
        k++;
    }
    if (k == sizeof actions / sizeof actions[0]) {
        fprintf(stderr, "shoal env: unknown action '%s'\n", action);
        usage(stderr);
        return EXIT_USAGE;
    }
    args a = {0};
    if (strcmp(action, "check-trace") == 0) {
        a.files = calloc((size_t)argc, sizeof *a.files);
        if (!a.files) {
            return 1;
        }
    }
    env_registry *reg = NULL;
    env_options o;
    int rc = parse_args(action, argc - 1, argv + 1, &a);
    if (rc == 0) {
        rc = setup(action, &a, &reg, &o);
    }
    if (rc == 0) {
        if (strcmp(action, "list") == 0) {
            rc = list(reg);
        } else if (strcmp(action, "bench") == 0) {
            for (size_t i = 0; i < env_registry_count(reg) && rc == 0; i++) {
                const char *name = env_registry_game(reg, i)->name;
                if (!a.name || strcmp(a.name, name) == 0) {
                    rc = bench_one(reg, name, &o, &a);
                }
            }
            if (a.name && !env_registry_find(reg, a.name)) {
                fprintf(stderr, "shoal env bench: unknown environment '%s' (shoal env list)\n",
                        a.name);
                rc = 1;
            }
        } else if (strcmp(action, "stats") == 0) {
            rc = stats(reg, &o, &a);
        } else if (strcmp(action, "show") == 0) {
            rc = show(reg, &o, &a);
        } else {
            rc = check_traces(reg, &a);
        }
    }
    env_registry_free(reg);
    free(a.files);
    return rc < 0 ? 0 : rc;
}
