/* Observations in one vocabulary for every part: the shape and encoding of one observation
 * (obs_spec), parsed from and formatted to config text, and unpacked to floats for a network.
 * Plain data and pure functions; no protobuf, no environment.
 *
 * An observation is row-major (H, W, C). OBS_DTYPE_BIT packs value (row*W + col)*C + channel
 * into bit i of byte i/8, LSB first (MinAtar); OBS_DTYPE_UINT8 stores one byte per value
 * (DeepSea, Chain); OBS_DTYPE_FLOAT32 four bytes per value in host order.
 *
 *     obs_spec spec;
 *     obs_spec_parse("10,10,4", "bit", &spec, &err);   // spec.bytes == 50
 *     obs_unpack_f32(x, batch, &spec, n);              // n * 400 floats
 */
#ifndef SHOAL_COMMON_OBS_H
#define SHOAL_COMMON_OBS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Observation encodings; the numbers are proto/shoal.proto's ObsDtype. */
typedef enum obs_dtype {
    OBS_DTYPE_BIT = 1,
    OBS_DTYPE_UINT8 = 2,
    OBS_DTYPE_FLOAT32 = 3,
} obs_dtype;

/* Shape of one observation. Part of the plugin ABI (env/game.h): keep the layout. */
typedef struct obs_shape {
    uint32_t h, w, c;
} obs_shape;

/* Layout of one observation. Plain data; bytes follows from shape and dtype (obs_spec_finish). */
typedef struct obs_spec {
    obs_shape shape;
    obs_dtype dtype;
    size_t bytes; /* bytes of one encoded observation */
} obs_spec;

/* Longest text obs_shape_format writes, with its terminating NUL ("65536,65536,65536"). */
#define OBS_SHAPE_TEXT_MAX 24

/* Values of one observation (h * w * c). */
size_t obs_shape_values(obs_shape s);

/* Bytes of one observation of this shape and dtype (an unknown dtype counts one per value). */
size_t obs_shape_bytes(obs_shape s, obs_dtype dtype);

/* Checks spec->shape and spec->dtype and fills spec->bytes. EINVAL when a dimension is 0 or
 * above 65536, the observation has more than 2^30 values, or the dtype is unknown. */
int obs_spec_finish(obs_spec *spec, shoal_err *err);

/* Parses "H,W,C" and "bit|uint8|float32" (config values) into a finished spec. EINVAL names the
 * input. */
int obs_spec_parse(const char *shape, const char *dtype, obs_spec *spec, shoal_err *err);

/* Writes "H,W,C" into buf (OBS_SHAPE_TEXT_MAX bytes are always enough); returns buf. */
char *obs_shape_format(obs_shape s, char *buf, size_t size);

/* "bit", "uint8" or "float32"; NULL for any other value. */
const char *obs_dtype_name(obs_dtype d);

/* The dtype named "bit", "uint8" or "float32". EINVAL names the input and the choices. */
int obs_dtype_parse(const char *name, obs_dtype *out, shoal_err *err);

/* Unpacks n observations (each spec->bytes, back to back) into n * obs_shape_values floats:
 * 0/1 for BIT, the byte's value for UINT8, a copy for FLOAT32. */
void obs_unpack_f32(float *out, const void *obs, const obs_spec *spec, size_t n);

#endif
