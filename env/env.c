#include "env/env.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "env/env_impl.h"
#include "env/games.h"
#include "env/registry.h"

const char *const env_minatar_action_names[MINATAR_N_ACTIONS] = {
    "noop", "left", "up", "right", "down", "fire",
};

const int8_t env_minatar_dx[MINATAR_N_ACTIONS] = {0, -1, 0, 1, 0, 0};
const int8_t env_minatar_dy[MINATAR_N_ACTIONS] = {0, 0, -1, 0, 1, 0};

void *env_minatar_state_new(size_t bytes, uint32_t n_channels, const char *name,
                            size_t ramping_offset, int ramping, env_shape *shape, shoal_err *err)
{
    void *state = calloc(1, bytes);
    if (!state) {
        shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    if (ramping_offset != ENV_MINATAR_NO_RAMPING) {
        assert(ramping_offset + sizeof(bool) <= bytes);
        *(bool *)((char *)state + ramping_offset) = ramping != 0;
    }
    *shape = (env_shape){10, 10, n_channels};
    return state;
}

void env_options_default(env_options *o)
{
    memset(o, 0, sizeof *o);
    o->sticky = 0.1;
    o->ramping = true;
    o->rand_kind = ENV_RAND_MT19937;
}

int env_options_set_param(env_options *o, const char *name, double value, shoal_err *err)
{
    if (strlen(name) >= ENV_PARAM_NAME_MAX) {
        return shoal_err_set(err, SHOAL_EINVAL, "env option '%s': name longer than %d bytes",
                             name, ENV_PARAM_NAME_MAX - 1);
    }
    for (size_t i = 0; i < o->n_params; i++) {
        if (strcmp(o->params[i].name, name) == 0) {
            o->params[i].value = value;
            return SHOAL_OK;
        }
    }
    if (o->n_params == ENV_MAX_PARAMS) {
        return shoal_err_set(err, SHOAL_EINVAL, "env option '%s': more than %d game parameters",
                             name, ENV_MAX_PARAMS);
    }
    snprintf(o->params[o->n_params].name, ENV_PARAM_NAME_MAX, "%s", name);
    o->params[o->n_params].value = value;
    o->n_params++;
    return SHOAL_OK;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
        !strcasecmp(v, "yes")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
        !strcasecmp(v, "no")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int parse_number(const char *key, const char *v, double *out, shoal_err *err)
{
    char *end;
    *out = strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(*out)) {
        return shoal_err_set(err, SHOAL_EINVAL, "env option %s=%s: expected a number", key, v);
    }
    return SHOAL_OK;
}

static int apply_option(env_options *o, const char *key, const char *v, shoal_err *err)
{
    double x;
    if (strcmp(key, "ramping") == 0) {
        if (parse_bool(v, &o->ramping) != 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "env option ramping=%s: expected on or off",
                                 v);
        }
        return SHOAL_OK;
    }
    if (strcmp(key, "actions") == 0) {
        if (strcmp(v, "minimal") != 0 && strcmp(v, "full") != 0) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "env option actions=%s: expected minimal or full", v);
        }
        o->full_action_set = strcmp(v, "full") == 0;
        return SHOAL_OK;
    }
    if (strcmp(key, "rng") == 0) {
        if (strcmp(v, "mt19937") != 0 && strcmp(v, "xoshiro") != 0) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "env option rng=%s: expected mt19937 or xoshiro", v);
        }
        o->rand_kind = strcmp(v, "xoshiro") == 0 ? ENV_RAND_XOSHIRO : ENV_RAND_MT19937;
        return SHOAL_OK;
    }
    if (parse_number(key, v, &x, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (strcmp(key, "sticky") == 0) {
        if (!(x >= 0 && x <= 1)) {
            return shoal_err_set(err, SHOAL_EINVAL, "env option sticky=%s: expected [0, 1]", v);
        }
        o->sticky = x;
        return SHOAL_OK;
    }
    if (strcmp(key, "max_episode_steps") == 0) {
        if (!(x >= 0 && x <= 1e15) || x != floor(x)) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "env option max_episode_steps=%s: expected a whole number >= 0 "
                                 "(0: no limit)", v);
        }
        o->max_episode_steps = (uint64_t)x;
        return SHOAL_OK;
    }
    return env_options_set_param(o, key, x, err);
}

int env_options_parse(env_options *o, const char *text, shoal_err *err)
{
    char item[128];
    const char *p = text ? text : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            p++;
            continue;
        }
        if (len >= sizeof item) {
            return shoal_err_set(err, SHOAL_EINVAL, "env options: item '%.*s...' is too long",
                                 20, p);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        p += len;
        char *eq = strchr(item, '=');
        if (!eq || eq == item || eq[1] == '\0') {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "env options: '%s' is not key=value (e.g. sticky=0,size=20)",
                                 item);
        }
        *eq = '\0';
        if (apply_option(o, item, eq + 1, err) != SHOAL_OK) {
            return err ? err->code : SHOAL_EINVAL;
        }
    }
    return SHOAL_OK;
}

/* Resolves the game's parameter values from the options (defaults for those not given). */
static int game_params(const env_game *g, const env_options *o, double *values, shoal_err *err)
{
    for (size_t k = 0; k < g->n_params; k++) {
        values[k] = g->params[k].default_value;
    }
    for (size_t i = 0; i < o->n_params; i++) {
        size_t k = 0;
        while (k < g->n_params && strcmp(g->params[k].name, o->params[i].name) != 0) {
            k++;
        }
        if (k == g->n_params) {
            char known[256] = "";
            for (size_t j = 0; j < g->n_params; j++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof known - used, "%s%s", j ? ", " : "",
                         g->params[j].name);
            }
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "%s has no option '%s'; its parameters: %s (and for every "
                                 "game: sticky, ramping, max_episode_steps, actions, rng)",
                                 g->name, o->params[i].name, known[0] ? known : "none");
        }
        const env_param_def *d = &g->params[k];
        double v = o->params[i].value;
        if (v < d->min || v > d->max || (d->integer && v != floor(v))) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s option %s=%g: expected %s in [%g, %g]",
                                 g->name, d->name, v, d->integer ? "a whole number" : "a number",
                                 d->min, d->max);
        }
        values[k] = v;
    }
    return SHOAL_OK;
}

env *env_make(const env_registry *reg, const char *name, const env_options *opts,
              shoal_err *err)
{
    const env_game *g = env_registry_need(reg, name, err);
    if (!g) {
        return NULL;
    }
    double values[ENV_MAX_PARAMS];
    if (game_params(g, opts, values, err) != SHOAL_OK) {
        return NULL;
    }
    /* Aligned so that the hot fields share one cache line (env/env_impl.h). */
    env *e = aligned_alloc(64, (sizeof *e + 63) / 64 * 64);
    if (!e) {
        shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->game = g;
    e->opts = *opts;
    e->max_episode_steps = opts->max_episode_steps;
    e->sticky_u53 = env_rand_u53_bound(opts->sticky);
    /* A fresh err of our own: a plugin that fails without host->fail must not leave the
     * caller with a stale or empty message. */
    env_shape shape = {0};
    shoal_err why = {0};
    e->state = g->create(values, opts->ramping ? 1 : 0, &shape, &why);
    if (!e->state) {
        if (why.code == SHOAL_OK) {
            shoal_err_set(&why, SHOAL_EINVAL, "%s: create failed and gave no reason", name);
        }
        if (err) {
            *err = why;
        }
        env_free(e);
        return NULL;
    }
    /* Plugins' shapes are checked here: a zero or huge dimension would break every buffer. */
    obs_spec spec = {.shape = {shape.h, shape.w, shape.c}, .dtype = g->dtype};
    if (obs_spec_finish(&spec, err) != SHOAL_OK) {
        shoal_err_prefix(err, "%s: create", name);
        env_free(e);
        return NULL;
    }
    e->shape = spec.shape;
    e->obs_bytes = spec.bytes;
    e->n_actions = opts->full_action_set ? g->n_native_actions : g->n_minimal_actions;
    e->action_map = opts->full_action_set ? NULL : g->minimal_actions;
    env_seed(e, 0);
    env_reset(e, NULL);
    return e;
}

void env_free(env *e)
{
    if (!e) {
        return;
    }
    if (e->state) {
        e->game->destroy(e->state);
    }
    free(e);
}

const env_game *env_game_of(const env *e)
{
    return e->game;
}

obs_shape env_obs_shape(const env *e)
{
    return e->shape;
}

obs_dtype env_obs_dtype(const env *e)
{
    return e->game->dtype;
}

size_t env_obs_bytes(const env *e)
{
    return e->obs_bytes;
}

obs_spec env_obs_spec(const env *e)
{
    return (obs_spec){.shape = e->shape, .dtype = e->game->dtype, .bytes = e->obs_bytes};
}

uint32_t env_n_actions(const env *e)
{
    return e->n_actions;
}

obs_facts env_facts(const env *e)
{
    return (obs_facts){.obs = env_obs_spec(e), .n_actions = e->n_actions};
}

const char *env_action_name(const env *e, uint32_t a)
{
    if (a >= e->n_actions) {
        return "?";
    }
    return e->game->action_names[e->action_map ? e->action_map[a] : a];
}

void env_seed(env *e, uint64_t seed)
{
    env_rand_seed(&e->rand, e->opts.rand_kind, seed);
    if (e->game->seed) {
        e->game->seed(e->state, seed);
    }
}

void env_observe(const env *e, void *obs)
{
    env_observe_inline(e, obs);
}

void env_reset(env *e, void *obs)
{
    e->game->reset(e->state, &e->rand);
    e->t = 0;
    e->terminal = false;
    e->truncated = false;
    if (obs) {
        env_observe(e, obs);
    }
}

env_step_result env_step(env *e, uint32_t a, void *obs)
{
    return env_step_inline(e, a, obs);
}

uint32_t env_last_action(const env *e)
{
    return e->last_action;
}

uint64_t env_episode_steps(const env *e)
{
    return e->t;
}

int env_ramp_index(const env *e)
{
    return e->game->ramp_index ? e->game->ramp_index(e->state) : -1;
}

const void *env_game_state(const env *e)
{
    return e->state;
}

void *env_game_state_mut(env *e)
{
    return e->state;
}

int env_obs_value(const void *obs, obs_shape shape, obs_dtype dtype, uint32_t y, uint32_t x,
                  uint32_t ch)
{
    size_t i = ((size_t)y * shape.w + x) * shape.c + ch;
    const uint8_t *b = obs;
    if (dtype == OBS_DTYPE_BIT) {
        return (b[i >> 3] >> (i & 7)) & 1;
    }
    return b[i];
}

size_t env_render(const env *e, char *buf, size_t cap)
{
    size_t need = (size_t)e->shape.h * (e->shape.w + 1);
    uint8_t *obs = calloc(1, e->obs_bytes ? e->obs_bytes : 1);
    size_t pos = 0;
    if (obs) {
        env_observe(e, obs);
    }
    for (uint32_t y = 0; obs && y < e->shape.h; y++) {
        for (uint32_t x = 0; x <= e->shape.w; x++) {
            char ch = '\n';
            if (x < e->shape.w) {
                ch = '.';
                for (uint32_t c = 0; c < e->shape.c; c++) {
                    if (env_obs_value(obs, e->shape, e->game->dtype, y, x, c)) {
                        size_t n_glyphs = e->game->glyphs ? strlen(e->game->glyphs) : 0;
                        ch = c < n_glyphs ? e->game->glyphs[c] : '#';
                        break;
                    }
                }
            }
            if (pos + 1 < cap) {
                buf[pos] = ch;
            }
            pos++;
        }
    }
    if (cap > 0) {
        buf[pos < cap ? pos : cap - 1] = '\0';
    }
    free(obs);
    return need;
}

