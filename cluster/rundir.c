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

/* Endpoints are ZeroMQ addresses: no quotes or backslashes to escape. */
static bool plain(const char *s)
{
    return strpbrk(s, "\"\\\n") == NULL;
}

int rundir_endpoints_write(const char *dir, const rundir_endpoints *ep, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    int rc = rundir_path(path, sizeof path, dir, "endpoints.json", err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    char text[RUNDIR_MAX_SHARDS * (RUNDIR_ENDPOINT_MAX + 8) + RUNDIR_ENDPOINT_MAX + 64];
    size_t used = (size_t)snprintf(text, sizeof text, "{\"replay\": [");
    for (size_t i = 0; i < ep->n_replay; i++) {
        if (!plain(ep->replay[i])) {
            return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s' has quotes or backslashes",
                                 ep->replay[i]);
        }
        used += (size_t)snprintf(text + used, sizeof text - used, "%s\"%s\"", i ? ", " : "",
                                 ep->replay[i]);
    }
    if (!plain(ep->params)) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s' has quotes or backslashes",
                             ep->params);
    }
    used += (size_t)snprintf(text + used, sizeof text - used, "], \"params\": \"%s\"}\n",
                             ep->params);
    return atomic_write_file(path, text, used, err);
}

/* Skips spaces; returns the next character (or '\0'). */
static char peek(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r') {
        (*p)++;
    }
    return **p;
}

static bool expect(const char **p, char c)
{
    if (peek(p) != c) {
        return false;
    }
    (*p)++;
    return true;
}

/* Reads a "string" without escapes into out. */
static bool read_string(const char **p, char *out, size_t cap)
{
    if (!expect(p, '"')) {
        return false;
    }
    const char *end = strchr(*p, '"');
    if (!end || (size_t)(end - *p) >= cap || memchr(*p, '\\', (size_t)(end - *p))) {
        return false;
    }
    memcpy(out, *p, (size_t)(end - *p));
    out[end - *p] = '\0';
    *p = end + 1;
    return true;
}

static bool parse_endpoints(const char *p, rundir_endpoints *ep)
{
    memset(ep, 0, sizeof *ep);
    bool have_replay = false, have_params = false;
    if (!expect(&p, '{')) {
        return false;
    }
    do {
        char key[32];
        if (!read_string(&p, key, sizeof key) || !expect(&p, ':')) {
            return false;
        }
        if (strcmp(key, "replay") == 0) {
            if (!expect(&p, '[')) {
                return false;
            }
            if (peek(&p) != ']') {
                do {
                    if (ep->n_replay == RUNDIR_MAX_SHARDS ||
                        !read_string(&p, ep->replay[ep->n_replay++], RUNDIR_ENDPOINT_MAX)) {
                        return false;
                    }
                } while (expect(&p, ','));
            }
            if (!expect(&p, ']')) {
                return false;
            }
            have_replay = true;
        } else if (strcmp(key, "params") == 0) {
            if (!read_string(&p, ep->params, sizeof ep->params)) {
                return false;
            }
            have_params = true;
        } else {
            return false;
        }
    } while (expect(&p, ','));
    return expect(&p, '}') && have_replay && have_params && ep->n_replay > 0;
}

int rundir_endpoints_read(const char *dir, rundir_endpoints *ep, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    int rc = rundir_path(path, sizeof path, dir, "endpoints.json", err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    uint8_t *data;
    size_t n;
    rc = file_read_all(path, 1 << 20, &data, &n, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    bool ok = parse_endpoints((const char *)data, ep);
    free(data);
    if (!ok) {
        return shoal_err_set(err, SHOAL_ECORRUPT,
                             "%s is not {\"replay\": [\"tcp://...\", ...], \"params\": "
                             "\"tcp://...\"} with at most %d shards", path, RUNDIR_MAX_SHARDS);
    }
    return SHOAL_OK;
}
