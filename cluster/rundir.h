/* The run folder (ARCHITECTURE.md, Run directory): config.ini (the effective configuration),
 * endpoints.json (where external actors connect), checkpoints/, log/, and the files the roles
 * write (metrics.csv, eval.*, replay-<shard>.ckpt).
 *
 * endpoints.json is read and written by cluster/endpoints.h.
 *
 *     rundir_prepare("runs/breakout", false, &err);        // refuses to overwrite a run
 *     rundir_write_config("runs/breakout", cfg, &err);
 */
#ifndef SHOAL_CLUSTER_RUNDIR_H
#define SHOAL_CLUSTER_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/err.h"

/* Creates dir, dir/checkpoints and dir/log. Without resume, a folder that already holds a run
 * (config.ini or checkpoints) is refused with EINVAL telling the user to resume it or pick
 * another; with resume, the folder must hold a config.ini (ENOTFOUND otherwise). */
int rundir_prepare(const char *dir, bool resume, shoal_err *err);

/* Writes dir/config.ini atomically with the effective configuration. */
int rundir_write_config(const char *dir, const config *cfg, shoal_err *err);

/* Joins dir and name into out (cap bytes); EINVAL when too long. */
int rundir_path(char *out, size_t cap, const char *dir, const char *name, shoal_err *err);

/* Makes a relative path (cap bytes, in place) relative to the run folder dir, so that files a
 * config names (actor.episode_log) land in the run whatever the working folder; absolute and
 * empty paths are kept. EINVAL when too long. */
int rundir_resolve(char *path, size_t cap, const char *dir, shoal_err *err);

#endif
