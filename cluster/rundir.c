#include "cluster/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "nn/paramfile.h"
#include "tb/writer.h"

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

int rundir_tb_dir(char *out, size_t cap, const config *cfg, const char *dir, const char *role,
                  int index, shoal_err *err)
{
    out[0] = '\0';
    if (!dir[0] || !config_bool(cfg, "run", "tensorboard")) {
        return SHOAL_OK;
    }
    return tb_role_dir(out, cap, dir, role, index, err);
}

bool rundir_curve_on(const config *cfg)
{
    curve_mode mode = CURVE_AUTO;
    curve_mode_parse(config_str(cfg, "cluster", "curve"), &mode, NULL); /* the schema checked it */
    return curve_mode_enabled(mode, config_str(cfg, "cluster", "bind_host"));
}

int rundir_keys_dir(char *out, size_t cap, const config *cfg, const char *dir, shoal_err *err)
{
    const char *named = config_str(cfg, "cluster", "curve_keys");
    if (named[0]) {
        int w = snprintf(out, cap, "%s", named);
        return w >= 0 && (size_t)w < cap
                   ? SHOAL_OK
                   : shoal_err_set(err, SHOAL_EINVAL, "cluster.curve_keys: path too long");
    }
    if (!dir || !dir[0]) {
        return shoal_err_set(err, SHOAL_EINVAL, "CURVE is on (cluster.curve = %s, bind_host = "
                             "%s) and this process has no run folder: name the run's key "
                             "folder with --set cluster.curve_keys=RUN_DIR/keys",
                             config_str(cfg, "cluster", "curve"),
                             config_str(cfg, "cluster", "bind_host"));
    }
    return rundir_path(out, cap, dir, "keys", err);
}

int rundir_curve_prepare(const config *cfg, const char *dir, shoal_err *err)
{
    if (!rundir_curve_on(cfg)) {
        return SHOAL_OK;
    }
    char keys[FILEIO_PATH_MAX];
    int rc = curve_check_library(err);
    if (rc == SHOAL_OK) {
        rc = rundir_keys_dir(keys, sizeof keys, cfg, dir, err);
    }
    if (rc == SHOAL_OK) {
        rc = curve_keys_generate(keys, err);
    }
    return rc;
}

int rundir_curve_keys(const config *cfg, const char *dir, bool server, curve_keys *out,
                      shoal_err *err)
{
    memset(out, 0, sizeof *out);
    if (!rundir_curve_on(cfg)) {
        return SHOAL_OK;
    }
    char keys[FILEIO_PATH_MAX];
    int rc = rundir_keys_dir(keys, sizeof keys, cfg, dir, err);
    return rc == SHOAL_OK ? curve_keys_load(keys, server, out, err) : rc;
}

int rundir_curve_check_bind(const config *cfg, const char *endpoint, shoal_err *err)
{
    if (strcmp(config_str(cfg, "cluster", "curve"), "auto") != 0 || rundir_curve_on(cfg)) {
        return SHOAL_OK;
    }
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    const char *port = strrchr(host, ':');
    char name[256];
    size_t len = port ? (size_t)(port - host) : strlen(host);
    len = len < sizeof name ? len : sizeof name - 1;
    memcpy(name, host, len);
    name[len] = '\0';
    if (strncmp(endpoint, "tcp://", 6) != 0 || curve_host_is_loopback(name)) {
        return SHOAL_OK;
    }
    return shoal_err_set(err, SHOAL_EINVAL, "%s is beyond loopback but bind_host %s makes "
                         "CURVE off: set cluster.bind_host and cluster.curve_keys (alike in "
                         "every process), or cluster.curve=off on a trusted network", endpoint,
                         config_str(cfg, "cluster", "bind_host"));
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
        rc = rundir_path(ckpt_dir, sizeof ckpt_dir, dir, NN_PARAMFILE_CHECKPOINT_DIR, err);
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

bool rundir_role_file(char *out, size_t cap, const char *dir, const char *role, uint32_t index,
                      const char *suffix)
{
    return snprintf(out, cap, "%s/log/%s-%u%s", dir, role, index, suffix) < (int)cap;
}

void rundir_mark(const char *dir, const char *role, uint32_t index, const char *suffix,
                 const char *text)
{
    char path[FILEIO_PATH_MAX];
    if (!rundir_role_file(path, sizeof path, dir, role, index, suffix) ||
        atomic_write_file(path, text, strlen(text), NULL) == SHOAL_OK) {
        return;
    }
    /* A full disk refuses the temporary copy an atomic write needs, yet usually still has room
     * for an empty file (inodes are kept apart from data blocks). The launcher acts on the
     * marker being there, so it is created even when its text cannot be written. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t written = write(fd, text, strlen(text));
        (void)written; /* the text is a courtesy; the marker's presence is the message */
        close(fd);
    }
}

/* Calls fn(path) on every dir/log file starting with prefix (NULL: any) and ending in suffix;
 * returns how many there were. */
static int for_markers(const char *dir, const char *prefix, const char *suffix,
                       void (*fn)(const char *path))
{
    char dir_path[FILEIO_PATH_MAX];
    if (rundir_path(dir_path, sizeof dir_path, dir, "log", NULL) != SHOAL_OK) {
        return 0;
    }
    DIR *d = opendir(dir_path);
    if (!d) {
        return 0;
    }
    size_t slen = strlen(suffix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char path[FILEIO_PATH_MAX];
        if (len < slen || strcmp(e->d_name + len - slen, suffix) != 0 ||
            (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0) ||
            rundir_path(path, sizeof path, dir_path, e->d_name, NULL) != SHOAL_OK) {
            continue;
        }
        if (fn) {
            fn(path);
        }
        n++;
    }
    closedir(d);
    return n;
}

int rundir_count_markers(const char *dir, const char *prefix, const char *suffix)
{
    return for_markers(dir, prefix, suffix, NULL);
}

static void remove_marker(const char *path)
{
    unlink(path);
}

void rundir_clear_markers(const char *dir, const char *suffix)
{
    for_markers(dir, NULL, suffix, remove_marker);
}

bool rundir_read_marker(const char *dir, const char *role, uint32_t index, const char *suffix,
                        char *text, size_t cap)
{
    char path[FILEIO_PATH_MAX];
    uint8_t *data;
    size_t n;
    if (!rundir_role_file(path, sizeof path, dir, role, index, suffix) ||
        file_read_all(path, 1 << 16, &data, &n, NULL) != SHOAL_OK) {
        return false;
    }
    n = n < cap ? n : cap - 1;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\0')) {
        n--;
    }
    memcpy(text, data, n);
    text[n] = '\0';
    free(data);
    return true;
}

void rundir_stop_path(char *out, size_t cap, const char *dir)
{
    if (rundir_path(out, cap, dir, "STOP", NULL) != SHOAL_OK) {
        out[0] = '\0';
    }
}

void rundir_request_stop(const char *dir)
{
    char path[FILEIO_PATH_MAX];
    rundir_stop_path(path, sizeof path, dir);
    atomic_write_file(path, "stop\n", 5, NULL);
}

const char *rundir_of_checkpoint(const char *checkpoint, char *buf, size_t cap)
{
    char copy[FILEIO_PATH_MAX];
    if ((size_t)snprintf(copy, sizeof copy, "%s", checkpoint) >= sizeof copy) {
        return NULL;
    }
    char *folder = dirname(copy);
    size_t n = strlen(folder), k = strlen(NN_PARAMFILE_CHECKPOINT_DIR);
    if (n < k || strcmp(folder + n - k, NN_PARAMFILE_CHECKPOINT_DIR) != 0 ||
        (n > k && folder[n - k - 1] != '/')) {
        return NULL;
    }
    if (n == k) {
        snprintf(buf, cap, ".");
    } else {
        snprintf(buf, cap, "%.*s", (int)(n - k - 1), folder);
    }
    return buf[0] ? buf : "/";
}

int rundir_claim_join(const char *dir, uint32_t floor, uint32_t limit, uint32_t *index,
                      shoal_err *err)
{
    char host[256] = "?", text[300], path[FILEIO_PATH_MAX];
    gethostname(host, sizeof host - 1);
    int len = snprintf(text, sizeof text, "%s %d\n", host, (int)getpid());
    if (snprintf(path, sizeof path, "%s/log", dir) >= (int)sizeof path) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run folder path too long", dir);
    }
    int rc = file_mkdirs(path, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    for (uint32_t i = limit; i-- > floor;) {
        if (!rundir_role_file(path, sizeof path, dir, "join", i, ".claim")) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: run folder path too long", dir);
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno == EEXIST) {
            continue;
        }
        if (fd < 0) {
            return shoal_err_set(err, SHOAL_EIO, "cannot claim an actor index: %s: %s", path,
                                 strerror(errno));
        }
        bool written = write(fd, text, (size_t)len) == len;
        close(fd);
        if (!written) {
            unlink(path);
            return shoal_err_set(err, SHOAL_EIO, "cannot write %s", path);
        }
        *index = i;
        return SHOAL_OK;
    }
    return shoal_err_set(err, SHOAL_ENOTFOUND,
                         "every actor index from %u to %u is held by a joined actor "
                         "(%s/log/join-*.claim; a killed actor's claim stays until removed)",
                         floor, limit ? limit - 1 : 0, dir);
}

void rundir_release_join(const char *dir, uint32_t index)
{
    char path[FILEIO_PATH_MAX];
    if (rundir_role_file(path, sizeof path, dir, "join", index, ".claim")) {
        unlink(path);
    }
}
