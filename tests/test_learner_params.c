#include <criterion/criterion.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "learner/params.h"
#include "nn/qnet.h"

static nn_qnet *small_net(size_t n_actions, uint64_t seed)
{
    nn_qnet_config c = nn_qnet_config_minatar(4, n_actions);
    c.max_batch = 4;
    c.seed = seed;
    nn_qnet *net = nn_qnet_new(&c, NULL);
    cr_assert_not_null(net);
    return net;
}

/* Polls until a message is accepted or 5 s pass (PUB/SUB connects asynchronously, so the
 * publisher repeats until the subscriber has joined). */
static int poll_until(learner_params_pub *pub, learner_params_sub *sub, uint64_t *version,
                      shoal_err *err)
{
    uint64_t t0 = clock_now_ns();
    int rc;
    do {
        learner_params_pub_repeat(pub, NULL);
        rc = learner_params_sub_poll(sub, 50, version, NULL, err);
    } while (rc == SHOAL_EAGAIN && clock_since_s(t0) < 5.0);
    return rc;
}

Test(learner_params, a_subscriber_receives_the_published_parameters)
{
    void *ctx = zmq_ctx_new();
    shoal_err err = {0};
    char bound[256];
    learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound,
                                                     sizeof bound, &err);
    cr_assert_not_null(pub, "%s", err.msg);
    nn_qnet *src = small_net(3, 1), *dst = small_net(3, 2);
    cr_assert_neq(memcmp(nn_qnet_params(src), nn_qnet_params(dst), 16), 0);
    learner_params_sub *sub = learner_params_sub_new(ctx, bound, NULL, dst, &err);
    cr_assert_not_null(sub, "%s", err.msg);
    cr_assert_eq(learner_params_pub_send(pub, 7, 1000, src, &err), SHOAL_OK, "%s", err.msg);
    uint64_t version = 0;
    cr_assert_eq(poll_until(pub, sub, &version, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(version, 7);
    cr_assert_eq(learner_params_sub_version(sub), 7);
    cr_assert_eq(memcmp(nn_qnet_params(src), nn_qnet_params(dst), nn_qnet_blob_bytes(src)), 0);
    /* The same version again is not news. */
    learner_params_pub_repeat(pub, NULL);
    cr_assert_eq(learner_params_sub_poll(sub, 200, &version, NULL, &err), SHOAL_EAGAIN);
    learner_params_sub_free(sub);
    learner_params_pub_free(pub);
    nn_qnet_free(src);
    nn_qnet_free(dst);
    zmq_ctx_term(ctx);
}

Test(learner_params, the_latest_version_wins_when_the_subscriber_falls_behind)
{
    void *ctx = zmq_ctx_new();
    shoal_err err = {0};
    char bound[256];
    learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound,
                                                     sizeof bound, &err);
    nn_qnet *src = small_net(3, 1), *dst = small_net(3, 2);
    learner_params_sub *sub = learner_params_sub_new(ctx, bound, NULL, dst, &err);
    uint64_t version = 0;
    cr_assert_eq(learner_params_pub_send(pub, 1, 0, src, &err), SHOAL_OK);
    cr_assert_eq(poll_until(pub, sub, &version, &err), SHOAL_OK, "%s", err.msg);
    for (uint64_t v = 2; v <= 20; v++) {
        nn_qnet_params(src)[0] = (float)v;
        cr_assert_eq(learner_params_pub_send(pub, v, 0, src, &err), SHOAL_OK);
    }
    clock_sleep_ms(200);
    cr_assert_eq(learner_params_sub_poll(sub, 1000, &version, NULL, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(version, 20, "conflation keeps only the newest, got %llu",
                 (unsigned long long)version);
    cr_assert_eq(nn_qnet_params(dst)[0], 20.0f);
    learner_params_sub_free(sub);
    learner_params_pub_free(pub);
    nn_qnet_free(src);
    nn_qnet_free(dst);
    zmq_ctx_term(ctx);
}

Test(learner_params, parameters_of_another_architecture_are_refused_and_change_nothing)
{
    void *ctx = zmq_ctx_new();
    shoal_err err = {0};
    char bound[256];
    learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound,
                                                     sizeof bound, &err);
    nn_qnet *src = small_net(6, 1), *dst = small_net(3, 2);
    float before = nn_qnet_params(dst)[0];
    learner_params_sub *sub = learner_params_sub_new(ctx, bound, NULL, dst, &err);
    cr_assert_eq(learner_params_pub_send(pub, 3, 0, src, &err), SHOAL_OK);
    uint64_t version = 0;
    cr_assert_eq(poll_until(pub, sub, &version, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "act=6") != NULL && strstr(err.msg, "act=3") != NULL, "%s", err.msg);
    cr_assert_eq(nn_qnet_params(dst)[0], before);
    cr_assert_eq(learner_params_sub_version(sub), 0);
    learner_params_sub_free(sub);
    learner_params_pub_free(pub);
    nn_qnet_free(src);
    nn_qnet_free(dst);
    zmq_ctx_term(ctx);
}

Test(learner_params, binding_a_bad_endpoint_is_a_clear_error)
{
    void *ctx = zmq_ctx_new();
    shoal_err err = {0};
    char bound[256];
    cr_assert_null(
        learner_params_pub_new(ctx, "tcp://256.1.1.1:5", NULL, bound, sizeof bound, &err));
    cr_assert(strstr(err.msg, "tcp://256.1.1.1:5") != NULL, "%s", err.msg);
    zmq_ctx_term(ctx);
}
