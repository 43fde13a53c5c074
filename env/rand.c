#include "env/rand.h"

#include <assert.h>

void env_rand_seed(env_rand *r, env_rand_kind kind, uint64_t seed)
{
    r->kind = kind;
    if (kind == ENV_RAND_XOSHIRO) {
        rng_init(&r->x, seed, RNG_ROLE_ENV, 0, 0);
        return;
    }
    uint32_t s = (uint32_t)(seed ^ (seed >> 32));
    r->mt[0] = s;
    for (uint32_t i = 1; i < ENV_MT_N; i++) {
        uint32_t prev = r->mt[i - 1];
        r->mt[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    r->mt_i = ENV_MT_N;
}

/* The standard MT19937 state transition, done for all 624 words at once. */
static void twist(uint32_t *mt)
{
    enum { M = 397 };
    const uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
    int i = 0;
    for (; i < ENV_MT_N - M; i++) {
        uint32_t y = (mt[i] & upper) | (mt[i + 1] & lower);
        mt[i] = mt[i + M] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    for (; i < ENV_MT_N - 1; i++) {
        uint32_t y = (mt[i] & upper) | (mt[i + 1] & lower);
        mt[i] = mt[i + M - ENV_MT_N] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    uint32_t y = (mt[ENV_MT_N - 1] & upper) | (mt[0] & lower);
    mt[ENV_MT_N - 1] = mt[M - 1] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
}

void env_rand_mt_twist(env_rand *r)
{
    twist(r->mt);
    r->mt_i = 0;
}

int64_t env_rand_int(env_rand *r, int64_t low, int64_t high)
{
    assert(high > low);
    uint64_t range = (uint64_t)(high - low - 1);
    if (range == 0) {
        return low; /* numpy draws nothing for a one-value range */
    }
    if (r->kind == ENV_RAND_XOSHIRO) {
        return low + (int64_t)rng_below(&r->x, range + 1);
    }
    /* Our games never ask for ranges of 2^32 values or more; numpy would switch to 64-bit
     * draws there. */
    assert(range <= 0xffffffffu);
    uint32_t mask = (uint32_t)range;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    do {
        v = env_rand_mt_u32(r) & mask;
    } while (v > range);
    return low + (int64_t)v;
}
