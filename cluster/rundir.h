/* The run folder (ARCHITECTURE.md, Run directory): config.ini (the effective configuration),
 * endpoints.json (where external actors connect), checkpoints/, log/, and the files the roles
 * write (metrics.csv, eval.*, replay-<shard>.ckpt).
 *
 * endpoints.json is {"replay": ["tcp://10.0.0.1:40001", ...], "params": "tcp://10.0.0.2:40100"}.
 *
 *     rundir_prepare("runs/breakout", false, &err);        // refuses to overwrite a run
 *     rundir_write_config("runs/breakout", cfg, &err);
 *     rundir_endpoints_write("runs/breakout", &ep, &err);
 */
#ifndef SHOAL_CLUSTER_RUNDIR_H
#define SHOAL_CLUSTER_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/err.h"

#define RUNDIR_ENDPOINT_MAX 256
#define RUNDIR_MAX_SHARDS 64

typedef struct rundir_endpoints {
    size_t n_replay;
    char replay[RUNDIR_MAX_SHARDS][RUNDIR_ENDPOINT_MAX];
    char params[RUNDIR_ENDPOINT_MAX];
} rundir_endpoints;

/* Creates dir, dir/checkpoints and dir/log. Without resume, a folder that already holds a run
 * (config.ini or checkpoints) is refused with EINVAL telling the user to resume it or pick
 * another; with resume, the folder must hold a config.ini (ENOTFOUND otherwise). */
int rundir_prepare(const char *dir, bool resume, shoal_err *err);

/* Writes dir/config.ini atomically with the effective configuration. */
int rundir_write_config(const char *dir, const config *cfg, shoal_err *err);

/* Writes dir/endpoints.json atomically. */
int rundir_endpoints_write(const char *dir, const rundir_endpoints *ep, shoal_err *err);

/* Reads dir/endpoints.json. ENOTFOUND when absent (the run has not started its roles yet);
 * ECORRUPT naming what is wrong when it is not in the format above. */
int rundir_endpoints_read(const char *dir, rundir_endpoints *ep, shoal_err *err);

/* Joins dir and name into out (cap bytes); EINVAL when too long. */
int rundir_path(char *out, size_t cap, const char *dir, const char *name, shoal_err *err);

#endif
