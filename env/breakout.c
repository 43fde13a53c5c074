/* MinAtar Breakout, specs/minatar.md §3.1. */
#include <stdbool.h>
#include <stdlib.h>

#include "env/games.h"
#include "env/minatar_state.h"


/* dir: 0 up-left, 1 up-right, 2 down-right, 3 down-left. flip-x is dir ^ 1, flip-y is
 * 3 - dir, flip-both is dir ^ 2. */
static const int dir_dx[4] = {-1, 1, 1, -1};
static const int dir_dy[4] = {-1, -1, 1, 1};

static void fill_bricks(breakout *b)
{
    b->bricks[1] = b->bricks[2] = b->bricks[3] = 0x3ff;
}

static bool no_bricks(const breakout *b)
{
    uint16_t any = 0;
    for (int y = 0; y < 10; y++) {
        any |= b->bricks[y];
    }
    return any == 0;
}

ENV_MINATAR_CREATE(breakout, 4, "minatar/breakout", ENV_MINATAR_NO_RAMPING)

static void reset(void *state, env_rand *r)
{
    breakout *b = state;
    int side = (int)env_rand_int(r, 0, 2);
    b->bx = side == 0 ? 0 : 9;
    b->by = 3;
    b->dir = side == 0 ? 2 : 3;
    b->pos = 4;
    for (int y = 0; y < 10; y++) {
        b->bricks[y] = 0;
    }
    fill_bricks(b);
    b->strike = false;
    b->lx = b->bx;
    b->ly = b->by;
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    (void)r;
    breakout *b = state;
    float reward = 0;
    b->pos = env_clamp(b->pos + env_minatar_dx[a], 0, 9);
    b->lx = b->bx;
    b->ly = b->by;
    int nx = b->bx + dir_dx[b->dir];
    int ny = b->by + dir_dy[b->dir];
    bool touched = false;
    if (nx < 0 || nx > 9) {
        nx = nx < 0 ? 0 : 9;
        b->dir ^= 1;
    }
    if (ny < 0) {
        ny = 0;
        b->dir = 3 - b->dir;
    } else if (b->bricks[ny] & (1u << nx)) {
        touched = true;
        /* Tunnelling quirk: a brick touched right after a hit is neither broken nor
         * bounced off (spec §3.1). */
        if (!b->strike) {
            reward = 1;
            b->strike = true;
            b->bricks[ny] &= (uint16_t)~(1u << nx);
            ny = b->by;
            b->dir = 3 - b->dir;
        }
    } else if (ny == 9) {
        if (no_bricks(b)) {
            fill_bricks(b);
        }
        if (b->bx == b->pos) {
            b->dir = 3 - b->dir;
            ny = b->by;
        } else if (nx == b->pos) {
            b->dir ^= 2;
            ny = b->by;
        } else {
            *terminal = 1;
        }
    }
    if (!touched) {
        b->strike = false;
    }
    b->bx = nx;
    b->by = ny;
    return reward;
}

static void observe(const void *state, uint8_t *obs)
{
    const breakout *b = state;
    uint64_t rows[10] = {0};
    rows[9] = (uint64_t)1 << (b->pos * 4);
    rows[b->by] |= (uint64_t)1 << (b->bx * 4 + 1);
    rows[b->ly] |= (uint64_t)1 << (b->lx * 4 + 2);
    for (int y = 1; y < 4; y++) {
        rows[y] |= env_spread10(b->bricks[y], 4) << 3;
    }
    env_rows_store(obs, 4, rows);
}

/* Where the ball will cross row 8 (the paddle bounce row), following wall reflections. */
static int landing_column(const breakout *b)
{
    int x = b->bx, y = b->by, dx = dir_dx[b->dir], dy = dir_dy[b->dir];
    if (dy < 0) {
        /* Going up: it comes back down at least as far as it goes up (ceiling or brick). */
        return x;
    }
    while (y < 8) {
        x += dx;
        if (x < 0 || x > 9) {
            x = x < 0 ? 0 : 9;
            dx = -dx;
        }
        y++;
    }
    return x;
}

/* Tracks the ball: moves the paddle under the column where the ball will reach row 8, or
 * under the ball while it rises. */
static uint32_t expert(const void *state, env_rand *r)
{
    (void)r;
    const breakout *b = state;
    int target = landing_column(b);
    if (b->by == 8 && dir_dy[b->dir] > 0) {
        /* About to land: the paddle must be under the landing column. */
        int nx = b->bx + dir_dx[b->dir];
        target = nx < 0 ? 0 : nx > 9 ? 9 : nx;
    }
    if (target < b->pos) {
        return MINATAR_LEFT;
    }
    if (target > b->pos) {
        return MINATAR_RIGHT;
    }
    return MINATAR_NOOP;
}

static const uint32_t minimal[] = {MINATAR_NOOP, MINATAR_LEFT, MINATAR_RIGHT};

const env_game env_game_breakout = {
    ENV_MINATAR_GAME,
    .name = "minatar/breakout",
    .summary = "MinAtar Breakout: 10x10x4 bits, 3 actions, bounce the ball into the bricks",
    .n_minimal_actions = 3,
    .minimal_actions = minimal,
    .has_ramping = 0,
    .glyphs = "=o.#",
    .create = create,
    .reset = reset,
    .step = step,
    .observe = observe,
    .expert = expert,
};
