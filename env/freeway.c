/* MinAtar Freeway, specs/minatar.md §3.3. */
#include <stdbool.h>
#include <stdlib.h>

#include "env/games.h"
#include "env/minatar_state.h"

enum { PLAYER_SPEED = 3, TIME_LIMIT = 2500, N_CARS = FREEWAY_CARS };


ENV_MINATAR_CREATE(freeway, 7, "minatar/freeway", ENV_MINATAR_NO_RAMPING)

/* All 8 speeds are drawn before the 8 directions. A direction double of exactly 0.5 gives
 * velocity 0, as in the reference (probability 2^-53 per car). */
static void randomise(freeway *g, env_rand *r, bool initial)
{
    int speed[N_CARS];
    for (int i = 0; i < N_CARS; i++) {
        speed[i] = (int)env_rand_int(r, 1, 6);
    }
    for (int i = 0; i < N_CARS; i++) {
        double u = env_rand_double(r);
        int d = u > 0.5 ? 1 : u < 0.5 ? -1 : 0;
        freeway_car *c = &g->cars[i];
        c->v = speed[i] * d;
        c->timer = abs(c->v);
        if (initial) {
            c->x = 0;
        }
    }
}

static void reset(void *state, env_rand *r)
{
    freeway *g = state;
    randomise(g, r, true);
    g->pos = 9;
    g->move_timer = PLAYER_SPEED;
    g->terminate_timer = TIME_LIMIT;
}

/* Column x in -1..10 wrapped onto the grid. A table: GCC compiled the comparisons into
 * branches, which a car's position makes as good as random. */
static int wrap(int x)
{
    static const int8_t wrapped[12] = {9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0};
    return wrapped[x + 1];
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    freeway *g = state;
    float reward = 0;
    int dy = env_minatar_dy[a]; /* up -1, down +1, others 0 */
    int moves = (g->move_timer == 0) & (dy != 0);
    g->pos = env_clamp(g->pos + moves * dy, 0, 9); /* down at row 9 still spends the move */
    g->move_timer += moves * (PLAYER_SPEED - g->move_timer);
    if (g->pos == 0) {
        reward = 1;
        randomise(g, r, false);
        g->pos = 9;
    }
    /* Car i drives in row i + 1 and pos only ever changes to 9 (no car's row) here, so only
     * the car in the chicken's row can hit it: before its move or by moving onto column 4.
     * The motion itself is arithmetic: which cars move on a step is as good as random to a
     * branch predictor. */
    int k = g->pos - 1;
    int in_lane = (unsigned)k < N_CARS;
    k &= -in_lane;
    int hit = in_lane & (g->cars[k].x == 4);
    int k_moved = 0;
    for (int i = 0; i < N_CARS; i++) {
        freeway_car *c = &g->cars[i];
        int fire = c->timer == 0;
        k_moved |= fire & (i == k) & in_lane;
        c->x = wrap(c->x + fire * (2 * (c->v > 0) - 1));
        int mask = -fire;
        c->timer = (abs(c->v) & mask) | ((c->timer - 1) & ~mask);
    }
    hit |= k_moved & (g->cars[k].x == 4);
    g->pos += hit * (9 - g->pos);
    g->move_timer -= g->move_timer > 0;
    if (--g->terminate_timer < 0) {
        *terminal = 1;
    }
    return reward;
}

static void observe(const void *state, uint8_t *obs)
{
    const freeway *g = state;
    env_bit_set(obs, 7, g->pos, 4, 0);
    for (int i = 0; i < N_CARS; i++) {
        const freeway_car *c = &g->cars[i];
        env_bit_set(obs, 7, i + 1, c->x, 1);
        /* Freeway's trails wrap around the edge, unlike the other games'. A car of velocity 0
         * (a direction draw of exactly 0.5) has no trail: its bit lands in channel 1 on its
         * own cell, which is already set. */
        int right = (int)((unsigned)-c->v >> 31); /* v > 0, which GCC turned into a branch */
        int tx = wrap(c->x + 1 - 2 * right);
        int speed = abs(c->v);
        env_bit_set(obs, 7, i + 1, speed ? tx : c->x, 1 + speed);
    }
}

/* Whether the car of lane row will be on column 4 within the next `steps` steps. */
static bool lane_busy(const freeway *g, int row, int steps)
{
    if (row < 1 || row > 8) {
        return false;
    }
    const freeway_car *c = &g->cars[row - 1];
    int x = c->x, timer = c->timer;
    for (int t = 0; t <= steps; t++) {
        if (x == 4) {
            return true;
        }
        if (timer == 0) {
            timer = abs(c->v);
            x += c->v > 0 ? 1 : -1;
            x = x < 0 ? 9 : x > 9 ? 0 : x;
        } else {
            timer--;
        }
    }
    return false;
}

/* Crosses when the lane ahead stays clear while the chicken waits there for its next move;
 * steps back when its own lane is about to be hit. */
static uint32_t expert(const void *state, env_rand *r)
{
    (void)r;
    const freeway *g = state;
    if (g->move_timer > 0) {
        return MINATAR_NOOP;
    }
    if (!lane_busy(g, g->pos - 1, PLAYER_SPEED + 1)) {
        return MINATAR_UP;
    }
    if (lane_busy(g, g->pos, PLAYER_SPEED + 1) && !lane_busy(g, g->pos + 1, PLAYER_SPEED + 1)) {
        return MINATAR_DOWN;
    }
    return MINATAR_NOOP;
}

static const uint32_t minimal[] = {MINATAR_NOOP, MINATAR_UP, MINATAR_DOWN};

const env_game env_game_freeway = {
    ENV_MINATAR_GAME,
    .name = "minatar/freeway",
    .summary = "MinAtar Freeway: 10x10x7 bits, 3 actions, cross the road 2500 steps long",
    .n_minimal_actions = 3,
    .minimal_actions = minimal,
    .has_ramping = 0,
    .glyphs = "@C12345",
    .create = create,
    .reset = reset,
    .step = step,
    .observe = observe,
    .expert = expert,
};
