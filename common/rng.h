/* Random numbers: xoshiro256** (Blackman & Vigna, 2018), 256 bits of state, period 2^256 - 1,
 * passes BigCrush. Every consumer owns its own `rng` value; there is no global generator.
 *
 * Streams: rng_init(seed, role, rank, index) hashes the four numbers with SplitMix64 into the
 * state, so each (seed, role, rank, index) names one reproducible stream and distinct tuples
 * give statistically independent streams (the xoshiro authors' recommended seeding).
 *
 *     rng r;
 *     rng_init(&r, cfg_seed, RNG_ROLE_ACTOR, actor_index, env_index);
 *     double u = rng_uniform(&r);
 */
#ifndef SHOAL_COMMON_RNG_H
#define SHOAL_COMMON_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Role numbers for stream derivation; a part may use any other constant it documents. */
enum {
    RNG_ROLE_REPLAY = 1,
    RNG_ROLE_LEARNER = 2,
    RNG_ROLE_ACTOR = 3,
    RNG_ROLE_EVALUATOR = 4,
    RNG_ROLE_ENV = 5,
    RNG_ROLE_NET_INIT = 6,
    RNG_ROLE_TOOL = 7,
};

typedef struct rng {
    uint64_t s[4];
} rng;

/* Seeds r with the stream (seed, role, rank, index). */
void rng_init(rng *r, uint64_t seed, uint32_t role, uint32_t rank, uint32_t index);

/* Next 64 random bits. */
uint64_t rng_u64(rng *r);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(rng *r);

/* Uniform float in [0, 1) with 24 random bits. */
float rng_uniform_f(rng *r);

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire 2019). */
uint64_t rng_below(rng *r, uint64_t n);

/* Standard normal N(0, 1) (Box-Muller; two uniforms per call, no hidden spare). */
double rng_normal(rng *r);

/* 1 with probability p (p <= 0 gives 0, p >= 1 gives 1), else 0. */
int rng_bernoulli(rng *r, double p);

/* Index i in [0, n) with probability weights[i] / sum(weights); weights >= 0, sum > 0.
 * A zero weight is never chosen. */
size_t rng_categorical(rng *r, const double *weights, size_t n);

#endif
