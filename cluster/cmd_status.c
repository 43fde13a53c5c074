/* `shoal status RUN_DIR`: a run at a glance, running or finished, from what the run folder
 * holds (config.ini, the markers and heartbeats in log/, endpoints.json, metrics.csv, eval.csv,
 * checkpoints/) and, while it runs, a Stats round to every replay shard with a short timeout.
 * Gathering fills a status_report; the text and the JSON are two views of it. The JSON object
 * is documented in docs/formats.md ("shoal status --json"). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/liveness.h"
#include "cluster/layout.h"
#include "cluster/progress.h"
#include "cluster/rundir.h"
#include "common/endpoints.h"
#include "common/fileio.h"
#include "common/json.h"
#include "nn/paramfile.h"
#include "replay/client.h"

#define MAX_RANKS 4096
#define SHARD_TIMEOUT_MS 500

typedef struct rank_health {
    cluster_role role;
    uint32_t index;
    char host[128];   /* "" unknown */
    const char *health; /* done, failed, died, alive, silent, running, ended, not started */
    char detail[256]; /* a failure's reason, a death's cause */
    double age_s;     /* of the heartbeat or the log; < 0 unknown */
} rank_health;

typedef struct status_report {
    const char *run_dir;
    curve_keys curve; /* the run's client keys when it uses CURVE */
    const char *state; /* running, finished, stopped, not running */
    char env[64];
    uint32_t counts[4]; /* ranks per cluster_role */
    rank_health *ranks;
    size_t n_ranks;
    bool have_metrics;
    double elapsed_s, step, frames, updates_per_s;
    /* Replay: live Stats when shards answered, else the last metrics row. */
    const char *replay_source; /* "live", "metrics" or NULL */
    size_t shards_total, shards_answering;
    double size, capacity, demo_size, demo_served_share;
    double insert_blocked_s, sample_blocked_s;
    replay_insight insight;
    bool have_eval;
    double eval_step, eval_frames, eval_mean, eval_std, eval_episodes, eval_age_s;
    size_t n_checkpoints;
    uint64_t newest_step;
    double newest_age_s;
    uint64_t max_frames;
    double max_seconds;
} status_report;

typedef struct args {
    cli_list dir;
    bool json;
} args;

static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--json", NULL, "print one JSON object (docs/formats.md) instead of text",
         .flag = &a->json},
    };
    const cli_command cmd = {
        .name = "shoal status",
        .usage = "shoal status RUN_DIR [--json]",
        .about = "Shows a run at a glance, running or finished: its state, the roles with their\n"
                 "hosts and health (from the markers and heartbeats in RUN_DIR/log/), frames and\n"
                 "learner updates, replay fill, demo share, the age of sampled transitions, the\n"
                 "priority histogram and the rate limiter (asked of each shard while the run is\n"
                 "up, else from the last row of metrics.csv), the last evaluation, the\n"
                 "checkpoints and the budget left (run.max_frames, run.max_seconds).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "Exit status: 0 shown, 1 RUN_DIR is not a run folder, 2 bad usage.",
        .operands = &a->dir,
        .max_operands = 1,
        .operand = "RUN_DIR",
        .operand_required = true,
    };
    return cmdline_parse(&cmd, argc, argv);
}

/* ---- the run folder ---- */

static double file_age_s(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return -1.0;
    }
    double age = difftime(time(NULL), st.st_mtime);
    return age > 0 ? age : 0.0;
}

/* The health of one rank, from its markers in the order of their precedence. */
static void rank_read(const char *dir, rank_health *r, const endpoint_file *ep, bool have_ep)
{
    const char *role = cluster_role_name(r->role);
    char path[FILEIO_PATH_MAX], text[256];
    r->age_s = -1.0;
    r->health = "not started";
    if (have_ep && r->role == CLUSTER_ROLE_REPLAY && r->index < ep->n_replay) {
        endpoints_host(ep->replay[r->index], r->host, sizeof r->host, NULL);
    } else if (have_ep && r->role == CLUSTER_ROLE_LEARNER && r->index == 0 && ep->params[0]) {
        endpoints_host(ep->params, r->host, sizeof r->host, NULL);
    }
    /* The heartbeat ("HOST PID") names the host of every role; it may be absent (runs from
     * before heartbeats, roles started by hand). */
    if (rundir_role_file(path, sizeof path, dir, role, r->index, RUNDIR_ALIVE) &&
        rundir_read_marker(dir, role, r->index, RUNDIR_ALIVE, text, sizeof text)) {
        char host[128];
        if (sscanf(text, "%127s", host) == 1) {
            snprintf(r->host, sizeof r->host, "%s", host);
        }
        r->age_s = file_age_s(path);
        r->health = r->age_s <= LIVENESS_SILENT_SECS ? "alive" : "silent";
    } else if (rundir_role_file(path, sizeof path, dir, role, r->index, ".log") &&
               file_age_s(path) >= 0) {
        r->age_s = file_age_s(path);
        r->health = "running";
    }
    static const char *const ends[][2] = {
        {RUNDIR_FAILED, "failed"}, {RUNDIR_DIED, "died"}, {RUNDIR_DONE, "done"}};
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        if (rundir_read_marker(dir, role, r->index, ends[k][0], text, sizeof text)) {
            r->health = ends[k][1];
            snprintf(r->detail, sizeof r->detail, "%s", text);
            return;
        }
    }
}

/* Raises counts[role] to cover every <role>-<i>.* file in dir/log (ranks beyond the config's
 * counts, such as the actors of a job started with a larger mpirun -np). */
static void count_logged_ranks(const char *dir, uint32_t counts[4])
{
    char path[FILEIO_PATH_MAX];
    if (rundir_path(path, sizeof path, dir, "log", NULL) != SHOAL_OK) {
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        for (int role = 0; role < 4; role++) {
            const char *name = cluster_role_name((cluster_role)role);
            size_t n = strlen(name);
            unsigned index;
            if (strncmp(e->d_name, name, n) == 0 && e->d_name[n] == '-' &&
                sscanf(e->d_name + n + 1, "%u.", &index) == 1 && index < MAX_RANKS &&
                index + 1 > counts[role]) {
                counts[role] = index + 1;
            }
        }
    }
    closedir(d);
}

static int gather_ranks(status_report *s, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    endpoint_file ep;
    bool have_ep = rundir_path(path, sizeof path, s->run_dir, "endpoints.json", NULL) == SHOAL_OK &&
                   endpoints_read(path, &ep, NULL) == SHOAL_OK;
    count_logged_ranks(s->run_dir, s->counts);
    size_t n = 0;
    for (int role = 0; role < 4; role++) {
        n += s->counts[role];
    }
    s->ranks = calloc(n ? n : 1, sizeof *s->ranks);
    if (!s->ranks) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
    }
    for (int role = 0; role < 4; role++) {
        for (uint32_t i = 0; i < s->counts[role]; i++) {
            rank_health *r = &s->ranks[s->n_ranks++];
            r->role = (cluster_role)role;
            r->index = i;
            rank_read(s->run_dir, r, &ep, have_ep);
        }
    }
    s->shards_total = have_ep ? ep.n_replay : s->counts[CLUSTER_ROLE_REPLAY];
    if (have_ep) {
        const char *eps[ENDPOINTS_MAX_SHARDS];
        for (size_t i = 0; i < ep.n_replay; i++) {
            eps[i] = ep.replay[i];
        }
        replay_client_options opt = {.timeout_ms = SHARD_TIMEOUT_MS, .curve = s->curve};
        replay_client *c = replay_client_new(eps, ep.n_replay, &opt, NULL);
        double served = 0, demo_served = 0, frames = 0, capacity = 0;
        for (size_t i = 0; c && i < ep.n_replay; i++) {
            const replay_stats *st;
            if (replay_client_stats(c, i, &st, NULL) != SHOAL_OK) {
                continue;
            }
            s->shards_answering++;
            s->size += (double)st->size;
            capacity += (double)st->capacity;
            s->demo_size += (double)st->demo_size;
            s->insert_blocked_s += st->insert_blocked_s;
            s->sample_blocked_s += st->sample_blocked_s;
            served += (double)st->sampled;
            demo_served += (double)st->demo_sampled;
            frames += (double)st->env_steps;
            replay_insight_merge(&s->insight, &st->insight);
        }
        replay_client_free(c);
        if (s->shards_answering) {
            s->capacity = capacity;
            s->replay_source = "live";
            s->frames = frames;
            s->demo_served_share = served > 0 ? demo_served / served : 0.0;
        }
    }
    return SHOAL_OK;
}

/* The last value of column in the CSV at path; NAN when there is none. */
static double last_of(const char *path, const char *column)
{
    double v;
    return progress_csv_last(path, column, &v, NULL) == SHOAL_OK ? v : NAN;
}

static void gather_metrics(status_report *s)
{
    char path[FILEIO_PATH_MAX];
    if (rundir_path(path, sizeof path, s->run_dir, "metrics.csv", NULL) != SHOAL_OK) {
        return;
    }
    s->step = last_of(path, "step");
    s->have_metrics = !isnan(s->step);
    if (!s->have_metrics) {
        return;
    }
    s->elapsed_s = last_of(path, "time_s");
    s->updates_per_s = last_of(path, "updates_per_s");
    double frames = last_of(path, "frames");
    if (!s->replay_source || !(frames <= s->frames)) {
        s->frames = frames;
    }
    if (s->replay_source) {
        return;
    }
    /* No shard answered: the replay as the learner last saw it. */
    s->replay_source = "metrics";
    s->size = last_of(path, "replay_size");
    s->demo_size = last_of(path, "replay_demo_size");
    s->demo_served_share = last_of(path, "demo_share");
    s->insert_blocked_s = last_of(path, "replay_insert_blocked_s");
    s->sample_blocked_s = last_of(path, "replay_sample_blocked_s");
    replay_insight *in = &s->insight;
    in->age_p50 = last_of(path, "replay_age_p50");
    in->age_p90 = last_of(path, "replay_age_p90");
    in->age_s_p50 = last_of(path, "replay_age_s_p50");
    in->age_s_p90 = last_of(path, "replay_age_s_p90");
    in->inserts_per_s = last_of(path, "replay_inserts_per_s");
    in->samples_per_s = last_of(path, "replay_samples_per_s");
    in->insert_holds = (uint64_t)fmax(0, last_of(path, "replay_insert_holds"));
    in->sample_holds = (uint64_t)fmax(0, last_of(path, "replay_sample_holds"));
    in->insert_wait_s = last_of(path, "replay_insert_wait_s");
    in->sample_wait_s = last_of(path, "replay_sample_wait_s");
    double share = last_of(path, "replay_demo_share_recent");
    /* The metrics row keeps the share, not the window: a window of 1000 carries it. */
    in->window = isnan(share) ? 0 : 1000;
    in->window_demo = isnan(share) ? 0 : (uint32_t)lround(share * 1000);
    for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
        char col[32];
        snprintf(col, sizeof col, "replay_prio_bin%zu", k);
        double v = last_of(path, col);
        in->priority_hist[k] = isnan(v) ? 0 : (uint64_t)v;
    }
}

static void gather_eval(status_report *s)
{
    char path[FILEIO_PATH_MAX];
    if (rundir_path(path, sizeof path, s->run_dir, "eval.csv", NULL) != SHOAL_OK) {
        return;
    }
    s->eval_step = last_of(path, "step");
    s->have_eval = !isnan(s->eval_step);
    s->eval_frames = last_of(path, "frames");
    s->eval_mean = last_of(path, "mean");
    s->eval_std = last_of(path, "std");
    s->eval_episodes = last_of(path, "episodes");
    double wall = last_of(path, "wall_seconds");
    s->eval_age_s = isnan(wall) ? NAN : fmax(0.0, (double)time(NULL) - wall);
}

static int note_checkpoint(uint64_t step, void *arg, shoal_err *err)
{
    (void)err;
    status_report *s = arg;
    if (s->n_checkpoints++ == 0 || step > s->newest_step) {
        s->newest_step = step;
    }
    return SHOAL_OK;
}

static void gather_checkpoints(status_report *s)
{
    s->newest_age_s = NAN;
    if (nn_paramfile_checkpoint_each(s->run_dir, note_checkpoint, s, NULL) != SHOAL_OK ||
        !s->n_checkpoints) {
        return;
    }
    char path[FILEIO_PATH_MAX];
    if (nn_paramfile_checkpoint_path(s->run_dir, s->newest_step, path, sizeof path, NULL) ==
        SHOAL_OK) {
        double age = file_age_s(path);
        s->newest_age_s = age >= 0 ? age : NAN;
    }
}

/* running: a shard answered; finished: every rank is done; stopped: a rank failed or died
 * and nothing answers; not running: anything else without an answer. */
static void judge_state(status_report *s)
{
    size_t done = 0, broken = 0, beating = 0;
    for (size_t i = 0; i < s->n_ranks; i++) {
        const char *h = s->ranks[i].health;
        done += strcmp(h, "done") == 0;
        broken += strcmp(h, "failed") == 0 || strcmp(h, "died") == 0;
        beating += strcmp(h, "alive") == 0;
    }
    if (s->shards_answering || beating) {
        s->state = "running";
    } else if (s->n_ranks && done == s->n_ranks) {
        s->state = "finished";
    } else if (broken) {
        s->state = "stopped";
    } else {
        s->state = "not running";
    }
    /* Without a live process, "running" in a rank's health only meant "has a log". */
    if (strcmp(s->state, "running") != 0) {
        for (size_t i = 0; i < s->n_ranks; i++) {
            if (strcmp(s->ranks[i].health, "running") == 0 ||
                strcmp(s->ranks[i].health, "silent") == 0) {
                s->ranks[i].health = "ended";
            }
        }
    }
}

static int gather(status_report *s, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    struct stat st;
    if (stat(s->run_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s: %s", s->run_dir,
                             errno ? strerror(errno) : "not a folder");
    }
    if (rundir_path(path, sizeof path, s->run_dir, "config.ini", err) != SHOAL_OK) {
        return err->code;
    }
    if (stat(path, &st) != 0) {
        return shoal_err_set(err, SHOAL_ENOTFOUND, "%s is not a shoal run folder: it has no "
                             "config.ini (give the folder that `shoal train --run-dir` wrote)",
                             s->run_dir);
    }
    config *cfg = shoal_config_load(path, NULL, 0, err);
    if (!cfg) {
        return shoal_err_prefix(err, "%s is not a readable run folder", s->run_dir);
    }
    snprintf(s->env, sizeof s->env, "%s", config_str(cfg, "env", "name"));
    s->counts[CLUSTER_ROLE_REPLAY] = (uint32_t)config_int(cfg, "cluster", "replay_shards");
    s->counts[CLUSTER_ROLE_LEARNER] = (uint32_t)config_int(cfg, "cluster", "learners");
    s->counts[CLUSTER_ROLE_EVALUATOR] = (uint32_t)config_int(cfg, "cluster", "evaluators");
    s->counts[CLUSTER_ROLE_ACTOR] = (uint32_t)config_int(cfg, "cluster", "actors");
    s->max_frames = (uint64_t)config_int(cfg, "run", "max_frames");
    s->max_seconds = config_float(cfg, "run", "max_seconds");
    /* Until a shard answers, the capacity is the configured one. */
    s->capacity = (double)config_int(cfg, "replay", "capacity") * s->counts[CLUSTER_ROLE_REPLAY];
    shoal_err kerr = {0};
    if (rundir_curve_keys(cfg, s->run_dir, false, &s->curve, &kerr) != SHOAL_OK) {
        fprintf(stderr, "shoal status: the shards cannot be asked: %s\n", kerr.msg);
    }
    config_free(cfg);
    int rc = gather_ranks(s, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    gather_metrics(s);
    gather_eval(s);
    gather_checkpoints(s);
    judge_state(s);
    return SHOAL_OK;
}

/* ---- budget ---- */

typedef struct budget_left {
    double frames_left, seconds_left; /* NAN when unknown or no budget */
    const char *reached;              /* "run.max_frames", "run.max_seconds" or NULL */
} budget_left;

static budget_left budget_of(const status_report *s)
{
    budget_left b = {NAN, NAN, NULL};
    bool have_time = s->have_metrics && s->elapsed_s > 0;
    if (s->max_frames && !isnan(s->frames)) {
        b.frames_left = fmax(0.0, (double)s->max_frames - s->frames);
        if (b.frames_left == 0) {
            b.reached = "run.max_frames";
        } else if (have_time && s->frames > 0) {
            b.seconds_left = b.frames_left / (s->frames / s->elapsed_s);
        }
    }
    if (s->max_seconds > 0 && have_time) {
        double left = fmax(0.0, s->max_seconds - s->elapsed_s);
        if (left == 0 && !b.reached) {
            b.reached = "run.max_seconds";
        }
        b.seconds_left = isnan(b.seconds_left) ? left : fmin(b.seconds_left, left);
    }
    if (b.reached) {
        b.seconds_left = 0;
    }
    return b;
}

/* ---- text ---- */

static void put_duration(char *out, size_t cap, double s)
{
    if (isnan(s) || s < 0) {
        snprintf(out, cap, "-");
        return;
    }
    unsigned long t = (unsigned long)s;
    if (t >= 86400) {
        snprintf(out, cap, "%lud %02luh", t / 86400, t / 3600 % 24);
    } else {
        snprintf(out, cap, "%02lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    }
}

static void print_roles(const status_report *s)
{
    static const char *const healths[] = {"alive", "running", "done", "failed", "died",
                                          "silent", "ended", "not started"};
    for (int role = 0; role < 4; role++) {
        if (!s->counts[role]) {
            continue;
        }
        printf("  %-9s %3u:", cluster_role_name((cluster_role)role), s->counts[role]);
        for (size_t h = 0; h < sizeof healths / sizeof healths[0]; h++) {
            size_t n = 0;
            for (size_t i = 0; i < s->n_ranks; i++) {
                n += s->ranks[i].role == (cluster_role)role &&
                     strcmp(s->ranks[i].health, healths[h]) == 0;
            }
            if (n) {
                printf(" %zu %s", n, healths[h]);
            }
        }
        /* Hosts in rank order, each once. */
        printf("  hosts");
        size_t shown = 0;
        for (size_t i = 0; i < s->n_ranks; i++) {
            const rank_health *r = &s->ranks[i];
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                seen = s->ranks[j].role == r->role && strcmp(s->ranks[j].host, r->host) == 0;
            }
            if (r->role == (cluster_role)role && r->host[0] && !seen && shown++ < 4) {
                printf(" %s", r->host);
            }
        }
        if (shown > 4) {
            printf(" (+%zu)", shown - 4);
        }
        printf("%s\n", shown ? "" : " -");
    }
    size_t listed = 0;
    for (size_t i = 0; i < s->n_ranks; i++) {
        const rank_health *r = &s->ranks[i];
        bool trouble = strcmp(r->health, "failed") == 0 || strcmp(r->health, "died") == 0 ||
                       strcmp(r->health, "silent") == 0;
        if (trouble && listed++ < 6) {
            printf("  ! %s %u %s%s%s\n", cluster_role_name(r->role), r->index, r->health,
                   r->detail[0] ? ": " : "", r->detail);
        }
    }
    if (listed > 6) {
        printf("  ! ... and %zu more\n", listed - 6);
    }
}

static void print_replay(const status_report *s)
{
    const replay_insight *in = &s->insight;
    if (!s->replay_source) {
        printf("replay      -\n");
        return;
    }
    if (strcmp(s->replay_source, "live") == 0) {
        printf("replay      %zu of %zu shards answered: ", s->shards_answering, s->shards_total);
    } else {
        printf("replay      (not running; the learner's last metrics row) ");
    }
    printf("%.0f transitions", s->size);
    if (s->capacity > 0) {
        printf(" of %.0f (%.0f%%)", s->capacity, 100.0 * s->size / s->capacity);
    }
    printf(", %.0f demos\n", s->demo_size);
    if (in->window) {
        printf("  sampled   demo share %.1f%% recent, %.1f%% overall; "
               "age p50 %.0f p90 %.0f inserts",
               100.0 * in->window_demo / in->window, 100.0 * s->demo_served_share, in->age_p50,
               in->age_p90);
        if (!isnan(in->age_s_p50) && (in->window_aged || !strcmp(s->replay_source, "metrics"))) {
            printf(", p50 %.1f p90 %.1f s", in->age_s_p50, in->age_s_p90);
        }
        printf("\n");
    }
    printf("  rates     %.0f inserts/s, %.0f samples/s\n", in->inserts_per_s, in->samples_per_s);
    printf("  limiter   held %llu insert acks (%.1f s blocked, oldest now %.1f s), "
           "%llu samples (%.1f s, now %.1f s)\n",
           (unsigned long long)in->insert_holds, s->insert_blocked_s, in->insert_wait_s,
           (unsigned long long)in->sample_holds, s->sample_blocked_s, in->sample_wait_s);
    printf("  |δ| hist ");
    for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
        if (k == 0) {
            printf(" <1e-4:%llu", (unsigned long long)in->priority_hist[k]);
        } else {
            printf(" %.2g:%llu", replay_priority_bin_low(k),
                   (unsigned long long)in->priority_hist[k]);
        }
    }
    printf("\n");
}

static void print_text(const status_report *s)
{
    char t[32], left[32];
    printf("run         %s: %s (env %s)\n", s->run_dir, s->state, s->env);
    printf("roles\n");
    print_roles(s);
    put_duration(t, sizeof t, s->have_metrics ? s->elapsed_s : NAN);
    if (s->have_metrics || !isnan(s->frames)) {
        printf("progress    %.0f frames, learner step %.0f (%.0f updates/s), %s elapsed\n",
               isnan(s->frames) ? 0.0 : s->frames, s->have_metrics ? s->step : 0.0,
               s->have_metrics ? s->updates_per_s : 0.0, t);
    } else {
        printf("progress    - (no metrics.csv rows yet)\n");
    }
    print_replay(s);
    if (s->have_eval) {
        put_duration(t, sizeof t, s->eval_age_s);
        printf("eval        step %.0f (%.0f frames): %.3g ± %.3g over %.0f episodes, %s ago\n",
               s->eval_step, s->eval_frames, s->eval_mean, s->eval_std, s->eval_episodes, t);
    } else {
        printf("eval        -\n");
    }
    if (s->n_checkpoints) {
        put_duration(t, sizeof t, s->newest_age_s);
        printf("checkpoints %zu, newest step-%llu.ckpt, %s ago\n", s->n_checkpoints,
               (unsigned long long)s->newest_step, t);
    } else {
        printf("checkpoints none\n");
    }
    budget_left b = budget_of(s);
    if (!s->max_frames && s->max_seconds <= 0) {
        printf("budget      none (runs until stopped)\n");
    } else if (b.reached) {
        printf("budget      reached (%s)\n", b.reached);
    } else {
        put_duration(left, sizeof left, b.seconds_left);
        printf("budget      ");
        if (s->max_frames) {
            printf("%.0f of %llu frames left, ", b.frames_left, (unsigned long long)s->max_frames);
        }
        printf("time left %s%s\n", left,
               strcmp(s->state, "running") == 0 ? "" : " (when resumed)");
    }
}

/* ---- JSON ---- */

static void put_num(FILE *f, const char *key, double v, bool comma)
{
    fprintf(f, "\"%s\":", key);
    if (isnan(v) || isinf(v)) {
        fputs("null", f);
    } else {
        fprintf(f, "%.10g", v);
    }
    if (comma) {
        fputc(',', f);
    }
}

static void put_str(FILE *f, const char *key, const char *v, bool comma)
{
    fprintf(f, "\"%s\":", key);
    if (v) {
        json_write_string(f, v);
    } else {
        fputs("null", f);
    }
    if (comma) {
        fputc(',', f);
    }
}

static void print_json(const status_report *s)
{
    FILE *f = stdout;
    fputc('{', f);
    put_str(f, "run_dir", s->run_dir, true);
    put_str(f, "state", s->state, true);
    put_str(f, "env", s->env, true);
    fputs("\"roles\":[", f);
    for (size_t i = 0; i < s->n_ranks; i++) {
        const rank_health *r = &s->ranks[i];
        fputs(i ? ",{" : "{", f);
        put_str(f, "role", cluster_role_name(r->role), true);
        put_num(f, "index", r->index, true);
        put_str(f, "host", r->host[0] ? r->host : NULL, true);
        put_str(f, "health", r->health, true);
        put_str(f, "detail", r->detail[0] ? r->detail : NULL, true);
        put_num(f, "age_s", r->age_s >= 0 ? r->age_s : NAN, false);
        fputc('}', f);
    }
    fputs("],", f);
    put_num(f, "frames", s->frames, true);
    put_num(f, "step", s->have_metrics ? s->step : NAN, true);
    put_num(f, "updates_per_s", s->have_metrics ? s->updates_per_s : NAN, true);
    put_num(f, "elapsed_s", s->have_metrics ? s->elapsed_s : NAN, true);
    fputs("\"replay\":", f);
    if (s->replay_source) {
        const replay_insight *in = &s->insight;
        fputc('{', f);
        put_str(f, "source", s->replay_source, true);
        put_num(f, "shards", (double)s->shards_total, true);
        put_num(f, "shards_answering", (double)s->shards_answering, true);
        put_num(f, "size", s->size, true);
        put_num(f, "capacity", s->capacity > 0 ? s->capacity : NAN, true);
        put_num(f, "demo_size", s->demo_size, true);
        put_num(f, "demo_share_served", s->demo_served_share, true);
        put_num(f, "demo_share_recent",
                in->window ? (double)in->window_demo / in->window : NAN, true);
        put_num(f, "age_p50", in->window ? in->age_p50 : NAN, true);
        put_num(f, "age_p90", in->window ? in->age_p90 : NAN, true);
        put_num(f, "age_s_p50", in->window ? in->age_s_p50 : NAN, true);
        put_num(f, "age_s_p90", in->window ? in->age_s_p90 : NAN, true);
        put_num(f, "inserts_per_s", in->inserts_per_s, true);
        put_num(f, "samples_per_s", in->samples_per_s, true);
        put_num(f, "insert_holds", (double)in->insert_holds, true);
        put_num(f, "sample_holds", (double)in->sample_holds, true);
        put_num(f, "insert_blocked_s", s->insert_blocked_s, true);
        put_num(f, "sample_blocked_s", s->sample_blocked_s, true);
        put_num(f, "insert_wait_s", in->insert_wait_s, true);
        put_num(f, "sample_wait_s", in->sample_wait_s, true);
        fputs("\"priority_hist\":[", f);
        for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
            fprintf(f, k ? ",%llu" : "%llu", (unsigned long long)in->priority_hist[k]);
        }
        fputs("]},", f);
    } else {
        fputs("null,", f);
    }
    fputs("\"eval\":", f);
    if (s->have_eval) {
        fputc('{', f);
        put_num(f, "step", s->eval_step, true);
        put_num(f, "frames", s->eval_frames, true);
        put_num(f, "mean", s->eval_mean, true);
        put_num(f, "std", s->eval_std, true);
        put_num(f, "episodes", s->eval_episodes, true);
        put_num(f, "age_s", s->eval_age_s, false);
        fputs("},", f);
    } else {
        fputs("null,", f);
    }
    fputs("\"checkpoints\":{", f);
    put_num(f, "count", (double)s->n_checkpoints, true);
    put_num(f, "newest_step", s->n_checkpoints ? (double)s->newest_step : NAN, true);
    put_num(f, "newest_age_s", s->newest_age_s, false);
    fputs("},", f);
    budget_left b = budget_of(s);
    fputs("\"budget\":{", f);
    put_num(f, "max_frames", s->max_frames ? (double)s->max_frames : NAN, true);
    put_num(f, "max_seconds", s->max_seconds > 0 ? s->max_seconds : NAN, true);
    put_num(f, "frames_left", b.frames_left, true);
    put_num(f, "seconds_left", b.seconds_left, true);
    put_str(f, "reached", b.reached, false);
    fputs("}}\n", f);
}

int cmd_status(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc != CMDLINE_RUN) {
        cli_list_fini(&a.dir);
        return rc;
    }
    status_report s = {.run_dir = a.dir.items[0], .frames = NAN};
    shoal_err err = {0};
    errno = 0;
    if (gather(&s, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal status: %s\n", err.msg);
        rc = 1;
    } else {
        if (a.json) {
            print_json(&s);
        } else {
            print_text(&s);
        }
        rc = 0;
    }
    free(s.ranks);
    cli_list_fini(&a.dir);
    return rc;
}
