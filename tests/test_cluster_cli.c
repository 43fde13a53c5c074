/* The shoal binary's command line: help, errors, and docs kept in step with the code. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/fileio.h"
#include "shoal_cli.h"

static char out[1 << 16];

Test(cluster_cli, help_lists_the_commands_and_exits_zero)
{
    cr_assert_eq(run("--help", out, sizeof out), 0);
    cr_assert(strstr(out, "config") != NULL, "%s", out);
    cr_assert_eq(run("config --help", out, sizeof out), 0);
    cr_assert(strstr(out, "usage: shoal config show") != NULL, "%s", out);
}

Test(cluster_cli, an_unknown_command_is_a_usage_error)
{
    cr_assert_eq(run("frobnicate", out, sizeof out), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'") != NULL, "%s", out);
}

Test(cluster_cli, config_show_applies_overrides_and_reports_bad_ones)
{
    cr_assert_eq(run("config show --set run.seed=77", out, sizeof out), 0);
    cr_assert(strstr(out, "seed = 77") != NULL, "%s", out);
    cr_assert_eq(run("config show --set run.sed=1", out, sizeof out), 1);
    cr_assert(strstr(out, "unknown key 'sed' in [run]; valid keys:") != NULL, "%s", out);
    cr_assert_eq(run("config show /nonexistent.ini", out, sizeof out), 1);
    cr_assert(strstr(out, "/nonexistent.ini") != NULL, "%s", out);
}

Test(cluster_cli, config_file_shows_the_file_as_config_show_does)
{
    char path[1024], args[1200];
    snprintf(path, sizeof path, "%s/cluster/configs/deepsea-bootstrap.ini",
             getenv("SHOAL_SOURCE_DIR"));
    snprintf(args, sizeof args, "config show %s --set run.seed=78", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    static char shown[sizeof out];
    memcpy(shown, out, sizeof out);
    snprintf(args, sizeof args, "config %s --set run.seed=78", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, shown, "`config FILE` differs from `config show FILE`");
    cr_assert(strstr(out, "seed = 78") != NULL, "%s", out);
    cr_assert(strstr(out, "deepsea") != NULL, "the file's env is shown: %s", out);

    cr_assert_eq(run("config /nonexistent.ini", out, sizeof out), 2);
    cr_assert(strstr(out, "'/nonexistent.ini' is neither an action (show, reference) nor a file")
                  != NULL, "%s", out);
    cr_assert(strstr(out, "shoal config show FILE") != NULL, "the error names show: %s", out);
    cr_assert_eq(run("config shwo", out, sizeof out), 2);
    cr_assert(strstr(out, "'shwo' is neither") != NULL, "%s", out);
}

Test(cluster_cli, the_configuration_reference_in_docs_is_up_to_date)
{
    cr_assert_eq(run("config reference", out, sizeof out), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/config.md", getenv("SHOAL_SOURCE_DIR"));
    uint8_t *doc;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 20, &doc, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq((char *)doc, out,
                     "docs/config.md is stale: run "
                     "`build/cluster/shoal config reference > docs/config.md`");
    free(doc);
}

Test(cluster_cli, every_shipped_config_loads)
{
    char dir_path[1024];
    snprintf(dir_path, sizeof dir_path, "%s/cluster/configs", getenv("SHOAL_SOURCE_DIR"));
    DIR *d = opendir(dir_path);
    cr_assert_not_null(d, "%s", dir_path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0) {
            continue;
        }
        char args[2048];
        snprintf(args, sizeof args, "config show %s/%s", dir_path, e->d_name);
        cr_assert_eq(run(args, out, sizeof out), 0, "%s: %s", e->d_name, out);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 10, "the shipped configs were not found in %s", dir_path);
}
