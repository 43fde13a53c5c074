/* Parameter broadcast cost for docs/scaling.md: for each game's network (MinAtar conv 16 +
 * dense 128, dueling, bootstrapped 10 heads with a prior), the bytes of one Params message on
 * the wire and the time and CPU to publish it and to receive it, over tcp on loopback, one
 * publisher (learner rank 0's learner_params_pub) and one subscriber (an actor's
 * learner_params_sub, decoding, checking the CRC32C and importing into its network), in one
 * process. The message size is read from a raw SUB socket beside the actor's.
 *
 * Figures per message, medians of ROUNDS messages: publisher CPU (encoding, CRC, handing to
 * ZeroMQ), subscriber CPU (decode, CRC, import), latency from send to the subscriber having the
 * parameters (wall, on the monotonic clock: on a loaded machine it includes waiting for a
 * core). The publisher's I/O thread's copy to each subscriber is not in either CPU figure; the
 * network carries the message once per subscriber.
 *
 *     bench_params [rounds]    (default 50)
 *     bench_params --smoke     5 rounds of the first game (for the test suite) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench/median.h"
#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/obs.h"
#include "learner/params.h"
#include "nn/nn_config.h"
#include "nn/qnet.h"

#define MAX_ROUNDS 1000

typedef struct network {
    const char *name;
    const char *sets[3];
} network;

static const network networks[] = {
    {"minatar (conv 16, dense 128)", {NULL}},
    {"dueling", {"network.dueling=true", NULL}},
    {"10 heads + prior", {"network.heads=10", "network.prior_scale=3", NULL}},
};

static nn_qnet *make_net(const char *game, const network *nw, shoal_err *err)
{
    char env_set[96];
    snprintf(env_set, sizeof env_set, "env.name=%s", game);
    const char *ov[4] = {env_set};
    int n = 1;
    while (n < 4 && nw->sets[n - 1]) {
        ov[n] = nw->sets[n - 1];
        n++;
    }
    config *cfg = shoal_config_load(NULL, ov, n, err);
    nn_qnet *net = NULL;
    obs_facts f;
    nn_qnet_config nc;
    if (cfg && cluster_env_facts_derive(cfg, err) == SHOAL_OK &&
        obs_facts_from_config(cfg, &f, err) == SHOAL_OK &&
        nn_qnet_config_from(cfg, f.obs.shape.h, f.obs.shape.w, f.obs.shape.c, f.n_actions, 1, 1,
                            &nc, err) == SHOAL_OK) {
        net = nn_qnet_new(&nc, err);
    }
    config_free(cfg);
    return net;
}

typedef struct figures {
    size_t n_params, msg_bytes;
    double pub_cpu_us, sub_cpu_us, latency_us;
} figures;

static int measure(const char *game, const network *nw, int rounds, figures *out, shoal_err *err)
{
    nn_qnet *src = make_net(game, nw, err), *dst = src ? make_net(game, nw, err) : NULL;
    void *ctx = zmq_ctx_new();
    char ep[256];
    learner_params_pub *pub = NULL;
    learner_params_sub *sub = NULL;
    void *raw = NULL;
    int rc = src && dst ? SHOAL_OK : err->code;
    if (rc == SHOAL_OK &&
        !(pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, ep, sizeof ep, err))) {
        rc = err->code;
    }
    if (rc == SHOAL_OK && !(sub = learner_params_sub_new(ctx, ep, NULL, dst, err))) {
        rc = err->code;
    }
    if (rc == SHOAL_OK) {
        raw = zmq_socket(ctx, ZMQ_SUB);
        int hwm = 0;
        zmq_setsockopt(raw, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(raw, ZMQ_SUBSCRIBE, "", 0);
        if (zmq_connect(raw, ep) != 0) {
            rc = shoal_err_set(err, SHOAL_EIO, "connect %s: %s", ep, zmq_strerror(zmq_errno()));
        }
    }
    /* PUB drops until the subscriptions arrive: publish until both have seen a message. */
    uint64_t version = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (int got = 0; rc == SHOAL_OK && got != 3 && version < 500;) {
        learner_params_pub_send(pub, ++version, 0, src, err);
        if (learner_params_sub_poll(sub, 10, NULL, NULL, err) == SHOAL_OK) {
            got |= 1;
        }
        while (zmq_msg_recv(&m, raw, ZMQ_DONTWAIT) >= 0) {
            got |= 2;
            out->msg_bytes = zmq_msg_size(&m);
        }
    }
    if (rc == SHOAL_OK && out->msg_bytes == 0) {
        rc = shoal_err_set(err, SHOAL_EIO, "no Params message arrived in 500 tries");
    }
    double pub_us[MAX_ROUNDS], sub_us[MAX_ROUNDS], lat_us[MAX_ROUNDS];
    for (int r = 0; rc == SHOAL_OK && r < rounds; r++) {
        uint64_t t0 = clock_now_ns(), c0 = clock_thread_cpu_ns();
        rc = learner_params_pub_send(pub, ++version, 0, src, err);
        uint64_t c1 = clock_thread_cpu_ns(), got = 0;
        while (rc == SHOAL_OK && got != version) {
            rc = learner_params_sub_poll(sub, 1000, &got, NULL, err);
        }
        uint64_t c2 = clock_thread_cpu_ns();
        lat_us[r] = (double)(clock_now_ns() - t0) / 1e3;
        pub_us[r] = (double)(c1 - c0) / 1e3;
        sub_us[r] = (double)(c2 - c1) / 1e3;
        while (zmq_msg_recv(&m, raw, ZMQ_DONTWAIT) >= 0) {
        }
    }
    zmq_msg_close(&m);
    if (rc == SHOAL_OK) {
        out->n_params = nn_qnet_n_params(src);
        out->pub_cpu_us = bench_median(pub_us, (size_t)rounds);
        out->sub_cpu_us = bench_median(sub_us, (size_t)rounds);
        out->latency_us = bench_median(lat_us, (size_t)rounds);
    }
    if (raw) {
        int linger = 0;
        zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(raw);
    }
    learner_params_sub_free(sub);
    learner_params_pub_free(pub);
    zmq_ctx_term(ctx);
    nn_qnet_free(src);
    nn_qnet_free(dst);
    return rc;
}

int main(int argc, char **argv)
{
    log_setup("bench", 0, LOG_WARN, NULL, NULL);
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    int rounds = smoke ? 5 : argc > 1 ? atoi(argv[1]) : 50;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || rounds < 1 || rounds > MAX_ROUNDS)) {
        printf("usage: bench_params [rounds 1..%d] | --smoke\n"
               "Bytes, CPU and latency of one Params message per game and network "
               "(tcp loopback).\n", MAX_ROUNDS);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *games[] = {"minatar/breakout", "minatar/seaquest"};
    size_t n_games = smoke ? 1 : 2, n_nets = smoke ? 1 : sizeof networks / sizeof *networks;
    printf("Params broadcast, tcp loopback, median of %d messages\n", rounds);
    printf("%-18s %-30s %9s %10s %12s %12s %12s\n", "game", "network", "params", "msg bytes",
           "pub cpu us", "sub cpu us", "latency us");
    for (size_t g = 0; g < n_games; g++) {
        for (size_t k = 0; k < n_nets; k++) {
            figures f = {0};
            shoal_err err = {0};
            if (measure(games[g], &networks[k], rounds, &f, &err) != SHOAL_OK) {
                fprintf(stderr, "bench_params: %s, %s: %s\n", games[g], networks[k].name,
                        err.msg);
                return 1;
            }
            printf("%-18s %-30s %9zu %10zu %12.1f %12.1f %12.1f\n", games[g], networks[k].name,
                   f.n_params, f.msg_bytes, f.pub_cpu_us, f.sub_cpu_us, f.latency_us);
        }
    }
    return 0;
}
