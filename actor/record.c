#include "actor/record.h"

#include <stdlib.h>
#include <string.h>

#include "actor/buffer.h"
#include "actor/explore.h"
#include "actor/label.h"
#include "actor/nstep.h"
#include "env/env_config.h"
#include "env/plugin.h"
#include "env/registry.h"
#include "replay/client.h"

int actor_record_config_from(const config *cfg, const char *env_name, const char *policy,
                             uint64_t episodes, const char *out_path, actor_record_config *out,
                             shoal_err *err)
{
    memset(out, 0, sizeof *out);
    const char *name = env_name ? env_name : config_str(cfg, "env", "name");
    if (policy) { /* NULL: an outside policy (actor_record_config.policy) plays */
        int rc = actor_label_parse("--policy", policy, out->checkpoint, sizeof out->checkpoint,
                                   err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    if (episodes == 0 && policy) {
        return shoal_err_set(err, SHOAL_EINVAL, "record at least one episode");
    }
    if (strlen(name) >= sizeof out->env_name || strlen(out_path) >= sizeof out->out ||
        strlen(config_str(cfg, "env", "plugins")) >= sizeof out->plugins) {
        return shoal_err_set(err, SHOAL_EINVAL, "env name, output path or plugin list too "
                             "long");
    }
    strcpy(out->env_name, name);
    strcpy(out->out, out_path);
    strcpy(out->plugins, config_str(cfg, "env", "plugins"));
    out->episodes = episodes;
    out->n_step = (size_t)config_int(cfg, "actor", "n_step");
    out->batch = (size_t)config_int(cfg, "actor", "batch");
    out->gamma = (float)config_float(cfg, "actor", "gamma");
    int64_t heads = config_int(cfg, "network", "heads");
    out->n_heads = heads > 1 ? (uint32_t)heads : 0;
    out->mask_p = config_float(cfg, "exploration", "mask_p");
    out->seed = (uint64_t)config_int(cfg, "run", "seed");
    return env_options_from_config(&out->env, cfg, err);
}

/* Everything one recording holds. */
typedef struct recorder {
    const actor_record_config *c;
    env_registry *reg;
    env *e;
    actor_labeller *expert; /* the scripted expert or the checkpoint's greedy action; NULL
                             * when an outside policy plays */
    actor_explore *masks;   /* bootstrap mask draws */
    actor_nstep *ns;
    actor_buffer *buf;
    replay_demo_writer *w;
    uint8_t *obs, *next;
    uint64_t episode_cap; /* steps an outside policy's episode may take */
} recorder;

static void recorder_free(recorder *r)
{
    replay_demo_writer_abort(r->w);
    actor_buffer_free(r->buf);
    actor_nstep_free(r->ns);
    actor_labeller_free(r->expert);
    actor_explore_free(r->masks);
    env_free(r->e);
    env_registry_free(r->reg);
    free(r->obs);
    free(r->next);
}

static int recorder_init(recorder *r, shoal_err *err)
{
    const actor_record_config *c = r->c;
    r->reg = env_registry_new(err);
    if (!r->reg || env_plugin_load_list(r->reg, c->plugins, err) != SHOAL_OK ||
        !(r->e = env_make(r->reg, c->env_name, &c->env, err))) {
        return err->code;
    }
    env_seed(r->e, c->seed);
    /* An outside policy needs no expert (a person plays games that have none). */
    actor_labeller_config lc = {.checkpoint = c->checkpoint, .env_name = c->env_name,
                                .env = r->e, .max_batch = 1, .expert_seed = c->seed};
    if (!c->policy && !(r->expert = actor_labeller_new(&lc, err))) {
        return err->code;
    }
    /* Masks have the run's head count, which need not be the checkpoint's. */
    actor_explore_config xc = {.strategy = ACTOR_STRATEGY_EPSILON, .epsilon = 0.0,
                               .mask_p = c->mask_p, .n_envs = 1,
                               .n_heads = c->n_heads > 1 ? c->n_heads : 1,
                               .n_actions = env_n_actions(r->e), .n_actors = 1,
                               .seed = c->seed};
    if (!(r->masks = actor_explore_new(&xc, err))) {
        return err->code;
    }
    obs_spec spec = env_obs_spec(r->e);
    size_t ob = env_obs_bytes(r->e);
    /* An outside policy's episode stays in the buffer until it ends (see record.h). */
    r->episode_cap = ACTOR_RECORD_MAX_EPISODE;
    if (c->env.max_episode_steps && c->env.max_episode_steps < r->episode_cap) {
        r->episode_cap = c->env.max_episode_steps;
    }
    size_t cap = c->policy ? r->episode_cap + c->batch + c->n_step : c->batch + c->n_step;
    if (obs_spec_finish(&spec, err) != SHOAL_OK ||
        !(r->ns = actor_nstep_new(1, c->n_step, c->gamma, ob, 0, err)) ||
        !(r->buf = actor_buffer_new(cap, &spec, c->n_heads, 0, err)) ||
        !(r->w = replay_demo_writer_open(c->out, err))) {
        return err->code;
    }
    r->obs = malloc(ob);
    r->next = malloc(ob);
    return r->obs && r->next ? SHOAL_OK : shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
}

static uint32_t choose(recorder *r)
{
    uint32_t a;
    actor_labeller_label(r->expert, &r->e, r->obs, 1, &a);
    return a;
}

static int write_batch(recorder *r, size_t n, actor_record_summary *s, shoal_err *err)
{
    replay_batch b;
    for (size_t j = 0; j < n; j++) {
        r->buf->priority[j] = 1.0f;
    }
    actor_buffer_batch(r->buf, n, &b);
    b.actor_id = REPLAY_DEMO_ACTOR;
    b.demo = true;
    int rc = replay_demo_writer_append(r->w, &b, err);
    if (rc == SHOAL_OK) {
        actor_buffer_drop(r->buf, n);
        s->records++;
    }
    return rc;
}

/* Asks the outside policy; EINVAL when it answers with an action the env does not have. */
static int ask(recorder *r, const actor_record_view *v, uint32_t *a, shoal_err *err)
{
    int rc = r->c->policy(r->c->policy_arg, v, a, err);
    if (rc == SHOAL_OK && !v->over && *a >= env_n_actions(r->e)) {
        return shoal_err_set(err, SHOAL_EINVAL, "policy chose action %u of %s's %u", *a,
                             r->c->env_name, env_n_actions(r->e));
    }
    return rc;
}

/* Writes full batches; with an outside policy only once the episode has ended, and then all
 * of it, so that a stop can drop an unfinished episode whole. */
static int flush(recorder *r, bool ended, actor_record_summary *s, shoal_err *err)
{
    actor_steps *steps = actor_buffer_steps(r->buf);
    if (r->c->policy && !ended) {
        return SHOAL_OK;
    }
    while (steps->count >= r->c->batch) {
        int rc = write_batch(r, r->c->batch, s, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    return SHOAL_OK;
}

/* One whole episode; transitions go to the file whenever a batch is full (with an outside
 * policy: when the episode has ended). */
static int play_episode(recorder *r, actor_record_summary *s, shoal_err *err)
{
    actor_steps *steps = actor_buffer_steps(r->buf);
    size_t first_of_episode = steps->count;
    env_reset(r->e, r->obs);
    actor_record_view v = {.e = r->e, .obs = r->obs, .episode = s->episodes};
    uint64_t ep_transitions = 0;
    for (;;) {
        uint32_t a = 0;
        int rc = r->c->policy ? ask(r, &v, &a, err) : SHOAL_OK;
        if (rc == SHOAL_EINTERRUPTED) {
            /* Nothing of this episode was written (flush waits for its end): forget it. */
            steps->count = first_of_episode;
            actor_nstep_clear(r->ns, 0);
            r->buf->env_steps -= v.steps;
            s->dropped_steps = v.steps;
            s->stopped = true;
            return rc;
        }
        if (rc != SHOAL_OK) {
            return rc;
        }
        if (!r->c->policy) {
            a = choose(r);
        }
        env_step_result res = env_step(r->e, a, r->next);
        v.ret += res.reward;
        v.last_reward = res.reward;
        v.steps++;
        if (r->c->policy && !res.terminal && v.steps >= r->episode_cap) {
            res.truncated = true;
        }
        size_t first = steps->count;
        size_t n = actor_nstep_push(r->ns, 0, r->obs, a, res.reward, res.terminal, res.truncated,
                                    r->next, NULL, steps);
        for (size_t j = first; j < first + n; j++) {
            r->buf->mask[j] = actor_explore_mask(r->masks);
        }
        ep_transitions += n;
        r->buf->env_steps++;
        bool ended = res.terminal || res.truncated;
        if (ended) {
            actor_episode ep = {.ret = (float)v.ret, .length = (uint32_t)v.steps};
            actor_buffer_episode(r->buf, &ep);
        }
        rc = flush(r, ended, s, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
        memcpy(r->obs, r->next, env_obs_bytes(r->e));
        if (ended) {
            break;
        }
    }
    s->transitions += ep_transitions;
    s->episodes++;
    s->env_steps += v.steps;
    s->mean_return += v.ret;
    if (r->c->policy) {
        v.over = true;
        uint32_t unused;
        int rc = ask(r, &v, &unused, err);
        if (rc == SHOAL_EINTERRUPTED) {
            s->stopped = true;
        }
        return rc;
    }
    return SHOAL_OK;
}

int actor_record_run(const actor_record_config *c, actor_record_summary *summary,
                     shoal_err *err)
{
    memset(summary, 0, sizeof *summary);
    recorder r = {.c = c};
    int rc = recorder_init(&r, err);
    for (uint64_t k = 0; rc == SHOAL_OK && (k < c->episodes || (c->policy && !c->episodes));
         k++) {
        rc = play_episode(&r, summary, err);
        if (rc == SHOAL_OK && c->progress) {
            c->progress(c->progress_arg, k + 1, c->episodes);
        }
    }
    if (rc == SHOAL_EINTERRUPTED && summary->stopped) {
        rc = summary->episodes ? SHOAL_OK
                               : shoal_err_set(err, SHOAL_ESTATE, "stopped before the first "
                                               "episode ended: nothing written to %s", c->out);
    }
    if (rc == SHOAL_OK && r.buf->steps.count > 0) {
        rc = write_batch(&r, r.buf->steps.count, summary, err);
    }
    if (rc == SHOAL_OK) {
        rc = replay_demo_writer_close(r.w, err);
        r.w = NULL;
    }
    if (summary->episodes) {
        summary->mean_return /= (double)summary->episodes;
    }
    recorder_free(&r);
    return rc;
}
