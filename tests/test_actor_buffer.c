#include <criterion/criterion.h>
#include <string.h>

#include "actor/buffer.h"

static obs_spec spec_of(const char *shape, const char *dtype)
{
    obs_spec sp;
    cr_assert_eq(obs_spec_parse(shape, dtype, &sp, NULL), SHOAL_OK);
    return sp;
}

/* Appends transition `id` as n-step would: id in its action, first obs byte and aux. */
static void put(actor_buffer *b, uint32_t id)
{
    actor_steps *s = actor_buffer_steps(b);
    size_t j = s->count++;
    memset(s->obs + j * s->obs_bytes, (int)id, s->obs_bytes);
    memset(s->next_obs + j * s->obs_bytes, (int)(id + 100), s->obs_bytes);
    s->action[j] = id;
    s->reward[j] = (float)id;
    s->discount[j] = 0.5f;
    s->n_steps[j] = 3;
    s->env[j] = id % 2;
    s->aux[j * s->aux_floats] = (float)id * 10.0f;
    b->mask[j] = 1u << id;
    b->priority[j] = 0.1f * (float)id;
    b->pending[j] = (int32_t)id - 1;
}

/* Room for 8 transitions of 2x2x3 bytes with 4 heads and 2 aux floats; ids 1..5 put in. */
static actor_buffer *five_transitions(void)
{
    obs_spec sp = spec_of("2,2,3", "uint8");
    shoal_err err = {0};
    actor_buffer *b = actor_buffer_new(8, &sp, 4, 2, &err);
    cr_assert_not_null(b, "%s", err.msg);
    for (uint32_t id = 1; id <= 5; id++) {
        put(b, id);
    }
    return b;
}

Test(actor_buffer, refuses_what_the_wire_cannot_carry)
{
    obs_spec sp = spec_of("10,10,4", "bit");
    shoal_err err = {0};
    cr_assert_null(actor_buffer_new(0, &sp, 0, 0, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert_null(actor_buffer_new(8, &sp, 33, 0, &err));
    cr_assert(strstr(err.msg, "32 bits"), "%s", err.msg);
    obs_spec empty = {0};
    cr_assert_null(actor_buffer_new(8, &empty, 0, 0, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
}

Test(actor_buffer, a_batch_points_at_the_first_transitions_and_the_episodes_since_the_last)
{
    actor_buffer *b = five_transitions();
    b->env_steps = 12;
    actor_buffer_episode(b, &(actor_episode){.ret = 3.5f, .length = 9, .head = 2,
                                             .intrinsic_ret = 0.25f});
    replay_batch out;
    actor_buffer_batch(b, 3, &out);
    cr_assert_eq(out.actor_id, 0, "left for the caller");
    cr_assert_not(out.demo);
    cr_assert_eq(out.params_version, 0);
    cr_assert_eq(out.env_steps, 12);
    cr_assert_eq(out.spec.bytes, 12);
    cr_assert_eq(out.spec.dtype, OBS_DTYPE_UINT8);
    cr_assert_eq(out.t.count, 3);
    cr_assert_eq(out.t.n_heads, 4);
    cr_assert_eq(out.t.obs, b->steps.obs, "nothing is copied");
    cr_assert_eq(out.t.action[2], 3);
    cr_assert_eq(out.t.next_obs[2 * 12], 103);
    cr_assert_eq(out.t.mask, b->mask, "masks travel with more than one head");
    cr_assert_float_eq(out.t.priority[1], 0.2f, 1e-7);
    cr_assert_eq(out.episodes.count, 1);
    cr_assert_float_eq(out.episodes.ret[0], 3.5f, 0);
    cr_assert_eq(out.episodes.length[0], 9);
    cr_assert_eq(out.episodes.head[0], 2);
    cr_assert_float_eq(out.episodes.intrinsic_ret[0], 0.25f, 0);
    actor_buffer_free(b);
}

Test(actor_buffer, one_head_sends_no_masks)
{
    obs_spec sp = spec_of("10,10,4", "bit");
    shoal_err err = {0};
    actor_buffer *b = actor_buffer_new(4, &sp, 1, 1, &err);
    cr_assert_not_null(b, "%s", err.msg);
    put(b, 1);
    replay_batch out;
    actor_buffer_batch(b, 1, &out);
    cr_assert_null(out.t.mask);
    cr_assert_eq(out.episodes.count, 0);
    actor_buffer_free(b);
}

Test(actor_buffer, drop_moves_the_rest_to_the_front_and_forgets_what_was_sent)
{
    actor_buffer *b = five_transitions();
    b->env_steps = 7;
    actor_buffer_episode(b, &(actor_episode){.ret = 1.0f, .length = 2});
    actor_buffer_drop(b, 3);
    const actor_steps *s = &b->steps;
    cr_assert_eq(s->count, 2);
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t id = 4 + k;
        cr_assert_eq(s->action[k], id);
        cr_assert_eq(s->obs[k * 12 + 11], id);
        cr_assert_eq(s->next_obs[k * 12], id + 100);
        cr_assert_float_eq(s->reward[k], (float)id, 0);
        cr_assert_eq(s->n_steps[k], 3);
        cr_assert_eq(s->env[k], id % 2);
        cr_assert_float_eq(s->aux[k * 2], (float)id * 10.0f, 0);
        cr_assert_eq(b->mask[k], 1u << id);
        cr_assert_float_eq(b->priority[k], 0.1f * (float)id, 1e-7);
        cr_assert_eq(b->pending[k], (int32_t)id - 1);
    }
    cr_assert_eq(b->n_episodes, 0);
    cr_assert_eq(b->env_steps, 0);
    replay_batch out;
    actor_buffer_batch(b, 2, &out);
    cr_assert_eq(out.episodes.count, 0, "episodes go out once");
    cr_assert_eq(out.env_steps, 0);
    actor_buffer_drop(b, 2);
    cr_assert_eq(b->steps.count, 0);
    actor_buffer_free(b);
}
