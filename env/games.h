/* The built-in games (internal to env/): each is a static env_game table defined in its own
 * file, registered by env/registry.c. The MinAtar games follow specs/minatar.md section by
 * section; DeepSea and Chain follow specs/algorithms.md §4.1 and §3.5. */
#ifndef SHOAL_ENV_GAMES_H
#define SHOAL_ENV_GAMES_H

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
    .abi_version = ENV_GAME_ABI_VERSION, .dtype = OBS_DTYPE_BIT,                             \
    .n_native_actions = MINATAR_N_ACTIONS, .action_names = env_minatar_action_names,         \
    .sticky_actions = 1, .destroy = free

/* A zeroed MinAtar state of `bytes` bytes with a 10 x 10 x n_channels observation; NULL with
 * ENOMEM naming the game. */
void *env_minatar_state_new(size_t bytes, uint32_t n_channels, const char *name,
                            obs_shape *shape, shoal_err *err);

extern const env_game env_game_breakout;
extern const env_game env_game_asterix;
extern const env_game env_game_freeway;
extern const env_game env_game_seaquest;
extern const env_game env_game_space_invaders;
extern const env_game env_game_deepsea;
extern const env_game env_game_chain;

#endif
