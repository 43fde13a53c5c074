/* Exploration for a vector of E envs (specs/algorithms.md §2.3, §3.2, §3.4, §5.1). Given the
 * network's Q values (E, K, A) for the current observations, picks one action per env; draws
 * bootstrap masks for the transitions; and, with a count bonus, hashes observations and pays
 * β/sqrt(n).
 *
 * Strategies (config `[exploration] strategy`), and what composes:
 *   epsilon          ε-greedy with the Ape-X ladder ε_i = ε^(1 + α·i/(N−1)) over the global
 *                    actor index i of N (N = 1: ε). With K > 1 heads it is greedy on the mean
 *                    over heads.
 *   bootstrap        Bootstrapped DQN: at the start of every episode each env draws one head
 *                    uniformly and acts greedily with it for the whole episode; optional small
 *                    ε (bootstrap_epsilon) on top. Randomized priors need nothing here: the
 *                    network's Q already includes β·p_k (nn/qnet.h).
 *   count            SimHash counts (Tang et al. 2017) with ε-greedy acting from the ladder:
 *                    code = k sign bits of A·g(s), A ~ N(0,1) (k × D) drawn once from the run
 *                    seed (the same for every actor), counts in a hash table, bonus
 *                    β/sqrt(n) with n counted first.
 *   bootstrap+count  bootstrap acting plus the count bonus: the composition that makes sense
 *                    (deep exploration from heads, novelty from counts). epsilon+count is what
 *                    `count` is; epsilon+bootstrap is bootstrap with bootstrap_epsilon > 0.
 *   rnd              RND's novelty bonus (nn/rnd.h) with ε-greedy acting from the ladder: the
 *                    predictor's error on the observation, β·e/σ_R with σ_R the running std of
 *                    this actor's discounted intrinsic returns; the predictor and the
 *                    observation normaliser come from the learner with the parameters
 *                    (actor_explore_rnd is what the subscription writes into).
 *   bootstrap+rnd    bootstrap acting plus the RND bonus, as bootstrap+count.
 * Shared counts (exploration.counts = shared): the actor keeps the codes it visits since its
 * last batch (actor_explore_visits), sends them with the batch, and raises its counts to the
 * shard's totals that come back with the acknowledgement (actor_explore_heard), so a code
 * another actor of the shard visited is no longer novel here.
 * Bootstrap masks: with K > 1 heads every transition gets K bits drawn Bernoulli(mask_p),
 * whatever the strategy (the learner trains head k on the transitions with bit k).
 * The bonus of observation s_t is paid with the reward of the step taken from s_t (as the
 * reference #Exploration implementation adds it per visited observation) and the actor keeps
 * it separately as the episode's intrinsic return.
 *
 * The counts are a common/counts.h table of simhash_table slots, planned at start: when it is
 * 7/8 full, codes never seen before count as first visits (bonus β) and actor_explore_overflow
 * says how many such visits there were; size the table for the run. k <= 64 bits, so a code
 * is one uint64.
 *
 *     actor_explore *x = actor_explore_new(&xc, &err);
 *     actor_explore_episode_start(x, i);              // every env, at every episode start
 *     actor_explore_bonus(x, obs_f32, E, bonus);      // count strategies; before acting
 *     actor_explore_act(x, q, E, actions);
 *     uint32_t m = actor_explore_mask(x);
 */
#ifndef SHOAL_ACTOR_EXPLORE_H
#define SHOAL_ACTOR_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/counts.h"
#include "common/rng.h"
#include "nn/arch.h"
#include "nn/rnd.h"

#define ACTOR_SIMHASH_MAX_BITS 64

typedef enum actor_strategy {
    ACTOR_STRATEGY_EPSILON = 0,
    ACTOR_STRATEGY_BOOTSTRAP = 1,
    ACTOR_STRATEGY_COUNT = 2,
    ACTOR_STRATEGY_BOOTSTRAP_COUNT = 3,
    ACTOR_STRATEGY_RND = 4,
    ACTOR_STRATEGY_BOOTSTRAP_RND = 5,
} actor_strategy;

/* Plain data; actor_explore_config_from fills it from [exploration]. */
typedef struct actor_explore_config {
    actor_strategy strategy;
    double epsilon;           /* ladder base ε (0.4) */
    double alpha;             /* ladder exponent α (7) */
    double mask_p;            /* Bernoulli p of each mask bit */
    double bootstrap_epsilon; /* ε on top of head-greedy acting */
    uint32_t simhash_bits;    /* k, 1..64 */
    double bonus_beta;        /* β */
    size_t simhash_table;     /* hash table slots, a power of two */
    bool shared_counts;       /* exploration.counts = shared */
    nn_rnd_config rnd;        /* [rnd], with an RND strategy */
    /* Set by the actor, not the file: */
    nn_qnet_config net;       /* the Q-network's (RND builds on its input and convolutions) */
    double gamma;             /* discount of the intrinsic returns RND normalises by */
    size_t visit_cap;         /* codes kept between two batches (shared counts) */
    size_t n_envs, n_heads, n_actions;
    size_t obs_floats;        /* D = H*W*C, the length of g(s) */
    uint32_t actor_index, n_actors;
    uint64_t seed;            /* run seed */
} actor_explore_config;

/* The keys of [exploration], for cluster/schema.c. */
extern const config_key actor_explore_config_keys[];

/* Fills the file's fields of out from [exploration] (the others are zeroed). EINVAL for a
 * simhash_table that is not a power of two, naming the key. */
int actor_explore_config_from(const config *cfg, actor_explore_config *out, shoal_err *err);

/* ε_i = ε^(1 + α·i/(N−1)) for actor i of N (N = 1: ε). */
double actor_explore_ladder(double epsilon, double alpha, uint32_t i, uint32_t n);

/* Whether the strategy acts with one head per episode, and whether it pays a count bonus. */
bool actor_strategy_uses_heads(actor_strategy s);
bool actor_strategy_uses_counts(actor_strategy s);
bool actor_strategy_uses_rnd(actor_strategy s);

/* Parses "epsilon", "bootstrap", "count", "bootstrap+count", "rnd" or "bootstrap+rnd". EINVAL
 * lists them. */
int actor_strategy_parse(const char *name, actor_strategy *out, shoal_err *err);

typedef struct actor_explore actor_explore;

/* Builds the strategy: the ladder's ε, one rng stream per actor (seed, RNG_ROLE_ACTOR,
 * actor_index, 1), the SimHash projection from (seed, RNG_ROLE_ACTOR, 0xFFFFFFFF, 2) and the
 * table. Every env starts with head 0 until actor_explore_episode_start. NULL with EINVAL
 * (naming the field: bootstrap with one head, too many bits, ...) or ENOMEM. */
actor_explore *actor_explore_new(const actor_explore_config *c, shoal_err *err);

/* Frees x. NULL is fine. */
void actor_explore_free(actor_explore *x);

/* The ε this actor acts with (the ladder's, or bootstrap_epsilon with heads). */
double actor_explore_epsilon(const actor_explore *x);

/* A new episode starts in env i: draws its head uniformly from K (head strategies). */
void actor_explore_episode_start(actor_explore *x, size_t i);

/* The head env i acts with (0 without head strategies). */
uint32_t actor_explore_head(const actor_explore *x, size_t i);

/* One action per env for q (n, K, A), n <= n_envs: greedy on the env's head (or the mean over
 * heads), uniformly random with probability ε. */
void actor_explore_act(actor_explore *x, const float *q, size_t n, uint32_t *actions);

/* K bits, each set with probability mask_p (all K set for K <= 1 or p >= 1). */
uint32_t actor_explore_mask(actor_explore *x);

/* For n observations g (n, D) as floats: counts each one's code, then writes bonus[i] =
 * β/sqrt(n(code)). Zeros without a count strategy. Never allocates. */
void actor_explore_bonus(actor_explore *x, const float *g, size_t n, float *bonus);

/* SimHash code of one observation (D floats): bit j = 1 iff (A·g)_j > 0. */
uint64_t actor_explore_code(const actor_explore *x, const float *g);

/* Visits counted for code so far (0 if never). */
uint64_t actor_explore_count(const actor_explore *x, uint64_t code);

/* Distinct codes stored, and visits of new codes refused because the table was full. */
size_t actor_explore_codes(const actor_explore *x);
uint64_t actor_explore_overflow(const actor_explore *x);

/* Shared counts: the codes visited since actor_explore_visits_sent (valid until the next
 * bonus); after visit_cap of them further visits are not kept (counted in
 * actor_explore_visits_dropped). 0 without shared counts. */
size_t actor_explore_visits(const actor_explore *x, const uint64_t **codes);
void actor_explore_visits_sent(actor_explore *x);
uint64_t actor_explore_visits_dropped(const actor_explore *x);

/* Raises the count of each codes[i] to counts[i] (a shard's totals, which include this
 * actor's sent visits). */
void actor_explore_heard(actor_explore *x, const uint64_t *codes, const uint64_t *counts,
                         size_t n);

/* RND's networks and normaliser (NULL without an RND strategy), owned by x: the parameter
 * subscription writes the learner's predictor into it. */
nn_rnd *actor_explore_rnd(const actor_explore *x);

/* σ_R, the running std of discounted intrinsic returns RND's errors are divided by (0 without
 * RND). */
double actor_explore_intrinsic_std(const actor_explore *x);

#endif
