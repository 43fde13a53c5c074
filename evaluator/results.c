#include "evaluator/results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/json.h"

/* eval.jsonl grows by one line per checkpoint; a run of 10^5 checkpoints with 10^3 returns
 * each stays well below this. */
#define MAX_JSONL_BYTES ((size_t)1 << 32)

evaluator_record evaluator_record_of(const evaluator_result *r, double wall_seconds)
{
    evaluator_record rec = {
        .step = r->step,
        .frames = r->frames,
        .wall_seconds = wall_seconds,
        .episodes = r->episodes,
        .mean = r->mean,
        .std = r->std,
        .min = r->min,
        .max = r->max,
    };
    return rec;
}

static void put_array(FILE *out, const double *v, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, i ? ",%.9g" : "%.9g", v[i]);
    }
    fputc(']', out);
}

int evaluator_json_write(FILE *out, const evaluator_json_info *info, const evaluator_result *r,
                         double wall_seconds, shoal_err *err)
{
    fprintf(out, "{\"step\":%llu,\"frames\":%llu,\"wall_seconds\":%.3f,\"checkpoint\":",
            (unsigned long long)r->step, (unsigned long long)r->frames, wall_seconds);
    json_put_string(out, info->checkpoint);
    fputs(",\"env\":", out);
    json_put_string(out, info->env_name);
    fprintf(out, ",\"epsilon\":%.9g,\"episodes\":%zu,\"mean\":%.9g,\"std\":%.9g,\"min\":%.9g,"
                 "\"max\":%.9g,\"eval_seconds\":%.3f,\"env_steps\":%llu,\"returns\":",
            info->epsilon, r->episodes, r->mean, r->std, r->min, r->max, r->seconds,
            (unsigned long long)r->env_steps);
    put_array(out, r->returns, r->episodes);
    fprintf(out, ",\"heads\":%zu", r->n_heads);
    if (r->head_episodes > 0) {
        fprintf(out, ",\"head_episodes\":%zu,\"head_means\":", r->head_episodes);
        put_array(out, r->head_mean, r->n_heads);
        fputs(",\"head_stds\":", out);
        put_array(out, r->head_std, r->n_heads);
        fputs(",\"head_returns\":[", out);
        for (size_t k = 0; k < r->n_heads; k++) {
            fputs(k ? "," : "", out);
            put_array(out, r->head_returns + k * r->head_episodes, r->head_episodes);
        }
        fputc(']', out);
    }
    fputs("}\n", out);
    if (ferror(out)) {
        return shoal_err_set(err, SHOAL_EIO, "writing the evaluation as JSON failed");
    }
    return SHOAL_OK;
}

int evaluator_csv_write(FILE *out, const evaluator_record *rec, shoal_err *err)
{
    fprintf(out, "%llu,%llu,%.3f,%zu,%.9g,%.9g,%.9g,%.9g\n", (unsigned long long)rec->step,
            (unsigned long long)rec->frames, rec->wall_seconds, rec->episodes, rec->mean,
            rec->std, rec->min, rec->max);
    if (ferror(out)) {
        return shoal_err_set(err, SHOAL_EIO, "writing the evaluation as CSV failed");
    }
    return SHOAL_OK;
}

/* Appends n bytes to path with one write on an O_APPEND descriptor, and fsyncs. When the file
 * is empty `first` (may be NULL) goes before them; when its last byte is not a newline (a line
 * cut short by a crash) a newline does. */
static int append(const char *path, const char *first, const char *data, size_t n,
                  shoal_err *err)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return shoal_err_set(err, SHOAL_EIO, "%s: cannot open for appending: %s", path,
                             strerror(errno));
    }
    struct stat st;
    char last = '\n';
    int ok = fstat(fd, &st) == 0 && (st.st_size == 0 || pread(fd, &last, 1, st.st_size - 1) == 1);
    const char *lead = !ok ? "" : st.st_size == 0 && first ? first : last != '\n' ? "\n" : "";
    size_t lead_n = strlen(lead);
    char *buf = ok ? malloc(lead_n + n) : NULL;
    ok = buf != NULL;
    if (ok) {
        memcpy(buf, lead, lead_n);
        memcpy(buf + lead_n, data, n);
        ssize_t w = write(fd, buf, lead_n + n);
        ok = w == (ssize_t)(lead_n + n) && fsync(fd) == 0;
    }
    int saved = errno;
    free(buf);
    close(fd);
    if (!ok) {
        return shoal_err_set(err, SHOAL_EIO, "%s: append failed: %s", path, strerror(saved));
    }
    return SHOAL_OK;
}

/* Formats the JSON line (info != NULL) or the CSV row into memory, then appends the text to dir/name. */
static int append_formatted(const char *dir, const char *name, const char *first,
                            const evaluator_json_info *info, const evaluator_result *r,
                            double wall_seconds, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run directory path too long", dir);
    }
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    if (!mem) {
        return shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory formatting %s", name);
    }
    int rc;
    if (info) {
        rc = evaluator_json_write(mem, info, r, wall_seconds, err);
    } else {
        evaluator_record rec = evaluator_record_of(r, wall_seconds);
        rc = evaluator_csv_write(mem, &rec, err);
    }
    if (fclose(mem) != 0 && rc == SHOAL_OK) {
        rc = shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory formatting %s", name);
    }
    if (rc == SHOAL_OK) {
        rc = append(path, first, text, n, err);
    }
    free(text);
    return rc;
}

int evaluator_results_append(const char *run_dir, const evaluator_json_info *info,
                             const evaluator_result *r, double wall_seconds, shoal_err *err)
{
    /* eval.jsonl first: it is the record a restart reads, so a crash between the two writes
     * can lose a CSV row but never evaluates a checkpoint twice. */
    int rc = append_formatted(run_dir, "eval.jsonl", NULL, info, r, wall_seconds, err);
    if (rc == SHOAL_OK) {
        rc = append_formatted(run_dir, "eval.csv", EVALUATOR_CSV_HEADER, NULL, r, wall_seconds,
                              err);
    }
    return rc;
}

void evaluator_history_init(evaluator_history *h)
{
    memset(h, 0, sizeof *h);
}

void evaluator_history_fini(evaluator_history *h)
{
    free(h->rows);
    memset(h, 0, sizeof *h);
}

int evaluator_history_add(evaluator_history *h, const evaluator_record *rec, shoal_err *err)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        evaluator_record *rows = realloc(h->rows, cap * sizeof *rows);
        if (!rows) {
            return shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory for %zu records",
                                 cap);
        }
        h->rows = rows;
        h->cap = cap;
    }
    h->rows[h->n++] = *rec;
    return SHOAL_OK;
}

bool evaluator_history_has(const evaluator_history *h, uint64_t step)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->rows[i].step == step) {
            return true;
        }
    }
    return false;
}

/* The text right after "key": in line, or NULL. The keys we read are top-level and none is the
 * tail of another key, because the quote before the name is part of the pattern. */
static const char *field(const char *line, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? p + strlen(pat) : NULL;
}

static bool field_u64(const char *line, const char *key, uint64_t *out)
{
    const char *p = field(line, key);
    char *end;
    if (!p || *p < '0' || *p > '9') {
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    *out = v;
    return errno == 0 && (*end == ',' || *end == '}');
}

static bool field_double(const char *line, const char *key, double *out)
{
    const char *p = field(line, key);
    char *end;
    if (!p) {
        return false;
    }
    *out = strtod(p, &end);
    return end != p && (*end == ',' || *end == '}');
}

int evaluator_record_parse(const char *line, evaluator_record *rec, shoal_err *err)
{
    uint64_t episodes = 0;
    const char *missing = !field_u64(line, "step", &rec->step)              ? "step"
                          : !field_u64(line, "frames", &rec->frames)        ? "frames"
                          : !field_double(line, "wall_seconds", &rec->wall_seconds) ? "wall_seconds"
                          : !field_u64(line, "episodes", &episodes)         ? "episodes"
                          : !field_double(line, "mean", &rec->mean)         ? "mean"
                          : !field_double(line, "std", &rec->std)           ? "std"
                          : !field_double(line, "min", &rec->min)           ? "min"
                          : !field_double(line, "max", &rec->max)           ? "max"
                                                                            : NULL;
    if (missing) {
        return shoal_err_set(err, SHOAL_EINVAL, "no valid \"%s\" field", missing);
    }
    rec->episodes = (size_t)episodes;
    return SHOAL_OK;
}

int evaluator_history_load(evaluator_history *h, const char *path, size_t *n_bad, shoal_err *err)
{
    uint8_t *data = NULL;
    size_t n = 0, bad = 0;
    int rc = file_read_all(path, MAX_JSONL_BYTES, &data, &n, err);
    if (n_bad) {
        *n_bad = 0;
    }
    if (rc != SHOAL_OK) {
        return rc == SHOAL_ENOTFOUND ? SHOAL_OK : rc;
    }
    char *text = (char *)data; /* file_read_all leaves room for a terminator */
    text[n] = '\0';
    char *line = text;
    while (rc == SHOAL_OK && *line) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        evaluator_record rec;
        if (evaluator_record_parse(line, &rec, NULL) == SHOAL_OK) {
            rc = evaluator_history_add(h, &rec, err);
        } else if (line[0]) {
            bad++;
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(data);
    if (n_bad) {
        *n_bad = bad;
    }
    return rc;
}
