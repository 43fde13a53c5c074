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
 */
#ifndef SHOAL_ACTOR_RECORD_H
#define SHOAL_ACTOR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/fileio.h"
#include "env/env.h"

typedef struct actor_record_config {
    char env_name[256];
    env_options env;
    char plugins[FILEIO_PATH_MAX];
    char checkpoint[FILEIO_PATH_MAX]; /* "" : the scripted expert */
    char out[FILEIO_PATH_MAX];
    uint64_t episodes;
    size_t n_step, batch;
    float gamma;
    uint32_t n_heads; /* masks of this many bits (0 or 1: none) */
    double mask_p;
    uint64_t seed;
    /* Called after each episode with the episodes done and c->episodes (e.g. pbar_callback,
     * common/pbar.h); NULL: none. actor_record_config_from leaves it NULL. */
    void (*progress)(void *arg, uint64_t done, uint64_t total);
    void *progress_arg;
} actor_record_config;

typedef struct actor_record_summary {
    uint64_t episodes, transitions, env_steps, records;
    double mean_return;
} actor_record_summary;

/* Fills out from [env] (env_name, when not NULL, replaces env.name), [actor] (n_step, gamma,
 * batch), [network] heads, [exploration] mask_p and [run] seed. policy is "expert" or
 * "checkpoint:PATH". EINVAL names the bad argument. */
int actor_record_config_from(const config *cfg, const char *env_name, const char *policy,
                             uint64_t episodes, const char *out_path, actor_record_config *out,
                             shoal_err *err);

/* Plays c->episodes episodes and writes the demo file atomically (nothing at c->out on
 * failure). EINVAL (no expert for the game; a checkpoint for another observation shape or
 * action count), errors of env_make, nn_paramfile_load and the demo writer. */
int actor_record_run(const actor_record_config *c, actor_record_summary *summary,
                     shoal_err *err);

#endif
