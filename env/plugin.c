#include "env/plugin.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>

static double host_uniform(env_rand *r)
{
    return env_rand_double(r);
}

static int64_t host_integer(env_rand *r, int64_t low, int64_t high)
{
    return env_rand_int(r, low, high);
}

static void host_fail(shoal_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shoal_err_vset(err, SHOAL_EINVAL, fmt, ap);
    va_end(ap);
}

static const env_host host = {
    .abi_major = SHOAL_ENV_ABI_MAJOR,
    .abi_minor = SHOAL_ENV_ABI_MINOR,
    .uniform = host_uniform,
    .integer = host_integer,
    .fail = host_fail,
};

/* The entry point of ABI 1 (shoal before the versioned descriptor); found only to say so. */
#define ENV_PLUGIN_ENTRY_V1 "shoal_env_plugin_v1"

static int refuse_version(const char *path, uint32_t major, uint32_t minor, shoal_err *err)
{
    return shoal_err_set(err, SHOAL_EVERSION,
                         "env plugin %s: built for plugin ABI %u.%u, this shoal loads ABI "
                         "%u.0 to %u.%u; rebuild it against this shoal's <shoal/env_plugin.h> "
                         "(pkg-config shoal-plugin)",
                         path, major, minor, SHOAL_ENV_ABI_MAJOR, SHOAL_ENV_ABI_MAJOR,
                         SHOAL_ENV_ABI_MINOR);
}

/* Sets *out to the plugin's descriptor once its ABI version says this shoal can read the
 * rest. */
static int describe(void *lib, const char *path, const env_plugin **out, shoal_err *err)
{
    env_plugin_entry entry;
    /* POSIX's sanctioned way to turn dlsym's void * into a function pointer. */
    *(void **)&entry = dlsym(lib, SHOAL_ENV_PLUGIN_ENTRY);
    if (!entry) {
        if (dlsym(lib, ENV_PLUGIN_ENTRY_V1)) {
            return refuse_version(path, 1, 0, err);
        }
        return shoal_err_set(err, SHOAL_ENOTFOUND,
                             "env plugin %s: no function %s; see <shoal/env_plugin.h> for the ABI",
                             path, SHOAL_ENV_PLUGIN_ENTRY);
    }
    const env_plugin *p = entry(&host);
    if (!p) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "env plugin %s: it declined to load (this shoal's plugin ABI is "
                             "%u.%u)", path, SHOAL_ENV_ABI_MAJOR, SHOAL_ENV_ABI_MINOR);
    }
    if (p->abi_major != SHOAL_ENV_ABI_MAJOR || p->abi_minor > SHOAL_ENV_ABI_MINOR) {
        return refuse_version(path, p->abi_major, p->abi_minor, err);
    }
    if (!p->games || p->n_games == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "env plugin %s: it offers no games", path);
    }
    *out = p;
    return SHOAL_OK;
}

int env_plugin_load(env_registry *r, const char *path, shoal_err *err)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return shoal_err_set(err, SHOAL_EIO, "env plugin %s: cannot load: %s", path,
                             why ? why : "unknown dlopen error");
    }
    const env_plugin *p = NULL;
    int rc = describe(lib, path, &p, err);
    if (rc != SHOAL_OK) {
        dlclose(lib);
        return rc;
    }
    size_t n = p->n_games;
    const env_game *const *games = p->games;
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
