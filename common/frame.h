/* Framing: one protobuf-c `shoal.v1.Envelope` per ZeroMQ message (plus the identity frame on
 * ROUTER sockets). Decoding enforces a size limit and the wire version and turns any bad input
 * (truncated, oversized, garbage, wrong version, no body) into SHOAL_EPROTO or SHOAL_EVERSION
 * with a message; it never aborts.
 *
 * Decoding allocates from a frame_arena when one is given: the arena is reset per message and
 * grows to the largest message seen, so the steady state allocates nothing.
 *
 *     frame_arena *arena = frame_arena_new(1 << 20, &err);
 *     Shoal__V1__Envelope *env;
 *     if (frame_recv(sock, max_bytes, arena, &env, ZMQ_DONTWAIT, &err) == SHOAL_OK) { ... }
 *     frame_arena_reset(arena);   // env is gone now
 */
#ifndef SHOAL_COMMON_FRAME_H
#define SHOAL_COMMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/shoal.pb-c.h"

/* The wire version every Envelope carries; a receiver rejects any other. */
#define SHOAL_WIRE_VERSION 1u

/* Largest ZeroMQ routing identity (ZeroMQ limits identities to 255 bytes). */
#define FRAME_ID_MAX 256

typedef struct frame_arena frame_arena;

/* An arena starting with initial_bytes (grown on demand). NULL with ENOMEM. */
frame_arena *frame_arena_new(size_t initial_bytes, shoal_err *err);

/* Frees the arena and every message decoded into it. NULL is fine. */
void frame_arena_free(frame_arena *a);

/* Forgets every message decoded since the last reset; keeps (and consolidates) the memory. */
void frame_arena_reset(frame_arena *a);

/* Decodes len bytes into *out. With arena == NULL the envelope is malloc'ed and the caller
 * frees it with frame_envelope_free; with an arena it lives until frame_arena_reset.
 * EPROTO: longer than max_bytes, malformed or truncated, or no body. EVERSION: other version. */
int frame_decode(const uint8_t *buf, size_t len, size_t max_bytes, frame_arena *arena,
                 Shoal__V1__Envelope **out, shoal_err *err);

/* Frees an envelope decoded without an arena. NULL is fine. */
void frame_envelope_free(Shoal__V1__Envelope *env);

/* Sets env->version to SHOAL_WIRE_VERSION and returns its packed size. */
size_t frame_packed_size(Shoal__V1__Envelope *env);

/* Packs env into buf (at least frame_packed_size bytes); returns the bytes written. */
size_t frame_pack(Shoal__V1__Envelope *env, uint8_t *buf);

/* Sends env as one message (flags: 0 or ZMQ_DONTWAIT). EAGAIN when it would block, EIO on
 * other ZeroMQ errors, EINTERRUPTED on a signal. The envelope's version is set here. */
int frame_send(void *sock, Shoal__V1__Envelope *env, int flags, shoal_err *err);

/* ROUTER side: sends [identity][env] to the peer with that identity. */
int frame_send_to(void *sock, const uint8_t *id, size_t id_len, Shoal__V1__Envelope *env, int flags,
                  shoal_err *err);

/* Receives one message and decodes it (see frame_decode). EAGAIN with ZMQ_DONTWAIT and nothing
 * queued; EINTERRUPTED on a signal; EIO on socket errors; EPROTO/EVERSION for bad input (the
 * message has been consumed: the caller may answer with an Error and go on). */
int frame_recv(void *sock, size_t max_bytes, frame_arena *arena, Shoal__V1__Envelope **out,
               int flags, shoal_err *err);

/* ROUTER side: receives [identity][payload]; copies the identity into id (FRAME_ID_MAX bytes)
 * and its length into *id_len before decoding, so a bad payload can still be answered. A
 * message with more or fewer frames is consumed whole and reported as EPROTO. */
int frame_recv_from(void *sock, uint8_t *id, size_t *id_len, size_t max_bytes, frame_arena *arena,
                    Shoal__V1__Envelope **out, int flags, shoal_err *err);

/* Sends an Error{code, message} envelope to a ROUTER peer (id != NULL) or a plain peer. */
int frame_send_error(void *sock, const uint8_t *id, size_t id_len, int code, const char *message,
                     shoal_err *err);

/* Bytes of one observation for spec, after checking it has 3 nonzero dims and a known dtype
 * and that the product does not overflow. EPROTO otherwise. */
int frame_obs_bytes(const Shoal__V1__ObsSpec *spec, size_t *bytes, shoal_err *err);

#endif
