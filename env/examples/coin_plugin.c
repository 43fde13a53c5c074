/* An example environment plugin for shoal: "example/coin", a 1 x W strip where a coin
 * appears in a random cell; the agent walks left or right and earns 1 when it reaches the
 * coin, which then reappears elsewhere. Episodes end after 3 coins. It needs only the plugin
 * header of an installed shoal (<shoal/env_plugin.h>, which documents the ABI):
 *
 *     cc -std=c11 -shared -fPIC $(pkg-config --cflags shoal-plugin) -o libcoin.so coin_plugin.c
 *     shoal env stats example/coin --plugin ./libcoin.so --policy expert --episodes 10 --seed 1
 */
#include <shoal/env_plugin.h>
#include <stdlib.h>

typedef struct coin {
    int width, pos, coin, collected;
} coin;

/* Set by shoal_env_plugin before any game function runs. */
static const env_host *host;

static void *create(const double *params, int ramping, env_shape *shape, shoal_err *err)
{
    (void)ramping;
    coin *c = calloc(1, sizeof *c);
    if (!c) {
        host->fail(err, "example/coin: out of memory");
        return NULL;
    }
    c->width = (int)params[0]; /* whole and in [2, 64]: shoal checked it against params[] */
    *shape = (env_shape){1, (uint32_t)c->width, 2};
    return c;
}

static void place_coin(coin *c, env_rand *r)
{
    do {
        c->coin = (int)host->integer(r, 0, c->width);
    } while (c->coin == c->pos);
}

static void reset(void *state, env_rand *r)
{
    coin *c = state;
    c->pos = 0;
    c->collected = 0;
    place_coin(c, r);
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    coin *c = state;
    c->pos += a == 1 ? 1 : -1;
    c->pos = c->pos < 0 ? 0 : c->pos >= c->width ? c->width - 1 : c->pos;
    if (c->pos != c->coin) {
        return 0;
    }
    if (++c->collected == 3) {
        *terminal = 1;
    } else {
        place_coin(c, r);
    }
    return 1;
}

/* uint8 (1, W, 2): channel 0 the agent, channel 1 the coin. */
static void observe(const void *state, uint8_t *obs)
{
    const coin *c = state;
    obs[c->pos * 2] = 1;
    obs[c->coin * 2 + 1] = 1;
}

static uint32_t expert(const void *state, env_rand *r)
{
    (void)r;
    const coin *c = state;
    return c->coin > c->pos ? 1 : 0;
}

static const char *const names[] = {"left", "right"};
static const uint32_t minimal[] = {0, 1};
static const env_param_def params[] = {
    {"width", 8, 2, 64, 1, "cells in the strip"},
};

static const env_game game = {
    .name = "example/coin",
    .summary = "example plugin: walk to the coin, three coins per episode",
    .dtype = ENV_DTYPE_UINT8,
    .n_native_actions = 2,
    .action_names = names,
    .n_minimal_actions = 2,
    .minimal_actions = minimal,
    .glyphs = "@$",
    .n_params = 1,
    .params = params,
    .create = create,
    .destroy = free,
    .reset = reset,
    .step = step,
    .observe = observe,
    .expert = expert,
};

/* The one exported symbol (declared in the header): the ABI version this file was compiled
 * for, which shoal checks before it touches a game, and the games. */
const env_plugin *shoal_env_plugin(const env_host *h)
{
    static const env_game *const games[] = {&game};
    static const env_plugin plugin = {
        .abi_major = SHOAL_ENV_ABI_MAJOR,
        .abi_minor = SHOAL_ENV_ABI_MINOR,
        .n_games = sizeof games / sizeof games[0],
        .games = games,
    };
    host = h;
    return &plugin;
}
