/* Replays a MinAtar golden trace (format: shared/fixtures/minatar/README.md) against our
 * games and reports the first difference: the step, and for observations the (row, column,
 * channel) cells that differ. Used by `shoal env check-trace` and the tests.
 *
 *     env_trace_result res;
 *     if (env_trace_check(NULL, "breakout-random-s0.trace", &res, &err) == SHOAL_OK && !res.match)
 *         puts(res.detail);
 */
#ifndef SHOAL_ENV_TRACE_H
#define SHOAL_ENV_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "env/env.h"

typedef struct env_trace_result {
    bool match;          /* every line agreed */
    uint64_t n_steps;    /* S lines checked */
    uint64_t n_episodes; /* R lines checked */
    char detail[768];    /* the first difference, "" when match */
} env_trace_result;

/* Replays the trace at path with the games of reg (NULL: built-ins). Returns SHOAL_OK when the
 * file was replayed to the end or to its first difference (see res->match); ENOTFOUND/EIO for
 * an unreadable file and EINVAL with file:line for a malformed one. */
int env_trace_check(const env_registry *reg, const char *path, env_trace_result *res,
                    shoal_err *err);

/* The fixtures' observation hash: 64-bit FNV-1a over the H*W*C values as bytes. */
uint64_t env_obs_fnv1a(const void *obs, obs_shape shape, obs_dtype dtype);

#endif
