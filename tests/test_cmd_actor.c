/* cluster/cmd_actor.c and cluster/cmd_demos.c: `shoal actor`, `shoal demos record` and
 * `shoal demos check` exit codes, messages, --join, and the flush on SIGTERM. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/endpoints.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "learner/params.h"
#include "nn/qnet.h"
#include "replay/demofile.h"
#include "replay_fixtures.h"

#include "shoal_cli.h"

static char out[1 << 16];

Test(cmd_actor, bad_usage_exits_2_with_a_message)
{
    cr_assert_eq(run("actor", out, sizeof out), 2);
    cr_assert(strstr(out, "--join"), "%s", out);
    cr_assert_eq(run("actor --config x.ini --replay tcp://a:1 --params tcp://b:2 --index 3 "
                     "--of 3", out, sizeof out), 2);
    cr_assert(strstr(out, "below --of"), "%s", out);
    cr_assert_eq(run("actor --join /tmp --replay tcp://a:1", out, sizeof out), 2);
    cr_assert_eq(run("actor --index x", out, sizeof out), 2);
    cr_assert_eq(run("actor --bogus", out, sizeof out), 2);
    cr_assert_eq(run("actor --help", out, sizeof out), 0);
    cr_assert(strstr(out, "max_actors"), "%s", out);
    cr_assert_eq(run("demos", out, sizeof out), 2);
    cr_assert_eq(run("demos play", out, sizeof out), 2);
    cr_assert_eq(run("demos record --env minatar/breakout --policy expert --out x", out,
                     sizeof out), 2);
    cr_assert_eq(run("demos record --env minatar/breakout --policy smart --episodes 1 --out x",
                     out, sizeof out), 2);
    cr_assert(strstr(out, "checkpoint:PATH"), "%s", out);
}

Test(cmd_actor, join_without_endpoints_json_says_who_writes_it)
{
    char dir[] = "/tmp/shoal-join-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char args[256], path[256];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(args, sizeof args, "actor --join %s", dir);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert(strstr(out, "endpoints.json") && strstr(out, "trainer"), "%s", out);
    unlink(path);
    rmdir(dir);
}

Test(cmd_actor, demos_record_prints_a_summary_and_writes_a_loadable_file)
{
    char path[] = "/tmp/shoal-demos-XXXXXX";
    close(mkstemp(path));
    char args[512];
    snprintf(args, sizeof args, "demos record --env minatar/breakout --policy expert "
             "--episodes 2 --out %s --set env.max_episode_steps=50", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "recorded 2 episodes of minatar/breakout: 100 transitions"), "%s",
              out);
    size_t n = 0;
    shoal_err err = {0};
    cr_assert_eq(replay_demo_count(path, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(n, 100);
    snprintf(args, sizeof args, "demos record --env deepsea --policy checkpoint:/nonexistent "
             "--episodes 1 --out %s.x", path);
    cr_assert_eq(run(args, out, sizeof out), 1);
    cr_assert(strstr(out, "/nonexistent"), "%s", out);
    unlink(path);
}

/* Writes the first n bytes of data to path, with the byte at flip (when < n) xor-ed. */
static void write_damaged(const char *path, const uint8_t *data, size_t n, size_t flip, int bits)
{
    uint8_t *copy = malloc(n + 1);
    cr_assert_not_null(copy);
    memcpy(copy, data, n);
    if (flip < n) {
        copy[flip] ^= (uint8_t)bits;
    }
    shoal_err err = {0};
    cr_assert_eq(atomic_write_file(path, copy, n, &err), SHOAL_OK, "%s", err.msg);
    free(copy);
}

Test(cmd_actor, demos_check_passes_a_recorded_file_and_refuses_damaged_ones)
{
    char path[] = "/tmp/shoal-demos-XXXXXX";
    close(mkstemp(path));
    char args[512], bad[300];
    snprintf(args, sizeof args, "demos record --env minatar/breakout --policy expert "
             "--episodes 3 --out %s --set env.max_episode_steps=40 --set actor.batch=40", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "demos check %s", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "version 2, 3 records, 120 transitions, whole"), "%s", out);

    uint8_t *data;
    size_t n;
    shoal_err err = {0};
    cr_assert_eq(file_read_all(path, 1 << 24, &data, &n, &err), SHOAL_OK, "%s", err.msg);
    size_t record = (n - REPLAY_DEMO_HEADER) / 3;
    snprintf(bad, sizeof bad, "%s.bad", path);
    struct {
        size_t n, flip;
        int bits;
        const char *why;
    } cases[] = {
        {REPLAY_DEMO_HEADER + 2 * record, SIZE_MAX, 0, "truncated"}, /* at a record boundary */
        {REPLAY_DEMO_HEADER, SIZE_MAX, 0, "truncated"},              /* cut to the header */
        {n, 12, 0x02, "unknown bits 0x00000002 in the header's flags"},
        {n, REPLAY_DEMO_HEADER + record + 50, 0x01, "record 1 at byte"},
        {n, 16, 0x01, "header says 2 of 120"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_damaged(bad, data, cases[i].n, cases[i].flip, cases[i].bits);
        snprintf(args, sizeof args, "demos check %s %s", path, bad);
        cr_assert_eq(run(args, out, sizeof out), 1, "case %zu: %s", i, out);
        cr_assert(strstr(out, "refused") && strstr(out, bad) && strstr(out, cases[i].why),
                  "case %zu: %s", i, out);
    }
    cr_assert_eq(run("demos check", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("demos check --help", out, sizeof out), 0, "%s", out);
    free(data);
    unlink(bad);
    unlink(path);
}

typedef struct publisher {
    learner_params_pub *pub;
    volatile int stop;
} publisher;

static void *publish_main(void *arg)
{
    publisher *p = arg;
    while (!p->stop) {
        learner_params_pub_repeat(p->pub, NULL);
        clock_sleep_ms(20);
    }
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cmd_actor, a_joined_actor_flushes_everything_it_generated_on_sigterm)
{
    shoal_err err = {0};
    fx_server srv;
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&srv, &sc), 0, "%s", srv.err.msg);
    void *ctx = zmq_ctx_new();
    char bound[256];
    publisher p = {0};
    p.pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound, sizeof bound, &err);
    cr_assert_not_null(p.pub, "%s", err.msg);
    nn_qnet_config nc = nn_qnet_config_minatar(4, 3);
    nc.max_batch = 2;
    nn_qnet *net = nn_qnet_new(&nc, &err);
    cr_assert_eq(learner_params_pub_send(p.pub, 42, 0, net, &err), SHOAL_OK);
    pthread_t th;
    pthread_create(&th, NULL, publish_main, &p);

    char dir[] = "/tmp/shoal-join-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[512], outp[512];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    write_file(path, "[env]\nname = minatar/breakout\nmax_episode_steps = 30\n"
                     "[actor]\nenvs = 2\nbatch = 7\n"
                     "[replay]\nmax_actors = 16\n"); /* the fixture shard's limit */
    endpoint_file ep = {.n_replay = 1};
    snprintf(ep.replay[0], sizeof ep.replay[0], "%s", replay_server_endpoint(srv.srv));
    snprintf(ep.params, sizeof ep.params, "%s", bound);
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    cr_assert_eq(endpoints_write(path, &ep, &err), SHOAL_OK, "%s", err.msg);
    snprintf(outp, sizeof outp, "%s/out.txt", dir);

    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("SHOAL_BIN"), "shoal", "actor", "--join", dir, (char *)NULL);
        _exit(127);
    }
    clock_sleep_ms(1500);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    p.stop = 1;
    pthread_join(th, NULL);
    FILE *f = fopen(outp, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
    unsigned long long sent = 0, acked = 0, version = 0;
    const char *s = strstr(out, "transitions sent");
    cr_assert_not_null(s, "%s", out);
    while (s > out && s[-1] != ',') {
        s--;
    }
    cr_assert_eq(sscanf(s, " %llu transitions sent", &sent), 1, "%s", out);
    s = strstr(out, "batches, ");
    cr_assert_eq(sscanf(s, "batches, %llu acknowledged", &acked), 1, "%s", out);
    s = strstr(out, "parameters version ");
    cr_assert_eq(sscanf(s, "parameters version %llu", &version), 1, "%s", out);
    cr_assert_gt(sent, 0, "%s", out);
    cr_assert_eq(acked, sent, "%s", out);
    cr_assert_eq(version, 42);
    srv.stop = 1;
    pthread_join(srv.thread, NULL);
    replay_store_counters k = replay_store_counters_get(replay_server_store(srv.srv));
    cr_assert_eq(k.inserted, sent, "the shard stored what the actor sent (%s)", out);
    replay_server_free(srv.srv);
    unlink(outp);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    unlink(path);
    rmdir(dir);
    nn_qnet_free(net);
    learner_params_pub_free(p.pub);
    zmq_ctx_term(ctx);
}
