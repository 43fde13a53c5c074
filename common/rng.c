#include "common/rng.h"

#include <assert.h>
#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_init(rng *r, uint64_t seed, uint32_t role, uint32_t rank, uint32_t index)
{
    assert(r);
    /* Chain the tuple through SplitMix64 so that neighbouring tuples (rank 1 vs 2) land on
     * unrelated states; feeding the mixed value forward makes the order of fields matter. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ ((uint64_t)role << 32 | rank);
    h = splitmix64(&x);
    x = h ^ (uint64_t)index;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1; /* the all-zero state is the one fixed point of xoshiro */
    }
}

uint64_t rng_u64(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng *r)
{
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

float rng_uniform_f(rng *r)
{
    return (float)(rng_u64(r) >> 40) * 0x1.0p-24f;
}

uint64_t rng_below(rng *r, uint64_t n)
{
    assert(n >= 1);
    __uint128_t m = (__uint128_t)rng_u64(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (__uint128_t)rng_u64(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_normal(rng *r)
{
    double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log stays finite */
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int rng_bernoulli(rng *r, double p)
{
    return rng_uniform(r) < p;
}

size_t rng_categorical(rng *r, const double *weights, size_t n)
{
    assert(n >= 1);
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        total += weights[i];
    }
    double u = rng_uniform(r) * total;
    size_t last_positive = 0;
    for (size_t i = 0; i < n; i++) {
        if (u < weights[i]) {
            return i;
        }
        u -= weights[i];
        if (weights[i] > 0.0) {
            last_positive = i;
        }
    }
    return last_positive; /* rounding left u just above the sum: never pick a zero weight */
}
