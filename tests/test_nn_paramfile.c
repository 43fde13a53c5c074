#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "nn/paramfile.h"

static char dir[64];
static char path[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/shoal-nn-paramfile-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/net.ckpt", dir);
}

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(nn_paramfile, .init = make_dir, .fini = remove_dir);

static nn_qnet *small_net(uint64_t seed, size_t n_actions)
{
    nn_qnet_config c = {.in_h = 5, .in_w = 5, .in_c = 2, .n_conv = 1, .conv_filters = {3},
                        .n_dense = 1, .dense = {6}, .n_actions = n_actions, .n_heads = 2,
                        .dueling = 1, .prior_scale = 2.0f, .max_batch = 2, .seed = seed};
    shoal_err err = {0};
    nn_qnet *net = nn_qnet_new(&c, &err);
    cr_assert_not_null(net, "%s", err.msg);
    return net;
}

/* An optimizer with a few steps of non-trivial state. */
static nn_optim *stepped_adam(nn_qnet *net)
{
    nn_optim_config oc = nn_optim_adam(1e-3f);
    nn_optim *opt = nn_optim_new(&oc, nn_qnet_n_trainable(net), NULL);
    float *g = nn_qnet_grads(net);
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < nn_qnet_n_trainable(net); i++) {
            g[i] = (float)((i * 7 + (size_t)s) % 13) - 6.0f;
        }
        nn_optim_step(opt, nn_qnet_params(net), g);
    }
    return opt;
}

static void save_or_fail(const nn_qnet *net, const nn_optim *opt)
{
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_save(path, net, opt, 1234, 56789, &err), SHOAL_OK, "%s", err.msg);
}

Test(nn_paramfile, a_round_trip_is_bit_exact_with_optimizer_state_and_counters)
{
    nn_qnet *a = small_net(1, 3), *b = small_net(2, 3);
    nn_optim *oa = stepped_adam(a);
    nn_optim_config oc = nn_optim_adam(1e-3f);
    nn_optim *ob = nn_optim_new(&oc, nn_qnet_n_trainable(b), NULL);
    save_or_fail(a, oa);
    shoal_err err = {0};
    uint64_t step = 0, frames = 0;
    cr_assert_eq(nn_paramfile_load(path, b, ob, &step, &frames, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(memcmp(nn_qnet_params(a), nn_qnet_params(b), nn_qnet_blob_bytes(a)), 0);
    size_t na, nb;
    float *sa = nn_optim_state(oa, &na), *sb = nn_optim_state(ob, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(sa, sb, na * sizeof(float)), 0);
    cr_assert_eq(nn_optim_steps(ob), 3);
    cr_assert_eq(step, 1234);
    cr_assert_eq(frames, 56789);
    char arch[NN_QNET_ARCH_MAX];
    cr_assert_eq(nn_paramfile_read_arch(path, arch, sizeof arch, &err), SHOAL_OK);
    cr_assert_str_eq(arch, nn_qnet_arch(a));
    cr_assert_eq(nn_paramfile_read_arch(path, arch, 5, &err), SHOAL_EINVAL);
    nn_optim_free(oa);
    nn_optim_free(ob);
    nn_qnet_free(a);
    nn_qnet_free(b);
}

Test(nn_paramfile, parameters_load_alone_but_missing_optimizer_state_is_an_error)
{
    nn_qnet *a = small_net(1, 3), *b = small_net(2, 3);
    nn_optim *oa = stepped_adam(a);
    save_or_fail(a, oa);
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_load(path, b, NULL, NULL, NULL, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(memcmp(nn_qnet_params(a), nn_qnet_params(b), nn_qnet_blob_bytes(a)), 0);
    save_or_fail(a, NULL);
    cr_assert_eq(nn_paramfile_load(path, b, oa, NULL, NULL, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "optimizer") != NULL, "%s", err.msg);
    nn_optim_config rc = nn_optim_rmsprop(1e-3f);
    nn_optim *rms = nn_optim_new(&rc, nn_qnet_n_trainable(a), NULL);
    save_or_fail(a, oa);
    cr_assert_eq(nn_paramfile_load(path, b, rms, NULL, NULL, &err), SHOAL_ESTATE);
    nn_optim_free(rms);
    nn_optim_free(oa);
    nn_qnet_free(a);
    nn_qnet_free(b);
}

Test(nn_paramfile, another_architecture_is_rejected_naming_both)
{
    nn_qnet *a = small_net(1, 3), *b = small_net(1, 4);
    save_or_fail(a, NULL);
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_load(path, b, NULL, NULL, NULL, &err), SHOAL_EARCH);
    cr_assert(strstr(err.msg, "act=3") && strstr(err.msg, "act=4"), "%s", err.msg);
    nn_qnet_free(a);
    nn_qnet_free(b);
}

/* Loads image into a fresh net; returns the code and checks the net was left untouched. */
static int load_image(const uint8_t *image, size_t n, shoal_err *err)
{
    /* plain stdio: an fsync per image would make the thousands of cases slow */
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(image, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    nn_qnet *net = small_net(9, 3);
    size_t nb = nn_qnet_blob_bytes(net);
    float *before = malloc(nb);
    memcpy(before, nn_qnet_params(net), nb);
    int rc = nn_paramfile_load(path, net, NULL, NULL, NULL, err);
    if (rc != SHOAL_OK) {
        cr_assert_eq(memcmp(before, nn_qnet_params(net), nb), 0, "a failed load changed the net");
    }
    free(before);
    nn_qnet_free(net);
    return rc;
}

static uint8_t *saved_image(size_t *n)
{
    nn_qnet *a = small_net(1, 3);
    save_or_fail(a, NULL);
    nn_qnet_free(a);
    uint8_t *image = NULL;
    cr_assert_eq(file_read_all(path, 1 << 20, &image, n, NULL), SHOAL_OK);
    return image;
}

Test(nn_paramfile, every_truncation_is_rejected_and_changes_nothing, .timeout = 60)
{
    size_t n;
    uint8_t *image = saved_image(&n);
    for (size_t len = 0; len < n; len++) {
        shoal_err err = {0};
        int rc = load_image(image, len, &err);
        cr_assert_eq(rc, SHOAL_ECORRUPT, "truncated to %zu of %zu bytes: %s", len, n, err.msg);
    }
    shoal_err err = {0};
    load_image(image, n - 7, &err);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    free(image);
}

Test(nn_paramfile, every_single_bit_flip_is_rejected_and_changes_nothing, .timeout = 60)
{
    size_t n;
    uint8_t *image = saved_image(&n);
    for (size_t i = 0; i < n; i++) {
        image[i] ^= (uint8_t)(1u << (i % 8));
        shoal_err err = {0};
        int rc = load_image(image, n, &err);
        cr_assert(rc == SHOAL_ECORRUPT || rc == SHOAL_EVERSION,
                  "flip in byte %zu of %zu accepted (%s: %s)", i, n, shoal_err_name(rc), err.msg);
        image[i] ^= (uint8_t)(1u << (i % 8));
    }
    shoal_err err = {0};
    image[n - 10] ^= 1;
    load_image(image, n, &err);
    cr_assert(strstr(err.msg, "CRC32C mismatch") != NULL, "%s", err.msg);
    image[n - 10] ^= 1;
    cr_assert_eq(load_image(image, n, &err), SHOAL_OK, "the restored image loads: %s", err.msg);
    free(image);
}

Test(nn_paramfile, trailing_bytes_a_newer_version_and_a_missing_file_are_errors)
{
    size_t n;
    uint8_t *image = saved_image(&n);
    uint8_t *longer = calloc(n + 1, 1);
    memcpy(longer, image, n);
    shoal_err err = {0};
    cr_assert_eq(load_image(longer, n + 1, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "trailing") != NULL, "%s", err.msg);
    image[8] = 2; /* version 2 */
    cr_assert_eq(load_image(image, n, &err), SHOAL_EVERSION);
    cr_assert(strstr(err.msg, "version 2") != NULL, "%s", err.msg);
    unlink(path);
    nn_qnet *net = small_net(1, 3);
    cr_assert_eq(nn_paramfile_load(path, net, NULL, NULL, NULL, &err), SHOAL_ENOTFOUND);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.ckpt", dir);
    cr_assert_eq(nn_paramfile_save(bad, net, NULL, 0, 0, &err), SHOAL_EIO);
    nn_qnet_free(net);
    free(longer);
    free(image);
}

/* ---- checkpoint names ---- */

Test(nn_paramfile, checkpoint_names_parse_back_to_their_step)
{
    static const uint64_t steps[] = {0, 1, 7, 10, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char name[NN_PARAMFILE_NAME_MAX], want[300], full[300];
        shoal_err err = {0};
        cr_assert_eq(nn_paramfile_checkpoint_name(steps[i], name, sizeof name, &err), SHOAL_OK,
                     "%s", err.msg);
        uint64_t back = 12345;
        cr_assert(nn_paramfile_checkpoint_step(name, &back), "%s", name);
        cr_assert_eq(back, steps[i], "%s", name);
        cr_assert_eq(nn_paramfile_checkpoint_path("runs/x", steps[i], full, sizeof full, &err),
                     SHOAL_OK, "%s", err.msg);
        snprintf(want, sizeof want, "runs/x/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", name);
        cr_assert_str_eq(full, want);
    }
    char name[NN_PARAMFILE_NAME_MAX];
    nn_paramfile_checkpoint_name(1000, name, sizeof name, NULL);
    cr_assert_str_eq(name, "step-1000.ckpt");
}

Test(nn_paramfile, names_that_are_not_exactly_a_checkpoint_name_are_rejected)
{
    static const char *const bad[] = {
        "",  "step-", "step-.ckpt", "step-5", "step-5.ckpt.tmp.Ab12Cd", "step-5.target",
        "step-5.CKPT", "Step-5.ckpt", "stp-5.ckpt", "step-+5.ckpt", "step- 5.ckpt", "step--1.ckpt",
        "step-007.ckpt", "step-5x.ckpt", "step-5.ckpt ", "step-18446744073709551616.ckpt",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t step = 99;
        cr_assert(!nn_paramfile_checkpoint_step(bad[i], &step), "accepted \"%s\"", bad[i]);
        cr_assert_eq(step, 99, "\"%s\" wrote the step", bad[i]);
    }
}

Test(nn_paramfile, checkpoint_names_that_do_not_fit_are_errors)
{
    char small[14], full[32];
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_checkpoint_name(1000, small, sizeof small, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "1000") != NULL, "%s", err.msg);
    cr_assert_eq(nn_paramfile_checkpoint_name(100, small, sizeof small, &err), SHOAL_OK);
    cr_assert_eq(nn_paramfile_checkpoint_path("runs/a-rather-long-run-name", 5, full,
                                              sizeof full, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "runs/a-rather-long-run-name") != NULL, "%s", err.msg);
}

/* Creates dir/checkpoints/name (empty). */
static void touch_checkpoint(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fclose(f);
}

static void remove_checkpoint(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/" NN_PARAMFILE_CHECKPOINT_DIR "/%s", dir, name);
    unlink(p);
}

typedef struct visits {
    uint64_t sum;
    size_t n;
    int fail_with;
} visits;

static int visit(uint64_t step, void *arg, shoal_err *err)
{
    visits *v = arg;
    v->sum += step;
    v->n++;
    return v->fail_with ? shoal_err_set(err, v->fail_with, "stop at %llu",
                                        (unsigned long long)step)
                        : SHOAL_OK;
}

Test(nn_paramfile, each_checkpoint_is_visited_and_other_files_are_not)
{
    visits v = {0};
    shoal_err err = {0};
    cr_assert_eq(nn_paramfile_checkpoint_each(dir, visit, &v, &err), SHOAL_ENOTFOUND);
    cr_assert(strstr(err.msg, NN_PARAMFILE_CHECKPOINT_DIR) != NULL, "%s", err.msg);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/" NN_PARAMFILE_CHECKPOINT_DIR, dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    static const char *const files[] = {"step-3.ckpt", "step-10.ckpt", "step-10.target",
                                        "step-4.ckpt.tmp.Ab12Cd", "notes.txt"};
    for (size_t i = 0; i < 5; i++) {
        touch_checkpoint(files[i]);
    }
    cr_assert_eq(nn_paramfile_checkpoint_each(dir, visit, &v, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(v.n, 2);
    cr_assert_eq(v.sum, 13);
    visits failing = {.fail_with = SHOAL_EIO};
    cr_assert_eq(nn_paramfile_checkpoint_each(dir, visit, &failing, &err), SHOAL_EIO);
    cr_assert_eq(failing.n, 1, "the walk stops at the first error");
    cr_assert(strstr(err.msg, "stop at") != NULL, "%s", err.msg);
    for (size_t i = 0; i < 5; i++) {
        remove_checkpoint(files[i]);
    }
    rmdir(sub);
}
