#include "cluster/watcher.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/rundir.h"
#include "common/clock.h"
#include "common/fileio.h"

/* Whether a draining shard may stop: the learners are done, and the actors are too or have
 * been quiet long enough. *actors_done and *last_actor track the actors. The evaluator reads
 * checkpoint files only; it is not waited for, so the shard's checkpoint overlaps its final
 * evaluations. */
static bool drained(const watcher *w, int *actors_done, uint64_t *last_actor)
{
    int now = rundir_count_markers(w->run_dir, "actor-", RUNDIR_DONE);
    if (now != *actors_done) {
        *actors_done = now;
        *last_actor = clock_now_ns();
    }
    /* A learner that died will never say it is done. */
    int learners = rundir_count_markers(w->run_dir, "learner-", RUNDIR_DONE) +
                   rundir_count_markers(w->run_dir, "learner-", RUNDIR_DIED);
    return learners >= w->drain_learners &&
           (*actors_done >= w->drain_actors ||
            clock_since_s(*last_actor) > WATCHER_DRAIN_QUIET_SECS);
}

/* Writes the heartbeat file ("HOST PID") into path (cap bytes); "" when there is none. */
static void heartbeat_start(const watcher *w, char *path, size_t cap)
{
    char host[256] = "?", text[300];
    path[0] = '\0';
    if (!w->role || !rundir_role_file(path, cap, w->run_dir, w->role, w->index, RUNDIR_ALIVE)) {
        path[0] = '\0';
        return;
    }
    gethostname(host, sizeof host - 1);
    int n = snprintf(text, sizeof text, "%s %d\n", host, (int)getpid());
    atomic_write_file(path, text, (size_t)n, NULL);
}

/* Turns the STOP file (and, with a monitor, the budget) into the stop flag, and beats. */
static void *watch(void *arg)
{
    watcher *w = arg;
    char path[FILEIO_PATH_MAX], alive[FILEIO_PATH_MAX];
    rundir_stop_path(path, sizeof path, w->run_dir);
    heartbeat_start(w, alive, sizeof alive);
    uint64_t next_tick = 0, next_beat = 0, stop_seen = 0, last_actor = 0;
    int actors_done = 0;
    /* The heartbeat goes on after the stop flag is set, until the role has returned: a rank
     * that takes its time to stop is still alive. */
    while (!w->quit) {
        uint64_t now = clock_now_ns();
        if (alive[0] && now >= next_beat) {
            utimensat(AT_FDCWD, alive, NULL, 0);
            next_beat = now + (uint64_t)(WATCHER_HEARTBEAT_SECS * 1e9);
            if (w->live) {
                liveness_news news;
                liveness_check(w->live, stderr, &news);
                if (news.essential_lost || news.essential_failed) {
                    rundir_request_stop(w->run_dir);
                }
            }
        }
        if (w->asked && *w->asked && !stop_seen && !*w->stop) {
            rundir_request_stop(w->run_dir); /* seen below: the shard drains as on STOP */
        }
        struct stat st;
        if (!*w->stop && !stop_seen && stat(path, &st) == 0) {
            stop_seen = last_actor = clock_now_ns();
        }
        if (stop_seen && !w->draining && clock_since_s(stop_seen) >= WATCHER_RELEASE_SECS) {
            w->draining = 1;
            last_actor = clock_now_ns(); /* the actors' quiet is counted from the release */
        }
        bool done = !*w->stop && stop_seen &&
                    (!w->drain || (w->draining && drained(w, &actors_done, &last_actor)) ||
                     clock_since_s(stop_seen) > WATCHER_DRAIN_SECS);
        if (done) {
            *w->stop = 1;
        }
        if (!*w->stop && w->mon && clock_now_ns() >= next_tick) {
            bool over = false;
            monitor_tick(w->mon, &over);
            next_tick = clock_now_ns() + (uint64_t)(w->period * 1e9);
            if (over) {
                rundir_request_stop(w->run_dir);
            }
        }
        clock_sleep_ms(200);
    }
    return NULL;
}

void watcher_start(watcher *w)
{
    w->started = pthread_create(&w->thread, NULL, watch, w) == 0;
}

void watcher_join(watcher *w)
{
    *w->stop = 1;
    w->quit = 1;
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}
