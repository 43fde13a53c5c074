/* Shared by the role tests that fill configurations by hand: the env facts (common/obs.h) that
 * `shoal train` would derive and put in the run's config. */
#ifndef SHOAL_TESTS_OBS_FIXTURES_H
#define SHOAL_TESTS_OBS_FIXTURES_H

#include <criterion/criterion.h>

#include "cluster/envfacts.h"
#include "common/obs.h"
#include "env/env.h"

/* The facts of built-in game `name` under options o, from one instance. */
static inline obs_facts fx_env_facts(const char *name, const env_options *o)
{
    shoal_err err = {0};
    env *e = env_make(NULL, name, o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    obs_facts f = {.obs = env_obs_spec(e), .n_actions = env_n_actions(e)};
    env_free(e);
    return f;
}

/* Derives cfg's env facts from its env.name, as `shoal train` does. */
static inline void fx_derive_facts(config *cfg)
{
    shoal_err err = {0};
    cr_assert_eq(cluster_env_facts_derive(cfg, &err), SHOAL_OK, "%s", err.msg);
}

#endif
