/* Cluster layout: which role each MPI world rank plays. The first `replay_shards` ranks are
 * replay shards, the next `learners` are learners, then `evaluators` (0 or 1) evaluators, and
 * every other rank is an actor (ARCHITECTURE.md, Processes and roles). Pure arithmetic, so the
 * same config gives the same layout on every node without any message.
 *
 *     cluster_layout l;
 *     cluster_layout_init(&l, 1, 2, 1, world_size, &err);
 *     cluster_role_of(&l, rank, &role, &index);   // e.g. rank 3 -> CLUSTER_ROLE_EVALUATOR, 0
 */
#ifndef SHOAL_CLUSTER_LAYOUT_H
#define SHOAL_CLUSTER_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum cluster_role {
    CLUSTER_ROLE_REPLAY = 0,
    CLUSTER_ROLE_LEARNER = 1,
    CLUSTER_ROLE_EVALUATOR = 2,
    CLUSTER_ROLE_ACTOR = 3,
} cluster_role;

typedef struct cluster_layout {
    uint32_t replay_shards;
    uint32_t learners;
    uint32_t evaluators;
    uint32_t actors;     /* world_size minus the others */
    uint32_t world_size;
} cluster_layout;

/* Checks the counts against world_size (at least one shard and one learner; evaluators 0 or 1;
 * actors may be 0: see train_check_actorless, cluster/train_roles.h) and fills l. EINVAL says how many
 * processes the layout needs. */
int cluster_layout_init(cluster_layout *l, uint32_t replay_shards, uint32_t learners,
                        uint32_t evaluators, uint32_t world_size, shoal_err *err);

/* Role of world rank and its index among the ranks of that role. rank < world_size. */
void cluster_role_of(const cluster_layout *l, uint32_t rank, cluster_role *role, uint32_t *index);

/* First world rank of role. */
uint32_t cluster_first_rank(const cluster_layout *l, cluster_role role);

/* "replay", "learner", "evaluator" or "actor". */
const char *cluster_role_name(cluster_role role);

/* The role as the user reads it in messages: "replay shard", "learner", "evaluator", "actor". */
const char *cluster_role_title(cluster_role role);

#endif
