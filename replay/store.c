#include "replay/store.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay/hugemem.h"
#include "replay/sumtree.h"

/* One population (the agent ring or the demo store): columns carved out of one allocation,
 * as llm.c carves its parameters. Slots [0, size) are occupied: the ring fills from slot 0
 * and never removes, so size = min(inserted, cap) and head = inserted % cap. */
typedef struct part {
    size_t cap;
    size_t size;
    size_t head;
    void *block;
    size_t block_bytes;
    uint8_t *obs;      /* (cap, obs_bytes) */
    uint8_t *next_obs; /* (cap, obs_bytes) */
    uint32_t *action;
    float *reward;
    float *discount;
    uint32_t *mask;
    float *priority;   /* |δ| as sent; the trees hold (|δ| + ε)^α */
    uint32_t *gen;     /* bumped on every overwrite; part of the key */
    replay_sumtree *tree;
    replay_sumtree *bonus_tree; /* demos only: (|δ| + ε_d)^α for mixed sampling */
} part;

struct replay_store {
    replay_store_config cfg;
    part agent;
    part demo;
    uint32_t n_heads;
    replay_store_counters counters;
    /* Agent priorities per bin (replay_priority_bin), kept as they change so that Stats
     * reads the histogram without a pass over the store. */
    uint64_t hist[REPLAY_PRIORITY_BINS];
    rng rng;
    size_t *idx;   /* (max_batch) scratch for the sum-tree sampler */
    double *ratio; /* (max_batch) N·P(i) of each draw, for the importance weights */
};

/* A label-only transition (DAgger: replay_transitions.label) is a demo slot whose discount is
 * stored as -0: numerically the 0 such a row means anyway, and kept by the checkpoint body with
 * no change of its format. */
static bool label_only(const replay_store *s, const part *p, size_t slot)
{
    return p == &s->demo && signbit(p->discount[slot]);
}

/* Bytes of one transition's columns besides the observations. */
#define ROW_BYTES (4 * sizeof(uint32_t) + 3 * sizeof(float))

static int part_init(part *p, size_t cap, size_t obs_bytes, bool bonus, const char *name,
                     shoal_err *err)
{
    memset(p, 0, sizeof *p);
    p->cap = cap;
    if (cap == 0) {
        return SHOAL_OK;
    }
    if (obs_bytes > (SIZE_MAX / 4 - ROW_BYTES) / cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s store: %zu transitions of %zu-byte "
                             "observations overflow the address space", name, cap, obs_bytes);
    }
    size_t obs_total = cap * obs_bytes;
    size_t obs_padded = (obs_total + 15) & ~(size_t)15;
    p->block_bytes = 2 * obs_padded + cap * ROW_BYTES;
    p->block = replay_hugemem_alloc(p->block_bytes);
    if (!p->block) {
        return shoal_err_set(err, SHOAL_ENOMEM, "%s store: cannot allocate %zu bytes for %zu "
                             "transitions; lower replay.capacity", name, p->block_bytes, cap);
    }
    /* Every page is touched by replay_hugemem_alloc: the insert path takes no page faults
     * (the kernel zeroing fresh pages showed as 15% of an insert benchmark). */
    uint8_t *b = p->block;
    p->obs = b;
    p->next_obs = b + obs_padded;
    uint8_t *rows = b + 2 * obs_padded;
    p->action = (uint32_t *)rows;
    p->mask = p->action + cap;
    p->gen = p->mask + cap;
    p->reward = (float *)(p->gen + cap);
    p->discount = p->reward + cap;
    p->priority = p->discount + cap;
    p->tree = replay_sumtree_new(cap, err);
    if (!p->tree) {
        return shoal_err_prefix(err, "%s store", name);
    }
    if (bonus) {
        p->bonus_tree = replay_sumtree_new(cap, err);
        if (!p->bonus_tree) {
            return shoal_err_prefix(err, "%s store", name);
        }
    }
    return SHOAL_OK;
}

static void part_fini(part *p)
{
    replay_hugemem_free(p->block);
    replay_sumtree_free(p->tree);
    replay_sumtree_free(p->bonus_tree);
    memset(p, 0, sizeof *p);
}

static void part_clear(part *p)
{
    p->size = 0;
    p->head = 0;
    if (p->cap) {
        memset(p->gen, 0, p->cap * sizeof *p->gen);
        replay_sumtree_clear(p->tree);
        if (p->bonus_tree) {
            replay_sumtree_clear(p->bonus_tree);
        }
    }
}

static size_t part_footprint(const part *p)
{
    size_t trees = p->tree ? replay_sumtree_footprint(p->tree) : 0;
    if (p->bonus_tree) {
        trees += replay_sumtree_footprint(p->bonus_tree);
    }
    return p->block_bytes + trees;
}

static int check_config(const replay_store_config *c, shoal_err *err)
{
    if (c->capacity == 0 || c->capacity > REPLAY_MAX_CAPACITY) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.capacity %zu is out of range 1..%u",
                             c->capacity, REPLAY_MAX_CAPACITY);
    }
    if (c->demo_capacity > REPLAY_MAX_CAPACITY) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.demo_capacity %zu exceeds %u",
                             c->demo_capacity, REPLAY_MAX_CAPACITY);
    }
    if (!(c->alpha >= 0.0 && c->alpha <= 1.0) || !(c->epsilon >= 0.0) ||
        !(c->epsilon_demo >= 0.0) || !isfinite(c->epsilon) || !isfinite(c->epsilon_demo)) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.alpha must be in [0, 1] and epsilon, "
                             "epsilon_demo finite and >= 0 (got %g, %g, %g)", c->alpha, c->epsilon,
                             c->epsilon_demo);
    }
    if (c->max_batch == 0 || c->max_batch > (1u << 20)) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.max_batch %zu is out of range 1..%u",
                             c->max_batch, 1u << 20);
    }
    return SHOAL_OK;
}

replay_store *replay_store_new(const replay_store_config *cfg, shoal_err *err)
{
    obs_spec spec = cfg->spec;
    if (check_config(cfg, err) != SHOAL_OK || obs_spec_finish(&spec, err) != SHOAL_OK) {
        return NULL;
    }
    replay_store *s = calloc(1, sizeof *s);
    if (!s) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the replay store");
        return NULL;
    }
    s->cfg = *cfg;
    s->cfg.spec = spec;
    rng_init(&s->rng, cfg->seed, RNG_ROLE_REPLAY, cfg->shard, 0);
    s->idx = malloc(cfg->max_batch * sizeof *s->idx);
    s->ratio = malloc(cfg->max_batch * sizeof *s->ratio);
    if (!s->idx || !s->ratio) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate sampling scratch");
        goto fail;
    }
    if (part_init(&s->agent, cfg->capacity, spec.bytes, false, "agent", err) != SHOAL_OK ||
        part_init(&s->demo, cfg->demo_capacity, spec.bytes, true, "demo", err) != SHOAL_OK) {
        goto fail;
    }
    return s;
fail:
    replay_store_free(s);
    return NULL;
}

void replay_store_free(replay_store *s)
{
    if (!s) {
        return;
    }
    part_fini(&s->agent);
    part_fini(&s->demo);
    free(s->idx);
    free(s->ratio);
    free(s);
}

void replay_store_clear(replay_store *s)
{
    part_clear(&s->agent);
    part_clear(&s->demo);
    s->n_heads = 0;
    memset(&s->counters, 0, sizeof s->counters);
    memset(s->hist, 0, sizeof s->hist);
}

static double leaf_of(double priority, double eps, double alpha)
{
    return pow(priority + eps, alpha);
}

static int check_priorities(const float *p, size_t n, shoal_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i]) || p[i] < 0.0f) {
            return shoal_err_set(err, SHOAL_EINVAL, "priority[%zu] = %g; priorities must be "
                                 "finite and >= 0", i, (double)p[i]);
        }
    }
    return SHOAL_OK;
}

static void set_leaves(replay_store *s, part *p, size_t slot)
{
    double pr = p->priority[slot];
    replay_sumtree_set(p->tree, slot, leaf_of(pr, s->cfg.epsilon, s->cfg.alpha));
    if (p->bonus_tree) {
        replay_sumtree_set(p->bonus_tree, slot, leaf_of(pr, s->cfg.epsilon_demo, s->cfg.alpha));
    }
}

/* Moves an agent slot's count from priority `from` (< 0: the slot was empty) to `to`. */
static void hist_move(replay_store *s, const part *p, double from, double to)
{
    if (p != &s->agent) {
        return;
    }
    if (from >= 0.0) {
        s->hist[replay_priority_bin(from)]--;
    }
    s->hist[replay_priority_bin(to)]++;
}

static void part_write(replay_store *s, part *p, const replay_transitions *t, size_t k)
{
    size_t ob = s->cfg.spec.bytes;
    size_t slot = p->head;
    hist_move(s, p, p->size == p->cap ? p->priority[slot] : -1.0, t->priority[k]);
    memcpy(p->obs + slot * ob, t->obs + k * ob, ob);
    memcpy(p->next_obs + slot * ob, t->next_obs + k * ob, ob);
    p->action[slot] = t->action[k];
    p->reward[slot] = t->reward[k];
    p->discount[slot] = t->label ? -0.0f : fabsf(t->discount[k]);
    p->mask[slot] = t->mask ? t->mask[k] : 0xFFFFFFFFu;
    p->priority[slot] = t->priority[k];
    p->gen[slot] = (p->gen[slot] + 1) & REPLAY_KEY_GEN_MASK;
    if (p->gen[slot] == 0) {
        p->gen[slot] = 1; /* generation 0 means "never written" */
    }
    set_leaves(s, p, slot);
    p->head = (slot + 1) % p->cap;
    if (p->size < p->cap) {
        p->size++;
    }
}

int replay_store_insert(replay_store *s, const replay_transitions *t, bool demo, shoal_err *err)
{
    if (t->n_heads > REPLAY_MAX_HEADS) {
        return shoal_err_set(err, SHOAL_EINVAL, "n_heads %u exceeds %u", t->n_heads,
                             REPLAY_MAX_HEADS);
    }
    bool masked = t->n_heads > 1;
    if (masked && s->n_heads > 1 && t->n_heads != s->n_heads) {
        return shoal_err_set(err, SHOAL_EINVAL, "batch has %u bootstrap heads but this shard "
                             "holds transitions for %u; every actor must use the same heads",
                             t->n_heads, s->n_heads);
    }
    if (masked && !t->mask) {
        return shoal_err_set(err, SHOAL_EINVAL, "batch has %u heads but no masks", t->n_heads);
    }
    if (check_priorities(t->priority, t->count, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (t->label && !demo) {
        return shoal_err_set(err, SHOAL_EINVAL, "label-only transitions belong in the demo store "
                             "(a label batch is a demo batch)");
    }
    part *p = demo ? &s->demo : &s->agent;
    if (demo && t->label && t->count > p->cap - p->size) {
        return shoal_err_set(err, SHOAL_ESTATE, "demo store full: %zu of %zu slots used, %zu more "
                             "DAgger labels do not fit (the aggregate is never evicted); raise "
                             "replay.demo_capacity to the labels this shard should hold",
                             p->size, p->cap, t->count);
    }
    if (demo && t->count > p->cap - p->size) {
        return shoal_err_set(err, SHOAL_ESTATE, "demo store full: %zu of %zu slots used, %zu more "
                             "demonstrations do not fit (demonstrations are never evicted); raise "
                             "replay.demo_capacity", p->size, p->cap, t->count);
    }
    if (masked) {
        s->n_heads = t->n_heads;
    }
    for (size_t k = 0; k < t->count; k++) {
        part_write(s, p, t, k);
    }
    if (demo) {
        s->counters.demo_inserted += t->count;
    } else {
        s->counters.inserted += t->count;
    }
    return SHOAL_OK;
}

void replay_importance_weights(float *w, const double *ratio, size_t n, double beta)
{
    double min = INFINITY;
    for (size_t i = 0; i < n; i++) {
        min = ratio[i] < min ? ratio[i] : min;
    }
    /* (N·P(i))^-β / max_j (N·P(j))^-β = (min_j N·P(j) / N·P(i))^β: one power per draw and no
     * second pass to normalise. powf, since the weights are floats: the base is rounded once
     * to float and glibc's powf is accurate to within an ulp, so a weight differs from the
     * double computation by a few float ulps at most (tests/test_replay_store.c checks it). */
    for (size_t i = 0; i < n; i++) {
        w[i] = ratio[i] > 0.0 && min > 0.0 ? powf((float)(min / ratio[i]), (float)beta) : 1.0f;
    }
}

/* Rows ahead of the one being copied whose lines are fetched: the rows are scattered over the
 * store, so each costs several cache misses, and this many keep enough of them in flight. */
#define GATHER_AHEAD 8

static void prefetch_row(const part *p, size_t slot, size_t ob)
{
    __builtin_prefetch(p->obs + slot * ob);
    __builtin_prefetch(p->obs + slot * ob + ob - 1);
    __builtin_prefetch(p->next_obs + slot * ob);
    __builtin_prefetch(p->next_obs + slot * ob + ob - 1);
    __builtin_prefetch(p->action + slot);
    __builtin_prefetch(p->reward + slot);
    __builtin_prefetch(p->discount + slot);
    __builtin_prefetch(p->mask + slot);
    __builtin_prefetch(p->gen + slot);
}

/* Copies slot of p into position j of out, with its key and leaf. */
static void gather(const replay_store *s, const part *p, bool demo, size_t slot, bool bonus,
                   replay_sample *out, size_t j)
{
    size_t ob = s->cfg.spec.bytes;
    memcpy(out->obs + j * ob, p->obs + slot * ob, ob);
    memcpy(out->next_obs + j * ob, p->next_obs + slot * ob, ob);
    out->action[j] = p->action[slot];
    out->reward[j] = p->reward[slot];
    out->label[j] = label_only(s, p, slot);
    out->discount[j] = out->label[j] ? 0.0f : p->discount[slot];
    out->mask[j] = p->mask[slot];
    out->demo[j] = demo;
    out->shard[j] = s->cfg.shard;
    out->key[j] = (demo ? REPLAY_KEY_DEMO_BIT : 0) | ((uint64_t)p->gen[slot] << 32) | slot;
    out->leaf[j] = replay_sumtree_get(bonus ? p->bonus_tree : p->tree, slot);
}

/* n stratified draws from one tree, written from position j0 with N·P(i) over (size, total). */
static void sample_part(replay_store *s, const part *p, bool demo, bool bonus, size_t n,
                        replay_sample *out, size_t j0)
{
    const replay_sumtree *t = bonus ? p->bonus_tree : p->tree;
    double total = replay_sumtree_total(t), pop = (double)p->size;
    replay_sumtree_sample(t, n, &s->rng, s->idx);
    size_t ob = s->cfg.spec.bytes;
    for (size_t k = 0; k < n && k < GATHER_AHEAD; k++) {
        prefetch_row(p, s->idx[k], ob);
    }
    for (size_t k = 0; k < n; k++) {
        if (k + GATHER_AHEAD < n) {
            prefetch_row(p, s->idx[k + GATHER_AHEAD], ob);
        }
        gather(s, p, demo, s->idx[k], bonus, out, j0 + k);
        s->ratio[j0 + k] = pop * out->leaf[j0 + k] / total;
    }
}

/* DQfD: one tree over agent leaves followed by demo bonus leaves, sampled with strata over the
 * concatenation; the two trees stand in for one without copying either. */
static void sample_mixed(replay_store *s, size_t n, replay_sample *out)
{
    double ta = s->agent.size ? replay_sumtree_total(s->agent.tree) : 0.0;
    double td = s->demo.size ? replay_sumtree_total(s->demo.bonus_tree) : 0.0;
    double total = ta + td, seg = total / (double)n;
    double pop = (double)(s->agent.size + s->demo.size);
    for (size_t k = 0; k < n; k++) {
        double u = seg * ((double)k + rng_uniform(&s->rng));
        bool demo = (u >= ta && td > 0.0) || ta <= 0.0;
        if (demo) {
            gather(s, &s->demo, true, replay_sumtree_find(s->demo.bonus_tree, u - ta), true, out, k);
        } else {
            gather(s, &s->agent, false, replay_sumtree_find(s->agent.tree, u), false, out, k);
        }
        s->ratio[k] = pop * out->leaf[k] / total;
    }
}

static int need(const part *p, size_t n, const char *name, shoal_err *err)
{
    if (n == 0) {
        return SHOAL_OK;
    }
    if (p->size == 0 || !(replay_sumtree_total(p->tree) > 0.0)) {
        return shoal_err_set(err, SHOAL_ESTATE, "cannot sample %zu %s transitions: the %s store "
                             "is %s", n, name, name, p->size ? "all zero priority" : "empty");
    }
    return SHOAL_OK;
}

int replay_store_sample(replay_store *s, const replay_sample_req *req, replay_sample *out,
                        shoal_err *err)
{
    size_t b = req->batch_size;
    if (b == 0 || b > s->cfg.max_batch || b > out->max_batch) {
        return shoal_err_set(err, SHOAL_EINVAL, "batch_size %zu is out of range 1..%zu", b,
                             s->cfg.max_batch < out->max_batch ? s->cfg.max_batch : out->max_batch);
    }
    if (!(req->demo_fraction >= 0.0 && req->demo_fraction <= 1.0) ||
        !(req->beta >= 0.0 && req->beta <= 1.0)) {
        return shoal_err_set(err, SHOAL_EINVAL, "demo_fraction %g and beta %g must be in [0, 1]",
                             req->demo_fraction, req->beta);
    }
    assert(out->obs_bytes == s->cfg.spec.bytes);
    size_t n_demo;
    if (req->demo_only) {
        n_demo = b;
    } else if (req->mixed) {
        double ta = s->agent.size ? replay_sumtree_total(s->agent.tree) : 0.0;
        double td = s->demo.size ? replay_sumtree_total(s->demo.bonus_tree) : 0.0;
        if (!(ta + td > 0.0)) {
            return shoal_err_set(err, SHOAL_ESTATE, "cannot sample a mixed batch: the shard "
                                 "holds no transitions with positive priority");
        }
        sample_mixed(s, b, out);
        goto done;
    } else {
        n_demo = (size_t)floor(req->demo_fraction * (double)b + 0.5);
    }
    if (need(&s->demo, n_demo, "demo", err) != SHOAL_OK ||
        need(&s->agent, b - n_demo, "agent", err) != SHOAL_OK) {
        return err ? err->code : SHOAL_ESTATE;
    }
    if (b > n_demo) {
        sample_part(s, &s->agent, false, false, b - n_demo, out, 0);
    }
    if (n_demo) {
        sample_part(s, &s->demo, true, false, n_demo, out, b - n_demo);
    }
done:
    out->count = b;
    out->n_heads = s->n_heads;
    out->n_demo = 0;
    for (size_t j = 0; j < b; j++) {
        out->n_demo += out->demo[j];
    }
    replay_importance_weights(out->weight, s->ratio, b, req->beta);
    s->counters.sampled += b;
    s->counters.demo_sampled += out->n_demo;
    return SHOAL_OK;
}

/* Resolves key to (part, slot) from the key alone; EINVAL when out of range. */
static int resolve(const replay_store *s, uint64_t key, const part **pp, size_t *slot, size_t i,
                   shoal_err *err)
{
    const part *p = (key & REPLAY_KEY_DEMO_BIT) ? &s->demo : &s->agent;
    uint32_t gen = (uint32_t)(key >> 32) & REPLAY_KEY_GEN_MASK;
    size_t sl = (size_t)(key & 0xFFFFFFFFu);
    if (sl >= p->cap || gen == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "key[%zu] = 0x%016llx is out of range: %s slot "
                             "%zu of %zu, generation %u (not a key this shard issued)", i,
                             (unsigned long long)key, p == &s->demo ? "demo" : "agent", sl, p->cap,
                             gen);
    }
    *pp = p;
    *slot = sl;
    return SHOAL_OK;
}

/* A resolved key is stale when its slot has been overwritten since it was issued. */
static bool stale(const part *p, size_t slot, uint64_t key)
{
    return p->gen[slot] != ((uint32_t)(key >> 32) & REPLAY_KEY_GEN_MASK);
}

/* Keys per step of an update: their leaves are set with one lockstep walk per tree
 * (replay_sumtree_set_batch). */
#define UPDATE_CHUNK 64
/* Keys ahead of the one being applied whose rows (generation, priority) are fetched. */
#define UPDATE_AHEAD 8

static void prefetch_key(const replay_store *s, uint64_t key)
{
    const part *p = (key & REPLAY_KEY_DEMO_BIT) ? &s->demo : &s->agent;
    size_t sl = (size_t)(key & 0xFFFFFFFFu); /* in range: the keys are resolved first */
    __builtin_prefetch(p->gen + sl);
    __builtin_prefetch(p->priority + sl, 1);
}

/* The leaves an update sets, per tree, gathered for replay_sumtree_set_batch. */
typedef struct leaf_batch {
    size_t n;
    size_t slot[UPDATE_CHUNK];
    double leaf[UPDATE_CHUNK];
} leaf_batch;

static void leaf_push(leaf_batch *b, size_t slot, double leaf)
{
    b->slot[b->n] = slot;
    b->leaf[b->n++] = leaf;
}

/* Applies keys[0..n) (n <= UPDATE_CHUNK, all resolved before; n_ahead more keys follow them);
 * returns how many applied. */
static size_t update_chunk(replay_store *s, const uint64_t *keys, const float *priorities,
                           size_t n, size_t n_ahead)
{
    leaf_batch agent = {0}, demo = {0}, bonus = {0};
    size_t applied = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + UPDATE_AHEAD < n + n_ahead) {
            prefetch_key(s, keys[i + UPDATE_AHEAD]);
        }
        const part *p = NULL;
        size_t slot = 0;
        resolve(s, keys[i], &p, &slot, i, NULL);
        if (stale(p, slot, keys[i])) {
            s->counters.stale_updates++;
            continue;
        }
        part *w = p == &s->demo ? &s->demo : &s->agent;
        if (label_only(s, w, slot)) {
            continue; /* a TD error says nothing of a label: it keeps its insert priority */
        }
        hist_move(s, w, w->priority[slot], priorities[i]);
        w->priority[slot] = priorities[i];
        double pr = priorities[i];
        leaf_push(w == &s->demo ? &demo : &agent, slot, leaf_of(pr, s->cfg.epsilon, s->cfg.alpha));
        if (w->bonus_tree) {
            leaf_push(&bonus, slot, leaf_of(pr, s->cfg.epsilon_demo, s->cfg.alpha));
        }
        applied++;
    }
    replay_sumtree_set_batch(s->agent.tree, agent.slot, agent.leaf, agent.n);
    if (demo.n) {
        replay_sumtree_set_batch(s->demo.tree, demo.slot, demo.leaf, demo.n);
        replay_sumtree_set_batch(s->demo.bonus_tree, bonus.slot, bonus.leaf, bonus.n);
    }
    return applied;
}

int replay_store_update(replay_store *s, const uint64_t *keys, const float *priorities, size_t n,
                        size_t *n_applied, shoal_err *err)
{
    if (n_applied) {
        *n_applied = 0;
    }
    if (check_priorities(priorities, n, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    const part *p = NULL;
    size_t slot = 0;
    for (size_t i = 0; i < n; i++) {
        if (resolve(s, keys[i], &p, &slot, i, err) != SHOAL_OK) {
            return SHOAL_EINVAL;
        }
    }
    for (size_t i = 0; i < n && i < UPDATE_AHEAD; i++) {
        prefetch_key(s, keys[i]);
    }
    size_t applied = 0;
    for (size_t i = 0; i < n; i += UPDATE_CHUNK) {
        size_t m = n - i < UPDATE_CHUNK ? n - i : UPDATE_CHUNK;
        applied += update_chunk(s, keys + i, priorities + i, m, n - i - m);
    }
    s->counters.updates += applied;
    if (n_applied) {
        *n_applied = applied;
    }
    return SHOAL_OK;
}

double replay_store_priority_of(const replay_store *s, uint64_t key)
{
    const part *p = NULL;
    size_t slot = 0;
    if (resolve(s, key, &p, &slot, 0, NULL) != SHOAL_OK || stale(p, slot, key)) {
        return -1.0;
    }
    return p->priority[slot];
}

replay_totals replay_store_totals(const replay_store *s)
{
    replay_totals t = {0};
    t.size = s->agent.size;
    t.demo_size = s->demo.size;
    t.agent = s->agent.size ? replay_sumtree_total(s->agent.tree) : 0.0;
    if (s->demo.size) {
        t.demo = replay_sumtree_total(s->demo.tree);
        t.demo_bonus = replay_sumtree_total(s->demo.bonus_tree);
    }
    return t;
}

replay_store_counters replay_store_counters_get(const replay_store *s)
{
    return s->counters;
}

void replay_store_priority_hist(const replay_store *s, uint64_t hist[REPLAY_PRIORITY_BINS])
{
    memcpy(hist, s->hist, sizeof s->hist);
}

const obs_spec *replay_store_spec(const replay_store *s)
{
    return &s->cfg.spec;
}

uint32_t replay_store_heads(const replay_store *s)
{
    return s->n_heads;
}

size_t replay_store_footprint(const replay_store *s)
{
    return sizeof *s + s->cfg.max_batch * sizeof *s->idx + part_footprint(&s->agent) +
           part_footprint(&s->demo);
}

size_t replay_store_capacity(const replay_store *s)
{
    return s->agent.cap;
}

size_t replay_store_demo_capacity(const replay_store *s)
{
    return s->demo.cap;
}

/* Checkpoint body. Columns of the occupied slots [0, size) only; see struct part. */
#define STORE_MAGIC 0x53524853u /* "SHRS" */

static int part_io(const replay_store *s, const part *p, replay_cio *io, bool load,
                   shoal_err *err)
{
    size_t n = p->size, ob = s->cfg.spec.bytes;
    struct {
        void *data;
        size_t bytes;
    } cols[] = {
        {p->obs, n * ob},
        {p->next_obs, n * ob},
        {p->action, n * sizeof *p->action},
        {p->reward, n * sizeof *p->reward},
        {p->discount, n * sizeof *p->discount},
        {p->mask, n * sizeof *p->mask},
        {p->priority, n * sizeof *p->priority},
        {p->gen, n * sizeof *p->gen},
    };
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        int rc = load ? replay_cio_read(io, cols[c].data, cols[c].bytes, err)
                      : replay_cio_write(io, cols[c].data, cols[c].bytes, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    return SHOAL_OK;
}

int replay_store_save(const replay_store *s, replay_cio *io, shoal_err *err)
{
    const replay_store_counters *c = &s->counters;
    const uint64_t head[] = {
        s->cfg.spec.shape.h, s->cfg.spec.shape.w, s->cfg.spec.shape.c, s->cfg.spec.dtype,
        s->agent.cap, s->agent.size, s->agent.head, s->demo.size, s->n_heads,
        c->inserted, c->demo_inserted, c->sampled, c->demo_sampled, c->updates, c->stale_updates,
        s->rng.s[0], s->rng.s[1], s->rng.s[2], s->rng.s[3],
    };
    int rc = replay_cio_write_u32(io, STORE_MAGIC, err);
    for (size_t i = 0; rc == SHOAL_OK && i < sizeof head / sizeof head[0]; i++) {
        rc = replay_cio_write_u64(io, head[i], err);
    }
    if (rc == SHOAL_OK) {
        rc = part_io(s, &s->agent, io, false, err);
    }
    if (rc == SHOAL_OK) {
        rc = part_io(s, &s->demo, io, false, err);
    }
    return rc;
}

static int load_body(replay_store *s, replay_cio *io, shoal_err *err)
{
    uint32_t magic;
    uint64_t h[19];
    int rc = replay_cio_read_u32(io, &magic, err);
    for (size_t i = 0; rc == SHOAL_OK && i < 19; i++) {
        rc = replay_cio_read_u64(io, &h[i], err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (magic != STORE_MAGIC) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: store section not found (bad magic)",
                             io->what);
    }
    const obs_spec *sp = &s->cfg.spec;
    if (h[0] != sp->shape.h || h[1] != sp->shape.w || h[2] != sp->shape.c || h[3] != sp->dtype) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s holds observations %llux%llux%llu dtype %llu; "
                             "this shard is configured for %ux%ux%u dtype %u", io->what,
                             (unsigned long long)h[0], (unsigned long long)h[1],
                             (unsigned long long)h[2], (unsigned long long)h[3], sp->shape.h,
                             sp->shape.w, sp->shape.c, (unsigned)sp->dtype);
    }
    if (h[4] != s->agent.cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s holds a ring of capacity %llu; replay.capacity "
                             "is %zu (set it back, or move the checkpoint away to start empty)",
                             io->what, (unsigned long long)h[4], s->agent.cap);
    }
    if (h[5] > h[4] || h[6] >= h[4] || h[8] > REPLAY_MAX_HEADS) {
        return shoal_err_set(err, SHOAL_ECORRUPT, "%s: ring size %llu / head %llu inconsistent "
                             "with capacity %llu", io->what, (unsigned long long)h[5],
                             (unsigned long long)h[6], (unsigned long long)h[4]);
    }
    if (h[7] > s->demo.cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s holds %llu demonstrations; the demo store has "
                             "room for %zu (raise replay.demo_capacity)", io->what,
                             (unsigned long long)h[7], s->demo.cap);
    }
    s->agent.size = h[5];
    s->agent.head = h[6];
    s->demo.size = h[7];
    s->demo.head = s->demo.cap ? h[7] % s->demo.cap : 0;
    s->n_heads = (uint32_t)h[8];
    replay_store_counters *c = &s->counters;
    c->inserted = h[9];
    c->demo_inserted = h[10];
    c->sampled = h[11];
    c->demo_sampled = h[12];
    c->updates = h[13];
    c->stale_updates = h[14];
    for (size_t i = 0; i < 4; i++) {
        s->rng.s[i] = h[15 + i];
    }
    rc = part_io(s, &s->agent, io, true, err);
    if (rc == SHOAL_OK) {
        rc = part_io(s, &s->demo, io, true, err);
    }
    return rc;
}

static int rebuild_trees(replay_store *s, part *p, const char *what, shoal_err *err)
{
    if (check_priorities(p->priority, p->size, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "%s: %s store", what, p == &s->demo ? "demo" : "agent");
    }
    for (size_t i = 0; i < p->size; i++) {
        set_leaves(s, p, i);
        hist_move(s, p, -1.0, p->priority[i]);
    }
    return SHOAL_OK;
}

int replay_store_load(replay_store *s, replay_cio *io, shoal_err *err)
{
    replay_store_clear(s);
    int rc = load_body(s, io, err);
    if (rc == SHOAL_OK) {
        rc = rebuild_trees(s, &s->agent, io->what, err);
    }
    if (rc == SHOAL_OK) {
        rc = rebuild_trees(s, &s->demo, io->what, err);
    }
    if (rc != SHOAL_OK) {
        replay_store_clear(s);
        rng_init(&s->rng, s->cfg.seed, RNG_ROLE_REPLAY, s->cfg.shard, 0);
    }
    return rc;
}

replay_sample *replay_sample_new(size_t max_batch, size_t obs_bytes, shoal_err *err)
{
    replay_sample *x = calloc(1, sizeof *x);
    if (!x) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a sample buffer");
        return NULL;
    }
    x->max_batch = max_batch;
    x->obs_bytes = obs_bytes;
    x->key = malloc(max_batch * sizeof *x->key);
    x->shard = malloc(max_batch * sizeof *x->shard);
    x->weight = malloc(max_batch * sizeof *x->weight);
    x->leaf = malloc(max_batch * sizeof *x->leaf);
    x->obs = malloc(max_batch * obs_bytes + 1);
    x->next_obs = malloc(max_batch * obs_bytes + 1);
    x->action = malloc(max_batch * sizeof *x->action);
    x->reward = malloc(max_batch * sizeof *x->reward);
    x->discount = malloc(max_batch * sizeof *x->discount);
    x->mask = malloc(max_batch * sizeof *x->mask);
    x->demo = malloc(max_batch * sizeof *x->demo);
    x->label = calloc(max_batch, sizeof *x->label);
    if (!x->label || !x->key || !x->shard || !x->weight || !x->leaf || !x->obs || !x->next_obs || !x->action || !x->reward ||
        !x->discount || !x->mask || !x->demo) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate a sample buffer for %zu transitions",
                      max_batch);
        replay_sample_free(x);
        return NULL;
    }
    return x;
}

void replay_sample_free(replay_sample *x)
{
    if (!x) {
        return;
    }
    free(x->key);
    free(x->shard);
    free(x->weight);
    free(x->leaf);
    free(x->obs);
    free(x->next_obs);
    free(x->action);
    free(x->reward);
    free(x->discount);
    free(x->mask);
    free(x->demo);
    free(x->label);
    free(x);
}
