/* MinAtar Seaquest, specs/minatar.md §3.4, including its list semantics: passes walk a list
 * from the last index to the first, and "removing an item" removes the first element equal
 * to it field by field, as the reference's Python lists do. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "env/games.h"
#include "env/minatar_state.h"

enum {
    MAX_OXYGEN = 200,
    INIT_SPAWN_SPEED = 20,
    DIVER_SPAWN_SPEED = 30,
    INIT_MOVE_INTERVAL = 5,
    SHOT_COOL_DOWN = 5,
    ENEMY_SHOT_INTERVAL = 10,
    DIVER_MOVE_INTERVAL = 5,
    LIST_CAP = SEAQUEST_LIST_CAP,
};


static void push(seaquest_list *l, seaquest_item it)
{
    if (l->n < LIST_CAP) {
        l->v[l->n++] = it;
    }
}

/* push(l, it) when when is 1, without a branch on it (the slot past the end is written
 * either way; nothing reads it). */
static void push_if(seaquest_list *l, seaquest_item it, int when)
{
    if (l->n < LIST_CAP) {
        l->v[l->n] = it;
        l->n += when;
    }
}

static void remove_at(seaquest_list *l, int i)
{
    memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof l->v[0]);
    l->n--;
}

static bool same(const seaquest_item *a, const seaquest_item *b)
{
    return a->x == b->x && a->y == b->y && a->right == b->right &&
           a->move_timer == b->move_timer && a->shot_timer == b->shot_timer;
}

/* Python's list.remove(it): the first element equal to it. Returns its index (-1: none). */
static int remove_equal(seaquest_list *l, seaquest_item it)
{
    for (int j = 0; j < l->n; j++) {
        if (same(&l->v[j], &it)) {
            remove_at(l, j);
            return j;
        }
    }
    return -1;
}

/* Index of the first element of l at (x, y), or -1. */
static int find_at(const seaquest_list *l, int x, int y)
{
    for (int j = 0; j < l->n; j++) {
        if (l->v[j].x == x && l->v[j].y == y) {
            return j;
        }
    }
    return -1;
}

static bool off_grid(const seaquest_item *it)
{
    return it->x < 0 || it->x > 9;
}

ENV_MINATAR_CREATE(seaquest, 10, "minatar/seaquest", offsetof(seaquest, ramping))

static void reset(void *state, env_rand *r)
{
    (void)r;
    seaquest *g = state;
    g->oxygen = MAX_OXYGEN;
    g->dc = 0;
    g->sx = 5;
    g->sy = 0;
    g->face_right = 0;
    g->fbul.n = g->ebul.n = g->fish.n = g->subs.n = g->divers.n = 0;
    g->e_spawn_speed = INIT_SPAWN_SPEED;
    g->e_spawn_timer = INIT_SPAWN_SPEED;
    g->d_spawn_timer = DIVER_SPAWN_SPEED;
    g->move_speed = INIT_MOVE_INTERVAL;
    g->ramp_index = 0;
    g->shot_timer = 0;
    g->surface = true;
}

static bool row_has_other_direction(const seaquest_list *l, int y, int right)
{
    for (int j = 0; j < l->n; j++) {
        if (l->v[j].y == y && l->v[j].right != right) {
            return true;
        }
    }
    return false;
}

static void spawn_enemy(seaquest *g, env_rand *r)
{
    int right = env_rand_double(r) < 0.5;
    bool is_sub = env_rand_double(r) < 1.0 / 3.0;
    int y = (int)env_rand_int(r, 1, 9);
    if (row_has_other_direction(&g->subs, y, right) ||
        row_has_other_direction(&g->fish, y, right)) {
        return;
    }
    seaquest_item it = {.x = right ? 0 : 9, .y = y, .right = right, .move_timer = g->move_speed};
    if (is_sub) {
        it.shot_timer = ENEMY_SHOT_INTERVAL;
        push(&g->subs, it);
    } else {
        push(&g->fish, it);
    }
}

static void spawn_diver(seaquest *g, env_rand *r)
{
    int right = env_rand_double(r) < 0.5;
    int y = (int)env_rand_int(r, 1, 9);
    push(&g->divers, (seaquest_item){.x = right ? 0 : 9, .y = y, .right = right,
                            .move_timer = DIVER_MOVE_INTERVAL});
}

static void move(seaquest_item *it)
{
    it->x += it->right ? 1 : -1;
}

static bool on_sub(const seaquest *g, const seaquest_item *it)
{
    return (it->x == g->sx) & (it->y == g->sy);
}

static float pass_friendly_bullets(seaquest *g)
{
    float reward = 0;
    seaquest_list *l = &g->fbul;
    for (int i = l->n - 1; i >= 0; i--) {
        if (i >= l->n) {
            break;
        }
        seaquest_item *b = &l->v[i];
        move(b);
        if (off_grid(b)) {
            remove_equal(l, *b);
            continue;
        }
        int j = find_at(&g->fish, b->x, b->y);
        seaquest_list *hit = &g->fish;
        if (j < 0) {
            j = find_at(&g->subs, b->x, b->y);
            hit = &g->subs;
        }
        if (j >= 0) {
            remove_at(hit, j);
            remove_equal(l, *b);
            reward += 1;
        }
    }
    return reward;
}

static void pass_divers(seaquest *g)
{
    seaquest_list *l = &g->divers;
    for (int i = l->n - 1; i >= 0; i--) {
        if (i >= l->n) {
            break;
        }
        seaquest_item *d = &l->v[i];
        if (on_sub(g, d) && g->dc < 6) {
            remove_equal(l, *d);
            g->dc++;
            continue;
        }
        if (d->move_timer == 0) {
            d->move_timer = DIVER_MOVE_INTERVAL;
            move(d);
            if (off_grid(d)) {
                remove_equal(l, *d);
            } else if (on_sub(g, d) && g->dc < 6) {
                remove_equal(l, *d);
                g->dc++;
            }
        } else {
            d->move_timer--;
        }
    }
}

/* Steps 6 and 8: enemy subs (shoot = true) and fish. The visited item keeps living after it
 * is removed (a Python object outside the list), so a removed sub still runs its shot timer
 * and may fire (spec quirk "shots from dead subs"). When an earlier equal element was removed
 * instead, the visited item is still in the list, one index lower. */
static inline float pass_enemies(seaquest *g, seaquest_list *l, bool shoot, int *terminal)
{
    float reward = 0;
    for (int i = l->n - 1; i >= 0; i--) {
        if (i >= l->n) {
            break;
        }
        seaquest_item detached;
        seaquest_item *e = &l->v[i];
        *terminal |= on_sub(g, e);
        if (e->move_timer == 0) {
            e->move_timer = g->move_speed;
            move(e);
            int removed = -1;
            if (off_grid(e)) {
                detached = *e;
                removed = remove_equal(l, detached);
            } else if (on_sub(g, e)) {
                *terminal = 1;
            } else {
                int j = find_at(&g->fbul, e->x, e->y);
                if (j >= 0) {
                    detached = *e;
                    removed = remove_equal(l, detached);
                    remove_at(&g->fbul, j);
                    reward += 1;
                }
            }
            if (removed == i) {
                e = &detached;
            } else if (removed >= 0 && removed < i) {
                e = &l->v[i - 1];
            }
        } else {
            e->move_timer--;
        }
        if (shoot) {
            int fire = e->shot_timer == 0;
            push_if(&g->ebul, (seaquest_item){.x = e->x, .y = e->y, .right = e->right}, fire);
            e->shot_timer += fire * (ENEMY_SHOT_INTERVAL + 1) - 1; /* fire: it was 0 */
        }
    }
    return reward;
}

static void pass_enemy_bullets(seaquest *g, int *terminal)
{
    seaquest_list *l = &g->ebul;
    for (int i = l->n - 1; i >= 0; i--) {
        if (i >= l->n) {
            break;
        }
        seaquest_item *b = &l->v[i];
        *terminal |= on_sub(g, b);
        move(b);
        if (off_grid(b)) {
            remove_equal(l, *b);
        } else {
            *terminal |= on_sub(g, b);
        }
    }
}

static float surface(seaquest *g)
{
    float reward = 0;
    g->surface = true;
    if (g->dc == 6) {
        g->dc = 0;
        reward = (float)(g->oxygen * 10 / MAX_OXYGEN);
    }
    g->oxygen = MAX_OXYGEN;
    g->dc--;
    if (g->ramping && (g->e_spawn_speed > 1 || g->move_speed > 2)) {
        if (g->move_speed > 2 && (g->ramp_index & 1)) {
            g->move_speed--;
        }
        if (g->e_spawn_speed > 1) {
            g->e_spawn_speed--;
        }
        g->ramp_index++;
    }
    return reward;
}

/* Without branches on the action, which is as good as random: fire neither moves nor turns
 * the sub (its dx and dy are 0). */
static void player(seaquest *g, uint32_t a)
{
    int fire = (a == MINATAR_FIRE) & (g->shot_timer == 0);
    push_if(&g->fbul, (seaquest_item){.x = g->sx, .y = g->sy, .right = g->face_right}, fire);
    g->shot_timer += fire * SHOT_COOL_DOWN; /* fire: it was 0 */
    int dx = env_minatar_dx[a];
    g->sx = env_clamp(g->sx + dx, 0, 9);
    g->sy = env_clamp(g->sy + env_minatar_dy[a], 0, 8);
    /* Facing follows the last horizontal press, even against the wall. */
    g->face_right = (dx > 0) | ((dx == 0) & g->face_right);
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    seaquest *g = state;
    float reward = 0;
    if (g->e_spawn_timer == 0) {
        spawn_enemy(g, r);
        g->e_spawn_timer = g->e_spawn_speed;
    }
    if (g->d_spawn_timer == 0) {
        spawn_diver(g, r);
        g->d_spawn_timer = DIVER_SPAWN_SPEED;
    }
    player(g, a);
    reward += pass_friendly_bullets(g);
    pass_divers(g);
    reward += pass_enemies(g, &g->subs, true, terminal);
    pass_enemy_bullets(g, terminal);
    reward += pass_enemies(g, &g->fish, false, terminal);
    g->e_spawn_timer -= g->e_spawn_timer > 0;
    g->d_spawn_timer -= g->d_spawn_timer > 0;
    g->shot_timer -= g->shot_timer > 0;
    *terminal |= g->oxygen <= 0;
    /* Below the surface: one unit of oxygen less, and surfacing counts again. The branch is
     * taken only on the step that reaches the surface. */
    bool below = g->sy > 0;
    g->oxygen -= below;
    g->surface = g->surface & !below;
    if (!below & !g->surface) {
        if (g->dc == 0) {
            *terminal = 1;
        } else {
            reward += surface(g);
        }
    }
    return reward;
}

/* Sets (y, x, ch) of the packed observation when on is 1, without a branch (on is as good as
 * random per item). */
static inline void set_if(uint8_t *obs, int y, int x, int ch, unsigned on)
{
    unsigned i = (unsigned)((y * 10 + x) * 10 + ch);
    obs[i >> 3] |= (uint8_t)(on << (i & 7u));
}

/* Row 9 holds only the gauges: oxygen in channel 7 over cells x < n (n = 0..10), divers in
 * channel 8 over cells f..8 (f = 0..9). Bit 900 + 10 x + c of the observation is bit
 * 4 + 10 x + c of the word at bytes 112..119 for x <= 5 ([0]) and bit 10 (x - 6) + c of the
 * 40 bits from byte 120 for x >= 6 ([1]); generated from that rule. Setting the 20 bits one
 * by one cost more than the rest of the observation. */
static const uint64_t oxygen_gauge[11][2] = {
    {0x0ull, 0x0ull}, {0x800ull, 0x0ull}, {0x200800ull, 0x0ull}, {0x80200800ull, 0x0ull},
    {0x20080200800ull, 0x0ull}, {0x8020080200800ull, 0x0ull},
    {0x2008020080200800ull, 0x0ull}, {0x2008020080200800ull, 0x80ull},
    {0x2008020080200800ull, 0x20080ull}, {0x2008020080200800ull, 0x8020080ull},
    {0x2008020080200800ull, 0x2008020080ull}};
static const uint64_t diver_gauge[10][2] = {
    {0x4010040100401000ull, 0x10040100ull}, {0x4010040100400000ull, 0x10040100ull},
    {0x4010040100000000ull, 0x10040100ull}, {0x4010040000000000ull, 0x10040100ull},
    {0x4010000000000000ull, 0x10040100ull}, {0x4000000000000000ull, 0x10040100ull},
    {0x0ull, 0x10040100ull}, {0x0ull, 0x10040000ull}, {0x0ull, 0x10000000ull},
    {0x0ull, 0x0ull}};

/* Written first, with two plain stores (bytes 112..119 and 117..124); bits 896..899 belong to
 * row 8 and are still 0 here. */
static void gauges(uint8_t *obs, int n_oxygen, int first_diver)
{
    int n = n_oxygen < 10 ? n_oxygen : 10;
    int f = first_diver < 0 ? 0 : first_diver > 9 ? 9 : first_diver;
    uint64_t lo = oxygen_gauge[n][0] | diver_gauge[f][0];
    uint64_t hi = oxygen_gauge[n][1] | diver_gauge[f][1];
    env_store_le64(obs + 112, lo);
    env_store_le64(obs + 117, hi << 24 | lo >> 40);
}

static void observe(const void *state, uint8_t *obs)
{
    const seaquest *g = state;
    int n_oxygen = (g->oxygen > 0 ? g->oxygen : 0) * 10 / MAX_OXYGEN;
    gauges(obs, n_oxygen, g->dc > 0 ? 9 - g->dc : 9);
    env_bit_set(obs, 10, g->sy, g->sx, 0);
    env_bit_set(obs, 10, g->sy, g->sx + 1 - 2 * g->face_right, 1);
    /* One loop over the five lists rather than a call per list: the calls' register saving
     * cost more than drawing the few items a list holds. */
    const seaquest_list *lists[5] = {&g->fbul, &g->ebul, &g->fish, &g->subs, &g->divers};
    static const int list_ch[5] = {2, 4, 5, 6, 9};
    static const unsigned list_trail[5] = {0, 0, 1, 1, 1};
    for (int k = 0; k < 5; k++) {
        const seaquest_list *l = lists[k];
        for (int j = 0; j < l->n; j++) {
            const seaquest_item *it = &l->v[j];
            unsigned on = (unsigned)it->x <= 9u;
            int x = on ? it->x : 0;
            set_if(obs, it->y, x, list_ch[k], on);
            int tx = x + 1 - 2 * it->right;
            unsigned inside = on & list_trail[k] & ((unsigned)tx <= 9u);
            set_if(obs, it->y, inside ? tx : 0, 3, inside);
        }
    }
}

static int ramp_index(const void *state)
{
    return ((const seaquest *)state)->ramp_index;
}

static bool threat_at(const seaquest *g, int x, int y)
{
    return find_at(&g->fish, x, y) >= 0 || find_at(&g->subs, x, y) >= 0 ||
           find_at(&g->ebul, x, y) >= 0 || find_at(&g->fish, x - 1, y) >= 0 ||
           find_at(&g->fish, x + 1, y) >= 0 || find_at(&g->subs, x - 1, y) >= 0 ||
           find_at(&g->subs, x + 1, y) >= 0 || find_at(&g->ebul, x - 1, y) >= 0 ||
           find_at(&g->ebul, x + 1, y) >= 0;
}

/* Collects divers and shoots enemies in its row, surfacing when oxygen runs low (with a
 * diver aboard) or with six divers; avoids cells next to enemies and bullets. */
static uint32_t expert(const void *state, env_rand *r)
{
    const seaquest *g = state;
    bool go_up = (g->dc >= 6) || (g->oxygen < 16 + 4 * g->sy && g->dc > 0);
    if (g->sy == 0 && g->dc <= 0 && !go_up) {
        return MINATAR_DOWN; /* nothing to lose by diving: surfacing empty ends the game */
    }
    /* An enemy ahead in this row: face it and fire. */
    for (int j = 0; j < g->fish.n + g->subs.n; j++) {
        const seaquest_item *e = j < g->fish.n ? &g->fish.v[j] : &g->subs.v[j - g->fish.n];
        if (e->y == g->sy && g->sy > 0) {
            bool ahead = g->face_right ? e->x > g->sx : e->x < g->sx;
            if (ahead && g->shot_timer == 0) {
                return MINATAR_FIRE;
            }
            if (!ahead && abs(e->x - g->sx) > 2) {
                return e->x > g->sx ? MINATAR_RIGHT : MINATAR_LEFT;
            }
        }
    }
    int ty = go_up ? 0 : g->sy, tx = g->sx;
    if (!go_up) {
        /* Head for the nearest diver, else a random row among 1..8. */
        int best = 1 << 30;
        for (int j = 0; j < g->divers.n; j++) {
            int d = abs(g->divers.v[j].x - g->sx) + abs(g->divers.v[j].y - g->sy);
            if (d < best) {
                best = d;
                tx = g->divers.v[j].x;
                ty = g->divers.v[j].y;
            }
        }
        if (best == 1 << 30 && g->sy == 0) {
            ty = (int)env_rand_int(r, 1, 9);
        }
    }
    static const uint32_t acts[5] = {MINATAR_UP, MINATAR_DOWN, MINATAR_LEFT, MINATAR_RIGHT,
                                     MINATAR_NOOP};
    static const int dx[5] = {0, 0, -1, 1, 0}, dy[5] = {-1, 1, 0, 0, 0};
    int best_k = 4, best_cost = 1 << 30;
    for (int k = 0; k < 5; k++) {
        int x = g->sx + dx[k], y = g->sy + dy[k];
        if (x < 0 || x > 9 || y < 0 || y > 8) {
            continue;
        }
        int cost = abs(x - tx) + abs(y - ty) + (threat_at(g, x, y) ? 50 : 0);
        if (cost < best_cost) {
            best_cost = cost;
            best_k = k;
        }
    }
    return acts[best_k];
}

static const uint32_t minimal[] = {MINATAR_NOOP, MINATAR_LEFT, MINATAR_UP,
                                   MINATAR_RIGHT, MINATAR_DOWN, MINATAR_FIRE};

const env_game env_game_seaquest = {
    ENV_MINATAR_GAME,
    .name = "minatar/seaquest",
    .summary = "MinAtar Seaquest: 10x10x10 bits, 6 actions, shoot, rescue divers, mind the oxygen",
    .n_minimal_actions = 6,
    .minimal_actions = minimal,
    .has_ramping = 1,
    .glyphs = "S<'.!FEOD*",
    .create = create,
    .reset = reset,
    .step = step,
    .observe = observe,
    .ramp_index = ramp_index,
    .expert = expert,
};
