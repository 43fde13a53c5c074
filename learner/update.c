#include "learner/update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "nn/loss.h"
#include "nn/paramfile.h"

struct learner_update {
    learner_update_config cfg;
    MPI_Comm comm; /* MPI_COMM_NULL: a single learner without MPI */
    int rank, size;
    nn_qnet *net, *target;
    nn_optim *opt;
    uint64_t steps;
    size_t n_actions, n_heads, n_trainable;
    float *q;           /* (B, K, A) online on s */
    float *q_next;      /* (B, K, A) online on s' (double DQN's argmax) */
    float *q_next_tgt;  /* (B, K, A) target on s' */
    float *y;           /* (B, K) targets */
    float *dq;          /* (B, K, A) dL/dQ */
    float *q_boot;      /* (B, K, A) h⁻¹ of the target's values (target_transform only) */
    float *grads_td;    /* (n_trainable) the s-pass gradient while the TC pass runs (TC only) */
    learner_update_times times;
};

static int mpi_fail(shoal_err *err, int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) {
        snprintf(text, sizeof text, "MPI error %d", rc);
    }
    return shoal_err_set(err, SHOAL_EIO, "%s: %s", what, text);
}

learner_update *learner_update_new(const learner_update_config *cfg, MPI_Comm comm,
                                   shoal_err *err)
{
    if (cfg->target_period < 1) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.target_period must be at least 1");
        return NULL;
    }
    if (cfg->target_transform && !(cfg->transform_eps > 0.0f)) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.transform_eps must be > 0 with "
                      "learner.target_transform = apex (h⁻¹ needs ε > 0)");
        return NULL;
    }
    learner_update *u = calloc(1, sizeof *u);
    if (!u) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner");
        return NULL;
    }
    u->cfg = *cfg;
    u->comm = comm;
    u->rank = 0;
    u->size = 1;
    if (comm != MPI_COMM_NULL) {
        int rc = MPI_Comm_rank(comm, &u->rank);
        if (rc == MPI_SUCCESS) {
            rc = MPI_Comm_size(comm, &u->size);
        }
        if (rc != MPI_SUCCESS) {
            mpi_fail(err, rc, "learner communicator");
            goto fail;
        }
    }
    u->net = nn_qnet_new(&cfg->net, err);
    if (!u->net) {
        goto fail;
    }
    u->target = nn_qnet_new(&cfg->net, err);
    if (!u->target || nn_qnet_copy_params(u->target, u->net, err) != SHOAL_OK) {
        goto fail;
    }
    u->n_trainable = nn_qnet_n_trainable(u->net);
    u->opt = nn_optim_new(&cfg->optim, u->n_trainable, err);
    if (!u->opt) {
        goto fail;
    }
    u->n_actions = cfg->net.n_actions;
    u->n_heads = cfg->net.n_heads;
    size_t bka = cfg->net.max_batch * u->n_heads * u->n_actions;
    u->q = malloc(bka * sizeof *u->q);
    u->q_next = malloc(bka * sizeof *u->q_next);
    u->q_next_tgt = malloc(bka * sizeof *u->q_next_tgt);
    u->dq = malloc(bka * sizeof *u->dq);
    u->y = malloc(cfg->net.max_batch * u->n_heads * sizeof *u->y);
    if (cfg->target_transform) {
        u->q_boot = malloc(bka * sizeof *u->q_boot);
    }
    if (cfg->lambda_tc > 0.0f) {
        u->grads_td = malloc(u->n_trainable * sizeof *u->grads_td);
    }
    if (!u->q || !u->q_next || !u->q_next_tgt || !u->dq || !u->y ||
        (cfg->target_transform && !u->q_boot) || (cfg->lambda_tc > 0.0f && !u->grads_td)) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner's workspaces (batch %zu)",
                      cfg->net.max_batch);
        goto fail;
    }
    return u;
fail:
    learner_update_free(u);
    return NULL;
}

void learner_update_free(learner_update *u)
{
    if (!u) {
        return;
    }
    nn_qnet_free(u->net);
    nn_qnet_free(u->target);
    nn_optim_free(u->opt);
    free(u->q);
    free(u->q_next);
    free(u->q_next_tgt);
    free(u->dq);
    free(u->y);
    free(u->q_boot);
    free(u->grads_td);
    free(u);
}

int learner_update_sync(learner_update *u, shoal_err *err)
{
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        return SHOAL_OK;
    }
    size_t n_state = 0;
    float *state = nn_optim_state(u->opt, &n_state);
    uint64_t counts[2] = {u->steps, nn_optim_steps(u->opt)};
    struct {
        float *buf;
        size_t n;
        const char *what;
    } parts[] = {
        {nn_qnet_params(u->net), nn_qnet_n_params(u->net), "parameters"},
        {nn_qnet_params(u->target), nn_qnet_n_params(u->target), "target parameters"},
        {state, n_state, "optimizer state"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        /* MPI counts are int: the MinAtar network is ~2^18 floats, far below 2^31. */
        if (parts[i].n > (size_t)INT32_MAX) {
            return shoal_err_set(err, SHOAL_EINVAL, "%s: %zu floats exceed one MPI message",
                                 parts[i].what, parts[i].n);
        }
        int rc = MPI_Bcast(parts[i].buf, (int)parts[i].n, MPI_FLOAT, 0, u->comm);
        if (rc != MPI_SUCCESS) {
            return mpi_fail(err, rc, parts[i].what);
        }
    }
    int rc = MPI_Bcast(counts, 2, MPI_UINT64_T, 0, u->comm);
    if (rc != MPI_SUCCESS) {
        return mpi_fail(err, rc, "update counts");
    }
    u->steps = counts[0];
    nn_optim_set_steps(u->opt, counts[1]);
    return SHOAL_OK;
}

static int check_batch(const learner_update *u, const learner_batch *b, shoal_err *err)
{
    if (b->count < 1 || b->count > u->cfg.net.max_batch) {
        return shoal_err_set(err, SHOAL_EINVAL, "batch of %zu samples; this learner takes 1..%zu",
                             b->count, u->cfg.net.max_batch);
    }
    for (size_t i = 0; i < b->count; i++) {
        if (b->action[i] >= u->n_actions) {
            return shoal_err_set(err, SHOAL_EINVAL, "sample %zu has action %u; the network has "
                                 "%zu actions (replay holds another game's data?)", i,
                                 b->action[i], u->n_actions);
        }
    }
    return SHOAL_OK;
}

/* Sum of the local gradients over ranks, then 1/R: the gradient of the mean loss over the
 * global batch when every rank holds an equal share. */
static int allreduce_grads(learner_update *u, float *grads, shoal_err *err)
{
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        return SHOAL_OK;
    }
    int rc = MPI_Allreduce(MPI_IN_PLACE, grads, (int)u->n_trainable, MPI_FLOAT, MPI_SUM,
                           u->comm);
    if (rc != MPI_SUCCESS) {
        return mpi_fail(err, rc, "gradient all-reduce");
    }
    float scale = 1.0f / (float)u->size;
    for (size_t i = 0; i < u->n_trainable; i++) {
        grads[i] *= scale;
    }
    return SHOAL_OK;
}

/* Ape-X DQfD's temporal-consistency term, after the TD pass's backward: the online net forwards
 * s' again keeping its activations, and the TC gradient through Q(s', ·) is added to the TD
 * pass's (backward overwrites grads, so those wait in grads_td). Returns λ_TC · L_TC. */
static float add_tc_gradient(learner_update *u, const learner_batch *b, const nn_loss_dims *d)
{
    float *grads = nn_qnet_grads(u->net);
    memcpy(u->grads_td, grads, u->n_trainable * sizeof *grads);
    nn_qnet_forward_train(u->net, b->next_obs, d->batch, u->q_next);
    float tc = nn_loss_tc(u->dq, u->q_next, u->q_next_tgt, b->mask, b->weight, d,
                          u->cfg.lambda_tc);
    nn_qnet_backward(u->net, u->dq, d->batch);
    for (size_t i = 0; i < u->n_trainable; i++) {
        grads[i] += u->grads_td[i];
    }
    return tc;
}

/* Forward passes, the loss terms and backward; grads hold this rank's gradient after. */
static void local_gradient(learner_update *u, const learner_batch *b, float *priorities,
                           learner_loss *loss)
{
    size_t B = b->count;
    nn_loss_dims d = {.batch = B, .n_heads = u->n_heads, .n_actions = u->n_actions};
    nn_qnet_forward_train(u->net, b->obs, B, u->q);
    if (u->cfg.double_q) {
        nn_qnet_forward(u->net, b->next_obs, B, u->q_next);
    }
    nn_qnet_forward(u->target, b->next_obs, B, u->q_next_tgt);
    /* h⁻¹ is increasing, so the target net's own argmax is unchanged by it */
    const float *boot = u->q_next_tgt;
    if (u->cfg.target_transform) {
        nn_value_h_inv_n(u->q_boot, u->q_next_tgt, B * u->n_heads * u->n_actions,
                         u->cfg.transform_eps);
        boot = u->q_boot;
    }
    nn_loss_targets(u->y, u->cfg.double_q ? u->q_next : NULL, boot, b->reward,
                    b->discount, &d, u->cfg.double_q);
    if (u->cfg.target_transform) {
        nn_value_h_n(u->y, u->y, B * u->n_heads, u->cfg.transform_eps);
    }
    nn_td_batch tb = {.dims = d, .actions = b->action, .targets = u->y, .mask_bits = b->mask,
                      .weights = b->weight};
    loss->td = nn_loss_td(u->dq, priorities, u->q, &tb);
    loss->margin = 0.0f;
    loss->n_demo = 0;
    if (b->demo) {
        for (size_t i = 0; i < B; i++) {
            loss->n_demo += b->demo[i] != 0;
        }
    }
    if (loss->n_demo > 0 && u->cfg.lambda_demo > 0.0f) {
        loss->margin = nn_loss_margin(u->dq, u->q, b->action, b->demo, b->weight, &d,
                                      u->cfg.margin, u->cfg.lambda_demo);
    }
    nn_qnet_backward(u->net, u->dq, B);
    loss->tc = u->cfg.lambda_tc > 0.0f ? add_tc_gradient(u, b, &d) : 0.0f;
    loss->l2 = 0.0f;
    if (u->cfg.l2 > 0.0f) {
        loss->l2 = nn_loss_l2(nn_qnet_grads(u->net), nn_qnet_params(u->net), u->n_trainable,
                              u->cfg.l2);
    }
    double sum = 0.0;
    for (size_t i = 0; i < B; i++) {
        sum += priorities[i];
    }
    loss->mean_abs_td = (float)(sum / (double)B);
}

int learner_update_step(learner_update *u, const learner_batch *b, float *priorities,
                        learner_loss *loss, shoal_err *err)
{
    int rc = check_batch(u, b, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    learner_loss local;
    uint64_t t0 = clock_now_ns();
    local_gradient(u, b, priorities, &local);
    uint64_t t1 = clock_now_ns();
    float *grads = nn_qnet_grads(u->net);
    rc = allreduce_grads(u, grads, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    uint64_t t2 = clock_now_ns();
    nn_optim_step(u->opt, nn_qnet_params(u->net), grads);
    u->steps++;
    if (u->steps % u->cfg.target_period == 0) {
        /* Same architecture by construction: the copy cannot fail. */
        nn_qnet_copy_params(u->target, u->net, NULL);
    }
    uint64_t t3 = clock_now_ns();
    u->times.forward_backward += (double)(t1 - t0) * 1e-9;
    u->times.allreduce += (double)(t2 - t1) * 1e-9;
    u->times.optimizer += (double)(t3 - t2) * 1e-9;
    if (loss) {
        *loss = local;
    }
    return SHOAL_OK;
}

uint32_t learner_update_local_checksum(const learner_update *u)
{
    size_t n_state = 0;
    const float *state = nn_optim_state(u->opt, &n_state);
    uint64_t counts[2] = {u->steps, nn_optim_steps(u->opt)};
    uint32_t crc = crc32c(nn_qnet_params(u->net), nn_qnet_n_params(u->net) * sizeof(float));
    crc = crc32c_update(crc, nn_qnet_params(u->target),
                        nn_qnet_n_params(u->target) * sizeof(float));
    crc = crc32c_update(crc, state, n_state * sizeof(float));
    return crc32c_update(crc, counts, sizeof counts);
}

int learner_update_checksum(learner_update *u, int flag, int *any_flag, shoal_err *err)
{
    uint32_t mine[2] = {learner_update_local_checksum(u), flag ? 1u : 0u};
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        if (any_flag) {
            *any_flag = flag != 0;
        }
        return SHOAL_OK;
    }
    /* A fixed bound keeps the exchange free of allocation. */
    enum { MAX_RANKS = 4096 };
    uint32_t all[2 * MAX_RANKS];
    if (u->size > MAX_RANKS) {
        return shoal_err_set(err, SHOAL_EINVAL, "%d learner ranks; the checksum exchange "
                             "supports %d", u->size, MAX_RANKS);
    }
    int rc = MPI_Allgather(mine, 2, MPI_UINT32_T, all, 2, MPI_UINT32_T, u->comm);
    if (rc != MPI_SUCCESS) {
        return mpi_fail(err, rc, "checksum exchange");
    }
    int any = 0;
    char bad[128] = "";
    size_t len = 0;
    int n_bad = 0;
    for (int r = 0; r < u->size; r++) {
        any |= all[2 * r + 1] != 0;
        if (all[2 * r] == all[0]) {
            continue;
        }
        /* Name the first few ranks; the count says how many there are in all. */
        if (len + 12 < sizeof bad) {
            len += (size_t)snprintf(bad + len, sizeof bad - len, "%s%d", n_bad ? ", " : "", r);
        }
        n_bad++;
    }
    if (any_flag) {
        *any_flag = any;
    }
    if (n_bad > 0) {
        return shoal_err_set(err, SHOAL_ESTATE, "learner ranks have diverged at update %llu: "
                             "%d rank(s) (%s) hold a parameter checksum different from rank "
                             "0's (0x%08x); stopping (a hardware fault or a non-deterministic "
                             "reduction)", (unsigned long long)u->steps, n_bad, bad, all[0]);
    }
    return SHOAL_OK;
}

uint64_t learner_update_steps(const learner_update *u)
{
    return u->steps;
}

nn_qnet *learner_update_net(const learner_update *u)
{
    return u->net;
}

nn_qnet *learner_update_target(const learner_update *u)
{
    return u->target;
}

nn_optim *learner_update_optim(const learner_update *u)
{
    return u->opt;
}

learner_update_times learner_update_times_of(const learner_update *u)
{
    return u->times;
}

int learner_update_rank(const learner_update *u)
{
    return u->rank;
}

int learner_update_size(const learner_update *u)
{
    return u->size;
}

int learner_update_target_path(const char *path, char *out, size_t cap, shoal_err *err)
{
    size_t n = strlen(path);
    const char *ext = ".ckpt";
    size_t n_ext = strlen(ext);
    if (n >= n_ext && strcmp(path + n - n_ext, ext) == 0) {
        n -= n_ext;
    }
    int len = snprintf(out, cap, "%.*s.target", (int)n, path);
    if (len < 0 || (size_t)len >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: checkpoint path too long", path);
    }
    return SHOAL_OK;
}

int learner_update_save(const learner_update *u, const char *path, uint64_t frames,
                        shoal_err *err)
{
    char tpath[4096];
    int rc = learner_update_target_path(path, tpath, sizeof tpath, err);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_save(tpath, u->target, NULL, u->steps, frames, err);
    }
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_save(path, u->net, u->opt, u->steps, frames, err);
    }
    return rc;
}

int learner_update_load(learner_update *u, const char *path, uint64_t *frames, shoal_err *err)
{
    char tpath[4096];
    int rc = learner_update_target_path(path, tpath, sizeof tpath, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    /* Load into scratch networks first so that a bad file leaves u unchanged. */
    nn_qnet *net = nn_qnet_new(&u->cfg.net, err);
    nn_qnet *target = net ? nn_qnet_new(&u->cfg.net, err) : NULL;
    nn_optim *opt = target ? nn_optim_new(&u->cfg.optim, u->n_trainable, err) : NULL;
    uint64_t step = 0, tstep = 0, fr = 0;
    rc = opt ? SHOAL_OK : (err ? err->code : SHOAL_ENOMEM);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_load(path, net, opt, &step, &fr, err);
    }
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_load(tpath, target, NULL, &tstep, NULL, err);
        if (rc == SHOAL_ENOTFOUND) {
            shoal_err_prefix(err, "%s has no target network beside it (written by another "
                             "program?)", path);
        }
    }
    if (rc == SHOAL_OK && tstep != step) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s is step %llu but its target file %s is "
                           "step %llu: the pair is not from one checkpoint", path,
                           (unsigned long long)step, tpath, (unsigned long long)tstep);
    }
    if (rc == SHOAL_OK) {
        size_t n_state = 0, n_new = 0;
        float *dst = nn_optim_state(u->opt, &n_state);
        const float *src = nn_optim_state(opt, &n_new);
        memcpy(dst, src, n_state * sizeof *dst);
        nn_optim_set_steps(u->opt, nn_optim_steps(opt));
        nn_qnet_copy_params(u->net, net, NULL);
        nn_qnet_copy_params(u->target, target, NULL);
        u->steps = step;
        if (frames) {
            *frames = fr;
        }
    }
    nn_qnet_free(net);
    nn_qnet_free(target);
    nn_optim_free(opt);
    return rc;
}
