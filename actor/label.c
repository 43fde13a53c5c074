#include "actor/label.h"

#include <stdlib.h>
#include <string.h>

#include "actor/explore.h"
#include "common/obs.h"
#include "env/expert.h"
#include "env/rand.h"
#include "nn/paramfile.h"
#include "nn/qnet.h"

struct actor_labeller {
    nn_qnet *net;          /* NULL: the scripted expert */
    actor_explore *greedy; /* ε = 0 acting on the teacher's Q */
    obs_spec spec;
    float *x, *q;          /* (max_batch, ...) teacher inputs and Q-values */
    env_rand expert_rand;
};

int actor_label_parse(const char *key, const char *spec, char *path, size_t cap,
                      shoal_err *err)
{
    const char *p = "";
    if (strncmp(spec, "checkpoint:", 11) == 0 && spec[11]) {
        p = spec + 11;
    } else if (strcmp(spec, "expert") != 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s': expected 'expert' (the game's "
                             "scripted expert) or 'checkpoint:PATH' (a teacher network)", key,
                             spec);
    }
    if (strlen(p) >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: checkpoint path of %zu bytes is too long",
                             key, strlen(p));
    }
    strcpy(path, p);
    return SHOAL_OK;
}

static int load_teacher(actor_labeller *l, const actor_labeller_config *c, shoal_err *err)
{
    char arch[NN_QNET_ARCH_MAX];
    nn_qnet_config nc = nn_qnet_config_minatar(1, 1);
    int rc = nn_paramfile_read_arch(c->checkpoint, arch, sizeof arch, err);
    if (rc == SHOAL_OK) {
        rc = nn_qnet_config_parse(&nc, arch, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    obs_shape s = env_obs_shape(c->env);
    if (nc.in_h != s.h || nc.in_w != s.w || nc.in_c != s.c ||
        nc.n_actions != env_n_actions(c->env)) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: network '%s' does not fit %s (%ux%ux%u "
                             "observations, %u actions)", c->checkpoint, arch, c->env_name, s.h,
                             s.w, s.c, env_n_actions(c->env));
    }
    nc.max_batch = c->max_batch;
    l->net = nn_qnet_new(&nc, err);
    if (!l->net || nn_paramfile_load(c->checkpoint, l->net, NULL, NULL, NULL, err) != SHOAL_OK) {
        return err->code;
    }
    actor_explore_config xc = {.strategy = ACTOR_STRATEGY_EPSILON, .epsilon = 0.0,
                               .mask_p = 1.0, .n_envs = c->max_batch, .n_heads = nc.n_heads,
                               .n_actions = nc.n_actions, .n_actors = 1,
                               .seed = c->expert_seed};
    l->greedy = actor_explore_new(&xc, err);
    if (!l->greedy) {
        return err->code;
    }
    l->x = malloc(c->max_batch * nn_qnet_in_floats(l->net) * sizeof *l->x);
    l->q = malloc(c->max_batch * nc.n_heads * nc.n_actions * sizeof *l->q);
    return l->x && l->q ? SHOAL_OK : shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
}

actor_labeller *actor_labeller_new(const actor_labeller_config *c, shoal_err *err)
{
    if (c->max_batch == 0) {
        shoal_err_set(err, SHOAL_EINVAL, "labeller: max_batch must be at least 1");
        return NULL;
    }
    actor_labeller *l = calloc(1, sizeof *l);
    if (!l) {
        shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
        return NULL;
    }
    l->spec = env_obs_spec(c->env);
    env_rand_seed(&l->expert_rand, ENV_RAND_XOSHIRO, c->expert_seed);
    int rc = obs_spec_finish(&l->spec, err);
    if (rc == SHOAL_OK && c->checkpoint[0]) {
        rc = load_teacher(l, c, err);
    } else if (rc == SHOAL_OK && !env_has_expert(c->env)) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "%s has no scripted expert; use a teacher "
                           "network instead (checkpoint:PATH)", c->env_name);
    }
    if (rc != SHOAL_OK) {
        actor_labeller_free(l);
        return NULL;
    }
    return l;
}

void actor_labeller_free(actor_labeller *l)
{
    if (!l) {
        return;
    }
    nn_qnet_free(l->net);
    actor_explore_free(l->greedy);
    free(l->x);
    free(l->q);
    free(l);
}

void actor_labeller_label(actor_labeller *l, env *const *envs, const uint8_t *obs, size_t n,
                          uint32_t *labels)
{
    if (!l->net) {
        for (size_t i = 0; i < n; i++) {
            labels[i] = env_expert_action(envs[i], &l->expert_rand);
        }
        return;
    }
    obs_unpack_f32(l->x, obs, &l->spec, n);
    nn_qnet_forward(l->net, l->x, n, l->q);
    actor_explore_act(l->greedy, l->q, n, labels);
}

bool actor_labeller_is_teacher(const actor_labeller *l)
{
    return l->net != NULL;
}
