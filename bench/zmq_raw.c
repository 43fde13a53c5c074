/* Raw ZeroMQ PUSH/PULL throughput over tcp on loopback for the message sizes of the replay
 * benchmark (an InsertBatch of 64 and 512 MinAtar transitions; a SampleBatch of the same), the
 * ceiling bench_replay is compared with. The receiver runs in a thread. Median of REPS runs.
 *
 *     bench_zmq_raw [reps]
 *     bench_zmq_raw --smoke    one run of 4 MB per row (for the test suite) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"

typedef struct job {
    void *ctx;
    char ep[256];
    size_t n_msgs;
} job;

static void *pull_main(void *arg)
{
    job *j = arg;
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

/* Messages per second of `bytes` each. */
static double run(size_t bytes, size_t n_msgs)
{
    job j = {.ctx = zmq_ctx_new(), .n_msgs = n_msgs};
    void *push = zmq_socket(j.ctx, ZMQ_PUSH);
    zmq_bind(push, "tcp://127.0.0.1:*");
    size_t len = sizeof j.ep;
    zmq_getsockopt(push, ZMQ_LAST_ENDPOINT, j.ep, &len);
    uint8_t *payload = malloc(bytes);
    memset(payload, 0x5A, bytes);
    pthread_t th;
    pthread_create(&th, NULL, pull_main, &j);
    uint64_t t0 = clock_now_ns();
    for (size_t k = 0; k < n_msgs; k++) {
        /* a fresh message each time, as frame_send builds one per envelope */
        zmq_msg_t m;
        zmq_msg_init_size(&m, bytes);
        memcpy(zmq_msg_data(&m), payload, bytes);
        zmq_msg_send(&m, push, 0);
    }
    pthread_join(th, NULL);
    double secs = clock_since_s(t0);
    free(payload);
    zmq_close(push);
    zmq_ctx_term(j.ctx);
    return (double)n_msgs / secs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    int reps = smoke ? 1 : argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 100) {
        reps = 5;
    }
    /* envelope bytes printed by bench_replay for 64 / 512 transitions (insert), and a
     * SampleBatch at about 137 bytes per transition */
    const struct {
        const char *what;
        size_t transitions, bytes;
    } cases[] = {
        {"insert", 64, 7265},  {"insert", 512, 57894},
        {"sample", 64, 64 * 137}, {"sample", 512, 512 * 137},
    };
    printf("raw ZeroMQ PUSH/PULL, tcp loopback, median of %d\n", reps);
    printf("%-8s %6s %10s %12s %10s %14s\n", "as", "batch", "msg bytes", "msgs/s", "MB/s",
           "transitions/s");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v[100];
        size_t n_msgs = (size_t)((smoke ? 4u : 256u) << 20) / cases[i].bytes;
        for (int r = 0; r < reps; r++) {
            v[r] = run(cases[i].bytes, n_msgs);
        }
        qsort(v, (size_t)reps, sizeof *v, cmp_double);
        double m = v[reps / 2];
        printf("%-8s %6zu %10zu %12.0f %10.1f %14.0f\n", cases[i].what, cases[i].transitions,
               cases[i].bytes, m, m * (double)cases[i].bytes / 1e6,
               m * (double)cases[i].transitions);
    }
    return 0;
}
