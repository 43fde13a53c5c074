#include "common/obs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest dimension and value count a spec may have: far above any game, low enough that
 * bytes and float counts never overflow on any platform we build for. */
#define OBS_MAX_DIM 65536u
#define OBS_MAX_VALUES ((uint64_t)1 << 30)

size_t obs_shape_values(obs_shape s)
{
    return (size_t)s.h * s.w * s.c;
}

size_t obs_shape_bytes(obs_shape s, obs_dtype dtype)
{
    size_t n = obs_shape_values(s);
    return dtype == OBS_DTYPE_BIT ? (n + 7) / 8 : dtype == OBS_DTYPE_FLOAT32 ? n * 4 : n;
}

int obs_spec_finish(obs_spec *spec, shoal_err *err)
{
    const uint32_t dims[3] = {spec->shape.h, spec->shape.w, spec->shape.c};
    uint64_t values = 1;
    for (size_t i = 0; i < 3; i++) {
        if (dims[i] == 0 || dims[i] > OBS_MAX_DIM) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "observation shape[%zu] = %u; expected 1..65536", i, dims[i]);
        }
        values *= dims[i];
    }
    if (values > OBS_MAX_VALUES) {
        return shoal_err_set(err, SHOAL_EINVAL, "observation of %llu values is too large",
                             (unsigned long long)values);
    }
    if (!obs_dtype_name(spec->dtype)) {
        return shoal_err_set(err, SHOAL_EINVAL, "observation dtype %u is not 1 (bit), 2 (uint8) "
                             "or 3 (float32)", (unsigned)spec->dtype);
    }
    spec->bytes = obs_shape_bytes(spec->shape, spec->dtype);
    return SHOAL_OK;
}

int obs_spec_parse(const char *shape, const char *dtype, obs_spec *spec, shoal_err *err)
{
    memset(spec, 0, sizeof *spec);
    uint32_t dims[3];
    const char *s = shape;
    for (size_t i = 0; i < 3; i++) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > OBS_MAX_DIM || (i < 2 && *end != ',') || (i == 2 && *end)) {
            return shoal_err_set(err, SHOAL_EINVAL, "observation shape '%s': expected three "
                                 "positive integers H,W,C such as 10,10,4", shape);
        }
        dims[i] = (uint32_t)v;
        s = end + 1;
    }
    spec->shape = (obs_shape){dims[0], dims[1], dims[2]};
    if (obs_dtype_parse(dtype, &spec->dtype, err) != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    return obs_spec_finish(spec, err);
}

char *obs_shape_format(obs_shape s, char *buf, size_t size)
{
    snprintf(buf, size, "%u,%u,%u", s.h, s.w, s.c);
    return buf;
}

const char *obs_dtype_name(obs_dtype d)
{
    switch (d) {
    case OBS_DTYPE_BIT: return "bit";
    case OBS_DTYPE_UINT8: return "uint8";
    case OBS_DTYPE_FLOAT32: return "float32";
    }
    return NULL;
}

int obs_dtype_parse(const char *name, obs_dtype *out, shoal_err *err)
{
    static const obs_dtype all[] = {OBS_DTYPE_BIT, OBS_DTYPE_UINT8, OBS_DTYPE_FLOAT32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, obs_dtype_name(all[i])) == 0) {
            *out = all[i];
            return SHOAL_OK;
        }
    }
    return shoal_err_set(err, SHOAL_EINVAL, "observation dtype '%s': expected bit, uint8 or "
                         "float32", name);
}

/* Bits of one packed observation, LSB first; whole bytes unrolled since this runs per batch. */
static void unpack_bits(float *out, const uint8_t *src, size_t per)
{
    size_t full = per / 8;
    for (size_t j = 0; j < full; j++) {
        unsigned b = src[j];
        for (unsigned bit = 0; bit < 8; bit++) {
            out[j * 8 + bit] = (float)((b >> bit) & 1u);
        }
    }
    for (size_t i = full * 8; i < per; i++) {
        out[i] = (float)((src[i >> 3] >> (i & 7)) & 1u);
    }
}

void obs_unpack_f32(float *out, const void *obs, const obs_spec *spec, size_t n)
{
    size_t per = obs_shape_values(spec->shape);
    size_t bytes = obs_shape_bytes(spec->shape, spec->dtype);
    const uint8_t *src = obs;
    for (size_t k = 0; k < n; k++, src += bytes, out += per) {
        if (spec->dtype == OBS_DTYPE_UINT8) {
            for (size_t i = 0; i < per; i++) {
                out[i] = (float)src[i];
            }
        } else if (spec->dtype == OBS_DTYPE_FLOAT32) {
            memcpy(out, src, per * sizeof *out);
        } else {
            unpack_bits(out, src, per);
        }
    }
}

const config_key obs_facts_config_keys[] = {
    {"env", "obs_shape", CONFIG_STRING, "", 0, 0, NULL,
     "observation shape H,W,C of env.name; derived by shoal train and shoal <role> when empty"},
    {"env", "obs_dtype", CONFIG_ENUM, "bit", 0, 0, "bit|uint8|float32",
     "observation encoding of env.name, on the wire and in the store (bit: 8 values per byte); "
     "derived with env.obs_shape"},
    {"env", "n_actions", CONFIG_INT, "0", 0, 4294967295.0, NULL,
     "actions of env.name the agent chooses from; derived with env.obs_shape when 0"},
    CONFIG_KEY_END,
};

bool obs_facts_in_config(const config *cfg)
{
    return config_str(cfg, "env", "obs_shape")[0] != '\0' &&
           config_int(cfg, "env", "n_actions") > 0;
}

int obs_facts_from_config(const config *cfg, obs_facts *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    if (!obs_facts_in_config(cfg)) {
        return shoal_err_set(err, SHOAL_EINVAL, "env.obs_shape is not set: `shoal train` derives "
                             "it; for a role started by hand, `shoal <role> CONFIG` derives it "
                             "from env.name, or set env.obs_shape, env.obs_dtype and "
                             "env.n_actions (`shoal env list` shows them)");
    }
    if (obs_spec_parse(config_str(cfg, "env", "obs_shape"), config_str(cfg, "env", "obs_dtype"),
                       &out->obs, err) != SHOAL_OK) {
        return shoal_err_prefix(err, "env.obs_shape/obs_dtype");
    }
    out->n_actions = (uint32_t)config_int(cfg, "env", "n_actions");
    return SHOAL_OK;
}

int obs_facts_to_config(config *cfg, const obs_facts *f, const char *origin, shoal_err *err)
{
    obs_spec spec = f->obs;
    if (obs_spec_finish(&spec, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    if (f->n_actions == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "an environment with 0 actions");
    }
    char shape[OBS_SHAPE_TEXT_MAX], text[3][64];
    snprintf(text[0], sizeof text[0], "env.obs_shape=%s",
             obs_shape_format(spec.shape, shape, sizeof shape));
    snprintf(text[1], sizeof text[1], "env.obs_dtype=%s", obs_dtype_name(spec.dtype));
    snprintf(text[2], sizeof text[2], "env.n_actions=%u", f->n_actions);
    for (size_t i = 0; i < 3; i++) {
        if (config_set(cfg, text[i], origin, err) != SHOAL_OK) {
            return SHOAL_EINVAL;
        }
    }
    return SHOAL_OK;
}

int obs_facts_check(const obs_facts *want, const obs_facts *env, const char *name,
                    shoal_err *err)
{
    const obs_spec *w = &want->obs, *e = &env->obs;
    if (w->shape.h == e->shape.h && w->shape.w == e->shape.w && w->shape.c == e->shape.c &&
        w->dtype == e->dtype && want->n_actions == env->n_actions) {
        return SHOAL_OK;
    }
    char ws[OBS_SHAPE_TEXT_MAX], es[OBS_SHAPE_TEXT_MAX];
    const char *wd = obs_dtype_name(w->dtype), *ed = obs_dtype_name(e->dtype);
    return shoal_err_set(err, SHOAL_EINVAL, "%s has observations %s %s and %u actions, but the "
                         "config's env facts say %s %s and %u actions (env.obs_shape, "
                         "env.obs_dtype, env.n_actions): they were derived from another "
                         "env.name; set env.obs_shape= and env.n_actions=0 to derive them again",
                         name, obs_shape_format(e->shape, es, sizeof es), ed ? ed : "?",
                         env->n_actions, obs_shape_format(w->shape, ws, sizeof ws), wd ? wd : "?",
                         want->n_actions);
}
