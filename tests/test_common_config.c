#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static const config_key keys[] = {
    {"replay", "capacity", CONFIG_INT, "1000", 1, 1e9, NULL, "ring size"},
    {"replay", "alpha", CONFIG_FLOAT, "0.6", 0, 1, NULL, "priority exponent"},
    {"replay", "demos", CONFIG_STRING, "", 0, 0, NULL, "demo files"},
    {"actor", "strategy", CONFIG_ENUM, "epsilon", 0, 0, "epsilon|bootstrap|count", "exploration"},
    {"actor", "render", CONFIG_BOOL, "false", 0, 0, NULL, "draw"},
    CONFIG_KEY_END,
};

static config *make(void)
{
    const config_key *tables[] = {keys};
    shoal_err err = {0};
    config *c = config_new(tables, 1, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/shoal-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, defaults_come_from_the_schema)
{
    config *c = make();
    cr_assert_eq(config_int(c, "replay", "capacity"), 1000);
    cr_assert_float_eq(config_float(c, "replay", "alpha"), 0.6, 1e-12);
    cr_assert_str_eq(config_str(c, "actor", "strategy"), "epsilon");
    cr_assert_not(config_bool(c, "actor", "render"));
    cr_assert_not(config_is_set(c, "replay", "capacity"));
    config_free(c);
}

Test(config, a_good_file_sets_every_type)
{
    config *c = make();
    shoal_err err = {0};
    const char *path = write_tmp("; comment\n# another\n[replay]\ncapacity = 0x100\nalpha=0.5 ; inline\n"
                                 "demos = a.demo,b.demo\n[actor]\nstrategy = bootstrap\nrender = yes\n");
    cr_assert_eq(config_load_file(c, path, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(config_int(c, "replay", "capacity"), 256);
    cr_assert_float_eq(config_float(c, "replay", "alpha"), 0.5, 1e-12);
    cr_assert_str_eq(config_str(c, "replay", "demos"), "a.demo,b.demo");
    cr_assert_str_eq(config_str(c, "actor", "strategy"), "bootstrap");
    cr_assert(config_bool(c, "actor", "render"));
    cr_assert(config_is_set(c, "replay", "capacity"));
    unlink(path);
    config_free(c);
}

Test(config, unknown_section_names_file_line_and_lists_sections)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[replay]\ncapacity=5\n[replya]\nalpha=0.1\n", "t.ini", &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "t.ini:4") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "replya") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "replay, actor") != NULL, "%s", err.msg);
    config_free(c);
}

Test(config, unknown_key_lists_the_valid_keys_of_its_section)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[replay]\n\ncapacty = 5\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "t.ini:3") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "capacty") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "capacity, alpha, demos") != NULL, "%s", err.msg);
    config_free(c);
}

Test(config, key_outside_a_section_is_an_error)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "capacity = 5\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "outside any [section]") != NULL, "%s", err.msg);
    config_free(c);
}

Test(config, malformed_numbers_are_errors)
{
    const char *bad[] = {"[replay]\ncapacity = 12abc\n", "[replay]\ncapacity = \n",
                         "[replay]\nalpha = nan\n", "[replay]\nalpha = 0.5.1\n",
                         "[replay]\ncapacity = 99999999999999999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config *c = make();
        shoal_err err = {0};
        cr_assert_eq(config_load_string(c, bad[i], "t.ini", &err), SHOAL_EINVAL, "%s", bad[i]);
        cr_assert(strstr(err.msg, "t.ini:2") != NULL, "%s", err.msg);
        cr_assert(strstr(err.msg, "not a") != NULL, "%s", err.msg);
        config_free(c);
    }
}

Test(config, out_of_range_values_are_errors_with_the_range)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[replay]\nalpha = 1.5\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "out of range [0, 1]") != NULL, "%s", err.msg);
    cr_assert_eq(config_load_string(c, "[replay]\ncapacity = 0\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "out of range") != NULL, "%s", err.msg);
    cr_assert_float_eq(config_float(c, "replay", "alpha"), 0.6, 1e-12, "bad value must not stick");
    config_free(c);
}

Test(config, bad_enum_and_bool_list_the_valid_words)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[actor]\nstrategy = greedy\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "epsilon|bootstrap|count") != NULL, "%s", err.msg);
    cr_assert_eq(config_load_string(c, "[actor]\nrender = maybe\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "true, false") != NULL, "%s", err.msg);
    config_free(c);
}

Test(config, a_line_that_is_not_ini_is_an_error)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[replay]\nthis is not ini\n", "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "t.ini:2") != NULL, "%s", err.msg);
    config_free(c);
}

Test(config, a_missing_file_is_not_found)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_file(c, "/nonexistent/x.ini", &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "/nonexistent/x.ini") != NULL);
    config_free(c);
}

Test(config, overrides_apply_after_the_file_and_are_checked)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_load_string(c, "[replay]\ncapacity = 5\n", "t.ini", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "replay.capacity=7", "--set", &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(config_int(c, "replay", "capacity"), 7);
    cr_assert_eq(config_set(c, "replay.demos=x=y", "--set", &err), SHOAL_OK);
    cr_assert_str_eq(config_str(c, "replay", "demos"), "x=y");
    cr_assert_eq(config_set(c, "replay.capacity", "--set", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "section.key=value") != NULL, "%s", err.msg);
    cr_assert_eq(config_set(c, "capacity=3", "--set", &err), SHOAL_EINVAL);
    cr_assert_eq(config_set(c, "replay.nope=3", "--set", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "--set") != NULL && strstr(err.msg, "nope") != NULL, "%s", err.msg);
    cr_assert_eq(config_set(c, "replay.alpha=2", "--set", &err), SHOAL_EINVAL);
    config_free(c);
}

Test(config, written_configuration_loads_back_equal)
{
    config *c = make();
    shoal_err err = {0};
    cr_assert_eq(config_set(c, "replay.capacity=42", "--set", &err), SHOAL_OK);
    cr_assert_eq(config_set(c, "actor.strategy=count", "--set", &err), SHOAL_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(config_write(c, f, &err), SHOAL_OK);
    fclose(f);
    config *d = make();
    cr_assert_eq(config_load_string(d, buf, "written", &err), SHOAL_OK, "%s\n%s", err.msg, buf);
    cr_assert_eq(config_int(d, "replay", "capacity"), 42);
    cr_assert_str_eq(config_str(d, "actor", "strategy"), "count");
    cr_assert(strstr(buf, "(from --set)") != NULL, "%s", buf);
    free(buf);
    config_free(c);
    config_free(d);
}

/* A run's config.ini is written, read back on --resume, and written again: the comments (a
 * key's description and where its value came from) must stay within inih's line length. */
Test(config, a_written_configuration_with_long_comments_reads_back_again_and_again)
{
    static const config_key wordy[] = {
        {"actor", "episode_log", CONFIG_STRING, "", 0, 0, NULL,
         "append one CSV row per finished episode to this file; '%d' becomes the actor index; "
         "under shoal train a relative path is inside the run folder (empty: off); and this "
         "description goes on for a while longer to be sure it passes two hundred characters"},
        CONFIG_KEY_END,
    };
    const config_key *tables[] = {wordy};
    shoal_err err = {0};
    config *c = config_new(tables, 1, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(config_set(c, "actor.episode_log=episodes-%d.csv", "--set", &err), SHOAL_OK);
    char path[] = "/tmp/shoal-config-long-name-of-a-run-folder-that-is-quite-long-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    for (int round = 0; round < 3; round++) {
        FILE *f = fopen(path, "w");
        cr_assert_eq(config_write(c, f, &err), SHOAL_OK);
        fclose(f);
        f = fopen(path, "r");
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            cr_assert_lt(strlen(line), 196, "round %d: %s", round, line);
        }
        fclose(f);
        config_free(c);
        c = config_new(tables, 1, &err);
        cr_assert_eq(config_load_file(c, path, &err), SHOAL_OK, "round %d: %s", round, err.msg);
        cr_assert_str_eq(config_str(c, "actor", "episode_log"), "episodes-%d.csv");
    }
    unlink(path);
    config_free(c);
}

Test(config, a_schema_that_repeats_a_key_is_refused)
{
    const config_key dup[] = {
        {"a", "x", CONFIG_INT, "1", 0, 2, NULL, ""},
        {"a", "x", CONFIG_INT, "1", 0, 2, NULL, ""},
        CONFIG_KEY_END,
    };
    const config_key *tables[] = {dup};
    shoal_err err = {0};
    cr_assert_null(config_new(tables, 1, &err));
    cr_assert(strstr(err.msg, "a.x twice") != NULL, "%s", err.msg);
}

Test(config, an_overlong_line_is_an_error_not_a_silent_cut)
{
    config *c = make();
    shoal_err err = {0};
    char text[600] = "[replay]\ndemos = ";
    memset(text + strlen(text), 'a', 400);
    strcat(text, "\n");
    cr_assert_eq(config_load_string(c, text, "t.ini", &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "longer than") != NULL, "%s", err.msg);
    config_free(c);
}
