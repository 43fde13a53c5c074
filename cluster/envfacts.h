/* The env facts of a run (common/obs.h: observation spec and action count), derived once from
 * env.name so that no role builds an environment only to learn them. `shoal train` derives
 * them before it writes the run's config.ini; `shoal actor|learner|replay|eval CONFIG` derive
 * them right after loading a config that lacks them.
 *
 *     config *cfg = cmdline_config_load(path, NULL, false, &sets, &err);
 *     cluster_env_facts_derive(cfg, &err);   // env.obs_shape, env.obs_dtype, env.n_actions
 *     cfg = cluster_with_env_facts(cmdline_config_load(path, NULL, false, &sets, &err), &err);
 */
#ifndef SHOAL_CLUSTER_ENVFACTS_H
#define SHOAL_CLUSTER_ENVFACTS_H

#include "common/config.h"
#include "common/err.h"

/* When env.obs_shape or env.n_actions is unset, builds env.name once (with env.plugins and the
 * env options) and writes its facts into cfg ("derived from env.name"); when both are set,
 * leaves cfg as it is. Errors are those of env_registry_from_config, env_options_from_config and
 * env_make (a plugin that fails to load, a bad option, an unknown game). */
int cluster_env_facts_derive(config *cfg, shoal_err *err);

/* For a freshly loaded config: returns cfg with its facts derived, or NULL with err when cfg is
 * NULL (the loader's err is kept) or the derivation fails (cfg is then freed). Lets a
 * subcommand write `cfg = cluster_with_env_facts(shoal_config_load(...), &err)`. */
config *cluster_with_env_facts(config *cfg, shoal_err *err);

#endif
