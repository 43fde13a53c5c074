/* env/plugin.h: build the example plugin with the system compiler, load it with dlopen and
 * play it through the registry; and every way loading can fail. */
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
    snprintf(cmd, sizeof cmd, "cc -std=c11 -O1 -shared -fPIC -Wall -Wextra -Werror -I%s -o %s %s",
             getenv("SHOAL_SOURCE_DIR"), out, source_path);
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
    cr_assert(strstr(err.msg, ENV_PLUGIN_ENTRY), "%s", err.msg);

    const char *bad_abi = build_so(
        "badabi", NULL,
        "#include \"env/game.h\"\n"
        "static const env_game g = {.abi_version = 99, .name = \"bad/abi\"};\n"
        "const env_game *const *shoal_env_plugin_v1(const env_host *h, size_t *n);\n"
        "const env_game *const *shoal_env_plugin_v1(const env_host *h, size_t *n)\n"
        "{ static const env_game *const all[] = {&g}; (void)h; *n = 1; return all; }\n");
    cr_assert_eq(env_plugin_load(reg, bad_abi, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "ABI version 99"), "%s", err.msg);

    const char *empty = build_so(
        "empty", NULL,
        "#include \"env/game.h\"\n"
        "const env_game *const *shoal_env_plugin_v1(const env_host *h, size_t *n);\n"
        "const env_game *const *shoal_env_plugin_v1(const env_host *h, size_t *n)\n"
        "{ (void)h; *n = 0; return NULL; }\n");
    cr_assert_eq(env_plugin_load(reg, empty, &err), SHOAL_EINVAL);
    cr_assert_eq(env_registry_count(reg), n, "nothing was registered");
    cr_assert_eq(env_plugin_load_list(reg, "", &err), SHOAL_OK);
    env_registry_free(reg);
}
