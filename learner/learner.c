#include "learner/learner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/endpoints.h"
#include "common/log.h"
#include "common/obs.h"
#include "learner/checkpoint.h"
#include "learner/params.h"
#include "nn/nn_config.h"
#include "nn/paramfile.h"
#include "tb/writer.h"

const config_key learner_config_keys[] = {
    {"learner", "batch_size", CONFIG_INT, "32", 1, 65536, NULL,
     "global batch per update, split evenly over the learner ranks"},
    {"learner", "optimizer", CONFIG_ENUM, "adam", 0, 0, "adam|rmsprop",
     "adam (project default) or centered RMSProp as the MinAtar reference"},
    {"learner", "lr", CONFIG_FLOAT, "1e-4", 0, 1, NULL, "learning rate"},
    {"learner", "adam_eps", CONFIG_FLOAT, "3.125e-4", 0, 1, NULL,
     "Adam ε (0.01/32, Revisiting Rainbow on MinAtar)"},
    {"learner", "rms_decay", CONFIG_FLOAT, "0.95", 0, 1, NULL, "RMSProp decay α"},
    {"learner", "rms_eps", CONFIG_FLOAT, "0.01", 0, 1, NULL, "RMSProp ε (outside the root)"},
    {"learner", "double_q", CONFIG_BOOL, "true", 0, 0, NULL,
     "double DQN targets (online argmax, target value) instead of the target's max"},
    {"learner", "target_period", CONFIG_INT, "1000", 1, 1e12, NULL,
     "copy the target network every this many updates (unit: learner updates)"},
    {"learner", "lambda_demo", CONFIG_FLOAT, "1.0", 0, 1e6, NULL,
     "λ_E, weight of the DQfD large-margin loss on demonstration samples (0: off)"},
    {"learner", "margin", CONFIG_FLOAT, "0.8", 0, 1e6, NULL,
     "DQfD margin l(a_E, a) for a != a_E"},
    {"learner", "l2", CONFIG_FLOAT, "0", 0, 1, NULL,
     "L2 weight λ of Σθ² (DQfD uses 1e-5; 0: off)"},
    {"learner", "target_transform", CONFIG_ENUM, "none", 0, 0, "none|apex",
     "none: y = R + γ^n Q̄(s', a*); apex: Ape-X DQfD's transformed operator "
     "y = h(R + γ^n h⁻¹(Q̄(s', a*))), h(z) = sign(z)(sqrt(|z| + 1) - 1) + εz"},
    {"learner", "transform_eps", CONFIG_FLOAT, "0.01", 1e-6, 1, NULL,
     "ε of the Ape-X transform h (the paper's 1e-2)"},
    {"learner", "lambda_tc", CONFIG_FLOAT, "0", 0, 1e6, NULL,
     "weight of Ape-X DQfD's temporal-consistency loss huber(Q(s', a') - Q̄(s', a')), a' the "
     "online argmax (0: off; the paper uses 1 with target_transform = apex)"},
    {"learner", "pretrain_steps", CONFIG_INT, "0", 0, 1e12, NULL,
     "DQfD pre-training: updates on demonstrations only before agent data is sampled"},
    {"learner", "beta_anneal_updates", CONFIG_INT, "0", 0, 1e15, NULL,
     "raise the importance-sampling exponent from replay.beta linearly to 1 over this many "
     "updates, then keep 1 (prioritized replay's annealing; 0: replay.beta throughout)"},
    {"learner", "max_updates", CONFIG_INT, "0", 0, 1e15, NULL,
     "stop after this many updates (0: until stopped); with cluster.actors = 0 this or "
     "run.max_seconds ends the run"},
    {"learner", "mode", CONFIG_ENUM, "rl", 0, 0, "rl|bc|offline",
     "rl: double-DQN TD loss (+ DQfD margin on demonstrations); bc: behaviour cloning, softmax "
     "cross-entropy of the Q values on demonstrations only, no TD loss; offline: discrete BCQ "
     "on fixed data (a behaviour model beside the Q-network restricts the target's argmax and "
     "the evaluator's actions to actions the data takes); docs/guide.md"},
    {"learner", "bcq_threshold", CONFIG_FLOAT, "0.3", 0, 0.999, NULL,
     "offline: τ of discrete BCQ; an action is allowed when G(a|s)/max_a G(a|s) > τ (0: every "
     "action, plain DQN); the evaluator applies it to checkpoints with a .behaviour file"},
    {"learner", "init_from", CONFIG_STRING, "", 0, 0, NULL,
     "start from this checkpoint's parameters (pretrain, then finetune): same architecture, "
     "step 0, fresh optimizer; ignored when the run folder has checkpoints to resume"},
    {"learner", "publish_period", CONFIG_INT, "50", 1, 1e12, NULL,
     "rank 0 publishes Params every this many updates"},
    {"learner", "publish_repeat_secs", CONFIG_FLOAT, "1.0", 0.01, 3600, NULL,
     "republish the latest Params this often for subscribers that joined late"},
    {"learner", "checkpoint_period", CONFIG_INT, "10000", 1, 1e12, NULL,
     "write RUN_DIR/checkpoints/step-<N>.ckpt every this many updates"},
    {"learner", "keep_checkpoints", CONFIG_INT, "5", 1, 1e6, NULL,
     "newest checkpoints kept; older ones are deleted"},
    {"learner", "checksum_period", CONFIG_INT, "100", 1, 1e12, NULL,
     "compare a parameter checksum across ranks (and agree on stopping) this often"},
    {"learner", "metrics_secs", CONFIG_FLOAT, "5", 0.01, 3600, NULL,
     "append a row to RUN_DIR/metrics.csv this often (and one when the run stops; columns: "
     "docs/formats.md)"},
    {"learner", "prefetch_depth", CONFIG_INT, "4", 1, 64, NULL,
     "decoded batches buffered ahead of the update loop"},
    {"learner", "pipeline", CONFIG_INT, "2", 1, 64, NULL,
     "sample requests in flight at once (at most prefetch_depth)"},
    {"learner", "threads", CONFIG_INT, "1", 1, 2, NULL,
     "threads of one learner rank: 2 splits each batch between two threads (forward, loss and "
     "backward; docs/architecture.md), for a core the actors leave idle"},
    {"learner", "allreduce_overlap", CONFIG_BOOL, "true", 0, 0, NULL,
     "with several learner ranks, all-reduce each layer's gradients as the backward pass "
     "finishes them (false: one all-reduce after the backward pass; same result)"},
    {"learner", "stop_grace_secs", CONFIG_FLOAT, "30", 0, 3600, NULL,
     "a stopping rank that waits this long for replay fails (its peers are blocked)"},
    CONFIG_KEY_END,
};

struct learner {
    learner_config cfg;
    learner_update *u;
    learner_prefetch *pf;
    void *zmq_ctx;
    learner_params_pub *pub;
    char params_endpoint[LEARNER_ENDPOINT_MAX];
    FILE *metrics;
    MPI_Comm comm;
    int rank, size;
    uint64_t frames;           /* from the checkpoint, then the shards' Stats */
    uint64_t last_ckpt;
    double wait_s;
    double t0_s;               /* when learner_new began: metrics.csv's time_s counts from it */
    /* metrics accumulated since the last row */
    double next_metrics_s, next_repeat_s, row_t0_s;
    uint64_t row_step0;
    double row_wait_s;
    double sum_td, sum_margin, sum_bc, sum_l2, sum_tc, sum_abs_td, sum_demo, sum_rnd;
    uint64_t row_updates;
    uint64_t last_episodes;
    double last_return_sum, last_intrinsic_sum;
    uint64_t last_labels, last_label_ns, last_expert_steps; /* DAgger counters at the last row */
    /* TensorBoard (rank 0; NULL: off): each metrics row as scalars, and a histogram of the
     * newest LEARNER_TB_PRIORITIES priorities this rank computed since the last row */
    tb_writer *tb;
    float *tb_prio;
    size_t tb_prio_n, tb_prio_at;
};

#define LEARNER_TB_PRIORITIES 4096

static int parse_endpoints(const char *list, learner_config *out, shoal_err *err)
{
    return endpoints_split(list, &out->replay[0][0], LEARNER_MAX_SHARDS, LEARNER_ENDPOINT_MAX,
                           &out->n_shards, err);
}

static int optim_from(const config *c, nn_optim_config *o, shoal_err *err)
{
    float lr = (float)config_float(c, "learner", "lr");
    if (strcmp(config_str(c, "learner", "optimizer"), "adam") == 0) {
        *o = nn_optim_adam(lr);
        o->eps = (float)config_float(c, "learner", "adam_eps");
    } else {
        *o = nn_optim_rmsprop(lr);
        o->decay = (float)config_float(c, "learner", "rms_decay");
        o->eps = (float)config_float(c, "learner", "rms_eps");
    }
    if (!(lr > 0.0f)) {
        return shoal_err_set(err, SHOAL_EINVAL, "learner.lr = %g: must be positive", (double)lr);
    }
    return SHOAL_OK;
}

int learner_config_from(const config *c, uint32_t rank, const char *replay, const char *run_dir,
                        const char *params_bind, learner_config *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = parse_endpoints(replay, out, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    if (strlen(run_dir) >= sizeof out->run_dir ||
        strlen(params_bind) >= sizeof out->params_bind) {
        return shoal_err_set(err, SHOAL_EINVAL, "run directory or params endpoint too long");
    }
    snprintf(out->run_dir, sizeof out->run_dir, "%s", run_dir);
    snprintf(out->params_bind, sizeof out->params_bind, "%s", params_bind);
    obs_facts facts;
    rc = obs_facts_from_config(c, &facts, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->obs = facts.obs;
    out->seed = (uint64_t)config_int(c, "run", "seed");
    out->rank = rank;
    out->batch_size = (size_t)config_int(c, "learner", "batch_size");
    obs_shape s = facts.obs.shape;
    rc = nn_qnet_config_from(c, s.h, s.w, s.c, facts.n_actions, out->batch_size, out->seed,
                             &out->update.net, err);
    if (rc == SHOAL_OK) {
        rc = optim_from(c, &out->update.optim, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    out->update.double_q = config_bool(c, "learner", "double_q");
    out->update.margin = (float)config_float(c, "learner", "margin");
    out->update.lambda_demo = (float)config_float(c, "learner", "lambda_demo");
    out->update.l2 = (float)config_float(c, "learner", "l2");
    out->update.target_transform =
        strcmp(config_str(c, "learner", "target_transform"), "apex") == 0;
    out->update.transform_eps = (float)config_float(c, "learner", "transform_eps");
    out->update.lambda_tc = (float)config_float(c, "learner", "lambda_tc");
    out->update.target_period = (uint64_t)config_int(c, "learner", "target_period");
    const char *mode = config_str(c, "learner", "mode");
    out->update.mode = strcmp(mode, "bc") == 0        ? LEARNER_MODE_BC
                       : strcmp(mode, "offline") == 0 ? LEARNER_MODE_OFFLINE
                                                      : LEARNER_MODE_RL;
    out->update.bcq_threshold = (float)config_float(c, "learner", "bcq_threshold");
    const char *init_from = config_str(c, "learner", "init_from");
    if (strlen(init_from) >= sizeof out->init_from) {
        return shoal_err_set(err, SHOAL_EINVAL, "learner.init_from: path too long");
    }
    snprintf(out->init_from, sizeof out->init_from, "%s", init_from);
    out->update.threads = (size_t)config_int(c, "learner", "threads");
    out->update.rnd = nn_rnd_wanted(c);
    out->update.rnd_seed = out->seed;
    if (out->update.rnd) {
        rc = nn_rnd_config_from(c, &out->update.rnd_cfg, err);
        if (rc != SHOAL_OK) {
            return rc;
        }
    }
    out->update.allreduce_overlap = config_bool(c, "learner", "allreduce_overlap");
    out->sample = (replay_sample_req){.batch_size = out->batch_size,
                                      .demo_fraction = config_float(c, "replay", "demo_fraction"),
                                      .beta = config_float(c, "replay", "beta"),
                                      .mixed = config_bool(c, "replay", "mixed")};
    out->publish_period = (uint64_t)config_int(c, "learner", "publish_period");
    out->publish_repeat_secs = config_float(c, "learner", "publish_repeat_secs");
    out->checkpoint_period = (uint64_t)config_int(c, "learner", "checkpoint_period");
    out->keep_checkpoints = (uint64_t)config_int(c, "learner", "keep_checkpoints");
    out->checksum_period = (uint64_t)config_int(c, "learner", "checksum_period");
    out->pretrain_steps = (uint64_t)config_int(c, "learner", "pretrain_steps");
    out->max_updates = (uint64_t)config_int(c, "learner", "max_updates");
    /* The one [actor] key a learner reads: with DAgger's labellers, a behaviour-cloning learner
     * starts with no demonstrations and must pace the actors. Read only where the actor's keys
     * are in the schema (shoal's own; a learner-only test config has none). */
    out->await_labels = config_is_set(c, "actor", "label") &&
                        config_str(c, "actor", "label")[0] != '\0';
    out->beta_anneal_updates = (uint64_t)config_int(c, "learner", "beta_anneal_updates");
    out->metrics_secs = config_float(c, "learner", "metrics_secs");
    out->prefetch_depth = (size_t)config_int(c, "learner", "prefetch_depth");
    out->pipeline = (size_t)config_int(c, "learner", "pipeline");
    out->stop_grace_secs = config_float(c, "learner", "stop_grace_secs");
    if (out->pipeline > out->prefetch_depth) {
        return shoal_err_set(err, SHOAL_EINVAL, "learner.pipeline = %zu exceeds "
                             "learner.prefetch_depth = %zu: every request needs a buffer",
                             out->pipeline, out->prefetch_depth);
    }
    return SHOAL_OK;
}

/* ---- checkpoints ---- */

static int write_checkpoint(learner *l, shoal_err *err)
{
    int rc = learner_checkpoint_write(l->cfg.run_dir, l->u, l->frames, l->cfg.keep_checkpoints,
                                      err);
    if (rc == SHOAL_OK) {
        l->last_ckpt = learner_update_steps(l->u);
    }
    return rc;
}

/* ---- start-up ---- */

/* Rank 0: loads the newest checkpoint when there is one, else learner.init_from when set (a
 * finetuning run that restarts continues from its own checkpoints, not from the start). */
static int resume(learner *l, shoal_err *err)
{
    int rc = SHOAL_OK;
    if (l->cfg.run_dir[0]) {
        rc = learner_checkpoint_resume(l->cfg.run_dir, l->u, &l->frames, err);
    }
    if (rc == SHOAL_OK && l->cfg.init_from[0] && learner_update_steps(l->u) == 0) {
        rc = learner_update_init_from(l->u, l->cfg.init_from, err);
        if (rc == SHOAL_OK) {
            log_info("starting from the parameters of %s (learner.init_from)", l->cfg.init_from);
        }
    }
    return rc;
}

static int write_endpoints(const learner *l, shoal_err *err)
{
    endpoint_file ep = {.n_replay = l->cfg.n_shards};
    for (size_t i = 0; i < l->cfg.n_shards; i++) {
        snprintf(ep.replay[i], sizeof ep.replay[i], "%s", l->cfg.replay[i]);
    }
    snprintf(ep.params, sizeof ep.params, "%s", l->params_endpoint);
    char path[FILEIO_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/endpoints.json", l->cfg.run_dir) >= (int)sizeof path) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run directory path too long",
                             l->cfg.run_dir);
    }
    return endpoints_write(path, &ep, err);
}

_Static_assert(REPLAY_PRIORITY_BINS == 12, "metrics_header names 12 replay_prio_bin columns");
static const char metrics_header[] =
    "time_s,step,frames,updates_per_s,loss_td,loss_margin,loss_bc,loss_l2,loss_tc,mean_abs_td,"
    "demo_share,"
    "wait_share,replay_size,replay_demo_size,replay_inserted,replay_sampled,priority_updates,"
    "actors,episodes,mean_return_recent,mean_last_return,replay_age_p50,replay_age_p90,"
    "replay_age_s_p50,replay_age_s_p90,replay_demo_share_recent,replay_inserts_per_s,"
    "replay_samples_per_s,replay_insert_holds,replay_sample_holds,replay_insert_blocked_s,"
    "replay_sample_blocked_s,replay_insert_wait_s,replay_sample_wait_s,"
    "replay_prio_bin0,replay_prio_bin1,replay_prio_bin2,replay_prio_bin3,replay_prio_bin4,"
    "replay_prio_bin5,replay_prio_bin6,replay_prio_bin7,replay_prio_bin8,replay_prio_bin9,"
    "replay_prio_bin10,replay_prio_bin11,labels,labels_per_s,label_us,expert_share,loss_rnd,"
    "mean_intrinsic_recent\n";

static int open_metrics(learner *l, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/metrics.csv", l->cfg.run_dir) >= (int)sizeof path) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: run directory path too long",
                             l->cfg.run_dir);
    }
    l->metrics = fopen(path, "a");
    if (!l->metrics) {
        return shoal_err_set(err, SHOAL_EIO, "%s: %s", path, strerror(errno));
    }
    if (ftell(l->metrics) == 0) {
        fputs(metrics_header, l->metrics);
        fflush(l->metrics);
    }
    return SHOAL_OK;
}

static int open_tb(learner *l, shoal_err *err)
{
    l->tb_prio = malloc(LEARNER_TB_PRIORITIES * sizeof *l->tb_prio);
    if (!l->tb_prio) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the priority histogram");
    }
    l->tb = tb_writer_new(l->cfg.tb_dir, "learner", err);
    return l->tb ? SHOAL_OK : (err ? err->code : SHOAL_EIO);
}

/* Rank 0's outputs: checkpoint folder, Params PUB, endpoints.json, metrics.csv. */
static int start_rank0(learner *l, shoal_err *err)
{
    int rc = SHOAL_OK;
    if (l->cfg.params_bind[0]) {
        l->zmq_ctx = zmq_ctx_new();
        if (!l->zmq_ctx) {
            return shoal_err_set(err, SHOAL_EIO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        }
        l->pub = learner_params_pub_new(l->zmq_ctx, l->cfg.params_bind, &l->cfg.curve,
                                        l->params_endpoint, sizeof l->params_endpoint, err);
        if (!l->pub) {
            return err ? err->code : SHOAL_EIO;
        }
        learner_params_pub_set_rnd(l->pub, learner_update_rnd(l->u));
        if (l->cfg.params_host[0]) {
            rc = endpoints_with_host(l->params_endpoint, l->cfg.params_host, l->params_endpoint,
                                     sizeof l->params_endpoint, err);
            if (rc != SHOAL_OK) {
                return rc;
            }
        }
    }
    if (l->cfg.run_dir[0]) {
        char dir[FILEIO_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/" NN_PARAMFILE_CHECKPOINT_DIR, l->cfg.run_dir);
        rc = file_mkdirs(dir, err);
        if (rc == SHOAL_OK) {
            rc = write_endpoints(l, err);
        }
        if (rc == SHOAL_OK) {
            rc = open_metrics(l, err);
        }
    }
    if (rc == SHOAL_OK && l->cfg.tb_dir[0]) {
        rc = open_tb(l, err);
    }
    return rc;
}

/* Collective: every rank learns whether any rank failed, and the failures of the lowest failing
 * rank become every rank's error, so that all ranks give up together. */
static int agree(const learner *l, int rc, shoal_err *err)
{
    if (l->size == 1) {
        return rc;
    }
    int codes[4096];
    if (l->size > 4096 || MPI_Allgather(&rc, 1, MPI_INT, codes, 1, MPI_INT, l->comm) !=
                              MPI_SUCCESS) {
        return rc != SHOAL_OK ? rc : shoal_err_set(err, SHOAL_EIO, "start-up exchange failed");
    }
    for (int r = 0; r < l->size; r++) {
        if (codes[r] == SHOAL_OK) {
            continue;
        }
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", (err && r == l->rank) ? err->msg : "");
        MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, r, l->comm);
        if (r != l->rank) {
            shoal_err_set(err, codes[r], "learner rank %d failed: %s", r, msg);
        }
        return codes[r];
    }
    return SHOAL_OK;
}

static int new_prefetch(learner *l, shoal_err *err)
{
    uint64_t start = learner_update_steps(l->u);
    learner_prefetch_config pc;
    memset(&pc, 0, sizeof pc);
    const char *eps[LEARNER_MAX_SHARDS];
    for (size_t i = 0; i < l->cfg.n_shards; i++) {
        eps[i] = l->cfg.replay[i];
    }
    pc.endpoints = eps;
    pc.n_shards = l->cfg.n_shards;
    pc.client.seed = l->cfg.seed;
    pc.client.index = l->cfg.rank;
    pc.client.max_message_bytes = 64u << 20;
    pc.client.curve = l->cfg.curve;
    pc.req = l->cfg.sample;
    pc.req.batch_size = l->cfg.update.net.max_batch;
    pc.obs = l->cfg.obs;
    pc.depth = l->cfg.prefetch_depth;
    pc.pipeline = l->cfg.pipeline;
    pc.n_demo_only = l->cfg.pretrain_steps > start ? l->cfg.pretrain_steps - start : 0;
    if (l->cfg.update.mode == LEARNER_MODE_BC) {
        pc.n_demo_only = UINT64_MAX; /* behaviour cloning learns from demonstrations only */
    }
    pc.offline = l->cfg.update.mode == LEARNER_MODE_OFFLINE;
    pc.await_labels = l->cfg.await_labels;
    pc.n_batches = l->cfg.max_updates ? l->cfg.max_updates - start : 0;
    pc.beta_anneal = l->cfg.beta_anneal_updates;
    pc.first_batch = start;
    pc.stats_secs = l->rank == 0 ? l->cfg.metrics_secs : 0.0;
    l->pf = learner_prefetch_new(&pc, err);
    return l->pf ? SHOAL_OK : (err ? err->code : SHOAL_ENOMEM);
}

learner *learner_new(const learner_config *cfg, MPI_Comm comm, shoal_err *err)
{
    learner *l = calloc(1, sizeof *l);
    if (!l) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory for the learner");
        return NULL;
    }
    l->t0_s = clock_now_s();
    l->cfg = *cfg;
    l->comm = comm;
    l->size = 1;
    if (comm != MPI_COMM_NULL && (MPI_Comm_rank(comm, &l->rank) != MPI_SUCCESS ||
                                  MPI_Comm_size(comm, &l->size) != MPI_SUCCESS)) {
        shoal_err_set(err, SHOAL_EIO, "cannot query the learner communicator");
        goto fail;
    }
    int rc = SHOAL_OK;
    if (cfg->batch_size % (size_t)l->size != 0) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "learner.batch_size = %zu does not split evenly "
                           "over %d learner ranks", cfg->batch_size, l->size);
    }
    l->cfg.update.net.max_batch = cfg->batch_size / (size_t)l->size;
    if (rc == SHOAL_OK) {
        l->u = learner_update_new(&l->cfg.update, comm, err);
        rc = l->u ? SHOAL_OK : (err ? err->code : SHOAL_ENOMEM);
    }
    if (rc == SHOAL_OK && l->rank == 0) {
        rc = resume(l, err);
    }
    if (agree(l, rc, err) != SHOAL_OK) {
        goto fail;
    }
    rc = learner_update_sync(l->u, err);
    if (rc != SHOAL_OK) {
        goto fail;
    }
    if (l->rank == 0) {
        rc = start_rank0(l, err);
    }
    if (rc == SHOAL_OK && !(cfg->max_updates && learner_update_steps(l->u) >= cfg->max_updates)) {
        rc = new_prefetch(l, err);
    }
    if (agree(l, rc, err) != SHOAL_OK) {
        goto fail;
    }
    l->last_ckpt = learner_update_steps(l->u);
    return l;
fail:
    learner_free(l);
    return NULL;
}

void learner_free(learner *l)
{
    if (!l) {
        return;
    }
    learner_prefetch_free(l->pf);
    learner_params_pub_free(l->pub);
    if (l->zmq_ctx) {
        zmq_ctx_term(l->zmq_ctx);
    }
    if (l->metrics) {
        fclose(l->metrics);
    }
    tb_writer_free(l->tb);
    free(l->tb_prio);
    learner_update_free(l->u);
    curve_keys_wipe(&l->cfg.curve);
    free(l);
}

const char *learner_params_endpoint(const learner *l)
{
    return l->params_endpoint;
}

learner_update *learner_update_of(const learner *l)
{
    return l->u;
}

double learner_wait_secs(const learner *l)
{
    return l->wait_s;
}

/* ---- the loop ---- */

static void account(learner *l, const learner_loss *loss, size_t count)
{
    l->sum_td += loss->td;
    l->sum_margin += loss->margin;
    l->sum_bc += loss->bc;
    l->sum_l2 += loss->l2;
    l->sum_tc += loss->tc;
    l->sum_rnd += loss->rnd;
    l->sum_abs_td += loss->mean_abs_td;
    l->sum_demo += (double)loss->n_demo / (double)count;
    l->row_updates++;
}

/* Keeps the newest of this update's priorities for the next histogram (rank 0). */
static void keep_priorities(learner *l, const float *prio, size_t n)
{
    if (!l->tb) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        l->tb_prio[l->tb_prio_at] = prio[i];
        l->tb_prio_at = (l->tb_prio_at + 1) % LEARNER_TB_PRIORITIES;
    }
    l->tb_prio_n = l->tb_prio_n + n < LEARNER_TB_PRIORITIES ? l->tb_prio_n + n
                                                             : LEARNER_TB_PRIORITIES;
}

/* The row as TensorBoard scalars learner/<column> at its step, and the priority histogram.
 * TensorBoard is a view, not the record: a failure to write it stops the events (with a
 * warning), never the learner. */
static void write_tb_row(learner *l, const char *row, uint64_t step)
{
    shoal_err e = {0};
    int rc = tb_writer_csv_row(l->tb, "learner/", metrics_header, row, "step", &e);
    if (rc == SHOAL_OK && l->tb_prio_n > 0) {
        rc = tb_writer_histogram(l->tb, "learner/priorities", (int64_t)step, l->tb_prio,
                                 l->tb_prio_n, &e);
    }
    if (rc == SHOAL_OK) {
        rc = tb_writer_flush(l->tb, &e);
    }
    l->tb_prio_n = l->tb_prio_at = 0;
    if (rc != SHOAL_OK) {
        log_warn("TensorBoard events stop: %s", e.msg);
        tb_writer_free(l->tb);
        l->tb = NULL;
    }
}

/* Appends the replay introspection columns of a metrics row (from replay_age_p50 on) to row
 * (cap bytes, used of them taken) and returns the bytes used. The row is far shorter than cap;
 * a row that did not fit would only be cut short. */
static size_t write_insight(char *row, size_t cap, size_t used, const learner_replay_stats *st)
{
    const replay_insight *in = &st->insight;
    used = used < cap ? used : cap - 1;
    used += (size_t)snprintf(
        row + used, cap - used,
        ",%.1f,%.1f,%.3f,%.3f,%.4f,%.1f,%.1f,%" PRIu64 ",%" PRIu64 ",%.3f,%.3f,%.3f,%.3f",
        in->age_p50, in->age_p90, in->age_s_p50, in->age_s_p90,
        in->window ? (double)in->window_demo / (double)in->window : 0.0, in->inserts_per_s,
        in->samples_per_s, in->insert_holds, in->sample_holds, st->insert_blocked_s,
        st->sample_blocked_s, in->insert_wait_s, in->sample_wait_s);
    for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
        used = used < cap ? used : cap - 1;
        used += (size_t)snprintf(row + used, cap - used, ",%" PRIu64, in->priority_hist[k]);
    }
    return used;
}

/* Appends DAgger's label columns (actor.label; zeros without labels) and the row's newline:
 * labels stored so far, and since the previous row labels per second, the expert's
 * microseconds per label and the share of steps the expert drove. */
static void write_labels(learner *l, char *row, size_t cap, size_t used,
                         const learner_replay_stats *st, double dt)
{
    uint64_t d_labels = st->labels >= l->last_labels ? st->labels - l->last_labels : 0;
    uint64_t d_ns = st->label_ns >= l->last_label_ns ? st->label_ns - l->last_label_ns : 0;
    uint64_t d_expert = st->expert_steps >= l->last_expert_steps
                            ? st->expert_steps - l->last_expert_steps : 0;
    used = used < cap ? used : cap - 1;
    used += (size_t)snprintf(row + used, cap - used, ",%" PRIu64 ",%.1f,%.3f,%.4f", st->labels,
                             dt > 0 ? (double)d_labels / dt : 0.0,
                             d_labels ? (double)d_ns / (double)d_labels * 1e-3 : 0.0,
                             d_labels ? (double)d_expert / (double)d_labels : 0.0);
    used = used < cap ? used : cap - 1;
    /* RND's loss and the episodes' intrinsic returns, kept apart from the extrinsic ones */
    uint64_t d_episodes = st->episodes - (st->episodes >= l->last_episodes ? l->last_episodes : 0);
    double n = l->row_updates ? (double)l->row_updates : 1.0;
    used += (size_t)snprintf(row + used, cap - used, ",%.6g,%.6g", l->sum_rnd / n,
                             d_episodes ? (st->intrinsic_return_sum - l->last_intrinsic_sum) /
                                              (double)d_episodes
                                        : 0.0);
    used = used < cap - 1 ? used : cap - 2;
    snprintf(row + used, cap - used, "\n");
    l->last_intrinsic_sum = st->intrinsic_return_sum;
    l->last_labels = st->labels;
    l->last_label_ns = st->label_ns;
    l->last_expert_steps = st->expert_steps;
}

static void write_metrics_row(learner *l, double now)
{
    learner_replay_stats st = l->pf ? learner_prefetch_stats(l->pf) : (learner_replay_stats){0};
    uint64_t step = learner_update_steps(l->u);
    double dt = now - l->row_t0_s;
    double n = l->row_updates ? (double)l->row_updates : 1.0;
    uint64_t d_episodes = st.episodes - (st.episodes >= l->last_episodes ? l->last_episodes : 0);
    double recent = d_episodes ? (st.return_sum - l->last_return_sum) / (double)d_episodes : 0.0;
    char row[4096];
    int used = snprintf(row, sizeof row,
                        "%.3f,%" PRIu64 ",%" PRIu64 ",%.2f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%.4f"
                        ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%zu,%" PRIu64
                        ",%.4f,%.4f",
                        now - l->t0_s, step, l->frames,
                        dt > 0 ? (double)(step - l->row_step0) / dt : 0.0, l->sum_td / n,
                        l->sum_margin / n, l->sum_bc / n, l->sum_l2 / n, l->sum_tc / n,
                        l->sum_abs_td / n, l->sum_demo / n,
                        dt > 0 ? (l->wait_s - l->row_wait_s) / dt : 0.0, st.size, st.demo_size,
                        st.inserted, st.sampled, st.priority_updates, st.n_actors, st.episodes,
                        recent, st.n_actors ? st.last_return_sum / (double)st.n_actors : 0.0);
    size_t at = write_insight(row, sizeof row, used > 0 ? (size_t)used : 0, &st);
    write_labels(l, row, sizeof row, at, &st, dt);
    fputs(row, l->metrics);
    fflush(l->metrics);
    if (l->tb) {
        write_tb_row(l, row, step);
    }
    l->last_episodes = st.episodes;
    l->last_return_sum = st.return_sum;
    l->row_t0_s = now;
    l->row_step0 = step;
    l->row_wait_s = l->wait_s;
    l->sum_td = l->sum_margin = l->sum_bc = l->sum_l2 = l->sum_tc = l->sum_abs_td = l->sum_rnd = 0.0;
    l->sum_demo = 0.0;
    l->row_updates = 0;
}

/* Frames so far: the shards' count of env steps, once it is known and past the checkpoint's. */
static void take_frames(learner *l)
{
    if (l->pf) {
        learner_replay_stats st = learner_prefetch_stats(l->pf);
        if (st.known && st.env_steps > l->frames) {
            l->frames = st.env_steps;
        }
    }
}

/* Rank 0 after each update: frames, Params, checkpoints, metrics (final: the last Params and
 * checkpoint; final_row writes the last row). */
static int rank0_duties(learner *l, bool final, shoal_err *err)
{
    uint64_t step = learner_update_steps(l->u);
    double now = clock_now_s();
    take_frames(l);
    int rc = SHOAL_OK;
    if (l->pub) {
        if (final || step % l->cfg.publish_period == 0) {
            rc = learner_params_pub_send(l->pub, step, l->frames, learner_update_net(l->u), err);
            l->next_repeat_s = now + l->cfg.publish_repeat_secs;
        } else if (now >= l->next_repeat_s) {
            rc = learner_params_pub_repeat(l->pub, err);
            l->next_repeat_s = now + l->cfg.publish_repeat_secs;
        }
    }
    if (rc == SHOAL_OK && l->cfg.run_dir[0] && step != l->last_ckpt &&
        (final || step % l->cfg.checkpoint_period == 0)) {
        rc = write_checkpoint(l, err);
    }
    if (rc == SHOAL_OK && l->metrics && !final && now >= l->next_metrics_s) {
        write_metrics_row(l, now);
        l->next_metrics_s = now + l->cfg.metrics_secs;
    }
    return rc;
}

/* Rank 0 once the run has stopped, after the last update and checkpoint: the last row of
 * metrics.csv, from replay statistics polled now, not up to metrics_secs ago. When the run was
 * asked to stop the actors are flushing their last batches at the same time, so the shards are
 * polled until their frame and episode counts hold still between two polls; FINAL_STATS_SECS
 * bounds it all (actors that keep running, as after learner.max_updates, or a silent shard). */
#define FINAL_STATS_SECS 1.0
#define FINAL_STATS_GAP_MS 200

static void final_row(learner *l, bool stopping)
{
    if (!l->metrics) {
        return;
    }
    double deadline = clock_now_s() + FINAL_STATS_SECS;
    bool have = false;
    learner_replay_stats prev = {0};
    while (l->pf) {
        double left = deadline - clock_now_s();
        if (left <= 0.0 || !learner_prefetch_poll_stats(l->pf, (int)(left * 1000.0) + 1)) {
            break;
        }
        learner_replay_stats st = learner_prefetch_stats(l->pf);
        if (!stopping || (have && st.env_steps == prev.env_steps &&
                          st.episodes == prev.episodes && st.inserted == prev.inserted)) {
            break;
        }
        prev = st;
        have = true;
        if (clock_now_s() + FINAL_STATS_GAP_MS / 1000.0 >= deadline) {
            break;
        }
        clock_sleep_ms(FINAL_STATS_GAP_MS);
    }
    take_frames(l);
    write_metrics_row(l, clock_now_s());
}

/* Rank 0 while waiting for replay: keep republishing the parameters (actors wait for them
 * before they generate the data the learner waits for) and keep metrics.csv current. */
static int rank0_idle(learner *l, shoal_err *err)
{
    double now = clock_now_s();
    int rc = SHOAL_OK;
    if (l->pub && now >= l->next_repeat_s) {
        rc = learner_params_pub_repeat(l->pub, err);
        l->next_repeat_s = now + l->cfg.publish_repeat_secs;
    }
    if (rc == SHOAL_OK && l->metrics && now >= l->next_metrics_s) {
        write_metrics_row(l, now);
        l->next_metrics_s = now + l->cfg.metrics_secs;
    }
    return rc;
}

/* Waits for this rank's next batch. A single rank gives up (EINTERRUPTED) as soon as stop is
 * set; with peers it keeps waiting, since they need this rank at the next all-reduce, but only
 * for stop_grace_secs. */
static int next_batch(learner *l, volatile sig_atomic_t *stop, const learner_batch **b,
                      float **prio, shoal_err *err)
{
    uint64_t t0 = clock_now_ns();
    double stop_seen = -1.0;
    int rc;
    while ((rc = learner_prefetch_next(l->pf, 100, b, prio, err)) == SHOAL_EAGAIN) {
        if (l->rank == 0 && (rc = rank0_idle(l, err)) != SHOAL_OK) {
            break;
        }
        if (*stop && l->size == 1) {
            rc = shoal_err_set(err, SHOAL_EINTERRUPTED, "stopped while waiting for replay");
            break;
        }
        if (*stop && stop_seen < 0.0) {
            stop_seen = clock_now_s();
        }
        if (stop_seen >= 0.0 && clock_now_s() - stop_seen > l->cfg.stop_grace_secs) {
            rc = shoal_err_set(err, SHOAL_ETIMEOUT, "learner rank %d: stopped, and no batch "
                               "came from replay for %.0f s; the other ranks wait for this "
                               "one (end the job)", l->rank, l->cfg.stop_grace_secs);
            break;
        }
    }
    l->wait_s += clock_since_s(t0);
    return rc;
}

int learner_run(learner *l, volatile sig_atomic_t *stop, shoal_err *err)
{
    l->row_t0_s = clock_now_s();
    l->row_step0 = learner_update_steps(l->u);
    l->next_metrics_s = l->row_t0_s + l->cfg.metrics_secs;
    int rc = SHOAL_OK;
    if (l->pub) {
        /* The starting parameters at once: actors wait for a first version before acting. */
        rc = learner_params_pub_send(l->pub, learner_update_steps(l->u), l->frames,
                                     learner_update_net(l->u), err);
        l->next_repeat_s = l->row_t0_s + l->cfg.publish_repeat_secs;
    }
    bool done = false;
    while (rc == SHOAL_OK && !done && l->pf) {
        uint64_t step = learner_update_steps(l->u);
        if ((l->cfg.max_updates && step >= l->cfg.max_updates) || (*stop && l->size == 1)) {
            break;
        }
        const learner_batch *b = NULL;
        float *prio = NULL;
        rc = next_batch(l, stop, &b, &prio, err);
        if (rc == SHOAL_EINTERRUPTED) {
            rc = SHOAL_OK;
            break;
        }
        if (rc != SHOAL_OK) {
            break;
        }
        learner_loss loss;
        rc = learner_update_step(l->u, b, prio, &loss, err);
        if (rc == SHOAL_OK) {
            keep_priorities(l, prio, b->count);
        }
        learner_prefetch_done(l->pf, rc == SHOAL_OK);
        if (rc != SHOAL_OK) {
            break;
        }
        account(l, &loss, b->count);
        step = learner_update_steps(l->u);
        if (step % l->cfg.checksum_period == 0) {
            int any_stop = 0;
            rc = learner_update_checksum(l->u, *stop != 0, &any_stop, err);
            done = any_stop != 0;
        }
        if (rc == SHOAL_OK && l->rank == 0) {
            rc = rank0_duties(l, false, err);
        }
    }
    if (l->rank == 0) {
        shoal_err e = {0};
        int frc = rank0_duties(l, true, &e);
        if (rc == SHOAL_OK && frc != SHOAL_OK) {
            rc = frc;
            if (err) {
                *err = e;
            }
        }
        final_row(l, *stop != 0);
    }
    return rc;
}
