#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/commands.h"
#include "common/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal config show [FILE] [--set section.key=value ...]\n"
            "       shoal config reference\n"
            "\n"
            "show       print the effective configuration: the defaults, then FILE, then each\n"
            "           --set override in order; every key with its meaning and origin\n"
            "reference  print a markdown table of every key (docs/configuration.md)\n");
}

static int show(int argc, char **argv)
{
    const char *path = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    int n_sets = 0;
    if (!sets) {
        fprintf(stderr, "shoal config show: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *value;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (cli_match(argc, argv, &i, "--set", &value)) {
            if (!value) {
                fprintf(stderr, "shoal config show: --set needs section.key=value\n");
                rc = EXIT_USAGE;
            }
            sets[n_sets++] = value;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "shoal config show: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            rc = EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (rc == 0) {
        shoal_err err = {0};
        config *cfg = shoal_config_load(path, sets, n_sets, &err);
        if (!cfg || config_write(cfg, stdout, &err) != SHOAL_OK) {
            fprintf(stderr, "shoal config show: %s\n", err.msg);
            rc = 1;
        }
        config_free(cfg);
    }
    free(sets);
    return rc;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "show") == 0) {
        return show(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "reference") == 0) {
        if (argc > 2 && cli_is_help(argv[2])) {
            usage(stdout);
            return 0;
        }
        shoal_err err = {0};
        config *cfg = shoal_config_load(NULL, NULL, 0, &err);
        int rc = cfg && config_write_reference(cfg, stdout, &err) == SHOAL_OK ? 0 : 1;
        if (rc) {
            fprintf(stderr, "shoal config reference: %s\n", err.msg);
        }
        config_free(cfg);
        return rc;
    }
    fprintf(stderr, "shoal config: unknown action '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
