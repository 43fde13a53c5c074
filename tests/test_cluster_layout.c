#include <criterion/criterion.h>
#include <string.h>

#include "cluster/layout.h"

Test(cluster_layout, ranks_take_roles_in_order_shards_learners_evaluator_actors)
{
    cluster_layout l;
    shoal_err err = {0};
    cr_assert_eq(cluster_layout_init(&l, 2, 2, 1, 8, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(l.actors, 3);
    const cluster_role want_role[8] = {CLUSTER_ROLE_REPLAY,    CLUSTER_ROLE_REPLAY,
                                       CLUSTER_ROLE_LEARNER,   CLUSTER_ROLE_LEARNER,
                                       CLUSTER_ROLE_EVALUATOR, CLUSTER_ROLE_ACTOR,
                                       CLUSTER_ROLE_ACTOR,     CLUSTER_ROLE_ACTOR};
    const uint32_t want_index[8] = {0, 1, 0, 1, 0, 0, 1, 2};
    for (uint32_t r = 0; r < 8; r++) {
        cluster_role role;
        uint32_t index;
        cluster_role_of(&l, r, &role, &index);
        cr_assert_eq(role, want_role[r], "rank %u", r);
        cr_assert_eq(index, want_index[r], "rank %u", r);
    }
    cr_assert_eq(cluster_first_rank(&l, CLUSTER_ROLE_ACTOR), 5);
    cr_assert_str_eq(cluster_role_name(CLUSTER_ROLE_EVALUATOR), "evaluator");
}

Test(cluster_layout, without_an_evaluator_actors_follow_the_learners)
{
    cluster_layout l;
    cr_assert_eq(cluster_layout_init(&l, 1, 1, 0, 3, NULL), SHOAL_OK);
    cluster_role role;
    uint32_t index;
    cluster_role_of(&l, 2, &role, &index);
    cr_assert_eq(role, CLUSTER_ROLE_ACTOR);
    cr_assert_eq(index, 0);
}

Test(cluster_layout, too_few_processes_says_how_many_are_needed)
{
    cluster_layout l;
    shoal_err err = {0};
    cr_assert_eq(cluster_layout_init(&l, 1, 2, 1, 3, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "need 4") != NULL, "%s", err.msg);
    cr_assert_eq(cluster_layout_init(&l, 0, 1, 0, 4, &err), SHOAL_EINVAL);
    cr_assert_eq(cluster_layout_init(&l, 1, 1, 2, 9, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "0 or 1") != NULL, "%s", err.msg);
}

Test(cluster_layout, no_actors_is_a_layout_of_its_own)
{
    cluster_layout l;
    cr_assert_eq(cluster_layout_init(&l, 1, 1, 1, 3, NULL), SHOAL_OK);
    cr_assert_eq(l.actors, 0);
    cluster_role role;
    uint32_t index;
    cluster_role_of(&l, 2, &role, &index);
    cr_assert_eq(role, CLUSTER_ROLE_EVALUATOR);
}
