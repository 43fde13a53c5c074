#include "common/curve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/fileio.h"
#include "common/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "shoal"

int curve_check_library(shoal_err *err)
{
    if (!zmq_has("curve")) {
        return shoal_err_set(err, SHOAL_EINVAL, "this libzmq was built without CURVE security "
                             "(zmq_has(\"curve\") is false); install a libzmq with libsodium "
                             "(Debian: libzmq5) or set cluster.curve = off on a trusted network");
    }
    return SHOAL_OK;
}

int curve_mode_parse(const char *text, curve_mode *out, shoal_err *err)
{
    static const char *const names[] = {"auto", "on", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (curve_mode)i;
            return SHOAL_OK;
        }
    }
    return shoal_err_set(err, SHOAL_EINVAL, "cluster.curve = '%s'; expected auto, on or off",
                         text);
}

bool curve_host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

bool curve_mode_enabled(curve_mode mode, const char *bind_host)
{
    return mode == CURVE_ON || (mode == CURVE_AUTO && !curve_host_is_loopback(bind_host));
}

/* ---- key files ---- */

/* Owner-only and ours: anything else would let another user read or swap the keys. */
static int check_private(const char *path, bool folder, shoal_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return shoal_err_set(err, e == ENOENT ? SHOAL_ENOTFOUND : SHOAL_EIO,
                             "%s: %s; shoal train creates the run's keys when it prepares the "
                             "run folder (or name a key folder with cluster.curve_keys)", path,
                             strerror(e));
    }
    if (st.st_uid != geteuid()) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s belongs to another user (uid %u); refusing "
                             "its keys", path, (unsigned)st.st_uid);
    }
    if (st.st_mode & 077) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s is accessible to other users (mode %03o); "
                             "refusing its keys: run chmod %s %s (and make new keys if others "
                             "may have read them)", path, (unsigned)(st.st_mode & 0777),
                             folder ? "700" : "600", path);
    }
    return SHOAL_OK;
}

static int key_path(char *out, size_t cap, const char *dir, const char *name, shoal_err *err)
{
    int w = snprintf(out, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "key folder path too long: %s", dir);
    }
    return SHOAL_OK;
}

static int write_pair(const char *dir, const char *name, shoal_err *err)
{
    char path[FILEIO_PATH_MAX], pub[CURVE_KEY_TEXT], sec[CURVE_KEY_TEXT];
    if (key_path(path, sizeof path, dir, name, err) != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "cannot make a CURVE key pair: %s",
                             zmq_strerror(zmq_errno()));
    }
    atomic_file af;
    if (atomic_file_open(&af, path, err) != SHOAL_OK) {
        return SHOAL_EIO;
    }
    /* atomic_file makes files others may read; a key file must not be, before it holds a key. */
    if (fchmod(fileno(af.f), 0600) != 0) {
        atomic_file_abort(&af);
        return shoal_err_set(err, SHOAL_EIO, "%s: chmod 600: %s", path, strerror(errno));
    }
    fprintf(af.f, "# shoal CURVE key pair (ZeroMQ Z85); keep it private\npublic = %s\n"
                  "secret = %s\n", pub, sec);
    memset(sec, 0, sizeof sec);
    return atomic_file_commit(&af, err);
}

int curve_keys_generate(const char *dir, shoal_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return shoal_err_set(err, SHOAL_EIO, "cannot create the key folder %s: %s", dir,
                             strerror(errno));
    }
    if (check_private(dir, true, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_EINVAL;
    }
    const char *names[] = {CURVE_SERVER_FILE, CURVE_CLIENT_FILE};
    bool have[2];
    for (int i = 0; i < 2; i++) {
        char path[FILEIO_PATH_MAX];
        if (key_path(path, sizeof path, dir, names[i], err) != SHOAL_OK) {
            return SHOAL_EINVAL;
        }
        have[i] = access(path, F_OK) == 0;
    }
    if (have[0] && have[1]) {
        curve_keys k;
        int rc = curve_keys_load(dir, true, &k, err);
        curve_keys_wipe(&k);
        return rc;
    }
    /* One pair without the other: both are made anew, so the pairs always belong together. */
    for (int i = 0; i < 2; i++) {
        if (write_pair(dir, names[i], err) != SHOAL_OK) {
            return err ? err->code : SHOAL_EIO;
        }
    }
    return SHOAL_OK;
}

/* Reads "public = K" and "secret = K" lines; secret may be NULL (not wanted). */
static int read_pair(const char *dir, const char *name, char *pub, char *sec, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    if (key_path(path, sizeof path, dir, name, err) != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    int rc = check_private(path, false, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    uint8_t *data = NULL;
    size_t n = 0;
    rc = file_read_all(path, 4096, &data, &n, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    char text[4097];
    memcpy(text, data, n);
    text[n] = '\0';
    memset(data, 0, n);
    free(data);
    bool got_pub = false, got_sec = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char field[16], key[64];
        if (line[0] == '#' || sscanf(line, "%15s = %63s", field, key) != 2 ||
            strlen(key) != CURVE_KEY_TEXT - 1) {
            continue;
        }
        if (strcmp(field, "public") == 0) {
            memcpy(pub, key, CURVE_KEY_TEXT);
            got_pub = true;
        } else if (strcmp(field, "secret") == 0) {
            if (sec) {
                memcpy(sec, key, CURVE_KEY_TEXT);
            }
            got_sec = true;
        }
        memset(key, 0, sizeof key);
    }
    memset(text, 0, sizeof text);
    if (!got_pub || !got_sec) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: expected the lines 'public = KEY' and "
                             "'secret = KEY' (40-character Z85 keys)", path);
    }
    return SHOAL_OK;
}

int curve_keys_load(const char *dir, bool server, curve_keys *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = curve_check_library(err);
    if (rc == SHOAL_OK) {
        rc = check_private(dir, true, err);
    }
    if (rc == SHOAL_OK) {
        rc = read_pair(dir, CURVE_SERVER_FILE, out->server_public,
                       server ? out->server_secret : NULL, err);
    }
    if (rc == SHOAL_OK) {
        rc = read_pair(dir, CURVE_CLIENT_FILE, out->client_public, out->client_secret, err);
    }
    if (rc != SHOAL_OK) {
        curve_keys_wipe(out);
        return rc;
    }
    out->on = true;
    return SHOAL_OK;
}

void curve_keys_wipe(curve_keys *k)
{
    bool on = k->on;
    /* volatile: a plain memset of memory about to die may be optimised away. */
    volatile char *p = (volatile char *)k;
    for (size_t i = 0; i < sizeof *k; i++) {
        p[i] = 0;
    }
    k->on = on;
}

/* ---- sockets ---- */

static int set_opt(void *sock, int opt, const void *val, size_t len, const char *what,
                   shoal_err *err)
{
    if (zmq_setsockopt(sock, opt, val, len) != 0) {
        return shoal_err_set(err, SHOAL_EIO, "CURVE: cannot set %s: %s", what,
                             zmq_strerror(zmq_errno()));
    }
    return SHOAL_OK;
}

int curve_socket_server(void *sock, const curve_keys *k, shoal_err *err)
{
    if (!k || !k->on) {
        return SHOAL_OK;
    }
    if (!k->server_secret[0]) {
        return shoal_err_set(err, SHOAL_EINVAL, "CURVE: a binding socket needs the server's "
                             "secret key (loaded for a client only)");
    }
    int one = 1;
    if (set_opt(sock, ZMQ_CURVE_SERVER, &one, sizeof one, "the server role", err) ||
        set_opt(sock, ZMQ_CURVE_SECRETKEY, k->server_secret, CURVE_KEY_TEXT - 1, "the secret key",
                err) ||
        set_opt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN), "the ZAP domain", err)) {
        return SHOAL_EIO;
    }
    return SHOAL_OK;
}

int curve_socket_client(void *sock, const curve_keys *k, shoal_err *err)
{
    if (!k || !k->on) {
        return SHOAL_OK;
    }
    if (set_opt(sock, ZMQ_CURVE_SERVERKEY, k->server_public, CURVE_KEY_TEXT - 1,
                "the server key", err) ||
        set_opt(sock, ZMQ_CURVE_PUBLICKEY, k->client_public, CURVE_KEY_TEXT - 1,
                "the public key", err) ||
        set_opt(sock, ZMQ_CURVE_SECRETKEY, k->client_secret, CURVE_KEY_TEXT - 1,
                "the secret key", err)) {
        return SHOAL_EIO;
    }
    return SHOAL_OK;
}

/* ---- ZAP ---- */

struct curve_zap {
    void *sock; /* REP, used only by the thread once it runs */
    pthread_t thread;
    atomic_bool stop;
    atomic_ulong refused;
    uint8_t client[32]; /* the run's client public key, binary */
};

/* ZAP request (RFC 27): version, request id, domain, address, identity, mechanism, then the
 * mechanism's credentials (CURVE: the client's 32-byte public key). */
#define ZAP_FRAMES 7

static void zap_reply(void *sock, const zmq_msg_t *request_id, bool ok)
{
    zmq_msg_t id;
    zmq_msg_init_size(&id, zmq_msg_size(request_id));
    memcpy(zmq_msg_data(&id), zmq_msg_data((zmq_msg_t *)request_id), zmq_msg_size(request_id));
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_msg_send(&id, sock, ZMQ_SNDMORE);
    zmq_send(sock, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    const char *text = ok ? "OK" : "not the run's client key";
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, ZMQ_SNDMORE); /* user id */
    zmq_send(sock, "", 0, 0);           /* metadata */
}

static void zap_serve(curve_zap *z)
{
    zmq_msg_t part[ZAP_FRAMES + 1];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t extra;
        zmq_msg_t *m = n <= ZAP_FRAMES ? &part[n] : &extra; /* a longer request is refused */
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, 0) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(m);
        } else {
            n++;
        }
    }
    if (n >= 2) {
        /* Only CURVE with exactly the run's client key; a plain (NULL) peer never reaches here
         * for a CURVE socket, its handshake fails first. */
        bool ok = n == ZAP_FRAMES && zmq_msg_size(&part[5]) == 5 &&
                  memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
                  zmq_msg_size(&part[6]) == 32 &&
                  memcmp(zmq_msg_data(&part[6]), z->client, 32) == 0;
        if (!ok) {
            unsigned long count = atomic_fetch_add(&z->refused, 1) + 1;
            if (count <= 10 || count % 1000 == 0) {
                char addr[64] = "?";
                if (n > 3) {
                    size_t len = zmq_msg_size(&part[3]);
                    len = len < sizeof addr - 1 ? len : sizeof addr - 1;
                    memcpy(addr, zmq_msg_data(&part[3]), len);
                    addr[len] = '\0';
                }
                log_warn("CURVE: refused a peer from %s: it does not hold the run's client key "
                         "(%lu refused so far)", addr, count);
            }
        }
        zap_reply(z->sock, &part[1], ok);
    }
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&part[i]);
    }
}

static void *zap_run(void *arg)
{
    curve_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t item = {.socket = z->sock, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, 100);
        if (rc < 0 && zmq_errno() != EINTR) {
            break;
        }
        if (rc > 0) {
            zap_serve(z);
        }
    }
    zmq_close(z->sock);
    return NULL;
}

curve_zap *curve_zap_new(void *ctx, const curve_keys *k, shoal_err *err)
{
    if (!k || !k->on) {
        return NULL;
    }
    curve_zap *z = calloc(1, sizeof *z);
    if (!z) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&z->stop, false);
    atomic_init(&z->refused, 0);
    if (!zmq_z85_decode(z->client, k->client_public)) {
        shoal_err_set(err, SHOAL_EINVAL, "CURVE: the client public key is not valid Z85");
        free(z);
        return NULL;
    }
    int linger = 0;
    z->sock = zmq_socket(ctx, ZMQ_REP);
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
        shoal_err_set(err, SHOAL_EIO, "CURVE: cannot start the ZAP handler: %s",
                      zmq_strerror(zmq_errno()));
        if (z->sock) {
            zmq_close(z->sock);
        }
        free(z);
        return NULL;
    }
    /* The socket passes to the thread here; pthread_create is the memory barrier ZeroMQ asks
     * for when a socket changes threads. */
    if (pthread_create(&z->thread, NULL, zap_run, z) != 0) {
        shoal_err_set(err, SHOAL_EIO, "CURVE: cannot start the ZAP thread");
        zmq_close(z->sock);
        free(z);
        return NULL;
    }
    return z;
}

void curve_zap_free(curve_zap *z)
{
    if (!z) {
        return;
    }
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    free(z);
}
