/* MinAtar Space Invaders, specs/minatar.md §3.5. The three grids are kept as row bit masks
 * (bit x of row y is cell (y, x)), so moving bullets and aliens is a few shifts. */
#include <stdbool.h>
#include <stdlib.h>

#include "env/games.h"
#include "env/minatar_state.h"

enum { SHOT_COOL_DOWN = 5, ENEMY_MOVE_INTERVAL = 12, ENEMY_SHOT_INTERVAL = 10 };

#define WAVE_MASK 0xfcu /* columns 2..7 */


ENV_MINATAR_CREATE(invaders, 6, "minatar/space_invaders", offsetof(invaders, ramping))

static void new_wave(invaders *g)
{
    for (int y = 0; y < 4; y++) {
        g->alien[y] = WAVE_MASK;
    }
}

static void reset(void *state, env_rand *r)
{
    (void)r;
    invaders *g = state;
    *g = (invaders){.ramping = g->ramping};
    g->pos = 5;
    new_wave(g);
    g->adir = -1;
    g->move_interval = ENEMY_MOVE_INTERVAL;
    g->move_timer = ENEMY_MOVE_INTERVAL;
    g->shot_timer_alien = ENEMY_SHOT_INTERVAL;
}

static int count_aliens(const invaders *g, uint16_t *columns)
{
    int n = 0;
    uint16_t cols = 0;
    for (int y = 0; y < 10; y++) {
        n += env_popcount16(g->alien[y]);
        cols |= g->alien[y];
    }
    *columns = cols;
    return n;
}

static void move_aliens(invaders *g, int *terminal)
{
    uint16_t cols;
    int n = count_aliens(g, &cols);
    g->move_timer = n < g->move_interval ? n : g->move_interval;
    bool at_edge = (g->adir < 0 && (cols & 1u)) || (g->adir > 0 && (cols & 0x200u));
    if (at_edge) {
        g->adir = -g->adir;
        if (g->alien[9]) {
            *terminal = 1;
        }
        /* Row 9 wraps to row 0: visible in the terminal observation (spec §3.5 step 5). */
        uint16_t last = g->alien[9];
        for (int y = 9; y > 0; y--) {
            g->alien[y] = g->alien[y - 1];
        }
        g->alien[0] = last;
    } else {
        for (int y = 0; y < 10; y++) {
            g->alien[y] = (uint16_t)(g->adir < 0 ? g->alien[y] >> 1 : (g->alien[y] << 1) & 0x3ff);
        }
    }
}

/* Shoots from the lowest alien of the column nearest the cannon (ties: smaller column). */
static void alien_shot(invaders *g)
{
    uint16_t cols;
    count_aliens(g, &cols);
    for (int d = 0; d < 10; d++) {
        int c = g->pos - d;
        if (c < 0 || !(cols & (1u << c))) {
            c = g->pos + d;
            if (c > 9 || !(cols & (1u << c))) {
                continue;
            }
        }
        for (int y = 9; y >= 0; y--) {
            if (g->alien[y] & (1u << c)) {
                g->ebul[y] |= (uint16_t)(1u << c);
                return;
            }
        }
    }
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    (void)r;
    invaders *g = state;
    uint16_t cannon;
    float reward = 0;
    /* Without branches on the action (as good as random): fire does not move the cannon
     * (its dx is 0), and a shot starts only when the timer is 0. */
    unsigned fire = (a == MINATAR_FIRE) & (g->shot_timer == 0);
    g->fbul[9] |= (uint16_t)(fire << g->pos);
    g->shot_timer += (int)fire * SHOT_COOL_DOWN;
    g->pos = env_clamp(g->pos + env_minatar_dx[a], 0, 9);
    cannon = (uint16_t)(1u << g->pos);
    for (int y = 0; y < 9; y++) {
        g->fbul[y] = g->fbul[y + 1];
    }
    g->fbul[9] = 0;
    for (int y = 9; y > 0; y--) {
        g->ebul[y] = g->ebul[y - 1];
    }
    g->ebul[0] = 0;
    if ((g->ebul[9] & cannon) || (g->alien[9] & cannon)) {
        *terminal = 1;
    }
    if (g->move_timer == 0) {
        move_aliens(g, terminal);
        if (g->alien[9] & cannon) {
            *terminal = 1;
        }
    }
    if (g->shot_timer_alien == 0) {
        g->shot_timer_alien = ENEMY_SHOT_INTERVAL;
        alien_shot(g);
    }
    uint16_t any = 0;
    int n_hits = 0;
    for (int y = 0; y < 10; y++) {
        uint16_t hit = g->alien[y] & g->fbul[y];
        if (hit) {
            n_hits += env_popcount16(hit);
            g->alien[y] &= (uint16_t)~hit;
            g->fbul[y] &= (uint16_t)~hit;
        }
        any |= g->alien[y];
    }
    reward += (float)n_hits;
    g->shot_timer -= g->shot_timer > 0;
    g->move_timer--;
    g->shot_timer_alien--;
    if (!any) {
        if (g->ramping && g->move_interval > 6) {
            g->move_interval--;
            g->ramp_index++;
        }
        new_wave(g);
    }
    return reward;
}

/* Each row's six channels are built as one 60-bit word, and the rows stored at once
 * (env_rows_store). */
static void observe(const void *state, uint8_t *obs)
{
    const invaders *g = state;
    int dir_ch = g->adir < 0 ? 2 : 3;
    uint64_t rows[10];
    for (int y = 0; y < 10; y++) {
        uint64_t aliens = env_spread10(g->alien[y], 6);
        rows[y] = aliens << 1 | aliens << dir_ch | env_spread10(g->fbul[y], 6) << 4 |
                  env_spread10(g->ebul[y], 6) << 5;
    }
    rows[9] |= (uint64_t)1 << (g->pos * 6);
    env_rows_store(obs, 6, rows);
}

static int ramp_index(const void *state)
{
    return ((const invaders *)state)->ramp_index;
}

/* Dodges an enemy bullet about to land on the cannon, otherwise moves under the lowest
 * alien nearest to it and fires when an alien is above. */
static uint32_t expert(const void *state, env_rand *r)
{
    (void)r;
    const invaders *g = state;
    uint16_t danger = (uint16_t)(g->ebul[8] | g->ebul[7]);
    uint16_t here = (uint16_t)(1u << g->pos);
    if (danger & here) {
        if (g->pos > 0 && !(danger & (here >> 1))) {
            return MINATAR_LEFT;
        }
        return MINATAR_RIGHT;
    }
    uint16_t cols;
    count_aliens(g, &cols);
    if ((cols & here) && g->shot_timer == 0) {
        return MINATAR_FIRE;
    }
    int best = -1;
    for (int d = 0; d < 10 && best < 0; d++) {
        if (g->pos - d >= 0 && (cols & (1u << (g->pos - d)))) {
            best = g->pos - d;
        } else if (g->pos + d <= 9 && (cols & (1u << (g->pos + d)))) {
            best = g->pos + d;
        }
    }
    /* Lead the target: aliens drift in adir. */
    if (best >= 0) {
        int target = best + g->adir;
        target = target < 0 ? 0 : target > 9 ? 9 : target;
        uint16_t next = (uint16_t)(1u << (target < g->pos ? g->pos - 1 : g->pos + 1));
        if (target != g->pos && !(danger & next)) {
            return target < g->pos ? MINATAR_LEFT : MINATAR_RIGHT;
        }
    }
    return g->shot_timer == 0 && (cols & here) ? MINATAR_FIRE : MINATAR_NOOP;
}

static const uint32_t minimal[] = {MINATAR_NOOP, MINATAR_LEFT, MINATAR_RIGHT, MINATAR_FIRE};

const env_game env_game_space_invaders = {
    ENV_MINATAR_GAME,
    .name = "minatar/space_invaders",
    .summary = "MinAtar Space Invaders: 10x10x6 bits, 4 actions, shoot the descending aliens",
    .n_minimal_actions = 4,
    .minimal_actions = minimal,
    .has_ramping = 1,
    .glyphs = "A#<>|!",
    .create = create,
    .reset = reset,
    .step = step,
    .observe = observe,
    .ramp_index = ramp_index,
    .expert = expert,
};
