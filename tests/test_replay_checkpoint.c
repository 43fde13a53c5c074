#include <criterion/criterion.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/fileio.h"
#include "replay/checkpoint.h"
#include "file_checks.h"
#include "replay_fixtures.h"

#define ACTORS 4

/* A shard's checkpointed state without the server around it. */
typedef struct shard_state {
    replay_store *store;
    replay_limiter lim;
    uint64_t errors, env_steps;
    replay_actor_rec actors[ACTORS];
    replay_ckpt_state st;
} shard_state;

static void state_init(shard_state *x, size_t cap, size_t demo_cap)
{
    memset(x, 0, sizeof *x);
    replay_server_config c = fx_server_config(cap, demo_cap);
    shoal_err err = {0};
    x->store = replay_store_new(&c.store, &err);
    cr_assert_not_null(x->store, "%s", err.msg);
    replay_limiter_init(&x->lim, &c.limiter);
    x->st = (replay_ckpt_state){.shard = 0, .store = x->store, .lim = &x->lim,
                                .errors = &x->errors, .env_steps = &x->env_steps,
                                .actors = x->actors, .max_actors = ACTORS};
}

/* Inserts n agent transitions from first_id on (as actor 1 would), counting them everywhere a
 * shard does. */
static void insert(shard_state *x, uint32_t first_id, size_t n, bool demo)
{
    static fx_batch f;
    shoal_err err = {0};
    for (size_t k = 0; k < n; k += FX_MAXN) {
        size_t m = n - k < FX_MAXN ? n - k : FX_MAXN;
        fx_batch_fill(&f, 1, first_id + (uint32_t)k, m, 1.0f + (float)(k % 5), demo);
        cr_assert_eq(replay_store_insert(x->store, &f.t, demo, &err), SHOAL_OK, "%s", err.msg);
        if (!demo) {
            x->lim.inserted += m;
            x->env_steps += m;
            x->actors[1].seen = true;
            x->actors[1].transitions += m;
            x->actors[1].episodes++;
        }
    }
}

static void temp_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/shoal-rckpt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

Test(replay_checkpoint, a_child_writes_the_state_at_the_fork_while_the_parent_changes_it)
{
    char dir[64], at_fork[128], child[128];
    temp_dir(dir, sizeof dir);
    snprintf(at_fork, sizeof at_fork, "%s/at-fork.ckpt", dir);
    snprintf(child, sizeof child, "%s/child.ckpt", dir);
    shard_state x;
    state_init(&x, 20000, 64);
    insert(&x, 0, 30000, false); /* wraps the ring */
    insert(&x, 100000, 64, true);
    x.errors = 7;
    shoal_err err = {0};
    cr_assert_eq(replay_ckpt_write(at_fork, &x.st, NULL, &err), SHOAL_OK, "%s", err.msg);
    replay_store_counters before = replay_store_counters_get(x.store);

    replay_ckpt_job job = REPLAY_CKPT_JOB_INIT;
    cr_assert_eq(replay_ckpt_start(&job, child, &x.st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_gt(job.pid, 0);
    cr_assert_eq(replay_ckpt_start(&job, child, &x.st, &err), SHOAL_ESTATE,
                 "one job at a time");
    /* The serve loop goes on: inserts overwrite the ring, priorities and counters change. */
    insert(&x, 50000, 15000, false);
    x.errors++;
    x.actors[2].seen = true;
    replay_ckpt_done done;
    cr_assert_eq(replay_ckpt_poll(&job, true, &done, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(job.pid, 0, "the job is over");
    cr_assert_eq(replay_ckpt_poll(&job, false, NULL, &err), SHOAL_OK, "no job: nothing to wait");

    size_t n_fork, n_child;
    uint8_t *a = fx_slurp(at_fork, &n_fork), *b = fx_slurp(child, &n_child);
    cr_assert_eq(n_child, done.bytes);
    cr_assert_gt(done.write_s, 0);
    cr_assert_eq(n_child, n_fork);
    cr_assert_eq(memcmp(a, b, n_fork), 0, "the child's file is the state at the fork, byte for "
                                          "byte; nothing inserted after it");
    free(a);
    free(b);

    shard_state y;
    state_init(&y, 20000, 64);
    cr_assert_eq(replay_ckpt_read(child, &y.st, &err), SHOAL_OK, "%s", err.msg);
    replay_store_counters c = replay_store_counters_get(y.store);
    cr_assert_eq(c.inserted, before.inserted);
    cr_assert_eq(c.inserted, 30000);
    cr_assert_eq(replay_store_totals(y.store).demo_size, 64, "demonstrations are in it");
    cr_assert_eq(y.errors, 7);
    cr_assert_eq(y.lim.inserted, 30000);
    cr_assert_eq(y.actors[1].transitions, 30000);
    cr_assert(!y.actors[2].seen);
    replay_store_free(x.store);
    replay_store_free(y.store);
    unlink(at_fork);
    unlink(child);
    rmdir(dir);
}

Test(replay_checkpoint, a_child_that_cannot_write_sends_back_its_error)
{
    shard_state x;
    state_init(&x, 100, 0);
    insert(&x, 0, 50, false);
    replay_ckpt_job job = REPLAY_CKPT_JOB_INIT;
    shoal_err err = {0};
    const char *path = "/nonexistent-shoal-folder/replay-0.ckpt";
    cr_assert_eq(replay_ckpt_start(&job, path, &x.st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_ckpt_poll(&job, true, NULL, &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, path) != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "No such file or directory") != NULL, "%s", err.msg);
    cr_assert_eq(job.pid, 0);
    replay_store_free(x.store);
}

Test(replay_checkpoint, a_writer_killed_mid_write_is_reported_and_the_previous_file_stays)
{
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/replay-0.ckpt", dir);
    shard_state x;
    state_init(&x, 200000, 0);
    shoal_err err = {0};
    cr_assert_eq(replay_ckpt_write(path, &x.st, NULL, &err), SHOAL_OK, "%s", err.msg);
    size_t n_old;
    uint8_t *old = fx_slurp(path, &n_old);
    insert(&x, 0, 200000, false); /* a 25 MB file: the kill lands long before it is written */
    replay_ckpt_job job = REPLAY_CKPT_JOB_INIT;
    cr_assert_eq(replay_ckpt_start(&job, path, &x.st, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(kill(job.pid, SIGKILL), 0);
    cr_assert_eq(replay_ckpt_poll(&job, true, NULL, &err), SHOAL_EIO);
    cr_assert(strstr(err.msg, "killed by signal 9") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "previous checkpoint is kept") != NULL, "%s", err.msg);
    fx_assert_file_is(path, old, n_old, "the previous checkpoint is untouched");
    glob_t g;
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s/*", dir);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            unlink(g.gl_pathv[i]); /* the killed writer's temporary file */
        }
        globfree(&g);
    }
    rmdir(dir);
    replay_store_free(x.store);
}
