/* common/cli.c: the table-driven parser every subcommand uses, and the help it generates. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

typedef struct fixture {
    const char *config, *name;
    bool json, have_n;
    uint64_t n, shard;
    cli_list sets, files;
    cli_option options[5];
    cli_command cmd;
} fixture;

static void init(fixture *f)
{
    memset(f, 0, sizeof *f);
    cli_option options[] = {
        {"--config", "FILE", "configuration file", .value = &f->config, .required = true},
        {"--json", NULL, "print JSON", .flag = &f->json},
        {"--set", "S.K=V", "override a key\n(repeatable)", .list = &f->sets},
        {"--n", "N", "a count", .number = &f->n, .min = 1, .given = &f->have_n},
        {"--shard", "I", NULL, .number = &f->shard, .max = 7},
    };
    memcpy(f->options, options, sizeof options);
    f->cmd = (cli_command){.name = "shoal t", .usage = "shoal t --config FILE [FILE...]",
                           .about = "Does t.", .options = f->options, .n_options = 5,
                           .notes = "Exit 0.", .operands = &f->files, .max_operands = 2,
                           .operand = "FILE"};
}

static void fini(fixture *f)
{
    cli_list_fini(&f->sets);
    cli_list_fini(&f->files);
}

static int parse(fixture *f, shoal_err *err, int argc, ...)
{
    char *argv[16] = {"t"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc; i++) {
        argv[i] = va_arg(ap, char *);
    }
    va_end(ap);
    return cli_parse(&f->cmd, argc, argv, err);
}

Test(common_cli, values_flags_lists_numbers_and_operands_land_in_their_targets)
{
    fixture f;
    init(&f);
    shoal_err err = {0};
    cr_assert_eq(parse(&f, &err, 10, "--config", "a.ini", "--json", "--set=x.y=1", "one",
                       "--set", "x.z=2", "--n=2k", "two"),
                 SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(f.config, "a.ini");
    cr_assert(f.json);
    cr_assert_eq(f.sets.n, 2);
    cr_assert_str_eq(f.sets.items[0], "x.y=1");
    cr_assert_str_eq(f.sets.items[1], "x.z=2");
    cr_assert_eq(f.n, 2000);
    cr_assert(f.have_n);
    cr_assert_eq(f.files.n, 2);
    cr_assert_str_eq(f.files.items[1], "two");
    fini(&f);
}

Test(common_cli, every_missing_required_word_is_named_in_one_message)
{
    fixture f;
    init(&f);
    f.cmd.operand_required = true;
    shoal_err err = {0};
    cr_assert_eq(parse(&f, &err, 2, "--json"), SHOAL_EINVAL);
    cr_assert_str_eq(err.msg, "FILE and --config are required");
    fini(&f);
    init(&f);
    cr_assert_eq(parse(&f, &err, 2, "x"), SHOAL_EINVAL);
    cr_assert_str_eq(err.msg, "--config is required");
    fini(&f);
}

Test(common_cli, bad_words_are_errors_that_name_them)
{
    struct {
        int argc;
        const char *a, *b, *c, *d;
        const char *want;
    } cases[] = {
        {2, "--bogus", NULL, NULL, NULL, "unknown option '--bogus'"},
        {2, "--config", NULL, NULL, NULL, "--config needs a value (--config FILE)"},
        {3, "--n", "0", NULL, NULL, "--n needs a number >= 1 (got '0')"},
        {3, "--shard", "8", NULL, NULL, "--shard needs a number 0..7 (got '8')"},
        {3, "--shard", "x", NULL, NULL, "--shard 'x' is not a non-negative integer"},
        {5, "--config", "c", "a", "b", NULL},
        {2, "--json=1", NULL, NULL, NULL, "unknown option '--json=1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        init(&f);
        shoal_err err = {0};
        int rc = parse(&f, &err, cases[i].argc, cases[i].a, cases[i].b, cases[i].c, cases[i].d);
        if (!cases[i].want) {
            cr_assert_eq(rc, SHOAL_OK, "two operands are allowed: %s", err.msg);
            fini(&f);
            init(&f);
            cr_assert_eq(parse(&f, &err, 4, "x", "y", "z"), SHOAL_EINVAL);
            cr_assert_str_eq(err.msg, "unexpected argument 'z'");
        } else {
            cr_assert_eq(rc, SHOAL_EINVAL, "case %zu", i);
            cr_assert_str_eq(err.msg, cases[i].want);
        }
        fini(&f);
    }
}

Test(common_cli, help_stops_parsing_where_it_is_asked_for)
{
    fixture f;
    init(&f);
    shoal_err err = {0};
    cr_assert_eq(parse(&f, &err, 2, "-h"), CLI_HELP);
    fini(&f);
    init(&f);
    cr_assert_eq(parse(&f, &err, 3, "--bogus", "--help"), SHOAL_EINVAL, "the first word wins");
    fini(&f);
    init(&f);
    f.cmd.operands = NULL;
    cr_assert_eq(parse(&f, &err, 2, "-"), SHOAL_EINVAL);
    cr_assert_str_eq(err.msg, "unexpected argument '-'", "a lone '-' is an operand");
    fini(&f);
}

Test(common_cli, help_is_generated_from_the_table_in_aligned_columns)
{
    fixture f;
    init(&f);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_not_null(out);
    cli_help(&f.cmd, out);
    fclose(out);
    const char *want = "usage: shoal t --config FILE [FILE...]\n"
                       "\n"
                       "Does t.\n"
                       "\n"
                       "  --config FILE  configuration file\n"
                       "  --json         print JSON\n"
                       "  --set S.K=V    override a key\n"
                       "                 (repeatable)\n"
                       "  --n N          a count\n"
                       "\n"
                       "Exit 0.\n";
    cr_assert_str_eq(text, want, "hidden options (help NULL) are left out");
    free(text);
    fini(&f);
}
