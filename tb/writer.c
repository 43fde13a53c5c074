#include "tb/writer.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "proto/tensorboard.pb-c.h"
#include "tb/record.h"

/* Values in one Event; tb_writer_scalars splits longer lists over several records. */
#define VALUES_PER_EVENT 64
/* Columns tb_writer_csv_row takes. */
#define CSV_MAX_COLUMNS 256

struct tb_writer {
    FILE *f;
    char path[FILEIO_PATH_MAX];
    uint8_t *buf; /* one framed record, reused */
    size_t cap;
};

int tb_role_dir(char *out, size_t cap, const char *run_dir, const char *role, int index,
                shoal_err *err)
{
    int n = index < 0 ? snprintf(out, cap, "%s/" TB_RUN_FOLDER "/%s", run_dir, role)
                      : snprintf(out, cap, "%s/" TB_RUN_FOLDER "/%s-%d", run_dir, role, index);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run folder path too long for its "
                             TB_RUN_FOLDER "/%s folder", run_dir, role);
    }
    return SHOAL_OK;
}

/* Frames the packed Event and appends it to the file. */
static int write_event(tb_writer *w, const Shoal__Tb__Event *ev, shoal_err *err)
{
    size_t n = shoal__tb__event__get_packed_size(ev);
    size_t need = TB_RECORD_HEADER_BYTES + n + TB_RECORD_FOOTER_BYTES;
    if (need > w->cap) {
        uint8_t *b = realloc(w->buf, need);
        if (!b) {
            return shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory for a record of %zu "
                                 "bytes", w->path, n);
        }
        w->buf = b;
        w->cap = need;
    }
    uint8_t *data = w->buf + TB_RECORD_HEADER_BYTES;
    shoal__tb__event__pack(ev, data);
    tb_put_le64(w->buf, (uint64_t)n);
    tb_put_le32(w->buf + 8, tb_masked_crc32c(w->buf, 8));
    tb_put_le32(data + n, tb_masked_crc32c(data, n));
    if (fwrite(w->buf, 1, need, w->f) != need) {
        return shoal_err_set(err, SHOAL_EIO, "%s: write failed: %s", w->path, strerror(errno));
    }
    return SHOAL_OK;
}

static double wall_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_file_version(tb_writer *w, shoal_err *err)
{
    Shoal__Tb__SourceMetadata src = SHOAL__TB__SOURCE_METADATA__INIT;
    src.writer = "shoal";
    Shoal__Tb__Event ev = SHOAL__TB__EVENT__INIT;
    ev.wall_time = wall_now_s();
    ev.what_case = SHOAL__TB__EVENT__WHAT_FILE_VERSION;
    ev.file_version = TB_FILE_VERSION;
    ev.source_metadata = &src;
    return write_event(w, &ev, err);
}

/* DIR/events.out.tfevents.<10-digit Unix seconds>.<host>.<pid>.<name>, TensorFlow's name with
 * tensorboardX's pid: TensorBoard takes any file whose name holds "tfevents" and reads a
 * folder's files in name order. */
static int file_name(char *out, size_t cap, const char *dir, const char *name, shoal_err *err)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0) {
        snprintf(host, sizeof host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    int n = snprintf(out, cap, "%s/events.out.tfevents.%010lld.%s.%ld.%s", dir,
                     (long long)time(NULL), host, (long)getpid(), name);
    if (n < 0 || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: folder path too long for an event file",
                             dir);
    }
    return SHOAL_OK;
}

tb_writer *tb_writer_new(const char *dir, const char *name, shoal_err *err)
{
    if (!name[0] || strchr(name, '/')) {
        shoal_err_set(err, SHOAL_EINVAL, "event file name '%s': expected a non-empty name "
                      "without '/'", name);
        return NULL;
    }
    tb_writer *w = calloc(1, sizeof *w);
    if (!w) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for a TensorBoard writer");
        return NULL;
    }
    if (file_mkdirs(dir, err) != SHOAL_OK || file_name(w->path, sizeof w->path, dir, name,
                                                       err) != SHOAL_OK) {
        goto fail;
    }
    /* "x": two writers never share a file (the same name twice in one second). */
    w->f = fopen(w->path, "wbx");
    if (!w->f) {
        shoal_err_set(err, SHOAL_EIO, "%s: cannot create the event file: %s", w->path,
                      strerror(errno));
        goto fail;
    }
    if (write_file_version(w, err) != SHOAL_OK || tb_writer_flush(w, err) != SHOAL_OK) {
        goto fail;
    }
    return w;
fail:
    tb_writer_free(w);
    return NULL;
}

void tb_writer_free(tb_writer *w)
{
    if (!w) {
        return;
    }
    if (w->f) {
        fclose(w->f);
    }
    free(w->buf);
    free(w);
}

const char *tb_writer_path(const tb_writer *w)
{
    return w->path;
}

int tb_writer_flush(tb_writer *w, shoal_err *err)
{
    if (fflush(w->f) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "%s: write failed: %s", w->path, strerror(errno));
    }
    return SHOAL_OK;
}

static int check_tag(const tb_writer *w, const char *tag, shoal_err *err)
{
    size_t n = strlen(tag);
    if (n == 0 || n > TB_TAG_MAX) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: tag '%.*s' is empty or longer than %d "
                             "bytes", w->path, TB_TAG_MAX, tag, TB_TAG_MAX);
    }
    return SHOAL_OK;
}

/* One Event holding the values at step. */
static int write_summary(tb_writer *w, int64_t step, Shoal__Tb__Summary__Value **values,
                         size_t n, shoal_err *err)
{
    Shoal__Tb__Summary sum = SHOAL__TB__SUMMARY__INIT;
    sum.n_value = n;
    sum.value = values;
    Shoal__Tb__Event ev = SHOAL__TB__EVENT__INIT;
    ev.wall_time = wall_now_s();
    ev.step = step;
    ev.what_case = SHOAL__TB__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return write_event(w, &ev, err);
}

int tb_writer_scalars(tb_writer *w, int64_t step, const tb_scalar *s, size_t n,
                      shoal_err *err)
{
    if (n == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: a record of no scalars", w->path);
    }
    Shoal__Tb__Summary__Value vals[VALUES_PER_EVENT];
    Shoal__Tb__Summary__Value *ptrs[VALUES_PER_EVENT];
    for (size_t at = 0; at < n; at += VALUES_PER_EVENT) {
        size_t k = n - at < VALUES_PER_EVENT ? n - at : VALUES_PER_EVENT;
        for (size_t i = 0; i < k; i++) {
            int rc = check_tag(w, s[at + i].tag, err);
            if (rc != SHOAL_OK) {
                return rc;
            }
            Shoal__Tb__Summary__Value v = SHOAL__TB__SUMMARY__VALUE__INIT;
            v.tag = (char *)s[at + i].tag;
            v.value_case = SHOAL__TB__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
            v.simple_value = (float)s[at + i].value;
            vals[i] = v;
            ptrs[i] = &vals[i];
        }
        int rc = write_summary(w, step, ptrs, k, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    return SHOAL_OK;
}

int tb_writer_scalar(tb_writer *w, const char *tag, int64_t step, double value,
                     shoal_err *err)
{
    tb_scalar s = {tag, value};
    return tb_writer_scalars(w, step, &s, 1, err);
}

int tb_writer_histogram(tb_writer *w, const char *tag, int64_t step, const float *values,
                        size_t n, shoal_err *err)
{
    int rc = check_tag(w, tag, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    Shoal__Tb__HistogramProto h = SHOAL__TB__HISTOGRAM_PROTO__INIT;
    h.min = INFINITY;
    h.max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) {
            continue;
        }
        h.min = v < h.min ? v : h.min;
        h.max = v > h.max ? v : h.max;
        h.num += 1.0;
        h.sum += v;
        h.sum_squares += v * v;
    }
    if (h.num == 0.0) {
        return SHOAL_OK;
    }
    double limits[TB_HISTOGRAM_BUCKETS], counts[TB_HISTOGRAM_BUCKETS] = {0};
    size_t k = h.max > h.min ? TB_HISTOGRAM_BUCKETS : 1;
    double width = (h.max - h.min) / (double)k;
    for (size_t b = 0; b < k; b++) {
        limits[b] = b + 1 == k ? h.max : h.min + width * (double)(b + 1);
    }
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v)) {
            continue;
        }
        size_t b = k == 1 ? 0 : (size_t)((v - h.min) / width);
        counts[b < k ? b : k - 1] += 1.0;
    }
    h.n_bucket_limit = h.n_bucket = k;
    h.bucket_limit = limits;
    h.bucket = counts;
    Shoal__Tb__Summary__Value v = SHOAL__TB__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = SHOAL__TB__SUMMARY__VALUE__VALUE_HISTO;
    v.histo = &h;
    Shoal__Tb__Summary__Value *ptr = &v;
    return write_summary(w, step, &ptr, 1, err);
}

/* The next comma-separated field of *p (up to a comma, newline or the end): start and length;
 * *p moves past its comma. false at the end of the line. */
static bool next_field(const char **p, const char **start, size_t *len)
{
    if (!*p) {
        return false;
    }
    *start = *p;
    size_t n = strcspn(*p, ",\r\n");
    *len = n;
    *p = (*p)[n] == ',' ? *p + n + 1 : NULL;
    return true;
}

/* The field as a number: true when all of it is one finite number. */
static bool field_number(const char *s, size_t len, double *out)
{
    char text[64];
    if (len == 0 || len >= sizeof text) {
        return false;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    char *end;
    *out = strtod(text, &end);
    return *end == '\0' && isfinite(*out);
}

int tb_writer_csv_row(tb_writer *w, const char *prefix, const char *header, const char *row,
                      const char *step_column, shoal_err *err)
{
    static const size_t tag_cap = TB_TAG_MAX + 1;
    char tags[CSV_MAX_COLUMNS][TB_TAG_MAX + 1];
    tb_scalar s[CSV_MAX_COLUMNS];
    size_t n = 0, col = 0;
    bool have_step = false;
    int64_t step = 0;
    const char *hp = header, *rp = row, *name, *field;
    size_t name_len, field_len;
    while (next_field(&hp, &name, &name_len)) {
        if (!next_field(&rp, &field, &field_len)) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: a row of %zu fields for a header of "
                                 "more columns", w->path, col);
        }
        col++;
        double v;
        if (!field_number(field, field_len, &v)) {
            continue;
        }
        if (strlen(step_column) == name_len && memcmp(name, step_column, name_len) == 0) {
            have_step = true;
            step = (int64_t)v;
            continue;
        }
        if (n == CSV_MAX_COLUMNS) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: more than %d numeric columns",
                                 w->path, CSV_MAX_COLUMNS);
        }
        int len = snprintf(tags[n], tag_cap, "%s%.*s", prefix, (int)name_len, name);
        if (len < 0 || (size_t)len >= tag_cap) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: tag %s%.*s longer than %d bytes",
                                 w->path, prefix, (int)name_len, name, TB_TAG_MAX);
        }
        s[n] = (tb_scalar){tags[n], v};
        n++;
    }
    if (rp) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: a row of more fields than the header's %zu "
                             "columns", w->path, col);
    }
    if (!have_step) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: the row has no number in column '%s'",
                             w->path, step_column);
    }
    return n ? tb_writer_scalars(w, step, s, n, err) : SHOAL_OK;
}
