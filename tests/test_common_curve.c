/* CURVE on shoal's sockets (common/curve.h): key files and their permissions, a shard and a
 * parameter publisher that refuse peers without the run's keys, and a capture of the bytes on
 * the wire (a TCP relay between client and shard that records what passes) showing that an
 * observation's bytes are readable without CURVE and not with it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/curve.h"
#include "learner/params.h"
#include "nn/qnet.h"
#include "replay/client.h"
#include "replay_fixtures.h"

static char base[64];

static void make_base(void)
{
    strcpy(base, "/tmp/shoal-curve-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    cr_assert_eq(system(cmd), 0);
}

/* A fresh key folder base/name with both pairs, loaded as a server would. */
static curve_keys make_keys(const char *name)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    shoal_err err = {0};
    cr_assert_eq(curve_keys_generate(dir, &err), SHOAL_OK, "%s", err.msg);
    curve_keys k;
    cr_assert_eq(curve_keys_load(dir, true, &k, &err), SHOAL_OK, "%s", err.msg);
    return k;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_mode & 0777;
}

/* ---- keys and modes ---- */

Test(common_curve, auto_is_on_beyond_loopback_and_off_on_it)
{
    cr_assert_not(curve_mode_enabled(CURVE_AUTO, "127.0.0.1"));
    cr_assert_not(curve_mode_enabled(CURVE_AUTO, "localhost"));
    cr_assert_not(curve_mode_enabled(CURVE_AUTO, "::1"));
    cr_assert(curve_mode_enabled(CURVE_AUTO, "auto"));
    cr_assert(curve_mode_enabled(CURVE_AUTO, "0.0.0.0"));
    cr_assert(curve_mode_enabled(CURVE_AUTO, "10.1.2.3"));
    cr_assert(curve_mode_enabled(CURVE_ON, "127.0.0.1"));
    cr_assert_not(curve_mode_enabled(CURVE_OFF, "10.1.2.3"));
    curve_mode m;
    shoal_err err = {0};
    cr_assert_eq(curve_mode_parse("on", &m, &err), SHOAL_OK);
    cr_assert_eq(m, CURVE_ON);
    cr_assert_eq(curve_mode_parse("yes", &m, &err), SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "auto, on or off"), "%s", err.msg);
    cr_assert_eq(curve_check_library(&err), SHOAL_OK, "%s", err.msg);
}

Test(common_curve, generated_keys_are_owner_only_and_kept_on_a_second_call)
{
    make_base();
    char dir[128], server[160], client[160];
    snprintf(dir, sizeof dir, "%s/keys", base);
    snprintf(server, sizeof server, "%s/" CURVE_SERVER_FILE, dir);
    snprintf(client, sizeof client, "%s/" CURVE_CLIENT_FILE, dir);
    curve_keys a = make_keys("keys");
    cr_assert_eq(mode_of(dir), 0700);
    cr_assert_eq(mode_of(server), 0600);
    cr_assert_eq(mode_of(client), 0600);
    cr_assert(a.on);
    cr_assert_eq(strlen(a.server_public), 40);
    cr_assert_eq(strlen(a.server_secret), 40);
    cr_assert_eq(strlen(a.client_secret), 40);
    cr_assert_str_neq(a.server_public, a.client_public);
    curve_keys b = make_keys("keys"); /* a resumed run keeps its keys */
    cr_assert_str_eq(a.server_public, b.server_public);
    cr_assert_str_eq(a.client_secret, b.client_secret);
    /* A client process does not get the server's secret. */
    curve_keys c;
    cr_assert_eq(curve_keys_load(dir, false, &c, NULL), SHOAL_OK);
    cr_assert_eq(c.server_secret[0], '\0');
    cr_assert_str_eq(c.server_public, a.server_public);
    curve_keys_wipe(&a);
    cr_assert(a.on);
    cr_assert_eq(a.server_secret[0], '\0');
    cleanup();
}

Test(common_curve, keys_others_can_read_are_refused_with_the_chmod_to_run)
{
    make_base();
    curve_keys k = make_keys("keys");
    (void)k;
    char dir[128], server[160];
    snprintf(dir, sizeof dir, "%s/keys", base);
    snprintf(server, sizeof server, "%s/" CURVE_SERVER_FILE, dir);
    shoal_err err = {0};
    curve_keys out;
    cr_assert_eq(chmod(server, 0644), 0);
    cr_assert_eq(curve_keys_load(dir, true, &out, &err), SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "chmod 600"), "%s", err.msg);
    cr_assert_not(out.on);
    cr_assert_eq(curve_keys_generate(dir, &err), SHOAL_EINVAL, "a resume checks them too");
    cr_assert_eq(chmod(server, 0600), 0);
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(curve_keys_load(dir, true, &out, &err), SHOAL_EINVAL);
    cr_assert_not_null(strstr(err.msg, "chmod 700"), "%s", err.msg);
    cr_assert_eq(chmod(dir, 0700), 0);
    cr_assert_eq(unlink(server), 0);
    cr_assert_eq(curve_keys_load(dir, true, &out, &err), SHOAL_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "shoal train creates"), "%s", err.msg);
    cleanup();
}

/* ---- a shard ---- */

typedef struct keyed_shard {
    fx_server f;
    replay_server_config cfg;
} keyed_shard;

static void shard_start(keyed_shard *s, const curve_keys *k)
{
    s->cfg = fx_server_config(1000, 0);
    if (k) {
        s->cfg.curve = *k;
    }
    cr_assert_eq(fx_server_start(&s->f, &s->cfg), 0, "%s", s->f.err.msg);
}

/* Stops the shard and returns how many transitions it stored. */
static uint64_t shard_stop(keyed_shard *s)
{
    s->f.stop = 1;
    pthread_join(s->f.thread, NULL);
    uint64_t stored = replay_store_totals(replay_server_store(s->f.srv)).size;
    replay_server_free(s->f.srv);
    return stored;
}

/* Inserts one batch of n transitions (first_id..) and waits for its ack. */
static int insert_one(const char *endpoint, const curve_keys *k, uint32_t first_id, size_t n,
                      const uint8_t *pattern, size_t pattern_len, shoal_err *err)
{
    static fx_batch b;
    fx_batch_fill(&b, 1, first_id, n, 1.0f, false);
    for (size_t i = 0; pattern && i < n; i++) {
        memcpy(b.obs + i * FX_OB + 8, pattern, pattern_len);
    }
    replay_client_options o = {.timeout_ms = 1500};
    if (k) {
        o.curve = *k;
    }
    replay_client *c = replay_client_new(&endpoint, 1, &o, err);
    cr_assert_not_null(c, "%s", err->msg);
    int rc = replay_client_insert(c, &b.b, err);
    if (rc == SHOAL_OK) {
        rc = replay_client_flush(c, err);
    }
    replay_client_free(c);
    return rc;
}

Test(common_curve, a_curve_shard_accepts_the_runs_key_and_refuses_others, .timeout = 60)
{
    make_base();
    curve_keys run = make_keys("run");
    keyed_shard s;
    shard_start(&s, &run);
    const char *ep = replay_server_endpoint(s.f.srv);
    shoal_err err = {0};

    /* No keys at all: the handshake never completes, the insert never arrives. */
    cr_assert_eq(insert_one(ep, NULL, 0, 10, NULL, 0, &err), SHOAL_ETIMEOUT);
    cr_assert_not_null(strstr(err.msg, "did not answer"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "CURVE off here"), "%s", err.msg);

    /* Another run's keys: the wrong server key, so the shard cannot be talked to. */
    curve_keys other = make_keys("other");
    cr_assert_eq(insert_one(ep, &other, 0, 10, NULL, 0, &err), SHOAL_ETIMEOUT);
    cr_assert_not_null(strstr(err.msg, "CURVE on here"), "%s", err.msg);

    /* The right server key but a client key pair of its own: only the ZAP check stops it. */
    curve_keys forged = run;
    memcpy(forged.client_public, other.client_public, CURVE_KEY_TEXT);
    memcpy(forged.client_secret, other.client_secret, CURVE_KEY_TEXT);
    cr_assert_eq(insert_one(ep, &forged, 0, 10, NULL, 0, &err), SHOAL_ETIMEOUT);

    /* The run's keys: stored. */
    cr_assert_eq(insert_one(ep, &run, 100, 10, NULL, 0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(shard_stop(&s), 10, "only the keyed client's batch is stored");
    cleanup();
}

Test(common_curve, a_plain_shard_still_serves_plain_clients, .timeout = 30)
{
    keyed_shard s;
    shard_start(&s, NULL);
    shoal_err err = {0};
    cr_assert_eq(insert_one(replay_server_endpoint(s.f.srv), NULL, 0, 7, NULL, 0, &err),
                 SHOAL_OK, "%s", err.msg);
    cr_assert_eq(shard_stop(&s), 7);
}

/* ---- the wire: a relay that records what passes ---- */

#define CAPTURE_MAX (4u << 20)

typedef struct relay {
    int listen_fd;
    int target_port;
    pthread_t thread;
    atomic_bool stop;
    uint8_t *seen; /* client to shard */
    size_t n_seen;
} relay;

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies what is readable on from to to; records it when rec. False at EOF or error. */
static bool pass(relay *r, int from, int to, bool rec)
{
    uint8_t buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) {
        return false;
    }
    if (rec && r->n_seen + (size_t)n <= CAPTURE_MAX) {
        memcpy(r->seen + r->n_seen, buf, (size_t)n);
        r->n_seen += (size_t)n;
    }
    for (ssize_t done = 0; done < n;) {
        ssize_t w = write(to, buf + done, (size_t)(n - done));
        if (w <= 0) {
            return false;
        }
        done += w;
    }
    return true;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int client = -1, shard = -1;
    while (!atomic_load(&r->stop)) {
        struct pollfd p[3] = {{.fd = r->listen_fd, .events = POLLIN},
                              {.fd = client, .events = POLLIN},
                              {.fd = shard, .events = POLLIN}};
        if (poll(p, 3, 50) <= 0) {
            continue;
        }
        if ((p[0].revents & POLLIN) && client < 0) {
            client = accept(r->listen_fd, NULL, NULL);
            shard = tcp_connect(r->target_port);
            continue;
        }
        if ((p[1].revents & (POLLIN | POLLHUP)) && !pass(r, client, shard, true)) {
            break;
        }
        if ((p[2].revents & (POLLIN | POLLHUP)) && !pass(r, shard, client, false)) {
            break;
        }
    }
    if (client >= 0) {
        close(client);
    }
    if (shard >= 0) {
        close(shard);
    }
    return NULL;
}

/* Listens on a free loopback port that forwards to target; writes its endpoint into ep. */
static void relay_start(relay *r, const char *target, char *ep, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->seen = malloc(CAPTURE_MAX);
    cr_assert_not_null(r->seen);
    r->target_port = atoi(strrchr(target, ':') + 1);
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(r->listen_fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(r->listen_fd, (struct sockaddr *)&a, &len);
    snprintf(ep, cap, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    atomic_init(&r->stop, false);
    cr_assert_eq(pthread_create(&r->thread, NULL, relay_main, r), 0);
}

static void relay_stop(relay *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

/* Inserts observations holding pattern through the relay; returns whether the capture of the
 * client's bytes holds it. */
static bool pattern_on_the_wire(bool curve)
{
    static const uint8_t pattern[] = "SHOAL-SECRET-OBS";
    curve_keys run = {0};
    if (curve) {
        run = make_keys("wire");
    }
    keyed_shard s;
    shard_start(&s, curve ? &run : NULL);
    relay r;
    char ep[64];
    relay_start(&r, replay_server_endpoint(s.f.srv), ep, sizeof ep);
    shoal_err err = {0};
    cr_assert_eq(insert_one(ep, curve ? &run : NULL, 0, 64, pattern, sizeof pattern - 1, &err),
                 SHOAL_OK, "through the relay: %s", err.msg);
    relay_stop(&r);
    cr_assert_eq(shard_stop(&s), 64);
    cr_assert_gt(r.n_seen, 64 * FX_OB, "the capture holds the batch's bytes (%zu)", r.n_seen);
    bool found = contains(r.seen, r.n_seen, pattern, sizeof pattern - 1);
    free(r.seen);
    return found;
}

Test(common_curve, observations_are_readable_on_the_wire_without_curve_and_not_with_it,
     .timeout = 60)
{
    make_base();
    cr_assert(pattern_on_the_wire(false), "without CURVE the capture shows the observations");
    cr_assert_not(pattern_on_the_wire(true), "with CURVE the observations are not in clear");
    cleanup();
}

/* ---- the parameter publisher ---- */

static nn_qnet *small_net(uint64_t seed)
{
    nn_qnet_config c = nn_qnet_config_minatar(4, 3);
    c.max_batch = 4;
    c.seed = seed;
    nn_qnet *net = nn_qnet_new(&c, NULL);
    cr_assert_not_null(net);
    return net;
}

/* Subscribes with k (NULL: no keys) and waits up to secs for version 9; returns the poll's
 * last code. */
static int subscribe(learner_params_pub *pub, const char *bound, const curve_keys *k,
                     double secs)
{
    void *ctx = zmq_ctx_new();
    nn_qnet *dst = small_net(2);
    shoal_err err = {0};
    learner_params_sub *sub = learner_params_sub_new(ctx, bound, k, dst, &err);
    cr_assert_not_null(sub, "%s", err.msg);
    uint64_t t0 = clock_now_ns(), version = 0;
    int rc;
    do {
        learner_params_pub_repeat(pub, NULL);
        rc = learner_params_sub_poll(sub, 50, &version, NULL, &err);
    } while (rc == SHOAL_EAGAIN && clock_since_s(t0) < secs);
    if (rc == SHOAL_OK) {
        cr_assert_eq(version, 9);
    }
    learner_params_sub_free(sub);
    nn_qnet_free(dst);
    zmq_ctx_term(ctx);
    return rc;
}

Test(common_curve, a_curve_publisher_reaches_only_subscribers_with_the_runs_keys, .timeout = 60)
{
    make_base();
    curve_keys run = make_keys("run"), other = make_keys("other");
    void *ctx = zmq_ctx_new();
    char bound[256];
    shoal_err err = {0};
    learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", &run, bound,
                                                     sizeof bound, &err);
    cr_assert_not_null(pub, "%s", err.msg);
    nn_qnet *src = small_net(1);
    cr_assert_eq(learner_params_pub_send(pub, 9, 100, src, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(subscribe(pub, bound, NULL, 2.0), SHOAL_EAGAIN, "no keys: nothing arrives");
    cr_assert_eq(subscribe(pub, bound, &other, 2.0), SHOAL_EAGAIN, "wrong keys: nothing");
    curve_keys forged = run;
    memcpy(forged.client_public, other.client_public, CURVE_KEY_TEXT);
    memcpy(forged.client_secret, other.client_secret, CURVE_KEY_TEXT);
    cr_assert_eq(subscribe(pub, bound, &forged, 2.0), SHOAL_EAGAIN, "not the run's client key");
    cr_assert_eq(subscribe(pub, bound, &run, 10.0), SHOAL_OK, "the run's keys: received");
    learner_params_pub_free(pub);
    nn_qnet_free(src);
    zmq_ctx_term(ctx);
    cleanup();
}
