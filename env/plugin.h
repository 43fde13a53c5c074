/* Environment plugins: games in a shared library, loaded with dlopen and registered by name.
 *
 * The C ABI. A plugin includes "env/game.h" (plain structs and function pointers only; it
 * links nothing of shoal) and exports one function:
 *
 *     const env_game *const *shoal_env_plugin_v1(const env_host *host, size_t *n_games);
 *
 * It returns an array of *n_games game tables that stay valid until the library is closed
 * (static const data is the usual choice), each with abi_version = ENV_GAME_ABI_VERSION and a
 * name no other game uses. host gives the random draws (host->uniform, host->integer) a game
 * makes from the env_rand its reset and step receive; keep the pointer, it outlives the
 * library. The wrapper adds sticky actions, time limits and action subsets as for built-in
 * games; game options are declared in env_game.params. env/examples/coin_plugin.c is a
 * complete example. Config: `[env] plugins = a.so,b.so`.
 *
 *     env_registry *reg = env_registry_new(&err);
 *     env_plugin_load(reg, "./libcoin.so", &err);
 *     env *e = env_make(reg, "example/coin", &opts, &err);
 */
#ifndef SHOAL_ENV_PLUGIN_H
#define SHOAL_ENV_PLUGIN_H

#include <stddef.h>

#include "common/err.h"
#include "env/game.h"
#include "env/registry.h"

#define ENV_PLUGIN_ENTRY "shoal_env_plugin_v1"

typedef const env_game *const *(*env_plugin_entry)(const env_host *host, size_t *n_games);

/* Loads the library at path and registers its games in r, which keeps the library open until
 * env_registry_free. EIO when dlopen fails (with dlerror's text), ENOTFOUND when the entry
 * point is missing, EINVAL for a bad game table (nothing of that library is registered). */
int env_plugin_load(env_registry *r, const char *path, shoal_err *err);

/* Loads every path of a comma-separated list (empty: nothing); stops at the first error. */
int env_plugin_load_list(env_registry *r, const char *paths, shoal_err *err);

#endif
