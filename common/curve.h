/* ZeroMQ CURVE on shoal's sockets: encryption and authentication of replay and parameter
 * traffic (docs/cluster.md, "Security on the wire").
 *
 * A run has two key pairs, both in one folder (RUN_DIR/keys/ unless cluster.curve_keys names
 * another): server.key (every socket that binds: shards' ROUTER, the learner's PUB) and
 * client.key (every socket that connects). A client must know the server's public key to
 * complete the handshake, and the server's ZAP handler (curve_zap) admits only the run's client
 * public key, so a peer without the run's keys is refused. The folder must be 0700 and the files
 * 0600, owned by the user: the keys are never sent anywhere, each process reads them from the
 * (private) run folder.
 *
 *     curve_keys k;
 *     curve_keys_generate("runs/x/keys", &err);              // the launcher, once
 *     curve_keys_load("runs/x/keys", true, &k, &err);         // every process
 *     curve_zap *z = curve_zap_new(ctx, &k, &err);            // a process that binds, per context
 *     curve_socket_server(sock, &k, &err);                    // before zmq_bind
 *     curve_socket_client(sock, &k, &err);                    // before zmq_connect
 */
#ifndef SHOAL_COMMON_CURVE_H
#define SHOAL_COMMON_CURVE_H

#include <stdbool.h>

#include "common/err.h"

/* Z85 text of a 32-byte key: 40 characters. */
#define CURVE_KEY_TEXT 41

/* The file names inside the key folder. */
#define CURVE_SERVER_FILE "server.key"
#define CURVE_CLIENT_FILE "client.key"

/* cluster.curve: "auto" is on unless the sockets bind to loopback only. */
typedef enum curve_mode { CURVE_AUTO, CURVE_ON, CURVE_OFF } curve_mode;

/* The keys one process uses; on = false means plain sockets (the other fields are empty).
 * server_secret is filled only when loaded for a binding process. */
typedef struct curve_keys {
    bool on;
    char server_public[CURVE_KEY_TEXT];
    char server_secret[CURVE_KEY_TEXT];
    char client_public[CURVE_KEY_TEXT];
    char client_secret[CURVE_KEY_TEXT];
} curve_keys;

/* EINVAL when this libzmq was built without CURVE (zmq_has("curve")), saying what to install. */
int curve_check_library(shoal_err *err);

/* Parses "auto", "on", "off". EINVAL otherwise. */
int curve_mode_parse(const char *text, curve_mode *out, shoal_err *err);

/* Whether host (cluster.bind_host) is loopback only: 127.0.0.0/8, "localhost", "::1". */
bool curve_host_is_loopback(const char *host);

/* The decision: ON and OFF as they say; AUTO is on unless bind_host is loopback. */
bool curve_mode_enabled(curve_mode mode, const char *bind_host);

/* Creates folder dir (0700) and two fresh key pairs in it (0600) unless both files exist
 * already (a resumed run keeps its keys; they are checked as curve_keys_load does). EIO. */
int curve_keys_generate(const char *dir, shoal_err *err);

/* Reads the key pairs from dir into out (out->on = true). server: also the server's secret
 * key (a process that binds). Refuses (EINVAL, with the chmod to run) a folder or a file that
 * others can read or that another user owns; ENOTFOUND when a file is missing. */
int curve_keys_load(const char *dir, bool server, curve_keys *out, shoal_err *err);

/* Wipes the key material in k (k->on stays). */
void curve_keys_wipe(curve_keys *k);

/* Makes sock a CURVE server with k's server key pair and the "shoal" ZAP domain; nothing when
 * k is NULL or off. Call before zmq_bind. EIO. */
int curve_socket_server(void *sock, const curve_keys *k, shoal_err *err);

/* Makes sock a CURVE client of k's server with k's client key pair; nothing when k is NULL or
 * off. Call before zmq_connect. EIO. */
int curve_socket_client(void *sock, const curve_keys *k, shoal_err *err);

/* The ZAP handler of one ZeroMQ context: a thread answering libzmq's authentication requests
 * (inproc://zeromq.zap.01) for every CURVE server socket of that context, admitting only the
 * client public key of k and logging refusals (without keys). One per context; NULL with
 * k NULL or off (nothing to do) and err untouched, or NULL with err (EIO) when it cannot
 * start, e.g. another handler holds the context. */
typedef struct curve_zap curve_zap;
curve_zap *curve_zap_new(void *ctx, const curve_keys *k, shoal_err *err);

/* Stops the thread (within 100 ms) and frees z; before zmq_ctx_term. NULL is fine. */
void curve_zap_free(curve_zap *z);

#endif
