/* Command-line parsing shared by every `shoal` subcommand. A command describes itself once, in a
 * table of options (name, argument, help, where the value goes) plus its usage line and prose;
 * cli_parse reads argv against that table (options written `--name value` or `--name=value`,
 * flags, repeatable options, checked numbers, operands) and cli_help prints the `--help` text
 * generated from the same table, so the two cannot drift apart.
 *
 *     cli_option opts[] = {{"--out", "FILE", "where to write", .value = &out},
 *                          {"--json", NULL, "print JSON", .flag = &json}};
 *     cli_command cmd = {"shoal x", "shoal x --out FILE [--json]", NULL, opts, 2};
 *     int rc = cli_parse(&cmd, argc, argv, &err);   // SHOAL_OK, CLI_HELP or SHOAL_EINVAL
 */
#ifndef SHOAL_COMMON_CLI_H
#define SHOAL_COMMON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

/* cli_parse's answer when the words ask for help (-h or --help); not a SHOAL_E* code. */
#define CLI_HELP (-1)

/* The values of a repeatable option or the operands, in command-line order. cli_parse
 * allocates items (room for every word); cli_list_fini frees them. */
typedef struct cli_list {
    const char **items;
    size_t n;
} cli_list;

/* One row of a command's table. Exactly one target is set: value (the option takes a word),
 * flag (it takes none), list (repeatable, one word each time) or number (an unsigned integer
 * that cli_parse_u64 reads and checks against [min, max]; max 0 means no upper bound). */
typedef struct cli_option {
    const char *name; /* "--config" */
    const char *arg;  /* "FILE", shown in the help; NULL for a flag */
    const char *help; /* one or more lines separated by '\n'; NULL hides the option */
    const char **value;
    bool *flag;
    cli_list *list;
    uint64_t *number;
    uint64_t min, max;
    bool required; /* cli_parse fails, naming every missing one, when it is absent */
    bool *given;   /* optional: set when the option appears */
} cli_option;

/* A command: its name (the prefix of its messages), usage line(s), prose and options. Words
 * that are not options are operands: at most max_operands of them (0: any number) go into
 * operands; with operands NULL none is accepted. */
typedef struct cli_command {
    const char *name;  /* "shoal learner" */
    const char *usage; /* the synopsis after "usage: "; continuation lines carry their indent */
    const char *about; /* paragraphs between the usage and the options, or NULL */
    const cli_option *options;
    size_t n_options;
    const char *notes;   /* paragraphs after the options, or NULL */
    cli_list *operands;  /* NULL: the command takes no operands */
    size_t max_operands; /* 0: unlimited */
    const char *operand; /* the operands' name for messages ("CHECKPOINT") */
    bool operand_required;
} cli_command;

/* Reads argv[1..argc-1] (argv[0] is the command's own name) into the targets of cmd's table,
 * in order. Returns SHOAL_OK, CLI_HELP as soon as a word asks for help, SHOAL_EINVAL with a
 * message naming the word (unknown option, missing value, bad number, missing required option
 * or operand), or SHOAL_ENOMEM. Targets of absent options are left as they were. The lists
 * are allocated either way: free them with cli_list_fini. */
int cli_parse(const cli_command *cmd, int argc, char **argv, shoal_err *err);

/* Prints cmd's --help: "usage: " and the synopsis, the about text, one aligned row per
 * visible option, then the notes. */
void cli_help(const cli_command *cmd, FILE *out);

/* Prints only the synopsis ("usage: ..."), as a reminder after a usage error. */
void cli_synopsis(const cli_command *cmd, FILE *out);

/* Frees list->items; the list is empty afterwards. */
void cli_list_fini(cli_list *list);

/* Whether arg asks for help (-h or --help). */
bool cli_is_help(const char *arg);

/* Parses an unsigned integer (decimal, 0x hex, optional k/M/G suffix) into *out; EINVAL names
 * the option. */
int cli_parse_u64(const char *text, const char *option, uint64_t *out, shoal_err *err);

/* Parses a finite double; EINVAL names the option. */
int cli_parse_double(const char *text, const char *option, double *out, shoal_err *err);

#endif
