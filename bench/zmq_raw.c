/* Raw ZeroMQ PUSH/PULL throughput over tcp on loopback for the message sizes of the replay
 * benchmark (an InsertBatch of 64 and 512 MinAtar transitions; a SampleBatch of the same), the
 * ceiling bench_replay is compared with. The receiver runs in a thread. Median of REPS runs.
 *
 *     bench_zmq_raw [reps]
 *     bench_zmq_raw --smoke    one run of 4 MB per row (for the test suite) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/median.h"
#include "bench/rawzmq.h"

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    int reps = smoke ? 1 : argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 100) {
        reps = 5;
    }
    /* envelope bytes printed by bench_replay for 64 / 512 transitions (its "msg bytes") */
    const struct {
        const char *what;
        size_t transitions, bytes;
    } cases[] = {
        {"insert", 64, 7265},  {"insert", 512, 57894},
        {"sample", 64, 8197},    {"sample", 512, 65099},
    };
    printf("raw ZeroMQ PUSH/PULL, tcp loopback, median of %d\n", reps);
    printf("%-8s %6s %10s %12s %10s %14s\n", "as", "batch", "msg bytes", "msgs/s", "MB/s",
           "transitions/s");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v[100];
        size_t n_msgs = (size_t)((smoke ? 4u : 256u) << 20) / cases[i].bytes;
        for (int r = 0; r < reps; r++) {
            v[r] = bench_raw_zmq(cases[i].bytes, n_msgs, NULL);
        }
        double m = bench_median(v, (size_t)reps);
        printf("%-8s %6zu %10zu %12.0f %10.1f %14.0f\n", cases[i].what, cases[i].transitions,
               cases[i].bytes, m, m * (double)cases[i].bytes / 1e6,
               m * (double)cases[i].transitions);
    }
    return 0;
}
