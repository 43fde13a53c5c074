/* The actor role (ARCHITECTURE.md; specs/algorithms.md §1.4, §2.3, §3, §5.1): steps E envs
 * (env/vec.h), runs one batched forward pass of its local Q-network for all E per step, picks
 * actions with its exploration strategy (actor/explore.h), accumulates n-step transitions
 * (actor/nstep.h), gives each an initial priority and sends them in batches of B as one
 * InsertBatch each through the replay client, with the episodes that ended and the env steps
 * taken since the previous batch.
 *
 * Initial priorities, as in Ape-X: |δ| of the n-step double-DQN error computed with the
 * actor's own parameters (online and target are the same local copy):
 * y_k = R + C·Q_k(s', argmax_a Q_k(s', a)), δ_k = y_k − Q_k(s, a), priority = mean_k |δ_k| over
 * the heads whose mask bit is set (all heads if none; nn_loss_td). Q(s, ·) is the one computed
 * when acting in s, Q(s', ·) the one of the next step's forward pass, so a transition waits one
 * step for its priority and the network runs once per env step; only observations cut by a time
 * limit, which no later forward pass sees, get an extra pass.
 *
 * Parameters come from the learner's PUB socket (learner/params.h, latest wins): the actor waits
 * for the first message at start (bounded by params_timeout_s; ETIMEOUT names the endpoint),
 * then looks for a newer one every param_refresh_steps env steps and reports the version it
 * acts with in every batch. An empty params endpoint acts with the freshly initialised network
 * (benchmarks, smoke tests).
 *
 * DAgger (actor.label): before each step the expert labels every env's current state (the
 * scripted expert reads the env's state; a teacher network runs one forward pass over the E
 * observations), and each env's step follows the expert's action with probability β_i, drawn
 * per step (Ross et al. 2011's mixture π_i = β_i π* + (1 − β_i) π̂_i, which also labels the
 * states the learner's own mistakes lead to), else the action the exploration strategy chose
 * (exploration.epsilon = 0: the greedy policy, classic DAgger). Iteration i is the params
 * version over dagger_period: every actor agrees on it, and it follows the training of the
 * policy β measures trust in. Labelled states go out in label batches of B (replay/client.h:
 * obs, the expert's action, reward 0, discount 0, next_obs = obs, priority 1), besides the
 * actor's ordinary batches, which still carry its transitions, episodes and env steps.
 *
 * The actor owns its ZeroMQ context (for the params socket); the replay client owns its own.
 * actor_run returns when *stop is set (or after max_env_steps), after one more forward pass that
 * gives the waiting transitions their priorities, sending the partial buffer and waiting for
 * the shards' acks. The loop never allocates.
 *
 *     actor_config ac;
 *     actor_config_from(cfg, index, n_actors, "tcp://h:5555,tcp://h:5556", "tcp://h:5560",
 *                       &ac, &err);
 *     actor *a = actor_new(&ac, &err);
 *     actor_run(a, &stop, &err);
 *     actor_free(a);
 */
#ifndef SHOAL_ACTOR_ACTOR_H
#define SHOAL_ACTOR_ACTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor/explore.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/obs.h"
#include "env/env.h"
#include "nn/qnet.h"

#define ACTOR_MAX_SHARDS 256
#define ACTOR_ENDPOINT_MAX 256

/* The keys of [actor], for cluster/schema.c. */
extern const config_key actor_config_keys[];

typedef struct actor_config {
    char env_name[ACTOR_ENDPOINT_MAX];
    env_options env;
    char plugins[FILEIO_PATH_MAX];
    obs_facts facts;               /* env.obs_* and env.n_actions; the envs must match */
    nn_qnet_config net;            /* max_batch = n_envs */
    actor_explore_config explore;
    size_t n_envs;                 /* E */
    size_t batch;                  /* B, transitions per InsertBatch */
    size_t n_step;
    float gamma;
    /* learner.target_transform = apex: first priorities |h(R + γⁿ h⁻¹(Q(s', a*))) - Q(s, a)|,
     * in the units the learner's Ape-X DQfD target gives its priorities */
    bool target_transform;
    float transform_eps;
    uint64_t param_refresh_steps;  /* env steps between looks for newer parameters */
    double params_timeout_s;       /* wait for the first parameters */
    int insert_timeout_ms;         /* one wait for a replay credit (retried until stopped) */
    uint64_t max_env_steps;        /* stop after this many env steps; 0: until *stop */
    char episode_log[FILEIO_PATH_MAX]; /* CSV of finished episodes, "%d" resolved ("": off) */
    uint32_t index, n_actors;      /* global actor index i of N (ladder, shard, streams) */
    uint64_t seed;                 /* run seed */
    size_t n_replay;
    char replay[ACTOR_MAX_SHARDS][ACTOR_ENDPOINT_MAX];
    char params[ACTOR_ENDPOINT_MAX]; /* "" : act with the initial network */
    /* TensorBoard: every tb_secs a record at the params version (the learner's update count,
     * the x axis the learner and evaluator use too) of actor/frames_per_s,
     * actor/return_mean (the episodes that ended in the period; left out when none did),
     * actor/episodes and actor/env_steps, and a last one when the loop ends. "": none (the
     * launcher sets RUN_DIR/tb/actor-<i> unless run.tensorboard = false) */
    char tb_dir[FILEIO_PATH_MAX];
    double tb_secs;
    /* DAgger (actor.label; see "DAgger" above) */
    bool dagger;
    char label_checkpoint[FILEIO_PATH_MAX]; /* "": the scripted expert; else a teacher */
    double dagger_beta, dagger_decay;       /* β_i = beta · decay^i */
    uint64_t dagger_period;                 /* learner updates per iteration */
    curve_keys curve;              /* CURVE for replay and parameters (the launcher fills it;
                                    * actor_config_from leaves it off) */
} actor_config;

/* Fills out from [actor], [exploration], [network], [env] and [run] for actor `index` of
 * `n_actors`, with the replay endpoints (comma-separated) and the params endpoint (may be "").
 * The observation spec and action count are the run's env facts (common/obs.h), which
 * actor_new checks against its first env. EINVAL names the bad key or endpoint, or the unset
 * facts. */
int actor_config_from(const config *cfg, uint32_t index, uint32_t n_actors, const char *replay,
                      const char *params, actor_config *out, shoal_err *err);

/* What the actor has done so far. Times are nanoseconds spent in each phase of the loop. */
typedef struct actor_stats {
    uint64_t env_steps;      /* over all envs */
    uint64_t episodes;
    uint64_t transitions;    /* emitted by n-step */
    uint64_t sent;           /* transitions handed to the replay client */
    uint64_t acked;          /* transitions (and DAgger labels) the shards acknowledged */
    uint64_t batches;
    uint64_t params_version; /* version acted with (0: initial network) */
    uint64_t params_updates; /* newer parameters taken since start */
    size_t held;             /* records of unfinished episodes (not yet transitions) */
    uint64_t ns_env, ns_forward, ns_explore, ns_nstep, ns_send, ns_params;
    /* DAgger */
    uint64_t labels;         /* states labelled (one per env step) */
    uint64_t labels_sent;    /* handed to the replay client */
    uint64_t expert_steps;   /* steps whose action the expert chose */
    uint64_t ns_label;       /* time the expert spent labelling */
    double beta;             /* β of the current iteration */
} actor_stats;

typedef struct actor actor;

/* Builds the envs, network, exploration, buffers, replay client and params socket. NULL with
 * err (EINVAL, ENOMEM, EIO, or what env_make reports). */
actor *actor_new(const actor_config *c, shoal_err *err);

/* Frees a and closes its sockets (call after actor_run returned). NULL is fine. */
void actor_free(actor *a);

/* Runs the loop until *stop becomes nonzero or max_env_steps are taken, then flushes (see
 * above). ETIMEOUT when the first parameters do not come (naming the endpoint and suggesting
 * the architecture check), EARCH when the learner's network differs, EINTERRUPTED when stopped
 * while waiting for them; replay errors (an Error from a shard) end the run. Statistics are
 * valid after an error too. */
int actor_run(actor *a, volatile sig_atomic_t *stop, shoal_err *err);

actor_stats actor_stats_get(const actor *a);

/* The network the actor acts with (borrowed). */
const nn_qnet *actor_net(const actor *a);

/* RND's predictor and normaliser the actor computes its bonus with (NULL without RND). */
const nn_rnd *actor_rnd(const actor *a);

#endif
