#include "cluster/layout.h"

#include <assert.h>

int cluster_layout_init(cluster_layout *l, uint32_t replay_shards, uint32_t learners,
                        uint32_t evaluators, uint32_t world_size, shoal_err *err)
{
    if (replay_shards < 1 || learners < 1) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "cluster needs at least 1 replay shard and 1 learner (got "
                             "cluster.replay_shards = %u, cluster.learners = %u)",
                             replay_shards, learners);
    }
    if (evaluators > 1) {
        return shoal_err_set(err, SHOAL_EINVAL, "cluster.evaluators = %u; valid: 0 or 1",
                             evaluators);
    }
    uint64_t fixed = (uint64_t)replay_shards + learners + evaluators;
    if ((uint64_t)world_size < fixed) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "%u processes are too few: %u replay shard(s) + %u learner(s) + %u "
                             "evaluator(s) need %llu, and actors come on top; start more "
                             "processes (mpirun -np) or lower the counts in [cluster]",
                             world_size, replay_shards, learners, evaluators,
                             (unsigned long long)fixed);
    }
    l->replay_shards = replay_shards;
    l->learners = learners;
    l->evaluators = evaluators;
    l->world_size = world_size;
    l->actors = world_size - (uint32_t)fixed;
    return SHOAL_OK;
}

uint32_t cluster_first_rank(const cluster_layout *l, cluster_role role)
{
    switch (role) {
    case CLUSTER_ROLE_REPLAY: return 0;
    case CLUSTER_ROLE_LEARNER: return l->replay_shards;
    case CLUSTER_ROLE_EVALUATOR: return l->replay_shards + l->learners;
    case CLUSTER_ROLE_ACTOR: break;
    }
    return l->replay_shards + l->learners + l->evaluators;
}

void cluster_role_of(const cluster_layout *l, uint32_t rank, cluster_role *role, uint32_t *index)
{
    assert(rank < l->world_size);
    static const cluster_role order[] = {CLUSTER_ROLE_ACTOR, CLUSTER_ROLE_EVALUATOR,
                                         CLUSTER_ROLE_LEARNER, CLUSTER_ROLE_REPLAY};
    for (size_t i = 0; i < 4; i++) {
        uint32_t first = cluster_first_rank(l, order[i]);
        if (rank >= first) {
            *role = order[i];
            *index = rank - first;
            return;
        }
    }
}

const char *cluster_role_name(cluster_role role)
{
    static const char *const names[] = {"replay", "learner", "evaluator", "actor"};
    return names[role];
}

const char *cluster_role_title(cluster_role role)
{
    static const char *const titles[] = {"replay shard", "learner", "evaluator", "actor"};
    return titles[role];
}
