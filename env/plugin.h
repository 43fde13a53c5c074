/* Environment plugins: games in a shared library, loaded with dlopen and registered by name.
 *
 * The ABI a plugin compiles against is env/plugin_abi.h, installed as <shoal/env_plugin.h>
 * with a pkg-config file (shoal-plugin); docs/guide.md walks through building one against an
 * installed shoal, and env/examples/coin_plugin.c is a complete example. This header is the
 * loader. A library is checked before any of its games is registered: its entry point, the
 * ABI version it was built for (see the versioning rules in env/plugin_abi.h), and every game
 * table. Config: `[env] plugins = a.so,b.so`; command line: `shoal env ... --plugin a.so`.
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

/* Loads the library at path and registers its games in r, which keeps the library open until
 * env_registry_free. Errors name path: EIO when dlopen fails (with dlerror's text), ENOTFOUND
 * when shoal_env_plugin is missing, EVERSION when the library was built for an ABI version
 * this shoal does not load (its version and the supported one in the message), EINVAL when
 * it declines, offers no games or has a bad game table (nothing of that library is then
 * registered). */
int env_plugin_load(env_registry *r, const char *path, shoal_err *err);

/* Loads every path of a comma-separated list (empty: nothing); stops at the first error. */
int env_plugin_load_list(env_registry *r, const char *paths, shoal_err *err);

#endif
