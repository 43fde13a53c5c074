#include "env/plugin.h"

#include <dlfcn.h>
#include <string.h>

static double host_uniform(env_rand *r)
{
    return env_rand_double(r);
}

static int64_t host_integer(env_rand *r, int64_t low, int64_t high)
{
    return env_rand_int(r, low, high);
}

static const env_host host = {
    .abi_version = ENV_GAME_ABI_VERSION,
    .uniform = host_uniform,
    .integer = host_integer,
};

int env_plugin_load(env_registry *r, const char *path, shoal_err *err)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return shoal_err_set(err, SHOAL_EIO, "env plugin %s: cannot load: %s", path,
                             why ? why : "unknown dlopen error");
    }
    env_plugin_entry entry;
    /* POSIX's sanctioned way to turn dlsym's void * into a function pointer. */
    *(void **)&entry = dlsym(lib, ENV_PLUGIN_ENTRY);
    if (!entry) {
        dlclose(lib);
        return shoal_err_set(err, SHOAL_ENOTFOUND,
                             "env plugin %s: no function %s; see env/plugin.h for the ABI", path,
                             ENV_PLUGIN_ENTRY);
    }
    size_t n = 0;
    const env_game *const *games = entry(&host, &n);
    if (!games || n == 0) {
        dlclose(lib);
        return shoal_err_set(err, SHOAL_EINVAL, "env plugin %s: it offers no games", path);
    }
    size_t before = env_registry_count(r);
    for (size_t i = 0; i < n; i++) {
        if (!games[i] || env_registry_add(r, games[i], err) != SHOAL_OK) {
            /* Roll back by refusing the whole library: its games would dangle after dlclose. */
            int code = games[i] ? (err ? err->code : SHOAL_EINVAL) : SHOAL_EINVAL;
            if (!games[i]) {
                shoal_err_set(err, code, "game %zu is NULL", i);
            }
            env_registry_truncate(r, before);
            dlclose(lib);
            return shoal_err_prefix(err, "env plugin %s", path);
        }
    }
    return env_registry_adopt_library(r, lib, err);
}

int env_plugin_load_list(env_registry *r, const char *paths, shoal_err *err)
{
    char path[1024];
    const char *p = paths ? paths : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len >= sizeof path) {
            return shoal_err_set(err, SHOAL_EINVAL, "env plugin path '%.40s...' is too long", p);
        }
        memcpy(path, p, len);
        path[len] = '\0';
        p += len + (p[len] == ',');
        if (len > 0 && env_plugin_load(r, path, err) != SHOAL_OK) {
            return err ? err->code : SHOAL_EINVAL;
        }
    }
    return SHOAL_OK;
}
