/* The `shoal` subcommands. Each takes the words after its name (argv[0] is the subcommand's
 * own name), prints its own --help, and returns the process exit code: 0 success, 1 failure,
 * 2 bad usage. Only these functions and main() print errors and choose exit codes. */
#ifndef SHOAL_CLUSTER_COMMANDS_H
#define SHOAL_CLUSTER_COMMANDS_H

#include "actor/record.h"
#include "common/config.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

int cmd_config(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_env(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_learner(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_actor(int argc, char **argv);
int cmd_demos(int argc, char **argv);
int cmd_play(int argc, char **argv);

/* The line `shoal demos record` and `shoal play` end with: "<verb> N episodes of ENV: ..." */
void demos_print_summary(const char *verb, const actor_record_config *rc,
                         const actor_record_summary *s);
int cmd_status(int argc, char **argv);

/* A configuration with every part's schema and defaults; NULL with err on failure.
 * Loads path (may be NULL) and then each "--set" override in order. */
config *shoal_config_load(const char *path, const char *const *overrides, int n_overrides,
                          shoal_err *err);

/* The schema tables of every part, for config_new. */
const config_key *const *shoal_config_tables(size_t *n_tables);

#define EXIT_USAGE 2

#endif
