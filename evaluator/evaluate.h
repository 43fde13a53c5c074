/* Evaluation runs: play a fixed number of episodes with a trained Q-network and summarise
 * the returns. The player keeps n_envs environments in flight and steps them together, so
 * each step is one batched forward pass; a network with K > 1 heads (Bootstrapped DQN) acts
 * by the ensemble's majority vote, and each head also plays head_episodes episodes on its own
 * (its argmax, with the same ε) so the JSON can show how the heads differ (Osband et al. 2016).
 *
 * Every episode is a job (policy p, index j): p = 0 is the vote (or the single head), p = k+1
 * is head k. Job (p, j) plays in a fresh environment seeded from the stream
 * (seed, RNG_ROLE_EVALUATOR, p, j), which also draws its ε-greedy choices, so a result depends
 * only on the parameters, the [env] options and the seed: not on n_envs, not on the order in
 * which jobs finish, and not on what was evaluated before. Episodes are cut at
 * max_episode_steps (their return so far counts). The network is rebuilt only when a file has
 * another architecture; a step allocates nothing.
 *
 *     evaluator_player *p = evaluator_player_new(&pc, &err);
 *     evaluator_result r;
 *     evaluator_player_eval_file(p, "runs/x/checkpoints/step-1000.ckpt", NULL, &r, &err);
 *     printf("%g +- %g over %zu episodes\n", r.mean, r.std, r.episodes);
 */
#ifndef SHOAL_EVALUATOR_EVALUATE_H
#define SHOAL_EVALUATOR_EVALUATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/obs.h"
#include "env/env.h"
#include "nn/qnet.h"

/* The [evaluator] configuration keys (added to the schema by cluster/schema.c). */
extern const config_key evaluator_config_keys[];

#define EVALUATOR_ENV_NAME_MAX 128
#define EVALUATOR_MAX_EPISODES 100000
/* Spans of an episode the expert's agreement is counted in; the last one is open-ended. */
#define EVALUATOR_AGREEMENT_SPANS 64

/* What and how to play. Plain data; evaluator_player_config_from fills it from a config. */
typedef struct evaluator_player_config {
    char env_name[EVALUATOR_ENV_NAME_MAX];
    env_options env;        /* [env] options; max_episode_steps already holds the cap */
    char plugins[1024];     /* env.plugins: libraries with more environments */
    obs_facts facts;        /* the run's env facts; every env built must match them */
    size_t episodes;        /* episodes of the acting policy (vote or single head), >= 1 */
    size_t head_episodes;   /* episodes per head acting alone when K > 1; 0: none */
    double epsilon;         /* probability of a uniformly random action */
    uint64_t seed;          /* run.seed + evaluator.seed_offset */
    size_t n_envs;          /* episodes played at once (the forward batch), >= 1 */
    float bcq_threshold;    /* learner.bcq_threshold: τ for checkpoints with a behaviour model */
    /* > 0: at every step of the acting policy's episodes, ask the game's scripted expert
     * (env/expert.h) what it would do and count agreement per span of this many steps of the
     * episode: imitation's distribution shift shows as agreement falling late in episodes.
     * The expert only watches; nothing the policy plays changes. 0: off. */
    uint64_t agreement_steps;
} evaluator_player_config;

/* Fills out from [env] (with the env facts, common/obs.h), [evaluator] and run.seed. The step
 * cap is the smaller nonzero one of env.max_episode_steps and evaluator.max_episode_steps.
 * EINVAL (a bad env.options, unset env facts). */
int evaluator_player_config_from(const config *cfg, evaluator_player_config *out, shoal_err *err);

/* The summary of one evaluation. The arrays point into the player and stay valid until its
 * next evaluation or evaluator_player_free. */
typedef struct evaluator_result {
    uint64_t step, frames;      /* from the parameter file (0 for evaluator_player_eval_net) */
    size_t episodes;
    double mean, std, min, max; /* of the acting policy's returns; std with divisor n */
    const double *returns;      /* (episodes) in job order */
    size_t n_heads;             /* K of the network */
    size_t head_episodes;       /* per head; 0 when K == 1 or head_episodes is 0 */
    double head_mean[NN_QNET_MAX_HEADS], head_std[NN_QNET_MAX_HEADS];
    const double *head_returns; /* (n_heads, head_episodes) */
    uint64_t env_steps;         /* steps played in all jobs */
    /* With agreement_steps: span k holds the acting policy's steps k·agreement_steps ..
     * (k+1)·agreement_steps − 1 of their episodes (the last span: all later ones), visits[k]
     * of them, agree[k] where the policy chose the expert's action. agreement_spans is the
     * number of spans up to the last visited one; 0 without agreement_steps. */
    size_t agreement_spans;
    const uint64_t *agreement_visits, *agreement_agree;
    double seconds;             /* time the evaluation took (monotonic clock) */
} evaluator_result;

typedef struct evaluator_player evaluator_player;

/* Loads the plugins and checks that env_name can be made (ENOTFOUND/EINVAL list what exists),
 * then sizes everything for cfg. NULL with err. */
evaluator_player *evaluator_player_new(const evaluator_player_config *cfg, shoal_err *err);

/* Frees p and its network. NULL is fine. */
void evaluator_player_free(evaluator_player *p);

/* The configuration p was made with. */
const evaluator_player_config *evaluator_player_config_of(const evaluator_player *p);

/* Cuts evaluations short at a monotonic time (common/clock.h, clock_now_ns): an evaluation
 * still playing at deadline_ns returns ETIMEOUT, checked between steps as *stop is. 0: none
 * (the default). Used for the evaluator's bounded final pass after a stop (evaluator/watch.h). */
void evaluator_player_set_deadline(evaluator_player *p, uint64_t deadline_ns);

/* Builds a network from the file's architecture (reusing the last one when equal), loads the
 * parameters and evaluates them. When the file has a discrete BCQ behaviour model beside it
 * (learner.mode = offline; nn_paramfile_sibling_path with NN_PARAMFILE_BEHAVIOUR_EXT), every
 * head acts by the argmax over the actions it allows (G(a|s)/max G > bcq_threshold). Errors name the file: those of nn_paramfile_read_arch and
 * nn_paramfile_load (ENOTFOUND, EIO, ECORRUPT, EVERSION, EARCH), EINVAL for an architecture
 * string that does not parse, EARCH when the network's input or action count does not fit the
 * environment; EINTERRUPTED when *stop became nonzero (stop may be NULL); ETIMEOUT at the
 * deadline (evaluator_player_set_deadline). */
int evaluator_player_eval_file(evaluator_player *p, const char *path,
                               volatile sig_atomic_t *stop, evaluator_result *out,
                               shoal_err *err);

/* Calls fn(arg, done, total) after each episode of every later evaluation, with the episodes
 * finished and the evaluation's episodes in all (head episodes included); fn NULL: none. For a
 * progress bar (pbar_callback, common/pbar.h). */
void evaluator_player_on_progress(evaluator_player *p,
                                  void (*fn)(void *arg, uint64_t done, uint64_t total), void *arg);

/* Evaluates a network the caller owns (its max_batch must be at least n_envs). EARCH when it
 * does not fit the environment, EINVAL for a too small max_batch, EINTERRUPTED and ETIMEOUT
 * as above. */
int evaluator_player_eval_net(evaluator_player *p, nn_qnet *net, volatile sig_atomic_t *stop,
                              evaluator_result *out, shoal_err *err);

/* The ensemble's majority vote for one observation: q is (n_heads, n_actions), each head votes
 * for its argmax (lowest index on ties); the action with most votes wins, a tie between
 * actions going to the larger Q summed over heads, then to the lowest index. */
uint32_t evaluator_vote(const float *q, size_t n_heads, size_t n_actions);

/* argmax of n values, lowest index on ties. */
uint32_t evaluator_argmax(const float *q, size_t n);

#endif
