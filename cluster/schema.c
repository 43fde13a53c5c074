#include "cluster/commands.h"

#include <stdlib.h>

#include "env/env_config.h"
#include "learner/learner.h"
#include "nn/nn_config.h"
#include "replay/server.h"

/* Keys of the whole run, owned by the cluster part. Each other part owns its own table. */
static const config_key run_keys[] = {
    {"run", "name", CONFIG_STRING, "breakout", 0, 0, NULL,
     "run name; the run folder is runs/<name> unless --run-dir says otherwise"},
    {"run", "seed", CONFIG_INT, "1", 0, 4294967295.0, NULL,
     "master seed; every random stream derives from (seed, role, rank, index)"},
    {"log", "level", CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error|off",
     "lowest level written to stderr and the log files"},
    {"log", "file", CONFIG_STRING, "", 0, 0, NULL,
     "append log lines to this file as well (empty: stderr only)"},
    CONFIG_KEY_END,
};

const config_key *const *shoal_config_tables(size_t *n_tables)
{
    static const config_key *const tables[] = {
        run_keys,
        env_config_keys,
        nn_config_keys,
        replay_config_keys,
        learner_config_keys,
    };
    *n_tables = sizeof tables / sizeof tables[0];
    return tables;
}

config *shoal_config_load(const char *path, const char *const *overrides, int n_overrides,
                          shoal_err *err)
{
    size_t n_tables;
    const config_key *const *tables = shoal_config_tables(&n_tables);
    config *cfg = config_new(tables, n_tables, err);
    if (!cfg) {
        return NULL;
    }
    if (path && config_load_file(cfg, path, err) != SHOAL_OK) {
        config_free(cfg);
        return NULL;
    }
    for (int i = 0; i < n_overrides; i++) {
        if (config_set(cfg, overrides[i], "--set", err) != SHOAL_OK) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}
