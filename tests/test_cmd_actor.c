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

/* A run folder to join: a shard, a parameter publisher sending `version`, config.ini (ini)
 * and endpoints.json. */
typedef struct join_run {
    fx_server srv;
    void *ctx;
    publisher p;
    pthread_t th;
    nn_qnet *net;
    char dir[32];
} join_run;

static void join_run_start(join_run *r, const char *ini, uint64_t version)
{
    shoal_err err = {0};
    replay_server_config sc = fx_server_config(100000, 0);
    cr_assert_eq(fx_server_start(&r->srv, &sc), 0, "%s", r->srv.err.msg);
    r->ctx = zmq_ctx_new();
    char bound[256];
    r->p.pub = learner_params_pub_new(r->ctx, "tcp://127.0.0.1:*", NULL, bound, sizeof bound,
                                      &err);
    cr_assert_not_null(r->p.pub, "%s", err.msg);
    nn_qnet_config nc = nn_qnet_config_minatar(4, 3);
    nc.max_batch = 2;
    r->net = nn_qnet_new(&nc, &err);
    cr_assert_eq(learner_params_pub_send(r->p.pub, version, 0, r->net, &err), SHOAL_OK);
    pthread_create(&r->th, NULL, publish_main, &r->p);
    strcpy(r->dir, "/tmp/shoal-join-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    char path[512];
    snprintf(path, sizeof path, "%s/config.ini", r->dir);
    write_file(path, ini);
    endpoint_file ep = {.n_replay = 1};
    snprintf(ep.replay[0], sizeof ep.replay[0], "%s", replay_server_endpoint(r->srv.srv));
    snprintf(ep.params, sizeof ep.params, "%s", bound);
    snprintf(path, sizeof path, "%s/endpoints.json", r->dir);
    cr_assert_eq(endpoints_write(path, &ep, &err), SHOAL_OK, "%s", err.msg);
}

/* Stops the publisher and the shard (its store stays readable until join_run_free). */
static void join_run_stop(join_run *r)
{
    r->p.stop = 1;
    pthread_join(r->th, NULL);
    r->srv.stop = 1;
    pthread_join(r->srv.thread, NULL);
}

static void join_run_free(join_run *r)
{
    char cmd[96];
    replay_server_free(r->srv.srv);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    cr_assert_eq(system(cmd), 0);
    nn_qnet_free(r->net);
    learner_params_pub_free(r->p.pub);
    zmq_ctx_term(r->ctx);
}

/* Starts `shoal actor --join dir` with its output in outp. */
static pid_t start_joiner(const char *dir, const char *outp)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("SHOAL_BIN"), "shoal", "actor", "--join", dir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void read_text(const char *path, char *text, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(text, 1, cap - 1, f);
    text[n] = '\0';
    fclose(f);
}

Test(cmd_actor, a_joined_actor_flushes_everything_it_generated_on_sigterm)
{
    join_run r = {0};
    join_run_start(&r, "[env]\nname = minatar/breakout\nmax_episode_steps = 30\n"
                       "[actor]\nenvs = 2\nbatch = 7\n"
                       "[replay]\nmax_actors = 16\n", /* the fixture shard's limit */
                   42);
    char outp[512];
    snprintf(outp, sizeof outp, "%s/out.txt", r.dir);
    pid_t pid = start_joiner(r.dir, outp);
    clock_sleep_ms(1500);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    join_run_stop(&r);
    read_text(outp, out, sizeof out);
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
    replay_store_counters k = replay_store_counters_get(replay_server_store(r.srv.srv));
    cr_assert_eq(k.inserted, sent, "the shard stored what the actor sent (%s)", out);
    join_run_free(&r);
}

Test(cmd_actor, joined_actors_take_the_indices_the_run_gives_and_stop_with_the_run)
{
    join_run r = {0};
    join_run_start(&r, "[env]\nname = minatar/breakout\nmax_episode_steps = 30\n"
                       "[actor]\nenvs = 2\nbatch = 7\n[cluster]\nactors = 2\n"
                       "[replay]\nmax_actors = 16\n",
                   1);
    char path[512], out1[512], out2[512], claim[600];
    snprintf(out1, sizeof out1, "%s/out1.txt", r.dir);
    snprintf(out2, sizeof out2, "%s/out2.txt", r.dir);
    pid_t a = start_joiner(r.dir, out1), b = start_joiner(r.dir, out2);
    clock_sleep_ms(1500);
    snprintf(claim, sizeof claim, "%s/log/join-15.claim", r.dir);
    cr_assert_eq(access(claim, F_OK), 0, "the highest index is claimed while the actor runs");

    /* The end of the run: the STOP file; both stop by themselves. */
    snprintf(path, sizeof path, "%s/STOP", r.dir);
    write_file(path, "");
    uint64_t t0 = clock_now_ns();
    int sa = -1, sb = -1;
    while (sa < 0 || sb < 0) {
        cr_assert(clock_since_s(t0) < 20.0, "a joined actor did not stop with the run");
        if (sa < 0 && waitpid(a, &sa, WNOHANG) != a) {
            sa = -1;
        }
        if (sb < 0 && waitpid(b, &sb, WNOHANG) != b) {
            sb = -1;
        }
        clock_sleep_ms(100);
    }
    join_run_stop(&r);
    char t1[4096], t2[4096];
    read_text(out1, t1, sizeof t1);
    read_text(out2, t2, sizeof t2);
    cr_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0, "%s", t1);
    cr_assert(WIFEXITED(sb) && WEXITSTATUS(sb) == 0, "%s", t2);
    bool a15 = strstr(t1, "as actor 15 (the index the run gave it)") != NULL;
    bool b15 = strstr(t2, "as actor 15 (the index the run gave it)") != NULL;
    cr_assert(a15 != b15, "exactly one takes 15:\n%s\n%s", t1, t2);
    cr_assert(strstr(a15 ? t2 : t1, "as actor 14 (the index the run gave it)"), "%s\n%s", t1,
              t2);
    cr_assert_neq(access(claim, F_OK), 0, "the claim is given back at the end");
    join_run_free(&r);
}
