/* actor/record.c with an outside policy (what `shoal play` plugs in): every step asks it, a
 * stop drops the unfinished episode whole, and batches go to the file only at episode ends. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/record.h"
#include "cluster/commands.h"
#include "env/env.h"
#include "replay/client.h"

/* Chain (length 10, 18 steps an episode, actions left 0 / right 1): the policy plays action
 * (step % 3 == 0) and stops at stop_episode's stop_step (never when stop_episode < 0). */
typedef struct script {
    int stop_episode;
    uint64_t stop_step;
    size_t asked, overs;
    uint32_t played[256];
    size_t n_played;
    double last_return;
} script;

static int scripted(void *arg, const actor_record_view *v, uint32_t *action, shoal_err *err)
{
    (void)err;
    script *s = arg;
    s->asked++;
    cr_assert_not_null(v->e);
    cr_assert_not_null(v->obs);
    if (v->over) {
        s->overs++;
        s->last_return = v->ret;
        cr_assert_eq(v->steps, 18, "chain episodes last 18 steps");
        return SHOAL_OK;
    }
    if ((int)v->episode == s->stop_episode && v->steps == s->stop_step) {
        return SHOAL_EINTERRUPTED;
    }
    *action = v->steps % 3 == 0 ? 1u : 0u;
    if (s->n_played < 256) {
        s->played[s->n_played++] = *action;
    }
    return SHOAL_OK;
}

typedef struct seen {
    uint32_t action[256];
    size_t n, records, episodes;
} seen;

static int see(void *ctx, const replay_batch *b, shoal_err *err)
{
    (void)err;
    seen *x = ctx;
    x->records++;
    x->episodes += b->episodes.count;
    cr_assert_leq(b->t.count, 4, "records of at most actor.batch transitions");
    for (size_t i = 0; i < b->t.count && x->n < 256; i++) {
        x->action[x->n++] = b->t.action[i];
    }
    return SHOAL_OK;
}

static void record(script *s, const char *path, uint64_t episodes, actor_record_summary *sum,
                   int expect)
{
    shoal_err err = {0};
    const char *sets[] = {"actor.batch=4", "actor.n_step=3", "run.seed=2"};
    config *cfg = shoal_config_load(NULL, sets, 3, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    actor_record_config rc;
    cr_assert_eq(actor_record_config_from(cfg, "chain", NULL, episodes, path, &rc, &err),
                 SHOAL_OK, "%s", err.msg);
    config_free(cfg);
    rc.policy = scripted;
    rc.policy_arg = s;
    cr_assert_eq(actor_record_run(&rc, sum, &err), expect, "%s", err.msg);
}

Test(actor_record, a_stop_mid_episode_keeps_the_finished_episodes_only)
{
    char path[] = "/tmp/shoal-record-XXXXXX";
    close(mkstemp(path));
    script s = {.stop_episode = 2, .stop_step = 7};
    actor_record_summary sum;
    record(&s, path, 0, &sum, SHOAL_OK);
    cr_assert(sum.stopped);
    cr_assert_eq(sum.episodes, 2);
    cr_assert_eq(sum.transitions, 36);
    cr_assert_eq(sum.env_steps, 36);
    cr_assert_eq(sum.dropped_steps, 7);
    cr_assert_eq(s.overs, 2, "the policy saw each episode's end");
    seen x = {0};
    shoal_err err = {0};
    cr_assert_eq(replay_demo_read(path, see, &x, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(x.n, 36);
    cr_assert_eq(x.episodes, 2);
    cr_assert_eq(x.records, 9, "36 transitions in records of 4");
    for (size_t i = 0; i < 36; i++) {
        cr_assert_eq(x.action[i], s.played[i], "step %zu", i);
    }
    unlink(path);
}

Test(actor_record, with_a_count_the_policy_plays_that_many_episodes)
{
    char path[] = "/tmp/shoal-record-XXXXXX";
    close(mkstemp(path));
    script s = {.stop_episode = -1};
    actor_record_summary sum;
    record(&s, path, 3, &sum, SHOAL_OK);
    cr_assert(!sum.stopped);
    cr_assert_eq(sum.episodes, 3);
    cr_assert_eq(sum.dropped_steps, 0);
    cr_assert_eq(s.asked, 3 * 18 + 3);
    replay_demo_summary d;
    shoal_err err = {0};
    cr_assert_eq(replay_demo_check(path, &d, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(d.transitions, 54);
    unlink(path);
}

Test(actor_record, a_stop_before_any_episode_ended_writes_nothing)
{
    const char *path = "/tmp/shoal-record-none.demo";
    unlink(path);
    script s = {.stop_episode = 0, .stop_step = 5};
    actor_record_summary sum;
    record(&s, path, 0, &sum, SHOAL_ESTATE);
    cr_assert_eq(access(path, F_OK), -1, "no file");
}
