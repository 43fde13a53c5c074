/* Scripted experts: a heuristic policy per game that plays well above random, used to record
 * demonstrations and as a sanity check of learning curves. Breakout tracks the ball, Asterix
 * walks to gold away from enemies, Freeway crosses when the lane ahead stays clear, Seaquest
 * shoots along its row, collects divers and surfaces for air, Space Invaders dodges bullets
 * and fires under the nearest aliens, DeepSea and Chain take the optimal path. An expert reads
 * the game's state (each game defines its own, env_game.expert), not the observation.
 *
 *     env_rand r; env_rand_seed(&r, ENV_RAND_XOSHIRO, 7);
 *     uint32_t a = env_expert_action(e, &r);   // an agent action of e
 *     env_step(e, a, obs);
 */
#ifndef SHOAL_ENV_EXPERT_H
#define SHOAL_ENV_EXPERT_H

#include <stdbool.h>
#include <stdint.h>

#include "env/env.h"

/* Whether e's game has a scripted expert. */
bool env_has_expert(const env *e);

/* The expert's choice in e's current state, as an agent action index of e (< env_n_actions).
 * r supplies the expert's own random tie-breaks. A game without an expert gets action 0. */
uint32_t env_expert_action(const env *e, env_rand *r);

#endif
