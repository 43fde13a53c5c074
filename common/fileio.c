#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_file_open(atomic_file *af, const char *path, shoal_err *err)
{
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    if (len == 0 || len + 16 > sizeof af->tmp_path) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: path is empty or longer than %d bytes", path,
                             FILEIO_PATH_MAX - 16);
    }
    memcpy(af->path, path, len + 1);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        af->tmp_path[0] = '\0';
        return shoal_err_set(err, SHOAL_EIO, "%s: cannot create a temporary file beside it: %s",
                             path, strerror(e));
    }
    /* mkstemp creates 0600; results and checkpoints are meant to be read by others (a shared
     * run folder on a cluster), as a plain fopen would allow. */
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        af->tmp_path[0] = '\0';
        return shoal_err_set(err, SHOAL_EIO, "%s: fdopen: %s", path, strerror(e));
    }
    return SHOAL_OK;
}

static int fsync_parent(const char *path, shoal_err *err)
{
    char dir[FILEIO_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        return shoal_err_set(err, SHOAL_EIO, "%s: cannot open folder to fsync: %s", dir,
                             strerror(errno));
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) {
        return shoal_err_set(err, SHOAL_EIO, "%s: fsync of folder: %s", dir, strerror(e));
    }
    return SHOAL_OK;
}

int atomic_file_commit(atomic_file *af, shoal_err *err)
{
    if (!af->f) {
        return shoal_err_set(err, SHOAL_ESTATE, "%s: atomic file is not open", af->path);
    }
    int failed = fflush(af->f) != 0 || ferror(af->f);
    int e = errno;
    if (!failed && fsync(fileno(af->f)) != 0) {
        failed = 1;
        e = errno;
    }
    if (fclose(af->f) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->f = NULL;
    if (failed) {
        unlink(af->tmp_path);
        return shoal_err_set(err, SHOAL_EIO, "%s: writing failed: %s (the previous file is kept)",
                             af->path, strerror(e));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        e = errno;
        unlink(af->tmp_path);
        return shoal_err_set(err, SHOAL_EIO, "%s: rename: %s (the previous file is kept)",
                             af->path, strerror(e));
    }
    af->tmp_path[0] = '\0';
    return fsync_parent(af->path, err);
}

void atomic_file_abort(atomic_file *af)
{
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp_path[0]) {
        unlink(af->tmp_path);
        af->tmp_path[0] = '\0';
    }
}

int atomic_write_file(const char *path, const void *data, size_t n, shoal_err *err)
{
    atomic_file af;
    int rc = atomic_file_open(&af, path, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (n > 0 && fwrite(data, 1, n, af.f) != n) {
        int e = errno;
        atomic_file_abort(&af);
        return shoal_err_set(err, SHOAL_EIO, "%s: write: %s (the previous file is kept)", path,
                             strerror(e));
    }
    return atomic_file_commit(&af, err);
}

int file_read_all(const char *path, size_t max_bytes, uint8_t **data, size_t *n, shoal_err *err)
{
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return shoal_err_set(err, e == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO, "%s: %s", path,
                             strerror(e));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return shoal_err_set(err, SHOAL_EIO, "%s: stat: %s", path, strerror(e));
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return shoal_err_set(err, SHOAL_EINVAL, "%s: %lld bytes exceeds the limit of %zu bytes",
                             path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1); /* +1: callers parsing text may NUL-terminate */
    if (!buf) {
        fclose(f);
        return shoal_err_set(err, SHOAL_ENOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(buf);
        return shoal_err_set(err, SHOAL_EIO, "%s: short read (%zu of %zu bytes)", path, got, size);
    }
    buf[size] = '\0';
    *data = buf;
    *n = size;
    return SHOAL_OK;
}

int file_path_with_index(char *out, size_t cap, const char *pattern, unsigned index,
                         const char *what, shoal_err *err)
{
    const char *pct = strstr(pattern, "%d");
    int n = pct ? snprintf(out, cap, "%.*s%u%s", (int)(pct - pattern), pattern, index, pct + 2)
                : snprintf(out, cap, "%s", pattern);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s is too long (at most %zu characters)", what,
                             cap - 1);
    }
    return SHOAL_OK;
}

int file_mkdirs(const char *path, shoal_err *err)
{
    char buf[FILEIO_PATH_MAX];
    if (strlen(path) >= sizeof buf) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: path too long", path);
    }
    strcpy(buf, path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return shoal_err_set(err, SHOAL_EIO, "cannot create folder %s: %s", buf,
                                     strerror(errno));
            }
            *p = saved;
            if (saved == '\0') {
                break;
            }
        }
    }
    return SHOAL_OK;
}
