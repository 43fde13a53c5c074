/* The MinAtar games' state structs, shared by each game's file and the tests, which build
 * situations directly in them (env_game_state_mut) to check one rule at a time. Not for other
 * parts: they see games only through env/env.h. Fields follow specs/minatar.md's names. */
#ifndef SHOAL_ENV_MINATAR_STATE_H
#define SHOAL_ENV_MINATAR_STATE_H

#include <stdbool.h>
#include <stdint.h>

/* §3.1 */
typedef struct breakout {
    int pos;            /* paddle column, row 9 */
    int bx, by, dir;    /* ball and its diagonal direction */
    int lx, ly;         /* ball position before the last step (the trail) */
    uint16_t bricks[10];/* bit x of bricks[y]: a brick at (y, x) */
    bool strike;
} breakout;

/* §3.2 */
enum { ASTERIX_SLOTS = 8 };

typedef struct asterix_slot {
    bool active, right, gold;
    int x; /* the slot's row is its index + 1 */
} asterix_slot;

typedef struct asterix {
    int px, py;
    asterix_slot slots[ASTERIX_SLOTS];
    int spawn_speed, spawn_timer, move_speed, move_timer, ramp_timer, ramp_index;
    bool ramping;
} asterix;

/* §3.3 */
enum { FREEWAY_CARS = 8 };

typedef struct freeway_car {
    int x, timer, v; /* v: signed speed, positive moves right; the car's row is its index + 1 */
} freeway_car;

typedef struct freeway {
    int pos; /* chicken row; the chicken is always in column 4 */
    int move_timer, terminate_timer;
    freeway_car cars[FREEWAY_CARS];
} freeway;

/* §3.4. Far above anything reachable: at most one enemy spawns per step and each leaves
 * the 10-column grid within 30 steps; a full list drops the new item (never seen). */
enum { SEAQUEST_LIST_CAP = 128 };

/* One entity of any kind; unused fields stay 0 so value equality compares all fields. */
typedef struct seaquest_item {
    int x, y, right, move_timer, shot_timer;
} seaquest_item;

typedef struct seaquest_list {
    int n;
    seaquest_item v[SEAQUEST_LIST_CAP];
} seaquest_list;

typedef struct seaquest {
    int sx, sy, face_right;
    int oxygen, dc; /* dc, the diver count, goes negative (spec quirk) */
    seaquest_list fbul, ebul, fish, subs, divers;
    int e_spawn_speed, e_spawn_timer, d_spawn_timer, move_speed, ramp_index, shot_timer;
    bool surface, ramping;
} seaquest;

/* §3.5 */
typedef struct invaders {
    int pos;
    uint16_t alien[10], fbul[10], ebul[10];
    int adir; /* -1 left, +1 right */
    int move_interval, move_timer, shot_timer_alien, ramp_index, shot_timer;
    bool ramping;
} invaders;

#endif
