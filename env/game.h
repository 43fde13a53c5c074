/* One environment's rules behind a table of functions: the contract between the env wrapper
 * (env/env.h) and a game, built in or loaded from a plugin (env/plugin.h). The table and its
 * types are the plugin ABI, env/plugin_abi.h (installed as <shoal/env_plugin.h>); this header
 * adds what the built-in games share: shoal's error, observation and random-number types
 * (plugins reach the last two only through env_host) and helpers for packed observations.
 *
 * A game owns its state (create/destroy) and knows nothing of sticky actions, time limits,
 * action subsets or seeding policy: the wrapper does those the same way for every game. A game
 * acts on *native* actions (MinAtar's six indices for the MinAtar games); the wrapper maps the
 * agent's action index through `minimal_actions`. Observations are written into a buffer the
 * wrapper has already zeroed, as packed bits (OBS_DTYPE_BIT: value (row*W + col)*C + channel
 * is bit i, byte i/8, LSB first) or one byte per value (OBS_DTYPE_UINT8), row-major (H, W, C).
 * step, reset and observe never allocate.
 *
 *     void *s = g->create(params, 1, &shape, &err);
 *     g->reset(s, &rand);
 *     float r = g->step(s, 3, &rand, &terminal);  g->observe(s, obs);
 */
#ifndef SHOAL_ENV_GAME_H
#define SHOAL_ENV_GAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/obs.h"
#include "env/plugin_abi.h"
#include "env/rand.h"

/* Sets value (y, x, ch) of a packed 10-column observation with n_ch channels. */
static inline void env_bit_set(uint8_t *obs, int n_ch, int y, int x, int ch)
{
    unsigned i = (unsigned)((y * 10 + x) * n_ch + ch);
    obs[i >> 3] |= (uint8_t)(1u << (i & 7u));
}

/* Five cells' bits (bit x = cell x) spread C bits apart, for C = 4 and C = 6: the layouts
 * whose whole 10-cell row fits one 64-bit word (generated, bit x -> bit x*C). */
static const uint32_t env_spread5_c4[32] = {
    0x0u, 0x1u, 0x10u, 0x11u, 0x100u, 0x101u, 0x110u, 0x111u, 0x1000u, 0x1001u, 0x1010u,
    0x1011u, 0x1100u, 0x1101u, 0x1110u, 0x1111u, 0x10000u, 0x10001u, 0x10010u, 0x10011u,
    0x10100u, 0x10101u, 0x10110u, 0x10111u, 0x11000u, 0x11001u, 0x11010u, 0x11011u, 0x11100u,
    0x11101u, 0x11110u, 0x11111u};
static const uint32_t env_spread5_c6[32] = {
    0x0u, 0x1u, 0x40u, 0x41u, 0x1000u, 0x1001u, 0x1040u, 0x1041u, 0x40000u, 0x40001u, 0x40040u,
    0x40041u, 0x41000u, 0x41001u, 0x41040u, 0x41041u, 0x1000000u, 0x1000001u, 0x1000040u,
    0x1000041u, 0x1001000u, 0x1001001u, 0x1001040u, 0x1001041u, 0x1040000u, 0x1040001u,
    0x1040040u, 0x1040041u, 0x1041000u, 0x1041001u, 0x1041040u, 0x1041041u};

/* mask's 10 bits (bit x = column x) spread n_ch bits apart: bit x -> bit x * n_ch. */
static inline uint64_t env_spread10(uint32_t mask, int n_ch)
{
    if (n_ch == 4) {
        return env_spread5_c4[mask & 31u] | (uint64_t)env_spread5_c4[(mask >> 5) & 31u] << 20;
    }
    if (n_ch == 6) {
        return env_spread5_c6[mask & 31u] | (uint64_t)env_spread5_c6[(mask >> 5) & 31u] << 30;
    }
    uint64_t v = 0;
    for (int x = 0; x < 10; x++) {
        v |= (uint64_t)((mask >> x) & 1u) << (x * n_ch);
    }
    return v;
}

/* Stores v at p (unaligned) as 8 little-endian bytes: bit i of v is bit i % 8 of p[i / 8], the
 * packed observations' bit order. */
static inline void env_store_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (unsigned k = 0; k < 8; k++) {
        p[k] = (uint8_t)(v >> (8 * k));
    }
#endif
}

/* Stores a whole packed 10 x 10 observation of n_ch <= 6 channels from its ten row words
 * (rows[y]: cell x's channel c at bit x * n_ch + c), with plain 8-byte stores and no read of
 * obs. Games that know every row build them in registers and store once: ORing rows or bits
 * into the output one by one reads back bytes just written by wider or overlapping stores, and
 * each such read waits for the store (a failed store-to-load forward). With n_ch constant
 * the loop unrolls into straight code. */
static inline void env_rows_store(uint8_t *obs, int n_ch, const uint64_t *rows)
{
    const unsigned row_bits = 10u * (unsigned)n_ch;
    uint64_t acc = 0;
    unsigned used = 0; /* bits of acc filled */
    uint8_t *p = obs;
    for (int y = 0; y < 10; y++) {
        acc |= rows[y] << used;
        if (used + row_bits >= 64) {
            env_store_le64(p, acc);
            p += 8;
            acc = used ? rows[y] >> (64 - used) : 0;
            used = used + row_bits - 64;
        } else {
            used += row_bits;
        }
    }
    for (unsigned k = 0; k < (used + 7) / 8; k++) {
        p[k] = (uint8_t)(acc >> (8 * k));
    }
}

/* Set bits of a 16-bit value (portable: no popcnt instruction is assumed). */
static inline int env_popcount16(uint32_t v)
{
    v = v - ((v >> 1) & 0x5555u);
    v = (v & 0x3333u) + ((v >> 2) & 0x3333u);
    v = (v + (v >> 4)) & 0x0f0fu;
    return (int)((v + (v >> 8)) & 0x1fu);
}

#endif
