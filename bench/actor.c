/* Environment steps per second of a whole actor on MinAtar Breakout: E envs, one batched
 * forward pass of the MinAtar network per step, ε-greedy exploration, 3-step accumulation with
 * initial priorities, InsertBatches of 64 sent to a replay shard over tcp on loopback (the
 * shard runs in a thread of this process: two cores, one each), for E = 1, 16, 64. Also the
 * share of the loop's time in each phase (actor_stats): env steps, forward pass (unpacking
 * included), exploration, n-step + priorities + buffering, sending (protobuf packing, ZeroMQ,
 * waiting for credits). Each figure is the median of REPS runs of STEPS env steps.
 *
 * Encoding is measured on its own (packing happens inside replay_client_insert).
 *
 * The actor's own CPU time per env step (its thread's CPU clock: the shard thread and
 * ZeroMQ's I/O threads are not in it) is printed beside the rate, the figure docs/scaling.md
 * uses on a shared machine.
 *
 *     bench_actor [--game NAME] [--envs E] [--set KEY=VALUE]... [reps] [steps]
 *                                    (defaults minatar/breakout, E = 1, 16, 64, 5, 100000;
 *                                     --set: network.* keys, e.g. network.dueling=true)
 *     bench_actor --smoke            one run of 2000 steps (for the test suite) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/actor.h"
#include "actor/buffer.h"
#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "common/frame.h"
#include "bench/median.h"
#include "common/clock.h"
#include "common/log.h"
#include "nn/blas.h"
#include "replay/server.h"
#include "replay/wire.h"
#include "tests/replay_fixtures.h" /* the shard in a thread */

/* From the command line: the game, one env count (0: all of sizes[]), network overrides. */
static const char *opt_game = "minatar/breakout";
static size_t opt_envs = 0;
static const char *opt_sets[8];
static int n_opt_sets = 0;

typedef struct result {
    double steps_per_s;
    double cpu_us_per_step; /* the actor thread's CPU */
    double share[5]; /* env, forward, explore, nstep, send */
} result;

static int run_once(size_t envs, uint64_t steps, uint32_t rep, result *out)
{
    shoal_err err = {0};
    char sets[4][64];
    snprintf(sets[0], sizeof sets[0], "actor.envs=%zu", envs);
    snprintf(sets[1], sizeof sets[1], "actor.max_env_steps=%llu", (unsigned long long)steps);
    snprintf(sets[2], sizeof sets[2], "run.seed=%u", rep + 1);
    snprintf(sets[3], sizeof sets[3], "replay.capacity=200000");
    /* No learner samples here, so the shard must not hold inserts for a replay ratio. */
    char game[96];
    snprintf(game, sizeof game, "env.name=%s", opt_game);
    const char *ov[16] = {sets[0], sets[1], sets[2], sets[3], game,
                          "actor.batch=64", "replay.min_size=0", "replay.samples_per_insert=0"};
    int n_ov = 8;
    for (int k = 0; k < n_opt_sets; k++) {
        ov[n_ov++] = opt_sets[k];
    }
    config *cfg = shoal_config_load(NULL, ov, n_ov, &err);
    if (cfg && cluster_env_facts_derive(cfg, &err) != SHOAL_OK) {
        config_free(cfg);
        cfg = NULL;
    }
    replay_server_config sc;
    fx_server sh = {0};
    actor_config ac;
    actor *a = NULL;
    int rc = cfg ? replay_server_config_from(cfg, 0, "tcp://127.0.0.1:*", &sc, &err) : err.code;
    if (rc == SHOAL_OK && fx_server_start(&sh, &sc) != 0) {
        rc = sh.err.code;
        err = sh.err;
    }
    if (rc == SHOAL_OK) {
        rc = actor_config_from(cfg, 0, 8, replay_server_endpoint(sh.srv), "", &ac, &err);
    }
    if (rc == SHOAL_OK && !(a = actor_new(&ac, &err))) {
        rc = err.code;
    }
    if (rc == SHOAL_OK) {
        volatile sig_atomic_t stop = 0;
        uint64_t t0 = clock_now_ns(), c0 = clock_thread_cpu_ns();
        rc = actor_run(a, &stop, &err);
        double secs = clock_since_s(t0);
        double cpu_ns = (double)(clock_thread_cpu_ns() - c0);
        actor_stats st = actor_stats_get(a);
        double ph[5] = {(double)st.ns_env, (double)st.ns_forward, (double)st.ns_explore,
                        (double)st.ns_nstep, (double)st.ns_send};
        double total = ph[0] + ph[1] + ph[2] + ph[3] + ph[4];
        out->steps_per_s = (double)st.env_steps / secs;
        out->cpu_us_per_step = st.env_steps ? cpu_ns / 1e3 / (double)st.env_steps : 0.0;
        for (int k = 0; k < 5; k++) {
            out->share[k] = total > 0 ? ph[k] / total : 0.0;
        }
    }
    if (rc != SHOAL_OK) {
        fprintf(stderr, "bench_actor: %s\n", err.msg);
    }
    actor_free(a);
    if (sh.srv) {
        fx_server_stop(&sh);
    }
    config_free(cfg);
    return rc;
}

/* Nanoseconds per transition to size and pack one Envelope holding an InsertBatch of 64
 * Breakout transitions (what replay_client_insert does before zmq_send; counted in "send"). */
static double pack_ns_per_transition(void)
{
    obs_spec spec;
    obs_spec_parse("10,10,4", "bit", &spec, NULL);
    actor_buffer *b = actor_buffer_new(64, &spec, 0, 0, NULL);
    if (!b) {
        return 0.0;
    }
    actor_steps *st = actor_buffer_steps(b);
    rng r;
    rng_init(&r, 1, RNG_ROLE_TOOL, 0, 0);
    for (size_t i = 0; i < 64 * spec.bytes; i++) {
        st->obs[i] = (uint8_t)rng_u64(&r);
        st->next_obs[i] = (uint8_t)rng_u64(&r);
    }
    for (size_t i = 0; i < 64; i++) {
        st->reward[i] = (float)rng_uniform(&r);
        st->discount[i] = 0.729f;
        b->priority[i] = (float)rng_uniform(&r);
    }
    st->count = 64;
    replay_batch batch;
    replay_wire_insert ins;
    actor_buffer_batch(b, 64, &batch);
    replay_wire_batch(&batch, &ins);
    Shoal__V1__Envelope msg = SHOAL__V1__ENVELOPE__INIT;
    msg.body_case = SHOAL__V1__ENVELOPE__BODY_INSERT_BATCH;
    msg.insert_batch = &ins.msg;
    static uint8_t buf[1 << 16];
    size_t reps = 20000, total = 0;
    uint64_t t0 = clock_now_ns();
    for (size_t k = 0; k < reps; k++) {
        if (frame_packed_size(&msg) <= sizeof buf) {
            total += frame_pack(&msg, buf);
        }
    }
    double ns = (double)(clock_now_ns() - t0) / (double)(reps * 64);
    actor_buffer_free(b);
    return total ? ns : 0.0;
}

int main(int argc, char **argv)
{
    if (nn_blas_setup()) {
        execv("/proc/self/exe", argv);
    }
    log_setup("bench", 0, LOG_WARN, NULL, NULL);
    int smoke = 0, n_pos = 0;
    const char *pos[2] = {NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            smoke = 1;
        } else if (strcmp(argv[i], "--game") == 0 && i + 1 < argc) {
            opt_game = argv[++i];
        } else if (strcmp(argv[i], "--envs") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            opt_envs = (size_t)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_opt_sets < 8) {
            opt_sets[n_opt_sets++] = argv[++i];
        } else if (argv[i][0] != '-' && n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            printf("usage: bench_actor [--game NAME] [--envs E] [--set KEY=VALUE]... "
                   "[reps 1..64] [steps] | --smoke\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    size_t reps = smoke ? 1 : pos[0] ? (size_t)atoi(pos[0]) : 5;
    uint64_t steps = smoke ? 2000 : pos[1] ? (uint64_t)atoll(pos[1]) : 100000;
    if (reps < 1 || reps > 64 || steps < 1) {
        fprintf(stderr, "usage: bench_actor [reps 1..64] [steps] | --smoke\n");
        return 2;
    }
    printf("actor on %s, network (conv 16, dense 128)", opt_game);
    for (int k = 0; k < n_opt_sets; k++) {
        printf(" %s", opt_sets[k]);
    }
    printf(", batch 64, n = 3, shard on tcp loopback; OpenBLAS %s; median of %zu runs of %llu "
           "env steps\n", nn_blas_core(), reps, (unsigned long long)steps);
    printf("%5s %14s %8s %8s %8s %8s %8s %12s\n", "E", "env steps/s", "env", "forward",
           "explore", "n-step", "send", "cpu us/step");
    const size_t all_sizes[] = {1, 16, 64};
    const size_t *sizes = opt_envs ? &opt_envs : all_sizes;
    size_t n_sizes = opt_envs ? 1 : 3;
    for (size_t s = 0; s < n_sizes; s++) {
        double sps[64], cpu[64], share[5][64];
        for (size_t r = 0; r < reps; r++) {
            result res;
            if (run_once(sizes[s], steps, (uint32_t)r, &res) != SHOAL_OK) {
                return 1;
            }
            sps[r] = res.steps_per_s;
            cpu[r] = res.cpu_us_per_step;
            for (int k = 0; k < 5; k++) {
                share[k][r] = res.share[k];
            }
        }
        printf("%5zu %14.0f", sizes[s], bench_median(sps, reps));
        for (int k = 0; k < 5; k++) {
            printf(" %7.1f%%", 100.0 * bench_median(share[k], reps));
        }
        printf(" %12.2f\n", bench_median(cpu, reps));
    }
    double pack = 0.0, runs[64];
    for (size_t r = 0; r < reps; r++) {
        runs[r] = pack_ns_per_transition();
    }
    pack = bench_median(runs, reps);
    printf("encode (protobuf packing, inside send): %.1f ns per transition\n", pack);
    return 0;
}
