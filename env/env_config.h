/* The [env] configuration table and its translation into env_options.
 *
 *     env_options o;
 *     env_options_from_config(&o, cfg, &err);
 *     env_registry *reg = env_registry_from_config(cfg, &err);
 *     env *e = env_make(reg, config_str(cfg, "env", "name"), &o, &err);
 */
#ifndef SHOAL_ENV_ENV_CONFIG_H
#define SHOAL_ENV_ENV_CONFIG_H

#include "common/config.h"
#include "env/env.h"

/* The keys of section [env], for cluster/schema.c. */
extern const config_key env_config_keys[];

/* Options for the environment named by env.name: sticky, ramping, max_episode_steps, rng,
 * deepsea_size (DeepSea's size) or chain_length (Chain's length), then env.options. EINVAL
 * for a malformed env.options. */
int env_options_from_config(env_options *o, const config *cfg, shoal_err *err);

/* A registry of the built-in games plus every library listed in env.plugins. NULL with err
 * (see env_plugin_load) when a plugin fails to load. */
env_registry *env_registry_from_config(const config *cfg, shoal_err *err);

#endif
