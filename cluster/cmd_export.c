/* `shoal export CHECKPOINT --out FILE`: a parameter file as a NumPy .npz of named tensors in
 * PyTorch's layouts (nn/export.h), with a meta.json entry; and, with --dump-q, observations of
 * the run's game and the network's Q-values for them, so that another implementation of the
 * network (examples/pytorch/) can be checked against shoal's own forward pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/log.h"
#include "common/npz.h"
#include "common/obs.h"
#include "common/rng.h"
#include "env/env.h"
#include "env/env_config.h"
#include "env/registry.h"
#include "nn/export.h"
#include "nn/paramfile.h"

#define EXPORT_FORMAT_VERSION 1
#define DUMP_BATCH 64

typedef struct args {
    cmdline_args cfg;
    cli_list path;
    const char *format, *out, *dump_q;
    uint64_t observations, seed;
    bool config_given, observations_given, seed_given;
} args;

static int parse(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--out", "FILE", "the .npz to write (replaced atomically)", .value = &a->out,
         .required = true},
        {"--format", "FMT", "npz (the only format; the default)", .value = &a->format},
        {"--dump-q", "FILE", "also write observations of [env] and the network's Q-values for\n"
                             "them to FILE (.npz), for comparing another implementation",
         .value = &a->dump_q},
        {"--observations", "N", "observations in the --dump-q file (default 100)",
         .number = &a->observations, .min = 1, .max = 1000000, .given = &a->observations_given},
        {"--seed", "N", "seed of the game and of the random policy that plays it for\n"
                        "--dump-q (default 1)",
         .number = &a->seed, .given = &a->seed_given},
        {"--config", "FILE", "configuration (INI) naming the environment; default:\n"
                             "RUN_DIR/config.ini when CHECKPOINT lies in RUN_DIR/checkpoints/",
         .value = &a->cfg.config, .given = &a->config_given},
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal export",
        .usage = "shoal export CHECKPOINT --out FILE [--format npz] [--config FILE]\n"
                 "                    [--set section.key=value ...]\n"
                 "                    [--dump-q FILE [--observations N] [--seed N]]",
        .about = "Writes every tensor of a parameter file (the prior network's too) into a NumPy\n"
                 ".npz under stable names in PyTorch's layouts (torso.conv0.weight (F, C, 3, 3),\n"
                 "heads.0.out.weight (A, in), prior.*, ...), plus meta.json: the architecture\n"
                 "string, step, frames and, when a configuration names it, the environment.\n"
                 "examples/pytorch/shoal_torch.py loads it into a torch.nn.Module; the layout is\n"
                 "in docs/formats.md (\"Exported network\").",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "--dump-q plays [env] (from the configuration; e.g. --set env.name=minatar/asterix)\n"
                 "with uniformly random actions and writes obs (N, H, W, C), the float32 input\n"
                 "the network saw, and q (N, K, A), its Q-values with the prior added.\n"
                 "Exit status: 0 written, 1 the file, configuration or output was refused,\n"
                 "2 bad usage.",
        .operands = &a->path,
        .max_operands = 1,
        .operand = "CHECKPOINT",
        .operand_required = true,
    };
    return cmdline_parse(&cmd, argc, argv);
}

/* The network stored in path, with its parameters; NULL with err. */
static nn_qnet *load_net(const char *path, size_t max_batch, uint64_t *step, uint64_t *frames,
                         shoal_err *err)
{
    char arch[NN_QNET_ARCH_MAX];
    nn_qnet_config c = {0};
    if (nn_paramfile_read_arch(path, arch, sizeof arch, err) != SHOAL_OK ||
        nn_qnet_config_parse(&c, arch, err) != SHOAL_OK) {
        return NULL;
    }
    c.max_batch = max_batch;
    nn_qnet *net = nn_qnet_new(&c, err);
    if (net && nn_paramfile_load(path, net, NULL, step, frames, err) != SHOAL_OK) {
        nn_qnet_free(net);
        net = NULL;
    }
    return net;
}

static void put_list(FILE *out, const char *key, const size_t *v, size_t n)
{
    fprintf(out, "\"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%zu", i ? ", " : "", v[i]);
    }
    fprintf(out, "], ");
}

/* The fields both files' meta.json share: format, architecture (as a string and as fields, so
 * a reader need not parse the string), counters, and the environment when one is known. */
static void put_common_meta(FILE *out, const char *format, const nn_qnet *net, uint64_t step,
                            uint64_t frames, const char *env_name, const obs_facts *facts)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    fprintf(out, "{\"format\": \"%s\", \"format_version\": %d, \"arch\": ", format,
            EXPORT_FORMAT_VERSION);
    json_write_string(out, nn_qnet_arch(net));
    fprintf(out, ", \"step\": %llu, \"frames\": %llu, ", (unsigned long long)step,
            (unsigned long long)frames);
    size_t in[3] = {c->in_c, c->in_h, c->in_w};
    fprintf(out, "\"network\": {");
    put_list(out, "input_chw", in, 3);
    put_list(out, "conv", c->conv_filters, c->n_conv);
    put_list(out, "shared", c->shared, c->n_shared);
    put_list(out, "dense", c->dense, c->n_dense);
    fprintf(out, "\"n_actions\": %zu, \"n_heads\": %zu, \"dueling\": %s, \"prior_scale\": %.9g}",
            c->n_actions, c->n_heads, c->dueling ? "true" : "false", (double)c->prior_scale);
    if (env_name) {
        fprintf(out, ", \"env\": {\"name\": ");
        json_write_string(out, env_name);
        fprintf(out, ", \"obs_hwc\": [%u, %u, %u], \"obs_dtype\": \"%s\", \"n_actions\": %u}",
                facts->obs.shape.h, facts->obs.shape.w, facts->obs.shape.c,
                obs_dtype_name(facts->obs.dtype), facts->n_actions);
    }
}

/* meta.json text (caller frees); NULL when out of memory. extra is added inside the object. */
static char *meta_json(const char *format, const nn_qnet *net, uint64_t step, uint64_t frames,
                       const config *cfg, const char *extra)
{
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    if (!out) {
        return NULL;
    }
    obs_facts facts;
    const char *env_name = NULL;
    if (cfg && obs_facts_from_config(cfg, &facts, NULL) == SHOAL_OK) {
        env_name = config_str(cfg, "env", "name");
    }
    put_common_meta(out, format, net, step, frames, env_name, &facts);
    fprintf(out, "%s}\n", extra ? extra : "");
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The network's input must be the environment's observation and its output its actions. */
static int check_matches(const nn_qnet *net, const obs_spec *spec, uint32_t n_actions,
                         const char *env_name, shoal_err *err)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    if (c->in_h != spec->shape.h || c->in_w != spec->shape.w || c->in_c != spec->shape.c ||
        c->n_actions != n_actions) {
        return shoal_err_set(err, SHOAL_EARCH, "the network \"%s\" takes %zux%zux%zu "
                             "observations and %zu actions, but %s has %ux%ux%u and %u; name the "
                             "run's game with --config or --set env.name=...", nn_qnet_arch(net),
                             c->in_h, c->in_w, c->in_c, c->n_actions, env_name, spec->shape.h,
                             spec->shape.w, spec->shape.c, n_actions);
    }
    return SHOAL_OK;
}

/* Plays env.name with uniformly random actions from (seed, RNG_ROLE_TOOL), collecting n
 * observations as the float32 input the network sees (x: n * H*W*C) and their Q-values
 * (q: n * K*A), evaluated DUMP_BATCH at a time. */
static int play_and_score(nn_qnet *net, const config *cfg, uint64_t seed, size_t n, float *x,
                          float *q, shoal_err *err)
{
    env_options opt;
    env_registry *reg = env_registry_from_config(cfg, err);
    if (!reg) {
        return err->code;
    }
    const char *name = config_str(cfg, "env", "name");
    env *e = NULL;
    if (env_options_from_config(&opt, cfg, err) == SHOAL_OK) {
        e = env_make(reg, name, &opt, err);
    }
    uint8_t *obs = NULL;
    int rc = e ? SHOAL_OK : err->code;
    obs_spec spec = e ? env_obs_spec(e) : (obs_spec){0};
    if (rc == SHOAL_OK) {
        rc = check_matches(net, &spec, env_n_actions(e), name, err);
    }
    if (rc == SHOAL_OK && !(obs = malloc(spec.bytes))) {
        rc = shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
    }
    if (rc == SHOAL_OK) {
        size_t in = nn_qnet_in_floats(net);
        size_t out = nn_qnet_config_of(net)->n_heads * nn_qnet_config_of(net)->n_actions;
        rng r;
        rng_init(&r, seed, RNG_ROLE_TOOL, 0, 0);
        env_seed(e, seed);
        env_reset(e, obs);
        for (size_t i = 0; i < n; i++) {
            obs_unpack_f32(x + i * in, obs, &spec, 1);
            env_step_result s = env_step(e, (uint32_t)rng_below(&r, env_n_actions(e)), obs);
            if (s.terminal || s.truncated) {
                env_reset(e, obs);
            }
        }
        for (size_t i = 0; i < n; i += DUMP_BATCH) {
            size_t b = n - i < DUMP_BATCH ? n - i : DUMP_BATCH;
            nn_qnet_forward(net, x + i * in, b, q + i * out);
        }
    }
    free(obs);
    env_free(e);
    env_registry_free(reg);
    return rc;
}

/* The --dump-q data: observations x (n, H, W, C) and Q-values q (n, K, A), computed before
 * anything is written so that a game that does not fit the network leaves no file behind. */
typedef struct qdump {
    size_t n;
    float *x, *q;
    char *meta;
} qdump;

static void qdump_fini(qdump *d)
{
    free(d->x);
    free(d->q);
    free(d->meta);
}

static int qdump_compute(qdump *d, const args *a, nn_qnet *net, uint64_t step, uint64_t frames,
                         const config *cfg, shoal_err *err)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    d->n = (size_t)a->observations;
    d->x = malloc(d->n * nn_qnet_in_floats(net) * sizeof *d->x);
    d->q = malloc(d->n * c->n_heads * c->n_actions * sizeof *d->q);
    char extra[256];
    snprintf(extra, sizeof extra, ", \"observations\": %zu, \"seed\": %llu, \"policy\": "
             "\"uniform random\"", d->n, (unsigned long long)a->seed);
    d->meta = meta_json("shoal-qdump", net, step, frames, cfg, extra);
    if (!d->x || !d->q || !d->meta) {
        return shoal_err_set(err, SHOAL_ENOMEM, "out of memory");
    }
    return play_and_score(net, cfg, a->seed, d->n, d->x, d->q, err);
}

static int qdump_write(const qdump *d, const nn_qnet *net, const char *path, shoal_err *err)
{
    const nn_qnet_config *c = nn_qnet_config_of(net);
    npz_writer *w = npz_writer_open(path, err);
    if (!w) {
        return err->code;
    }
    size_t x_shape[4] = {d->n, c->in_h, c->in_w, c->in_c};
    size_t q_shape[3] = {d->n, c->n_heads, c->n_actions};
    int rc = npz_writer_add_f32(w, "obs", x_shape, 4, d->x, err);
    if (rc == SHOAL_OK) {
        rc = npz_writer_add_f32(w, "q", q_shape, 3, d->q, err);
    }
    if (rc == SHOAL_OK) {
        rc = npz_writer_add_file(w, NN_EXPORT_META, d->meta, strlen(d->meta), err);
    }
    if (rc == SHOAL_OK) {
        rc = npz_writer_commit(&w, err);
    }
    npz_writer_abort(&w);
    return rc;
}

/* The configuration that names the checkpoint's environment: --config, the run's config.ini,
 * or (only when --dump-q needs an environment anyway) the defaults with --set. NULL without
 * an error when there is none to be had; *failed when one was asked for and refused. */
static config *find_config(const args *a, bool *failed)
{
    char run_dir[FILEIO_PATH_MAX], ini[FILEIO_PATH_MAX];
    const char *dir = rundir_of_checkpoint(a->path.items[0], run_dir, sizeof run_dir);
    bool have_run_config = dir && rundir_path(ini, sizeof ini, dir, "config.ini", NULL) ==
                                      SHOAL_OK && access(ini, R_OK) == 0;
    *failed = false;
    if (!a->config_given && !have_run_config && !a->dump_q && a->cfg.sets.n == 0) {
        return NULL;
    }
    config *cfg = cmdline_role_config("shoal export", &a->cfg, dir, true);
    *failed = cfg == NULL;
    return cfg;
}

static int export_checkpoint(const args *a)
{
    const char *path = a->path.items[0];
    if (a->format && strcmp(a->format, "npz") != 0) {
        fprintf(stderr, "shoal export: --format %s: unknown format; the formats are: npz\n",
                a->format);
        return EXIT_USAGE;
    }
    if (!a->dump_q && (a->observations_given || a->seed_given)) {
        fprintf(stderr, "shoal export: --observations and --seed belong to --dump-q FILE\n");
        return EXIT_USAGE;
    }
    log_setup("export", 0, LOG_WARN, NULL, NULL);
    bool failed = false;
    config *cfg = find_config(a, &failed);
    if (failed) {
        return 1;
    }
    shoal_err err = {0};
    uint64_t step = 0, frames = 0;
    nn_qnet *net = load_net(path, DUMP_BATCH, &step, &frames, &err);
    char *meta = net ? meta_json("shoal-npz", net, step, frames, cfg, NULL) : NULL;
    int rc = net ? SHOAL_OK : err.code;
    if (rc == SHOAL_OK && !meta) {
        rc = shoal_err_set(&err, SHOAL_ENOMEM, "out of memory");
    }
    qdump d = {0};
    if (rc == SHOAL_OK && a->dump_q) {
        rc = qdump_compute(&d, a, net, step, frames, cfg, &err);
    }
    if (rc == SHOAL_OK) {
        rc = nn_export_npz(net, meta, a->out, &err);
    }
    if (rc == SHOAL_OK && a->dump_q) {
        rc = qdump_write(&d, net, a->dump_q, &err);
    }
    qdump_fini(&d);
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal export: %s\n", err.msg);
    }
    free(meta);
    nn_qnet_free(net);
    config_free(cfg);
    return rc == SHOAL_OK ? 0 : 1;
}

int cmd_export(int argc, char **argv)
{
    args a = {.observations = 100, .seed = 1};
    int rc = parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = export_checkpoint(&a);
    }
    cli_list_fini(&a.path);
    cli_list_fini(&a.cfg.sets);
    return rc;
}
