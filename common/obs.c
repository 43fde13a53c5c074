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
            return shoal_err_set(err, SHOAL_EINVAL, "observation shape[%zu] = %u; expected 1..65536",
                                 i, dims[i]);
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
