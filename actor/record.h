/* Demonstration recording (`shoal demos record`): plays whole episodes of one env with the
 * scripted expert (env/expert.h) or a saved network (greedy; the mean over heads when it has
 * several) and writes them as n-step transitions with the actors' own encoding (actor/nstep.h,
 * actor/buffer.h) into a demo file (replay_demo_writer, replay/client.h), batch transitions
 * per record, with the episodes' statistics. Demo transitions get priority 1 (the learner
 * rewrites priorities of what it samples) and, when the run's network has K > 1 heads, K-bit
 * masks drawn Bernoulli(exploration.mask_p) as the actors draw them, because a shard keeps one
 * head count for all its data.
 *
 *     actor_record_config rc;
 *     actor_record_config_from(cfg, "minatar/breakout", "expert", 10, "b.demo", &rc, &err);
 *     actor_record_summary s;
 *     actor_record_run(&rc, &s, &err);   // s.episodes, s.transitions, s.mean_return
 *
 * An outside policy (a person at the keyboard, `shoal play`) replaces the expert when
 * policy is set: it sees each state before it acts and each episode's end, and may stop the
 * recording at any point. Then transitions go to the file only when their episode has ended,
 * so a stop drops the unfinished episode whole and the file holds complete episodes only; an
 * episode that reaches ACTOR_RECORD_MAX_EPISODE steps (or env.max_episode_steps, when smaller
 * and set) is cut there as a time limit cuts it (truncated, bootstrapped).
 */
#ifndef SHOAL_ACTOR_RECORD_H
#define SHOAL_ACTOR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "common/config.h"
#include "common/err.h"
#include "common/fileio.h"
#include "env/env.h"

/* Steps an outside policy's episode may take before it is cut as truncated: the episode's
 * transitions are held until it ends (at 10 frames a second, 2.7 hours of play). */
#define ACTOR_RECORD_MAX_EPISODE 100000u

/* What an outside policy sees: the env (for rendering; do not step or reset it), the current
 * observation and the episode so far. over: the episode just ended (terminal or truncated;
 * ret, steps and last_reward are final); the policy is asked once more so it can show that,
 * and its action is unused. */
typedef struct actor_record_view {
    const env *e;
    const uint8_t *obs;
    uint64_t episode;  /* episodes recorded before this one */
    uint64_t steps;    /* steps taken in this episode */
    double ret;        /* return so far */
    float last_reward; /* reward of the last step (0 before the first) */
    bool over;
} actor_record_view;

/* Sets *action (< env_n_actions) and returns SHOAL_OK to go on, SHOAL_EINTERRUPTED to end
 * the recording there (the unfinished episode is dropped; not an error), or another code with
 * err set to fail it (nothing is written). */
typedef int (*actor_record_policy)(void *arg, const actor_record_view *v, uint32_t *action,
                                   shoal_err *err);

typedef struct actor_record_config {
    char env_name[256];
    env_options env;
    char plugins[FILEIO_PATH_MAX];
    char checkpoint[FILEIO_PATH_MAX]; /* "" : the scripted expert (or policy) */
    char out[FILEIO_PATH_MAX];
    uint64_t episodes; /* 0 with a policy: until the policy stops */
    size_t n_step, batch;
    float gamma;
    uint32_t n_heads; /* masks of this many bits (0 or 1: none) */
    double mask_p;
    uint64_t seed;
    /* Called after each episode with the episodes done and c->episodes (e.g. pbar_callback,
     * common/pbar.h); NULL: none. actor_record_config_from leaves it NULL. */
    void (*progress)(void *arg, uint64_t done, uint64_t total);
    void *progress_arg;
    /* An outside policy instead of the expert or checkpoint (see above); NULL: none.
     * actor_record_config_from leaves it NULL. */
    actor_record_policy policy;
    void *policy_arg;
} actor_record_config;

typedef struct actor_record_summary {
    uint64_t episodes, transitions, env_steps, records;
    double mean_return;
    uint64_t dropped_steps; /* steps of the unfinished episode a policy's stop dropped */
    bool stopped;           /* the policy ended the recording */
} actor_record_summary;

/* Fills out from [env] (env_name, when not NULL, replaces env.name), [actor] (n_step, gamma,
 * batch), [network] heads, [exploration] mask_p and [run] seed. policy is "expert" or
 * "checkpoint:PATH", or NULL when the caller sets an outside policy (then episodes may be 0).
 * EINVAL names the bad argument. */
int actor_record_config_from(const config *cfg, const char *env_name, const char *policy,
                             uint64_t episodes, const char *out_path, actor_record_config *out,
                             shoal_err *err);

/* Plays c->episodes episodes (with a policy: until it stops, or c->episodes when not 0) and
 * writes the demo file atomically (nothing at c->out on failure; with a policy, also nothing
 * when it stopped before any episode ended: ESTATE). EINVAL (no expert for the game; a
 * checkpoint for another observation shape or action count; a policy's action out of range),
 * errors of env_make, nn_paramfile_load, the demo writer and the policy. */
int actor_record_run(const actor_record_config *c, actor_record_summary *summary,
                     shoal_err *err);

#endif
