/* The environments' random source: MT19937 following numpy's legacy RandomState draw rules
 * (specs/minatar.md §2.4), which the MinAtar games need to reproduce the reference bit for
 * bit, or the project's xoshiro256** (common/rng.h) where only the distribution matters.
 *
 * One env_rand is shared by the sticky-action rule and the game, as in the reference. The
 * numpy rules: a double takes two 32-bit outputs ((a >> 5) * 2^26 + (b >> 6)) / 2^53; an
 * integer in [low, high) masks 32-bit outputs with the smallest 2^k - 1 covering high-low-1
 * and rejects values above it, consuming nothing when the range holds one value.
 *
 *     env_rand r;
 *     env_rand_seed(&r, ENV_RAND_MT19937, 0);
 *     double u = env_rand_double(&r);
 *     int64_t side = env_rand_int(&r, 0, 2);
 */
#ifndef SHOAL_ENV_RAND_H
#define SHOAL_ENV_RAND_H

#include <stdint.h>

#include "common/rng.h"

typedef enum env_rand_kind {
    ENV_RAND_MT19937 = 0, /* numpy RandomState: bit-exact MinAtar */
    ENV_RAND_XOSHIRO = 1, /* common/rng.h: faster, same distributions */
} env_rand_kind;

#define ENV_MT_N 624

/* mt_i and kind first: they follow the env's hot fields (env/env_impl.h) closely, which
 * matters when a vector of envs steps more states than the L1 cache holds. */
typedef struct env_rand {
    uint32_t mt_i; /* next word of mt to temper; ENV_MT_N means "twist first" */
    env_rand_kind kind;
    uint32_t mt[ENV_MT_N];
    rng x;
} env_rand;

/* Seeds r. MT19937 uses numpy's init_genrand on the low 32 bits of seed folded with the high
 * 32 (seed ^ seed >> 32), so seeds below 2^32 match numpy's `seed(s)` exactly; xoshiro uses the
 * stream (seed, RNG_ROLE_ENV, 0, 0). */
void env_rand_seed(env_rand *r, env_rand_kind kind, uint64_t seed);

/* Regenerates all 624 words (the MT19937 twist); called every 624 outputs. */
void env_rand_mt_twist(env_rand *r);

/* The next 32-bit MT19937 output (only for ENV_RAND_MT19937). Inline: the sticky-action rule
 * draws two of these on every step. */
static inline uint32_t env_rand_mt_u32(env_rand *r)
{
    if (r->mt_i >= ENV_MT_N) {
        env_rand_mt_twist(r);
    }
    uint32_t y = r->mt[r->mt_i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* Uniform double in [0, 1) (numpy `rand()` for MT19937). */
static inline double env_rand_double(env_rand *r)
{
    if (r->kind == ENV_RAND_MT19937) {
        uint32_t a = env_rand_mt_u32(r) >> 5;
        uint32_t b = env_rand_mt_u32(r) >> 6;
        return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
    }
    return rng_uniform(&r->x);
}

/* The 53 random bits of a double draw of MT19937: env_rand_double is this / 2^53, from the
 * same two outputs. */
static inline uint64_t env_rand_mt_u53(env_rand *r)
{
    uint64_t a = env_rand_mt_u32(r) >> 5;
    uint64_t b = env_rand_mt_u32(r) >> 6;
    return a << 26 | b;
}

/* The bound that turns `env_rand_double(r) < p` into `env_rand_mt_u53(r) < bound` for MT19937,
 * exactly: the double is u53 / 2^53 and p * 2^53 is exact, so for an integer u53 the test
 * u53 < p * 2^53 is u53 < ceil(p * 2^53). p in [0, 1]. */
static inline uint64_t env_rand_u53_bound(double p)
{
    double scaled = p * 9007199254740992.0;
    uint64_t bound = (uint64_t)scaled;
    return bound + ((double)bound < scaled);
}

/* Uniform integer in [low, high), high > low (numpy `randint(low, high)` for MT19937). */
int64_t env_rand_int(env_rand *r, int64_t low, int64_t high);

#endif
