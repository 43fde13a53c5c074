/* Configuration: INI files (parsed by inih) plus `--set section.key=value` overrides, checked
 * against a schema of known keys. Every value is validated when it is set, so the typed
 * getters cannot fail: a key never set returns its schema default.
 *
 * Each part declares its keys in a table ending with CONFIG_KEY_END (e.g. env/env_config.c);
 * the program passes all tables to config_new. Errors name the file, line and key, say what
 * was wrong and list what is valid.
 *
 *     config *cfg = config_new(tables, n_tables, &err);
 *     config_load_file(cfg, "train.ini", &err);
 *     config_set(cfg, "replay.capacity=100000", "--set", &err);
 *     int64_t cap = config_int(cfg, "replay", "capacity");
 */
#ifndef SHOAL_COMMON_CONFIG_H
#define SHOAL_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef enum config_type {
    CONFIG_INT,    /* 64-bit signed integer in [min, max] */
    CONFIG_FLOAT,  /* double in [min, max] */
    CONFIG_BOOL,   /* true/false, yes/no, on/off, 1/0 */
    CONFIG_STRING, /* any text (paths, lists) */
    CONFIG_ENUM,   /* one of the '|'-separated words in choices */
} config_type;

/* One key of the schema. Plain data; tables are static const. */
typedef struct config_key {
    const char *section;
    const char *name;
    config_type type;
    const char *default_value; /* as written in a file */
    double min, max;           /* inclusive range of CONFIG_INT and CONFIG_FLOAT */
    const char *choices;       /* CONFIG_ENUM: "epsilon|bootstrap|count" */
    const char *doc;           /* one line for `config show` and docs/config.md */
} config_key;

#define CONFIG_KEY_END {NULL, NULL, CONFIG_STRING, NULL, 0, 0, NULL, NULL}

typedef struct config config;

/* A configuration holding the defaults of the given key tables. Tables are borrowed and must
 * outlive the config. EINVAL when a table repeats a key or a default violates its own rule. */
config *config_new(const config_key *const *tables, size_t n_tables, shoal_err *err);

/* Frees c. NULL is fine. */
void config_free(config *c);

/* Applies an INI file on top of the current values. On error nothing after the bad line is
 * applied; ENOTFOUND (no file), EIO, or EINVAL with "file:line: ..." in the message. */
int config_load_file(config *c, const char *path, shoal_err *err);

/* Same for INI text held in memory; name is used in messages in place of a file name. */
int config_load_string(config *c, const char *text, const char *name, shoal_err *err);

/* Applies one "section.key=value" override; origin (e.g. "--set") appears in messages. */
int config_set(config *c, const char *assignment, const char *origin, shoal_err *err);

/* Typed getters. The key must be in the schema with that type (a programming error
 * otherwise, caught by assert). Strings stay valid until the key is set again or c is freed. */
int64_t config_int(const config *c, const char *section, const char *name);
double config_float(const config *c, const char *section, const char *name);
bool config_bool(const config *c, const char *section, const char *name);
const char *config_str(const config *c, const char *section, const char *name);

/* Whether the key was set by a file or an override rather than left at its default. */
bool config_is_set(const config *c, const char *section, const char *name);

/* Writes the effective configuration as INI, every key, with its doc and where its value came
 * from as comments. The output loads back into an equal configuration. EIO on write errors. */
int config_write(const config *c, FILE *out, shoal_err *err);

/* Writes a markdown table of every key (section, key, type, default, range, doc). */
int config_write_reference(const config *c, FILE *out, shoal_err *err);

#endif
