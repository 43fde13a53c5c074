#include "tb/reader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "proto/tensorboard.pb-c.h"
#include "tb/record.h"

#define MAX_FILE_BYTES (256u << 20)

static int each_value(const Shoal__Tb__Event *ev, tb_value_fn fn, void *arg)
{
    if (ev->what_case != SHOAL__TB__EVENT__WHAT_SUMMARY) {
        return 0;
    }
    for (size_t i = 0; i < ev->summary->n_value; i++) {
        const Shoal__Tb__Summary__Value *v = ev->summary->value[i];
        tb_value out = {.wall_time = ev->wall_time, .step = ev->step, .tag = v->tag};
        if (v->value_case == SHOAL__TB__SUMMARY__VALUE__VALUE_HISTO) {
            out.histogram = true;
            out.value = v->histo->num;
        } else {
            out.value = v->simple_value;
        }
        int rc = fn(&out, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Checks the record at data[at..] and decodes its Event; *next is the following record. */
static int read_record(const char *path, const uint8_t *data, size_t n, size_t at, size_t *next,
                       Shoal__Tb__Event **ev, shoal_err *err)
{
    const uint8_t *p = data + at;
    size_t left = n - at;
    if (left < TB_RECORD_HEADER_BYTES) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record at byte %zu is cut short (%zu "
                             "bytes of its 12-byte header)", path, at, left);
    }
    if (tb_get_le32(p + 8) != tb_masked_crc32c(p, 8)) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record at byte %zu: the length's CRC "
                             "does not match", path, at);
    }
    uint64_t len = tb_get_le64(p);
    if (len > left - TB_RECORD_HEADER_BYTES ||
        left - TB_RECORD_HEADER_BYTES - len < TB_RECORD_FOOTER_BYTES) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record at byte %zu says %llu bytes; "
                             "only %zu are left", path, at, (unsigned long long)len, left);
    }
    const uint8_t *body = p + TB_RECORD_HEADER_BYTES;
    if (tb_get_le32(body + len) != tb_masked_crc32c(body, (size_t)len)) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record at byte %zu: the data's CRC does "
                             "not match", path, at);
    }
    *ev = shoal__tb__event__unpack(NULL, (size_t)len, body);
    if (!*ev) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: record at byte %zu is not an Event",
                             path, at);
    }
    *next = at + TB_RECORD_HEADER_BYTES + (size_t)len + TB_RECORD_FOOTER_BYTES;
    return SHOAL_OK;
}

int tb_file_each(const char *path, tb_value_fn fn, void *arg, size_t *n_records,
                 shoal_err *err)
{
    uint8_t *data = NULL;
    size_t n = 0, count = 0;
    int rc = file_read_all(path, MAX_FILE_BYTES, &data, &n, err);
    for (size_t at = 0; rc == SHOAL_OK && at < n;) {
        Shoal__Tb__Event *ev = NULL;
        size_t next = n;
        rc = read_record(path, data, n, at, &next, &ev, err);
        if (rc != SHOAL_OK) {
            break;
        }
        if (count == 0 && (ev->what_case != SHOAL__TB__EVENT__WHAT_FILE_VERSION ||
                           strcmp(ev->file_version, TB_FILE_VERSION) != 0)) {
            rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: the first record is not the file "
                               "version \"" TB_FILE_VERSION "\"", path);
        } else {
            rc = each_value(ev, fn, arg);
        }
        shoal__tb__event__free_unpacked(ev, NULL);
        count++;
        at = next;
    }
    if (rc == SHOAL_OK && count == 0) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s: empty; an event file starts with its "
                           "file version record", path);
    }
    free(data);
    if (n_records) {
        *n_records = count;
    }
    return rc;
}

static int only_events(const struct dirent *e)
{
    return strstr(e->d_name, "tfevents") != NULL;
}

int tb_dir_each(const char *dir, tb_value_fn fn, void *arg, size_t *n_files, shoal_err *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, only_events, alphasort);
    if (n < 0) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: cannot read the folder: %s", dir,
                             strerror(errno));
    }
    int rc = n == 0 ? shoal_err_set(err, SHOAL_ENOTFOUND, "%s: no TensorBoard event file", dir)
                    : SHOAL_OK;
    for (int i = 0; i < n; i++) {
        char path[FILEIO_PATH_MAX];
        if (rc == SHOAL_OK &&
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) >= (int)sizeof path) {
            rc = shoal_err_set(err, SHOAL_EINVAL, "%s: path too long", dir);
        }
        if (rc == SHOAL_OK) {
            rc = tb_file_each(path, fn, arg, NULL, err);
        }
        free(names[i]);
    }
    free(names);
    if (n_files) {
        *n_files = n > 0 ? (size_t)n : 0;
    }
    return rc;
}
