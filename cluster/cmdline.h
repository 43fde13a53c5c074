/* The command-line path every `shoal` subcommand shares: parse argv against the command's
 * table (common/cli.h) and turn help and usage errors into output and an exit code, then load
 * the configuration (the defaults of every part, a file, the --set overrides) through one
 * function, and set up logging from it.
 *
 *     cmdline_args a = {0};
 *     cli_option opts[] = {CMDLINE_CONFIG(&a, true), CMDLINE_SET(&a)};
 *     int rc = cmdline_parse(&cmd, argc, argv);            // CMDLINE_RUN, or the exit code
 *     config *cfg = cmdline_role_config("shoal replay", &a, NULL, false);
 */
#ifndef SHOAL_CLUSTER_CMDLINE_H
#define SHOAL_CLUSTER_CMDLINE_H

#include <stdbool.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"

/* cmdline_parse's answer when the command should go on (exit codes are 0, 1 and 2). */
#define CMDLINE_RUN (-1)

/* Where a subcommand's configuration comes from: --config FILE and the --set overrides. */
typedef struct cmdline_args {
    const char *config;
    cli_list sets;
} cmdline_args;

/* The two rows every configured subcommand has, for its option table. */
#define CMDLINE_CONFIG(a, is_required)                                                         \
    {"--config", "FILE", "configuration file (INI)", .value = &(a)->config,                    \
     .required = (is_required)}
#define CMDLINE_SET(a)                                                                         \
    {"--set", "S.K=V", "override a configuration key (repeatable)", .list = &(a)->sets}

/* Parses argv (argv[0] is the subcommand's name) against cmd. Prints the help on stdout and
 * returns 0 when asked for it; prints "NAME: message" and the synopsis on stderr and returns 2
 * on a usage error (1 when out of memory); else returns CMDLINE_RUN. The lists cmd points to
 * are allocated either way: free them with cli_list_fini. */
int cmdline_parse(const cli_command *cmd, int argc, char **argv);

/* The one way a subcommand loads its configuration: the defaults of every part, then `file`,
 * or when file is NULL and run_dir is not, run_dir/config.ini (a run's own configuration; when
 * run_config_optional and that file does not exist, the defaults), then each override of sets
 * in order. Returns the configuration (caller frees), or NULL with err set. */
config *cmdline_config_load(const char *file, const char *run_dir, bool run_config_optional,
                            const cli_list *sets, shoal_err *err);

/* The configuration of a role subcommand (actor, learner, replay, eval, evaluate): a->config,
 * else run_dir's config.ini as cmdline_config_load takes it, then a->sets; afterwards the facts
 * every role derives from its configuration. Prints "name: message" and returns NULL when it
 * cannot be loaded. */
config *cmdline_role_config(const char *name, const cmdline_args *a, const char *run_dir,
                            bool run_config_optional);

/* Logging for a role from [log]: level, optional file; index tags every line. */
void cmdline_log_setup(const config *cfg, const char *role, int index);

#endif
