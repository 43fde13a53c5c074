/* RUN_DIR/endpoints.json: where a running job's replay shards and parameter publisher listen,
 * so standalone roles (`shoal actor --join RUN_DIR`) can join it (ARCHITECTURE.md, Processes
 * and roles). The file is one JSON object:
 *
 *     {"replay": ["tcp://host:5555", "tcp://host:5556"], "params": "tcp://host:5560"}
 *
 * The trainer writes it atomically once every endpoint is bound; readers accept exactly this
 * shape (other keys are ignored, strings without escapes).
 *
 *     cluster_endpoints ep;
 *     cluster_endpoints_read("runs/x/endpoints.json", &ep, &err);
 *     cluster_endpoints_write("runs/x/endpoints.json", &ep, &err);
 */
#ifndef SHOAL_CLUSTER_ENDPOINTS_H
#define SHOAL_CLUSTER_ENDPOINTS_H

#include <stddef.h>

#include "common/err.h"

#define CLUSTER_MAX_SHARDS 256
#define CLUSTER_ENDPOINT_MAX 256

typedef struct cluster_endpoints {
    size_t n_replay;
    char replay[CLUSTER_MAX_SHARDS][CLUSTER_ENDPOINT_MAX];
    char params[CLUSTER_ENDPOINT_MAX];
} cluster_endpoints;

/* Parses text (len bytes); name appears in messages. EINVAL says what was expected where. */
int cluster_endpoints_parse(const char *text, size_t len, const char *name,
                            cluster_endpoints *out, shoal_err *err);

/* Reads and parses path. ENOTFOUND (with a hint that the trainer writes it), EIO, EINVAL. */
int cluster_endpoints_read(const char *path, cluster_endpoints *out, shoal_err *err);

/* Writes ep to path atomically. EIO. */
int cluster_endpoints_write(const char *path, const cluster_endpoints *ep, shoal_err *err);

/* The replay endpoints joined with ',' into buf (cap bytes). EINVAL when it does not fit. */
int cluster_endpoints_replay_list(const cluster_endpoints *ep, char *buf, size_t cap,
                                  shoal_err *err);

#endif
