#include "common/cli.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether argv[*i] is option `name` with a value ("--name v" or "--name=v"). On a match the
 * value is stored (NULL when "--name" is the last word) and *i is advanced past a separate
 * value word. */
static bool match_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0) {
        return false;
    }
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return true;
    }
    if (arg[len] != '\0') {
        return false;
    }
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* An option word starts with '-'; a lone "-" is an operand (standard input, by custom). */
static bool is_option_word(const char *word)
{
    return word[0] == '-' && word[1] != '\0';
}

static int list_alloc(cli_list *list, int argc, shoal_err *err)
{
    if (!list || list->items) {
        return SHOAL_OK;
    }
    list->items = calloc((size_t)argc + 1, sizeof *list->items);
    list->n = 0;
    return list->items ? SHOAL_OK : shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
}

void cli_list_fini(cli_list *list)
{
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

static int store_number(const cli_option *o, const char *text, shoal_err *err)
{
    uint64_t v;
    int rc = cli_parse_u64(text, o->name, &v, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (v < o->min || (o->max && v > o->max)) {
        if (o->max) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s needs a number %llu..%llu (got '%s')",
                                 o->name, (unsigned long long)o->min,
                                 (unsigned long long)o->max, text);
        }
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a number >= %llu (got '%s')", o->name,
                             (unsigned long long)o->min, text);
    }
    *o->number = v;
    return SHOAL_OK;
}

/* Stores the value of option o (text is NULL when the value word is missing). */
static int store(const cli_option *o, const char *text, shoal_err *err)
{
    if (o->given) {
        *o->given = true;
    }
    if (o->flag) {
        *o->flag = true;
        return SHOAL_OK;
    }
    if (!text) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a value (%s %s)", o->name, o->name,
                             o->arg ? o->arg : "VALUE");
    }
    if (o->number) {
        return store_number(o, text, err);
    }
    if (o->list) {
        o->list->items[o->list->n++] = text;
    } else {
        *o->value = text;
    }
    return SHOAL_OK;
}

/* The row of cmd that argv[*i] names, or NULL; *text receives its value word. */
static const cli_option *find(const cli_command *cmd, int argc, char **argv, int *i,
                              const char **text, size_t *row)
{
    for (size_t k = 0; k < cmd->n_options; k++) {
        const cli_option *o = &cmd->options[k];
        bool hit = o->flag ? strcmp(argv[*i], o->name) == 0
                           : match_value(argc, argv, i, o->name, text);
        if (hit) {
            *row = k;
            return o;
        }
    }
    return NULL;
}

static int add_operand(const cli_command *cmd, const char *word, shoal_err *err)
{
    cli_list *ops = cmd->operands;
    if (!ops || (cmd->max_operands && ops->n >= cmd->max_operands)) {
        return shoal_err_set(err, SHOAL_EINVAL, "unexpected argument '%s'", word);
    }
    ops->items[ops->n++] = word;
    return SHOAL_OK;
}

/* "A is required" or "A, B and C are required", naming every missing operand and option. */
static int check_required(const cli_command *cmd, uint64_t seen, shoal_err *err)
{
    const char *missing[65];
    size_t n = 0;
    if (cmd->operand_required && cmd->operands && cmd->operands->n == 0) {
        missing[n++] = cmd->operand;
    }
    for (size_t k = 0; k < cmd->n_options; k++) {
        if (cmd->options[k].required && !(seen & (1ull << k))) {
            missing[n++] = cmd->options[k].name;
        }
    }
    if (n == 0) {
        return SHOAL_OK;
    }
    char text[sizeof err->msg] = "";
    size_t len = 0;
    for (size_t k = 0; k < n && len < sizeof text; k++) {
        const char *sep = k == 0 ? "" : k + 1 == n ? " and " : ", ";
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", sep, missing[k]);
    }
    return shoal_err_set(err, SHOAL_EINVAL, "%s %s required", text, n == 1 ? "is" : "are");
}

static int alloc_lists(const cli_command *cmd, int argc, shoal_err *err)
{
    int rc = list_alloc(cmd->operands, argc, err);
    for (size_t k = 0; rc == SHOAL_OK && k < cmd->n_options; k++) {
        rc = list_alloc(cmd->options[k].list, argc, err);
    }
    return rc;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, shoal_err *err)
{
    assert(cmd->n_options <= 64); /* the seen mask */
    int rc = alloc_lists(cmd, argc, err);
    uint64_t seen = 0;
    for (int i = 1; rc == SHOAL_OK && i < argc; i++) {
        const char *word = argv[i];
        const char *text = NULL;
        size_t row = 0;
        if (cli_is_help(word)) {
            return CLI_HELP;
        }
        const cli_option *o = find(cmd, argc, argv, &i, &text, &row);
        if (o) {
            seen |= 1ull << row;
            rc = store(o, text, err);
        } else if (is_option_word(word)) {
            rc = shoal_err_set(err, SHOAL_EINVAL, "unknown option '%s'", word);
        } else {
            rc = add_operand(cmd, word, err);
        }
    }
    return rc == SHOAL_OK ? check_required(cmd, seen, err) : rc;
}

void cli_synopsis(const cli_command *cmd, FILE *out)
{
    fprintf(out, "usage: %s\n", cmd->usage);
}

/* Prints help text, continuation lines indented by indent spaces. */
static void print_indented(FILE *out, const char *text, int indent)
{
    for (const char *nl; (nl = strchr(text, '\n')); text = nl + 1) {
        fprintf(out, "%.*s\n%*s", (int)(nl - text), text, indent, "");
    }
    fprintf(out, "%s\n", text);
}

void cli_help(const cli_command *cmd, FILE *out)
{
    cli_synopsis(cmd, out);
    if (cmd->about) {
        fprintf(out, "\n%s\n", cmd->about);
    }
    int width = 0;
    for (size_t k = 0; k < cmd->n_options; k++) {
        const cli_option *o = &cmd->options[k];
        int w = (int)strlen(o->name) + (o->arg ? 1 + (int)strlen(o->arg) : 0);
        width = o->help && w > width ? w : width;
    }
    fprintf(out, "\n");
    for (size_t k = 0; k < cmd->n_options; k++) {
        const cli_option *o = &cmd->options[k];
        if (!o->help) {
            continue;
        }
        char left[128];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-*s  ", width, left);
        print_indented(out, o->help, width + 4);
    }
    if (cmd->notes) {
        fprintf(out, "\n%s\n", cmd->notes);
    }
}

int cli_parse_u64(const char *text, const char *option, uint64_t *out, shoal_err *err)
{
    if (!text || !*text || *text == '-') {
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a non-negative integer", option);
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K') {
        scale = 1000;
        end++;
    } else if (*end == 'M') {
        scale = 1000000;
        end++;
    } else if (*end == 'G') {
        scale = 1000000000;
        end++;
    }
    if (errno || end == text || *end != '\0' || (v > 0 && UINT64_MAX / v < scale)) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s' is not a non-negative integer", option,
                             text);
    }
    *out = (uint64_t)v * scale;
    return SHOAL_OK;
}

int cli_parse_double(const char *text, const char *option, double *out, shoal_err *err)
{
    if (!text) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a number", option);
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v)) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s' is not a finite number", option, text);
    }
    *out = v;
    return SHOAL_OK;
}
