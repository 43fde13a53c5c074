#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/record.h"
#include "cluster/commands.h"
#include "common/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal demos record --env NAME --policy expert|checkpoint:PATH --episodes N\n"
            "                          --out FILE [--config FILE] [--set section.key=value ...]\n"
            "\n"
            "Plays N whole episodes with the game's scripted expert or a saved network (greedy)\n"
            "and writes them as n-step transitions, encoded as the actors encode theirs\n"
            "(actor.n_step, actor.gamma, actor.batch per record; masks for network.heads > 1),\n"
            "to a demonstration file that replay.demos loads (docs/formats.md). [env] options\n"
            "such as sticky actions and time limits apply; --env replaces env.name.\n"
            "Prints episodes, transitions and the mean return.\n");
}

typedef struct args {
    const char *env, *policy, *out, *config;
    uint64_t episodes;
    bool have_episodes;
    const char **sets;
    int n_sets;
} args;

static int parse(int argc, char **argv, args *a)
{
    shoal_err err = {0};
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        const char *opt = argv[i];
        if (cli_is_help(opt)) {
            usage(stdout);
            return 0;
        } else if (cli_match(argc, argv, &i, "--env", &v)) {
            a->env = v;
        } else if (cli_match(argc, argv, &i, "--policy", &v)) {
            a->policy = v;
        } else if (cli_match(argc, argv, &i, "--out", &v)) {
            a->out = v;
        } else if (cli_match(argc, argv, &i, "--config", &v)) {
            a->config = v;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            a->sets[a->n_sets++] = v;
        } else if (cli_match(argc, argv, &i, "--episodes", &v)) {
            if (v && (cli_parse_u64(v, "--episodes", &a->episodes, &err) != SHOAL_OK ||
                      a->episodes == 0)) {
                fprintf(stderr, "shoal demos record: --episodes needs a count >= 1 ('%s')\n", v);
                return EXIT_USAGE;
            }
            a->have_episodes = true;
        } else {
            fprintf(stderr, "shoal demos record: unexpected argument '%s'\n", opt);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "shoal demos record: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
    }
    if (!a->env || !a->policy || !a->out || !a->have_episodes) {
        fprintf(stderr, "shoal demos record: --env, --policy, --episodes and --out are "
                        "required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

static int record(const args *a)
{
    shoal_err err = {0};
    config *cfg = shoal_config_load(a->config, a->sets, a->n_sets, &err);
    if (!cfg) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return 1;
    }
    static actor_record_config rc;
    int code = actor_record_config_from(cfg, a->env, a->policy, a->episodes, a->out, &rc, &err);
    config_free(cfg);
    if (code == SHOAL_EINVAL && strstr(err.msg, "policy")) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return EXIT_USAGE;
    }
    actor_record_summary s;
    if (code == SHOAL_OK) {
        code = actor_record_run(&rc, &s, &err);
    }
    if (code != SHOAL_OK) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return 1;
    }
    printf("recorded %llu episodes of %s: %llu transitions (%llu env steps) in %llu records, "
           "mean return %.3f -> %s\n",
           (unsigned long long)s.episodes, rc.env_name, (unsigned long long)s.transitions,
           (unsigned long long)s.env_steps, (unsigned long long)s.records, s.mean_return,
           rc.out);
    return 0;
}

int cmd_demos(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "record") != 0) {
        fprintf(stderr, "shoal demos: unknown subcommand '%s' (expected: record)\n", argv[1]);
        return EXIT_USAGE;
    }
    args a = {0};
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets) {
        fprintf(stderr, "shoal demos record: out of memory\n");
        return 1;
    }
    int rc = parse(argc, argv, &a);
    if (rc < 0) {
        rc = record(&a);
    }
    free(a.sets);
    return rc;
}
