/* An expert that labels states with its action: the scripted expert of the env's game
 * (env/expert.h), which reads each env's state, or a teacher network loaded from a checkpoint
 * (nn/paramfile.h), whose label is its greedy action on the observation (the mean over heads
 * when it has several). DAgger's actors (actor.label) label every state they visit with it,
 * and `shoal demos record --policy` plays with it. Nothing allocates after
 * actor_labeller_new.
 *
 *     char ckpt[FILEIO_PATH_MAX];
 *     actor_label_parse("actor.label", "checkpoint:teacher.ckpt", ckpt, sizeof ckpt, &err);
 *     actor_labeller_config lc = {.checkpoint = ckpt, .env_name = "minatar/breakout",
 *                                 .env = e0, .max_batch = E, .expert_seed = 7};
 *     actor_labeller *l = actor_labeller_new(&lc, &err);
 *     actor_labeller_label(l, envs, obs, E, labels);   // labels[i]: the expert's action in i
 */
#ifndef SHOAL_ACTOR_LABEL_H
#define SHOAL_ACTOR_LABEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "env/env.h"

/* Parses an expert spec, "expert" or "checkpoint:PATH", into path ("" for the scripted expert).
 * EINVAL naming key (e.g. "actor.label") and the two forms. */
int actor_label_parse(const char *key, const char *spec, char *path, size_t cap,
                      shoal_err *err);

typedef struct actor_labeller_config {
    const char *checkpoint; /* "": the scripted expert; else a teacher network's file */
    const char *env_name;   /* for messages */
    const env *env;         /* one env of the game: whether it has an expert, the obs facts */
    size_t max_batch;       /* states per actor_labeller_label call */
    uint64_t expert_seed;   /* the scripted expert's own tie-breaks */
} actor_labeller_config;

typedef struct actor_labeller actor_labeller;

/* EINVAL when the game has no scripted expert, or the checkpoint's network does not fit the
 * env's observations and actions; the errors of nn_paramfile_read_arch/load; ENOMEM. */
actor_labeller *actor_labeller_new(const actor_labeller_config *c, shoal_err *err);

void actor_labeller_free(actor_labeller *l);

/* Writes the expert's action for n states (n <= max_batch) into labels: the scripted expert
 * reads envs[i]'s current state, a teacher reads obs (n observations in the env's encoding). */
void actor_labeller_label(actor_labeller *l, env *const *envs, const uint8_t *obs, size_t n,
                          uint32_t *labels);

/* Whether l is a teacher network (else the scripted expert). */
bool actor_labeller_is_teacher(const actor_labeller *l);

#endif
