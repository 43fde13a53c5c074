/* Shared by the learner tests and the MPI check program: a fixed, seeded dataset of decoded
 * transitions for learner_update, and the small update configuration they train. */
#ifndef SHOAL_TESTS_LEARNER_FIXTURES_H
#define SHOAL_TESTS_LEARNER_FIXTURES_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "learner/update.h"

#define LX_IN 400 /* 10 x 10 x 4 */
#define LX_ACTIONS 3

typedef struct lx_data {
    size_t n;
    float *obs, *next_obs, *reward, *discount, *weight;
    uint32_t *action;
    uint8_t *demo;
} lx_data;

/* n transitions drawn from stream (seed, TOOL, 0, 0): random bit observations, rewards in
 * {0, 1}, discount 0.99 or 0, weights in (0.5, 1], every fourth a demonstration. */
static inline void lx_data_init(lx_data *d, size_t n, uint64_t seed)
{
    rng r;
    rng_init(&r, seed, RNG_ROLE_TOOL, 0, 0);
    d->n = n;
    d->obs = malloc(n * LX_IN * sizeof(float));
    d->next_obs = malloc(n * LX_IN * sizeof(float));
    d->reward = malloc(n * sizeof(float));
    d->discount = malloc(n * sizeof(float));
    d->weight = malloc(n * sizeof(float));
    d->action = malloc(n * sizeof(uint32_t));
    d->demo = malloc(n);
    for (size_t i = 0; i < n * LX_IN; i++) {
        d->obs[i] = (float)rng_bernoulli(&r, 0.1);
        d->next_obs[i] = (float)rng_bernoulli(&r, 0.1);
    }
    for (size_t i = 0; i < n; i++) {
        d->action[i] = (uint32_t)rng_below(&r, LX_ACTIONS);
        d->reward[i] = (float)rng_bernoulli(&r, 0.3);
        d->discount[i] = rng_bernoulli(&r, 0.9) ? 0.99f : 0.0f;
        d->weight[i] = 0.5f + 0.5f * (float)rng_uniform(&r) + 1e-3f;
        d->weight[i] = d->weight[i] > 1.0f ? 1.0f : d->weight[i];
        d->demo[i] = i % 4 == 0;
    }
}

static inline void lx_data_fini(lx_data *d)
{
    free(d->obs);
    free(d->next_obs);
    free(d->reward);
    free(d->discount);
    free(d->weight);
    free(d->action);
    free(d->demo);
}

/* The largest |a_i - b_i| over n floats; *largest gets the largest |b_i|. */
static inline double lx_max_diff(const float *a, const float *b, size_t n, double *largest)
{
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        m = d > m ? d : m;
        s = fabs((double)b[i]) > s ? fabs((double)b[i]) : s;
    }
    *largest = s;
    return m;
}

/* The samples [first, first + n) as a batch. */
static inline learner_batch lx_batch(const lx_data *d, size_t first, size_t n)
{
    return (learner_batch){.count = n, .obs = d->obs + first * LX_IN,
                           .next_obs = d->next_obs + first * LX_IN,
                           .action = d->action + first, .reward = d->reward + first,
                           .discount = d->discount + first, .mask = NULL,
                           .weight = d->weight + first, .demo = d->demo + first};
}

/* The MinAtar network on 10x10x4 with 3 actions, Adam, DQfD terms on, target every 3. */
static inline learner_update_config lx_config(size_t max_batch, float lr)
{
    learner_update_config c;
    memset(&c, 0, sizeof c);
    c.net = nn_qnet_config_minatar(4, LX_ACTIONS);
    c.net.max_batch = max_batch;
    c.net.seed = 11;
    c.optim = nn_optim_adam(lr);
    c.optim.eps = 3.125e-4f;
    c.double_q = 1;
    c.margin = 0.8f;
    c.lambda_demo = 1.0f;
    c.l2 = 1e-5f;
    c.target_period = 3;
    c.allreduce_overlap = 1; /* learner.allreduce_overlap's default */
    return c;
}

#endif
