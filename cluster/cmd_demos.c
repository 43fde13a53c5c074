#include <stdio.h>
#include <string.h>

#include "actor/record.h"
#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "common/pbar.h"
#include "replay/client.h"

typedef struct args {
    cmdline_args cfg;
    const char *env, *policy, *out;
    uint64_t episodes;
} args;

/* Parses the words after `shoal demos record` into a. */
static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--env", "NAME", "the environment (replaces env.name)", .value = &a->env,
         .required = true},
        {"--policy", "expert|checkpoint:PATH", "the game's scripted expert, or a saved network",
         .value = &a->policy, .required = true},
        {"--episodes", "N", "whole episodes to play", .number = &a->episodes, .min = 1,
         .required = true},
        {"--out", "FILE", "the demonstration file to write", .value = &a->out, .required = true},
        CMDLINE_CONFIG(&a->cfg, false),
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal demos record",
        .usage = "shoal demos record --env NAME --policy expert|checkpoint:PATH --episodes N\n"
                 "                          --out FILE [--config FILE] [--set section.key=value ...]",
        .about = "Plays N whole episodes with the game's scripted expert or a saved network (greedy)\n"
                 "and writes them as n-step transitions, encoded as the actors encode theirs\n"
                 "(actor.n_step, actor.gamma, actor.batch per record; masks for network.heads > 1),\n"
                 "to a demonstration file that replay.demos loads (docs/formats.md). [env] options\n"
                 "such as sticky actions and time limits apply; --env replaces env.name.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Prints episodes, transitions and the mean return. `shoal demos check FILE...`\n"
                 "checks recorded files whole (see its --help).",
    };
    return cmdline_parse(&cmd, argc, argv);
}

static int record(const args *a)
{
    shoal_err err = {0};
    config *cfg = cmdline_config_load(a->cfg.config, NULL, false, &a->cfg.sets, &err);
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
    pbar bar;
    pbar_init(&bar, stderr, "shoal demos record", "episodes", a->episodes);
    rc.progress = pbar_callback;
    rc.progress_arg = &bar;
    if (code == SHOAL_OK) {
        code = actor_record_run(&rc, &s, &err);
    }
    pbar_finish(&bar);
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

/* `shoal demos check FILE...`: each file checked whole as a shard checks it before loading. */
static int check(int argc, char **argv)
{
    cli_list files = {0};
    const cli_command cmd = {
        .name = "shoal demos check",
        .usage = "shoal demos check FILE...",
        .about = "Checks demonstration files whole, as a replay shard does before it loads them\n"
                 "(header, size, every record's CRC and contents, record and transition counts,\n"
                 "checksum; docs/formats.md), and prints what each holds or what is wrong with it.",
        .notes = "Exit code 1 when any file is refused. A version 1 file (recorded before the\n"
                 "counts and checksum) passes every check it allows, but a cut at a record\n"
                 "boundary cannot be seen in it: record it again.",
        .operands = &files,
        .operand = "FILE",
        .operand_required = true,
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    for (size_t i = 0; rc == CMDLINE_RUN && i < files.n; i++) {
        replay_demo_summary s;
        shoal_err err = {0};
        if (replay_demo_check(files.items[i], &s, &err) != SHOAL_OK) {
            fprintf(stderr, "shoal demos check: refused: %s\n", err.msg);
            rc = 1;
            continue;
        }
        printf("%s: version %u, %llu records, %llu transitions%s\n", files.items[i], s.version,
               (unsigned long long)s.records, (unsigned long long)s.transitions,
               s.version == 1 ? " (version 1: a cut at a record boundary cannot be detected; "
                                "record it again)"
                              : ", whole");
    }
    cli_list_fini(&files);
    return rc == CMDLINE_RUN ? 0 : rc;
}

int cmd_demos(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        return check(argc - 1, argv + 1);
    }
    bool recording = argc >= 2 && strcmp(argv[1], "record") == 0;
    if (argc >= 2 && !recording && !cli_is_help(argv[1])) {
        fprintf(stderr, "shoal demos: unknown subcommand '%s' (expected: record, check)\n",
                argv[1]);
        return EXIT_USAGE;
    }
    /* `shoal demos` and `shoal demos --help` answer as `shoal demos record` would: with the
     * missing options, or the help. */
    args a = {0};
    int rc = recording ? parse(argc - 1, argv + 1, &a) : parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = record(&a);
    }
    cli_list_fini(&a.cfg.sets);
    return rc;
}
