#include "actor/explore.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"

const config_key actor_explore_config_keys[] = {
    {"exploration", "strategy", CONFIG_ENUM, "epsilon", 0, 0,
     "epsilon|bootstrap|count|bootstrap+count|rnd|bootstrap+rnd",
     "how actors explore: Ape-X ε ladder, one bootstrap head per episode, SimHash count bonus "
     "(with ε-greedy acting), heads plus the count bonus, RND's novelty bonus (with ε-greedy "
     "acting; [rnd]) or heads plus RND"},
    {"exploration", "epsilon", CONFIG_FLOAT, "0.4", 0, 1, NULL,
     "base ε of the Ape-X ladder ε_i = ε^(1 + α·i/(N−1))"},
    {"exploration", "alpha", CONFIG_FLOAT, "7", 0, 1000, NULL,
     "exponent α of the Ape-X ladder (0: every actor uses ε)"},
    {"exploration", "mask_p", CONFIG_FLOAT, "0.5", 0, 1, NULL,
     "probability of each bootstrap mask bit (1: every head trains on every transition)"},
    {"exploration", "bootstrap_epsilon", CONFIG_FLOAT, "0", 0, 1, NULL,
     "ε-greedy on top of the episode's head (bootstrap strategies)"},
    {"exploration", "simhash_bits", CONFIG_INT, "64", 1, ACTOR_SIMHASH_MAX_BITS, NULL,
     "k, bits of the SimHash code sign(A·g(s)) (count strategies)"},
    {"exploration", "bonus_beta", CONFIG_FLOAT, "0.01", 0, 1e6, NULL,
     "β of the count bonus β/sqrt(n), added to the reward"},
    {"exploration", "simhash_table", CONFIG_INT, "1048576", 16, 1073741824.0, NULL,
     "slots of each actor's count table (a power of two; 16 bytes each; fixed at start)"},
    {"exploration", "counts", CONFIG_ENUM, "actor", 0, 0, "actor|shared",
     "count strategies: each actor counts only its own visits, or the actors send their SimHash "
     "codes with their batches and add the counts their shard returns (the shard's actors' "
     "visits; replay.count_table)"},
    CONFIG_KEY_END,
};

struct actor_explore {
    actor_explore_config cfg;
    double eps;
    rng r;
    uint32_t *head;  /* (n_envs) */
    float *proj;     /* (D, k): A transposed, so codes of a batch are one product */
    float *zero;     /* (k) bias of that product */
    float *y;        /* (n_envs, k) */
    count_table *table;
    /* shared counts: codes visited since the last batch went out */
    uint64_t *visits;
    size_t n_visits;
    uint64_t visits_dropped;
    /* RND (NULL without it) and the running variance of the discounted intrinsic returns */
    nn_rnd *rnd;
    float *rnd_err;  /* (n_envs) */
    double *rnd_ret; /* (n_envs) */
    double ret_count, ret_mean, ret_m2;
};

static const char *const strategy_names[] = {"epsilon", "bootstrap", "count", "bootstrap+count",
                                             "rnd", "bootstrap+rnd"};

int actor_strategy_parse(const char *name, actor_strategy *out, shoal_err *err)
{
    for (size_t i = 0; i < sizeof strategy_names / sizeof strategy_names[0]; i++) {
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (actor_strategy)i;
            return SHOAL_OK;
        }
    }
    return shoal_err_set(err, SHOAL_EINVAL, "exploration.strategy = '%s'; expected epsilon, "
                         "bootstrap, count, bootstrap+count, rnd or bootstrap+rnd", name);
}

bool actor_strategy_uses_heads(actor_strategy s)
{
    return s == ACTOR_STRATEGY_BOOTSTRAP || s == ACTOR_STRATEGY_BOOTSTRAP_COUNT ||
           s == ACTOR_STRATEGY_BOOTSTRAP_RND;
}

bool actor_strategy_uses_rnd(actor_strategy s)
{
    return s == ACTOR_STRATEGY_RND || s == ACTOR_STRATEGY_BOOTSTRAP_RND;
}

bool actor_strategy_uses_counts(actor_strategy s)
{
    return s == ACTOR_STRATEGY_COUNT || s == ACTOR_STRATEGY_BOOTSTRAP_COUNT;
}

int actor_explore_config_from(const config *cfg, actor_explore_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = actor_strategy_parse(config_str(cfg, "exploration", "strategy"), &out->strategy,
                                  err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->epsilon = config_float(cfg, "exploration", "epsilon");
    out->alpha = config_float(cfg, "exploration", "alpha");
    out->mask_p = config_float(cfg, "exploration", "mask_p");
    out->bootstrap_epsilon = config_float(cfg, "exploration", "bootstrap_epsilon");
    out->simhash_bits = (uint32_t)config_int(cfg, "exploration", "simhash_bits");
    out->bonus_beta = config_float(cfg, "exploration", "bonus_beta");
    out->simhash_table = (size_t)config_int(cfg, "exploration", "simhash_table");
    if (out->simhash_table & (out->simhash_table - 1)) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration.simhash_table = %zu; expected a "
                             "power of two (e.g. 1048576)", out->simhash_table);
    }
    out->shared_counts = strcmp(config_str(cfg, "exploration", "counts"), "shared") == 0;
    if (out->shared_counts && !actor_strategy_uses_counts(out->strategy)) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration.counts = shared shares SimHash "
                             "counts, but exploration.strategy = %s counts nothing; use count "
                             "or bootstrap+count, or counts = actor",
                             strategy_names[out->strategy]);
    }
    if (actor_strategy_uses_rnd(out->strategy)) {
        return nn_rnd_config_from(cfg, &out->rnd, err);
    }
    return SHOAL_OK;
}

double actor_explore_ladder(double epsilon, double alpha, uint32_t i, uint32_t n)
{
    if (n <= 1) {
        return epsilon;
    }
    return pow(epsilon, 1.0 + alpha * (double)i / (double)(n - 1));
}

static int check(const actor_explore_config *c, shoal_err *err)
{
    if (c->n_envs == 0 || c->n_heads == 0 || c->n_actions == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration: %zu envs, %zu heads, %zu actions; "
                             "each must be at least 1", c->n_envs, c->n_heads, c->n_actions);
    }
    if (actor_strategy_uses_heads(c->strategy) && c->n_heads < 2) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration.strategy = %s needs a network with "
                             "several heads; set network.heads to 2 or more (10 is usual)",
                             strategy_names[c->strategy]);
    }
    if (c->n_heads > 32) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration: %zu heads; bootstrap masks hold at "
                             "most 32 (network.heads)", c->n_heads);
    }
    if (actor_strategy_uses_counts(c->strategy)) {
        if (c->simhash_bits < 1 || c->simhash_bits > ACTOR_SIMHASH_MAX_BITS) {
            return shoal_err_set(err, SHOAL_EINVAL, "exploration.simhash_bits = %u; expected "
                                 "1..%d", c->simhash_bits, ACTOR_SIMHASH_MAX_BITS);
        }
        if (c->simhash_table < 16 || (c->simhash_table & (c->simhash_table - 1))) {
            return shoal_err_set(err, SHOAL_EINVAL, "exploration.simhash_table = %zu; expected "
                                 "a power of two >= 16", c->simhash_table);
        }
        if (c->obs_floats == 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "exploration: empty observations cannot "
                                 "be hashed");
        }
        if (c->shared_counts && c->visit_cap == 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "exploration.counts = shared: no room for "
                                 "the visits of a batch (visit_cap 0)");
        }
    }
    if (actor_strategy_uses_rnd(c->strategy) && c->net.in_h * c->net.in_w * c->net.in_c !=
                                                    c->obs_floats) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration.strategy = %s: the network's input "
                             "(%zux%zux%zu) is not the observation (%zu floats)",
                             strategy_names[c->strategy], c->net.in_h, c->net.in_w, c->net.in_c,
                             c->obs_floats);
    }
    if (c->actor_index >= c->n_actors && c->n_actors > 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "exploration: actor index %u of %u; expected "
                             "an index below the number of actors", c->actor_index,
                             c->n_actors);
    }
    return SHOAL_OK;
}

actor_explore *actor_explore_new(const actor_explore_config *c, shoal_err *err)
{
    if (check(c, err) != SHOAL_OK) {
        return NULL;
    }
    actor_explore *x = calloc(1, sizeof *x);
    if (!x) {
        goto oom;
    }
    x->cfg = *c;
    x->eps = actor_strategy_uses_heads(c->strategy)
                 ? c->bootstrap_epsilon
                 : actor_explore_ladder(c->epsilon, c->alpha, c->actor_index, c->n_actors);
    rng_init(&x->r, c->seed, RNG_ROLE_ACTOR, c->actor_index, 1);
    x->head = calloc(c->n_envs, sizeof *x->head);
    if (!x->head) {
        goto oom;
    }
    if (actor_strategy_uses_counts(c->strategy)) {
        size_t k = c->simhash_bits, d = c->obs_floats;
        x->proj = malloc(d * k * sizeof *x->proj);
        x->zero = calloc(k, sizeof *x->zero);
        x->y = malloc(c->n_envs * k * sizeof *x->y);
        if (!x->proj || !x->zero || !x->y) {
            goto oom;
        }
        x->table = count_table_new(c->simhash_table, "exploration.simhash_table", err);
        if (!x->table) {
            actor_explore_free(x);
            return NULL;
        }
        if (c->shared_counts && !(x->visits = malloc(c->visit_cap * sizeof *x->visits))) {
            goto oom;
        }
        /* One projection for the whole run (every actor draws the same A), so codes mean the
         * same state everywhere; row j of A is column j of proj. */
        rng pr;
        rng_init(&pr, c->seed, RNG_ROLE_ACTOR, 0xFFFFFFFFu, 2);
        for (size_t j = 0; j < k; j++) {
            for (size_t i = 0; i < d; i++) {
                x->proj[i * k + j] = (float)rng_normal(&pr);
            }
        }
    }
    if (actor_strategy_uses_rnd(c->strategy)) {
        x->rnd = nn_rnd_new(&c->net, &c->rnd, c->n_envs, c->seed, err);
        if (!x->rnd) {
            actor_explore_free(x);
            return NULL;
        }
        x->rnd_err = malloc(c->n_envs * sizeof *x->rnd_err);
        x->rnd_ret = calloc(c->n_envs, sizeof *x->rnd_ret);
        if (!x->rnd_err || !x->rnd_ret) {
            goto oom;
        }
        /* As the RND reference's RunningMeanStd: a prior of variance 1 worth 1e-4 samples, so
         * the first bonuses are not divided by zero. */
        x->ret_count = 1e-4;
        x->ret_m2 = 1e-4;
    }
    return x;
oom:
    actor_explore_free(x);
    shoal_err_set(err, SHOAL_ENOMEM, "exploration: out of memory (count table of %zu slots, "
                  "projection %u x %zu)", c->simhash_table, c->simhash_bits, c->obs_floats);
    return NULL;
}

void actor_explore_free(actor_explore *x)
{
    if (!x) {
        return;
    }
    free(x->head);
    free(x->proj);
    free(x->zero);
    free(x->y);
    count_table_free(x->table);
    free(x->visits);
    nn_rnd_free(x->rnd);
    free(x->rnd_err);
    free(x->rnd_ret);
    free(x);
}

double actor_explore_epsilon(const actor_explore *x)
{
    return x->eps;
}

void actor_explore_episode_start(actor_explore *x, size_t i)
{
    assert(i < x->cfg.n_envs);
    if (actor_strategy_uses_heads(x->cfg.strategy)) {
        x->head[i] = (uint32_t)rng_below(&x->r, x->cfg.n_heads);
    }
}

uint32_t actor_explore_head(const actor_explore *x, size_t i)
{
    assert(i < x->cfg.n_envs);
    return x->head[i];
}

/* Greedy action on the mean over heads, lowest index on ties (as nn_argmax). */
static uint32_t greedy_mean(const float *q, size_t k, size_t a)
{
    uint32_t best = 0;
    double best_v = -INFINITY;
    for (size_t j = 0; j < a; j++) {
        double v = 0.0;
        for (size_t h = 0; h < k; h++) {
            v += q[h * a + j];
        }
        if (v > best_v) {
            best_v = v;
            best = (uint32_t)j;
        }
    }
    return best;
}

static uint32_t greedy(const float *q, size_t a)
{
    uint32_t best = 0;
    for (size_t j = 1; j < a; j++) {
        if (q[j] > q[best]) {
            best = (uint32_t)j;
        }
    }
    return best;
}

void actor_explore_act(actor_explore *x, const float *q, size_t n, uint32_t *actions)
{
    size_t k = x->cfg.n_heads, a = x->cfg.n_actions;
    bool heads = actor_strategy_uses_heads(x->cfg.strategy);
    assert(n <= x->cfg.n_envs);
    for (size_t i = 0; i < n; i++) {
        const float *qi = q + i * k * a;
        if (x->eps > 0.0 && rng_uniform(&x->r) < x->eps) {
            actions[i] = (uint32_t)rng_below(&x->r, a);
        } else if (heads) {
            actions[i] = greedy(qi + (size_t)x->head[i] * a, a);
        } else {
            actions[i] = k == 1 ? greedy(qi, a) : greedy_mean(qi, k, a);
        }
    }
}

uint32_t actor_explore_mask(actor_explore *x)
{
    size_t k = x->cfg.n_heads;
    uint32_t all = k >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << k) - 1);
    if (k <= 1 || x->cfg.mask_p >= 1.0) {
        return all;
    }
    uint32_t m = 0;
    for (size_t h = 0; h < k; h++) {
        m |= (uint32_t)rng_bernoulli(&x->r, x->cfg.mask_p) << h;
    }
    return m;
}

static uint64_t code_of(const float *y, size_t k)
{
    /* The config check keeps k <= 64 already; saying it here lets the compiler see the bound
     * (GCC's -Warray-bounds fires under the sanitizer build otherwise). */
    if (k > ACTOR_SIMHASH_MAX_BITS) {
        k = ACTOR_SIMHASH_MAX_BITS;
    }
    uint64_t code = 0;
    for (size_t j = 0; j < k; j++) {
        code |= (uint64_t)(y[j] > 0.0f) << j;
    }
    return code;
}

uint64_t actor_explore_code(const actor_explore *x, const float *g)
{
    assert(x->proj);
    size_t k = x->cfg.simhash_bits, d = x->cfg.obs_floats;
    float y[ACTOR_SIMHASH_MAX_BITS];
    nn_linear_shape s = nn_linear_dense(1, d, k);
    nn_linear_forward(y, g, x->proj, x->zero, &s);
    return code_of(y, k);
}

uint64_t actor_explore_count(const actor_explore *x, uint64_t code)
{
    return x->table ? count_table_get(x->table, code) : 0;
}

/* Counts one visit of code (and keeps it for the shard with shared counts); returns the count
 * after it. */
static uint64_t visit(actor_explore *x, uint64_t code)
{
    if (x->visits) {
        if (x->n_visits < x->cfg.visit_cap) {
            x->visits[x->n_visits++] = code;
        } else {
            x->visits_dropped++;
        }
    }
    return count_table_add(x->table, code, 1);
}

/* RND: bonus[i] = β·e_i/σ_R, e_i the predictor's error on observation i and σ_R the running
 * std of the per-env discounted intrinsic returns R_i ← γR_i + e_i (the paper's reward
 * normalisation; intrinsic returns run on across episode ends, as its non-episodic stream). */
static void rnd_bonus(actor_explore *x, const float *g, size_t n, float *bonus)
{
    nn_rnd_error(x->rnd, g, n, x->rnd_err);
    for (size_t i = 0; i < n; i++) {
        x->rnd_ret[i] = x->cfg.gamma * x->rnd_ret[i] + x->rnd_err[i];
        double c = x->ret_count + 1.0, delta = x->rnd_ret[i] - x->ret_mean;
        x->ret_mean += delta / c;
        x->ret_m2 += delta * (x->rnd_ret[i] - x->ret_mean);
        x->ret_count = c;
    }
    double sd = sqrt(x->ret_m2 / x->ret_count);
    if (sd < 1e-8) {
        sd = 1e-8;
    }
    for (size_t i = 0; i < n; i++) {
        bonus[i] = (float)(x->cfg.rnd.beta * x->rnd_err[i] / sd);
    }
}

void actor_explore_bonus(actor_explore *x, const float *g, size_t n, float *bonus)
{
    assert(n <= x->cfg.n_envs);
    if (x->rnd) {
        rnd_bonus(x, g, n, bonus);
        return;
    }
    if (!actor_strategy_uses_counts(x->cfg.strategy)) {
        memset(bonus, 0, n * sizeof *bonus);
        return;
    }
    size_t k = x->cfg.simhash_bits;
    nn_linear_shape s = nn_linear_dense(n, x->cfg.obs_floats, k);
    nn_linear_forward(x->y, g, x->proj, x->zero, &s);
    for (size_t i = 0; i < n; i++) {
        uint64_t c = visit(x, code_of(x->y + i * k, k));
        bonus[i] = (float)(x->cfg.bonus_beta / sqrt((double)c));
    }
}

size_t actor_explore_codes(const actor_explore *x)
{
    return x->table ? count_table_codes(x->table) : 0;
}

uint64_t actor_explore_overflow(const actor_explore *x)
{
    return x->table ? count_table_overflow(x->table) : 0;
}

size_t actor_explore_visits(const actor_explore *x, const uint64_t **codes)
{
    *codes = x->visits;
    return x->n_visits;
}

void actor_explore_visits_sent(actor_explore *x)
{
    x->n_visits = 0;
}

uint64_t actor_explore_visits_dropped(const actor_explore *x)
{
    return x->visits_dropped;
}

void actor_explore_heard(actor_explore *x, const uint64_t *codes, const uint64_t *counts,
                         size_t n)
{
    if (!x->table) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        count_table_raise(x->table, codes[i], counts[i]);
    }
}

nn_rnd *actor_explore_rnd(const actor_explore *x)
{
    return x->rnd;
}

double actor_explore_intrinsic_std(const actor_explore *x)
{
    return x->rnd ? sqrt(x->ret_m2 / x->ret_count) : 0.0;
}
