#include "cluster/watcher.h"

#include <stdint.h>
#include <sys/stat.h>

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
    int learners = rundir_count_markers(w->run_dir, "learner-", RUNDIR_DONE);
    return learners >= w->drain_learners &&
           (*actors_done >= w->drain_actors ||
            clock_since_s(*last_actor) > WATCHER_DRAIN_QUIET_SECS);
}

/* Turns the STOP file (and, with a monitor, the budget) into the stop flag. */
static void *watch(void *arg)
{
    watcher *w = arg;
    char path[FILEIO_PATH_MAX];
    rundir_stop_path(path, sizeof path, w->run_dir);
    uint64_t next_tick = 0, stop_seen = 0, last_actor = 0;
    int actors_done = 0;
    while (!*w->stop) {
        struct stat st;
        if (!stop_seen && stat(path, &st) == 0) {
            stop_seen = last_actor = clock_now_ns();
            w->draining = 1;
        }
        bool done = stop_seen && (!w->drain || drained(w, &actors_done, &last_actor));
        if (done || (stop_seen && clock_since_s(stop_seen) > WATCHER_DRAIN_SECS)) {
            *w->stop = 1;
            break;
        }
        if (w->mon && clock_now_ns() >= next_tick) {
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
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}
