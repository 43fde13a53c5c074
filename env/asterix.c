/* MinAtar Asterix, specs/minatar.md §3.2. */
#include <stdbool.h>
#include <stdlib.h>

#include "env/games.h"
#include "env/minatar_state.h"

enum { RAMP_INTERVAL = 100, INIT_SPAWN_SPEED = 10, INIT_MOVE_SPEED = 5, N_SLOTS = ASTERIX_SLOTS };

ENV_MINATAR_CREATE(asterix, 4, "minatar/asterix", offsetof(asterix, ramping))

static void reset(void *state, env_rand *r)
{
    (void)r;
    asterix *g = state;
    g->px = 5;
    g->py = 5;
    for (int i = 0; i < N_SLOTS; i++) {
        g->slots[i] = (asterix_slot){0};
    }
    g->spawn_speed = INIT_SPAWN_SPEED;
    g->spawn_timer = INIT_SPAWN_SPEED;
    g->move_speed = INIT_MOVE_SPEED;
    g->move_timer = INIT_MOVE_SPEED;
    g->ramp_timer = RAMP_INTERVAL;
    g->ramp_index = 0;
}

/* The two doubles are drawn even when every slot is full (spec §3.2 step 1). */
static void spawn(asterix *g, env_rand *r)
{
    bool right = env_rand_double(r) < 0.5;
    bool gold = env_rand_double(r) < 1.0 / 3.0;
    /* Without a branch per slot: which slots are free is as good as random. */
    int empty[N_SLOTS];
    int n_empty = 0;
    for (int i = 0; i < N_SLOTS; i++) {
        empty[n_empty] = i;
        n_empty += !g->slots[i].active;
    }
    if (n_empty == 0) {
        return;
    }
    int k = (int)env_rand_int(r, 0, n_empty);
    g->slots[empty[k]] = (asterix_slot){.active = true, .right = right, .gold = gold, .x = right ? 0 : 9};
}

/* Gold on the player's cell is collected; an enemy there ends the episode and stays. Only
 * the slot of the player's row can share its cell. Arithmetic, not branches: whether an
 * entity is there is as good as random to a branch predictor. */
static float touch(asterix *g, int *terminal)
{
    asterix_slot *s = &g->slots[g->py - 1];
    bool hit = s->active & (s->x == g->px);
    bool gold = hit & s->gold;
    s->active = s->active & !gold;
    *terminal |= hit & !gold;
    return (float)gold;
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    asterix *g = state;
    float reward = 0;
    if (g->spawn_timer == 0) {
        spawn(g, r);
        g->spawn_timer = g->spawn_speed;
    }
    g->px = env_clamp(g->px + env_minatar_dx[a], 0, 9);
    g->py = env_clamp(g->py + env_minatar_dy[a], 1, 8);
    reward += touch(g, terminal);
    if (g->move_timer == 0) {
        g->move_timer = g->move_speed;
        /* Arithmetic over all slots (which are active and which way they go is as good as
         * random to a branch predictor); only the player's row can then touch it. */
        for (int i = 0; i < N_SLOTS; i++) {
            asterix_slot *s = &g->slots[i];
            s->x += s->active * (2 * s->right - 1);
            s->active = s->active & (s->x >= 0) & (s->x <= 9);
        }
        reward += touch(g, terminal);
    }
    g->spawn_timer--;
    g->move_timer--;
    if (g->ramping && (g->spawn_speed > 1 || g->move_speed > 1)) {
        if (g->ramp_timer >= 0) {
            g->ramp_timer--;
        } else {
            if (g->move_speed > 1 && (g->ramp_index & 1)) {
                g->move_speed--;
            }
            if (g->spawn_speed > 1) {
                g->spawn_speed--;
            }
            g->ramp_index++;
            g->ramp_timer = RAMP_INTERVAL;
        }
    }
    return reward;
}

/* Row word of a slot (row i + 1 belongs to slot i) for active, gold, right and x & 15: the
 * entity's bit in channel 1 (enemy) or 3 (gold) at column x, and its trail (channel 2) one
 * column behind when that is on the grid. An inactive slot's row is 0. Looked up from a
 * table built at compile time: computing the two variable shifts for each of the 8 slots was
 * a third of Asterix's step. */
#define SLOT_TX(r, x) (((unsigned)(x) + 1u - 2u * (unsigned)(r)) & 15u)
#define SLOT_ROW(on, g, r, x)                                                                \
    ((uint64_t)(on) << ((x) * 4u + 1u + 2u * (g)) |                                          \
     (uint64_t)((on) && SLOT_TX(r, x) <= 9u) << (SLOT_TX(r, x) * 4u + 2u))
#define SLOT_ROWS4(on, g, r, x)                                                              \
    SLOT_ROW(on, g, r, x), SLOT_ROW(on, g, r, x + 1), SLOT_ROW(on, g, r, x + 2),             \
        SLOT_ROW(on, g, r, x + 3)
#define SLOT_ROWS16(on, g, r)                                                                \
    SLOT_ROWS4(on, g, r, 0u), SLOT_ROWS4(on, g, r, 4u), SLOT_ROWS4(on, g, r, 8u),            \
        SLOT_ROWS4(on, g, r, 12u)
/* Index: active << 6 | gold << 5 | right << 4 | (x & 15). */
static const uint64_t slot_row[128] = {
    SLOT_ROWS16(0u, 0u, 0u), SLOT_ROWS16(0u, 0u, 1u), SLOT_ROWS16(0u, 1u, 0u),
    SLOT_ROWS16(0u, 1u, 1u), SLOT_ROWS16(1u, 0u, 0u), SLOT_ROWS16(1u, 0u, 1u),
    SLOT_ROWS16(1u, 1u, 0u), SLOT_ROWS16(1u, 1u, 1u)};

/* Each row is looked up whole and the rows stored at once (env_rows_store). */
static void observe(const void *state, uint8_t *obs)
{
    const asterix *g = state;
    uint64_t rows[10];
    rows[0] = rows[9] = 0;
    for (int i = 0; i < N_SLOTS; i++) {
        const asterix_slot *s = &g->slots[i];
        unsigned k = (unsigned)s->active << 6 | (unsigned)s->gold << 5 |
                     (unsigned)s->right << 4 | ((unsigned)s->x & 15u);
        rows[i + 1] = slot_row[k];
    }
    rows[g->py] |= (uint64_t)1 << (g->px * 4);
    env_rows_store(obs, 4, rows);
}

static int ramp_index(const void *state)
{
    return ((const asterix *)state)->ramp_index;
}

/* Whether an enemy could be on (x, y) after this step's entity move: it is there now, or it
 * is one column behind and moving in (only if entities move this step). */
static bool danger(const asterix *g, int x, int y)
{
    const asterix_slot *s = &g->slots[y - 1];
    if (!s->active || s->gold) {
        return false;
    }
    if (s->x == x) {
        return true;
    }
    int next = s->x + (s->right ? 1 : -1);
    return g->move_timer == 0 && next == x;
}

/* Picks the safe move that brings the player closest to the nearest gold; stays put when
 * nothing is safe, since standing still at least avoids walking into an enemy. */
static uint32_t expert(const void *state, env_rand *r)
{
    const asterix *g = state;
    static const int dx[5] = {0, -1, 0, 1, 0}, dy[5] = {0, 0, -1, 0, 1};
    static const uint32_t act[5] = {MINATAR_NOOP, MINATAR_LEFT, MINATAR_UP, MINATAR_RIGHT,
                                    MINATAR_DOWN};
    int best = -1;
    int best_cost = 1 << 30;
    for (int k = 0; k < 5; k++) {
        int x = g->px + dx[k], y = g->py + dy[k];
        x = x < 0 ? 0 : x > 9 ? 9 : x;
        y = y < 1 ? 1 : y > 8 ? 8 : y;
        if (danger(g, x, y)) {
            continue;
        }
        int cost = 100;
        for (int i = 0; i < N_SLOTS; i++) {
            const asterix_slot *s = &g->slots[i];
            if (s->active && s->gold) {
                int d = abs(s->x - x) + abs(i + 1 - y);
                cost = d < cost ? d : cost;
            }
        }
        /* Prefer the middle rows' neighbourhood of the current row when idle, with a random
         * tie-break so the expert's episodes vary. */
        cost = cost * 4 + (int)env_rand_int(r, 0, 3);
        if (cost < best_cost) {
            best_cost = cost;
            best = k;
        }
    }
    return best < 0 ? MINATAR_NOOP : act[best];
}

static const uint32_t minimal[] = {MINATAR_NOOP, MINATAR_LEFT, MINATAR_UP, MINATAR_RIGHT,
                                   MINATAR_DOWN};

const env_game env_game_asterix = {
    ENV_MINATAR_GAME,
    .name = "minatar/asterix",
    .summary = "MinAtar Asterix: 10x10x4 bits, 5 actions, collect gold and dodge enemies",
    .n_minimal_actions = 5,
    .minimal_actions = minimal,
    .has_ramping = 1,
    .glyphs = "@X-$",
    .create = create,
    .reset = reset,
    .step = step,
    .observe = observe,
    .ramp_index = ramp_index,
    .expert = expert,
};
