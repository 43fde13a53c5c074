#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "actor/explore.h"
#include "common/clock.h"
#include "common/obs.h"
#include "env/env_config.h"
#include "learner/checkpoint.h"
#include "learner/learner.h"
#include "learner/params.h"
#include "learner_fixtures.h"
#include "nn/nn_config.h"
#include "nn/paramfile.h"
#include "replay/client.h"
#include "replay_fixtures.h"
#include "tb/reader.h"

/* ---- learner_update on fixed data (no MPI) ---- */

static learner_update *update_new(size_t batch, float lr)
{
    learner_update_config c = lx_config(batch, lr);
    shoal_err err = {0};
    learner_update *u = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(u, "%s", err.msg);
    return u;
}

Test(learner, loss_falls_on_a_fixed_dataset)
{
    learner_update *u = update_new(32, 1e-3f);
    lx_data d;
    lx_data_init(&d, 32, 3);
    learner_batch b = lx_batch(&d, 0, 32);
    float prio[32];
    learner_loss first, last;
    shoal_err err = {0};
    for (int k = 0; k < 150; k++) {
        cr_assert_eq(learner_update_step(u, &b, prio, k ? &last : &first, &err), SHOAL_OK,
                     "%s", err.msg);
    }
    cr_assert_gt(first.n_demo, 0);
    float l0 = first.td + first.margin, l1 = last.td + last.margin;
    cr_assert_lt(l1, 0.5f * l0, "loss %g -> %g", (double)l0, (double)l1);
    cr_assert_lt(last.mean_abs_td, first.mean_abs_td);
    cr_assert_eq(learner_update_steps(u), 150);
    lx_data_fini(&d);
    learner_update_free(u);
}

/* learner.threads = 2 splits the batch; the combined gradient is that of the whole batch to
 * float rounding (each thread's GEMMs sum over its own rows, as two ranks' do: the tolerance is
 * the one tests/learner_mpi_check.c uses for ranks). Batches of 31 (unequal halves), 32 and 5
 * (too small to split: one thread). */
Test(learner, two_threads_match_one_thread_on_the_whole_batch)
{
    learner_update_config c = lx_config(32, 1e-3f);
    shoal_err err = {0};
    learner_update *one = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(one, "%s", err.msg);
    c.threads = 2;
    learner_update *two = learner_update_new(&c, MPI_COMM_NULL, &err);
    cr_assert_not_null(two, "%s", err.msg);
    size_t sizes[] = {31, 32, 5, 32, 31, 17};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t B = sizes[k];
        lx_data d;
        lx_data_init(&d, B, 70 + k);
        learner_batch b = lx_batch(&d, 0, B);
        float p1[32], p2[32];
        learner_loss l1, l2;
        cr_assert_eq(learner_update_step(one, &b, p1, &l1, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_eq(learner_update_step(two, &b, p2, &l2, &err), SHOAL_OK, "%s", err.msg);
        double big;
        size_t n = nn_qnet_n_trainable(learner_update_net(one));
        double g = lx_max_diff(nn_qnet_grads(learner_update_net(two)),
                                nn_qnet_grads(learner_update_net(one)), n, &big);
        cr_assert_leq(g, 1e-5 * big + 1e-9, "batch %zu: gradients differ by %g (largest %g)", B,
                      g, big);
        cr_assert_gt(big, 0.0);
        double pr = lx_max_diff(p2, p1, B, &big);
        cr_assert_leq(pr, 1e-5 * big + 1e-9, "batch %zu: priorities differ by %g", B, pr);
        cr_assert_float_eq(l2.td, l1.td, 1e-5f * (fabsf(l1.td) + 1e-3f), "batch %zu", B);
        cr_assert_float_eq(l2.margin, l1.margin, 1e-5f * (fabsf(l1.margin) + 1e-3f));
        cr_assert_eq(l2.n_demo, l1.n_demo);
        cr_assert_float_eq(l2.mean_abs_td, l1.mean_abs_td, 1e-5f * l1.mean_abs_td + 1e-9f);
        lx_data_fini(&d);
    }
    double big;
    size_t n = nn_qnet_n_params(learner_update_net(one));
    double p = lx_max_diff(nn_qnet_params(learner_update_net(two)),
                            nn_qnet_params(learner_update_net(one)), n, &big);
    double t = lx_max_diff(nn_qnet_params(learner_update_target(two)),
                            nn_qnet_params(learner_update_target(one)), n, &big);
    cr_assert_leq(p, 1e-5, "parameters differ by %g", p);
    cr_assert_leq(t, 1e-5, "target parameters differ by %g", t);
    learner_update_free(one);
    learner_update_free(two);
    c.threads = 3;
    cr_assert_null(learner_update_new(&c, MPI_COMM_NULL, &err));
    cr_assert_eq(err.code, SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "learner.threads") != NULL, "%s", err.msg);
}

static void run_updates(learner_update *u, uint64_t from, uint64_t to)
{
    float prio[16];
    shoal_err err = {0};
    for (uint64_t k = from; k < to; k++) {
        lx_data d;
        lx_data_init(&d, 16, 40 + k);
        learner_batch b = lx_batch(&d, 0, 16);
        cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_OK, "%s", err.msg);
        lx_data_fini(&d);
    }
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/shoal-learner-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

/* Removes dir and everything in it, and frees the name. */
static void remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

Test(learner, a_resumed_learner_continues_identically_to_an_uninterrupted_one)
{
    learner_update *a = update_new(16, 1e-3f);
    run_updates(a, 0, 8);

    char *dir = temp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/step-4.ckpt", dir);
    learner_update *b = update_new(16, 1e-3f);
    run_updates(b, 0, 4);
    shoal_err err = {0};
    cr_assert_eq(learner_update_save(b, path, 77, &err), SHOAL_OK, "%s", err.msg);
    learner_update_free(b);

    learner_update *c = update_new(16, 1e-3f);
    uint64_t frames = 0;
    cr_assert_eq(learner_update_load(c, path, &frames, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(frames, 77);
    cr_assert_eq(learner_update_steps(c), 4);
    run_updates(c, 4, 8);
    nn_qnet *na = learner_update_net(a), *nc = learner_update_net(c);
    size_t n = nn_qnet_n_params(na);
    cr_assert(memcmp(nn_qnet_params(na), nn_qnet_params(nc), n * sizeof(float)) == 0);
    cr_assert(memcmp(nn_qnet_params(learner_update_target(a)),
                     nn_qnet_params(learner_update_target(c)), n * sizeof(float)) == 0);
    cr_assert_eq(learner_update_local_checksum(a), learner_update_local_checksum(c));

    /* the evaluator's view of the same file: parameters only */
    nn_qnet *eval = nn_qnet_new(nn_qnet_config_of(na), &err);
    uint64_t step = 0;
    cr_assert_eq(nn_paramfile_load(path, eval, NULL, &step, NULL, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(step, 4);
    nn_qnet_free(eval);
    learner_update_free(a);
    learner_update_free(c);
    remove_dir(dir);
}

Test(learner, a_checkpoint_without_its_target_file_is_refused_and_changes_nothing)
{
    char *dir = temp_dir();
    char path[256], tpath[300];
    snprintf(path, sizeof path, "%s/step-2.ckpt", dir);
    learner_update *u = update_new(16, 1e-3f);
    run_updates(u, 0, 2);
    shoal_err err = {0};
    cr_assert_eq(learner_update_save(u, path, 0, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_target_path(path, tpath, sizeof tpath, &err), SHOAL_OK);
    cr_assert(strstr(tpath, "step-2.target") != NULL, "%s", tpath);
    cr_assert_eq(unlink(tpath), 0);
    learner_update *fresh = update_new(16, 1e-3f);
    uint32_t before = learner_update_local_checksum(fresh);
    cr_assert_eq(learner_update_load(fresh, path, NULL, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "no target network") != NULL, "%s", err.msg);
    cr_assert_eq(learner_update_local_checksum(fresh), before);
    /* another architecture: EARCH naming both */
    learner_update_config other = lx_config(16, 1e-3f);
    other.net.dense[0] = 64;
    learner_update *o = learner_update_new(&other, MPI_COMM_NULL, &err);
    cr_assert_eq(learner_update_save(u, path, 0, &err), SHOAL_OK);
    cr_assert_eq(learner_update_load(o, path, NULL, &err), SHOAL_EARCH, "%s", err.msg);
    learner_update_free(o);
    learner_update_free(fresh);
    learner_update_free(u);
    remove_dir(dir);
}

Test(learner, a_batch_out_of_range_is_refused_before_any_change)
{
    learner_update *u = update_new(8, 1e-3f);
    lx_data d;
    lx_data_init(&d, 16, 1);
    float prio[16];
    shoal_err err = {0};
    learner_batch b = lx_batch(&d, 0, 16);
    cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "1..8") != NULL, "%s", err.msg);
    d.action[3] = LX_ACTIONS;
    b = lx_batch(&d, 0, 8);
    cr_assert_eq(learner_update_step(u, &b, prio, NULL, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "sample 3 has action 3") != NULL, "%s", err.msg);
    cr_assert_eq(learner_update_steps(u), 0);
    lx_data_fini(&d);
    learner_update_free(u);
}

/* ---- the learner role against shards served from threads ---- */

static const config_key run_test_keys[] = {
    {"run", "seed", CONFIG_INT, "1", 0, 4294967295.0, NULL, "seed"},
    CONFIG_KEY_END,
};

static config *config_of(const char *ini)
{
    const config_key *const tables[] = {run_test_keys,      env_config_keys,
                                        obs_facts_config_keys, nn_config_keys,
                                        replay_config_keys, learner_config_keys,
                                        actor_explore_config_keys, nn_rnd_config_keys};
    shoal_err err = {0};
    config *c = config_new(tables, 8, &err);
    cr_assert_not_null(c, "%s", err.msg);
    /* Breakout's facts, as shoal train derives them: the learner builds no environment. */
    cr_assert_eq(config_load_string(c, "[env]\nobs_shape = 10,10,4\nobs_dtype = bit\n"
                                       "n_actions = 3\n", "facts.ini", &err),
                 SHOAL_OK, "%s", err.msg);
    cr_assert_eq(config_load_string(c, ini, "test.ini", &err), SHOAL_OK, "%s", err.msg);
    return c;
}

/* A shard with n_agent agent transitions and n_demo demonstrations (actions id % 3). */
static void start_shard(fx_server *s, uint32_t shard, size_t n_agent, size_t n_demo)
{
    replay_server_config cfg = fx_server_config(256, 64);
    cfg.store.shard = shard;
    cr_assert_eq(fx_server_start(s, &cfg), 0, "%s", s->err.msg);
    const char *ep = replay_server_endpoint(s->srv);
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch f;
    size_t counts[2] = {n_agent, n_demo};
    for (int demo = 0; demo < 2; demo++) {
        if (counts[demo] == 0) {
            continue;
        }
        fx_batch_fill(&f, 0, 1000u * (uint32_t)demo, counts[demo], 1.0f, demo == 1);
        for (size_t k = 0; k < counts[demo]; k++) {
            f.action[k] = (uint32_t)k % 3;
        }
        cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    }
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
}

static const char base_ini[] =
    "[env]\nname = minatar/breakout\n"
    "[learner]\nbatch_size = 16\nmetrics_secs = 0.05\ncheckpoint_period = 4\n"
    "keep_checkpoints = 2\nchecksum_period = 2\n"
    "[replay]\ndemo_fraction = 0\n";

/* A learner of base_ini and ini_extra that writes TensorBoard events into tb_dir ("": none). */
static learner *learner_with_tb(const char *ini_extra, const char *replay, const char *run_dir,
                                const char *bind, const char *tb_dir)
{
    char ini[1024];
    snprintf(ini, sizeof ini, "%s%s", base_ini, ini_extra);
    config *c = config_of(ini);
    learner_config lc;
    shoal_err err = {0};
    cr_assert_eq(learner_config_from(c, 0, replay, run_dir, bind, &lc, &err), SHOAL_OK, "%s",
                 err.msg);
    config_free(c);
    snprintf(lc.tb_dir, sizeof lc.tb_dir, "%s", tb_dir);
    learner *l = learner_new(&lc, MPI_COMM_NULL, &err);
    cr_assert_not_null(l, "%s", err.msg);
    return l;
}

static learner *learner_of(const char *ini_extra, const char *replay, const char *run_dir,
                           const char *bind)
{
    return learner_with_tb(ini_extra, replay, run_dir, bind, "");
}

static replay_stats stats_of(const char *ep)
{
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    const replay_stats *st = NULL;
    cr_assert_eq(replay_client_stats(c, 0, &st, &err), SHOAL_OK, "%s", err.msg);
    replay_stats copy = *st;
    copy.actors = NULL;
    copy.n_actors = 0;
    replay_client_free(c);
    return copy;
}

Test(learner, priorities_reach_the_shard_that_served_each_sample, .timeout = 60)
{
    fx_server a, b;
    start_shard(&a, 0, 64, 0);
    start_shard(&b, 1, 64, 0);
    char eps[600];
    snprintf(eps, sizeof eps, "%s,%s", replay_server_endpoint(a.srv),
             replay_server_endpoint(b.srv));
    learner *l = learner_of("[learner]\nmax_updates = 10\n", eps, "", "");
    volatile sig_atomic_t stop = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 10);
    learner_free(l); /* hands back the last priority updates */
    uint64_t sampled = 0, updated = 0;
    for (int tries = 0; tries < 100; tries++) {
        replay_stats sa = stats_of(replay_server_endpoint(a.srv));
        replay_stats sb = stats_of(replay_server_endpoint(b.srv));
        cr_assert_gt(sa.priority_updates, 0, "shard 0 got no priorities");
        cr_assert_gt(sb.priority_updates, 0, "shard 1 got no priorities");
        sampled = sa.sampled + sb.sampled;
        updated = sa.priority_updates + sa.stale_updates + sb.priority_updates + sb.stale_updates;
        if (updated == sampled) {
            break;
        }
        clock_sleep_ms(20);
    }
    cr_assert_eq(sampled, 10 * 16);
    cr_assert_eq(updated, sampled);
    fx_server_stop(&a);
    fx_server_stop(&b);
}

Test(learner, dqfd_pretraining_samples_only_demonstrations, .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 32);
    const char *ep = replay_server_endpoint(s.srv);
    learner *l = learner_of("[learner]\nmax_updates = 6\npretrain_steps = 4\n", ep, "", "");
    volatile sig_atomic_t stop = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    learner_free(l);
    replay_stats st = stats_of(ep);
    /* 4 pre-training batches of demonstrations only, then 2 of agent data (demo_fraction 0) */
    cr_assert_eq(st.sampled, 6 * 16);
    cr_assert_eq(st.demo_sampled, 4 * 16);
    fx_server_stop(&s);
}

static bool file_exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = 0;
    for (int ch; (ch = fgetc(f)) != EOF;) {
        n += ch == '\n';
    }
    fclose(f);
    return n;
}

Test(learner, checkpoints_rotate_and_a_restarted_learner_resumes_from_the_newest, .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    const char *ep = replay_server_endpoint(s.srv);
    char *dir = temp_dir();
    learner *l = learner_of("[learner]\nmax_updates = 12\n", ep, dir, "");
    volatile sig_atomic_t stop = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    uint32_t sum12 = learner_update_local_checksum(learner_update_of(l));
    learner_free(l);
    cr_assert(file_exists(dir, "checkpoints/step-12.ckpt"));
    cr_assert(file_exists(dir, "checkpoints/step-12.target"));
    cr_assert(file_exists(dir, "checkpoints/step-8.ckpt"));
    cr_assert(!file_exists(dir, "checkpoints/step-4.ckpt"), "keep_checkpoints = 2");
    cr_assert(!file_exists(dir, "checkpoints/step-4.target"));
    cr_assert(file_exists(dir, "endpoints.json"));
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    cr_assert_geq(count_lines(path), 2, "header and at least the final row");

    l = learner_of("[learner]\nmax_updates = 16\n", ep, dir, "");
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 12);
    cr_assert_eq(learner_update_local_checksum(learner_update_of(l)), sum12);
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 16);
    learner_free(l);
    cr_assert(file_exists(dir, "checkpoints/step-16.ckpt"));
    cr_assert(!file_exists(dir, "checkpoints/step-8.ckpt"));
    uint64_t latest = 0;
    cr_assert_eq(learner_checkpoint_latest(dir, &latest, &err), SHOAL_OK);
    cr_assert_eq(latest, 16);
    /* the header is written once: a resumed run appends rows */
    FILE *f = fopen(path, "r");
    char line[1024];
    int headers = 0;
    while (fgets(line, sizeof line, f)) {
        headers += strncmp(line, "time_s,", 7) == 0;
    }
    fclose(f);
    cr_assert_eq(headers, 1);
    fx_server_stop(&s);
    remove_dir(dir);
}

Test(learner, a_restarted_learner_skips_a_damaged_newest_checkpoint, .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    const char *ep = replay_server_endpoint(s.srv);
    char *dir = temp_dir();
    learner *l = learner_of("[learner]\nmax_updates = 12\n", ep, dir, "");
    volatile sig_atomic_t stop = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    learner_free(l);
    cr_assert(file_exists(dir, "checkpoints/step-12.ckpt") &&
              file_exists(dir, "checkpoints/step-8.ckpt"));
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoints/step-12.ckpt", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - 100), 0);

    l = learner_of("[learner]\nmax_updates = 16\n", ep, dir, "");
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 8, "the newest valid checkpoint");
    cr_assert(file_exists(dir, "checkpoints/step-12.ckpt.damaged"));
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 16);
    learner_free(l);
    cr_assert(file_exists(dir, "checkpoints/step-16.ckpt") &&
              file_exists(dir, "checkpoints/step-12.ckpt"), "written again on the way");

    /* none valid: the learner does not start, and says what it tried */
    snprintf(path, sizeof path, "%s/checkpoints/step-16.ckpt", dir);
    cr_assert_eq(truncate(path, 10), 0);
    snprintf(path, sizeof path, "%s/checkpoints/step-12.ckpt", dir);
    cr_assert_eq(truncate(path, 10), 0);
    char ini[1024];
    snprintf(ini, sizeof ini, "%s[learner]\nmax_updates = 20\n", base_ini);
    config *c = config_of(ini);
    learner_config lc;
    cr_assert_eq(learner_config_from(c, 0, ep, dir, "", &lc, &err), SHOAL_OK, "%s", err.msg);
    config_free(c);
    cr_assert_null(learner_new(&lc, MPI_COMM_NULL, &err));
    cr_assert_eq(err.code, SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "step-16.ckpt, step-12.ckpt") != NULL, "%s", err.msg);
    cr_assert(file_exists(dir, "checkpoints/step-16.ckpt"), "nothing moved when nothing loads");
    fx_server_stop(&s);
    remove_dir(dir);
}

typedef struct run_arg {
    learner *l;
    volatile sig_atomic_t stop;
    int rc;
    shoal_err err;
} run_arg;

static void *run_main(void *p)
{
    run_arg *a = p;
    a->rc = learner_run(a->l, &a->stop, &a->err);
    return NULL;
}

/* The values of column `name` of a CSV file, row by row (at most max); returns how many. */
static size_t csv_column(const char *path, const char *name, double *out, size_t max)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, f), "%s is empty", path);
    int col = -1, i = 0;
    for (char *save = NULL, *t = strtok_r(line, ",\n", &save); t;
         t = strtok_r(NULL, ",\n", &save), i++) {
        col = strcmp(t, name) == 0 ? i : col;
    }
    cr_assert_geq(col, 0, "%s: no column %s", path, name);
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *p = line;
        for (i = 0; i < col && p; i++) {
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
        cr_assert_not_null(p, "%s: a row without column %s", path, name);
        out[n++] = strtod(p, NULL);
    }
    fclose(f);
    return n;
}

static double csv_last(const char *path, const char *name)
{
    double v[256];
    size_t n = csv_column(path, name, v, 256);
    cr_assert_gt(n, 0, "%s has no rows", path);
    return v[n - 1];
}

/* What an actor reports with a batch: env_steps frames and n_episodes finished episodes. */
static void insert_frames(const char *ep, uint64_t env_steps, size_t n_episodes)
{
    replay_client_options o = {.timeout_ms = 5000};
    shoal_err err = {0};
    replay_client *c = replay_client_new(&ep, 1, &o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    static fx_batch f;
    fx_batch_fill(&f, 0, 5000, 8, 1.0f, false);
    for (size_t k = 0; k < 8; k++) {
        f.action[k] = (uint32_t)k % 3;
    }
    for (size_t k = 0; k < n_episodes; k++) {
        f.ep_return[k] = 2.0f;
        f.ep_length[k] = 10;
        f.ep_head[k] = 0;
    }
    f.b.env_steps = env_steps;
    f.b.episodes = (replay_episodes){.count = n_episodes, .ret = f.ep_return,
                                     .length = f.ep_length, .head = f.ep_head};
    cr_assert_eq(replay_client_insert(c, &f.b, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_client_flush(c, &err), SHOAL_OK, "%s", err.msg);
    replay_client_free(c);
}

/* metrics.csv's last row is written once the run has stopped, from replay statistics polled
 * then: here the shards are polled only at the start (metrics_secs is an hour), so frames and
 * episodes reported after that reach the last row only through the final poll. time_s counts
 * from the learner's start, also in a resumed run. */
Test(learner, the_last_metrics_row_holds_the_final_counts_and_time_counts_from_the_start,
     .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    const char *ep = replay_server_endpoint(s.srv);
    char *dir = temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;

    uint64_t t0 = clock_now_ns();
    learner *l = learner_of("[learner]\nmax_updates = 10\nmetrics_secs = 3600\n", ep, dir, "");
    clock_sleep_ms(300); /* the prefetcher's polls at the start are over */
    insert_frames(ep, 1234, 3);
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    double took = clock_since_s(t0);
    learner_free(l);
    double t[256];
    cr_assert_eq(csv_column(path, "time_s", t, 256), 1, "one row: metrics_secs is an hour");
    cr_assert(t[0] >= 0.3 && t[0] <= took + 0.001, /* written to the ms */
              "time_s %g: not seconds since the learner started "
              "(%g s ago)", t[0], took);
    cr_assert_eq(csv_last(path, "step"), 10);
    cr_assert_eq(csv_last(path, "frames"), 1234);
    cr_assert_eq(csv_last(path, "episodes"), 3);
    cr_assert_eq(csv_last(path, "mean_return_recent"), 2.0);
    cr_assert_eq(csv_last(path, "replay_inserted"), 64 + 8);

    /* A stopped run: the last row still comes after the stop, with what was reported before
     * it, and the stop is not held up for long. The rows of the resumed run count from its own
     * start. */
    run_arg a = {0};
    t0 = clock_now_ns();
    a.l = learner_of("[learner]\nmetrics_secs = 0.05\n", ep, dir, "");
    cr_assert_eq(learner_update_steps(learner_update_of(a.l)), 10);
    pthread_t th;
    pthread_create(&th, NULL, run_main, &a);
    double step[256];
    while (csv_column(path, "step", step, 256) < 4) {
        clock_sleep_ms(20);
    }
    insert_frames(ep, 766, 1);
    uint64_t stopped = clock_now_ns();
    a.stop = 1;
    pthread_join(th, NULL);
    double stop_took = clock_since_s(stopped);
    took = clock_since_s(t0);
    cr_assert_eq(a.rc, SHOAL_OK, "%s", a.err.msg);
    cr_assert_lt(stop_took, 2.0, "the learner took %.2f s to stop", stop_took);
    uint64_t final = learner_update_steps(learner_update_of(a.l));
    learner_free(a.l);
    size_t n = csv_column(path, "time_s", t, 256);
    cr_assert_geq(n, 3);
    cr_assert_eq(csv_last(path, "step"), (double)final);
    cr_assert_eq(csv_last(path, "frames"), 2000);
    cr_assert_eq(csv_last(path, "episodes"), 4);
    cr_assert(t[1] >= 0.0 && t[1] < 1.0, "the resumed run's first row at %g s", t[1]);
    for (size_t i = 2; i < n; i++) {
        cr_assert_geq(t[i], t[i - 1], "time_s goes back at row %zu", i);
    }
    cr_assert_leq(t[n - 1], took + 0.001);
    fx_server_stop(&s);
    remove_dir(dir);
}

/* What a TensorBoard file of the learner holds: the last value and step of two tags. */
typedef struct tb_seen {
    double loss_td, frames, priorities;
    int64_t loss_step, hist_step;
    size_t n_hist;
} tb_seen;

static int tb_take(const tb_value *v, void *arg)
{
    tb_seen *s = arg;
    if (strcmp(v->tag, "learner/loss_td") == 0) {
        s->loss_td = v->value;
        s->loss_step = v->step;
    } else if (strcmp(v->tag, "learner/frames") == 0) {
        s->frames = v->value;
    } else if (strcmp(v->tag, "learner/priorities") == 0 && v->histogram) {
        s->priorities = v->value;
        s->hist_step = v->step;
        s->n_hist++;
    }
    return 0;
}

/* Each metrics.csv row is a TensorBoard record too, with the histogram of the priorities the
 * updates since the previous row computed. */
Test(learner, metrics_rows_and_a_priority_histogram_reach_tensorboard, .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    const char *ep = replay_server_endpoint(s.srv);
    char *dir = temp_dir();
    char tb_dir[512];
    snprintf(tb_dir, sizeof tb_dir, "%s/tb/learner", dir);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    learner *l = learner_with_tb("[learner]\nmax_updates = 10\nmetrics_secs = 3600\n", ep, dir,
                                 "", tb_dir);
    clock_sleep_ms(300); /* the prefetcher's polls at the start are over */
    insert_frames(ep, 1234, 3);
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    learner_free(l);
    char csv[512];
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    tb_seen seen = {0};
    size_t files = 0;
    cr_assert_eq(tb_dir_each(tb_dir, tb_take, &seen, &files, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(files, 1);
    cr_assert_eq(seen.loss_step, 10);
    cr_assert_float_eq(seen.loss_td, csv_last(csv, "loss_td"), 1e-5 * seen.loss_td + 1e-9);
    cr_assert_float_eq(seen.frames, 1234.0, 0.0);
    cr_assert_eq(seen.n_hist, 1, "one row, one histogram");
    cr_assert_eq(seen.hist_step, 10);
    cr_assert_float_eq(seen.priorities, 10.0 * 16.0, 0.0, "10 updates of 16 priorities");
    fx_server_stop(&s);
    remove_dir(dir);
}

Test(learner, a_subscriber_receives_the_published_parameters, .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    run_arg a = {0};
    a.l = learner_of("[learner]\npublish_period = 5\npublish_repeat_secs = 0.05\n",
                     replay_server_endpoint(s.srv), "", "tcp://127.0.0.1:*");
    const char *bound = learner_params_endpoint(a.l);
    cr_assert(strncmp(bound, "tcp://127.0.0.1:", 16) == 0, "%s", bound);
    shoal_err err = {0};
    void *ctx = zmq_ctx_new();
    nn_qnet *net = nn_qnet_new(nn_qnet_config_of(learner_update_net(learner_update_of(a.l))),
                               &err);
    learner_params_sub *sub = learner_params_sub_new(ctx, bound, NULL, net, &err);
    cr_assert_not_null(sub, "%s", err.msg);
    pthread_t t;
    pthread_create(&t, NULL, run_main, &a);
    /* The starting parameters (version 0) come first, then versions from updates. */
    uint64_t version = 0;
    bool got_any = false;
    for (int tries = 0; tries < 100 && (!got_any || version == 0); tries++) {
        int rc = learner_params_sub_poll(sub, 100, &version, NULL, &err);
        cr_assert(rc == SHOAL_OK || rc == SHOAL_EAGAIN, "%s", err.msg);
        got_any = got_any || rc == SHOAL_OK;
    }
    cr_assert(got_any, "no parameters arrived");
    cr_assert_gt(version, 0);
    a.stop = 1;
    pthread_join(t, NULL);
    cr_assert_eq(a.rc, SHOAL_OK, "%s", a.err.msg);
    /* the last publish carries the final step; the subscriber ends up with exactly it */
    uint64_t final = learner_update_steps(learner_update_of(a.l));
    for (int tries = 0; tries < 50 && learner_params_sub_version(sub) != final; tries++) {
        learner_params_sub_poll(sub, 100, &version, NULL, &err);
    }
    cr_assert_eq(learner_params_sub_version(sub), final);
    nn_qnet *mine = learner_update_net(learner_update_of(a.l));
    cr_assert(memcmp(nn_qnet_params(net), nn_qnet_params(mine),
                     nn_qnet_n_params(net) * sizeof(float)) == 0);
    learner_params_sub_free(sub);
    nn_qnet_free(net);
    learner_free(a.l);
    zmq_ctx_term(ctx);
    fx_server_stop(&s);
}

Test(learner, bad_configuration_is_refused_naming_the_key)
{
    config *c = config_of("[learner]\npipeline = 8\nprefetch_depth = 2\n");
    learner_config lc;
    shoal_err err = {0};
    cr_assert_eq(learner_config_from(c, 0, "tcp://127.0.0.1:1", "", "", &lc, &err),
                 SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "learner.pipeline") != NULL, "%s", err.msg);
    cr_assert_eq(learner_config_from(c, 0, "", "", "", &lc, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "--replay") != NULL, "%s", err.msg);
    cr_assert_eq(learner_config_from(c, 0, "tcp://a:1,,tcp://b:2", "", "", &lc, &err),
                 SHOAL_EINVAL);
    config_free(c);
    c = config_of("[env]\nobs_shape =\n");
    cr_assert_eq(learner_config_from(c, 0, "tcp://127.0.0.1:1", "", "", &lc, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "env.obs_shape is not set") != NULL, "%s", err.msg);
    config_free(c);
    c = config_of("[env]\nname = minatar/nosuchgame\nobs_shape = 10,10,7\nn_actions = 4\n");
    cr_assert_eq(learner_config_from(c, 0, "tcp://127.0.0.1:1", "", "", &lc, &err), SHOAL_OK,
                 "the learner reads the facts and builds no environment: %s", err.msg);
    cr_assert(lc.obs.shape.c == 7 && lc.obs.bytes == 88 && lc.update.net.n_actions == 4);
    config_free(c);
    c = config_of("[learner]\nbatch_size = 33\n");
    cr_assert_eq(learner_config_from(c, 0, "tcp://127.0.0.1:1", "", "", &lc, &err), SHOAL_OK);
    config_free(c);
}

/* ---- several ranks, under mpirun ---- */

/* OpenMPI's libraries have no frame pointers, so ASan's default (fast) unwinder records one
 * unsymbolizable frame for their allocations at exit and tests/lsan.supp cannot match them by
 * library; the slow unwinder gives whole stacks and the suppressions apply. Harmless without
 * ASan. */
static const char mpi_env[] = "ASAN_OPTIONS=\"$ASAN_OPTIONS:fast_unwind_on_malloc=0\"";
static const char mpirun[] = "mpirun --oversubscribe --allow-run-as-root --bind-to none "
                             "--mca btl_vader_single_copy_mechanism none "
                             "--mca mpi_yield_when_idle 1";

/* Runs cmd, returning its exit status; its stdout goes into out. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs `learner_mpi_check mode` on two ranks; asserts it passed and returns its output. */
static void mpi_check(const char *mode, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s -np 2 %s %s 2>&1", mpi_env, mpirun,
             getenv("SHOAL_LEARNER_MPI_CHECK"), mode);
    cr_assert_eq(run_capture(cmd, out, cap), 0, "%s", out);
    cr_assert(strstr(out, "PASS") != NULL, "%s", out);
}

Test(learner, two_ranks_on_half_batches_match_one_rank_on_the_whole_batch, .timeout = 120)
{
    char out[4096];
    mpi_check("equivalence", out, sizeof out);
    cr_assert(strstr(out, "ranks identical: yes") != NULL, "%s", out);
}

Test(learner, the_overlapped_all_reduce_gives_the_blocking_all_reduces_bits, .timeout = 120)
{
    char out[4096];
    mpi_check("overlap", out, sizeof out);
    cr_assert(strstr(out, "overlapped and blocking state bitwise equal") != NULL, "%s", out);
    cr_assert(strstr(out, "ranks identical: yes") != NULL, "%s", out);
}

Test(learner, the_checksum_names_a_perturbed_rank, .timeout = 120)
{
    char out[4096];
    mpi_check("checksum", out, sizeof out);
    cr_assert(strstr(out, "1 rank(s) (1) hold a parameter checksum different") != NULL, "%s",
              out);
}

Test(learner, shoal_learner_under_mpirun_trains_and_checkpoints, .timeout = 120)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    char *dir = temp_dir();
    char ini[600], cmd[2048], out[4096];
    snprintf(ini, sizeof ini, "%s/config.ini", dir);
    FILE *f = fopen(ini, "w");
    fputs(base_ini, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s -np 2 %s learner --config %s --replay %s --run-dir %s "
             "--set learner.max_updates=10 2>&1", mpi_env, mpirun, getenv("SHOAL_BIN"), ini,
             replay_server_endpoint(s.srv), dir);
    int rc = run_capture(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "learner publishing params on tcp://127.0.0.1:") != NULL, "%s", out);
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoints/step-10.ckpt", dir);
    char arch[NN_QNET_ARCH_MAX];
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_read_arch(path, arch, sizeof arch, &err), SHOAL_OK, "%s",
                 err.msg);
    cr_assert(strstr(arch, "in=10x10x4") != NULL, "%s", arch);
    replay_stats st = stats_of(replay_server_endpoint(s.srv));
    cr_assert_eq(st.sampled, 10 * 16, "two ranks of 8 for 10 updates");
    fx_server_stop(&s);
    remove_dir(dir);
}

Test(learner, shoal_learner_without_its_required_options_is_a_usage_error)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s learner --config x.ini >/dev/null 2>&1", getenv("SHOAL_BIN"));
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

Test(learner, sigterm_stops_every_rank_after_a_last_checkpoint, .timeout = 120)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    char *dir = temp_dir();
    char ini[600], cmd[2048];
    snprintf(ini, sizeof ini, "%s/config.ini", dir);
    FILE *f = fopen(ini, "w");
    fputs(base_ini, f);
    fclose(f);
    /* exec replaces the shell, so the pid is mpirun's and SIGTERM goes to it */
    snprintf(cmd, sizeof cmd, "%s exec %s -np 2 %s learner --config %s --replay %s --run-dir "
             "%s --set learner.checkpoint_period=1000000", mpi_env, mpirun, getenv("SHOAL_BIN"),
             ini, replay_server_endpoint(s.srv), dir);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[512];
    ssize_t n = read(fds[0], out, sizeof out - 1);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    cr_assert(strstr(out, "learner publishing params on") != NULL, "%s", out);
    clock_sleep_ms(500);
    /* Signal the ranks, as a scheduler or `shoal train` does: mpirun itself exits 1 whenever it
     * is signalled, whatever its ranks do. */
    snprintf(cmd, sizeof cmd, "pkill -TERM -P %d", (int)pid);
    cr_assert_eq(system(cmd), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    close(fds[0]);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mpirun status %d", st);
    uint64_t step = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_checkpoint_latest(dir, &step, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_gt(step, 0);
    cr_assert_eq(step % 2, 0, "the ranks stop together at a checksum exchange (period 2)");
    fx_server_stop(&s);
    remove_dir(dir);
}

Test(learner, without_demonstrations_the_demo_share_is_dropped_and_pretraining_refused,
     .timeout = 60)
{
    fx_server s;
    start_shard(&s, 0, 64, 0);
    const char *ep = replay_server_endpoint(s.srv);
    learner *l = learner_of("[replay]\ndemo_fraction = 0.25\n[learner]\nmax_updates = 3\n", ep,
                            "", "");
    volatile sig_atomic_t stop = 0;
    shoal_err err = {0};
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 3);
    learner_free(l);
    l = learner_of("[learner]\nmax_updates = 3\npretrain_steps = 2\n", ep, "", "");
    cr_assert_eq(learner_run(l, &stop, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "no demonstrations") != NULL, "%s", err.msg);
    cr_assert_eq(learner_update_steps(learner_update_of(l)), 0);
    learner_free(l);
    fx_server_stop(&s);
}

Test(learner, the_starting_parameters_are_published_before_any_data_arrives, .timeout = 60)
{
    /* Actors wait for a first Params before they act; a learner that waited for data before
     * publishing would deadlock the run. This shard holds every sample reply until it has
     * min_size transitions, which never come, as at the start of a run. */
    fx_server s;
    replay_server_config cfg = fx_server_config(256, 64);
    cfg.limiter.min_size = 100;
    cr_assert_eq(fx_server_start(&s, &cfg), 0, "%s", s.err.msg);
    run_arg a = {0};
    a.l = learner_of("[learner]\npublish_repeat_secs = 0.05\n", replay_server_endpoint(s.srv), "",
                     "tcp://127.0.0.1:*");
    shoal_err err = {0};
    void *ctx = zmq_ctx_new();
    nn_qnet *net = nn_qnet_new(nn_qnet_config_of(learner_update_net(learner_update_of(a.l))),
                               &err);
    learner_params_sub *sub =
        learner_params_sub_new(ctx, learner_params_endpoint(a.l), NULL, net, &err);
    cr_assert_not_null(sub, "%s", err.msg);
    pthread_t t;
    pthread_create(&t, NULL, run_main, &a);
    uint64_t version = 99;
    int rc = SHOAL_EAGAIN;
    for (int tries = 0; tries < 50 && rc != SHOAL_OK; tries++) {
        rc = learner_params_sub_poll(sub, 100, &version, NULL, &err);
    }
    a.stop = 1;
    pthread_join(t, NULL);
    cr_assert_eq(rc, SHOAL_OK, "no parameters while waiting for replay: %s (learner_run: %d %s)",
                 err.msg, a.rc, a.err.msg);
    cr_assert_eq(version, 0);
    cr_assert_eq(learner_update_steps(learner_update_of(a.l)), 0);
    learner_params_sub_free(sub);
    nn_qnet_free(net);
    learner_free(a.l);
    zmq_ctx_term(ctx);
    fx_server_stop(&s);
}
