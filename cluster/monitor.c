#include "cluster/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/endpoints.h"
#include "cluster/rundir.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "replay/client.h"

/* An actor not seen by its shard for this long is not counted as alive. */
#define ALIVE_SECS 15.0

struct monitor {
    const char *run_dir;
    bool tty;
    uint64_t max_frames;
    double max_seconds;
    const char *reached; /* the budget key the last tick found reached, or NULL */
    uint64_t start_ns;
    replay_client *client;
    struct stat endpoints; /* the endpoints.json the client was built from */
    struct stat metrics;   /* metrics.csv as last seen, and when it last changed (0: not since
                              this monitor started) */
    bool metrics_seen;
    uint64_t metrics_changed_ns;
    double learner_quiet_secs; /* metrics.csv unchanged this long: the learner is not running */
    size_t n_shards;
    uint64_t prev_frames;
    uint64_t prev_ns;
    uint64_t prev_labels, prev_label_ns, prev_expert_steps; /* DAgger, at prev_ns */
    size_t last_len; /* of the TTY line, to blank a longer previous one */
    progress_snapshot last;
    curve_keys curve; /* the run's client keys when it uses CURVE */
};

monitor *monitor_new(const char *run_dir, const config *cfg, bool tty, shoal_err *err)
{
    monitor *m = calloc(1, sizeof *m);
    if (!m) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    m->run_dir = run_dir;
    m->tty = tty;
    m->max_frames = (uint64_t)config_int(cfg, "run", "max_frames");
    m->max_seconds = config_float(cfg, "run", "max_seconds");
    m->n_shards = (size_t)config_int(cfg, "cluster", "replay_shards");
    double metrics_secs = config_float(cfg, "learner", "metrics_secs");
    m->learner_quiet_secs = metrics_secs * 3 > 10.0 ? metrics_secs * 3 : 10.0;
    m->start_ns = clock_now_ns();
    shoal_err kerr = {0};
    if (rundir_curve_keys(cfg, run_dir, false, &m->curve, &kerr) != SHOAL_OK) {
        log_warn("progress: cannot read the run's CURVE keys, the shards will not answer: %s",
                 kerr.msg);
    }
    return m;
}

void monitor_free(monitor *m)
{
    if (!m) {
        return;
    }
    monitor_end_line(m);
    replay_client_free(m->client);
    curve_keys_wipe(&m->curve);
    free(m);
}

const progress_snapshot *monitor_last(const monitor *m)
{
    return &m->last;
}

void monitor_end_line(monitor *m)
{
    if (m && m->tty && m->last_len) {
        fputc('\n', stdout);
        fflush(stdout);
        m->last_len = 0;
    }
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Connects to the shards of endpoints.json once it is there, and again whenever it is
 * rewritten: a resumed or restarted run binds new ports, and a monitor holding the old ones
 * would show no frames and never see the frame budget. */
static void connect_when_ready(monitor *m)
{
    char path[FILEIO_PATH_MAX];
    struct stat st;
    if (rundir_path(path, sizeof path, m->run_dir, "endpoints.json", NULL) != SHOAL_OK ||
        stat(path, &st) != 0) {
        return; /* the roles have not started yet */
    }
    if (m->client && same_file(&st, &m->endpoints)) {
        return;
    }
    endpoint_file ep;
    if (endpoints_read(path, &ep, NULL) != SHOAL_OK) {
        return;
    }
    replay_client_free(m->client);
    m->client = NULL;
    m->endpoints = st;
    const char *eps[ENDPOINTS_MAX_SHARDS];
    for (size_t i = 0; i < ep.n_replay; i++) {
        eps[i] = ep.replay[i];
    }
    /* Short waits: a shard that does not answer in time shows as missing, the line goes on,
     * and the launcher's loop (which also times the stop) is never held long. */
    replay_client_options opt = {.timeout_ms = 300, .curve = m->curve};
    shoal_err err = {0};
    m->client = replay_client_new(eps, ep.n_replay, &opt, &err);
    if (!m->client) {
        log_warn("progress: cannot connect to the shards: %s", err.msg);
    } else {
        m->n_shards = ep.n_replay;
    }
}

static void gather_shards(monitor *m, progress_snapshot *s, uint64_t *label_ns,
                          uint64_t *expert_steps)
{
    double served = 0, demo_served = 0;
    bool first_actor = true;
    for (size_t i = 0; m->client && i < m->n_shards; i++) {
        const replay_stats *st;
        if (replay_client_stats(m->client, i, &st, NULL) != SHOAL_OK) {
            continue;
        }
        if (s->n_shards < PROGRESS_MAX_SHARDS) {
            s->fill[s->n_shards] = st->capacity ? (double)st->size / (double)st->capacity : 0.0;
        }
        s->n_shards++;
        s->frames += st->env_steps;
        served += (double)st->sampled;
        demo_served += (double)st->demo_sampled;
        for (size_t a = 0; a < st->n_actors; a++) {
            const replay_actor_stats *as = &st->actors[a];
            s->actors_total++;
            s->labels += as->labels;
            *label_ns += as->label_ns;
            *expert_steps += as->expert_steps;
            if (st->uptime_s - as->last_seen_s > ALIVE_SECS) {
                continue;
            }
            s->actors_alive++;
            if (first_actor || as->params_version < s->params_min) {
                s->params_min = as->params_version;
            }
            if (first_actor || as->params_version > s->params_max) {
                s->params_max = as->params_version;
            }
            first_actor = false;
        }
    }
    s->demo_share = served > 0 ? demo_served / served : -1.0;
}

static void gather_files(monitor *m, progress_snapshot *s)
{
    char path[FILEIO_PATH_MAX];
    double v;
    struct stat st;
    s->updates_per_s = -1.0;
    if (rundir_path(path, sizeof path, m->run_dir, "metrics.csv", NULL) == SHOAL_OK &&
        progress_csv_last(path, "updates_per_s", &v, NULL) == SHOAL_OK) {
        /* The last row of a learner that died (or of a previous attempt) stays in the file: a
         * rate only while the file grows, timed by this clock, not the file's (which may be
         * another machine's). The file as first seen is only the baseline. */
        if (stat(path, &st) == 0 && !m->metrics_seen) {
            m->metrics = st;
            m->metrics_seen = true;
        } else if (stat(path, &st) == 0 && !same_file(&st, &m->metrics)) {
            m->metrics = st;
            m->metrics_changed_ns = clock_now_ns();
        }
        double quiet = clock_since_s(m->metrics_changed_ns ? m->metrics_changed_ns : m->start_ns);
        s->updates_per_s = m->metrics_changed_ns && quiet <= m->learner_quiet_secs ? v : -1.0;
        s->learner_quiet_s = quiet > m->learner_quiet_secs ? quiet : 0.0;
        if (progress_csv_last(path, "step", &v, NULL) == SHOAL_OK) {
            s->learner_step = (uint64_t)v;
        }
    }
    if (rundir_path(path, sizeof path, m->run_dir, "eval.csv", NULL) == SHOAL_OK &&
        progress_csv_last(path, "mean", &s->eval_mean, NULL) == SHOAL_OK &&
        progress_csv_last(path, "std", &s->eval_std, NULL) == SHOAL_OK &&
        progress_csv_last(path, "step", &v, NULL) == SHOAL_OK) {
        s->have_eval = true;
        s->eval_step = (uint64_t)v;
    }
}

void monitor_tick(monitor *m, bool *over_budget)
{
    connect_when_ready(m);
    progress_snapshot s = {0};
    uint64_t now = clock_now_ns();
    s.elapsed_s = (double)(now - m->start_ns) * 1e-9;
    s.n_shards_total = m->n_shards;
    uint64_t label_ns = 0, expert_steps = 0;
    gather_shards(m, &s, &label_ns, &expert_steps);
    gather_files(m, &s);
    s.frames_per_s = -1.0;
    s.labels_per_s = -1.0;
    bool all = s.n_shards == s.n_shards_total;
    if (m->prev_ns && all && s.frames >= m->prev_frames) {
        s.frames_per_s = (double)(s.frames - m->prev_frames) / ((double)(now - m->prev_ns) * 1e-9);
    }
    /* DAgger's figures since the previous tick, or since the start for the first. */
    bool since_prev = m->prev_ns && all && s.labels >= m->prev_labels &&
                      label_ns >= m->prev_label_ns && expert_steps >= m->prev_expert_steps;
    uint64_t d_labels = since_prev ? s.labels - m->prev_labels : s.labels;
    uint64_t d_ns = since_prev ? label_ns - m->prev_label_ns : label_ns;
    uint64_t d_expert = since_prev ? expert_steps - m->prev_expert_steps : expert_steps;
    if (since_prev) {
        s.labels_per_s = (double)d_labels / ((double)(now - m->prev_ns) * 1e-9);
    }
    s.label_us = d_labels ? (double)d_ns / (double)d_labels * 1e-3 : 0.0;
    s.expert_share = d_labels ? (double)d_expert / (double)d_labels : 0.0;
    if (all) {
        m->prev_frames = s.frames;
        m->prev_ns = now;
        m->prev_labels = s.labels;
        m->prev_label_ns = label_ns;
        m->prev_expert_steps = expert_steps;
    }
    m->last = s;
    char line[512];
    progress_format(&s, line, sizeof line);
    if (m->tty) {
        size_t len = strlen(line);
        printf("\r%s%*s", line, m->last_len > len ? (int)(m->last_len - len) : 0, "");
        m->last_len = len;
    } else {
        printf("%s\n", line);
    }
    fflush(stdout);
    m->reached = m->max_frames && s.frames >= m->max_frames       ? "run.max_frames"
                 : m->max_seconds > 0 && s.elapsed_s >= m->max_seconds ? "run.max_seconds"
                                                                       : NULL;
    *over_budget = m->reached != NULL;
}

const char *monitor_budget_reached(const monitor *m)
{
    return m->reached;
}
