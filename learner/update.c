#include "learner/update.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "nn/loss.h"
#include "nn/paramfile.h"

#define TARGET_EXT ".target" /* the target network's file beside a checkpoint */
/* The networks and workspaces one thread computes a local gradient with. The first is the
 * learner's own; a helper thread's reads the same parameters through nn_qnet replicas. */
typedef struct replica {
    nn_qnet *net, *target;
    float *q;           /* (B, K, A) online on s */
    float *q_next;      /* (B, K, A) online on s' (double DQN's argmax) */
    float *q_next_tgt;  /* (B, K, A) target on s' */
    float *y;           /* (B, K) targets */
    float *dq;          /* (B, K, A) dL/dQ */
    float *q_boot;      /* (B, K, A) h⁻¹ of the target's values (target_transform) */
} replica;

/* The helper thread of learner.threads = 2: computes the gradient of the second part of the
 * batch in its replica while the learner's thread computes the first. */
typedef struct helper {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running;         /* the thread exists (join it) */
    int quit;
    uint64_t posted, done; /* tasks handed over and finished */
    replica r;
    learner_batch batch; /* its part, borrowed for the task */
    const float *g_next; /* the behaviour model's logits on its part's s' (OFFLINE) */
    float *priorities;
    learner_loss loss;
} helper;

/* The gradient all-reduce of one step, in buckets of layers as the backward pass finishes
 * them (grads_ready): grads[end ..) is sent or being sent, [first .. end) of the latest call
 * is final but not yet sent. */
typedef struct grad_sync {
    MPI_Request req[NN_QNET_MAX_LAYERS];
    int n_req;
    size_t end;
    size_t l2_from; /* grads[l2_from ..) have the L2 gradient added */
    float l2;   /* λΣθ² over the finished layers */
    int overlap; /* start buckets during the backward pass (else one all-reduce after it) */
    int rc;     /* the first MPI error code, MPI_SUCCESS */
} grad_sync;

struct learner_update {
    learner_update_config cfg;
    MPI_Comm comm; /* MPI_COMM_NULL: a single learner without MPI */
    int rank, size;
    nn_qnet *net, *target;
    nn_optim *opt;
    uint64_t steps;
    size_t n_actions, n_heads, n_trainable;
    replica main;
    helper *help; /* NULL: one thread */
    grad_sync sync;
    /* OFFLINE only (else NULL): the behaviour model G, its optimizer and workspaces, always
     * on the whole batch in the learner's thread */
    nn_qnet *behaviour;
    nn_optim *behaviour_opt;
    /* RND only (else NULL): the predictor with its optimizer, and the batch moments buffer */
    nn_rnd *rnd;
    nn_optim *rnd_opt;
    double *rnd_sums; /* (1 + 2D) */
    float *g;           /* (B, K, A) G's logits on s */
    float *g_next;      /* (B, K, A) G's logits on s' */
    float *dg;          /* (B, K, A) dL/dG */
    float *grads_td;    /* (n_trainable) the s-pass gradient while the TC pass runs (TC only) */
    learner_update_times times;
};

/* Fewer floats than this join the next layer's bucket: an all-reduce costs a few µs however
 * small, and the MinAtar heads (a few hundred floats) are not worth one of their own. */
#define BUCKET_MIN_FLOATS 4096
/* Below this many samples the batch is not split between threads: the hand-over costs more
 * than half of so small a step saves. */
#define SPLIT_MIN_BATCH 8

static int mpi_fail(shoal_err *err, int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) {
        snprintf(text, sizeof text, "MPI error %d", rc);
    }
    return shoal_err_set(err, SHOAL_EIO, "%s: %s", what, text);
}

static int replica_buffers(replica *r, const nn_qnet_config *net, shoal_err *err)
{
    size_t bka = net->max_batch * net->n_heads * net->n_actions;
    r->q = malloc(bka * sizeof *r->q);
    r->q_next = malloc(bka * sizeof *r->q_next);
    r->q_next_tgt = malloc(bka * sizeof *r->q_next_tgt);
    r->dq = malloc(bka * sizeof *r->dq);
    r->y = malloc(net->max_batch * net->n_heads * sizeof *r->y);
    r->q_boot = malloc(bka * sizeof *r->q_boot);
    if (!r->q || !r->q_next || !r->q_next_tgt || !r->dq || !r->y || !r->q_boot) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner's workspaces "
                             "(batch %zu)", net->max_batch);
    }
    return SHOAL_OK;
}

static void replica_free_buffers(replica *r)
{
    free(r->q);
    free(r->q_next);
    free(r->q_next_tgt);
    free(r->dq);
    free(r->y);
    free(r->q_boot);
}

static void local_gradient(const learner_update *u, replica *r, const learner_batch *b,
                           const float *g_next, float *priorities, learner_loss *loss);

static void *helper_main(void *arg)
{
    learner_update *u = arg;
    helper *h = u->help;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->quit && h->posted == h->done) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->quit) {
            break;
        }
        pthread_mutex_unlock(&h->mu);
        local_gradient(u, &h->r, &h->batch, h->g_next, h->priorities, &h->loss);
        nn_qnet_backward(h->r.net, h->r.dq, h->batch.count);
        pthread_mutex_lock(&h->mu);
        h->done++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int helper_start(learner_update *u, shoal_err *err)
{
    helper *h = calloc(1, sizeof *h);
    if (!h) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner's helper thread");
    }
    u->help = h;
    /* The helper takes the smaller half of a split batch. */
    size_t half = u->cfg.net.max_batch / 2;
    nn_qnet_config rc = u->cfg.net;
    rc.max_batch = half ? half : 1;
    h->r.net = nn_qnet_new_replica(u->net, rc.max_batch, err);
    h->r.target = h->r.net ? nn_qnet_new_replica(u->target, rc.max_batch, err) : NULL;
    if (!h->r.target || replica_buffers(&h->r, &rc, err) != SHOAL_OK) {
        return err ? err->code : SHOAL_ENOMEM;
    }
    if (pthread_mutex_init(&h->mu, NULL) != 0 || pthread_cond_init(&h->cv, NULL) != 0) {
        return shoal_err_set(err, SHOAL_ENOMEM, "cannot create the learner's helper lock");
    }
    if (pthread_create(&h->thread, NULL, helper_main, u) != 0) {
        return shoal_err_set(err, SHOAL_ENOMEM, "cannot start the learner's helper thread "
                             "(learner.threads = %zu)", u->cfg.threads);
    }
    h->running = 1;
    return SHOAL_OK;
}

static void helper_stop(helper *h)
{
    if (!h) {
        return;
    }
    if (h->running) {
        pthread_mutex_lock(&h->mu);
        h->quit = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
    }
    nn_qnet_free(h->r.net);
    nn_qnet_free(h->r.target);
    replica_free_buffers(&h->r);
    free(h);
}

learner_update *learner_update_new(const learner_update_config *cfg, MPI_Comm comm,
                                   shoal_err *err)
{
    if (cfg->target_period < 1) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.target_period must be at least 1");
        return NULL;
    }
    if (cfg->mode == LEARNER_MODE_OFFLINE && !(cfg->bcq_threshold >= 0.0f &&
                                               cfg->bcq_threshold < 1.0f)) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.bcq_threshold = %g: must be in [0, 1) (at 1 "
                      "no action would pass G(a|s)/max G > τ)", (double)cfg->bcq_threshold);
        return NULL;
    }
    if (cfg->threads > 2) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.threads = %zu: a learner uses 1 or 2 threads "
                      "(run more learner ranks to use more cores)", cfg->threads);
        return NULL;
    }
    if (cfg->target_transform && !(cfg->transform_eps > 0.0f)) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.transform_eps must be > 0 with "
                      "learner.target_transform = apex (h⁻¹ needs ε > 0)");
        return NULL;
    }
    if (cfg->lambda_tc > 0.0f && cfg->threads > 1) {
        shoal_err_set(err, SHOAL_EINVAL, "learner.lambda_tc > 0 needs learner.threads = 1 (the "
                      "temporal-consistency pass runs on the whole batch in one thread)");
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
    if (cfg->lambda_tc > 0.0f &&
        !(u->grads_td = malloc(u->n_trainable * sizeof *u->grads_td))) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner's workspaces");
        goto fail;
    }
    u->main.net = u->net;
    u->main.target = u->target;
    if (replica_buffers(&u->main, &cfg->net, err) != SHOAL_OK) {
        goto fail;
    }
    if (cfg->threads > 1 && helper_start(u, err) != SHOAL_OK) {
        goto fail;
    }
    if (cfg->mode == LEARNER_MODE_OFFLINE) {
        size_t bka = cfg->net.max_batch * cfg->net.n_heads * cfg->net.n_actions;
        /* Its own initial weights: G and Q answer different questions. */
        nn_qnet_config gc = cfg->net;
        gc.seed = cfg->net.seed ^ 0x9e3779b97f4a7c15ull;
        u->behaviour = nn_qnet_new(&gc, err);
        u->behaviour_opt = u->behaviour ? nn_optim_new(&cfg->optim, u->n_trainable, err) : NULL;
        if (!u->behaviour_opt) {
            goto fail;
        }
        u->g = malloc(bka * sizeof *u->g);
        u->g_next = malloc(bka * sizeof *u->g_next);
        u->dg = malloc(bka * sizeof *u->dg);
        if (!u->g || !u->g_next || !u->dg) {
            shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the behaviour model's "
                          "workspaces (batch %zu)", cfg->net.max_batch);
            goto fail;
        }
    }
    if (cfg->rnd) {
        nn_optim_config oc = nn_optim_adam(cfg->rnd_cfg.lr);
        u->rnd = nn_rnd_new(&cfg->net, &cfg->rnd_cfg, cfg->net.max_batch, cfg->rnd_seed, err);
        u->rnd_opt = u->rnd ? nn_optim_new(&oc, nn_qnet_n_trainable(nn_rnd_predictor(u->rnd)),
                                           err)
                            : NULL;
        if (!u->rnd_opt) {
            goto fail;
        }
        u->rnd_sums = malloc((1 + 2 * nn_rnd_in_floats(u->rnd)) * sizeof *u->rnd_sums);
        if (!u->rnd_sums) {
            shoal_err_set(err, SHOAL_ENOMEM, "out of memory for RND's workspaces");
            goto fail;
        }
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
    /* The helper's replicas read the networks' parameters: they go first. */
    helper_stop(u->help);
    nn_qnet_free(u->net);
    nn_qnet_free(u->target);
    nn_optim_free(u->opt);
    replica_free_buffers(&u->main);
    nn_qnet_free(u->behaviour);
    nn_optim_free(u->behaviour_opt);
    nn_rnd_free(u->rnd);
    nn_optim_free(u->rnd_opt);
    free(u->rnd_sums);
    free(u->grads_td);
    free(u);
}

int learner_update_sync(learner_update *u, shoal_err *err)
{
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        return SHOAL_OK;
    }
    size_t n_state = 0, n_bstate = 0;
    float *state = nn_optim_state(u->opt, &n_state);
    float *bstate = u->behaviour ? nn_optim_state(u->behaviour_opt, &n_bstate) : NULL;
    uint64_t counts[3] = {u->steps, nn_optim_steps(u->opt),
                          u->behaviour ? nn_optim_steps(u->behaviour_opt) : 0};
    struct {
        float *buf;
        size_t n;
        const char *what;
    } parts[] = {
        {nn_qnet_params(u->net), nn_qnet_n_params(u->net), "parameters"},
        {nn_qnet_params(u->target), nn_qnet_n_params(u->target), "target parameters"},
        {state, n_state, "optimizer state"},
        {u->behaviour ? nn_qnet_params(u->behaviour) : NULL,
         u->behaviour ? nn_qnet_n_params(u->behaviour) : 0, "behaviour model"},
        {bstate, n_bstate, "behaviour model's optimizer state"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].n == 0) {
            continue;
        }
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
    int rc = MPI_Bcast(counts, 3, MPI_UINT64_T, 0, u->comm);
    if (rc != MPI_SUCCESS) {
        return mpi_fail(err, rc, "update counts");
    }
    u->steps = counts[0];
    nn_optim_set_steps(u->opt, counts[1]);
    if (u->behaviour) {
        nn_optim_set_steps(u->behaviour_opt, counts[2]);
    }
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

/* Starts the sum over ranks of grads[first .. end) in place. */
static void sync_start(learner_update *u, size_t first, size_t end)
{
    grad_sync *g = &u->sync;
    if (g->rc != MPI_SUCCESS || end == first) {
        return;
    }
    /* MPI counts are int: the MinAtar network is ~2^17 floats, far below 2^31. */
    float *grads = nn_qnet_grads(u->net);
    if (!g->overlap) {
        g->rc = MPI_Allreduce(MPI_IN_PLACE, grads + first, (int)(end - first), MPI_FLOAT, MPI_SUM,
                              u->comm);
        return;
    }
    g->rc = MPI_Iallreduce(MPI_IN_PLACE, grads + first, (int)(end - first), MPI_FLOAT, MPI_SUM,
                           u->comm, &g->req[g->n_req]);
    if (g->rc == MPI_SUCCESS) {
        g->n_req++;
    }
}

/* nn_grads_ready_fn of the backward pass: grads[first ..) are final. Adds the L2 gradient to
 * the newly finished layers (every rank adds it before the sum, as one all-reduce after the
 * backward did), and starts their all-reduce once they make a bucket worth sending, while the
 * earlier layers are still being differentiated. OpenMPI moves a non-blocking collective's
 * data only inside MPI calls, so each layer also gives the buckets in flight a turn. */
static void grads_ready(void *ctx, size_t first)
{
    learner_update *u = ctx;
    grad_sync *g = &u->sync;
    if (u->cfg.l2 > 0.0f) {
        g->l2 += nn_loss_l2(nn_qnet_grads(u->net) + first, nn_qnet_params(u->net) + first,
                            g->l2_from - first, u->cfg.l2);
    }
    g->l2_from = first;
    if (u->comm == MPI_COMM_NULL || u->size == 1 || !g->overlap) {
        return;
    }
    if (g->n_req > 0 && g->rc == MPI_SUCCESS) {
        int flag;
        g->rc = MPI_Testall(g->n_req, g->req, &flag, MPI_STATUSES_IGNORE);
    }
    if (g->end - first >= BUCKET_MIN_FLOATS || first == 0) {
        sync_start(u, first, g->end);
        g->end = first;
    }
}

static void sync_begin(learner_update *u)
{
    grad_sync *g = &u->sync;
    g->n_req = 0;
    g->end = u->n_trainable;
    g->l2_from = u->n_trainable;
    g->l2 = 0.0f;
    g->rc = MPI_SUCCESS;
    g->overlap = u->cfg.allreduce_overlap && u->comm != MPI_COMM_NULL && u->size > 1 &&
                 !u->grads_td;
}

/* Ends the all-reduce of this step and scales the sum by 1/R: the gradient of the mean loss
 * over the global batch when every rank holds an equal share. */
static int sync_finish(learner_update *u, shoal_err *err)
{
    grad_sync *g = &u->sync;
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        return SHOAL_OK;
    }
    if (!g->overlap) {
        sync_start(u, 0, u->n_trainable);
    } else if (g->rc == MPI_SUCCESS && g->n_req > 0) {
        g->rc = MPI_Waitall(g->n_req, g->req, MPI_STATUSES_IGNORE);
    }
    if (g->rc != MPI_SUCCESS) {
        return mpi_fail(err, g->rc, "gradient all-reduce");
    }
    float *grads = nn_qnet_grads(u->net);
    float scale = 1.0f / (float)u->size;
    for (size_t i = 0; i < u->n_trainable; i++) {
        grads[i] *= scale;
    }
    return SHOAL_OK;
}

/* OFFLINE: the behaviour model's gradient summed over the ranks (one blocking all-reduce, in
 * place) and scaled by 1/R, as the Q-network's. */
static int allreduce_behaviour(learner_update *u, shoal_err *err)
{
    if (u->comm == MPI_COMM_NULL || u->size == 1) {
        return SHOAL_OK;
    }
    float *grads = nn_qnet_grads(u->behaviour);
    int rc = MPI_Allreduce(MPI_IN_PLACE, grads, (int)u->n_trainable, MPI_FLOAT, MPI_SUM,
                           u->comm);
    if (rc != MPI_SUCCESS) {
        return mpi_fail(err, rc, "behaviour model's gradient all-reduce");
    }
    float scale = 1.0f / (float)u->size;
    for (size_t i = 0; i < u->n_trainable; i++) {
        grads[i] *= scale;
    }
    return SHOAL_OK;
}

/* RND: the normaliser takes the batch's observations (moments summed over the ranks, so every
 * rank keeps the same statistics), then the predictor one Adam step on its error there,
 * its gradient averaged over the ranks as the Q-network's. Returns this rank's loss. */
static int rnd_step(learner_update *u, const learner_batch *b, float *loss, shoal_err *err)
{
    nn_qnet *p = nn_rnd_predictor(u->rnd);
    size_t n_sums = 1 + 2 * nn_rnd_in_floats(u->rnd), n_grads = nn_qnet_n_trainable(p);
    nn_rnd_moments(u->rnd, b->obs, b->count, u->rnd_sums);
    bool many = u->comm != MPI_COMM_NULL && u->size > 1;
    if (many) {
        int rc = MPI_Allreduce(MPI_IN_PLACE, u->rnd_sums, (int)n_sums, MPI_DOUBLE, MPI_SUM,
                               u->comm);
        if (rc != MPI_SUCCESS) {
            return mpi_fail(err, rc, "RND normaliser's all-reduce");
        }
    }
    nn_rnd_observe(u->rnd, u->rnd_sums);
    *loss = nn_rnd_gradient(u->rnd, b->obs, b->count);
    float *grads = nn_qnet_grads(p);
    if (many) {
        int rc = MPI_Allreduce(MPI_IN_PLACE, grads, (int)n_grads, MPI_FLOAT, MPI_SUM, u->comm);
        if (rc != MPI_SUCCESS) {
            return mpi_fail(err, rc, "RND predictor's gradient all-reduce");
        }
        float scale = 1.0f / (float)u->size;
        for (size_t i = 0; i < n_grads; i++) {
            grads[i] *= scale;
        }
    }
    nn_optim_step(u->rnd_opt, nn_qnet_params(p), grads);
    return SHOAL_OK;
}

/* Ape-X DQfD's temporal-consistency term, after the TD pass's backward: the online net forwards
 * s' again keeping its activations, and the TC gradient through Q(s', ·) is added to the TD
 * pass's (backward overwrites grads, so those wait in grads_td). Uses the learner's own
 * workspaces (one thread: learner_update_new refuses TC with threads = 2), whose q_next_tgt
 * the TD pass left. Returns λ_TC · L_TC. */
static float add_tc_gradient(learner_update *u, const learner_batch *b, const nn_loss_dims *d)
{
    replica *r = &u->main;
    float *grads = nn_qnet_grads(u->net);
    memcpy(u->grads_td, grads, u->n_trainable * sizeof *grads);
    nn_qnet_forward_train(u->net, b->next_obs, d->batch, r->q_next);
    float tc = nn_loss_tc(r->dq, r->q_next, r->q_next_tgt, b->mask, b->weight, d,
                          u->cfg.lambda_tc);
    nn_qnet_backward(u->net, r->dq, d->batch);
    for (size_t i = 0; i < u->n_trainable; i++) {
        grads[i] += u->grads_td[i];
    }
    return tc;
}

/* OFFLINE: trains the behaviour model G on the batch's actions (its gradient in G's grads) and
 * leaves its logits on s' in g_next for the restricted targets. Returns its cross-entropy. */
static float behaviour_gradient(learner_update *u, const learner_batch *b, const nn_loss_dims *d)
{
    nn_qnet_forward_train(u->behaviour, b->obs, b->count, u->g);
    float ce = nn_loss_xent(u->dg, NULL, u->g, b->action, b->weight, d, 1.0f);
    nn_qnet_backward(u->behaviour, u->dg, b->count);
    nn_qnet_forward(u->behaviour, b->next_obs, b->count, u->g_next);
    return ce;
}

/* Forward passes and the loss terms on r: r->dq holds dL/dQ of b after, for the backward.
 * g_next: the behaviour model's logits on b's s' (OFFLINE; else NULL). */
static void local_gradient(const learner_update *u, replica *r, const learner_batch *b,
                           const float *g_next, float *priorities, learner_loss *loss)
{
    size_t B = b->count;
    nn_loss_dims d = {.batch = B, .n_heads = u->n_heads, .n_actions = u->n_actions};
    nn_qnet_forward_train(r->net, b->obs, B, r->q);
    loss->td = 0.0f;
    loss->bc = 0.0f;
    loss->tc = 0.0f;
    if (u->cfg.mode == LEARNER_MODE_BC) {
        /* The per-sample cross-entropy is the priority: hard demonstrations come back often. */
        loss->bc = nn_loss_xent(r->dq, priorities, r->q, b->action, b->weight, &d, 1.0f);
    } else {
        if (u->cfg.double_q) {
            nn_qnet_forward(r->net, b->next_obs, B, r->q_next);
        }
        nn_qnet_forward(r->target, b->next_obs, B, r->q_next_tgt);
        /* Ape-X DQfD: y = h(R + C h⁻¹(Q̄)); h⁻¹ is increasing, so no argmax changes */
        const float *boot = r->q_next_tgt;
        if (u->cfg.target_transform) {
            nn_value_h_inv_n(r->q_boot, r->q_next_tgt, B * u->n_heads * u->n_actions,
                             u->cfg.transform_eps);
            boot = r->q_boot;
        }
        nn_loss_targets_bcq(r->y, u->cfg.double_q ? r->q_next : NULL, boot, g_next,
                            u->cfg.bcq_threshold, b->reward, b->discount, &d, u->cfg.double_q);
        if (u->cfg.target_transform) {
            nn_value_h_n(r->y, r->y, B * u->n_heads, u->cfg.transform_eps);
        }
        nn_td_batch tb = {.dims = d, .actions = b->action, .targets = r->y,
                          .mask_bits = b->mask, .weights = b->weight};
        loss->td = nn_loss_td(r->dq, priorities, r->q, &tb);
    }
    loss->margin = 0.0f;
    loss->n_demo = 0;
    if (b->demo) {
        for (size_t i = 0; i < B; i++) {
            loss->n_demo += b->demo[i] != 0;
        }
    }
    if (loss->n_demo > 0 && u->cfg.lambda_demo > 0.0f && u->cfg.mode != LEARNER_MODE_BC) {
        loss->margin = nn_loss_margin(r->dq, r->q, b->action, b->demo, b->weight, &d,
                                      u->cfg.margin, u->cfg.lambda_demo);
    }
    loss->l2 = 0.0f;
}

/* Samples [from, from + n) of b, every column shifted alike. */
static learner_batch batch_part(const learner_batch *b, size_t from, size_t n, size_t in_floats)
{
    learner_batch p = *b;
    p.count = n;
    p.obs = b->obs + from * in_floats;
    p.next_obs = b->next_obs + from * in_floats;
    p.action = b->action + from;
    p.reward = b->reward + from;
    p.discount = b->discount + from;
    p.mask = b->mask ? b->mask + from : NULL;
    p.weight = b->weight ? b->weight + from : NULL;
    p.demo = b->demo ? b->demo + from : NULL;
    return p;
}

/* This rank's gradient of its share b into the online network's grads, the all-reduce started
 * (or, in two threads, about to be). One thread: the backward pass starts the buckets of the
 * all-reduce as it finishes layers. Two threads: the helper computes the gradient of the last
 * n1 samples while this thread computes the first n0, and the two mean-loss gradients are
 * combined as (n0 g0 + n1 g1) / B, the gradient of the mean over all B (to float rounding); the
 * all-reduce follows in one bucket. */
static void rank_gradient(learner_update *u, const learner_batch *b, float *priorities,
                          learner_loss *loss)
{
    size_t B = b->count;
    helper *h = u->help;
    nn_loss_dims d = {.batch = B, .n_heads = u->n_heads, .n_actions = u->n_actions};
    /* The behaviour model learns from the whole batch first: its logits on s' restrict both
     * threads' targets. */
    float behaviour_ce = u->behaviour ? behaviour_gradient(u, b, &d) : 0.0f;
    size_t ka = u->n_heads * u->n_actions;
    if (u->grads_td) {
        /* TC adds a second pass's gradient after the backward: the all-reduce waits for it
         * (sync_begin turns the overlap off), then L2 goes on the whole buffer. */
        local_gradient(u, &u->main, b, u->behaviour ? u->g_next : NULL, priorities, loss);
        nn_qnet_backward(u->net, u->main.dq, B);
        loss->tc = add_tc_gradient(u, b, &d);
        grads_ready(u, 0);
    } else if (!h || B < SPLIT_MIN_BATCH) {
        local_gradient(u, &u->main, b, u->behaviour ? u->g_next : NULL, priorities, loss);
        nn_qnet_backward_notify(u->net, u->main.dq, B, grads_ready, u);
    } else {
        size_t n1 = B / 2, n0 = B - n1;
        size_t in = nn_qnet_in_floats(u->net);
        pthread_mutex_lock(&h->mu);
        h->batch = batch_part(b, n0, n1, in);
        h->priorities = priorities + n0;
        h->g_next = u->behaviour ? u->g_next + n0 * ka : NULL;
        h->posted++;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        learner_batch mine = batch_part(b, 0, n0, in);
        local_gradient(u, &u->main, &mine, u->behaviour ? u->g_next : NULL, priorities, loss);
        nn_qnet_backward(u->net, u->main.dq, n0);
        pthread_mutex_lock(&h->mu);
        while (h->done != h->posted) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        pthread_mutex_unlock(&h->mu);
        float w0 = (float)n0 / (float)B, w1 = (float)n1 / (float)B;
        float *g0 = nn_qnet_grads(u->net);
        const float *g1 = nn_qnet_grads(h->r.net);
        for (size_t i = 0; i < u->n_trainable; i++) {
            g0[i] = w0 * g0[i] + w1 * g1[i];
        }
        loss->td = w0 * loss->td + w1 * h->loss.td;
        loss->margin = w0 * loss->margin + w1 * h->loss.margin;
        loss->bc = w0 * loss->bc + w1 * h->loss.bc;
        loss->n_demo += h->loss.n_demo;
        grads_ready(u, 0);
    }
    if (u->behaviour) {
        loss->bc = behaviour_ce;
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
    sync_begin(u);
    rank_gradient(u, b, priorities, &local);
    local.l2 = u->sync.l2;
    uint64_t t1 = clock_now_ns();
    rc = sync_finish(u, err);
    if (rc == SHOAL_OK && u->behaviour) {
        rc = allreduce_behaviour(u, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    uint64_t t2 = clock_now_ns();
    nn_optim_step(u->opt, nn_qnet_params(u->net), nn_qnet_grads(u->net));
    if (u->behaviour) {
        nn_optim_step(u->behaviour_opt, nn_qnet_params(u->behaviour),
                      nn_qnet_grads(u->behaviour));
    }
    local.rnd = 0.0f;
    if (u->rnd) {
        rc = rnd_step(u, b, &local.rnd, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
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
    if (u->behaviour) {
        const float *bstate = nn_optim_state(u->behaviour_opt, &n_state);
        crc = crc32c_update(crc, nn_qnet_params(u->behaviour),
                            nn_qnet_n_params(u->behaviour) * sizeof(float));
        crc = crc32c_update(crc, bstate, n_state * sizeof(float));
    }
    if (u->rnd) {
        nn_qnet *p = nn_rnd_predictor(u->rnd);
        crc = crc32c_update(crc, nn_qnet_params(p), nn_qnet_n_params(p) * sizeof(float));
    }
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

nn_qnet *learner_update_behaviour(const learner_update *u)
{
    return u->behaviour;
}

nn_rnd *learner_update_rnd(const learner_update *u)
{
    return u->rnd;
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
    return nn_paramfile_sibling_path(path, TARGET_EXT, out, cap, err);
}

int learner_update_save(const learner_update *u, const char *path, uint64_t frames,
                        shoal_err *err)
{
    char tpath[4096];
    int rc = learner_update_target_path(path, tpath, sizeof tpath, err);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_save(tpath, u->target, NULL, u->steps, frames, err);
    }
    if (rc == SHOAL_OK && u->behaviour) {
        char bpath[4096];
        rc = nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, bpath, sizeof bpath,
                                       err);
        if (rc == SHOAL_OK) {
            rc = nn_paramfile_save(bpath, u->behaviour, u->behaviour_opt, u->steps, frames, err);
        }
    }
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_save(path, u->net, u->opt, u->steps, frames, err);
    }
    return rc;
}

static void copy_optim(nn_optim *dst, const nn_optim *src)
{
    size_t n_dst = 0, n_src = 0;
    float *d = nn_optim_state(dst, &n_dst);
    const float *s = nn_optim_state(src, &n_src);
    memcpy(d, s, n_dst * sizeof *d);
    nn_optim_set_steps(dst, nn_optim_steps(src));
}

/* Loads the file of checkpoint path's step beside it (ext: TARGET_EXT,
 * NN_PARAMFILE_BEHAVIOUR_EXT) into net (and opt when not NULL). */
static int load_beside(const char *path, const char *ext, const char *what, nn_qnet *net,
                       nn_optim *opt, uint64_t step, shoal_err *err)
{
    char side[4096];
    uint64_t side_step = 0;
    int rc = nn_paramfile_sibling_path(path, ext, side, sizeof side, err);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_load(side, net, opt, &side_step, NULL, err);
    }
    if (rc == SHOAL_ENOTFOUND) {
        shoal_err_prefix(err, "%s has no %s beside it", path, what);
    }
    if (rc == SHOAL_OK && side_step != step) {
        rc = shoal_err_set(err, SHOAL_ECORRUPT, "%s is step %llu but %s beside it is step "
                           "%llu: the pair is not from one checkpoint", path,
                           (unsigned long long)step, side, (unsigned long long)side_step);
    }
    return rc;
}

int learner_update_load(learner_update *u, const char *path, uint64_t *frames, shoal_err *err)
{
    /* Load into scratch networks first so that a bad file leaves u unchanged. */
    nn_qnet *net = nn_qnet_new(&u->cfg.net, err);
    nn_qnet *target = net ? nn_qnet_new(&u->cfg.net, err) : NULL;
    nn_optim *opt = target ? nn_optim_new(&u->cfg.optim, u->n_trainable, err) : NULL;
    nn_qnet *beh = NULL;
    nn_optim *bopt = NULL;
    if (opt && u->behaviour) {
        beh = nn_qnet_new(nn_qnet_config_of(u->behaviour), err);
        bopt = beh ? nn_optim_new(&u->cfg.optim, u->n_trainable, err) : NULL;
    }
    uint64_t step = 0, fr = 0;
    int rc = opt && (!u->behaviour || bopt) ? SHOAL_OK : (err ? err->code : SHOAL_ENOMEM);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_load(path, net, opt, &step, &fr, err);
    }
    if (rc == SHOAL_OK) {
        rc = load_beside(path, TARGET_EXT, "target network (written by another program?)",
                         target, NULL, step, err);
    }
    if (rc == SHOAL_OK && beh) {
        rc = load_beside(path, NN_PARAMFILE_BEHAVIOUR_EXT, "behaviour model (learner.mode = "
                         "offline resumes only offline checkpoints)", beh, bopt, step, err);
    }
    if (rc == SHOAL_OK) {
        if (beh) {
            copy_optim(u->behaviour_opt, bopt);
            nn_qnet_copy_params(u->behaviour, beh, NULL);
        }
        copy_optim(u->opt, opt);
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
    nn_qnet_free(beh);
    nn_optim_free(bopt);
    return rc;
}

int learner_update_init_from(learner_update *u, const char *path, shoal_err *err)
{
    nn_qnet *net = nn_qnet_new(&u->cfg.net, err);
    nn_qnet *beh = net && u->behaviour ? nn_qnet_new(nn_qnet_config_of(u->behaviour), err)
                                       : NULL;
    int rc = net && (!u->behaviour || beh) ? SHOAL_OK : (err ? err->code : SHOAL_ENOMEM);
    if (rc == SHOAL_OK) {
        rc = nn_paramfile_load(path, net, NULL, NULL, NULL, err);
        if (rc != SHOAL_OK) {
            shoal_err_prefix(err, "learner.init_from");
        }
    }
    bool with_behaviour = false;
    if (rc == SHOAL_OK && beh) {
        char bpath[4096];
        rc = nn_paramfile_sibling_path(path, NN_PARAMFILE_BEHAVIOUR_EXT, bpath, sizeof bpath,
                                       err);
        if (rc == SHOAL_OK) {
            rc = nn_paramfile_load(bpath, beh, NULL, NULL, NULL, err);
            with_behaviour = rc == SHOAL_OK;
            if (rc == SHOAL_ENOTFOUND) {
                rc = SHOAL_OK; /* G then learns from scratch */
            }
        }
    }
    if (rc == SHOAL_OK) {
        nn_qnet_copy_params(u->net, net, NULL);
        nn_qnet_copy_params(u->target, net, NULL);
        if (with_behaviour) {
            nn_qnet_copy_params(u->behaviour, beh, NULL);
        }
        u->steps = 0;
    }
    nn_qnet_free(net);
    nn_qnet_free(beh);
    return rc;
}
