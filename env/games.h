/* The built-in games (internal to env/): each is a static env_game table defined in its own
 * file, registered by env/registry.c. The MinAtar games follow specs/minatar.md section by
 * section; DeepSea and Chain follow specs/algorithms.md §4.1 and §3.5. */
#ifndef SHOAL_ENV_GAMES_H
#define SHOAL_ENV_GAMES_H

#include <stddef.h>
#include <stdint.h>

#include "env/game.h"

/* MinAtar's own action indices (specs/minatar.md §2.1). */
enum {
    MINATAR_NOOP = 0,
    MINATAR_LEFT = 1,
    MINATAR_UP = 2,
    MINATAR_RIGHT = 3,
    MINATAR_DOWN = 4,
    MINATAR_FIRE = 5,
    MINATAR_N_ACTIONS = 6,
};

extern const char *const env_minatar_action_names[MINATAR_N_ACTIONS];

/* Column and row change of each native action (fire and no-op: none). Games move with these
 * and clamp, instead of an if-chain on the action: agents' actions are as good as random to a
 * branch predictor. */
extern const int8_t env_minatar_dx[MINATAR_N_ACTIONS];
extern const int8_t env_minatar_dy[MINATAR_N_ACTIONS];

/* v clamped into [lo, hi]. */
static inline int env_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The table fields every MinAtar game shares: packed bits, MinAtar's six native actions,
 * sticky actions, state freed with free(). */
#define ENV_MINATAR_GAME                                                                     \
    .dtype = ENV_DTYPE_BIT, .n_native_actions = MINATAR_N_ACTIONS,                           \
    .action_names = env_minatar_action_names,                                                \
    .sticky_actions = 1, .destroy = free

/* ramping_offset of a MinAtar game whose state has no ramping field. */
#define ENV_MINATAR_NO_RAMPING SIZE_MAX

/* A zeroed MinAtar state of `bytes` bytes with a 10 x 10 x n_channels observation; unless
 * ramping_offset is ENV_MINATAR_NO_RAMPING, the state's bool at that offset holds the ramping
 * option. NULL with ENOMEM naming the game. */
void *env_minatar_state_new(size_t bytes, uint32_t n_channels, const char *name,
                            size_t ramping_offset, int ramping, env_shape *shape, shoal_err *err);

/* Defines a MinAtar game file's static create() (env_game.create). The plugin ABI's create
 * carries no game, so each game needs a function of its own; they differ only in these
 * arguments, hence one definition for all:
 *
 *     ENV_MINATAR_CREATE(asterix, 4, "minatar/asterix", offsetof(asterix, ramping))
 */
#define ENV_MINATAR_CREATE(state_type, n_channels, name, ramping_offset)                     \
    static void *create(const double *params, int ramping, env_shape *shape, shoal_err *err) \
    {                                                                                        \
        (void)params;                                                                        \
        return env_minatar_state_new(sizeof(state_type), n_channels, name, ramping_offset,   \
                                     ramping, shape, err);                                   \
    }

extern const env_game env_game_breakout;
extern const env_game env_game_asterix;
extern const env_game env_game_freeway;
extern const env_game env_game_seaquest;
extern const env_game env_game_space_invaders;
extern const env_game env_game_deepsea;
extern const env_game env_game_chain;

#endif
