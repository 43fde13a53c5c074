/* Random network distillation (Burda et al. 2018, "Exploration by Random Network
 * Distillation"): a fixed, randomly initialised target network f and a predictor f̂ of the same
 * shape trained to match it on the observations the agent has seen. The prediction error
 * ||f̂(x) − f(x)||² is large on observations unlike the trained ones and falls on those seen
 * often: it is the novelty bonus (exploration.strategy = rnd, bootstrap+rnd).
 *
 * Both networks are nn_qnet's with one head: the run's Q-network torso (its convolutions, so
 * MinAtar frames are read as images), one dense ReLU layer of `hidden` units and a linear
 * output of `features` values. The target is drawn from (seed ^ NN_RND_TARGET_SALT) and never
 * trained, so any process rebuilds it from the run seed; the predictor starts from
 * (seed ^ NN_RND_PREDICTOR_SALT).
 *
 * Observation normalisation as the paper: x̃ = clip((x − μ)/σ, −c, c) per input float, μ and σ²
 * the running mean and variance of the observations seen so far (c = obs_clip, 5). The learner
 * updates them from the observations of its replay batches (one all-reduce of their moments
 * over the learner ranks) and publishes them with the predictor, so every actor normalises with
 * the same statistics, those of the data the predictor trained on. Before any observation
 * μ = 0, σ = 1.
 *
 * The blob that travels with the Q-network's parameters (learner/params.h) is little-endian
 * float32: the predictor's parameters, then μ (D floats), then σ (D floats), D = H*W*C.
 *
 *     nn_rnd *r = nn_rnd_new(&net_cfg, &rc, 64, seed, &err);
 *     nn_rnd_error(r, x, n, e);                    // actor: e[i] = mean_j (f̂_j − f_j)² of row i
 *     float loss = nn_rnd_gradient(r, x, n);       // learner: grads of the predictor
 *     nn_optim_step(opt, nn_qnet_params(nn_rnd_predictor(r)), nn_qnet_grads(nn_rnd_predictor(r)));
 */
#ifndef SHOAL_NN_RND_H
#define SHOAL_NN_RND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "nn/qnet.h"

#define NN_RND_TARGET_SALT 0x524e442d54415247ull    /* "RND-TARG" */
#define NN_RND_PREDICTOR_SALT 0x524e442d50524544ull /* "RND-PRED" */
#define NN_RND_ARCH_MAX (NN_QNET_ARCH_MAX + 64)

/* Plain data; nn_rnd_config_from fills it from [rnd]. */
typedef struct nn_rnd_config {
    size_t features; /* output of both networks */
    size_t hidden;   /* units of their dense ReLU layer */
    float lr;        /* the predictor's Adam learning rate (learner) */
    float beta;      /* weight of the normalised error in the reward (actors) */
    float obs_clip;  /* c of the observation normalisation */
} nn_rnd_config;

/* The keys of [rnd], for cluster/schema.c. */
extern const config_key nn_rnd_config_keys[];

/* Whether exploration.strategy asks for RND (rnd or bootstrap+rnd): the learner trains a
 * predictor only then. */
bool nn_rnd_wanted(const config *cfg);

/* Fills out from [rnd]. EINVAL naming the key for a non-positive features, hidden or lr. */
int nn_rnd_config_from(const config *cfg, nn_rnd_config *out, shoal_err *err);

typedef struct nn_rnd nn_rnd;

/* Target and predictor over net's input (its convolutions, then rc's layers), workspaces for
 * max_batch rows. NULL with EINVAL or ENOMEM. */
nn_rnd *nn_rnd_new(const nn_qnet_config *net, const nn_rnd_config *rc, size_t max_batch,
                   uint64_t seed, shoal_err *err);

/* NULL is fine. */
void nn_rnd_free(nn_rnd *r);

/* "rnd/v1 seed=<s> clip=<c> <predictor's qnet arch>": two processes with the same string
 * compute the same bonus from the same blob. */
const char *nn_rnd_arch(const nn_rnd *r);

/* The trained network (its params: what the learner's optimizer steps). Owned by r. */
nn_qnet *nn_rnd_predictor(const nn_rnd *r);

/* D, the floats of one observation. */
size_t nn_rnd_in_floats(const nn_rnd *r);

/* err[i] = mean over features of (f̂(x̃_i) − f(x̃_i))² for n <= max_batch observations x (n, D).
 * Never allocates. */
void nn_rnd_error(nn_rnd *r, const float *x, size_t n, float *err);

/* The predictor's gradient of mean_i err[i] over x (n, D) in its grads; returns that mean.
 * Never allocates. */
float nn_rnd_gradient(nn_rnd *r, const float *x, size_t n);

/* Moments of n observations for the normaliser: sums[0] = n, sums[1 + j] = Σ x_j,
 * sums[1 + D + j] = Σ x_j² (1 + 2D doubles), so ranks can add theirs before
 * nn_rnd_observe. */
void nn_rnd_moments(const nn_rnd *r, const float *x, size_t n, double *sums);

/* Merges moments (from nn_rnd_moments, possibly summed over ranks) into μ and σ². */
void nn_rnd_observe(nn_rnd *r, const double *sums);

/* Observations merged into the normaliser so far. */
double nn_rnd_observed(const nn_rnd *r);

/* The blob described above: its size, export (EINVAL if cap is short) and import (EARCH when
 * the size differs). */
size_t nn_rnd_blob_bytes(const nn_rnd *r);
int nn_rnd_blob_export(const nn_rnd *r, void *blob, size_t cap, shoal_err *err);
int nn_rnd_blob_import(nn_rnd *r, const void *blob, size_t n_bytes, shoal_err *err);

#endif
