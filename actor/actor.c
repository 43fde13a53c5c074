#include "actor/actor.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actor/buffer.h"
#include "actor/label.h"
#include "actor/nstep.h"
#include "common/clock.h"
#include "common/endpoints.h"
#include "common/log.h"
#include "common/rng.h"
#include "env/env_config.h"
#include "env/plugin.h"
#include "env/registry.h"
#include "env/vec.h"
#include "learner/params.h"
#include "nn/loss.h"
#include "nn/nn_config.h"
#include "replay/client.h"
#include "tb/writer.h"

const config_key actor_config_keys[] = {
    {"actor", "envs", CONFIG_INT, "16", 1, 4096, NULL,
     "environments each actor steps together (one batched forward pass for all)"},
    {"actor", "batch", CONFIG_INT, "64", 1, 65536, NULL,
     "transitions per InsertBatch sent to replay (Ape-X: about 50)"},
    {"actor", "n_step", CONFIG_INT, "3", 1, ACTOR_MAX_NSTEP, NULL,
     "n of the n-step returns"},
    {"actor", "gamma", CONFIG_FLOAT, "0.99", 0, 1, NULL, "discount γ"},
    {"actor", "param_refresh_steps", CONFIG_INT, "400", 1, 1e15, NULL,
     "env steps (over all of an actor's envs) between looks for newer parameters"},
    {"actor", "params_timeout_s", CONFIG_FLOAT, "60", 0.1, 1e6, NULL,
     "seconds an actor waits for the learner's first parameters before giving up"},
    {"actor", "insert_timeout_ms", CONFIG_INT, "10000", 10, 3600000, NULL,
     "one wait for a replay credit; the actor retries until stopped"},
    {"actor", "max_env_steps", CONFIG_INT, "0", 0, 1e15, NULL,
     "stop an actor after this many env steps (0: run until stopped)"},
    {"actor", "episode_log", CONFIG_STRING, "", 0, 0, NULL,
     "append one CSV row per finished episode to this file; '%d' becomes the actor index; "
     "under shoal train a relative path is inside the run folder (empty: off)"},
    {"actor", "label", CONFIG_STRING, "", 0, 0, NULL,
     "DAgger: label every state an actor visits with this expert's action and send the labels "
     "to the shards' demo store (needs replay.demo_capacity): 'expert' (the game's scripted "
     "expert) or 'checkpoint:PATH' (a teacher network's greedy action); empty: off"},
    {"actor", "dagger_beta", CONFIG_FLOAT, "1", 0, 1, NULL,
     "DAgger β_0: the chance that the expert, not the actor, chooses a step's action in "
     "iteration 0 (drawn per step)"},
    {"actor", "dagger_decay", CONFIG_FLOAT, "0.5", 0, 1, NULL,
     "DAgger: β_i = dagger_beta · dagger_decay^i in iteration i (0: the expert drives "
     "iteration 0 only)"},
    {"actor", "dagger_period", CONFIG_INT, "1000", 1, 1e15, NULL,
     "DAgger: learner updates per iteration; iteration i = params version / dagger_period"},
    CONFIG_KEY_END,
};

static int split_endpoints(const char *list, actor_config *out, shoal_err *err)
{
    return endpoints_split(list, &out->replay[0][0], ACTOR_MAX_SHARDS, ACTOR_ENDPOINT_MAX,
                           &out->n_replay, err);
}

static int dagger_config_from(const config *cfg, actor_config *out, shoal_err *err)
{
    const char *label = config_str(cfg, "actor", "label");
    out->dagger = label[0] != '\0';
    out->dagger_beta = config_float(cfg, "actor", "dagger_beta");
    out->dagger_decay = config_float(cfg, "actor", "dagger_decay");
    out->dagger_period = (uint64_t)config_int(cfg, "actor", "dagger_period");
    if (!out->dagger) {
        return SHOAL_OK;
    }
    int rc = actor_label_parse("actor.label", label, out->label_checkpoint,
                               sizeof out->label_checkpoint, err);
    if (rc == SHOAL_OK && config_int(cfg, "replay", "demo_capacity") == 0) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "actor.label = %s sends every visited state, "
                           "labelled, to the shards' demo store, but replay.demo_capacity is 0: "
                           "set it to the labels a shard should hold (about the run's env steps "
                           "over the shards; the aggregate is never evicted)", label);
    }
    return rc;
}

int actor_config_from(const config *cfg, uint32_t index, uint32_t n_actors, const char *replay,
                      const char *params, actor_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    if (n_actors == 0 || index >= n_actors) {
        return shoal_err_set(err, SHOAL_EINVAL, "actor index %u of %u actors; expected an index "
                             "below the count (--index I --of N)", index, n_actors);
    }
    const char *name = config_str(cfg, "env", "name");
    const char *plugins = config_str(cfg, "env", "plugins");
    if (strlen(name) >= sizeof out->env_name || strlen(plugins) >= sizeof out->plugins ||
        strlen(params) >= sizeof out->params) {
        return shoal_err_set(err, SHOAL_EINVAL, "env.name, env.plugins or the params endpoint "
                             "is too long");
    }
    strcpy(out->env_name, name);
    strcpy(out->plugins, plugins);
    strcpy(out->params, params);
    int rc = env_options_from_config(&out->env, cfg, err);
    if (rc == SHOAL_OK) {
        rc = split_endpoints(replay, out, err);
    }
    if (rc == SHOAL_OK) {
        rc = actor_explore_config_from(cfg, &out->explore, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->n_envs = (size_t)config_int(cfg, "actor", "envs");
    out->batch = (size_t)config_int(cfg, "actor", "batch");
    out->n_step = (size_t)config_int(cfg, "actor", "n_step");
    out->gamma = (float)config_float(cfg, "actor", "gamma");
    out->target_transform = strcmp(config_str(cfg, "learner", "target_transform"), "apex") == 0;
    out->transform_eps = (float)config_float(cfg, "learner", "transform_eps");
    out->param_refresh_steps = (uint64_t)config_int(cfg, "actor", "param_refresh_steps");
    out->params_timeout_s = config_float(cfg, "actor", "params_timeout_s");
    out->insert_timeout_ms = (int)config_int(cfg, "actor", "insert_timeout_ms");
    out->max_env_steps = (uint64_t)config_int(cfg, "actor", "max_env_steps");
    rc = file_path_with_index(out->episode_log, sizeof out->episode_log,
                              config_str(cfg, "actor", "episode_log"), index, "actor.episode_log",
                              err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    rc = dagger_config_from(cfg, out, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->index = index;
    out->n_actors = n_actors;
    out->seed = (uint64_t)config_int(cfg, "run", "seed");
    rc = obs_facts_from_config(cfg, &out->facts, err);
    if (rc == SHOAL_OK) {
        obs_shape s = out->facts.obs.shape;
        rc = nn_qnet_config_from(cfg, s.h, s.w, s.c, out->facts.n_actions, out->n_envs, out->seed,
                                 &out->net, err);
    }
    return rc;
}

/* What a transition's priority still waits for (actor_buffer.pending). */
#define WAIT_NONE (-1)
/* 0..E-1: the next forward pass of env i; E..2E-1: the forward pass of env i's final obs. */

struct actor {
    actor_config cfg;
    env_registry *reg;
    env_vec *vec;
    nn_qnet *net;
    actor_explore *explore;
    actor_nstep *nstep;
    actor_buffer *buf;
    replay_client *replay;
    void *zctx;
    learner_params_sub *sub;
    obs_spec spec;
    size_t obs_bytes, in_floats, qa; /* qa = K*A floats per observation */
    /* (E, ...) working arrays, allocated in actor_new */
    uint8_t *obs, *obs_next, *final_obs;
    float *x, *q, *xf, *qf;
    uint32_t *actions;
    float *reward, *bonus;
    uint8_t *terminal, *truncated;
    double *ep_return, *ep_intrinsic;
    uint64_t *ep_length;
    int32_t *final_row;
    float *dq, *y;   /* (K*A), (K) scratch for one priority */
    float *q_boot;   /* (K*A) h⁻¹ of Q(s', ·) for one priority (target_transform) */
    uint64_t since_refresh;
    FILE *episode_log; /* NULL: off */
    actor_stats st;
    tb_writer *tb;     /* NULL: off */
    double tb_next_s, tb_t0_s, tb_return_sum, tb_intrinsic_sum;
    uint64_t tb_steps0, tb_episodes;
    /* DAgger (NULL labeller: off) */
    actor_labeller *labeller;
    actor_buffer *labels;     /* label rows waiting for a batch (no heads, no episodes) */
    env **envs;               /* (E) the vector's envs, for the scripted expert */
    uint32_t *label;          /* (E) the expert's action for each current state */
    rng dagger_rng;           /* who drives each step */
    uint64_t beta_version;    /* params version beta was computed for */
    uint64_t label_ns, expert_steps; /* since the previous label batch */
};

static int check_config(const actor_config *c, shoal_err *err)
{
    if (c->n_envs == 0 || c->batch == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "actor.envs = %zu, actor.batch = %zu; both must "
                             "be at least 1", c->n_envs, c->batch);
    }
    if (c->net.max_batch < c->n_envs) {
        return shoal_err_set(err, SHOAL_EINVAL, "actor: network max batch %zu is below "
                             "actor.envs = %zu", c->net.max_batch, c->n_envs);
    }
    if (c->n_replay == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "actor: no replay endpoint");
    }
    return SHOAL_OK;
}

static int alloc_arrays(actor *a)
{
    size_t e = a->cfg.n_envs;
    a->obs = malloc(e * a->obs_bytes);
    a->obs_next = malloc(e * a->obs_bytes);
    a->final_obs = malloc(e * a->obs_bytes);
    a->x = malloc(e * a->in_floats * sizeof *a->x);
    a->xf = malloc(e * a->in_floats * sizeof *a->xf);
    a->q = malloc(e * a->qa * sizeof *a->q);
    a->qf = malloc(e * a->qa * sizeof *a->qf);
    a->actions = calloc(e, sizeof *a->actions);
    a->reward = calloc(e, sizeof *a->reward);
    a->bonus = calloc(e, sizeof *a->bonus);
    a->terminal = calloc(e, 1);
    a->truncated = calloc(e, 1);
    a->ep_return = calloc(e, sizeof *a->ep_return);
    a->ep_intrinsic = calloc(e, sizeof *a->ep_intrinsic);
    a->ep_length = calloc(e, sizeof *a->ep_length);
    a->final_row = calloc(e, sizeof *a->final_row);
    a->dq = malloc(a->qa * sizeof *a->dq);
    a->y = malloc(a->cfg.net.n_heads * sizeof *a->y);
    a->q_boot = malloc(a->qa * sizeof *a->q_boot);
    return a->obs && a->obs_next && a->final_obs && a->x && a->xf && a->q && a->qf &&
           a->actions && a->reward && a->bonus && a->terminal && a->truncated && a->ep_return &&
           a->ep_intrinsic && a->ep_length && a->final_row && a->dq && a->y &&
           a->q_boot;
}

static int connect_sockets(actor *a, shoal_err *err)
{
    const char *eps[ACTOR_MAX_SHARDS];
    for (size_t i = 0; i < a->cfg.n_replay; i++) {
        eps[i] = a->cfg.replay[i];
    }
    replay_client_options o = {.timeout_ms = a->cfg.insert_timeout_ms,
                               .max_message_bytes = 1 << 20, .index = a->cfg.index,
                               .seed = a->cfg.seed, .curve = a->cfg.curve};
    a->replay = replay_client_new(eps, a->cfg.n_replay, &o, err);
    if (!a->replay) {
        return err->code;
    }
    if (a->cfg.params[0]) {
        a->zctx = zmq_ctx_new();
        if (!a->zctx) {
            return shoal_err_set(err, SHOAL_EIO, "actor: zmq_ctx_new: %s",
                                 zmq_strerror(zmq_errno()));
        }
        a->sub = learner_params_sub_new(a->zctx, a->cfg.params, &a->cfg.curve, a->net, err);
        if (!a->sub) {
            return err->code;
        }
        nn_rnd *rnd = actor_explore_rnd(a->explore);
        if (rnd && learner_params_sub_set_rnd(a->sub, rnd, err) != SHOAL_OK) {
            return err->code;
        }
    }
    return SHOAL_OK;
}

/* Appends to the episode log, with the header when the file is new or empty, so a resumed run
 * or a second actor session continues the same file. */
static int open_episode_log(actor *a, shoal_err *err)
{
    if (!a->cfg.episode_log[0]) {
        return SHOAL_OK;
    }
    a->episode_log = fopen(a->cfg.episode_log, "a");
    if (!a->episode_log) {
        return shoal_err_set(err, SHOAL_EIO, "actor.episode_log: cannot open %s: %s",
                             a->cfg.episode_log, strerror(errno));
    }
    /* Line-buffered: readers follow the log while the run goes on (deep_sea_bsuite.sh stops a
     * run once its episodes decide it); an episode is rare next to the steps. */
    setvbuf(a->episode_log, NULL, _IOLBF, 0);
    if (ftell(a->episode_log) == 0) {
        fputs("env_steps,return,length,head,intrinsic_return,params_version\n", a->episode_log);
    }
    return SHOAL_OK;
}

static int open_tb(actor *a, shoal_err *err)
{
    if (!a->cfg.tb_dir[0]) {
        return SHOAL_OK;
    }
    char name[32];
    snprintf(name, sizeof name, "actor-%u", a->cfg.index);
    a->tb = tb_writer_new(a->cfg.tb_dir, name, err);
    a->tb_t0_s = clock_now_s();
    a->tb_next_s = a->tb_t0_s + a->cfg.tb_secs;
    return a->tb ? SHOAL_OK : (err ? err->code : SHOAL_EIO);
}

/* The period's record (see actor_config.tb_dir). TensorBoard is a view: a failure stops the
 * events with a warning, never the actor. */
static void write_tb(actor *a, double now)
{
    double dt = now - a->tb_t0_s;
    double per = a->tb_episodes ? 1.0 / (double)a->tb_episodes : 0.0;
    tb_scalar s[6] = {
        {"actor/frames_per_s", dt > 0 ? (double)(a->st.env_steps - a->tb_steps0) / dt : 0.0},
        {"actor/episodes", (double)a->st.episodes},
        {"actor/env_steps", (double)a->st.env_steps},
        {"actor/intrinsic_std", actor_explore_intrinsic_std(a->explore)},
        {"actor/return_mean", a->tb_return_sum * per},
        {"actor/intrinsic_return_mean", a->tb_intrinsic_sum * per},
    };
    shoal_err e = {0};
    int rc = tb_writer_scalars(a->tb, (int64_t)a->st.params_version, s,
                               a->tb_episodes ? 6 : 4, &e);
    if (rc == SHOAL_OK) {
        rc = tb_writer_flush(a->tb, &e);
    }
    a->tb_t0_s = now;
    a->tb_next_s = now + a->cfg.tb_secs;
    a->tb_steps0 = a->st.env_steps;
    a->tb_return_sum = 0.0;
    a->tb_intrinsic_sum = 0.0;
    a->tb_episodes = 0;
    if (rc != SHOAL_OK) {
        log_warn("TensorBoard events stop: %s", e.msg);
        tb_writer_free(a->tb);
        a->tb = NULL;
    }
}

static void log_episode(actor *a, const actor_episode *ep)
{
    a->tb_return_sum += ep->ret;
    a->tb_intrinsic_sum += ep->intrinsic_ret;
    a->tb_episodes++;
    if (a->episode_log) {
        fprintf(a->episode_log, "%llu,%.9g,%u,%u,%.9g,%llu\n",
                (unsigned long long)a->st.env_steps, ep->ret, ep->length, ep->head,
                ep->intrinsic_ret, (unsigned long long)a->st.params_version);
    }
}

static double dagger_beta(const actor_config *c, uint64_t version)
{
    return c->dagger_beta * pow(c->dagger_decay, (double)(version / c->dagger_period));
}

static int dagger_init(actor *a, shoal_err *err)
{
    const actor_config *c = &a->cfg;
    if (!c->dagger) {
        return SHOAL_OK;
    }
    /* Streams (seed, RNG_ROLE_ACTOR, index, 3): who drives each step; 4: the expert's own. */
    rng_init(&a->dagger_rng, c->seed, RNG_ROLE_ACTOR, c->index, 3);
    rng r;
    rng_init(&r, c->seed, RNG_ROLE_ACTOR, c->index, 4);
    actor_labeller_config lc = {.checkpoint = c->label_checkpoint, .env_name = c->env_name,
                                .env = env_vec_env(a->vec, 0), .max_batch = c->n_envs,
                                .expert_seed = rng_u64(&r)};
    a->labeller = actor_labeller_new(&lc, err);
    if (!a->labeller) {
        return shoal_err_prefix(err, "actor.label");
    }
    a->labels = actor_buffer_new(c->batch + c->n_envs, &a->spec, 0, 0, err);
    if (!a->labels) {
        return err->code;
    }
    a->envs = malloc(c->n_envs * sizeof *a->envs);
    a->label = malloc(c->n_envs * sizeof *a->label);
    if (!a->envs || !a->label) {
        return shoal_err_set(err, SHOAL_ENOMEM, "actor: out of memory for DAgger's labels");
    }
    for (size_t i = 0; i < c->n_envs; i++) {
        a->envs[i] = env_vec_env(a->vec, i);
    }
    a->st.beta = dagger_beta(c, 0);
    log_info("actor %u: DAgger with %s, β_0 = %g, decay %g every %llu updates", c->index,
             c->label_checkpoint[0] ? c->label_checkpoint : "the scripted expert", a->st.beta,
             c->dagger_decay, (unsigned long long)c->dagger_period);
    return SHOAL_OK;
}

actor *actor_new(const actor_config *c, shoal_err *err)
{
    if (check_config(c, err) != SHOAL_OK) {
        return NULL;
    }
    actor *a = calloc(1, sizeof *a);
    if (!a) {
        shoal_err_set(err, SHOAL_ENOMEM, "actor: out of memory");
        return NULL;
    }
    a->cfg = *c;
    a->reg = env_registry_new(err);
    if (!a->reg || env_plugin_load_list(a->reg, c->plugins, err) != SHOAL_OK) {
        goto fail;
    }
    /* Env streams per actor: (seed, RNG_ROLE_ENV, index, 0) seeds the vector. */
    rng r;
    rng_init(&r, c->seed, RNG_ROLE_ENV, c->index, 0);
    a->vec = env_vec_new(a->reg, c->env_name, &c->env, c->n_envs, rng_u64(&r), err);
    if (!a->vec || !(a->net = nn_qnet_new(&c->net, err))) {
        goto fail;
    }
    env *e0 = env_vec_env(a->vec, 0);
    obs_facts got = env_facts(e0);
    if (obs_facts_check(&c->facts, &got, c->env_name, err) != SHOAL_OK) {
        goto fail;
    }
    a->spec = c->facts.obs;
    a->obs_bytes = a->spec.bytes;
    a->in_floats = nn_qnet_in_floats(a->net);
    a->qa = c->net.n_heads * c->net.n_actions;
    actor_explore_config xc = c->explore;
    xc.n_envs = c->n_envs;
    xc.n_heads = c->net.n_heads;
    xc.n_actions = c->net.n_actions;
    xc.obs_floats = a->in_floats;
    xc.actor_index = c->index;
    xc.n_actors = c->n_actors;
    xc.seed = c->seed;
    xc.net = c->net;
    xc.gamma = c->gamma;
    /* Codes pile up one per env step between batches: a batch's worth plus what n-step holds
     * back, twice for slack; past it visits are still counted here, only not shared. */
    xc.visit_cap = 2 * (c->batch + c->n_envs * (c->n_step + 1));
    a->explore = actor_explore_new(&xc, err);
    if (!a->explore) {
        goto fail;
    }
    a->nstep = actor_nstep_new(c->n_envs, c->n_step, c->gamma, a->obs_bytes, a->qa, err);
    if (!a->nstep) {
        goto fail;
    }
    /* A step emits at most n transitions per env; B more may be waiting to fill a batch. */
    size_t cap = c->batch + c->n_envs * c->n_step;
    uint32_t heads = c->net.n_heads > 1 ? (uint32_t)c->net.n_heads : 0;
    a->buf = actor_buffer_new(cap, &a->spec, heads, a->qa, err);
    if (!a->buf) {
        goto fail;
    }
    if (!alloc_arrays(a)) {
        shoal_err_set(err, SHOAL_ENOMEM, "actor: out of memory for %zu envs", c->n_envs);
        goto fail;
    }
    if (dagger_init(a, err) != SHOAL_OK) {
        goto fail;
    }
    if (connect_sockets(a, err) != SHOAL_OK || open_episode_log(a, err) != SHOAL_OK ||
        open_tb(a, err) != SHOAL_OK) {
        goto fail;
    }
    return a;
fail:
    actor_free(a);
    return NULL;
}

void actor_free(actor *a)
{
    if (!a) {
        return;
    }
    if (a->episode_log) {
        fclose(a->episode_log);
    }
    tb_writer_free(a->tb);
    actor_labeller_free(a->labeller);
    actor_buffer_free(a->labels);
    free(a->envs);
    free(a->label);
    learner_params_sub_free(a->sub);
    if (a->zctx) {
        zmq_ctx_term(a->zctx);
    }
    replay_client_free(a->replay);
    actor_buffer_free(a->buf);
    actor_nstep_free(a->nstep);
    actor_explore_free(a->explore);
    nn_qnet_free(a->net);
    env_vec_free(a->vec);
    env_registry_free(a->reg);
    free(a->obs);
    free(a->obs_next);
    free(a->final_obs);
    free(a->x);
    free(a->xf);
    free(a->q);
    free(a->qf);
    free(a->actions);
    free(a->reward);
    free(a->bonus);
    free(a->terminal);
    free(a->truncated);
    free(a->ep_return);
    free(a->ep_intrinsic);
    free(a->ep_length);
    free(a->final_row);
    free(a->dq);
    free(a->y);
    curve_keys_wipe(&a->cfg.curve);
    free(a->q_boot);
    free(a);
}

actor_stats actor_stats_get(const actor *a)
{
    actor_stats s = a->st;
    s.held = actor_nstep_pending(a->nstep);
    s.acked = a->replay ? replay_client_acked(a->replay) : 0;
    return s;
}

const nn_qnet *actor_net(const actor *a)
{
    return a->net;
}

const nn_rnd *actor_rnd(const actor *a)
{
    return actor_explore_rnd(a->explore);
}

static uint64_t lap(uint64_t *t)
{
    uint64_t now = clock_now_ns(), d = now - *t;
    *t = now;
    return d;
}

static int wait_first_params(actor *a, volatile sig_atomic_t *stop, shoal_err *err)
{
    uint64_t t0 = clock_now_ns();
    for (;;) {
        uint64_t version = 0;
        int rc = learner_params_sub_poll(a->sub, 100, &version, NULL, err);
        if (rc == SHOAL_OK) {
            a->st.params_version = version;
            log_info("actor %u: acting with parameters version %llu", a->cfg.index,
                     (unsigned long long)version);
            return SHOAL_OK;
        }
        if (*stop) {
            return shoal_err_set(err, SHOAL_EINTERRUPTED, "actor %u: stopped while waiting for "
                                 "the first parameters from %s", a->cfg.index, a->cfg.params);
        }
        if (rc == SHOAL_EARCH) {
            return shoal_err_prefix(err, "actor %u: %s sends another network (check that "
                                    "[network] and [env] match the learner's)", a->cfg.index,
                                    a->cfg.params);
        }
        if (rc != SHOAL_EAGAIN && rc != SHOAL_EINTERRUPTED) {
            return shoal_err_prefix(err, "actor %u: parameters from %s", a->cfg.index,
                                    a->cfg.params);
        }
        if (clock_since_s(t0) > a->cfg.params_timeout_s) {
            return shoal_err_set(err, SHOAL_ETIMEOUT, "actor %u: no parameters from %s within "
                                 "%.1f s; is the learner running and publishing there? a "
                                 "learner with another network (arch %s) is not heard either: "
                                 "check [network] and [env] match (actor.params_timeout_s "
                                 "sets the wait)", a->cfg.index, a->cfg.params,
                                 a->cfg.params_timeout_s, nn_qnet_arch(a->net));
        }
    }
}

/* Takes newer parameters when there are any (never waits). A bad message is logged and
 * skipped: the actor keeps acting with what it has. */
static void refresh_params(actor *a)
{
    shoal_err e = {0};
    uint64_t version;
    int rc = learner_params_sub_poll(a->sub, 0, &version, NULL, &e);
    if (rc == SHOAL_OK) {
        a->st.params_version = version;
        a->st.params_updates++;
    } else if (rc != SHOAL_EAGAIN && rc != SHOAL_EINTERRUPTED) {
        log_warn("actor %u: ignoring parameters: %s", a->cfg.index, e.msg);
    }
}

/* Q(s, ·) of the observations obs (n of them): unpack, then one forward pass. */
static void forward(actor *a, const uint8_t *obs, size_t n, float *x, float *q)
{
    obs_unpack_f32(x, obs, &a->spec, n);
    nn_qnet_forward(a->net, x, n, q);
}

/* Priority of buffered transition j given Q(s', ·) (ignored when the discount is 0). */
static void set_priority(actor *a, size_t j, const float *q_next)
{
    actor_steps *s = &a->buf->steps;
    const float *q_s = s->aux + j * a->qa;
    nn_loss_dims d = {.batch = 1, .n_heads = a->cfg.net.n_heads,
                      .n_actions = a->cfg.net.n_actions};
    if (s->discount[j] == 0.0f) {
        q_next = q_s;
    }
    if (a->cfg.target_transform) {
        /* h⁻¹ is increasing: the argmax over Q(s', ·) is unchanged by it */
        nn_value_h_inv_n(a->q_boot, q_next, a->qa, a->cfg.transform_eps);
        q_next = a->q_boot;
    }
    nn_loss_targets(a->y, q_next, q_next, &s->reward[j], &s->discount[j], &d, 1);
    if (a->cfg.target_transform) {
        nn_value_h_n(a->y, a->y, d.n_heads, a->cfg.transform_eps);
    }
    nn_td_batch b = {.dims = d, .actions = &s->action[j], .targets = a->y,
                     .mask_bits = d.n_heads > 1 ? &a->buf->mask[j] : NULL};
    nn_loss_td(a->dq, &a->buf->priority[j], q_s, &b);
    a->buf->pending[j] = WAIT_NONE;
}

/* Gives every transition waiting for code `lo + i` (i < n) its priority from q rows. */
static void resolve(actor *a, int32_t lo, const float *q, const int32_t *row)
{
    const actor_steps *s = &a->buf->steps;
    int32_t e = (int32_t)a->cfg.n_envs;
    for (size_t j = 0; j < s->count; j++) {
        int32_t p = a->buf->pending[j];
        if (p >= lo && p < lo + e) {
            size_t r = row ? (size_t)row[p - lo] : (size_t)(p - lo);
            set_priority(a, j, q + r * a->qa);
        }
    }
}

/* Inserts b, retrying while the shard holds its credits, until stopped. A signal that is not
 * the stop (EINTERRUPTED without *stop) is retried too, a bounded number of times in case the
 * poll fails for another reason. */
static int insert(actor *a, replay_batch *b, volatile sig_atomic_t *stop, shoal_err *err)
{
    b->actor_id = a->cfg.index;
    b->params_version = a->st.params_version;
    int interrupts = 0;
    for (;;) {
        int rc = replay_client_insert(a->replay, b, err);
        if (rc == SHOAL_ETIMEOUT && !*stop) {
            log_warn("actor %u: %s; retrying", a->cfg.index, err->msg);
            continue;
        }
        if (rc == SHOAL_EINTERRUPTED && !*stop && ++interrupts <= 100) {
            continue;
        }
        return rc;
    }
}

/* Shared counts: takes the shards' totals heard with acknowledgements into the local table. */
static void hear_counts(actor *a)
{
    const uint64_t *codes, *counts;
    size_t n = replay_client_visit_counts(a->replay, &codes, &counts);
    if (n) {
        actor_explore_heard(a->explore, codes, counts, n);
        replay_client_visit_counts_clear(a->replay);
    }
}

static int send_batch(actor *a, size_t n, volatile sig_atomic_t *stop, shoal_err *err)
{
    replay_batch b;
    actor_buffer_batch(a->buf, n, &b);
    b.n_visits = actor_explore_visits(a->explore, &b.visits);
    if (b.n_visits > REPLAY_MAX_VISITS) {
        b.n_visits = REPLAY_MAX_VISITS;
    }
    int rc = insert(a, &b, stop, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    actor_explore_visits_sent(a->explore);
    hear_counts(a);
    actor_buffer_drop(a->buf, n);
    a->st.sent += n;
    a->st.batches++;
    return SHOAL_OK;
}

/* One label batch of the first n labelled states, with the expert's time and steps since the
 * previous one. */
static int send_labels(actor *a, size_t n, volatile sig_atomic_t *stop, shoal_err *err)
{
    replay_batch b;
    actor_buffer_batch(a->labels, n, &b);
    b.demo = true;
    b.t.label = true;
    b.label_ns = a->label_ns;
    b.expert_steps = a->expert_steps;
    int rc = insert(a, &b, stop, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    actor_buffer_drop(a->labels, n);
    a->label_ns = 0;
    a->expert_steps = 0;
    a->st.labels_sent += n;
    return SHOAL_OK;
}

/* Sends full batches of B (every buffered transition has its priority at this point), and
 * full label batches. */
static int send_full(actor *a, volatile sig_atomic_t *stop, shoal_err *err)
{
    while (a->buf->steps.count >= a->cfg.batch) {
        int rc = send_batch(a, a->cfg.batch, stop, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    while (a->labels && a->labels->steps.count >= a->cfg.batch) {
        int rc = send_labels(a, a->cfg.batch, stop, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    return SHOAL_OK;
}

/* DAgger, before the step: the expert labels every env's current state, each label joins the
 * label buffer (see actor.h for what a label row holds), and with probability β the expert's
 * action replaces the one the actor chose. */
static void label_states(actor *a, uint64_t *t)
{
    size_t e = a->cfg.n_envs, ob = a->obs_bytes;
    actor_labeller_label(a->labeller, a->envs, a->obs, e, a->label);
    uint64_t ns = lap(t);
    a->st.ns_label += ns;
    a->label_ns += ns;
    if (a->st.params_version != a->beta_version) {
        a->beta_version = a->st.params_version;
        a->st.beta = dagger_beta(&a->cfg, a->beta_version);
    }
    actor_steps *s = &a->labels->steps;
    for (size_t i = 0; i < e; i++) {
        if (rng_uniform(&a->dagger_rng) < a->st.beta) {
            a->actions[i] = a->label[i];
            a->expert_steps++;
            a->st.expert_steps++;
        }
        size_t j = s->count++;
        memcpy(s->obs + j * ob, a->obs + i * ob, ob);
        memcpy(s->next_obs + j * ob, a->obs + i * ob, ob);
        s->action[j] = a->label[i];
        s->reward[j] = 0.0f;
        s->discount[j] = 0.0f;
        a->labels->priority[j] = 1.0f;
    }
    a->st.labels += e;
}

/* n-step bookkeeping for env i after a step: push the record, draw masks, set or schedule
 * priorities, close the episode. */
static void record_step(actor *a, size_t i, const uint8_t *s_t, const float *q_t)
{
    size_t e = a->cfg.n_envs;
    bool ended = a->terminal[i] || a->truncated[i];
    const uint8_t *next = (ended ? a->final_obs : a->obs_next) + i * a->obs_bytes;
    actor_steps *s = &a->buf->steps;
    size_t first = s->count;
    float r = a->reward[i] + a->bonus[i];
    size_t n = actor_nstep_push(a->nstep, i, s_t, a->actions[i], r, a->terminal[i],
                                a->truncated[i], next, q_t, s);
    for (size_t j = first; j < first + n; j++) {
        a->buf->mask[j] = actor_explore_mask(a->explore);
        if (s->discount[j] == 0.0f) {
            set_priority(a, j, NULL);
        } else {
            a->buf->pending[j] = (int32_t)(ended ? e + i : i);
        }
    }
    a->st.transitions += n;
    a->ep_intrinsic[i] += a->bonus[i];
    if (ended) {
        actor_episode ep = {.ret = (float)a->ep_return[i], .length = (uint32_t)a->ep_length[i],
                            .head = actor_explore_head(a->explore, i),
                            .intrinsic_ret = (float)a->ep_intrinsic[i]};
        actor_buffer_episode(a->buf, &ep);
        log_episode(a, &ep);
        a->st.episodes++;
        a->ep_intrinsic[i] = 0.0;
        actor_explore_episode_start(a->explore, i);
    }
}

/* Priorities of transitions that bootstrap from a time-limit cut's final observation: one
 * forward pass over those observations. */
static void resolve_truncated(actor *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->cfg.n_envs; i++) {
        if (a->truncated[i] && !a->terminal[i]) {
            a->final_row[i] = (int32_t)n;
            memmove(a->final_obs + n * a->obs_bytes, a->final_obs + i * a->obs_bytes,
                    a->obs_bytes);
            n++;
        }
    }
    if (n > 0) {
        forward(a, a->final_obs, n, a->xf, a->qf);
        resolve(a, (int32_t)a->cfg.n_envs, a->qf, a->final_row);
    }
}

/* One env step of all E envs, from the forward pass of a->obs in a->q onwards. */
static void step_all(actor *a, uint64_t *t)
{
    actor_explore_bonus(a->explore, a->x, a->cfg.n_envs, a->bonus);
    actor_explore_act(a->explore, a->q, a->cfg.n_envs, a->actions);
    a->st.ns_explore += lap(t);
    if (a->labeller) {
        label_states(a, t);
    }
    env_vec_out out = {.obs = a->obs_next, .reward = a->reward, .terminal = a->terminal,
                       .truncated = a->truncated, .episode_return = a->ep_return,
                       .episode_length = a->ep_length, .final_obs = a->final_obs};
    env_vec_step(a->vec, a->actions, &out);
    a->st.ns_env += lap(t);
    for (size_t i = 0; i < a->cfg.n_envs; i++) {
        record_step(a, i, a->obs + i * a->obs_bytes, a->q + i * a->qa);
    }
    resolve_truncated(a);
    uint8_t *tmp = a->obs;
    a->obs = a->obs_next;
    a->obs_next = tmp;
    a->st.env_steps += a->cfg.n_envs;
    a->buf->env_steps += a->cfg.n_envs;
    a->since_refresh += a->cfg.n_envs;
    a->st.ns_nstep += lap(t);
}

/* The forward pass of the current observations, which also settles the priorities that
 * waited for it. */
static void forward_current(actor *a, uint64_t *t)
{
    forward(a, a->obs, a->cfg.n_envs, a->x, a->q);
    a->st.ns_forward += lap(t);
    resolve(a, 0, a->q, NULL);
    a->st.ns_nstep += lap(t);
}

static int finish(actor *a, int rc, shoal_err *err)
{
    uint64_t t = clock_now_ns();
    forward_current(a, &t);
    shoal_err e2 = {0};
    volatile sig_atomic_t stopped = 1;
    int rc2 = SHOAL_OK;
    /* A further stop signal (under Slurm the rank gets one from Slurm and one through mpirun)
     * must not cut the flush short: an interrupted wait is retried, a few times. */
    int interrupts = 0;
    for (;;) {
        if (a->buf->steps.count > 0) {
            size_t n = a->buf->steps.count < a->cfg.batch ? a->buf->steps.count : a->cfg.batch;
            rc2 = send_batch(a, n, &stopped, &e2);
        } else if (a->labels && a->labels->steps.count > 0) {
            size_t n = a->labels->steps.count < a->cfg.batch ? a->labels->steps.count
                                                               : a->cfg.batch;
            rc2 = send_labels(a, n, &stopped, &e2);
        } else {
            rc2 = replay_client_flush(a->replay, &e2);
            if (rc2 == SHOAL_OK) {
                hear_counts(a);
                break;
            }
        }
        if (rc2 == SHOAL_EINTERRUPTED && ++interrupts <= 8) {
            continue;
        }
        if (rc2 != SHOAL_OK) {
            break;
        }
    }
    a->st.ns_send += lap(&t);
    if (rc == SHOAL_OK && rc2 != SHOAL_OK) {
        *err = e2;
        return rc2;
    }
    return rc;
}

int actor_run(actor *a, volatile sig_atomic_t *stop, shoal_err *err)
{
    if (a->sub) {
        int rc = wait_first_params(a, stop, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    env_vec_reset(a->vec, a->obs);
    for (size_t i = 0; i < a->cfg.n_envs; i++) {
        actor_explore_episode_start(a->explore, i);
    }
    int rc = SHOAL_OK;
    uint64_t t = clock_now_ns();
    while (!*stop && (a->cfg.max_env_steps == 0 || a->st.env_steps < a->cfg.max_env_steps)) {
        if (a->sub && a->since_refresh >= a->cfg.param_refresh_steps) {
            refresh_params(a);
            a->since_refresh = 0;
            a->st.ns_params += lap(&t);
        }
        forward_current(a, &t);
        rc = send_full(a, stop, err);
        a->st.ns_send += lap(&t);
        if (rc == SHOAL_EINTERRUPTED && *stop) {
            /* The stop signal landed inside an insert (under Slurm every process gets SIGTERM
             * at once): that is the stop, not a failure; finish sends what is buffered. */
            rc = SHOAL_OK;
            break;
        }
        if (rc != SHOAL_OK) {
            break;
        }
        step_all(a, &t);
        if (a->tb && clock_now_s() >= a->tb_next_s) {
            write_tb(a, clock_now_s());
        }
    }
    rc = finish(a, rc, err);
    if (a->tb) {
        write_tb(a, clock_now_s());
    }
    return rc;
}
