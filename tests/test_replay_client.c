#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "replay/client.h"
#include "replay_fixtures.h"

static replay_client *client_of(const char *const *eps, size_t n, size_t max_batch, uint32_t index)
{
    replay_client_options o = {.timeout_ms = 5000, .obs_bytes = FX_OB, .max_batch = max_batch,
                               .seed = 9, .index = index};
    shoal_err err = {0};
    replay_client *c = replay_client_new(eps, n, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* Two shards serving from threads of this process; eps gets their endpoints. */
static void start_two(fx_server *a, fx_server *b, const char *eps[2])
{
    replay_server_config cfg = fx_server_config(100, 0);
    cr_assert_eq(fx_server_start(a, &cfg), 0, "%s", a->err.msg);
    cfg.store.shard = 1;
    cr_assert_eq(fx_server_start(b, &cfg), 0, "%s", b->err.msg);
    eps[0] = replay_server_endpoint(a->srv);
    eps[1] = replay_server_endpoint(b->srv);
}

/* Inserts n transitions of actor, ids from first, priority p(id) = prio[id - first]. */
static void insert_with(replay_client *c, uint32_t actor, uint32_t first, size_t n,
                        const float *prio)
{
    static fx_batch f;
    shoal_err err = {0};
    fx_batch_fill(&f, actor, first, n, 1.0f, false);
    memcpy(f.priority, prio, n * sizeof *prio);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
}

/* Two shards with unequal totals (20 and 55): the client must draw every transition with its
 * global probability p_i / 75, not p_i / T_shard / 2. Chi-square over the 20 transitions with
 * 19 dof: the 99.9% quantile is 43.8. Per-shard prioritisation with an even split would give
 * shard A's items 1/20 instead of 2/75 each: a statistic in the thousands. */
Test(replay_client, sampled_frequencies_follow_global_priorities_across_two_shards)
{
    fx_server a, b;
    const char *eps[2];
    start_two(&a, &b, eps);
    replay_client *c = client_of(eps, 2, 64, 0);
    float pa[10], pb[10];
    double p[20];
    for (size_t k = 0; k < 10; k++) {
        pa[k] = 2.0f;
        pb[k] = (float)(k + 1);
        p[k] = 2.0 / 75.0;
        p[10 + k] = (double)(k + 1) / 75.0;
    }
    insert_with(c, 0, 0, 10, pa);   /* actor 0 -> shard 0 */
    insert_with(c, 1, 100, 10, pb); /* actor 1 -> shard 1 */
    replay_sample_req req = {.batch_size = 16, .beta = 1.0};
    shoal_err err = {0};
    size_t counts[20] = {0}, draws = 0, from_b = 0;
    const replay_sample *x;
    for (int r = 0; r < 4; r++) { /* pipelined: four in flight */
        cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    }
    for (int r = 0; r < 1500; r++) {
        cr_assert_eq(replay_client_sample_next(c, &x, &err), SHOAL_OK, "%s", err.msg);
        double min_leaf = INFINITY;
        for (size_t j = 0; j < x->count; j++) {
            min_leaf = fmin(min_leaf, x->leaf[j]);
        }
        for (size_t j = 0; j < x->count; j++) {
            uint32_t id = x->action[j];
            cr_assert_eq(x->shard[j], id >= 100, "id %u came from shard %u", id, x->shard[j]);
            counts[id >= 100 ? 10 + id - 100 : id]++;
            from_b += x->shard[j];
            /* beta 1, global P = leaf / 75, N = 20: w = min leaf / leaf */
            cr_assert_float_eq(x->weight[j], min_leaf / x->leaf[j], 1e-5);
        }
        draws += x->count;
        cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    }
    double chi = 0.0;
    for (size_t i = 0; i < 20; i++) {
        double e = p[i] * (double)draws;
        chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
    }
    cr_assert_lt(chi, 43.8, "chi-square %.1f with 19 dof", chi);
    double share = (double)from_b / (double)draws;
    cr_assert_float_eq(share, 55.0 / 75.0, 0.01, "shard 1 served %.4f", share);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&a), SHOAL_OK);
    cr_assert_eq(fx_server_stop(&b), SHOAL_OK);
}

/* Priority updates go back to the shard that served each transition. */
Test(replay_client, priority_updates_reach_the_shard_that_served_each_transition)
{
    fx_server a, b;
    const char *eps[2];
    start_two(&a, &b, eps);
    replay_client *c = client_of(eps, 2, 64, 1);
    float ones[20];
    for (size_t k = 0; k < 20; k++) {
        ones[k] = 1.0f;
    }
    insert_with(c, 0, 0, 20, ones);
    insert_with(c, 1, 100, 20, ones);
    shoal_err err = {0};
    replay_sample_req req = {.batch_size = 12, .beta = 0.4};
    const replay_sample *x;
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(c, &x, &err), SHOAL_OK, "%s", err.msg);
    bool seen[2][20] = {{0}};
    float pr[12];
    double want[2] = {20.0, 20.0};
    for (size_t j = 0; j < x->count; j++) {
        uint32_t id = x->action[j];
        pr[j] = 5.0f;
        bool *s = &seen[x->shard[j]][id % 100];
        if (!*s) {
            want[x->shard[j]] += 4.0;
        }
        *s = true;
    }
    cr_assert_eq(replay_client_update_priorities(c, x, pr, &err), SHOAL_OK, "%s", err.msg);
    for (size_t i = 0; i < 2; i++) {
        const replay_stats *st;
        cr_assert_eq(replay_client_stats(c, i, &st, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_float_eq(st->agent_total, want[i], 1e-9, "shard %zu", i);
    }
    /* a bad update (NaN) is answered by the shard and reported by the call that sees the
     * answer: this one when it is already there, else the next (after the stats round trip
     * to that shard, the answer has arrived) */
    pr[0] = NAN;
    int rc = replay_client_update_priorities(c, x, pr, &err);
    if (rc == SHOAL_OK) {
        const replay_stats *st;
        cr_assert_eq(replay_client_stats(c, x->shard[0], &st, &err), SHOAL_OK);
        rc = replay_client_update_priorities(c, x, ones, &err);
    }
    cr_assert_eq(rc, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "priority[0]") != NULL, "%s", err.msg);
    replay_client_free(c);
    cr_assert_eq(fx_server_stop(&a), SHOAL_OK);
    cr_assert_eq(fx_server_stop(&b), SHOAL_OK);
}

Test(replay_client, a_missing_shard_is_a_timeout_naming_its_endpoint)
{
    const char *eps[1] = {"tcp://127.0.0.1:9"};
    replay_client_options o = {.timeout_ms = 200, .obs_bytes = FX_OB};
    shoal_err err = {0};
    replay_client *c = replay_client_new(eps, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    replay_sample_req req = {.batch_size = 4, .beta = 0.4};
    uint64_t t0 = clock_now_ns();
    cr_assert_eq(replay_client_sample_request(c, &req, &err), SHOAL_ETIMEOUT);
    cr_assert_lt(clock_since_s(t0), 2.0);
    cr_assert(strstr(err.msg, "tcp://127.0.0.1:9") != NULL, "%s", err.msg);
    static fx_batch f;
    fx_batch_fill(&f, 0, 0, 4, 1.0f, false);
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "the first batch is queued");
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_ETIMEOUT);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_ETIMEOUT);
    replay_client_free(c);
    const char *none[1] = {"nonsense://x"};
    cr_assert_null(replay_client_new(none, 1, &o, &err));
    cr_assert(strstr(err.msg, "nonsense://x") != NULL, "%s", err.msg);
}

/* ---- multi-process: 2 shard processes, 2 inserting clients, 1 sampling client ---- */

typedef struct shard_proc {
    pid_t pid;
    char endpoint[256];
} shard_proc;

/* Starts `shoal replay` and reads the endpoint it bound from its first line of output. */
static void start_shard(shard_proc *p, const char *config_path, int shard)
{
    const char *bin = getenv("SHOAL_BIN");
    cr_assert_not_null(bin, "SHOAL_BIN is not set");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    char idx[16];
    snprintf(idx, sizeof idx, "%d", shard);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "replay", "--config", config_path, "--shard", idx, "--bind",
              "tcp://127.0.0.1:*", "--set", "log.level=warn", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[512];
    size_t n = 0;
    uint64_t t0 = clock_now_ns();
    while (n < sizeof line - 1 && (n == 0 || line[n - 1] != '\n') && clock_since_s(t0) < 10.0) {
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        if (poll(&pf, 1, 200) == 1) {
            ssize_t k = read(fds[0], line + n, 1);
            cr_assert_gt(k, 0, "shard %d exited before listening", shard);
            n += (size_t)k;
        }
    }
    close(fds[0]);
    line[n] = '\0';
    char *at = strstr(line, "listening on ");
    cr_assert_not_null(at, "shard %d said '%s'", shard, line);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", at + strlen("listening on "));
    p->endpoint[strcspn(p->endpoint, "\n")] = '\0';
}

static int stop_shard(shard_proc *p)
{
    kill(p->pid, SIGTERM);
    int status = 0;
    for (int k = 0; k < 100; k++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        clock_sleep_ms(50);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    return -1;
}

#define ACTORS_PER_CLIENT 2
#define BATCHES 8
#define PER_BATCH 32
#define TOTAL (2 * ACTORS_PER_CLIENT * BATCHES * PER_BATCH) /* 1024 */

typedef struct inserter {
    const char *eps[2];
    uint32_t first_actor;
    int rc;
    shoal_err err;
    uint64_t acked;
} inserter;

static void *insert_main(void *arg)
{
    inserter *in = arg;
    replay_client_options o = {.timeout_ms = 5000};
    replay_client *c = replay_client_new(in->eps, 2, &o, &in->err);
    static __thread fx_batch f;
    in->rc = c ? SHOAL_OK : in->err.code;
    for (uint32_t k = 0; in->rc == SHOAL_OK && k < BATCHES; k++) {
        for (uint32_t a = 0; in->rc == SHOAL_OK && a < ACTORS_PER_CLIENT; a++) {
            uint32_t actor = in->first_actor + a;
            fx_batch_fill(&f, actor, (actor * BATCHES + k) * PER_BATCH, PER_BATCH, 1.0f, false);
            f.b.env_steps = PER_BATCH;
            in->rc = replay_client_insert(c, &f.b, &in->err);
        }
    }
    if (in->rc == SHOAL_OK) {
        in->rc = replay_client_flush(c, &in->err);
    }
    in->acked = c ? replay_client_acked(c) : 0;
    replay_client_free(c);
    return NULL;
}

Test(replay_client, two_shard_processes_account_for_every_inserted_transition, .timeout = 60)
{
    char dir[] = "/tmp/shoal-loop-XXXXXX", ini[128], ck[160];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(ini, sizeof ini, "%s/replay.ini", dir);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, "[replay]\ncapacity = 4096\nmax_batch = 1024\nmin_size = 64\nalpha = 1\n"
               "epsilon = 0\ncredits = 2\ncheckpoint = %s/replay-%%d.ckpt\n", dir);
    fclose(f);
    shard_proc sp[2];
    start_shard(&sp[0], ini, 0);
    start_shard(&sp[1], ini, 1);
    inserter in[2] = {{.eps = {sp[0].endpoint, sp[1].endpoint}, .first_actor = 0},
                      {.eps = {sp[0].endpoint, sp[1].endpoint}, .first_actor = 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, insert_main, &in[i]), 0);
    }
    /* the sampler works while the inserts arrive, and rewrites priorities to 1 */
    const char *eps[2] = {sp[0].endpoint, sp[1].endpoint};
    replay_client *s = client_of(eps, 2, 1024, 2);
    shoal_err err = {0};
    const replay_sample *x;
    replay_sample_req req = {.batch_size = 32, .beta = 0.4};
    float ones[1024];
    for (size_t k = 0; k < 1024; k++) {
        ones[k] = 1.0f;
    }
    for (int r = 0; r < 20; r++) {
        cr_assert_eq(replay_client_sample_request(s, &req, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(replay_client_sample_next(s, &x, &err), SHOAL_OK, "%s", err.msg);
        for (size_t j = 0; j < x->count; j++) {
            cr_assert_lt(x->action[j], (uint32_t)TOTAL);
        }
        cr_assert_eq(replay_client_update_priorities(s, x, ones, &err), SHOAL_OK, "%s", err.msg);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(in[i].rc, SHOAL_OK, "inserter %d: %s", i, in[i].err.msg);
        cr_assert_eq(in[i].acked, TOTAL / 2);
    }
    uint64_t inserted = 0, env_steps = 0;
    for (size_t i = 0; i < 2; i++) {
        const replay_stats *st;
        cr_assert_eq(replay_client_stats(s, i, &st, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(st->size, TOTAL / 2, "actor ids split evenly over the shards");
        inserted += st->inserted;
        cr_assert_eq(st->n_actors, 2);
        for (size_t a = 0; a < st->n_actors; a++) {
            cr_assert_eq(st->actors[a].actor_id % 2, i, "actor %u routed to shard %zu",
                         st->actors[a].actor_id, i);
            env_steps += st->actors[a].env_steps;
        }
    }
    cr_assert_eq(inserted, TOTAL);
    cr_assert_eq(env_steps, TOTAL);
    /* Equal leaves, a batch as large as the store: stratification draws every transition
     * exactly once (one per unit segment), so each inserted id must appear once. */
    req.batch_size = TOTAL;
    cr_assert_eq(replay_client_sample_request(s, &req, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_sample_next(s, &x, &err), SHOAL_OK, "%s", err.msg);
    static uint8_t seen[TOTAL];
    memset(seen, 0, sizeof seen);
    for (size_t j = 0; j < x->count; j++) {
        uint32_t id = x->action[j], obs_id;
        memcpy(&obs_id, x->obs + j * FX_OB, sizeof obs_id);
        cr_assert_eq(obs_id, id);
        seen[id]++;
    }
    for (uint32_t id = 0; id < TOTAL; id++) {
        cr_assert_eq(seen[id], 1, "transition %u drawn %u times", id, seen[id]);
    }
    replay_client_free(s);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(stop_shard(&sp[i]), 0, "shard %d exits cleanly on SIGTERM", i);
        snprintf(ck, sizeof ck, "%s/replay-%d.ckpt", dir, i);
        cr_assert_eq(access(ck, F_OK), 0, "SIGTERM wrote %s", ck);
        unlink(ck);
    }
    unlink(ini);
    rmdir(dir);
}
