/* Endpoint lists: "tcp://a:1,tcp://b:2" on command lines and in configs, and
 * RUN_DIR/endpoints.json: where a running job's replay shards and parameter publisher listen,
 * so standalone roles (`shoal actor --join RUN_DIR`) can join it (ARCHITECTURE.md, Processes
 * and roles). The file is one JSON object:
 *
 *     {"replay": ["tcp://host:5555", "tcp://host:5556"], "params": "tcp://host:5560"}
 *
 * The trainer writes it atomically once every endpoint is bound; readers accept exactly this
 * shape (other keys are ignored, strings without escapes).
 *
 *     endpoint_file ep;
 *     endpoints_read("runs/x/endpoints.json", &ep, &err);
 *     endpoints_write("runs/x/endpoints.json", &ep, &err);
 */
#ifndef SHOAL_COMMON_ENDPOINTS_H
#define SHOAL_COMMON_ENDPOINTS_H

#include <stddef.h>

#include "common/err.h"

#define ENDPOINTS_MAX_SHARDS 256
#define ENDPOINTS_MAX_LEN 256

typedef struct endpoint_file {
    size_t n_replay;
    char replay[ENDPOINTS_MAX_SHARDS][ENDPOINTS_MAX_LEN];
    char params[ENDPOINTS_MAX_LEN];
} endpoint_file;

/* Splits a comma-separated list (endpoints, or file paths) into rows of `width` bytes of out (at most cap rows); *n gets
 * the count. EINVAL names the list when an item is empty or too long, there are more than cap,
 * or there are none. */
int endpoints_split(const char *list, char *out, size_t cap, size_t width, size_t *n,
                    shoal_err *err);

/* Parses text (len bytes); name appears in messages. EINVAL says what was expected where. */
int endpoints_parse(const char *text, size_t len, const char *name,
                            endpoint_file *out, shoal_err *err);

/* Reads and parses path. ENOTFOUND (with a hint that the trainer writes it), EIO, EINVAL. */
int endpoints_read(const char *path, endpoint_file *out, shoal_err *err);

/* Writes ep to path atomically. EIO. */
int endpoints_write(const char *path, const endpoint_file *ep, shoal_err *err);

/* endpoint ("tcp://HOST:PORT") with its host replaced by host into out (cap bytes): a socket
 * bound to every interface reports "tcp://0.0.0.0:PORT", which no other machine can connect
 * to. EINVAL when endpoint has no ":PORT" or the result does not fit. out may be endpoint. */
int endpoints_with_host(const char *endpoint, const char *host, char *out, size_t cap,
                        shoal_err *err);

/* The host of "tcp://HOST:PORT" ("[::1]" without brackets) into out (cap bytes); EINVAL when
 * endpoint is not of that form or the host does not fit. */
int endpoints_host(const char *endpoint, char *out, size_t cap, shoal_err *err);

/* The replay endpoints joined with ',' into buf (cap bytes). EINVAL when it does not fit. */
int endpoints_join_replay(const endpoint_file *ep, char *buf, size_t cap,
                                  shoal_err *err);

#endif
