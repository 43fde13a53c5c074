/* `shoal demos`: record demonstration files (record), check them (check), say what they hold
 * (info) and aggregate sets (merge). Every file is read through replay's own reader and
 * written through its writer (replay/client.h), so these tools accept exactly what a shard
 * loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actor/record.h"
#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "common/json.h"
#include "common/pbar.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/plugin.h"
#include "env/registry.h"
#include "replay/client.h"

typedef struct args {
    cmdline_args cfg;
    const char *env, *policy, *out;
    uint64_t episodes;
} args;

/* Parses the words after `shoal demos record` into a. */
static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--env", "NAME", "the environment (replaces env.name)", .value = &a->env,
         .required = true},
        {"--policy", "expert|checkpoint:PATH", "the game's scripted expert, or a saved network",
         .value = &a->policy, .required = true},
        {"--episodes", "N", "whole episodes to play", .number = &a->episodes, .min = 1,
         .required = true},
        {"--out", "FILE", "the demonstration file to write", .value = &a->out, .required = true},
        CMDLINE_CONFIG(&a->cfg, false),
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal demos record",
        .usage = "shoal demos record --env NAME --policy expert|checkpoint:PATH --episodes N\n"
                 "                          --out FILE [--config FILE] [--set section.key=value ...]",
        .about = "Plays N whole episodes with the game's scripted expert or a saved network (greedy)\n"
                 "and writes them as n-step transitions, encoded as the actors encode theirs\n"
                 "(actor.n_step, actor.gamma, actor.batch per record; masks for network.heads > 1),\n"
                 "to a demonstration file that replay.demos loads (docs/formats.md). [env] options\n"
                 "such as sticky actions and time limits apply; --env replaces env.name.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Prints episodes, transitions and the mean return. `shoal demos check FILE...`\n"
                 "checks recorded files whole (see its --help).",
    };
    return cmdline_parse(&cmd, argc, argv);
}

void demos_print_summary(const char *verb, const actor_record_config *rc,
                         const actor_record_summary *s)
{
    printf("%s %llu episodes of %s: %llu transitions (%llu env steps) in %llu records, mean "
           "return %.3f -> %s\n",
           verb, (unsigned long long)s->episodes, rc->env_name,
           (unsigned long long)s->transitions, (unsigned long long)s->env_steps,
           (unsigned long long)s->records, s->mean_return, rc->out);
}

static int record(const args *a)
{
    shoal_err err = {0};
    config *cfg = cmdline_config_load(a->cfg.config, NULL, false, &a->cfg.sets, &err);
    if (!cfg) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return 1;
    }
    static actor_record_config rc;
    int code = actor_record_config_from(cfg, a->env, a->policy, a->episodes, a->out, &rc, &err);
    config_free(cfg);
    if (code == SHOAL_EINVAL && strstr(err.msg, "policy")) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return EXIT_USAGE;
    }
    actor_record_summary s;
    pbar bar;
    pbar_init(&bar, stderr, "shoal demos record", "episodes", a->episodes);
    rc.progress = pbar_callback;
    rc.progress_arg = &bar;
    if (code == SHOAL_OK) {
        code = actor_record_run(&rc, &s, &err);
    }
    pbar_finish(&bar);
    if (code != SHOAL_OK) {
        fprintf(stderr, "shoal demos record: %s\n", err.msg);
        return 1;
    }
    demos_print_summary("recorded", &rc, &s);
    return 0;
}

/* `shoal demos check FILE...`: each file checked whole as a shard checks it before loading. */
static int check(int argc, char **argv)
{
    cli_list files = {0};
    const cli_command cmd = {
        .name = "shoal demos check",
        .usage = "shoal demos check FILE...",
        .about = "Checks demonstration files whole, as a replay shard does before it loads them\n"
                 "(header, size, every record's CRC and contents, record and transition counts,\n"
                 "checksum; docs/formats.md), and prints what each holds or what is wrong with it.",
        .notes = "Exit code 1 when any file is refused. A version 1 file (recorded before the\n"
                 "counts and checksum) passes every check it allows, but a cut at a record\n"
                 "boundary cannot be seen in it: record it again.",
        .operands = &files,
        .operand = "FILE",
        .operand_required = true,
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    for (size_t i = 0; rc == CMDLINE_RUN && i < files.n; i++) {
        replay_demo_summary s;
        shoal_err err = {0};
        if (replay_demo_check(files.items[i], &s, &err) != SHOAL_OK) {
            fprintf(stderr, "shoal demos check: refused: %s\n", err.msg);
            rc = 1;
            continue;
        }
        printf("%s: version %u, %llu records, %llu transitions%s\n", files.items[i], s.version,
               (unsigned long long)s.records, (unsigned long long)s.transitions,
               s.version == 1 ? " (version 1: a cut at a record boundary cannot be detected; "
                                "record it again)"
                              : ", whole");
    }
    cli_list_fini(&files);
    return rc == CMDLINE_RUN ? 0 : rc;
}

/* ---- what a file holds: one pass of the reader over it ---- */

/* Actions above this are counted together (no game has so many). */
#define DEMOS_MAX_ACTIONS 4096u

typedef struct scan {
    const char *path;
    uint32_t version;
    uint64_t records, transitions, env_steps;
    bool have_spec;
    obs_spec spec;
    uint32_t n_heads;
    uint64_t *actions; /* histogram, n_actions long (the largest action seen + 1) */
    uint32_t n_actions;
    uint64_t actions_beyond; /* actions >= DEMOS_MAX_ACTIONS */
    float *ret;
    uint32_t *length;
    size_t n_episodes, cap_episodes;
} scan;

static void scan_fini(scan *sc)
{
    free(sc->actions);
    free(sc->ret);
    free(sc->length);
    memset(sc, 0, sizeof *sc);
}

static bool same_spec(const obs_spec *a, const obs_spec *b)
{
    return a->shape.h == b->shape.h && a->shape.w == b->shape.w && a->shape.c == b->shape.c &&
           a->dtype == b->dtype && a->bytes == b->bytes;
}

/* "10,10,4 bit observations" */
static void describe_obs(const obs_spec *spec, char *buf, size_t cap)
{
    char shape[OBS_SHAPE_TEXT_MAX];
    obs_shape_format(spec->shape, shape, sizeof shape);
    snprintf(buf, cap, "%s %s observations", shape, obs_dtype_name(spec->dtype));
}

/* "10,10,4 bit observations, masks for 4 bootstrap heads" */
static void describe(const obs_spec *spec, uint32_t n_heads, char *buf, size_t cap)
{
    char obs[96];
    describe_obs(spec, obs, sizeof obs);
    if (n_heads > 1) {
        snprintf(buf, cap, "%s, masks for %u bootstrap heads", obs, n_heads);
    } else {
        snprintf(buf, cap, "%s, no bootstrap masks", obs);
    }
}

static int scan_record(void *ctx, const replay_batch *b, shoal_err *err)
{
    scan *sc = ctx;
    if (!sc->have_spec) {
        sc->spec = b->spec;
        sc->n_heads = b->t.n_heads;
        sc->have_spec = true;
    } else if (!same_spec(&sc->spec, &b->spec) || sc->n_heads != b->t.n_heads) {
        char want[160], got[160];
        describe(&sc->spec, sc->n_heads, want, sizeof want);
        describe(&b->spec, b->t.n_heads, got, sizeof got);
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record %llu holds %s, the records before "
                             "it %s", sc->path, (unsigned long long)sc->records, got, want);
    }
    sc->records++;
    sc->transitions += b->t.count;
    sc->env_steps += b->env_steps;
    for (size_t i = 0; i < b->t.count; i++) {
        uint32_t a = b->t.action[i];
        if (a >= DEMOS_MAX_ACTIONS) {
            sc->actions_beyond++;
            continue;
        }
        if (a >= sc->n_actions) {
            uint64_t *h = realloc(sc->actions, (a + 1) * sizeof *h);
            if (!h) {
                return shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
            }
            memset(h + sc->n_actions, 0, (a + 1 - sc->n_actions) * sizeof *h);
            sc->actions = h;
            sc->n_actions = a + 1;
        }
        sc->actions[a]++;
    }
    if (sc->n_episodes + b->episodes.count > sc->cap_episodes) {
        size_t cap = (sc->n_episodes + b->episodes.count) * 2;
        float *r = realloc(sc->ret, cap * sizeof *r);
        if (r) {
            sc->ret = r;
        }
        uint32_t *l = realloc(sc->length, cap * sizeof *l);
        if (l) {
            sc->length = l;
        }
        if (!r || !l) {
            return shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        }
        sc->cap_episodes = cap;
    }
    for (size_t i = 0; i < b->episodes.count; i++) {
        sc->ret[sc->n_episodes] = b->episodes.ret[i];
        sc->length[sc->n_episodes++] = b->episodes.length[i];
    }
    return SHOAL_OK;
}

/* Checks path whole and reads what it holds into sc. */
static int scan_file(const char *path, scan *sc, shoal_err *err)
{
    memset(sc, 0, sizeof *sc);
    sc->path = path;
    replay_demo_summary sum;
    int rc = replay_demo_check(path, &sum, err);
    if (rc == SHOAL_OK) {
        sc->version = sum.version;
        rc = replay_demo_read(path, scan_record, sc, err);
    }
    return rc;
}

/* The env named by --env, with [env] options and plugins from the configuration, to name
 * actions and to check files against. NULL with err. */
typedef struct named_env {
    env_registry *reg;
    env *e;
} named_env;

static int named_env_open(named_env *ne, const char *name, const cmdline_args *cfg_args,
                          shoal_err *err)
{
    memset(ne, 0, sizeof *ne);
    config *cfg = cmdline_config_load(cfg_args->config, NULL, false, &cfg_args->sets, err);
    if (!cfg) {
        return err->code;
    }
    env_options o;
    int rc = env_options_from_config(&o, cfg, err);
    if (rc == SHOAL_OK && !(ne->reg = env_registry_new(err))) {
        rc = err->code;
    }
    if (rc == SHOAL_OK) {
        rc = env_plugin_load_list(ne->reg, config_str(cfg, "env", "plugins"), err);
    }
    if (rc == SHOAL_OK && !(ne->e = env_make(ne->reg, name, &o, err))) {
        rc = err->code;
    }
    config_free(cfg);
    return rc;
}

static void named_env_close(named_env *ne)
{
    env_free(ne->e);
    env_registry_free(ne->reg);
}

/* Refuses a file whose observations are not the env's or whose actions it does not have. */
static int check_against_env(const scan *sc, const env *e, const char *name, shoal_err *err)
{
    obs_spec want = env_obs_spec(e);
    int rc = obs_spec_finish(&want, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (sc->have_spec && !same_spec(&want, &sc->spec)) {
        char got[96], w[96];
        describe_obs(&sc->spec, got, sizeof got);
        describe_obs(&want, w, sizeof w);
        return shoal_err_set(err, SHOAL_EINVAL, "%s holds %s; %s has %s", sc->path, got, name,
                             w);
    }
    if (sc->n_actions > env_n_actions(e) || sc->actions_beyond) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s takes action %u; %s has %u actions",
                             sc->path, sc->actions_beyond ? DEMOS_MAX_ACTIONS : sc->n_actions - 1,
                             name, env_n_actions(e));
    }
    return SHOAL_OK;
}

/* ---- shoal demos info ---- */

typedef struct info_args {
    cmdline_args cfg;
    cli_list files;
    const char *env;
    bool json, episodes;
} info_args;

static void returns_of(const scan *sc, double *mean, double *lo, double *hi)
{
    *mean = 0.0;
    *lo = sc->n_episodes ? sc->ret[0] : 0.0;
    *hi = *lo;
    for (size_t i = 0; i < sc->n_episodes; i++) {
        *mean += sc->ret[i];
        *lo = sc->ret[i] < *lo ? sc->ret[i] : *lo;
        *hi = sc->ret[i] > *hi ? sc->ret[i] : *hi;
    }
    *mean = sc->n_episodes ? *mean / (double)sc->n_episodes : 0.0;
}

static const char *action_name(const env *e, uint32_t a, char *buf, size_t cap)
{
    if (e && a < env_n_actions(e)) {
        return env_action_name(e, a);
    }
    snprintf(buf, cap, "%u", a);
    return buf;
}

static void print_text(const info_args *a, const scan *sc, const env *e)
{
    char spec[160];
    describe(&sc->spec, sc->n_heads, spec, sizeof spec);
    printf("%s: version %u, %llu records, %llu transitions (%llu env steps), %zu episodes\n",
           sc->path, sc->version, (unsigned long long)sc->records,
           (unsigned long long)sc->transitions, (unsigned long long)sc->env_steps,
           sc->n_episodes);
    printf("  %s\n", spec);
    double mean, lo, hi;
    returns_of(sc, &mean, &lo, &hi);
    if (sc->n_episodes) {
        printf("  returns: mean %.3f, min %g, max %g\n", mean, lo, hi);
    }
    uint64_t total = sc->transitions ? sc->transitions : 1;
    printf("  actions%s%s%s:", e ? " (" : "", e ? a->env : "", e ? ")" : "");
    uint32_t shown = e && env_n_actions(e) > sc->n_actions ? env_n_actions(e) : sc->n_actions;
    for (uint32_t k = 0; k < shown; k++) {
        char buf[16];
        uint64_t n = k < sc->n_actions ? sc->actions[k] : 0;
        printf(" %s %llu (%.1f%%)", action_name(e, k, buf, sizeof buf), (unsigned long long)n,
               100.0 * (double)n / (double)total);
    }
    if (sc->actions_beyond) {
        printf(" >=%u %llu", DEMOS_MAX_ACTIONS, (unsigned long long)sc->actions_beyond);
    }
    printf("\n");
    if (a->episodes) {
        for (size_t i = 0; i < sc->n_episodes; i++) {
            printf("  episode %zu: return %g, %u steps\n", i + 1, sc->ret[i], sc->length[i]);
        }
    }
}

static void print_json(const info_args *a, const scan *sc, const env *e)
{
    char shape[OBS_SHAPE_TEXT_MAX];
    obs_shape_format(sc->spec.shape, shape, sizeof shape);
    double mean, lo, hi;
    returns_of(sc, &mean, &lo, &hi);
    fputs("{\"file\": ", stdout);
    json_write_string(stdout, sc->path);
    printf(", \"version\": %u, \"records\": %llu, \"transitions\": %llu, \"env_steps\": %llu, "
           "\"episodes\": %zu, \"shape\": \"%s\", \"dtype\": \"%s\", \"heads\": %u",
           sc->version, (unsigned long long)sc->records, (unsigned long long)sc->transitions,
           (unsigned long long)sc->env_steps, sc->n_episodes, shape,
           obs_dtype_name(sc->spec.dtype), sc->n_heads > 1 ? sc->n_heads : 1);
    if (sc->n_episodes) {
        printf(", \"return_mean\": %.9g, \"return_min\": %.9g, \"return_max\": %.9g", mean, lo,
               hi);
    }
    uint32_t shown = e && env_n_actions(e) > sc->n_actions ? env_n_actions(e) : sc->n_actions;
    printf(", \"actions\": [");
    for (uint32_t k = 0; k < shown; k++) {
        printf("%s%llu", k ? ", " : "",
               (unsigned long long)(k < sc->n_actions ? sc->actions[k] : 0));
    }
    printf("]");
    if (e) {
        fputs(", \"env\": ", stdout);
        json_write_string(stdout, a->env);
        printf(", \"action_names\": [");
        for (uint32_t k = 0; k < shown; k++) {
            fputs(k ? ", " : "", stdout);
            json_write_string(stdout, env_action_name(e, k));
        }
        printf("]");
    }
    if (a->episodes) {
        printf(", \"episode_returns\": [");
        for (size_t i = 0; i < sc->n_episodes; i++) {
            printf("%s%.9g", i ? ", " : "", sc->ret[i]);
        }
        printf("], \"episode_lengths\": [");
        for (size_t i = 0; i < sc->n_episodes; i++) {
            printf("%s%u", i ? ", " : "", sc->length[i]);
        }
        printf("]");
    }
    printf("}\n");
}

/* `shoal demos info FILE...` */
static int info(int argc, char **argv)
{
    info_args a = {0};
    const cli_option options[] = {
        {"--env", "NAME", "name the actions after this game's and check each file against it\n"
                          "(its observations and action count; [env] options apply)",
         .value = &a.env},
        {"--episodes", NULL, "list every episode's return and length", .flag = &a.episodes},
        {"--json", NULL, "one JSON object per file, one a line", .flag = &a.json},
        CMDLINE_CONFIG(&a.cfg, false),
        CMDLINE_SET(&a.cfg),
    };
    const cli_command cmd = {
        .name = "shoal demos info",
        .usage = "shoal demos info [--env NAME] [--episodes] [--json] FILE...",
        .about = "Says what demonstration files hold: format version, records, transitions and\n"
                 "env steps, episodes and their returns (mean, min, max), the observation\n"
                 "encoding and bootstrap heads, and how often each action was taken. Each file\n"
                 "is checked whole first, as a shard checks it (`shoal demos check`).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "A demonstration file does not name its game (docs/formats.md): actions are\n"
                 "numbered unless --env names them. Returns are the episodes' own (undiscounted,\n"
                 "as the recorder played them). Exit code 1 when any file is refused.",
        .operands = &a.files,
        .operand = "FILE",
        .operand_required = true,
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    named_env ne = {0};
    shoal_err err = {0};
    if (rc == CMDLINE_RUN && a.env && named_env_open(&ne, a.env, &a.cfg, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal demos info: %s\n", err.msg);
        rc = 1;
    }
    for (size_t i = 0; rc == CMDLINE_RUN && i < a.files.n; i++) {
        scan sc;
        if (scan_file(a.files.items[i], &sc, &err) != SHOAL_OK ||
            (ne.e && check_against_env(&sc, ne.e, a.env, &err) != SHOAL_OK)) {
            fprintf(stderr, "shoal demos info: refused: %s\n", err.msg);
            scan_fini(&sc);
            rc = 1;
            break;
        }
        if (a.json) {
            print_json(&a, &sc, ne.e);
        } else {
            print_text(&a, &sc, ne.e);
        }
        scan_fini(&sc);
    }
    named_env_close(&ne);
    cli_list_fini(&a.files);
    cli_list_fini(&a.cfg.sets);
    return rc == CMDLINE_RUN ? 0 : rc;
}

/* ---- shoal demos merge ---- */

typedef struct merge_out {
    replay_demo_writer *w;
    uint64_t records, transitions, episodes;
} merge_out;

static int merge_record(void *ctx, const replay_batch *b, shoal_err *err)
{
    merge_out *m = ctx;
    int rc = replay_demo_writer_append(m->w, b, err);
    if (rc == SHOAL_OK) {
        m->records++;
        m->transitions += b->t.count;
        m->episodes += b->episodes.count;
    }
    return rc;
}

/* `shoal demos merge --out OUT IN...` */
static int merge(int argc, char **argv)
{
    cmdline_args cfg = {0};
    cli_list files = {0};
    const char *out = NULL, *env_name = NULL;
    bool force = false;
    const cli_option options[] = {
        {"--out", "FILE", "the merged file", .value = &out, .required = true},
        {"--force", NULL, "replace FILE when it exists", .flag = &force},
        {"--env", "NAME", "also check every input against this game (observations and action\n"
                          "count; [env] options apply)", .value = &env_name},
        CMDLINE_CONFIG(&cfg, false),
        CMDLINE_SET(&cfg),
    };
    const cli_command cmd = {
        .name = "shoal demos merge",
        .usage = "shoal demos merge --out FILE [--force] [--env NAME] IN...",
        .about = "Aggregates demonstration sets: writes every record of the inputs, in order, to\n"
                 "one version 2 file (atomically: nothing appears at FILE unless all of it was\n"
                 "written). Every input is checked whole first, and all must hold the same\n"
                 "observation encoding and bootstrap head count, as one shard's demo store needs;\n"
                 "a mismatch is refused naming both files. Merging one file rewrites it in the\n"
                 "current format (a version 1 file gains its counts and checksum).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "A file does not record its game's action count: without --env, two games with\n"
                 "the same observations (the same MinAtar channel count) cannot be told apart.\n"
                 "FILE is refused when it exists, unless --force (then it may also be an input).\n"
                 "Exit code 1 when anything is refused; nothing is written then.",
        .operands = &files,
        .operand = "IN",
        .operand_required = true,
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    shoal_err err = {0};
    named_env ne = {0};
    struct stat st;
    if (rc == CMDLINE_RUN && !force && stat(out, &st) == 0) {
        fprintf(stderr, "shoal demos merge: %s exists; choose another --out, or --force to "
                        "replace it\n", out);
        rc = 1;
    }
    if (rc == CMDLINE_RUN && env_name && named_env_open(&ne, env_name, &cfg, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal demos merge: %s\n", err.msg);
        rc = 1;
    }
    /* Everything is checked before the first byte is written. */
    scan first = {0};
    for (size_t i = 0; rc == CMDLINE_RUN && i < files.n; i++) {
        scan sc;
        int code = scan_file(files.items[i], &sc, &err);
        if (code == SHOAL_OK && ne.e) {
            code = check_against_env(&sc, ne.e, env_name, &err);
        }
        if (code == SHOAL_OK && i > 0 &&
            (!same_spec(&first.spec, &sc.spec) || first.n_heads != sc.n_heads)) {
            char a[160], b[160];
            describe(&first.spec, first.n_heads, a, sizeof a);
            describe(&sc.spec, sc.n_heads, b, sizeof b);
            code = shoal_err_set(&err, SHOAL_EINVAL, "%s holds %s but %s holds %s: one demo "
                                 "store takes one encoding", first.path, a, sc.path, b);
        }
        if (code != SHOAL_OK) {
            fprintf(stderr, "shoal demos merge: refused: %s\n", err.msg);
            rc = 1;
        }
        if (i == 0) {
            first = sc;
        } else {
            scan_fini(&sc);
        }
    }
    scan_fini(&first);
    named_env_close(&ne);
    merge_out m = {0};
    if (rc == CMDLINE_RUN && !(m.w = replay_demo_writer_open(out, &err))) {
        fprintf(stderr, "shoal demos merge: %s\n", err.msg);
        rc = 1;
    }
    for (size_t i = 0; rc == CMDLINE_RUN && i < files.n; i++) {
        if (replay_demo_read(files.items[i], merge_record, &m, &err) != SHOAL_OK) {
            fprintf(stderr, "shoal demos merge: %s\n", err.msg);
            rc = 1;
        }
    }
    if (rc == CMDLINE_RUN) {
        int code = replay_demo_writer_close(m.w, &err);
        m.w = NULL;
        if (code != SHOAL_OK) {
            fprintf(stderr, "shoal demos merge: %s\n", err.msg);
            rc = 1;
        } else {
            printf("merged %zu files: %llu records, %llu transitions, %llu episodes -> %s\n",
                   files.n, (unsigned long long)m.records, (unsigned long long)m.transitions,
                   (unsigned long long)m.episodes, out);
        }
    }
    replay_demo_writer_abort(m.w);
    cli_list_fini(&files);
    cli_list_fini(&cfg.sets);
    return rc == CMDLINE_RUN ? 0 : rc;
}

int cmd_demos(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        return check(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "info") == 0) {
        return info(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) {
        return merge(argc - 1, argv + 1);
    }
    bool recording = argc >= 2 && strcmp(argv[1], "record") == 0;
    if (argc >= 2 && !recording && !cli_is_help(argv[1])) {
        fprintf(stderr, "shoal demos: unknown subcommand '%s' (expected: record, check, info, "
                "merge)\n", argv[1]);
        return EXIT_USAGE;
    }
    /* `shoal demos` and `shoal demos --help` answer as `shoal demos record` would: with the
     * missing options, or the help. */
    args a = {0};
    int rc = recording ? parse(argc - 1, argv + 1, &a) : parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = record(&a);
    }
    cli_list_fini(&a.cfg.sets);
    return rc;
}
