/* cluster/train_roles.c: the roles of `shoal train` behind one interface, and the pieces of a
 * rank's start that need no MPI world (bind address, advertised endpoint, the gathered shard
 * endpoints). The collective steps are exercised by test_cluster_train. */
#include <criterion/criterion.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "cluster/train_roles.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "nn/paramfile.h"
#include "evaluator_fixtures.h"
#include "obs_fixtures.h"

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-train-roles-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cluster_train_roles, .init = make_dir, .fini = remove_dir);

static config *load(const char *set)
{
    shoal_err err = {0};
    const char *sets[] = {"replay.capacity=64", "replay.min_size=1", set};
    config *cfg = shoal_config_load(NULL, sets, set ? 3 : 2, &err);
    cr_assert_not_null(cfg, "%s", err.msg);
    fx_derive_facts(cfg);
    return cfg;
}

Test(cluster_train_roles, shards_bind_the_configured_host_or_every_interface_for_auto)
{
    char out[ENDPOINTS_MAX_LEN];
    config *cfg = load(NULL);
    train_role_bind_address(cfg, out, sizeof out);
    cr_assert_str_eq(out, "tcp://127.0.0.1:*");
    config_free(cfg);
    cfg = load("cluster.bind_host=auto");
    train_role_bind_address(cfg, out, sizeof out);
    cr_assert_str_eq(out, "tcp://*:*");
    config_free(cfg);
}

Test(cluster_train_roles, auto_advertises_this_host_name_and_keeps_the_port)
{
    shoal_err err = {0};
    char host[128];
    cr_assert_eq(gethostname(host, sizeof host), 0);
    char want[256];
    snprintf(want, sizeof want, "tcp://%s:5555", host);
    char ep[ENDPOINTS_MAX_LEN] = "tcp://0.0.0.0:5555";
    config *cfg = load("cluster.bind_host=auto");
    cr_assert_eq(train_role_advertise(ep, sizeof ep, cfg, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(ep, want);
    config_free(cfg);

    char kept[ENDPOINTS_MAX_LEN] = "tcp://127.0.0.1:6000";
    cfg = load(NULL);
    cr_assert_eq(train_role_advertise(kept, sizeof kept, cfg, &err), SHOAL_OK);
    cr_assert_str_eq(kept, "tcp://127.0.0.1:6000", "a fixed bind host is advertised as bound");
    config_free(cfg);
}

Test(cluster_train_roles, auto_with_a_subnet_advertises_this_hosts_address_in_it)
{
    shoal_err err = {0};
    char ep[ENDPOINTS_MAX_LEN] = "tcp://0.0.0.0:5555";
    config *cfg = load("cluster.bind_host=auto");
    cr_assert_eq(config_set(cfg, "cluster.advertise_host=127.0.0.0/8", "test", &err), SHOAL_OK);
    cr_assert_eq(train_role_advertise(ep, sizeof ep, cfg, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(ep, "tcp://127.0.0.1:5555");
    /* 0.0.0.0/8 is never an interface address (RFC 1122). */
    cr_assert_eq(config_set(cfg, "cluster.advertise_host=0.0.0.1/32", "test", &err), SHOAL_OK);
    char none[ENDPOINTS_MAX_LEN] = "tcp://0.0.0.0:5555";
    cr_assert_eq(train_role_advertise(none, sizeof none, cfg, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, "0.0.0.1/32") && strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    cr_assert_eq(config_set(cfg, "cluster.advertise_host=node7.example", "test", &err), SHOAL_OK);
    cr_assert_eq(train_role_advertise(none, sizeof none, cfg, &err), SHOAL_OK);
    cr_assert_str_eq(none, "tcp://node7.example:5555", "a name is advertised as it is");
    config_free(cfg);
}

Test(cluster_train_roles, the_shard_endpoints_are_the_first_gathered_ones_in_rank_order)
{
    char all[4 * ENDPOINTS_MAX_LEN] = {0};
    const char *eps[] = {"tcp://a:1", "tcp://b:2", "", ""};
    for (size_t i = 0; i < 4; i++) {
        snprintf(all + i * ENDPOINTS_MAX_LEN, ENDPOINTS_MAX_LEN, "%s", eps[i]);
    }
    endpoint_file ep;
    memset(&ep, 0, sizeof ep);
    train_role_set_replay(&ep, all, 2);
    cr_assert_eq(ep.n_replay, 2);
    cr_assert_str_eq(ep.replay[0], "tcp://a:1");
    cr_assert_str_eq(ep.replay[1], "tcp://b:2");
}

static cluster_layout layout_of(uint32_t shards, uint32_t learners, uint32_t evaluators,
                                uint32_t world)
{
    cluster_layout layout;
    shoal_err err = {0};
    cr_assert_eq(cluster_layout_init(&layout, shards, learners, evaluators, world, &err),
                 SHOAL_OK, "%s", err.msg);
    return layout;
}

static train_role_ctx ctx_for(const config *cfg, const cluster_layout *layout, cluster_role role,
                              uint32_t index, volatile sig_atomic_t *stop)
{
    train_role_ctx ctx = {.cfg = cfg, .run_dir = dir, .layout = layout, .role = role,
                          .index = index, .role_comm = MPI_COMM_NULL, .stop = stop};
    train_role_bind_address(cfg, ctx.bind, sizeof ctx.bind);
    return ctx;
}

Test(cluster_train_roles, a_shard_binds_a_free_port_and_checkpoints_into_the_run_folder)
{
    config *cfg = load(NULL);
    cluster_layout layout = layout_of(2, 1, 0, 5);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    train_role_ctx ctx = ctx_for(cfg, &layout, CLUSTER_ROLE_REPLAY, 1, &stop);
    char ep[ENDPOINTS_MAX_LEN];
    cr_assert_eq(train_role_bind(&ctx, ep, sizeof ep, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(strncmp(ep, "tcp://127.0.0.1:", 16) == 0 && strcmp(ep, "tcp://127.0.0.1:*") != 0,
              "the bound port, not the wildcard: %s", ep);
    cr_assert_not_null(ctx.role_state);
    char params[ENDPOINTS_MAX_LEN] = "x";
    cr_assert_eq(train_role_connect(&ctx, params, sizeof params, &err), SHOAL_OK);
    cr_assert_str_eq(params, "", "only learners publish parameters");

    stop = 1; /* serve no request: the shard writes its last checkpoint on the way out */
    cr_assert_eq(train_role_run(&ctx, &err), SHOAL_OK, "%s", err.msg);
    train_role_free(&ctx);
    cr_assert_null(ctx.role_state);
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/replay-1.ckpt", dir);
    cr_assert_eq(stat(path, &st), 0, "shard 1's checkpoint is %s", path);
    config_free(cfg);
}

Test(cluster_train_roles, a_bad_shard_configuration_fails_the_bind_with_the_reason)
{
    config *cfg = load(NULL);
    shoal_err err = {0};
    cr_assert_eq(config_set(cfg, "env.obs_shape=0,0,0", "test", &err), SHOAL_OK, "%s", err.msg);
    cluster_layout layout = layout_of(1, 1, 0, 3);
    volatile sig_atomic_t stop = 0;
    train_role_ctx ctx = ctx_for(cfg, &layout, CLUSTER_ROLE_REPLAY, 0, &stop);
    char ep[ENDPOINTS_MAX_LEN];
    cr_assert_neq(train_role_bind(&ctx, ep, sizeof ep, &err), SHOAL_OK);
    cr_assert(strstr(err.msg, "obs_shape") != NULL, "%s", err.msg);
    cr_assert_null(ctx.role_state);
    train_role_free(&ctx);
    config_free(cfg);
}

Test(cluster_train_roles, actors_and_learners_bind_nothing_before_the_exchange)
{
    config *cfg = load(NULL);
    cluster_layout layout = layout_of(1, 1, 0, 4);
    shoal_err err = {0};
    volatile sig_atomic_t stop = 0;
    cluster_role roles[] = {CLUSTER_ROLE_ACTOR, CLUSTER_ROLE_LEARNER};
    for (size_t i = 0; i < 2; i++) {
        train_role_ctx ctx = ctx_for(cfg, &layout, roles[i], 0, &stop);
        char ep[ENDPOINTS_MAX_LEN] = "x";
        cr_assert_eq(train_role_bind(&ctx, ep, sizeof ep, &err), SHOAL_OK, "%s", err.msg);
        cr_assert_str_eq(ep, "");
        cr_assert_null(ctx.role_state);
        train_role_free(&ctx);
    }
    config_free(cfg);
}

/* Plays learner 0 at a stop: after 300 ms it writes the last checkpoint, step-7.ckpt (a Chain
 * network that always goes right), then its .done marker. *arg: whether the save worked. */
static void *learner_finishes(void *arg)
{
    clock_sleep_ms(300);
    const int right[] = {1};
    nn_qnet *net = fx_chain_net(1, right, 2);
    char path[160];
    snprintf(path, sizeof path, "%s/checkpoints/step-7.ckpt", dir);
    *(int *)arg = nn_paramfile_save(path, net, NULL, 7, 28, NULL) == SHOAL_OK;
    nn_qnet_free(net);
    rundir_mark(dir, cluster_role_name(CLUSTER_ROLE_LEARNER), 0, RUNDIR_DONE, "");
    return NULL;
}

Test(cluster_train_roles, the_evaluator_evaluates_the_learners_last_checkpoint_after_the_stop)
{
    config *cfg = load("env.name=chain");
    cluster_layout layout = layout_of(1, 1, 1, 4);
    shoal_err err = {0};
    const char *subs[] = {"checkpoints", "log"};
    for (size_t i = 0; i < 2; i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        cr_assert_eq(mkdir(sub, 0755), 0);
    }
    volatile sig_atomic_t stop = 0;
    train_role_ctx ctx = ctx_for(cfg, &layout, CLUSTER_ROLE_EVALUATOR, 0, &stop);
    char ep[ENDPOINTS_MAX_LEN] = "x";
    cr_assert_eq(train_role_bind(&ctx, ep, sizeof ep, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_str_eq(ep, "", "the evaluator reads files; it binds nothing");
    cr_assert_not_null(ctx.role_state);
    stop = 1; /* the learner's last checkpoint comes after the stop */
    int saved = 0;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, learner_finishes, &saved), 0);
    uint64_t t0 = clock_now_ns();
    cr_assert_eq(train_role_run(&ctx, &err), SHOAL_OK, "%s", err.msg);
    double secs = clock_since_s(t0);
    pthread_join(t, NULL);
    cr_assert(saved);
    cr_assert_geq(secs, 0.25, "it did not wait for the learner (%.2f s)", secs);
    cr_assert_lt(secs, 3.0, "it waited on after the learner was done (%.2f s)", secs);
    train_role_free(&ctx);
    cr_assert_null(ctx.role_state);
    char path[160];
    snprintf(path, sizeof path, "%s/eval.jsonl", dir);
    uint8_t *text;
    size_t n;
    cr_assert_eq(file_read_all(path, 1 << 20, &text, &n, &err), SHOAL_OK, "%s", err.msg);
    cr_assert(strstr((char *)text, "{\"step\":7,\"frames\":28,"), "%.*s", (int)n, text);
    free(text);
    config_free(cfg);
}

Test(cluster_train_roles, a_run_without_actors_needs_fixed_data_and_an_end_other_than_frames)
{
    config *c = load(NULL);
    shoal_err err = {0};
    cr_assert_eq(train_check_actorless(c, dir, 2, &err), SHOAL_OK, "with actors: anything");
    cr_assert_eq(train_check_actorless(c, dir, 0, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "replay.demos") && strstr(err.msg, "replay-0.ckpt"), "%s",
              err.msg);
    /* a replay checkpoint in the run folder is data too */
    char ck[160];
    snprintf(ck, sizeof ck, "%s/replay-0.ckpt", dir);
    cr_assert_eq(atomic_write_file(ck, "x", 1, NULL), SHOAL_OK);
    cr_assert_eq(train_check_actorless(c, dir, 0, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "run.max_frames cannot end it") &&
              strstr(err.msg, "learner.max_updates") && strstr(err.msg, "run.max_seconds"),
              "%s", err.msg);
    unlink(ck);
    cr_assert_eq(config_set(c, "replay.demos=x.demo", "test", NULL), SHOAL_OK);
    cr_assert_eq(config_set(c, "run.max_seconds=60", "test", NULL), SHOAL_OK);
    cr_assert_eq(train_check_actorless(c, dir, 0, &err), SHOAL_OK, "%s", err.msg);
    config_set(c, "run.max_seconds=0", "test", NULL);
    cr_assert_eq(config_set(c, "learner.max_updates=100", "test", NULL), SHOAL_OK);
    cr_assert_eq(train_check_actorless(c, dir, 0, &err), SHOAL_OK, "%s", err.msg);
    config_free(c);
}
