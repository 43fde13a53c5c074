/* The raw ZeroMQ ceiling the replay benchmarks are compared with: PUSH/PULL over tcp on
 * loopback, messages of a given size, the receiver in a thread. bench_zmq_raw prints it for the
 * replay message sizes; bench_replay --raw runs it between its own runs, with the exact bytes of
 * the message it measured, so that both see the same machine. */
#ifndef SHOAL_BENCH_RAWZMQ_H
#define SHOAL_BENCH_RAWZMQ_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/clock.h"

typedef struct bench_raw_job {
    void *ctx;
    char ep[256];
    size_t n_msgs;
} bench_raw_job;

static void *bench_raw_pull(void *arg)
{
    bench_raw_job *j = arg;
    void *s = zmq_socket(j->ctx, ZMQ_PULL);
    zmq_connect(s, j->ep);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (size_t k = 0; k < j->n_msgs; k++) {
        zmq_msg_recv(&m, s, 0);
    }
    zmq_msg_close(&m);
    zmq_close(s);
    return NULL;
}

/* CPU seconds of the whole process (every thread, ZeroMQ's I/O threads included). */
static inline double bench_process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Messages per second of `bytes` each; *cpu_s (may be NULL) the process CPU seconds spent. */
static inline double bench_raw_zmq(size_t bytes, size_t n_msgs, double *cpu_s)
{
    bench_raw_job j = {.ctx = zmq_ctx_new(), .n_msgs = n_msgs};
    void *push = zmq_socket(j.ctx, ZMQ_PUSH);
    zmq_bind(push, "tcp://127.0.0.1:*");
    size_t len = sizeof j.ep;
    zmq_getsockopt(push, ZMQ_LAST_ENDPOINT, j.ep, &len);
    uint8_t *payload = malloc(bytes);
    memset(payload, 0x5A, bytes);
    pthread_t th;
    pthread_create(&th, NULL, bench_raw_pull, &j);
    uint64_t t0 = clock_now_ns();
    double c0 = bench_process_cpu_s();
    for (size_t k = 0; k < n_msgs; k++) {
        /* a fresh message each time, as frame_send builds one per envelope */
        zmq_msg_t m;
        zmq_msg_init_size(&m, bytes);
        memcpy(zmq_msg_data(&m), payload, bytes);
        zmq_msg_send(&m, push, 0);
    }
    pthread_join(th, NULL);
    double secs = clock_since_s(t0);
    if (cpu_s) {
        *cpu_s = bench_process_cpu_s() - c0;
    }
    free(payload);
    zmq_close(push);
    zmq_ctx_term(j.ctx);
    return (double)n_msgs / secs;
}

#endif
