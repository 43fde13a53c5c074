/* Shared by the test programs of `shoal` subcommands and scripts: run the binary ($SHOAL_BIN)
 * with arguments, or a shell command, capturing its output. */
#ifndef SHOAL_TESTS_SHOAL_CLI_H
#define SHOAL_TESTS_SHOAL_CLI_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Runs the shell command cmd, capturing its stdout (add 2>&1 for stderr) into out; returns the
 * exit code. */
static inline int run_shell(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Runs `shoal <args>`, capturing stdout+stderr into out; returns the exit code. */
static inline int run(const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", getenv("SHOAL_BIN"), args);
    return run_shell(cmd, out, cap);
}

#endif
