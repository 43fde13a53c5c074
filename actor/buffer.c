#include "actor/buffer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

actor_buffer *actor_buffer_new(size_t cap, const obs_spec *spec, uint32_t n_heads,
                               size_t aux_floats, shoal_err *err)
{
    if (cap == 0 || spec->bytes == 0 || n_heads > REPLAY_MAX_HEADS) {
        shoal_err_set(err, SHOAL_EINVAL, "actor buffer: %zu transitions of %zu bytes with %u "
                      "heads; need at least one transition, a non-empty observation and at most "
                      "%u heads (the wire's mask is 32 bits)", cap, spec->bytes, n_heads,
                      REPLAY_MAX_HEADS);
        return NULL;
    }
    actor_buffer *b = calloc(1, sizeof *b);
    if (!b) {
        goto oom;
    }
    b->spec = *spec;
    b->n_heads = n_heads;
    actor_steps *s = &b->steps;
    s->cap = cap;
    s->obs_bytes = spec->bytes;
    s->aux_floats = aux_floats;
    s->obs = malloc(cap * spec->bytes);
    s->next_obs = malloc(cap * spec->bytes);
    s->action = calloc(cap, sizeof *s->action);
    s->reward = calloc(cap, sizeof *s->reward);
    s->discount = calloc(cap, sizeof *s->discount);
    s->n_steps = calloc(cap, sizeof *s->n_steps);
    s->env = calloc(cap, sizeof *s->env);
    s->aux = aux_floats ? calloc(cap * aux_floats, sizeof *s->aux) : NULL;
    b->mask = calloc(cap, sizeof *b->mask);
    b->priority = calloc(cap, sizeof *b->priority);
    b->pending = calloc(cap, sizeof *b->pending);
    b->ep_return = calloc(cap, sizeof *b->ep_return);
    b->ep_intrinsic = calloc(cap, sizeof *b->ep_intrinsic);
    b->ep_length = calloc(cap, sizeof *b->ep_length);
    b->ep_head = calloc(cap, sizeof *b->ep_head);
    if (!s->obs || !s->next_obs || !s->action || !s->reward || !s->discount || !s->n_steps ||
        !s->env || (aux_floats && !s->aux) || !b->mask || !b->priority || !b->pending ||
        !b->ep_return || !b->ep_intrinsic || !b->ep_length || !b->ep_head) {
        goto oom;
    }
    return b;
oom:
    actor_buffer_free(b);
    shoal_err_set(err, SHOAL_ENOMEM, "actor buffer: out of memory for %zu transitions of %zu "
                  "bytes", cap, spec->bytes);
    return NULL;
}

void actor_buffer_free(actor_buffer *b)
{
    if (!b) {
        return;
    }
    actor_steps *s = &b->steps;
    free(s->obs);
    free(s->next_obs);
    free(s->action);
    free(s->reward);
    free(s->discount);
    free(s->n_steps);
    free(s->env);
    free(s->aux);
    free(b->mask);
    free(b->priority);
    free(b->pending);
    free(b->ep_return);
    free(b->ep_intrinsic);
    free(b->ep_length);
    free(b->ep_head);
    free(b);
}

actor_steps *actor_buffer_steps(actor_buffer *b)
{
    return &b->steps;
}

void actor_buffer_episode(actor_buffer *b, const actor_episode *ep)
{
    assert(b->n_episodes < b->steps.cap);
    size_t k = b->n_episodes++;
    b->ep_return[k] = ep->ret;
    b->ep_length[k] = ep->length;
    b->ep_head[k] = ep->head;
    b->ep_intrinsic[k] = ep->intrinsic_ret;
}

void actor_buffer_batch(actor_buffer *b, size_t n, replay_batch *out)
{
    assert(n <= b->steps.count);
    const actor_steps *s = &b->steps;
    *out = (replay_batch){
        .env_steps = b->env_steps, .spec = b->spec,
        .t = {.count = n, .n_heads = b->n_heads, .obs = s->obs, .next_obs = s->next_obs,
              .action = s->action, .reward = s->reward, .discount = s->discount,
              .mask = b->n_heads > 1 ? b->mask : NULL, .priority = b->priority},
        .episodes = {.count = b->n_episodes, .ret = b->ep_return, .length = b->ep_length,
                     .head = b->ep_head, .intrinsic_ret = b->ep_intrinsic}};
}

/* Moves elements [n, count) of a column of `width`-byte entries to its front. */
static void shift(void *col, size_t width, size_t n, size_t count)
{
    if (col && count > n) {
        memmove(col, (uint8_t *)col + n * width, (count - n) * width);
    }
}

void actor_buffer_drop(actor_buffer *b, size_t n)
{
    actor_steps *s = &b->steps;
    assert(n <= s->count);
    size_t c = s->count;
    shift(s->obs, s->obs_bytes, n, c);
    shift(s->next_obs, s->obs_bytes, n, c);
    shift(s->action, sizeof *s->action, n, c);
    shift(s->reward, sizeof *s->reward, n, c);
    shift(s->discount, sizeof *s->discount, n, c);
    shift(s->n_steps, sizeof *s->n_steps, n, c);
    shift(s->env, sizeof *s->env, n, c);
    shift(s->aux, s->aux_floats * sizeof *s->aux, n, c);
    shift(b->mask, sizeof *b->mask, n, c);
    shift(b->priority, sizeof *b->priority, n, c);
    shift(b->pending, sizeof *b->pending, n, c);
    s->count = c - n;
    b->n_episodes = 0;
    b->env_steps = 0;
}
