#include "cluster/rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"

int rundir_path(char *out, size_t cap, const char *dir, const char *name, shoal_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "path %s/%s is too long", dir, name);
    }
    return SHOAL_OK;
}

int rundir_resolve(char *path, size_t cap, const char *dir, shoal_err *err)
{
    if (!path[0] || path[0] == '/') {
        return SHOAL_OK;
    }
    char name[FILEIO_PATH_MAX];
    snprintf(name, sizeof name, "%s", path);
    return rundir_path(path, cap, dir, name, err);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int rundir_prepare(const char *dir, bool resume, shoal_err *err)
{
    char cfg_path[FILEIO_PATH_MAX], ckpt_dir[FILEIO_PATH_MAX], log_dir[FILEIO_PATH_MAX];
    int rc = rundir_path(cfg_path, sizeof cfg_path, dir, "config.ini", err);
    if (rc == SHOAL_OK) {
        rc = rundir_path(ckpt_dir, sizeof ckpt_dir, dir, "checkpoints", err);
    }
    if (rc == SHOAL_OK) {
        rc = rundir_path(log_dir, sizeof log_dir, dir, "log", err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (resume && !exists(cfg_path)) {
        return shoal_err_set(err, SHOAL_ENOTFOUND,
                             "%s holds no run to resume (no config.ini); start a new run with "
                             "--run-dir %s instead of --resume", dir, dir);
    }
    if (!resume && (exists(cfg_path) || exists(ckpt_dir))) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "%s already holds a run; continue it with --resume %s, or choose "
                             "another folder (--run-dir) or run.name", dir, dir);
    }
    rc = file_mkdirs(ckpt_dir, err);
    if (rc == SHOAL_OK) {
        rc = file_mkdirs(log_dir, err);
    }
    return rc;
}

int rundir_write_config(const char *dir, const config *cfg, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    int rc = rundir_path(path, sizeof path, dir, "config.ini", err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    atomic_file af;
    rc = atomic_file_open(&af, path, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    fprintf(af.f, "; effective configuration of this run, written by shoal train\n");
    rc = config_write(cfg, af.f, err);
    if (rc != SHOAL_OK) {
        atomic_file_abort(&af);
        return rc;
    }
    return atomic_file_commit(&af, err);
}
