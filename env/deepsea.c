/* bsuite's Deep Sea, specs/algorithms.md §4.1 (deterministic version). An N x N grid, start
 * at the top-left, one row down per step; "right" costs 0.01/N and only N rights in a row
 * reach the +1 at the bottom-right. Which action means "right" is drawn per cell, once per
 * seeding, from mapping_seed (42 by default, as bsuite; from each environment's seed when
 * mapping_seed is -1). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "env/games.h"

typedef struct deepsea {
    int n, row, col;
    int64_t mapping_seed;
    uint8_t *right_action; /* (n, n): the action that moves right in cell (row, col) */
} deepsea;

static void draw_mapping(deepsea *g, uint64_t seed)
{
    rng r;
    rng_init(&r, seed, RNG_ROLE_ENV, 1, 0);
    for (size_t i = 0; i < (size_t)g->n * (size_t)g->n; i++) {
        g->right_action[i] = (uint8_t)rng_bernoulli(&r, 0.5);
    }
}

static void destroy(void *state)
{
    deepsea *g = state;
    if (g) {
        free(g->right_action);
        free(g);
    }
}

static void *create(const double *params, int ramping, env_shape *shape, shoal_err *err)
{
    (void)ramping;
    deepsea *g = calloc(1, sizeof *g);
    if (!g) {
        goto oom;
    }
    g->n = (int)params[0];
    g->mapping_seed = (int64_t)params[1];
    g->right_action = malloc((size_t)g->n * (size_t)g->n);
    if (!g->right_action) {
        goto oom;
    }
    draw_mapping(g, g->mapping_seed >= 0 ? (uint64_t)g->mapping_seed : 0);
    *shape = (env_shape){(uint32_t)g->n, (uint32_t)g->n, 1};
    return g;
oom:
    destroy(g);
    shoal_err_set(err, SHOAL_ENOMEM, "deepsea: out of memory");
    return NULL;
}

static void seed(void *state, uint64_t s)
{
    deepsea *g = state;
    if (g->mapping_seed < 0) {
        draw_mapping(g, s);
    }
}

static void reset(void *state, env_rand *r)
{
    (void)r;
    deepsea *g = state;
    g->row = 0;
    g->col = 0;
}

static float step(void *state, uint32_t a, env_rand *r, int *terminal)
{
    (void)r;
    deepsea *g = state;
    bool right = a == g->right_action[(size_t)g->row * (size_t)g->n + (size_t)g->col];
    float reward = 0;
    if (g->col == g->n - 1 && right) {
        reward += 1.0f;
    }
    if (right) {
        g->col = g->col + 1 < g->n ? g->col + 1 : g->n - 1;
        reward -= 0.01f / (float)g->n;
    } else {
        g->col = g->col > 0 ? g->col - 1 : 0;
    }
    if (++g->row == g->n) {
        *terminal = 1;
    }
    return reward;
}

/* One-hot at (row, col); all zeros after the final step. */
static void observe(const void *state, uint8_t *obs)
{
    const deepsea *g = state;
    if (g->row < g->n) {
        obs[(size_t)g->row * (size_t)g->n + (size_t)g->col] = 1;
    }
}

static uint32_t expert(const void *state, env_rand *r)
{
    (void)r;
    const deepsea *g = state;
    return g->right_action[(size_t)g->row * (size_t)g->n + (size_t)g->col];
}

static const char *const action_names[] = {"action0", "action1"};
static const uint32_t minimal[] = {0, 1};
static const env_param_def params[] = {
    {"size", 10, 1, 4096, 1, "grid side N; the episode lasts N steps"},
    /* 42 as in the bsuite sweep: every env of every actor and the evaluator face the same
     * problem, which a single agent can learn; per-env mappings are a different benchmark. */
    {"mapping_seed", 42, -1, 4294967295.0, 1,
     "seed of the per-cell action mapping, the same for every env (bsuite: 42); -1 draws it "
     "from each environment's seed"},
};

const env_game env_game_deepsea = {
    .name = "deepsea",
    .summary = "bsuite Deep Sea: NxN one-hot, 2 actions, optimal return 0.99",
    .dtype = ENV_DTYPE_UINT8,
    .n_native_actions = 2,
    .action_names = action_names,
    .n_minimal_actions = 2,
    .minimal_actions = minimal,
    .sticky_actions = 0,
    .has_ramping = 0,
    .glyphs = "@",
    .n_params = 2,
    .params = params,
    .create = create,
    .destroy = destroy,
    .seed = seed,
    .reset = reset,
    .step = step,
    .observe = observe,
    .expert = expert,
};
