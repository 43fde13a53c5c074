#include "cluster/envfacts.h"

#include "common/obs.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/registry.h"

int cluster_env_facts_derive(config *cfg, shoal_err *err)
{
    if (obs_facts_in_config(cfg)) {
        return SHOAL_OK;
    }
    env_registry *reg = env_registry_from_config(cfg, err);
    if (!reg) {
        return err ? err->code : SHOAL_EINVAL;
    }
    env_options opt;
    int rc = env_options_from_config(&opt, cfg, err);
    env *e = rc == SHOAL_OK ? env_make(reg, config_str(cfg, "env", "name"), &opt, err) : NULL;
    if (!e) {
        env_registry_free(reg);
        return err ? err->code : SHOAL_EINVAL;
    }
    obs_facts f = env_facts(e);
    env_free(e);
    env_registry_free(reg);
    return obs_facts_to_config(cfg, &f, "derived from env.name", err);
}

config *cluster_with_env_facts(config *cfg, shoal_err *err)
{
    if (cfg && cluster_env_facts_derive(cfg, err) != SHOAL_OK) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}
