#include "env/registry.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "env/games.h"

static const env_game *const builtins[] = {
    &env_game_breakout, &env_game_asterix, &env_game_freeway, &env_game_seaquest,
    &env_game_space_invaders, &env_game_deepsea, &env_game_chain,
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

struct env_registry {
    const env_game **games;
    size_t n_games, cap_games;
    void **libs;
    size_t n_libs, cap_libs;
};

/* Grows a pointer array to hold one more element. */
static int grow(void ***items, size_t n, size_t *cap)
{
    if (n < *cap) {
        return 0;
    }
    size_t new_cap = *cap ? *cap * 2 : 16;
    void **p = realloc(*items, new_cap * sizeof *p);
    if (!p) {
        return -1;
    }
    *items = p;
    *cap = new_cap;
    return 0;
}

env_registry *env_registry_new(shoal_err *err)
{
    env_registry *r = calloc(1, sizeof *r);
    if (!r) {
        goto oom;
    }
    for (size_t i = 0; i < N_BUILTINS; i++) {
        if (env_registry_add(r, builtins[i], err) != SHOAL_OK) {
            env_registry_free(r);
            return NULL;
        }
    }
    return r;
oom:
    shoal_err_set(err, SHOAL_ENOMEM, "env registry: out of memory");
    return NULL;
}

void env_registry_free(env_registry *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_libs; i++) {
        dlclose(r->libs[i]);
    }
    free(r->libs);
    free(r->games);
    free(r);
}

/* The plugin ABI's encodings are shoal's obs_dtype numbers, so a table's dtype is used as is. */
_Static_assert(ENV_DTYPE_BIT == OBS_DTYPE_BIT && ENV_DTYPE_UINT8 == OBS_DTYPE_UINT8,
               "env/plugin_abi.h dtypes must match common/obs.h");

static int check_game(const env_game *g, shoal_err *err)
{
    const char *name = g->name ? g->name : "(unnamed)";
    if (!g->name || !g->name[0]) {
        return shoal_err_set(err, SHOAL_EINVAL, "env game without a name");
    }
    if (!g->create || !g->destroy || !g->reset || !g->step || !g->observe) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "env game %s: create, destroy, reset, step and observe are "
                             "required", name);
    }
    if (g->dtype != ENV_DTYPE_BIT && g->dtype != ENV_DTYPE_UINT8) {
        return shoal_err_set(err, SHOAL_EINVAL, "env game %s: dtype %u; expected BIT or UINT8",
                             name, g->dtype);
    }
    if (g->n_native_actions == 0 || !g->action_names || g->n_minimal_actions == 0 ||
        !g->minimal_actions) {
        return shoal_err_set(err, SHOAL_EINVAL, "env game %s: it declares no actions", name);
    }
    for (uint32_t i = 0; i < g->n_minimal_actions; i++) {
        if (g->minimal_actions[i] >= g->n_native_actions) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "env game %s: minimal action %u is %u, beyond its %u actions",
                                 name, i, g->minimal_actions[i], g->n_native_actions);
        }
    }
    if (g->n_params > ENV_MAX_PARAMS || (g->n_params && !g->params)) {
        return shoal_err_set(err, SHOAL_EINVAL, "env game %s: %zu parameters (at most %d)",
                             name, g->n_params, ENV_MAX_PARAMS);
    }
    return SHOAL_OK;
}

int env_registry_add(env_registry *r, const env_game *g, shoal_err *err)
{
    if (check_game(g, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (env_registry_find(r, g->name)) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "env game %s is already registered; plugin games need names of "
                             "their own", g->name);
    }
    if (grow((void ***)&r->games, r->n_games, &r->cap_games) != 0) {
        return shoal_err_set(err, SHOAL_ENOMEM, "env registry: out of memory");
    }
    r->games[r->n_games++] = g;
    return SHOAL_OK;
}

void env_registry_truncate(env_registry *r, size_t n)
{
    if (n < r->n_games) {
        r->n_games = n;
    }
}

int env_registry_adopt_library(env_registry *r, void *dl_handle, shoal_err *err)
{
    if (grow(&r->libs, r->n_libs, &r->cap_libs) != 0) {
        dlclose(dl_handle);
        return shoal_err_set(err, SHOAL_ENOMEM, "env registry: out of memory");
    }
    r->libs[r->n_libs++] = dl_handle;
    return SHOAL_OK;
}

size_t env_registry_count(const env_registry *r)
{
    return r ? r->n_games : N_BUILTINS;
}

const env_game *env_registry_game(const env_registry *r, size_t i)
{
    return r ? r->games[i] : builtins[i];
}

const env_game *env_registry_find(const env_registry *r, const char *name)
{
    for (size_t i = 0; i < env_registry_count(r); i++) {
        const env_game *g = env_registry_game(r, i);
        if (strcmp(g->name, name) == 0) {
            return g;
        }
    }
    return NULL;
}

const env_game *env_registry_need(const env_registry *r, const char *name, shoal_err *err)
{
    const env_game *g = env_registry_find(r, name);
    if (!g) {
        char names[512];
        env_registry_names(r, names, sizeof names);
        shoal_err_set(err, SHOAL_ENOTFOUND, "unknown environment '%s'; known: %s", name, names);
    }
    return g;
}

void env_registry_names(const env_registry *r, char *buf, size_t cap)
{
    size_t used = 0;
    if (cap == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < env_registry_count(r) && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                         env_registry_game(r, i)->name);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}
