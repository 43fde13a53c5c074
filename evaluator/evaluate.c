#include "evaluator/evaluate.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/rng.h"
#include "env/env_config.h"
#include "env/expert.h"
#include "env/rand.h"
#include "env/plugin.h"
#include "env/registry.h"
#include "nn/loss.h"
#include "nn/paramfile.h"

const config_key evaluator_config_keys[] = {
    {"evaluator", "episodes", CONFIG_INT, "30", 1, EVALUATOR_MAX_EPISODES, NULL,
     "episodes per evaluation of a checkpoint (the acting policy: the head, or the vote)"},
    {"evaluator", "head_episodes", CONFIG_INT, "10", 0, EVALUATOR_MAX_EPISODES, NULL,
     "episodes of each head of a bootstrapped network acting alone (per-head returns); 0: none"},
    {"evaluator", "epsilon", CONFIG_FLOAT, "0.001", 0, 1, NULL,
     "probability of a uniformly random action during evaluation: 0.001 breaks greedy loops "
     "(Atari practice); the DeepSea and Chain configs use 0 (docs/guide.md, Which ε)"},
    {"evaluator", "seed_offset", CONFIG_INT, "0", 0, 4294967295.0, NULL,
     "evaluation seeds derive from run.seed + seed_offset (change it to draw other episodes)"},
    {"evaluator", "max_episode_steps", CONFIG_INT, "27000", 0, 1e15, NULL,
     "cut evaluation episodes after this many steps (0: only env.max_episode_steps)"},
    {"evaluator", "n_envs", CONFIG_INT, "16", 1, 4096, NULL,
     "episodes played at once, stepped with one batched forward pass"},
    {"evaluator", "poll_secs", CONFIG_FLOAT, "5", 0.01, 3600, NULL,
     "how often the watcher looks for new checkpoints in RUN_DIR/checkpoints"},
    {"evaluator", "catch_up", CONFIG_ENUM, "all", 0, 0, "all|newest",
     "when behind: all evaluates every checkpoint, newest first; newest skips older ones"},
    CONFIG_KEY_END,
};

/* An episode in flight: the env it plays in (NULL when the slot is idle), its ε stream and
 * the job it belongs to. */
typedef struct slot {
    env *e;
    rng r;
    size_t job;
    size_t policy; /* 0: vote or single head; k + 1: head k */
    double ret;
    env_rand expert_r; /* the expert's tie-breaks (agreement_steps only) */
    uint64_t t;        /* steps played in this episode */
} slot;

struct evaluator_player {
    evaluator_player_config cfg;
    env_registry *reg;
    obs_spec spec; /* of cfg.facts */
    size_t in_floats;
    uint32_t n_actions;
    nn_qnet *net; /* built from the last file's architecture; NULL before the first */
    slot *slots;  /* (n_envs) */
    uint8_t *obs; /* (n_envs, obs_bytes) */
    float *x;     /* (n_envs, H, W, C) */
    float *q;     /* (n_envs, NN_QNET_MAX_HEADS, n_actions) */
    /* discrete BCQ's behaviour model of an offline checkpoint (NULL before the first), its
     * logits (as q), and whether the current evaluation restricts actions with it */
    nn_qnet *behaviour;
    float *g;
    bool constrained;
    size_t *rows; /* batch row -> slot */
    double *returns;      /* (episodes) */
    double *head_returns; /* (head_cap) */
    size_t head_cap;
    uint64_t deadline_ns; /* 0: none */
    void (*progress)(void *arg, uint64_t done, uint64_t total);
    void *progress_arg;
    size_t n_finished; /* episodes of the evaluation in progress */
    uint64_t agree_visits[EVALUATOR_AGREEMENT_SPANS], agree_same[EVALUATOR_AGREEMENT_SPANS];
};

static uint64_t step_cap(uint64_t env_cap, uint64_t eval_cap)
{
    if (env_cap == 0 || eval_cap == 0) {
        return env_cap ? env_cap : eval_cap;
    }
    return env_cap < eval_cap ? env_cap : eval_cap;
}

int evaluator_player_config_from(const config *cfg, evaluator_player_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    const char *name = config_str(cfg, "env", "name");
    const char *plugins = config_str(cfg, "env", "plugins");
    if (strlen(name) >= sizeof out->env_name || strlen(plugins) >= sizeof out->plugins) {
        return shoal_err_set(err, SHOAL_EINVAL, "env.name or env.plugins is longer than %zu bytes",
                             strlen(name) >= sizeof out->env_name ? sizeof out->env_name - 1
                                                                    : sizeof out->plugins - 1);
    }
    strcpy(out->env_name, name);
    strcpy(out->plugins, plugins);
    if (env_options_from_config(&out->env, cfg, err) != SHOAL_OK ||
        obs_facts_from_config(cfg, &out->facts, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    out->env.max_episode_steps =
        step_cap(out->env.max_episode_steps,
                 (uint64_t)config_int(cfg, "evaluator", "max_episode_steps"));
    out->episodes = (size_t)config_int(cfg, "evaluator", "episodes");
    out->head_episodes = (size_t)config_int(cfg, "evaluator", "head_episodes");
    out->epsilon = config_float(cfg, "evaluator", "epsilon");
    out->seed = (uint64_t)config_int(cfg, "run", "seed") +
                (uint64_t)config_int(cfg, "evaluator", "seed_offset");
    out->n_envs = (size_t)config_int(cfg, "evaluator", "n_envs");
    out->bcq_threshold = (float)config_float(cfg, "learner", "bcq_threshold");
    return SHOAL_OK;
}

static int check_config(const evaluator_player_config *c, shoal_err *err)
{
    if (c->episodes < 1 || c->episodes > EVALUATOR_MAX_EPISODES ||
        c->head_episodes > EVALUATOR_MAX_EPISODES) {
        return shoal_err_set(err, SHOAL_EINVAL, "evaluator: episodes = %zu, head_episodes = %zu: "
                             "expected 1..%d and 0..%d", c->episodes, c->head_episodes,
                             EVALUATOR_MAX_EPISODES, EVALUATOR_MAX_EPISODES);
    }
    if (!(c->epsilon >= 0 && c->epsilon <= 1)) {
        return shoal_err_set(err, SHOAL_EINVAL, "evaluator: epsilon = %g: expected 0..1",
                             c->epsilon);
    }
    if (c->n_envs < 1 || c->n_envs > 4096) {
        return shoal_err_set(err, SHOAL_EINVAL, "evaluator: n_envs = %zu: expected 1..4096",
                             c->n_envs);
    }
    return SHOAL_OK;
}

void evaluator_player_free(evaluator_player *p)
{
    if (!p) {
        return;
    }
    if (p->slots) {
        for (size_t i = 0; i < p->cfg.n_envs; i++) {
            env_free(p->slots[i].e);
        }
    }
    free(p->slots);
    nn_qnet_free(p->net);
    env_registry_free(p->reg);
    free(p->obs);
    free(p->x);
    free(p->q);
    free(p->g);
    nn_qnet_free(p->behaviour);
    free(p->rows);
    free(p->returns);
    free(p->head_returns);
    free(p);
}

evaluator_player *evaluator_player_new(const evaluator_player_config *cfg, shoal_err *err)
{
    if (check_config(cfg, err) != SHOAL_OK) {
        return NULL;
    }
    evaluator_player *p = calloc(1, sizeof *p);
    if (!p) {
        shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->reg = env_registry_new(err);
    if (!p->reg) {
        goto fail;
    }
    if (env_plugin_load_list(p->reg, cfg->plugins, err) != SHOAL_OK) {
        shoal_err_prefix(err, "[env] plugins");
        goto fail;
    }
    if (!env_registry_need(p->reg, cfg->env_name, err)) {
        goto fail;
    }
    if (cfg->agreement_steps > 0) {
        env *probe = env_make(p->reg, cfg->env_name, &cfg->env, err);
        bool has = probe && env_has_expert(probe);
        env_free(probe);
        if (!has) {
            if (probe) {
                shoal_err_set(err, SHOAL_EINVAL, "%s has no scripted expert to measure "
                              "agreement with (env/expert.h lists the games that do)",
                              cfg->env_name);
            }
            goto fail;
        }
    }
    p->spec = cfg->facts.obs;
    if (obs_spec_finish(&p->spec, err) != SHOAL_OK) {
        goto fail;
    }
    p->n_actions = cfg->facts.n_actions;
    p->in_floats = obs_shape_values(p->spec.shape);
    size_t n = cfg->n_envs;
    p->slots = calloc(n, sizeof *p->slots);
    p->obs = malloc(n * p->spec.bytes);
    p->x = malloc(n * p->in_floats * sizeof *p->x);
    p->q = malloc(n * NN_QNET_MAX_HEADS * p->n_actions * sizeof *p->q);
    p->g = malloc(n * NN_QNET_MAX_HEADS * p->n_actions * sizeof *p->g);
    p->rows = malloc(n * sizeof *p->rows);
    p->returns = malloc(cfg->episodes * sizeof *p->returns);
    if (!p->slots || !p->obs || !p->x || !p->q || !p->g || !p->rows || !p->returns) {
        shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory for %zu environments", n);
        goto fail;
    }
    return p;
fail:
    evaluator_player_free(p);
    return NULL;
}

const evaluator_player_config *evaluator_player_config_of(const evaluator_player *p)
{
    return &p->cfg;
}

uint32_t evaluator_argmax(const float *q, size_t n)
{
    size_t best = 0;
    for (size_t a = 1; a < n; a++) {
        if (q[a] > q[best]) {
            best = a;
        }
    }
    return (uint32_t)best;
}

/* Q of action a summed over the heads; q is (n_heads, n_actions). */
static double q_sum(const float *q, size_t n_heads, size_t n_actions, uint32_t a)
{
    double s = 0;
    for (size_t k = 0; k < n_heads; k++) {
        s += q[k * n_actions + a];
    }
    return s;
}

/* Counting votes head by head (O(K^2), K <= 64) needs no array over actions, so the vote
 * works for any action count without allocating. */
uint32_t evaluator_vote(const float *q, size_t n_heads, size_t n_actions)
{
    uint32_t votes[NN_QNET_MAX_HEADS] = {0};
    assert(n_heads >= 1 && n_heads <= NN_QNET_MAX_HEADS);
    for (size_t k = 0; k < n_heads; k++) {
        votes[k] = evaluator_argmax(q + k * n_actions, n_actions);
    }
    uint32_t best = 0;
    size_t best_count = 0;
    double best_sum = -INFINITY;
    for (size_t k = 0; k < n_heads; k++) {
        uint32_t a = votes[k];
        size_t count = 0;
        for (size_t i = 0; i < n_heads; i++) {
            count += votes[i] == a;
        }
        double sum = q_sum(q, n_heads, n_actions, a);
        if (count > best_count ||
            (count == best_count && (sum > best_sum || (sum == best_sum && a < best)))) {
            best = a;
            best_count = count;
            best_sum = sum;
        }
    }
    return best;
}

/* Job id -> (policy, episode index): the acting policy's episodes first, then each head's. */
static void job_of(const evaluator_player *p, size_t job, size_t *policy, size_t *index)
{
    if (job < p->cfg.episodes) {
        *policy = 0;
        *index = job;
    } else {
        size_t h = job - p->cfg.episodes;
        *policy = 1 + h / p->cfg.head_episodes;
        *index = h % p->cfg.head_episodes;
    }
}

/* Starts job in slot s: a fresh env, so nothing (not even MinAtar's remembered sticky action)
 * carries over from the slot's previous episode. */
static int start_job(evaluator_player *p, size_t s, size_t job, shoal_err *err)
{
    slot *sl = &p->slots[s];
    size_t index;
    job_of(p, job, &sl->policy, &index);
    sl->job = job;
    sl->ret = 0;
    sl->e = env_make(p->reg, p->cfg.env_name, &p->cfg.env, err);
    if (!sl->e) {
        return err ? err->code : SHOAL_EINVAL;
    }
    obs_facts got = env_facts(sl->e);
    if (obs_facts_check(&p->cfg.facts, &got, p->cfg.env_name, err) != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    rng_init(&sl->r, p->cfg.seed, RNG_ROLE_EVALUATOR, (uint32_t)sl->policy, (uint32_t)index);
    sl->t = 0;
    if (p->cfg.agreement_steps > 0) {
        /* Its own stream, so that watching leaves the episode's ε draws unchanged. */
        rng er;
        rng_init(&er, p->cfg.seed, RNG_ROLE_TOOL, (uint32_t)sl->policy, (uint32_t)index);
        env_rand_seed(&sl->expert_r, ENV_RAND_XOSHIRO, rng_u64(&er));
    }
    env_seed(sl->e, rng_u64(&sl->r));
    env_reset(sl->e, p->obs + s * p->spec.bytes);
    return SHOAL_OK;
}

static void stop_all(evaluator_player *p)
{
    for (size_t i = 0; i < p->cfg.n_envs; i++) {
        env_free(p->slots[i].e);
        p->slots[i].e = NULL;
    }
}

static int check_net(const evaluator_player *p, const nn_qnet *net, shoal_err *err)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    const obs_shape *sh = &p->spec.shape;
    if (c->in_h != sh->h || c->in_w != sh->w || c->in_c != sh->c ||
        c->n_actions != p->n_actions) {
        return shoal_err_set(err, SHOAL_EARCH, "the network takes %zux%zux%zu inputs and has %zu "
                             "actions, but %s gives %ux%ux%u observations and %u actions; "
                             "evaluate with the run's configuration (--config RUN_DIR/config.ini)",
                             c->in_h, c->in_w, c->in_c, c->n_actions, p->cfg.env_name,
                             sh->h, sh->w, sh->c, p->n_actions);
    }
    if (c->max_batch < p->cfg.n_envs) {
        return shoal_err_set(err, SHOAL_EINVAL, "the network's max_batch %zu is below "
                             "evaluator.n_envs %zu", c->max_batch, p->cfg.n_envs);
    }
    return SHOAL_OK;
}

static uint32_t choose(slot *sl, const float *q, size_t n_heads, uint32_t n_actions,
                       double epsilon)
{
    if (rng_bernoulli(&sl->r, epsilon)) {
        return (uint32_t)rng_below(&sl->r, n_actions);
    }
    if (sl->policy > 0) {
        return evaluator_argmax(q + (sl->policy - 1) * n_actions, n_actions);
    }
    return n_heads == 1 ? evaluator_argmax(q, n_actions) : evaluator_vote(q, n_heads, n_actions);
}

/* Records a finished episode and starts the next job in its slot, if any is left. */
static int finish(evaluator_player *p, size_t s, size_t *next_job, size_t n_jobs,
                  size_t *active, shoal_err *err)
{
    slot *sl = &p->slots[s];
    if (sl->policy == 0) {
        p->returns[sl->job] = sl->ret;
    } else {
        p->head_returns[sl->job - p->cfg.episodes] = sl->ret;
    }
    env_free(sl->e);
    sl->e = NULL;
    p->n_finished++;
    if (p->progress) {
        p->progress(p->progress_arg, p->n_finished, n_jobs);
    }
    if (*next_job < n_jobs) {
        return start_job(p, s, (*next_job)++, err);
    }
    (*active)--;
    return SHOAL_OK;
}

/* mean, std (divisor n), min, max of n >= 1 values. */
static void summarise(const double *v, size_t n, double *mean, double *std, double *min,
                      double *max)
{
    double sum = 0, lo = v[0], hi = v[0];
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double m = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (v[i] - m) * (v[i] - m);
    }
    *mean = m;
    *std = sqrt(ss / (double)n);
    *min = lo;
    *max = hi;
}

static int reserve_heads(evaluator_player *p, size_t n, shoal_err *err)
{
    if (n <= p->head_cap) {
        return SHOAL_OK;
    }
    double *h = realloc(p->head_returns, n * sizeof *h);
    if (!h) {
        return shoal_err_set(err, SHOAL_ENOMEM, "evaluator: out of memory for %zu head returns",
                             n);
    }
    p->head_returns = h;
    p->head_cap = n;
    return SHOAL_OK;
}

/* Plays every job to the end, n_envs at a time. */
static int play(evaluator_player *p, nn_qnet *net, size_t n_heads, size_t n_jobs,
                volatile sig_atomic_t *stop, uint64_t *env_steps, shoal_err *err)
{
    size_t next_job = 0, active = 0;
    p->n_finished = 0;
    for (size_t s = 0; s < p->cfg.n_envs && next_job < n_jobs; s++, active++) {
        if (start_job(p, s, next_job++, err) != SHOAL_OK) {
            return err ? err->code : SHOAL_EINVAL;
        }
    }
    size_t per_row = n_heads * p->n_actions;
    while (active > 0) {
        if (stop && *stop) {
            return shoal_err_set(err, SHOAL_EINTERRUPTED, "evaluation stopped by a signal");
        }
        if (p->deadline_ns && clock_now_ns() >= p->deadline_ns) {
            return shoal_err_set(err, SHOAL_ETIMEOUT, "evaluation cut short at its deadline");
        }
        size_t b = 0;
        for (size_t s = 0; s < p->cfg.n_envs; s++) {
            if (p->slots[s].e) {
                obs_unpack_f32(p->x + b * p->in_floats, p->obs + s * p->spec.bytes, &p->spec, 1);
                p->rows[b++] = s;
            }
        }
        nn_qnet_forward(net, p->x, b, p->q);
        if (p->constrained) {
            nn_qnet_forward(p->behaviour, p->x, b, p->g);
            nn_bcq_mask(p->q, p->g, b * n_heads, p->n_actions, p->cfg.bcq_threshold);
        }
        for (size_t i = 0; i < b; i++) {
            size_t s = p->rows[i];
            slot *sl = &p->slots[s];
            uint32_t a = choose(sl, p->q + i * per_row, n_heads, p->n_actions, p->cfg.epsilon);
            if (p->cfg.agreement_steps > 0 && sl->policy == 0) {
                uint64_t k = sl->t / p->cfg.agreement_steps;
                k = k < EVALUATOR_AGREEMENT_SPANS ? k : EVALUATOR_AGREEMENT_SPANS - 1;
                p->agree_visits[k]++;
                p->agree_same[k] += env_expert_action(sl->e, &sl->expert_r) == a;
            }
            sl->t++;
            env_step_result r = env_step(sl->e, a, p->obs + s * p->spec.bytes);
            sl->ret += r.reward;
            (*env_steps)++;
            if ((r.terminal || r.truncated) &&
                finish(p, s, &next_job, n_jobs, &active, err) != SHOAL_OK) {
                return err ? err->code : SHOAL_EINVAL;
            }
        }
    }
    return SHOAL_OK;
}

void evaluator_player_on_progress(evaluator_player *p,
                                  void (*fn)(void *arg, uint64_t done, uint64_t total), void *arg)
{
    p->progress = fn;
    p->progress_arg = arg;
}

static int evaluate(evaluator_player *p, nn_qnet *net, volatile sig_atomic_t *stop,
                    evaluator_result *out, shoal_err *err)
{
    if (check_net(p, net, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EARCH;
    }
    uint64_t t0 = clock_now_ns();
    size_t n_heads = nn_qnet_config_of(net)->n_heads;
    size_t head_episodes = n_heads > 1 ? p->cfg.head_episodes : 0;
    if (reserve_heads(p, n_heads * head_episodes, err) != SHOAL_OK) {
        return SHOAL_ENOMEM;
    }
    memset(out, 0, sizeof *out);
    memset(p->agree_visits, 0, sizeof p->agree_visits);
    memset(p->agree_same, 0, sizeof p->agree_same);
    size_t n_jobs = p->cfg.episodes + n_heads * head_episodes;
    int rc = play(p, net, n_heads, n_jobs, stop, &out->env_steps, err);
    stop_all(p);
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->episodes = p->cfg.episodes;
    out->returns = p->returns;
    summarise(p->returns, p->cfg.episodes, &out->mean, &out->std, &out->min, &out->max);
    out->n_heads = n_heads;
    out->head_episodes = head_episodes;
    out->head_returns = head_episodes ? p->head_returns : NULL;
    for (size_t k = 0; k < n_heads && head_episodes; k++) {
        double lo, hi;
        summarise(p->head_returns + k * head_episodes, head_episodes, &out->head_mean[k],
                  &out->head_std[k], &lo, &hi);
    }
    for (size_t k = 0; p->cfg.agreement_steps > 0 && k < EVALUATOR_AGREEMENT_SPANS; k++) {
        if (p->agree_visits[k] > 0) {
            out->agreement_spans = k + 1;
        }
    }
    out->agreement_visits = p->agree_visits;
    out->agreement_agree = p->agree_same;
    out->seconds = clock_since_s(t0);
    return SHOAL_OK;
}

int evaluator_player_eval_net(evaluator_player *p, nn_qnet *net, volatile sig_atomic_t *stop,
                              evaluator_result *out, shoal_err *err)
{
    p->constrained = false;
    return evaluate(p, net, stop, out, err);
}

void evaluator_player_set_deadline(evaluator_player *p, uint64_t deadline_ns)
{
    p->deadline_ns = deadline_ns;
}

/* A network for the file's architecture: the current one when the string is the same. */
static int net_for(evaluator_player *p, const char *path, shoal_err *err)
{
    char arch[NN_QNET_ARCH_MAX];
    if (nn_paramfile_read_arch(path, arch, sizeof arch, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_ECORRUPT;
    }
    if (p->net && strcmp(nn_qnet_arch(p->net), arch) == 0) {
        return SHOAL_OK;
    }
    nn_qnet_config qc = {.max_batch = p->cfg.n_envs};
    if (nn_qnet_config_parse(&qc, arch, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "%s", path);
    }
    nn_qnet *net = nn_qnet_new(&qc, err);
    if (!net) {
        return shoal_err_prefix(err, "%s", path);
    }
    if (check_net(p, net, err) != SHOAL_OK) {
        nn_qnet_free(net);
        return shoal_err_prefix(err, "%s", path);
    }
    nn_qnet_free(p->net);
    p->net = net;
    return SHOAL_OK;
}

/* An offline (discrete BCQ) checkpoint has its behaviour model beside it: load it and restrict
 * the actions to those it allows, as the learner's targets were. Without the file: plain
 * argmax. */
static int behaviour_for(evaluator_player *p, const char *path, shoal_err *err)
{
    char bpath[4096];
    p->constrained = false;
    if (nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, bpath, sizeof bpath, err) !=
        SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (access(bpath, F_OK) != 0) {
        return SHOAL_OK;
    }
    if (!p->behaviour || strcmp(nn_qnet_arch(p->behaviour), nn_qnet_arch(p->net)) != 0) {
        nn_qnet_free(p->behaviour);
        p->behaviour = nn_qnet_new(nn_qnet_config_of(p->net), err);
        if (!p->behaviour) {
            return err ? err->code : SHOAL_ENOMEM;
        }
    }
    if (nn_paramfile_load(bpath, p->behaviour, NULL, NULL, NULL, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_ECORRUPT;
    }
    p->constrained = true;
    return SHOAL_OK;
}

int evaluator_player_eval_file(evaluator_player *p, const char *path,
                               volatile sig_atomic_t *stop, evaluator_result *out,
                               shoal_err *err)
{
    uint64_t step = 0, frames = 0;
    if (net_for(p, path, err) != SHOAL_OK ||
        nn_paramfile_load(path, p->net, NULL, &step, &frames, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_ECORRUPT;
    }
    int rc = behaviour_for(p, path, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    rc = evaluate(p, p->net, stop, out, err);
    out->step = step;
    out->frames = frames;
    return rc;
}
