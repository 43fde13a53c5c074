#include "env/expert.h"

bool env_has_expert(const env *e)
{
    return env_game_of(e)->expert != NULL;
}

uint32_t env_expert_action(const env *e, env_rand *r)
{
    const env_game *g = env_game_of(e);
    if (!g->expert) {
        return 0;
    }
    uint32_t native = g->expert(env_game_state(e), r);
    if (env_n_actions(e) == g->n_native_actions) {
        return native; /* full action set: agent index == native index */
    }
    for (uint32_t a = 0; a < g->n_minimal_actions; a++) {
        if (g->minimal_actions[a] == native) {
            return a;
        }
    }
    return 0; /* every minimal set starts with the game's "do nothing" action */
}
