#include "evaluator/watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "evaluator/svg.h"
#include "nn/paramfile.h"
#include "tb/writer.h"

/* A checkpoint that could not be evaluated, as it was when it failed. */
typedef struct failed {
    uint64_t step;
    off_t size;
    struct timespec mtime;
} failed;

struct evaluator {
    evaluator_config cfg;
    evaluator_player *player;
    evaluator_history history;
    failed *failed;
    size_t n_failed, failed_cap;
    uint64_t *pending; /* scratch for one scan */
    size_t pending_cap;
    tb_writer *tb;      /* NULL: no TensorBoard events */
    bool tb_any;        /* a result was recorded: events only for steps above tb_after */
    uint64_t tb_after;  /* (see evaluator/watch.h) */
};

int evaluator_config_from(const config *cfg, const char *run_dir, evaluator_config *out,
                          shoal_err *err)
{
    memset(out, 0, sizeof *out);
    if (strlen(run_dir) >= sizeof out->run_dir) {
        return shoal_err_set(err, SHOAL_EINVAL, "run directory '%s' is too long", run_dir);
    }
    strcpy(out->run_dir, run_dir);
    out->poll_secs = config_float(cfg, "evaluator", "poll_secs");
    out->catch_up = strcmp(config_str(cfg, "evaluator", "catch_up"), "newest") == 0
                        ? EVALUATOR_CATCH_UP_NEWEST
                        : EVALUATOR_CATCH_UP_ALL;
    return evaluator_player_config_from(cfg, &out->player, err);
}

void evaluator_free(evaluator *e)
{
    if (!e) {
        return;
    }
    evaluator_player_free(e->player);
    evaluator_history_fini(&e->history);
    free(e->failed);
    free(e->pending);
    tb_writer_free(e->tb);
    free(e);
}

static void path_in_run(const evaluator *e, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", e->cfg.run_dir, name);
}

evaluator *evaluator_new(const evaluator_config *cfg, shoal_err *err)
{
    struct stat st;
    if (stat(cfg->run_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        shoal_err_set(err, SHOAL_ENOTFOUND, "run directory '%s' does not exist (%s); the "
                      "evaluator watches RUN_DIR/checkpoints/ of a run",
                      cfg->run_dir, errno ? strerror(errno) : "not a directory");
        return NULL;
    }
    if (!(cfg->poll_secs > 0)) {
        shoal_err_set(err, SHOAL_EINVAL, "evaluator.poll_secs = %g: expected > 0",
                      cfg->poll_secs);
        return NULL;
    }
    evaluator *e = calloc(1, sizeof *e);
    if (!e) {
        shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    evaluator_history_init(&e->history);
    e->player = evaluator_player_new(&cfg->player, err);
    if (!e->player) {
        goto fail;
    }
    char path[FILEIO_PATH_MAX];
    path_in_run(e, path, sizeof path, "eval.jsonl");
    size_t n_bad = 0;
    if (evaluator_history_load(&e->history, path, &n_bad, err) != SHOAL_OK) {
        goto fail;
    }
    if (n_bad > 0) {
        log_warn("%s: skipped %zu line(s) that are not complete evaluation records", path, n_bad);
    }
    if (e->history.n > 0) {
        log_info("%s: %zu checkpoint(s) already evaluated; they will not be evaluated again",
                 path, e->history.n);
    }
    e->tb_any = e->history.n > 0;
    for (size_t i = 0; i < e->history.n; i++) {
        e->tb_after = e->history.rows[i].step > e->tb_after ? e->history.rows[i].step
                                                            : e->tb_after;
    }
    if (cfg->tb_dir[0] && !(e->tb = tb_writer_new(cfg->tb_dir, "evaluator", err))) {
        goto fail;
    }
    return e;
fail:
    evaluator_free(e);
    return NULL;
}

const evaluator_history *evaluator_history_of(const evaluator *e)
{
    return &e->history;
}

size_t evaluator_n_skipped(const evaluator *e)
{
    return e->n_failed;
}

static void checkpoint_path(const evaluator *e, uint64_t step, char *buf, size_t cap)
{
    /* fits: run_dir is at most EVALUATOR_RUN_DIR_MAX */
    nn_paramfile_checkpoint_path(e->cfg.run_dir, step, buf, cap, NULL);
}

static uint64_t max_step(const evaluator_history *h)
{
    uint64_t m = 0;
    for (size_t i = 0; i < h->n; i++) {
        m = h->rows[i].step > m ? h->rows[i].step : m;
    }
    return m;
}

static failed *find_failed(evaluator *e, uint64_t step)
{
    for (size_t i = 0; i < e->n_failed; i++) {
        if (e->failed[i].step == step) {
            return &e->failed[i];
        }
    }
    return NULL;
}

static int same_file(const failed *f, const struct stat *st)
{
    return f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
           f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Whether step is waiting: not evaluated, not a failed file that is unchanged since. */
static int is_pending(evaluator *e, uint64_t step, uint64_t newest_done)
{
    if (evaluator_history_has(&e->history, step)) {
        return 0;
    }
    if (e->cfg.catch_up == EVALUATOR_CATCH_UP_NEWEST && e->history.n > 0 && step <= newest_done) {
        return 0;
    }
    const failed *f = find_failed(e, step);
    if (!f) {
        return 1;
    }
    char path[FILEIO_PATH_MAX];
    struct stat st;
    checkpoint_path(e, step, path, sizeof path);
    return stat(path, &st) == 0 && !same_file(f, &st);
}

/* Makes room for one more element in a growable array of *cap elements of size elem. */
static int grow(void **items, size_t n, size_t *cap, size_t elem, shoal_err *err)
{
    if (n < *cap) {
        return SHOAL_OK;
    }
    size_t new_cap = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, new_cap * elem);
    if (!p) {
        return shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory for %zu entries",
                             new_cap);
    }
    *items = p;
    *cap = new_cap;
    return SHOAL_OK;
}

static int add_pending(evaluator *e, size_t *n, uint64_t step, shoal_err *err)
{
    if (grow((void **)&e->pending, *n, &e->pending_cap, sizeof *e->pending, err) != SHOAL_OK) {
        return SHOAL_ENOMEM;
    }
    e->pending[(*n)++] = step;
    return SHOAL_OK;
}

typedef struct scan {
    evaluator *e;
    size_t n;
    uint64_t newest_done;
} scan;

static int take_pending(uint64_t step, void *arg, shoal_err *err)
{
    scan *sc = arg;
    if (!is_pending(sc->e, step, sc->newest_done)) {
        return SHOAL_OK;
    }
    return add_pending(sc->e, &sc->n, step, err);
}

/* The newest pending step into *step and how many are pending into *n (0 when none, or no
 * checkpoints/ yet). */
static int newest_pending(evaluator *e, uint64_t *step, size_t *n, shoal_err *err)
{
    scan sc = {e, 0, max_step(&e->history)};
    shoal_err why = {0};
    int rc = nn_paramfile_checkpoint_each(e->cfg.run_dir, take_pending, &sc, &why);
    *n = 0;
    if (rc == SHOAL_ENOMEM) {
        if (err) {
            *err = why;
        }
        return rc;
    }
    /* a folder that does not exist yet or cannot be read holds nothing to evaluate */
    for (size_t i = 0; i < sc.n; i++) {
        if (i == 0 || e->pending[i] > *step) {
            *step = e->pending[i];
        }
    }
    *n = sc.n;
    return SHOAL_OK;
}

/* Remembers (or refreshes) a failed file so it is retried only once it changes. */
static int remember_failure(evaluator *e, uint64_t step, const struct stat *st, shoal_err *err)
{
    failed *f = find_failed(e, step);
    if (!f) {
        if (grow((void **)&e->failed, e->n_failed, &e->failed_cap, sizeof *e->failed, err) !=
            SHOAL_OK) {
            return SHOAL_ENOMEM;
        }
        f = &e->failed[e->n_failed++];
    }
    f->step = step;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    return SHOAL_OK;
}

static double mtime_seconds(const struct stat *st)
{
    return (double)st->st_mtim.tv_sec + 1e-9 * (double)st->st_mtim.tv_nsec;
}

/* The result as one TensorBoard record at its step, when it is newer than every one before.
 * A failure stops the events with a warning: TensorBoard is a view, eval.jsonl the record. */
static void write_tb(evaluator *e, const evaluator_result *r)
{
    if (!e->tb || (e->tb_any && r->step <= e->tb_after)) {
        return;
    }
    char head_tags[NN_QNET_MAX_HEADS][48];
    tb_scalar s[5 + NN_QNET_MAX_HEADS] = {
        {"eval/mean", r->mean}, {"eval/std", r->std},  {"eval/min", r->min},
        {"eval/max", r->max},   {"eval/frames", (double)r->frames},
    };
    size_t n = 5;
    for (size_t k = 0; r->head_episodes > 0 && k < r->n_heads; k++) {
        snprintf(head_tags[k], sizeof head_tags[k], "eval/head_%zu_mean", k);
        s[n++] = (tb_scalar){head_tags[k], r->head_mean[k]};
    }
    shoal_err why = {0};
    int rc = tb_writer_scalars(e->tb, (int64_t)r->step, s, n, &why);
    if (rc == SHOAL_OK) {
        rc = tb_writer_flush(e->tb, &why);
    }
    e->tb_any = true;
    e->tb_after = r->step;
    if (rc != SHOAL_OK) {
        log_warn("TensorBoard events stop: %s", why.msg);
        tb_writer_free(e->tb);
        e->tb = NULL;
    }
}

/* Appends the result to eval.jsonl and eval.csv and redraws eval.svg. */
static int record(evaluator *e, const char *name, const evaluator_result *r, double wall,
                  shoal_err *err)
{
    evaluator_record rec = evaluator_record_of(r, wall);
    if (evaluator_history_add(&e->history, &rec, err) != SHOAL_OK) {
        return SHOAL_ENOMEM;
    }
    evaluator_json_info info = {name, e->cfg.player.env_name, e->cfg.player.epsilon};
    int rc = evaluator_results_append(e->cfg.run_dir, &info, r, wall, err);
    if (rc == SHOAL_OK) {
        char svg[FILEIO_PATH_MAX];
        path_in_run(e, svg, sizeof svg, "eval.svg");
        rc = evaluator_svg_write(svg, e->history.rows, e->history.n, e->cfg.player.env_name,
                                 err);
    }
    if (rc == SHOAL_OK) {
        write_tb(e, r);
    }
    return rc;
}

/* Evaluates one checkpoint. A file that cannot be evaluated is a warning, not an error. */
static int evaluate_one(evaluator *e, uint64_t step, volatile sig_atomic_t *stop, int *done,
                        shoal_err *err)
{
    char path[FILEIO_PATH_MAX], name[NN_PARAMFILE_NAME_MAX];
    checkpoint_path(e, step, path, sizeof path);
    nn_paramfile_checkpoint_name(step, name, sizeof name, NULL);
    *done = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        log_debug("%s vanished before it was evaluated", path);
        return SHOAL_OK; /* a learner that keeps the last few checkpoints removed it */
    }
    evaluator_result r;
    shoal_err why = {0};
    int rc = evaluator_player_eval_file(e->player, path, stop, &r, &why);
    if (rc == SHOAL_EINTERRUPTED || rc == SHOAL_ETIMEOUT || rc == SHOAL_ENOMEM) {
        *err = why;
        return rc;
    }
    if (rc == SHOAL_ENOTFOUND) {
        log_debug("%s vanished before it was evaluated", path);
        return SHOAL_OK;
    }
    if (rc != SHOAL_OK) {
        /* why.msg names the file */
        log_warn("skipping checkpoint: %s (it is tried again if the file changes)", why.msg);
        return remember_failure(e, step, &st, err);
    }
    *done = 1;
    if (r.step != step) {
        log_warn("%s holds step %llu; recorded under the file's step %llu", path,
                 (unsigned long long)r.step, (unsigned long long)step);
        r.step = step;
    }
    log_info("step %llu (%llu frames): mean return %.4g \u00b1 %.3g, min %.4g, max %.4g over %zu "
             "episodes (%.1f s)",
             (unsigned long long)step, (unsigned long long)r.frames, r.mean, r.std, r.min, r.max,
             r.episodes, r.seconds);
    return record(e, name, &r, mtime_seconds(&st), err);
}

int evaluator_poll(evaluator *e, volatile sig_atomic_t *stop, size_t *n_evaluated,
                   shoal_err *err)
{
    size_t n = 0;
    int rc = SHOAL_OK;
    while (rc == SHOAL_OK) {
        if (stop && *stop) {
            rc = shoal_err_set(err, SHOAL_EINTERRUPTED, "evaluator stopped by a signal");
            break;
        }
        uint64_t step;
        size_t n_pending;
        int done;
        rc = newest_pending(e, &step, &n_pending, err);
        if (rc != SHOAL_OK || n_pending == 0) {
            break;
        }
        rc = evaluate_one(e, step, stop, &done, err);
        n += (size_t)done;
    }
    if (n_evaluated) {
        *n_evaluated = n;
    }
    return rc;
}

/* Sleeps about secs in slices of at most 100 ms, returning early once *stop is set (a signal
 * also cuts a slice short). */
static void nap(double secs, volatile sig_atomic_t *stop)
{
    uint64_t t0 = clock_now_ns();
    for (double left = secs; left > 0 && !*stop; left = secs - clock_since_s(t0)) {
        clock_sleep_ms((uint32_t)(left > 0.1 ? 100 : left * 1000 + 1));
    }
}

int evaluator_run(evaluator *e, volatile sig_atomic_t *stop, shoal_err *err)
{
    log_info("watching %s/checkpoints every %g s: %zu episodes per checkpoint of %s, "
             "epsilon %g", e->cfg.run_dir, e->cfg.poll_secs, e->cfg.player.episodes,
             e->cfg.player.env_name, e->cfg.player.epsilon);
    while (!*stop) {
        shoal_err why = {0};
        int rc = evaluator_poll(e, stop, NULL, &why);
        if (rc == SHOAL_ENOMEM) {
            *err = why;
            return rc;
        }
        if (rc != SHOAL_OK && rc != SHOAL_EINTERRUPTED) {
            log_error("%s", why.msg);
        }
        nap(e->cfg.poll_secs, stop);
    }
    return SHOAL_OK;
}

/* Polls f->ready until it holds or wait seconds have passed since t0; whether it held. */
static bool wait_ready(const evaluator_final *f, double wait, uint64_t t0)
{
    for (;;) {
        if (f->ready(f->arg)) {
            return true;
        }
        if (clock_since_s(t0) >= wait) {
            return false;
        }
        clock_sleep_ms(50);
    }
}

int evaluator_finish(evaluator *e, const evaluator_final *f, size_t *n_evaluated,
                     shoal_err *err)
{
    uint64_t t0 = clock_now_ns();
    double wait = f->wait_secs < f->secs ? f->wait_secs : f->secs;
    if (f->ready && !wait_ready(f, wait, t0)) {
        log_warn("the run's last checkpoint was not written within %.1f s of the stop; "
                 "evaluating the checkpoints there are", wait);
    }
    evaluator_player_set_deadline(e->player, t0 + (uint64_t)(f->secs * 1e9));
    /* evaluator_poll takes the pending checkpoints newest first until none is left; the
     * player's deadline ends it with ETIMEOUT at the bound. Another failure (the results of one
     * checkpoint not written) is logged and the pass goes on while there is time. */
    size_t n = 0, n_left = 0;
    uint64_t newest_left = 0;
    int rc;
    for (;;) {
        size_t k = 0;
        shoal_err why = {0};
        rc = evaluator_poll(e, NULL, &k, &why);
        n += k;
        if (rc == SHOAL_ENOMEM) {
            if (err) {
                *err = why;
            }
            break;
        }
        if (rc != SHOAL_OK && rc != SHOAL_ETIMEOUT) {
            log_error("%s", why.msg);
            if (clock_since_s(t0) < f->secs) {
                continue;
            }
        }
        rc = newest_pending(e, &newest_left, &n_left, err);
        break;
    }
    evaluator_player_set_deadline(e->player, 0);
    if (rc == SHOAL_OK && n_left > 0) {
        log_warn("stopping: %zu checkpoint(s) not evaluated within the %.1f s the final "
                 "evaluations may take after a stop (the newest: step %llu); evaluate them "
                 "with `shoal evaluate --run-dir %s`", n_left, f->secs,
                 (unsigned long long)newest_left, e->cfg.run_dir);
    } else if (rc == SHOAL_OK) {
        log_info("stopping: nothing left to evaluate (%zu evaluated after the stop, %.1f s)", n,
                 clock_since_s(t0));
    }
    if (n_evaluated) {
        *n_evaluated = n;
    }
    return rc;
}
