/* The shoal binary's command line: help, errors, and docs kept in step with the code. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/fileio.h"

/* Runs `shoal <args>` and captures stdout (stderr merged when merge_stderr); returns the exit
 * code. The caller frees *out. */
static int run_shoal(const char *args, int merge_stderr, char **out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s %s", getenv("SHOAL_BIN"), args,
             merge_stderr ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int status = pclose(p);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(cluster_cli, help_lists_the_commands_and_exits_zero)
{
    char *out;
    cr_assert_eq(run_shoal("--help", 0, &out), 0);
    cr_assert(strstr(out, "config") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run_shoal("config --help", 0, &out), 0);
    cr_assert(strstr(out, "usage: shoal config show") != NULL, "%s", out);
    free(out);
}

Test(cluster_cli, an_unknown_command_is_a_usage_error)
{
    char *out;
    cr_assert_eq(run_shoal("frobnicate", 1, &out), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'") != NULL, "%s", out);
    free(out);
}

Test(cluster_cli, config_show_applies_overrides_and_reports_bad_ones)
{
    char *out;
    cr_assert_eq(run_shoal("config show --set run.seed=77", 0, &out), 0);
    cr_assert(strstr(out, "seed = 77") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run_shoal("config show --set run.sed=1", 1, &out), 1);
    cr_assert(strstr(out, "unknown key 'sed' in [run]; valid keys:") != NULL, "%s", out);
    free(out);
    cr_assert_eq(run_shoal("config show /nonexistent.ini", 1, &out), 1);
    cr_assert(strstr(out, "/nonexistent.ini") != NULL, "%s", out);
    free(out);
}

Test(cluster_cli, the_configuration_reference_in_docs_is_up_to_date)
{
    char *out;
    cr_assert_eq(run_shoal("config reference", 0, &out), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/configuration.md", getenv("SHOAL_SOURCE_DIR"));
    uint8_t *doc;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 20, &doc, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq((char *)doc, out,
                     "docs/configuration.md is stale: run "
                     "`build/cluster/shoal config reference > docs/configuration.md`");
    free(doc);
    free(out);
}
