/* Command-line helpers shared by every `shoal` subcommand: options written `--name value` or
 * `--name=value`, flags, `--help`, and checked number parsing with messages that name the
 * option.
 *
 *     for (int i = 1; i < argc; i++) {
 *         if (cli_match(argc, argv, &i, "--out", &out_path)) continue;
 *         if (cli_flag(argv[i], "--json")) { json = true; continue; }
 *         return cli_unknown(cmd, argv[i]);
 *     }
 */
#ifndef SHOAL_COMMON_CLI_H
#define SHOAL_COMMON_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* Whether argv[*i] is option `name` with a value ("--name v" or "--name=v"). On a match the
 * value is stored (NULL when "--name" is the last word: the caller reports it missing) and *i
 * is advanced past a separate value word. */
bool cli_match(int argc, char **argv, int *i, const char *name, const char **value);

/* Whether arg is exactly flag. */
bool cli_flag(const char *arg, const char *flag);

/* Whether arg asks for help (-h or --help). */
bool cli_is_help(const char *arg);

/* Parses an unsigned integer (decimal, 0x hex, optional k/M/G suffix) into *out; EINVAL names
 * the option. */
int cli_parse_u64(const char *text, const char *option, uint64_t *out, shoal_err *err);

/* Parses a finite double; EINVAL names the option. */
int cli_parse_double(const char *text, const char *option, double *out, shoal_err *err);

#endif
