#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct entry {
    const config_key *key;
    char *text;       /* current value as text, owned */
    int64_t i;        /* parsed CONFIG_INT */
    double f;         /* parsed CONFIG_FLOAT */
    bool b;           /* parsed CONFIG_BOOL */
    char origin[160]; /* "default", "train.ini:12", "--set" */
} entry;

struct config {
    entry *entries;
    size_t n_entries;
};

static entry *find_entry(const config *c, const char *section, const char *name)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        const config_key *k = c->entries[i].key;
        if (strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0) {
            return &c->entries[i];
        }
    }
    return NULL;
}

static bool section_known(const config *c, const char *section)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        if (strcmp(c->entries[i].key->section, section) == 0) {
            return true;
        }
    }
    return false;
}

static bool first_of_section(const config *c, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->entries[j].key->section, c->entries[i].key->section) == 0) {
            return false;
        }
    }
    return true;
}

/* Appends "a, b, c" of the distinct sections (or of the keys of one section) to buf. */
static void list_valid(const config *c, const char *section, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->n_entries; i++) {
        const config_key *k = c->entries[i].key;
        const char *word;
        if (section) {
            if (strcmp(k->section, section) != 0) {
                continue;
            }
            word = k->name;
        } else {
            if (!first_of_section(c, i)) {
                continue;
            }
            word = k->section;
        }
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", word);
        if (w < 0 || (size_t)w >= n - used) {
            break;
        }
        used += (size_t)w;
    }
}

static const char *type_name(config_type t)
{
    switch (t) {
    case CONFIG_INT: return "integer";
    case CONFIG_FLOAT: return "number";
    case CONFIG_BOOL: return "boolean";
    case CONFIG_ENUM: return "choice";
    case CONFIG_STRING: break;
    }
    return "string";
}

static bool choice_ok(const char *choices, const char *value)
{
    size_t len = strlen(value);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t wlen = bar ? (size_t)(bar - p) : strlen(p);
        if (wlen == len && strncmp(p, value, len) == 0) {
            return true;
        }
        if (!bar) {
            break;
        }
        p = bar + 1;
    }
    return false;
}

/* Parses and range-checks text for e's key; on success stores it. where is "file:line". */
static int assign(entry *e, const char *text, const char *where, shoal_err *err)
{
    const config_key *k = e->key;
    int64_t iv = 0;
    double fv = 0.0;
    bool bv = false;
    switch (k->type) {
    case CONFIG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 0);
        if (errno || end == text || *end != '\0') {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %s.%s = '%s' is not an integer", where,
                                 k->section, k->name, text);
        }
        if ((double)v < k->min || (double)v > k->max) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %s.%s = %lld is out of range [%.17g, %.17g]",
                                 where, k->section, k->name, v, k->min, k->max);
        }
        iv = v;
        break;
    }
    case CONFIG_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end != '\0' || !isfinite(v)) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %s.%s = '%s' is not a finite number",
                                 where, k->section, k->name, text);
        }
        if (v < k->min || v > k->max) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %s.%s = %s is out of range [%g, %g]", where,
                                 k->section, k->name, text, k->min, k->max);
        }
        fv = v;
        break;
    }
    case CONFIG_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1")) {
            bv = true;
        } else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
                   !strcasecmp(text, "off") || !strcmp(text, "0")) {
            bv = false;
        } else {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "%s: %s.%s = '%s' is not a boolean; valid: true, false, yes, no, "
                                 "on, off, 1, 0", where, k->section, k->name, text);
        }
        break;
    case CONFIG_ENUM:
        if (!choice_ok(k->choices, text)) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %s.%s = '%s' is not valid; valid: %s", where,
                                 k->section, k->name, text, k->choices);
        }
        break;
    case CONFIG_STRING:
        break;
    }
    char *copy = strdup(text);
    if (!copy) {
        return shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", where);
    }
    free(e->text);
    e->text = copy;
    e->i = iv;
    e->f = fv;
    e->b = bv;
    snprintf(e->origin, sizeof e->origin, "%s", where);
    return SHOAL_OK;
}

/* Looks up section/name and assigns text; errors list what is valid. */
static int set_value(config *c, const char *section, const char *name, const char *text,
                     const char *where, shoal_err *err)
{
    char valid[1024];
    if (!section_known(c, section)) {
        list_valid(c, NULL, valid, sizeof valid);
        if (section[0] == '\0') {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "%s: key '%s' is outside any [section]; valid sections: %s", where,
                                 name, valid);
        }
        return shoal_err_set(err, SHOAL_EINVAL, "%s: unknown section [%s]; valid sections: %s",
                             where, section, valid);
    }
    entry *e = find_entry(c, section, name);
    if (!e) {
        list_valid(c, section, valid, sizeof valid);
        return shoal_err_set(err, SHOAL_EINVAL, "%s: unknown key '%s' in [%s]; valid keys: %s",
                             where, name, section, valid);
    }
    return assign(e, text, where, err);
}

void config_free(config *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n_entries; i++) {
        free(c->entries[i].text);
    }
    free(c->entries);
    free(c);
}

config *config_new(const config_key *const *tables, size_t n_tables, shoal_err *err)
{
    config *c = calloc(1, sizeof *c);
    if (!c) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t t = 0; t < n_tables; t++) {
        for (const config_key *k = tables[t]; k->section; k++) {
            n++;
        }
    }
    c->entries = calloc(n ? n : 1, sizeof *c->entries);
    if (!c->entries) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < n_tables; t++) {
        for (const config_key *k = tables[t]; k->section; k++) {
            if (find_entry(c, k->section, k->name)) {
                shoal_err_set(err, SHOAL_EINVAL, "config schema declares %s.%s twice", k->section,
                              k->name);
                goto fail;
            }
            entry *e = &c->entries[c->n_entries++];
            e->key = k;
            if (assign(e, k->default_value ? k->default_value : "", "default", err) != SHOAL_OK) {
                shoal_err_prefix(err, "config schema");
                goto fail;
            }
        }
    }
    return c;
fail:
    config_free(c);
    return NULL;
}

/* inih gives no line numbers with Debian's build, so the reader counts lines itself: inih
 * calls the handler for a line right after reading it. */
typedef struct parse_ctx {
    config *c;
    const char *name;
    const char *text; /* in-memory source, or NULL */
    size_t pos;
    FILE *file;
    int line;
    int failed;
    shoal_err *err;
} parse_ctx;

static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *p = stream;
    char *got;
    if (p->file) {
        got = fgets(str, num, p->file);
    } else {
        if (!p->text[p->pos]) {
            return NULL;
        }
        const char *start = p->text + p->pos;
        const char *nl = strchr(start, '\n');
        size_t len = nl ? (size_t)(nl - start) + 1 : strlen(start);
        if (len > (size_t)num - 1) {
            len = (size_t)num - 1;
        }
        memcpy(str, start, len);
        str[len] = '\0';
        p->pos += len;
        got = str;
    }
    if (!got) {
        return NULL;
    }
    p->line++;
    size_t len = strlen(str);
    bool at_end = p->file ? feof(p->file) : p->text[p->pos] == '\0';
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !at_end && !p->failed) {
        p->failed = 1;
        shoal_err_set(p->err, SHOAL_EINVAL, "%s:%d: line longer than %d characters", p->name,
                      p->line, num - 2);
    }
    return got;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    if (p->failed) {
        return 0;
    }
    char where[160];
    snprintf(where, sizeof where, "%s:%d", p->name, p->line);
    if (set_value(p->c, section, name, value, where, p->err) != SHOAL_OK) {
        p->failed = 1;
        return 0;
    }
    return 1;
}

static int parse(parse_ctx *p)
{
    int rc = ini_parse_stream(read_line, p, on_value, p);
    if (p->failed) {
        return p->err ? p->err->code : SHOAL_EINVAL;
    }
    if (rc > 0) {
        return shoal_err_set(p->err, SHOAL_EINVAL,
                             "%s:%d: not an INI line; expected '[section]', 'key = value' or a "
                             "comment starting with ';' or '#'", p->name, rc);
    }
    if (rc < 0) {
        return shoal_err_set(p->err, SHOAL_ENOMEM, "%s: out of memory while parsing", p->name);
    }
    return SHOAL_OK;
}

int config_load_file(config *c, const char *path, shoal_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        return shoal_err_set(err, e == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO,
                             "cannot open config file %s: %s", path, strerror(e));
    }
    parse_ctx p = {.c = c, .name = path, .file = f, .err = err};
    int rc = parse(&p);
    fclose(f);
    return rc;
}

int config_load_string(config *c, const char *text, const char *name, shoal_err *err)
{
    parse_ctx p = {.c = c, .name = name, .text = text, .err = err};
    return parse(&p);
}

int config_set(config *c, const char *assignment, const char *origin, shoal_err *err)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq || dot == assignment || dot + 1 == eq) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "%s '%s': expected section.key=value, e.g. replay.capacity=100000",
                             origin, assignment);
    }
    char section[64], name[64];
    size_t slen = (size_t)(dot - assignment), nlen = (size_t)(eq - dot - 1);
    if (slen >= sizeof section || nlen >= sizeof name) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s': section or key name too long", origin,
                             assignment);
    }
    memcpy(section, assignment, slen);
    section[slen] = '\0';
    memcpy(name, dot + 1, nlen);
    name[nlen] = '\0';
    return set_value(c, section, name, eq + 1, origin, err);
}

static const entry *must_find(const config *c, const char *section, const char *name,
                              config_type type)
{
    const entry *e = find_entry(c, section, name);
    assert(e && "config key missing from the schema");
    assert((e->key->type == type || (type == CONFIG_STRING && e->key->type == CONFIG_ENUM)) &&
           "config key read with the wrong type");
    (void)type;
    return e;
}

int64_t config_int(const config *c, const char *section, const char *name)
{
    const entry *e = must_find(c, section, name, CONFIG_INT);
    return e ? e->i : 0;
}

double config_float(const config *c, const char *section, const char *name)
{
    const entry *e = must_find(c, section, name, CONFIG_FLOAT);
    return e ? e->f : 0.0;
}

bool config_bool(const config *c, const char *section, const char *name)
{
    const entry *e = must_find(c, section, name, CONFIG_BOOL);
    return e ? e->b : false;
}

const char *config_str(const config *c, const char *section, const char *name)
{
    const entry *e = must_find(c, section, name, CONFIG_STRING);
    return e ? e->text : "";
}

bool config_is_set(const config *c, const char *section, const char *name)
{
    const entry *e = find_entry(c, section, name);
    return e && strcmp(e->origin, "default") != 0;
}

/* Writes text as "; " comment lines of at most CONFIG_COMMENT_WIDTH characters, broken
 * between words, so that a file written by config_write always reads back (inih refuses lines
 * longer than its buffer, and a key's description plus where its value came from can exceed
 * it, growing with each resume of a run). */
#define CONFIG_COMMENT_WIDTH 96
static void write_comment(FILE *out, const char *text)
{
    size_t n = strlen(text);
    while (n > 0) {
        size_t take = n;
        if (take > CONFIG_COMMENT_WIDTH - 2) {
            take = CONFIG_COMMENT_WIDTH - 2;
            while (take > 0 && text[take] != ' ') {
                take--;
            }
            if (take == 0) {
                take = CONFIG_COMMENT_WIDTH - 2; /* one long word: cut it */
            }
        }
        fprintf(out, "; %.*s\n", (int)take, text);
        text += take;
        n -= take;
        while (n > 0 && *text == ' ') {
            text++;
            n--;
        }
    }
}

int config_write(const config *c, FILE *out, shoal_err *err)
{
    /* Keys of one section may come from several tables; each section is printed once, whole. */
    for (size_t i = 0; i < c->n_entries; i++) {
        if (!first_of_section(c, i)) {
            continue;
        }
        const char *section = c->entries[i].key->section;
        fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
        for (size_t j = i; j < c->n_entries; j++) {
            const entry *e = &c->entries[j];
            if (strcmp(e->key->section, section) == 0) {
                write_comment(out, e->key->doc ? e->key->doc : "");
                char origin[CONFIG_COMMENT_WIDTH * 4];
                snprintf(origin, sizeof origin, "(from %s)", e->origin);
                write_comment(out, origin);
                fprintf(out, "%s = %s\n", e->key->name, e->text);
            }
        }
    }
    if (fflush(out) != 0 || ferror(out)) {
        return shoal_err_set(err, SHOAL_EIO, "writing the configuration failed: %s",
                             strerror(errno));
    }
    return SHOAL_OK;
}

int config_write_reference(const config *c, FILE *out, shoal_err *err)
{
    fprintf(out, "| key | type | default | valid | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < c->n_entries; i++) {
        const config_key *k = c->entries[i].key;
        char valid[128] = "";
        if (k->type == CONFIG_INT || k->type == CONFIG_FLOAT) {
            snprintf(valid, sizeof valid, "%.15g .. %.15g", k->min, k->max);
        } else if (k->type == CONFIG_ENUM) {
            snprintf(valid, sizeof valid, "%s", k->choices);
            for (char *bar = strchr(valid, '|'); bar; bar = strchr(bar, '|')) {
                *bar = '/'; /* '|' would split the markdown table cell */
            }
        } else if (k->type == CONFIG_BOOL) {
            snprintf(valid, sizeof valid, "true, false");
        }
        fprintf(out, "| `%s.%s` | %s | `%s` | %s | %s |\n", k->section, k->name, type_name(k->type),
                k->default_value ? k->default_value : "", valid, k->doc ? k->doc : "");
    }
    if (fflush(out) != 0 || ferror(out)) {
        return shoal_err_set(err, SHOAL_EIO, "writing the reference failed: %s", strerror(errno));
    }
    return SHOAL_OK;
}
