/* The MinAtar games (env/breakout.c ... env/space_invaders.c): each rule of
 * specs/minatar.md in a constructed situation, ramping, and the golden traces. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/minatar_state.h"

enum { NOOP = 0, LEFT = 1, UP = 2, RIGHT = 3, DOWN = 4, FIRE = 5 };

/* A game with the full 6-action set and no sticky actions, reset with seed 0. */
static env *make(const char *name, bool ramping)
{
    env_options o;
    env_options_default(&o);
    o.sticky = 0;
    o.ramping = ramping;
    o.full_action_set = true;
    shoal_err err = {0};
    env *e = env_make(NULL, name, &o, &err);
    cr_assert_not_null(e, "%s", err.msg);
    env_seed(e, 0);
    env_reset(e, NULL);
    return e;
}

static int obs_at(const env *e, const uint8_t *obs, int y, int x, int ch)
{
    return env_obs_value(obs, env_obs_shape(e), env_obs_dtype(e), (uint32_t)y, (uint32_t)x,
                         (uint32_t)ch);
}

Test(env_minatar, breakout_brick_hit_pays_one_removes_the_brick_and_bounces_down)
{
    env *e = make("minatar/breakout", true);
    breakout *b = env_game_state_mut(e);
    memset(b->bricks, 0, sizeof b->bricks);
    b->bricks[3] = 1u << 5;
    b->bx = 4, b->by = 4, b->dir = 1; /* up-right into (3, 5) */
    b->strike = false;
    uint8_t obs[64];
    env_step_result r = env_step(e, NOOP, obs);
    cr_assert_eq(r.reward, 1.0f);
    cr_assert(!r.terminal);
    cr_assert_eq(b->bricks[3], 0);
    cr_assert_eq(b->bx, 5);
    cr_assert_eq(b->by, 4, "the ball keeps its row after a brick hit");
    cr_assert_eq(b->dir, 2, "flip-y turns up-right into down-right");
    cr_assert(obs_at(e, obs, 4, 5, 1) && obs_at(e, obs, 4, 4, 2), "ball and trail drawn");
    env_free(e);
}

Test(env_minatar, breakout_tunnels_through_a_brick_right_after_a_hit)
{
    env *e = make("minatar/breakout", true);
    breakout *b = env_game_state_mut(e);
    memset(b->bricks, 0, sizeof b->bricks);
    b->bricks[5] = 1u << 5;
    b->bx = 4, b->by = 4, b->dir = 2; /* down-right into (5, 5) */
    b->strike = true;                 /* a brick was hit on the step before */
    env_step_result r = env_step(e, NOOP, NULL);
    cr_assert_eq(r.reward, 0.0f);
    cr_assert_eq(b->bricks[5], 1u << 5, "the brick survives");
    cr_assert_eq(b->by, 5, "the ball enters the brick cell");
    cr_assert(b->strike);
    env_free(e);
}

Test(env_minatar, breakout_paddle_bounces_and_a_miss_ends_the_episode)
{
    env *e = make("minatar/breakout", true);
    breakout *b = env_game_state_mut(e);
    /* Paddle under the ball's old column: vertical flip, direction kept horizontally. */
    b->bx = 3, b->by = 8, b->dir = 2, b->pos = 3;
    env_step_result r = env_step(e, NOOP, NULL);
    cr_assert(!r.terminal);
    cr_assert_eq(b->dir, 1);
    cr_assert_eq(b->by, 8);
    cr_assert_eq(b->bx, 4);
    /* Paddle at the landing column: both directions flip. */
    b->bx = 3, b->by = 8, b->dir = 2, b->pos = 4;
    r = env_step(e, NOOP, NULL);
    cr_assert(!r.terminal);
    cr_assert_eq(b->dir, 0);
    /* Neither: terminal, ball drawn in row 9. */
    b->bx = 3, b->by = 8, b->dir = 2, b->pos = 8;
    uint8_t obs[64];
    r = env_step(e, NOOP, obs);
    cr_assert(r.terminal);
    cr_assert(obs_at(e, obs, 9, 4, 1));
    /* After terminal nothing changes and reward is 0. */
    r = env_step(e, LEFT, NULL);
    cr_assert(r.terminal);
    cr_assert_eq(b->pos, 8);
    env_free(e);
}

Test(env_minatar, breakout_wall_flips_the_horizontal_direction)
{
    env *e = make("minatar/breakout", true);
    breakout *b = env_game_state_mut(e);
    b->bx = 9, b->by = 5, b->dir = 1;
    env_step(e, NOOP, NULL);
    cr_assert_eq(b->bx, 9);
    cr_assert_eq(b->by, 4);
    cr_assert_eq(b->dir, 0);
    env_free(e);
}

Test(env_minatar, asterix_gold_pays_and_an_enemy_ends_the_episode)
{
    env *e = make("minatar/asterix", true);
    asterix *g = env_game_state_mut(e);
    g->spawn_timer = 50, g->move_timer = 50;
    g->px = 5, g->py = 5;
    g->slots[4] = (asterix_slot){.active = true, .gold = true, .right = true, .x = 5};
    env_step_result r = env_step(e, NOOP, NULL);
    cr_assert_eq(r.reward, 1.0f);
    cr_assert(!r.terminal);
    cr_assert(!g->slots[4].active, "collected gold leaves its slot");
    g->slots[2] = (asterix_slot){.active = true, .gold = false, .right = false, .x = 6};
    r = env_step(e, UP, NULL); /* row 4: slot 3 is empty */
    cr_assert(!r.terminal);
    r = env_step(e, UP, NULL); /* row 3: slot 2's enemy is at column 6, beside the player */
    cr_assert(!r.terminal);
    r = env_step(e, RIGHT, NULL); /* onto the enemy */
    cr_assert(r.terminal);
    cr_assert(g->slots[2].active, "the enemy stays");
    env_free(e);
}

Test(env_minatar, asterix_entities_move_into_the_player)
{
    env *e = make("minatar/asterix", true);
    asterix *g = env_game_state_mut(e);
    g->spawn_timer = 50, g->move_timer = 0;
    g->px = 5, g->py = 5;
    g->slots[4] = (asterix_slot){.active = true, .gold = true, .right = true, .x = 4};
    env_step_result r = env_step(e, NOOP, NULL);
    cr_assert_eq(r.reward, 1.0f, "gold moving onto the player is collected");
    cr_assert_eq(g->move_timer, g->move_speed - 1);
    env_free(e);
}

Test(env_minatar, asterix_ramps_every_102_steps_when_ramping_is_on)
{
    for (int ramping = 0; ramping <= 1; ramping++) {
        env *e = make("minatar/asterix", ramping);
        asterix *g = env_game_state_mut(e);
        for (int t = 1; t <= 918; t++) {
            for (int i = 0; i < ASTERIX_SLOTS; i++) {
                g->slots[i].active = false; /* keep the player alive */
            }
            env_step_result r = env_step(e, NOOP, NULL);
            cr_assert(!r.terminal);
            if (t == 101) {
                cr_assert_eq(env_ramp_index(e), 0);
            }
            if (t == 102) {
                cr_assert_eq(env_ramp_index(e), ramping ? 1 : 0);
                cr_assert_eq(g->spawn_speed, ramping ? 9 : 10);
            }
            if (t == 204 && ramping) {
                cr_assert_eq(g->move_speed, 4);
            }
        }
        cr_assert_eq(env_ramp_index(e), ramping ? 9 : 0);
        cr_assert_eq(g->spawn_speed, ramping ? 1 : 10);
        cr_assert_eq(g->move_speed, ramping ? 1 : 5);
        env_free(e);
    }
}

Test(env_minatar, freeway_car_collision_pushes_the_chicken_back_without_penalty)
{
    env *e = make("minatar/freeway", true);
    freeway *g = env_game_state_mut(e);
    g->pos = 5;
    g->cars[4] = (freeway_car){.x = 4, .timer = 3, .v = 2}; /* row 5, on the chicken */
    env_step_result r = env_step(e, NOOP, NULL);
    cr_assert_eq(g->pos, 9);
    cr_assert_eq(r.reward, 0.0f);
    cr_assert(!r.terminal);
    /* A car moving onto the chicken does the same. */
    g->pos = 3;
    g->cars[2] = (freeway_car){.x = 3, .timer = 0, .v = 1};
    env_step(e, NOOP, NULL);
    cr_assert_eq(g->cars[2].x, 4);
    cr_assert_eq(g->pos, 9);
    env_free(e);
}

Test(env_minatar, freeway_crossing_pays_one_and_rerandomises_the_cars)
{
    env *e = make("minatar/freeway", true);
    freeway *g = env_game_state_mut(e);
    for (int i = 0; i < FREEWAY_CARS; i++) {
        g->cars[i] = (freeway_car){.x = 0, .timer = 5, .v = 5};
    }
    g->pos = 1;
    g->move_timer = 0;
    env_step_result r = env_step(e, UP, NULL);
    cr_assert_eq(r.reward, 1.0f);
    cr_assert_eq(g->pos, 9);
    int changed = 0;
    for (int i = 0; i < FREEWAY_CARS; i++) {
        cr_assert_eq(g->cars[i].x, 0, "cars keep their column");
        changed += g->cars[i].v != 5;
    }
    cr_assert_gt(changed, 0);
    env_free(e);
}

Test(env_minatar, freeway_episodes_last_exactly_2501_steps)
{
    env *e = make("minatar/freeway", true);
    for (int t = 1; t <= 2501; t++) {
        env_step_result r = env_step(e, (uint32_t)(t % 6), NULL);
        cr_assert_eq(r.terminal, t == 2501, "step %d", t);
    }
    env_free(e);
}

/* Seaquest with no spawns for a while, so one rule acts alone. */
static env *quiet_seaquest(bool ramping)
{
    env *e = make("minatar/seaquest", ramping);
    seaquest *g = env_game_state_mut(e);
    g->e_spawn_timer = 1000;
    g->d_spawn_timer = 1000;
    return e;
}

Test(env_minatar, seaquest_runs_out_of_oxygen_one_step_after_it_reaches_zero)
{
    env *e = quiet_seaquest(true);
    seaquest *g = env_game_state_mut(e);
    g->sy = 3, g->surface = false, g->oxygen = 1;
    uint8_t obs[128];
    env_step_result r = env_step(e, NOOP, obs);
    cr_assert(!r.terminal);
    cr_assert_eq(g->oxygen, 0);
    cr_assert_eq(obs_at(e, obs, 9, 0, 7), 0, "the oxygen gauge is empty");
    r = env_step(e, NOOP, NULL);
    cr_assert(r.terminal);
    env_free(e);
}

Test(env_minatar, seaquest_surfacing_with_six_divers_pays_oxygen_and_leaves_minus_one)
{
    env *e = quiet_seaquest(true);
    seaquest *g = env_game_state_mut(e);
    g->sy = 1, g->surface = false, g->oxygen = 150, g->dc = 6;
    uint8_t obs[128];
    env_step_result r = env_step(e, UP, obs);
    cr_assert(!r.terminal);
    cr_assert_eq(r.reward, 7.0f, "floor(150 * 10 / 200)");
    cr_assert_eq(g->dc, -1, "the diver-count quirk");
    cr_assert_eq(g->oxygen, 200);
    cr_assert_eq(env_ramp_index(e), 1);
    cr_assert_eq(g->e_spawn_speed, 19);
    for (int x = 0; x <= 9; x++) {
        cr_assert_eq(obs_at(e, obs, 9, x, 8), 0, "no diver gauge while dc < 0");
    }
    /* With dc < 0, coming up again does not end the game and lowers dc once more. */
    g->sy = 1, g->surface = false;
    r = env_step(e, UP, NULL);
    cr_assert(!r.terminal);
    cr_assert_eq(g->dc, -2);
    env_free(e);
}

Test(env_minatar, seaquest_surfacing_without_divers_ends_and_divers_are_collected)
{
    env *e = quiet_seaquest(false);
    seaquest *g = env_game_state_mut(e);
    g->sy = 4, g->sx = 5, g->surface = false;
    g->divers.v[0] = (seaquest_item){.x = 6, .y = 4, .right = 0, .move_timer = 3};
    g->divers.n = 1;
    env_step(e, RIGHT, NULL);
    cr_assert_eq(g->dc, 1, "a diver on the sub's cell is collected");
    cr_assert_eq(g->divers.n, 0);
    g->dc = 0, g->sy = 1;
    env_step_result r = env_step(e, UP, NULL);
    cr_assert(r.terminal, "surfacing with no diver ends the episode");
    env_free(e);
}

Test(env_minatar, seaquest_bullet_kills_a_fish_and_an_enemy_sub_fires)
{
    env *e = quiet_seaquest(true);
    seaquest *g = env_game_state_mut(e);
    g->sy = 4, g->sx = 2, g->face_right = 1, g->surface = false;
    g->fish.v[0] = (seaquest_item){.x = 3, .y = 4, .right = 0, .move_timer = 3};
    g->fish.n = 1;
    env_step_result r = env_step(e, FIRE, NULL);
    cr_assert_eq(r.reward, 1.0f);
    cr_assert_eq(g->fish.n, 0);
    cr_assert_eq(g->fbul.n, 0);
    g->subs.v[0] = (seaquest_item){.x = 8, .y = 7, .right = 0, .move_timer = 4, .shot_timer = 0};
    g->subs.n = 1;
    env_step(e, NOOP, NULL);
    cr_assert_eq(g->ebul.n, 1);
    cr_assert_eq(g->ebul.v[0].x, 7, "a new bullet moves on the step it is fired");
    cr_assert_eq(g->subs.v[0].shot_timer, 10);
    env_free(e);
}

Test(env_minatar, space_invaders_alien_shot_starts_on_the_nearest_lowest_alien)
{
    env *e = make("minatar/space_invaders", true);
    invaders *g = env_game_state_mut(e);
    memset(g->alien, 0, sizeof g->alien);
    g->alien[2] = (1u << 4) | (1u << 6); /* columns 4 and 6, equally near the cannon */
    g->alien[3] = 1u << 6;
    g->pos = 5;
    g->move_timer = 100;
    g->shot_timer_alien = 0;
    uint8_t obs[128];
    env_step(e, NOOP, obs);
    cr_assert_eq(g->ebul[2], 1u << 4, "ties go to the smaller column, lowest alien");
    cr_assert(obs_at(e, obs, 2, 4, 5));
    /* The bullet falls one row per step and kills the cannon under it in row 9. */
    g->pos = 4;
    env_step_result r = {0};
    int steps = 0;
    while (!r.terminal && steps < 20) {
        g->shot_timer_alien = 5; /* no further shots */
        r = env_step(e, NOOP, NULL);
        steps++;
    }
    cr_assert(r.terminal);
    cr_assert_eq(steps, 7, "rows 3..9");
    env_free(e);
}

Test(env_minatar, space_invaders_friendly_bullet_kills_and_a_cleared_wave_ramps)
{
    for (int ramping = 0; ramping <= 1; ramping++) {
        env *e = make("minatar/space_invaders", ramping);
        invaders *g = env_game_state_mut(e);
        memset(g->alien, 0, sizeof g->alien);
        g->alien[7] = 1u << 5;
        g->pos = 5;
        g->move_timer = 100, g->shot_timer_alien = 100;
        env_step_result r = env_step(e, FIRE, NULL); /* bullet at row 8 */
        cr_assert_eq(r.reward, 0.0f);
        r = env_step(e, NOOP, NULL);                 /* row 7: hit, the wave is cleared */
        cr_assert_eq(r.reward, 1.0f);
        cr_assert_eq(g->alien[0], 0xfc, "a new wave fills rows 0-3, columns 2-7");
        cr_assert_eq(env_ramp_index(e), ramping);
        cr_assert_eq(g->move_interval, ramping ? 11 : 12);
        env_free(e);
    }
}

Test(env_minatar, sticky_actions_repeat_the_previous_action_at_the_configured_rate)
{
    const double rates[] = {0.0, 0.25};
    for (size_t k = 0; k < 2; k++) {
        env_options o;
        env_options_default(&o);
        o.sticky = rates[k];
        o.full_action_set = true;
        env *e = env_make(NULL, "minatar/space_invaders", &o, NULL);
        cr_assert_not_null(e);
        env_seed(e, 3);
        env_reset(e, NULL);
        int eligible = 0, repeated = 0;
        for (int t = 0; t < 20000; t++) {
            uint32_t prev = env_last_action(e);
            uint32_t a = (uint32_t)((t * 7 + t / 3) % 6);
            env_step_result r = env_step(e, a, NULL);
            if (a != prev) {
                eligible++;
                repeated += env_last_action(e) == prev;
            } else {
                cr_assert_eq(env_last_action(e), a);
            }
            if (r.terminal) {
                env_reset(e, NULL);
            }
        }
        double rate = (double)repeated / eligible;
        cr_assert(rate > rates[k] - 0.02 && rate < rates[k] + 0.02, "rate %f for p %f", rate,
                  rates[k]);
        env_free(e);
    }
}

Test(env_minatar, every_golden_trace_passes_shoal_env_check_trace, .timeout = 120)
{
    const char *bin = getenv("SHOAL_BIN");
    const char *shared = getenv("SHOAL_SHARED_DIR");
    cr_assert(bin && shared);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s env check-trace %s/fixtures/minatar/*.trace > /dev/null", bin,
             shared);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "ls %s/fixtures/minatar/*.trace | wc -l", shared);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int n = 0;
    cr_assert_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    cr_assert_eq(n, 15, "all 15 traces were checked");
}
