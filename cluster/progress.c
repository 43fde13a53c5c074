#include "cluster/progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1234567 -> "1.23M" */
static void human(char *out, size_t cap, double v)
{
    if (v >= 1e9) {
        snprintf(out, cap, "%.2fG", v / 1e9);
    } else if (v >= 1e6) {
        snprintf(out, cap, "%.2fM", v / 1e6);
    } else if (v >= 1e4) {
        snprintf(out, cap, "%.1fk", v / 1e3);
    } else {
        snprintf(out, cap, "%.0f", v);
    }
}

void progress_format(const progress_snapshot *s, char *line, size_t cap)
{
    size_t used = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (used < cap) {                                                                          \
            int n_ = snprintf(line + used, cap - used, __VA_ARGS__);                               \
            used += n_ > 0 ? (size_t)n_ : 0;                                                       \
        }                                                                                          \
    } while (0)
    unsigned long t = (unsigned long)s->elapsed_s;
    char frames[16], fps[16];
    human(frames, sizeof frames, (double)s->frames);
    ADD("%02lu:%02lu:%02lu frames %s", t / 3600, t / 60 % 60, t % 60, frames);
    if (s->frames_per_s >= 0) {
        human(fps, sizeof fps, s->frames_per_s);
        ADD(" (%s/s)", fps);
    }
    if (s->learner_quiet_s > 0) {
        ADD(" | learner step %llu, silent %.0f s", (unsigned long long)s->learner_step,
            s->learner_quiet_s);
    } else if (s->updates_per_s >= 0) {
        ADD(" | learner step %llu, %.0f upd/s", (unsigned long long)s->learner_step,
            s->updates_per_s);
    } else {
        ADD(" | learner -");
    }
    ADD(" | replay");
    if (s->n_shards == 0) {
        ADD(" -");
    }
    for (size_t i = 0; i < s->n_shards && i < PROGRESS_MAX_SHARDS; i++) {
        ADD(" %.0f%%", 100.0 * s->fill[i]);
    }
    if (s->n_shards < s->n_shards_total) {
        ADD(" (%zu of %zu answered)", s->n_shards, s->n_shards_total);
    }
    if (s->demo_share >= 0) {
        ADD(" | demo %.0f%%", 100.0 * s->demo_share);
    }
    ADD(" | actors %u/%u", s->actors_alive, s->actors_total);
    if (s->actors_alive > 0) {
        if (s->params_min == s->params_max) {
            ADD(" params v%llu", (unsigned long long)s->params_max);
        } else {
            ADD(" params v%llu-%llu", (unsigned long long)s->params_min,
                (unsigned long long)s->params_max);
        }
    }
    if (s->labels > 0) {
        char labels[16];
        human(labels, sizeof labels, (double)s->labels);
        ADD(" | labels %s", labels);
        if (s->labels_per_s >= 0) {
            human(labels, sizeof labels, s->labels_per_s);
            ADD(" (%s/s)", labels);
        }
        ADD(" %.1fµs/label expert %.0f%%", s->label_us, 100.0 * s->expert_share);
    }
    if (s->have_eval) {
        ADD(" | eval %.2f ± %.2f @%llu", s->eval_mean, s->eval_std,
            (unsigned long long)s->eval_step);
    } else {
        ADD(" | eval -");
    }
#undef ADD
}

int progress_csv_last(const char *path, const char *name, double *value, shoal_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: %s", path, strerror(errno));
    }
    char header[2048], line[2048], last[2048] = "";
    if (!fgets(header, sizeof header, f)) {
        fclose(f);
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: empty", path);
    }
    /* Files grow by whole lines appended; a line without its newline is still being written. */
    while (fgets(line, sizeof line, f)) {
        if (strchr(line, '\n')) {
            memcpy(last, line, sizeof last);
        }
    }
    fclose(f);
    if (!last[0]) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: no rows yet", path);
    }
    int column = -1, i = 0;
    for (char *save, *tok = strtok_r(header, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save), i++) {
        if (strcmp(tok, name) == 0) {
            column = i;
            break;
        }
    }
    if (column < 0) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: no column '%s'", path, name);
    }
    /* Walk the fields by commas (strtok would merge empty fields). */
    const char *p = last;
    for (i = 0; i < column && p; i++) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    char *end;
    double v = p ? strtod(p, &end) : 0.0;
    if (!p || end == p) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: column '%s' has no number in the last row",
                             path, name);
    }
    *value = v;
    return SHOAL_OK;
}
