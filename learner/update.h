/* The learner's numerical core, one update at a time, identical on every rank: the online and
 * target networks, the optimizer and the workspaces for one decoded batch. One update is
 * forward (online on s; online and target on s'), the n-step double-DQN TD loss per head with
 * bootstrap masks and importance weights, the DQfD large-margin loss on demonstration samples
 * (weight λ_E) and L2 (specs/algorithms.md §1.2, §3.3, §6.1), optionally Ape-X DQfD's
 * transformed target and temporal-consistency loss (a second forward and backward of the
 * online network on s', its gradient added; the all-reduce then follows the backward), backward,
 * the sum of the flat
 * gradient over the ranks of the communicator (in buckets of layers started as the backward
 * pass finishes them when allreduce_overlap is set, else one MPI_Allreduce after it; the same
 * sum either way) scaled by 1/ranks, and the optimizer step; the target network is copied every
 * target_period updates. With threads = 2 a helper thread computes the gradient of the second
 * half of each batch of 8 or more samples (learner_update_new starts it, learner_update_free
 * stops it); the result is the whole batch's gradient to float rounding.
 *
 * Invariant: after learner_update_sync every rank holds bit-identical parameters, target
 * parameters and optimizer state, and every later update keeps them so (every rank applies the
 * same averaged gradient; float addition is commutative, and OpenMPI's all-reduce hands every
 * rank the same sum). learner_update_checksum proves it.
 *
 * Each rank computes its loss as a mean over its own share of the batch, so R ranks on B/R
 * samples each apply the same gradient (to float rounding) as one rank on all B samples.
 *
 * comm may be MPI_COMM_NULL: one learner without MPI (no MPI call is made at all, so MPI need
 * not be initialised); tests and benches use that. Otherwise every function marked
 * "collective" must be called by every rank of comm in the same order.
 *
 *     learner_update *u = learner_update_new(&cfg, comm, &err);
 *     learner_update_sync(u, &err);                        // rank 0's state to every rank
 *     learner_update_step(u, &batch, priorities, &loss, &err);
 *     learner_update_save(u, "run/checkpoints/step-100.ckpt", frames, &err);
 */
#ifndef SHOAL_LEARNER_UPDATE_H
#define SHOAL_LEARNER_UPDATE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "nn/optim.h"
#include "nn/qnet.h"
#include "nn/rnd.h"

/* What the update learns (learner.mode):
 *   RL      the double-DQN TD loss (+ DQfD margin on demonstrations), as above;
 *   BC      behaviour cloning: only the softmax cross-entropy of the Q values (as logits) against
 *           the demonstrated action (nn_loss_xent), every head on every sample (bootstrap masks
 *           ignored: they diversify value estimates, and imitation has one right answer); no TD
 *           loss, the target network is kept only so checkpoints look alike;
 *   OFFLINE discrete BCQ (Fujimoto et al. 2019): a behaviour model G, a second network of the
 *           same architecture trained with nn_loss_xent on the same batch, and the TD loss whose
 *           target argmax is restricted to actions with G(a|s')/max G > bcq_threshold
 *           (nn_loss_targets_bcq). G is saved beside each checkpoint
 *           (NN_PARAMFILE_BEHAVIOUR_EXT), where the evaluator finds it. */
typedef enum learner_mode {
    LEARNER_MODE_RL = 0,
    LEARNER_MODE_BC,
    LEARNER_MODE_OFFLINE,
} learner_mode;

/* Plain data. net.max_batch is the largest local batch (this rank's share). */
typedef struct learner_update_config {
    learner_mode mode;
    float bcq_threshold;    /* τ of OFFLINE, in [0, 1) */
    nn_qnet_config net;
    nn_optim_config optim;
    int double_q;           /* double DQN targets (online argmax), else the target net's max */
    float margin;           /* DQfD margin l(a_E, a) for a != a_E */
    float lambda_demo;      /* λ_E, weight of the margin loss (0: off) */
    float l2;               /* λ of Σθ² (DQfD λ3 = 1e-5; 0: off) */
    int target_transform;   /* Ape-X DQfD: y = h(R + C h⁻¹(Q̄)) (nn_value_h); 0: y = R + C Q̄ */
    float transform_eps;    /* ε of h (> 0 when target_transform) */
    float lambda_tc;        /* weight of Ape-X DQfD's temporal-consistency loss (0: off) */
    uint64_t target_period; /* copy the target every this many updates (>= 1) */
    int allreduce_overlap;  /* all-reduce layers' gradients as the backward pass finishes them */
    size_t threads;         /* 0 or 1: one thread; 2: the batch split between two threads */
    /* RND (exploration.strategy = rnd, bootstrap+rnd): train its predictor on every batch's
     * observations s with its own Adam (rnd_cfg.lr), after the Q update; the normaliser takes
     * the batch's moments (all-reduced) first. rnd_seed: the run seed, as the actors'. */
    int rnd;
    nn_rnd_config rnd_cfg;
    uint64_t rnd_seed;
} learner_update_config;

/* One decoded batch (this rank's share), struct-of-arrays, borrowed for the call. */
typedef struct learner_batch {
    size_t count;            /* 1 .. net.max_batch */
    const float *obs;        /* (B, H, W, C) */
    const float *next_obs;   /* (B, H, W, C) */
    const uint32_t *action;  /* (B) */
    const float *reward;     /* (B) n-step reward sums R */
    const float *discount;   /* (B) C = γ^m, 0 after a termination */
    const uint32_t *mask;    /* (B) bootstrap mask bits; NULL: every head */
    const float *weight;     /* (B) importance weights; NULL: all 1 */
    const uint8_t *demo;     /* (B) 1 for a demonstration; NULL: none */
} learner_batch;

/* The loss of the last update on this rank (not averaged over ranks). */
typedef struct learner_loss {
    float td;         /* Σ_k mean_i m w huber(δ) */
    float margin;     /* λ_E · margin loss */
    float bc;         /* cross-entropy: BC's loss, or OFFLINE's behaviour model's; else 0 */
    float l2;         /* λ Σθ² */
    float tc;         /* λ_TC · temporal-consistency loss (0 when off) */
    float mean_abs_td; /* mean of the new priorities |δ| */
    float rnd;        /* RND predictor's mean squared error before its step (0 without RND) */
    size_t n_demo;    /* demonstrations in the batch */
} learner_loss;

/* Time spent in the phases of learner_update_step, accumulated (seconds). */
typedef struct learner_update_times {
    double forward_backward;
    double allreduce;
    double optimizer;
} learner_update_times;

typedef struct learner_update learner_update;

/* Builds the networks (online initialised from net.seed; the target a copy), the optimizer
 * and the workspaces. Not collective. NULL with EINVAL (a bad config, named) or ENOMEM. */
learner_update *learner_update_new(const learner_update_config *cfg, MPI_Comm comm,
                                   shoal_err *err);

/* Frees u (not the communicator). NULL and half-built objects are fine. */
void learner_update_free(learner_update *u);

/* Collective: broadcasts rank 0's parameters, target parameters, optimizer state and update
 * count to every rank. EIO when MPI fails. */
int learner_update_sync(learner_update *u, shoal_err *err);

/* Collective: one update on this rank's share b. Writes |δ| of each sample (mean over the heads
 * that train on it) into priorities (b->count floats) and the loss parts into *loss (may be
 * NULL). EINVAL for a batch larger than net.max_batch or an action out of range; EIO when the
 * all-reduce fails. Never allocates. */
int learner_update_step(learner_update *u, const learner_batch *b, float *priorities,
                        learner_loss *loss, shoal_err *err);

/* CRC32C of parameters, target parameters, optimizer state and update count on this rank. */
uint32_t learner_update_local_checksum(const learner_update *u);

/* Collective: compares every rank's learner_update_local_checksum. ESTATE naming each rank
 * whose checksum differs from rank 0's (the job must stop: the ranks have diverged); EIO when
 * MPI fails. *any_flag (may be NULL) gets the OR over ranks of flag, so the same exchange lets
 * the ranks agree on stopping. */
int learner_update_checksum(learner_update *u, int flag, int *any_flag, shoal_err *err);

/* Updates applied so far (the learner step). */
uint64_t learner_update_steps(const learner_update *u);

/* The online and target networks and the optimizer, owned by u, valid while it lives. Writing
 * their parameters on one rank only breaks the invariant (the checksum test does it). */
nn_qnet *learner_update_net(const learner_update *u);
nn_qnet *learner_update_target(const learner_update *u);
nn_optim *learner_update_optim(const learner_update *u);

/* OFFLINE's behaviour model G (NULL in the other modes), owned by u. */
nn_qnet *learner_update_behaviour(const learner_update *u);

/* RND's predictor and normaliser (NULL without RND), owned by u: what rank 0 publishes. Not
 * in checkpoints yet: a resumed run starts a fresh predictor (docs/actors.md). */
nn_rnd *learner_update_rnd(const learner_update *u);

/* Starts u from the parameters of checkpoint path (learner.init_from: pretrain, then finetune):
 * the online and target networks get them, the update count restarts at 0 and the optimizer
 * state stays fresh (Adam's moments belong to the loss that made them; a new loss with stale
 * moments takes steps of the old one's scale). In OFFLINE, a behaviour model beside the file is
 * loaded too when there is one. EARCH naming both architecture strings when path holds another
 * architecture; the errors of nn_paramfile_load otherwise; u unchanged on error. Not
 * collective: rank 0, then learner_update_sync. */
int learner_update_init_from(learner_update *u, const char *path, shoal_err *err);

/* Accumulated phase times of this rank. */
learner_update_times learner_update_times_of(const learner_update *u);

/* Rank and size in the communicator (0 and 1 for MPI_COMM_NULL). */
int learner_update_rank(const learner_update *u);
int learner_update_size(const learner_update *u);

/* Writes a checkpoint: path holds the online network with the optimizer state, the step and
 * frames (nn_paramfile format, so the evaluator loads it with nn_paramfile_load), and
 * learner_update_target_path(path) holds the target network (OFFLINE: and the behaviour model
 * with its optimizer state, NN_PARAMFILE_BEHAVIOUR_EXT); those are written first, all
 * atomically, so a checkpoint whose main file exists is complete. EIO naming the file. */
int learner_update_save(const learner_update *u, const char *path, uint64_t frames,
                        shoal_err *err);

/* Restores a checkpoint written by learner_update_save into u (network, optimizer, target and
 * update count; *frames may be NULL). Errors from nn_paramfile_load (ENOTFOUND, ECORRUPT, EARCH,
 * ESTATE for a file without this optimizer's state, ...), naming the file; on error u is
 * unchanged. Not collective: call it on rank 0, then learner_update_sync. */
int learner_update_load(learner_update *u, const char *path, uint64_t *frames, shoal_err *err);

/* The target network's file beside checkpoint path ("<path without .ckpt>.target"); EINVAL
 * when it does not fit in cap. */
int learner_update_target_path(const char *path, char *out, size_t cap, shoal_err *err);

#endif
