#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "actor/nstep.h"

/* Observations are one byte: the step index t of s_t, so each transition says where it
 * started and where it bootstraps from. */
#define CAP 64
typedef struct cols {
    uint8_t obs[CAP], next_obs[CAP];
    uint32_t action[CAP], n_steps[CAP], env[CAP];
    float reward[CAP], discount[CAP], aux[CAP * 2];
    actor_steps s;
} cols;

static void cols_init(cols *c, size_t aux_floats)
{
    memset(c, 0, sizeof *c);
    c->s = (actor_steps){.cap = CAP, .obs_bytes = 1, .aux_floats = aux_floats, .obs = c->obs,
                         .next_obs = c->next_obs, .action = c->action, .reward = c->reward,
                         .discount = c->discount, .n_steps = c->n_steps, .env = c->env,
                         .aux = aux_floats ? c->aux : NULL};
}

/* Steps env i from s_t (byte t) to s_{t+1} with reward r. */
static size_t step(actor_nstep *ns, size_t i, uint8_t t, float r, bool term, bool trunc,
                   cols *c)
{
    uint8_t next = (uint8_t)(t + 1);
    return actor_nstep_push(ns, i, &t, (uint32_t)t, r, term, trunc, &next, NULL, &c->s);
}

Test(actor_nstep, a_terminal_after_two_steps_gives_the_spec_values)
{
    /* algorithms.md §1.4: n = 3, γ = 0.9, rewards 1, 1 then termination. */
    actor_nstep *ns = actor_nstep_new(1, 3, 0.9f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    cr_assert_eq(step(ns, 0, 0, 1.0f, false, false, &c), 0);
    cr_assert_eq(step(ns, 0, 1, 1.0f, true, false, &c), 2);
    cr_assert_float_eq(c.reward[0], 1.9f, 1e-6);
    cr_assert_eq(c.discount[0], 0.0f);
    cr_assert_eq(c.obs[0], 0);
    cr_assert_eq(c.next_obs[0], 2);
    cr_assert_eq(c.n_steps[0], 2);
    cr_assert_float_eq(c.reward[1], 1.0f, 1e-6);
    cr_assert_eq(c.discount[1], 0.0f);
    cr_assert_eq(c.obs[1], 1);
    cr_assert_eq(c.n_steps[1], 1);
    cr_assert_eq(actor_nstep_held(ns, 0), 0);
    actor_nstep_free(ns);
}

Test(actor_nstep, a_time_limit_cut_bootstraps_the_tail_with_gamma_to_the_k)
{
    actor_nstep *ns = actor_nstep_new(1, 3, 0.9f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    step(ns, 0, 0, 1.0f, false, false, &c);
    cr_assert_eq(step(ns, 0, 1, 1.0f, false, true, &c), 2);
    cr_assert_float_eq(c.reward[0], 1.9f, 1e-6);
    cr_assert_float_eq(c.discount[0], 0.81f, 1e-6);
    cr_assert_eq(c.next_obs[0], 2, "bootstraps from s_2");
    cr_assert_float_eq(c.reward[1], 1.0f, 1e-6);
    cr_assert_float_eq(c.discount[1], 0.9f, 1e-6);
    cr_assert_eq(c.next_obs[1], 2);
    actor_nstep_free(ns);
}

Test(actor_nstep, mid_episode_windows_slide_one_step_at_a_time)
{
    /* Rewards r_{t+1} = t + 1; n = 3, γ = 0.5: the window from t is
     * (t+1) + 0.5 (t+2) + 0.25 (t+3), discount 0.125, bootstrapping from s_{t+3}. */
    actor_nstep *ns = actor_nstep_new(1, 3, 0.5f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    cr_assert_eq(step(ns, 0, 0, 1.0f, false, false, &c), 0);
    cr_assert_eq(step(ns, 0, 1, 2.0f, false, false, &c), 0);
    for (uint8_t t = 2; t < 6; t++) {
        cr_assert_eq(step(ns, 0, t, (float)(t + 1), false, false, &c), 1);
    }
    cr_assert_eq(c.s.count, 4);
    for (size_t k = 0; k < 4; k++) {
        double want = (double)(k + 1) + 0.5 * (double)(k + 2) + 0.25 * (double)(k + 3);
        cr_assert_float_eq(c.reward[k], want, 1e-5, "window %zu", k);
        cr_assert_float_eq(c.discount[k], 0.125f, 1e-7);
        cr_assert_eq(c.obs[k], k);
        cr_assert_eq(c.action[k], k);
        cr_assert_eq(c.next_obs[k], k + 3);
        cr_assert_eq(c.n_steps[k], 3);
    }
    cr_assert_eq(actor_nstep_held(ns, 0), 2);
    /* A terminal now flushes the last three records with lengths 3, 2, 1. */
    cr_assert_eq(step(ns, 0, 6, 7.0f, true, false, &c), 3);
    cr_assert_float_eq(c.reward[4], 5.0 + 0.5 * 6.0 + 0.25 * 7.0, 1e-5);
    cr_assert_float_eq(c.reward[5], 6.0 + 0.5 * 7.0, 1e-5);
    cr_assert_float_eq(c.reward[6], 7.0, 1e-5);
    cr_assert_eq(c.n_steps[4], 3);
    cr_assert_eq(c.n_steps[5], 2);
    cr_assert_eq(c.n_steps[6], 1);
    for (size_t k = 4; k < 7; k++) {
        cr_assert_eq(c.discount[k], 0.0f);
        cr_assert_eq(c.next_obs[k], 7);
    }
    actor_nstep_free(ns);
}

Test(actor_nstep, every_step_of_a_finished_episode_becomes_exactly_one_transition)
{
    actor_nstep *ns = actor_nstep_new(1, 4, 0.99f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    size_t emitted = 0;
    for (uint8_t t = 0; t < 9; t++) {
        emitted += step(ns, 0, t, 1.0f, false, t == 8, &c);
    }
    cr_assert_eq(emitted, 9);
    cr_assert_eq(actor_nstep_pending(ns), 0);
    /* A one-step episode that ends at once yields one transition of length 1. */
    cr_assert_eq(step(ns, 0, 20, 2.0f, true, false, &c), 1);
    cr_assert_eq(c.n_steps[9], 1);
    cr_assert_eq(c.reward[9], 2.0f);
    actor_nstep_free(ns);
}

Test(actor_nstep, no_window_crosses_an_episode_boundary_and_envs_stay_apart)
{
    actor_nstep *ns = actor_nstep_new(2, 3, 0.9f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    step(ns, 0, 0, 1.0f, false, false, &c);
    step(ns, 1, 100, 5.0f, false, false, &c);
    step(ns, 0, 1, 1.0f, true, false, &c); /* env 0 ends: two transitions */
    cr_assert_eq(c.s.count, 2);
    cr_assert_eq(c.env[0], 0);
    cr_assert_eq(actor_nstep_held(ns, 1), 1);
    /* env 0's next episode starts clean: its first window holds only its own rewards. */
    step(ns, 0, 50, 10.0f, false, false, &c);
    step(ns, 0, 51, 10.0f, false, false, &c);
    cr_assert_eq(step(ns, 0, 52, 10.0f, false, false, &c), 1);
    cr_assert_float_eq(c.reward[2], 10.0 + 9.0 + 8.1, 1e-4);
    cr_assert_eq(c.obs[2], 50);
    cr_assert_eq(c.env[2], 0);
    cr_assert_eq(actor_nstep_held(ns, 1), 1, "env 1 untouched");
    actor_nstep_free(ns);
}

Test(actor_nstep, n_of_one_is_the_one_step_transition)
{
    actor_nstep *ns = actor_nstep_new(1, 1, 0.99f, 1, 0, NULL);
    cols c;
    cols_init(&c, 0);
    cr_assert_eq(step(ns, 0, 0, 3.0f, false, false, &c), 1);
    cr_assert_eq(c.reward[0], 3.0f);
    cr_assert_float_eq(c.discount[0], 0.99f, 1e-7);
    cr_assert_eq(c.next_obs[0], 1);
    actor_nstep_free(ns);
}

Test(actor_nstep, aux_travels_with_the_transition_that_starts_at_its_record)
{
    actor_nstep *ns = actor_nstep_new(1, 2, 0.9f, 1, 2, NULL);
    cols c;
    cols_init(&c, 2);
    for (uint8_t t = 0; t < 3; t++) {
        uint8_t next = (uint8_t)(t + 1);
        float aux[2] = {(float)t, -(float)t};
        actor_nstep_push(ns, 0, &t, t, 0.0f, false, t == 2, &next, aux, &c.s);
    }
    cr_assert_eq(c.s.count, 3);
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(c.aux[2 * k], (float)k);
        cr_assert_eq(c.aux[2 * k + 1], -(float)k);
    }
    actor_nstep_free(ns);
}

Test(actor_nstep, bad_arguments_are_refused_with_the_key_to_fix)
{
    shoal_err err = {0};
    cr_assert_null(actor_nstep_new(1, 0, 0.9f, 1, 0, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "actor.n_step"));
    cr_assert_null(actor_nstep_new(1, 3, 1.5f, 1, 0, &err));
    cr_assert(strstr(err.msg, "actor.gamma"));
    cr_assert_null(actor_nstep_new(1, 3, NAN, 1, 0, &err));
    cr_assert_null(actor_nstep_new(0, 3, 0.9f, 1, 0, &err));
    cr_assert_null(actor_nstep_new(1, ACTOR_MAX_NSTEP + 1, 0.9f, 1, 0, &err));
}
