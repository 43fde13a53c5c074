/* The registry of environment games: the built-in ones (MinAtar's five, DeepSea, Chain) plus
 * any added at run time, usually by env_plugin_load (env/plugin.h). env_make looks names up
 * here; a NULL registry means the built-in games only.
 *
 *     env_registry *reg = env_registry_new(&err);
 *     env_plugin_load(reg, "libmygame.so", &err);
 *     env *e = env_make(reg, "mygame", &opts, &err);   // reg must outlive e
 */
#ifndef SHOAL_ENV_REGISTRY_H
#define SHOAL_ENV_REGISTRY_H

#include <stddef.h>

#include "common/err.h"
#include "env/env.h"
#include "env/game.h"

/* A registry holding the built-in games. NULL with err (ENOMEM). */
env_registry *env_registry_new(shoal_err *err);

/* Frees r and closes the libraries it adopted. Environments made from plugin games must be
 * freed first. NULL is fine. */
void env_registry_free(env_registry *r);

/* Adds a game (borrowed: it must outlive r). EINVAL for a missing function, an unknown
 * dtype, an empty action set or a name already registered. */
int env_registry_add(env_registry *r, const env_game *g, shoal_err *err);

/* Forgets every game registered after the first n (used to undo a half-loaded plugin). */
void env_registry_truncate(env_registry *r, size_t n);

/* Takes a dlopen handle to dlclose when r is freed. ENOMEM (the handle is then closed). */
int env_registry_adopt_library(env_registry *r, void *dl_handle, shoal_err *err);

/* Number of games and the i-th one (registration order; r may be NULL: built-ins). */
size_t env_registry_count(const env_registry *r);
const env_game *env_registry_game(const env_registry *r, size_t i);

/* The game named name, or NULL. */
const env_game *env_registry_find(const env_registry *r, const char *name);

/* The game named name, or NULL with ENOTFOUND naming it and listing the known ones. */
const env_game *env_registry_need(const env_registry *r, const char *name, shoal_err *err);

/* Writes "a, b, c" (every registered name) into buf, for error messages. */
void env_registry_names(const env_registry *r, char *buf, size_t cap);

#endif
