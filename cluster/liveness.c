#include "cluster/liveness.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/rundir.h"
#include "common/clock.h"
#include "common/fileio.h"

typedef enum watch_state { WATCHED, FINISHED, LOST } watch_state;

typedef struct rank_watch {
    cluster_role role;
    uint32_t index;
    watch_state state;
    bool failed;           /* its .failed was reported */
    char who[320];         /* "replay shard 0 (host, pid 1234)", or without the brackets */
    int pid;               /* from the heartbeat; 0 before it is read */
    bool local;            /* the heartbeat's host is this machine */
    struct timespec beat;  /* the heartbeat's last mtime seen */
    uint64_t beat_seen_ns; /* when it last changed, by this process's clock */
    uint64_t gone_ns;      /* when the local pid was first found gone; 0 while it lives */
} rank_watch;

struct liveness {
    const char *run_dir;
    double silent_secs;
    char host[256];
    size_t n;
    liveness_news totals;
    rank_watch ranks[]; /* n */
};

liveness *liveness_new(const char *run_dir, const uint32_t counts[4], double silent_secs,
                       shoal_err *err)
{
    size_t n = (size_t)counts[0] + counts[1] + counts[2] + counts[3];
    liveness *l = calloc(1, sizeof *l + n * sizeof l->ranks[0]);
    if (!l) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory watching %zu ranks", n);
        return NULL;
    }
    l->run_dir = run_dir;
    l->silent_secs = silent_secs;
    l->n = n;
    if (gethostname(l->host, sizeof l->host - 1) != 0) {
        l->host[0] = '\0';
    }
    size_t k = 0;
    for (int r = CLUSTER_ROLE_REPLAY; r <= CLUSTER_ROLE_ACTOR; r++) {
        for (uint32_t i = 0; i < counts[r]; i++, k++) {
            rank_watch *w = &l->ranks[k];
            w->role = (cluster_role)r;
            w->index = i;
            snprintf(w->who, sizeof w->who, "%s %u", cluster_role_title(w->role), i);
        }
    }
    return l;
}

void liveness_free(liveness *l)
{
    free(l);
}

void liveness_totals(const liveness *l, liveness_news *totals)
{
    *totals = l->totals;
}

static bool marker(const liveness *l, const rank_watch *w, const char *suffix, char *text,
                   size_t cap)
{
    return rundir_read_marker(l->run_dir, cluster_role_name(w->role), w->index, suffix, text,
                              cap);
}

/* Reads the heartbeat's "HOST PID" the first time it is seen; names the rank after it. */
static void learn_identity(const liveness *l, rank_watch *w)
{
    char text[320], host[256];
    int pid;
    if (w->pid || !marker(l, w, RUNDIR_ALIVE, text, sizeof text) ||
        sscanf(text, "%255s %d", host, &pid) != 2 || pid <= 0) {
        return;
    }
    w->pid = pid;
    w->local = strcmp(host, l->host) == 0;
    snprintf(w->who, sizeof w->who, "%s %u (%s, pid %d)", cluster_role_title(w->role), w->index,
             host, pid);
}

/* Whether the heartbeat says the rank is lost; writes why into why. */
static bool heartbeat_lost(liveness *l, rank_watch *w, uint64_t now, char *why, size_t cap)
{
    char path[FILEIO_PATH_MAX];
    struct stat st;
    if (!rundir_role_file(path, sizeof path, l->run_dir, cluster_role_name(w->role), w->index,
                          RUNDIR_ALIVE) ||
        stat(path, &st) != 0) {
        return false; /* not started yet */
    }
    learn_identity(l, w);
    if (!w->beat_seen_ns || st.st_mtim.tv_sec != w->beat.tv_sec ||
        st.st_mtim.tv_nsec != w->beat.tv_nsec) {
        w->beat = st.st_mtim;
        w->beat_seen_ns = now;
    }
    if (w->local && w->pid && kill(w->pid, 0) != 0 && errno == ESRCH) {
        w->gone_ns = w->gone_ns ? w->gone_ns : now;
        if ((double)(now - w->gone_ns) * 1e-9 > LIVENESS_REPORT_GRACE_SECS) {
            snprintf(why, cap, "died: its process is gone without a report (its guardian "
                               "died with it)");
            return true;
        }
        return false;
    }
    double quiet = (double)(now - w->beat_seen_ns) * 1e-9;
    if (quiet > l->silent_secs) {
        snprintf(why, cap, "stopped answering: no heartbeat for %.0f s", quiet);
        return true;
    }
    return false;
}

/* Prints a finding about w: "shoal train: <text>", and for actors that the run goes on. */
static void say(FILE *out, const rank_watch *w, const char *text)
{
    fprintf(out, "shoal train: %s%s\n", text,
            w->role == CLUSTER_ROLE_ACTOR ? "; the run goes on without it" : "");
    fflush(out);
}

static void count(liveness_news *news, const rank_watch *w, bool failed)
{
    bool actor = w->role == CLUSTER_ROLE_ACTOR;
    uint32_t *n = failed ? (actor ? &news->actors_failed : &news->essential_failed)
                         : (actor ? &news->actors_lost : &news->essential_lost);
    (*n)++;
}

void liveness_check(liveness *l, FILE *out, liveness_news *news)
{
    memset(news, 0, sizeof *news);
    uint64_t now = clock_now_ns();
    for (size_t k = 0; k < l->n; k++) {
        rank_watch *w = &l->ranks[k];
        char text[1024], line[1400];
        if (!w->failed && marker(l, w, RUNDIR_FAILED, text, sizeof text)) {
            learn_identity(l, w);
            w->failed = true;
            snprintf(line, sizeof line, "%s failed: %s", w->who,
                     text[0] ? text
                             : "no reason could be written (is the run folder's disk full?); "
                               "see its log in RUN_DIR/log/");
            say(out, w, line);
            count(news, w, true);
        }
        if (w->state != WATCHED) {
            continue;
        }
        if (marker(l, w, RUNDIR_DIED, text, sizeof text)) {
            w->state = LOST;
            say(out, w, text);
            count(news, w, false);
        } else if (marker(l, w, RUNDIR_DONE, text, sizeof text)) {
            w->state = FINISHED;
        } else if (heartbeat_lost(l, w, now, text, sizeof text)) {
            w->state = LOST;
            snprintf(line, sizeof line, "%s %s", w->who, text);
            say(out, w, line);
            count(news, w, false);
        }
    }
    l->totals.essential_lost += news->essential_lost;
    l->totals.essential_failed += news->essential_failed;
    l->totals.actors_lost += news->actors_lost;
    l->totals.actors_failed += news->actors_failed;
}
