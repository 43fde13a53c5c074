#include "env/env_config.h"

#include <string.h>

#include "env/plugin.h"
#include "env/registry.h"

const config_key env_config_keys[] = {
    {"env", "name", CONFIG_STRING, "minatar/breakout", 0, 0, NULL,
     "environment to play (shoal env list): minatar/<game>, deepsea, chain or a plugin game"},
    {"env", "sticky", CONFIG_FLOAT, "0.1", 0, 1, NULL,
     "sticky-action probability: repeat the previous action instead (MinAtar games)"},
    {"env", "ramping", CONFIG_BOOL, "true", 0, 0, NULL,
     "MinAtar difficulty ramping (Asterix, Seaquest, Space Invaders)"},
    {"env", "max_episode_steps", CONFIG_INT, "0", 0, 1e15, NULL,
     "truncate episodes after this many steps (reported as truncated); 0: no limit"},
    {"env", "rng", CONFIG_ENUM, "mt19937", 0, 0, "mt19937|xoshiro",
     "environment generator: mt19937 reproduces MinAtar bit for bit, xoshiro is faster"},
    {"env", "deepsea_size", CONFIG_INT, "10", 1, 4096, NULL,
     "DeepSea grid side N (episodes last N steps)"},
    {"env", "chain_length", CONFIG_INT, "10", 4, 100000, NULL,
     "Chain length N (episodes last N + 8 steps, optimal return 10)"},
    {"env", "options", CONFIG_STRING, "", 0, 0, NULL,
     "extra environment options, key=value,key=value (e.g. plugin game parameters)"},
    {"env", "plugins", CONFIG_STRING, "", 0, 0, NULL,
     "comma-separated shared libraries with more environments (env/plugin.h)"},
    CONFIG_KEY_END,
};

int env_options_from_config(env_options *o, const config *cfg, shoal_err *err)
{
    env_options_default(o);
    o->sticky = config_float(cfg, "env", "sticky");
    o->ramping = config_bool(cfg, "env", "ramping");
    o->max_episode_steps = (uint64_t)config_int(cfg, "env", "max_episode_steps");
    o->rand_kind = strcmp(config_str(cfg, "env", "rng"), "xoshiro") == 0 ? ENV_RAND_XOSHIRO
                                                                          : ENV_RAND_MT19937;
    const char *name = config_str(cfg, "env", "name");
    int rc = SHOAL_OK;
    if (strcmp(name, "deepsea") == 0) {
        rc = env_options_set_param(o, "size", (double)config_int(cfg, "env", "deepsea_size"),
                                   err);
    } else if (strcmp(name, "chain") == 0) {
        rc = env_options_set_param(o, "length", (double)config_int(cfg, "env", "chain_length"),
                                   err);
    }
    if (rc == SHOAL_OK) {
        rc = env_options_parse(o, config_str(cfg, "env", "options"), err);
    }
    return rc != SHOAL_OK ? shoal_err_prefix(err, "[env] options") : SHOAL_OK;
}

env_registry *env_registry_from_config(const config *cfg, shoal_err *err)
{
    env_registry *reg = env_registry_new(err);
    if (reg && env_plugin_load_list(reg, config_str(cfg, "env", "plugins"), err) != SHOAL_OK) {
        shoal_err_prefix(err, "[env] plugins");
        env_registry_free(reg);
        return NULL;
    }
    return reg;
}
