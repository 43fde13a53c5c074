/* env/plugin.h: build the example plugin with the system compiler against the SDK header
 * (build/sdk/include/shoal/env_plugin.h, as installed), load it with dlopen and play it through
 * the registry; the ABI version check; and every way loading can fail. tests/sdk_install.sh
 * does the same against an installed shoal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/measure.h"
#include "env/plugin.h"
#include "env/registry.h"

static char dir[64];

/* Compiles C source (a file under the source tree, or text written to a temp file) into
 * dir/name.so and returns its path. */
static const char *build_so(const char *name, const char *source_path, const char *text)
{
    static char so[4][256];
    static int next;
    char src[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/shoal-plugin-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    if (text) {
        snprintf(src, sizeof src, "%s/%s.c", dir, name);
        FILE *f = fopen(src, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        source_path = src;
    }
    char *out = so[next++ % 4];
    snprintf(out, 256, "%s/lib%s.so", dir, name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cc -std=c11 -pedantic -O1 -shared -fPIC -Wall -Wextra -Werror -I%s -o %s %s",
             getenv("SHOAL_SDK_INCLUDE"), out, source_path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    return out;
}

static const char *example(void)
{
    char src[512];
    snprintf(src, sizeof src, "%s/env/examples/coin_plugin.c", getenv("SHOAL_SOURCE_DIR"));
    return build_so("coin", src, NULL);
}

static void cleanup(void)
{
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
    }
}

TestSuite(env_plugin, .fini = cleanup);

Test(env_plugin, example_plugin_builds_loads_and_plays_through_the_registry, .timeout = 60)
{
    shoal_err err = {0};
    env_registry *reg = env_registry_new(&err);
    cr_assert_not_null(reg);
    size_t before = env_registry_count(reg);
    cr_assert_eq(env_plugin_load(reg, example(), &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(env_registry_count(reg), before + 1);
    cr_assert_not_null(env_registry_find(reg, "example/coin"));

    env_options o;
    env_options_default(&o);
    cr_assert_eq(env_options_parse(&o, "width=5,max_episode_steps=1000", &err), SHOAL_OK);
    env *e = env_make(reg, "example/coin", &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(env_obs_shape(e).w, 5);
    cr_assert_eq(env_obs_dtype(e), OBS_DTYPE_UINT8);
    uint8_t obs[10];
    env_seed(e, 4);
    env_reset(e, obs);
    cr_assert_eq(obs[0], 1, "the agent starts in cell 0");
    char pic[16];
    env_render(e, pic, sizeof pic);
    cr_assert_eq(pic[0], '@');
    cr_assert(strchr(pic, '$'), "the coin is drawn: %s", pic);
    env_free(e);

    env_play_stats s;
    cr_assert_eq(env_play(reg, "example/coin", &o, ENV_POLICY_EXPERT, 0, 10, 1, &s, &err),
                 SHOAL_OK, "%s", err.msg);
    cr_assert_eq(s.mean_return, 3.0);
    cr_assert_eq(env_play(reg, "example/coin", &o, ENV_POLICY_RANDOM, 5000, 0, 1, &s, &err),
                 SHOAL_OK);
    cr_assert_gt(s.episodes, 10);

    /* The same library again: its game name is taken, nothing changes. */
    cr_assert_eq(env_plugin_load(reg, example(), &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "already registered"), "%s", err.msg);
    cr_assert_eq(env_registry_count(reg), before + 1);
    cr_assert_eq(env_options_parse(&o, "height=3", &err), SHOAL_OK);
    cr_assert_null(env_make(reg, "example/coin", &o, &err));
    cr_assert(strstr(err.msg, "width"), "the plugin's parameters are listed: %s", err.msg);
    env_registry_free(reg);
}

Test(env_plugin, config_key_env_plugins_loads_the_libraries, .timeout = 60)
{
    const config_key *const tables[] = {env_config_keys};
    shoal_err err = {0};
    config *c = config_new(tables, 1, &err);
    char set[512];
    snprintf(set, sizeof set, "env.plugins=%s", example());
    cr_assert_eq(config_set(c, set, "test", &err), SHOAL_OK, "%s", err.msg);
    env_registry *reg = env_registry_from_config(c, &err);
    cr_assert_not_null(reg, "%s", err.msg);
    cr_assert_not_null(env_registry_find(reg, "example/coin"));
    env_registry_free(reg);
    cr_assert_eq(config_set(c, "env.plugins=/nonexistent/libnope.so", "test", &err), SHOAL_OK);
    cr_assert_null(env_registry_from_config(c, &err));
    cr_assert(strstr(err.msg, "[env] plugins") && strstr(err.msg, "libnope.so"), "%s", err.msg);
    config_free(c);
}

/* Source of a plugin whose descriptor claims ABI major.minor and offers game (a C initializer
 * of an env_game, or NULL for no games), with create functions to point it at. */
static const char *plugin_source(char *buf, size_t size, const char *major, const char *minor,
                                 const char *game)
{
    snprintf(buf, size,
             "#include <shoal/env_plugin.h>\n"
             "#include <stdlib.h>\n"
             "static const env_host *host;\n"
             "static void *fails(const double *p, int r, env_shape *s, shoal_err *e)\n"
             "{ (void)p; (void)r; (void)s; host->fail(e, \"no %%s today\", \"coins\"); return NULL; }\n"
             "static void *silent(const double *p, int r, env_shape *s, shoal_err *e)\n"
             "{ (void)p; (void)r; (void)s; (void)e; return NULL; }\n"
             "static void *flat(const double *p, int r, env_shape *s, shoal_err *e)\n"
             "{ (void)p; (void)r; (void)e; *s = (env_shape){1, 0, 1}; return malloc(1); }\n"
             "static void reset(void *s, env_rand *r) { (void)s; (void)r; }\n"
             "static float step(void *s, uint32_t a, env_rand *r, int *t)\n"
             "{ (void)s; (void)a; (void)r; *t = 1; return 0; }\n"
             "static void observe(const void *s, uint8_t *o) { (void)s; (void)o; }\n"
             "static const char *const names[] = {\"stay\"};\n"
             "static const uint32_t minimal[] = {0};\n"
             "#define GAME(n, c) {.name = n, .dtype = ENV_DTYPE_UINT8, .n_native_actions = 1,"
             " .action_names = names, .n_minimal_actions = 1, .minimal_actions = minimal,"
             " .create = c, .destroy = free, .reset = reset, .step = step, .observe = observe}\n"
             "static const env_game games[] = {%s};\n"
             "const env_plugin *shoal_env_plugin(const env_host *h)\n"
             "{\n"
             "    static const env_game *const all[] = {&games[0], &games[1], &games[2]};\n"
             "    static const env_plugin p = {.abi_major = %s, .abi_minor = %s,\n"
             "        .n_games = sizeof games / sizeof games[0], .games = all};\n"
             "    (void)fails; (void)silent; (void)flat;\n"
             "    host = h;\n"
             "    return &p;\n"
             "}\n",
             game, major, minor);
    return buf;
}

Test(env_plugin, plugin_built_for_another_abi_version_is_refused_naming_both, .timeout = 60)
{
    shoal_err err = {0};
    env_registry *reg = env_registry_new(&err);
    size_t n = env_registry_count(reg);
    char src[4096], want[64];
    const char *game = "GAME(\"t/a\", fails), GAME(\"t/b\", silent), GAME(\"t/c\", flat)";
    snprintf(want, sizeof want, "this shoal loads ABI %d.0 to %d.%d", SHOAL_ENV_ABI_MAJOR,
             SHOAL_ENV_ABI_MAJOR, SHOAL_ENV_ABI_MINOR);

    const char *next_major = build_so(
        "nextmajor", NULL,
        plugin_source(src, sizeof src, "SHOAL_ENV_ABI_MAJOR + 1", "0", game));
    cr_assert_eq(env_plugin_load(reg, next_major, &err), SHOAL_EVERSION, "%s", err.msg);
    char built[64];
    snprintf(built, sizeof built, "built for plugin ABI %d.0", SHOAL_ENV_ABI_MAJOR + 1);
    cr_assert(strstr(err.msg, next_major) && strstr(err.msg, built) && strstr(err.msg, want),
              "the file, its version and ours: %s", err.msg);

    /* A newer minor may use host fields this shoal lacks. */
    const char *next_minor = build_so(
        "nextminor", NULL,
        plugin_source(src, sizeof src, "SHOAL_ENV_ABI_MAJOR", "SHOAL_ENV_ABI_MINOR + 1", game));
    cr_assert_eq(env_plugin_load(reg, next_minor, &err), SHOAL_EVERSION, "%s", err.msg);
    snprintf(built, sizeof built, "built for plugin ABI %d.%d", SHOAL_ENV_ABI_MAJOR,
             SHOAL_ENV_ABI_MINOR + 1);
    cr_assert(strstr(err.msg, next_minor) && strstr(err.msg, built), "%s", err.msg);

    /* ABI 1 had no descriptor, only shoal_env_plugin_v1. */
    const char *v1 = build_so("v1", NULL,
                              "#include <stddef.h>\n"
                              "const void *shoal_env_plugin_v1(const void *h, size_t *n);\n"
                              "const void *shoal_env_plugin_v1(const void *h, size_t *n)\n"
                              "{ (void)h; *n = 0; return NULL; }\n");
    cr_assert_eq(env_plugin_load(reg, v1, &err), SHOAL_EVERSION, "%s", err.msg);
    cr_assert(strstr(err.msg, "built for plugin ABI 1.0") && strstr(err.msg, want), "%s",
              err.msg);
    cr_assert_eq(env_registry_count(reg), n, "nothing was registered");
    env_registry_free(reg);
}

Test(env_plugin, a_plugin_games_create_failure_reaches_the_user, .timeout = 60)
{
    shoal_err err = {0};
    env_registry *reg = env_registry_new(&err);
    char src[4096];
    const char *so = build_so(
        "fails", NULL,
        plugin_source(src, sizeof src, "SHOAL_ENV_ABI_MAJOR", "SHOAL_ENV_ABI_MINOR",
                      "GAME(\"t/a\", fails), GAME(\"t/b\", silent), GAME(\"t/c\", flat)"));
    cr_assert_eq(env_plugin_load(reg, so, &err), SHOAL_OK, "%s", err.msg);
    env_options o;
    env_options_default(&o);
    cr_assert_null(env_make(reg, "t/a", &o, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert_str_eq(err.msg, "no coins today", "host->fail's text: %s", err.msg);
    err = (shoal_err){.code = SHOAL_ETIMEOUT, .msg = "stale"};
    cr_assert_null(env_make(reg, "t/b", &o, &err));
    cr_assert(strstr(err.msg, "t/b: create failed and gave no reason"), "%s", err.msg);
    cr_assert_null(env_make(reg, "t/c", &o, &err), "a zero-width observation is refused");
    cr_assert(strstr(err.msg, "t/c: create"), "%s", err.msg);
    env_registry_free(reg);
}

Test(env_plugin, missing_library_entry_point_or_bad_game_table_is_an_error, .timeout = 60)
{
    shoal_err err = {0};
    env_registry *reg = env_registry_new(&err);
    size_t n = env_registry_count(reg);
    cr_assert_eq(env_plugin_load(reg, "/nonexistent/libx.so", &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "/nonexistent/libx.so"), "%s", err.msg);

    const char *no_entry = build_so("noentry", NULL, "int shoal_not_a_plugin(void);\n"
                                                     "int shoal_not_a_plugin(void) { return 1; }\n");
    cr_assert_eq(env_plugin_load(reg, no_entry, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, SHOAL_ENV_PLUGIN_ENTRY), "%s", err.msg);

    char src[4096];
    const char *bad_game = build_so(
        "badgame", NULL,
        plugin_source(src, sizeof src, "SHOAL_ENV_ABI_MAJOR", "SHOAL_ENV_ABI_MINOR",
                      "GAME(\"t/ok\", fails), GAME(\"t/nocreate\", NULL), GAME(\"t/x\", flat)"));
    cr_assert_eq(env_plugin_load(reg, bad_game, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "t/nocreate") && strstr(err.msg, "create"), "%s", err.msg);
    cr_assert_null(env_registry_find(reg, "t/ok"), "the whole library is refused");

    const char *declines = build_so("declines", NULL,
                                    "#include <shoal/env_plugin.h>\n"
                                    "const env_plugin *shoal_env_plugin(const env_host *h)\n"
                                    "{ (void)h; return NULL; }\n");
    cr_assert_eq(env_plugin_load(reg, declines, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "declined"), "%s", err.msg);

    const char *empty = build_so(
        "empty", NULL,
        "#include <shoal/env_plugin.h>\n"
        "const env_plugin *shoal_env_plugin(const env_host *h)\n"
        "{ static const env_plugin p = {SHOAL_ENV_ABI_MAJOR, SHOAL_ENV_ABI_MINOR, 0, NULL};\n"
        "  (void)h; return &p; }\n");
    cr_assert_eq(env_plugin_load(reg, empty, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "no games"), "%s", err.msg);
    cr_assert_eq(env_registry_count(reg), n, "nothing was registered");
    cr_assert_eq(env_plugin_load_list(reg, "", &err), SHOAL_OK);
    env_registry_free(reg);
}
