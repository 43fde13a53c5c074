#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/actor.h"
#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "common/endpoints.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

/* Joined actors without --index take one of the highest ids the shards accept, which
 * `shoal train` does not hand out unless it runs that many actors. */
#define JOIN_SPREAD 64u

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal actor --config FILE --replay EP[,EP...] --params EP --index I --of N\n"
            "                   [--set section.key=value ...]\n"
            "       shoal actor --join RUN_DIR [--index I --of N] [--set ...]\n"
            "\n"
            "Runs one actor: [actor].envs environments, one batched forward pass per step,\n"
            "exploration from [exploration], n-step transitions with initial priorities sent\n"
            "to the replay shards in batches of actor.batch, parameters from the learner.\n"
            "\n"
            "  --config FILE    configuration file (INI)\n"
            "  --replay EPS     the replay shards' endpoints, comma-separated, in shard order\n"
            "  --params EP      the learner's parameter publisher\n"
            "  --index I        this actor's global index (0-based): its ε on the Ape-X ladder,\n"
            "                   its shard (I mod shards) and its random streams\n"
            "  --of N           the number of actors the ladder spans\n"
            "  --join RUN_DIR   join a running job: reads RUN_DIR/config.ini and\n"
            "                   RUN_DIR/endpoints.json (written by shoal train). Without --index\n"
            "                   the actor takes index replay.max_actors - 1 - (pid mod %u), ids\n"
            "                   the trainer only uses with that many actors, and with N = I + 1\n"
            "                   it acts with the ladder's smallest ε\n"
            "  --set k=v        override a configuration key (repeatable)\n"
            "\n"
            "The actor waits actor.params_timeout_s for the first parameters. SIGTERM or SIGINT\n"
            "sends the transitions it holds and exits 0.\n",
            JOIN_SPREAD);
}

typedef struct args {
    const char *config, *replay, *params, *join;
    uint64_t index, of;
    bool have_index, have_of;
    const char **sets;
    int n_sets;
} args;

static int parse_u64_opt(const char *v, const char *opt, uint64_t max, uint64_t *out)
{
    shoal_err err = {0};
    if (cli_parse_u64(v, opt, out, &err) != SHOAL_OK || *out > max) {
        fprintf(stderr, "shoal actor: %s needs a number 0..%llu ('%s')\n", opt,
                (unsigned long long)max, v);
        return EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to go on, or the exit code. */
static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char *opt = argv[i];
        int rc = -1;
        if (cli_is_help(opt)) {
            usage(stdout);
            return 0;
        } else if (cli_match(argc, argv, &i, "--config", &v)) {
            a->config = v;
        } else if (cli_match(argc, argv, &i, "--replay", &v)) {
            a->replay = v;
        } else if (cli_match(argc, argv, &i, "--params", &v)) {
            a->params = v;
        } else if (cli_match(argc, argv, &i, "--join", &v)) {
            a->join = v;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            a->sets[a->n_sets++] = v;
        } else if (cli_match(argc, argv, &i, "--index", &v)) {
            rc = v ? parse_u64_opt(v, "--index", 0xFFFFFFFEu, &a->index) : -1;
            a->have_index = true;
        } else if (cli_match(argc, argv, &i, "--of", &v)) {
            rc = v ? parse_u64_opt(v, "--of", 0xFFFFFFFFu, &a->of) : -1;
            a->have_of = true;
        } else {
            fprintf(stderr, "shoal actor: unexpected argument '%s'\n", opt);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "shoal actor: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
        if (rc >= 0) {
            return rc;
        }
    }
    if (a->join) {
        if (a->replay || a->params) {
            fprintf(stderr, "shoal actor: --join reads the endpoints from RUN_DIR/endpoints.json; "
                            "leave out --replay and --params\n");
            return EXIT_USAGE;
        }
    } else if (!a->config || !a->replay || !a->params || !a->have_index || !a->have_of) {
        fprintf(stderr, "shoal actor: --config, --replay, --params, --index and --of are "
                        "required (or --join RUN_DIR)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (a->have_of && a->have_index && a->index >= a->of) {
        fprintf(stderr, "shoal actor: --index %llu must be below --of %llu\n",
                (unsigned long long)a->index, (unsigned long long)a->of);
        return EXIT_USAGE;
    }
    return -1;
}

/* Endpoints, config path and index of a --join. */
static int resolve_join(args *a, const config *cfg, endpoint_file *ep, char *replay,
                        size_t cap, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    snprintf(path, sizeof path, "%s/endpoints.json", a->join);
    int rc = endpoints_read(path, ep, err);
    if (rc == SHOAL_OK) {
        rc = endpoints_join_replay(ep, replay, cap, err);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    a->replay = replay;
    a->params = ep->params;
    if (!a->have_index) {
        uint64_t max_actors = (uint64_t)config_int(cfg, "replay", "max_actors");
        uint64_t spread = max_actors < JOIN_SPREAD ? max_actors : JOIN_SPREAD;
        a->index = max_actors - 1 - (uint64_t)getpid() % spread;
    }
    if (!a->have_of) {
        a->of = a->index + 1;
    }
    if (a->index >= a->of) {
        return shoal_err_set(err, SHOAL_EINVAL, "--index %llu must be below --of %llu",
                             (unsigned long long)a->index, (unsigned long long)a->of);
    }
    return SHOAL_OK;
}

static config *load_config(const args *a, shoal_err *err)
{
    char path[FILEIO_PATH_MAX];
    const char *file = a->config;
    if (!file && a->join) {
        snprintf(path, sizeof path, "%s/config.ini", a->join);
        file = path;
    }
    return cluster_with_env_facts(shoal_config_load(file, a->sets, a->n_sets, err), err);
}

static void report(const actor_stats *s, double secs)
{
    printf("actor: %llu env steps in %.1f s (%.0f/s), %llu episodes, %llu transitions sent in "
           "%llu batches, %llu acknowledged, parameters version %llu (%llu updates)\n",
           (unsigned long long)s->env_steps, secs, secs > 0 ? (double)s->env_steps / secs : 0.0,
           (unsigned long long)s->episodes, (unsigned long long)s->sent,
           (unsigned long long)s->batches, (unsigned long long)s->acked,
           (unsigned long long)s->params_version, (unsigned long long)s->params_updates);
}

static int run(args *a, volatile sig_atomic_t *stop)
{
    shoal_err err = {0};
    config *cfg = load_config(a, &err);
    if (!cfg) {
        fprintf(stderr, "shoal actor: %s\n", err.msg);
        return 1;
    }
    static endpoint_file ep;
    static char replay[ENDPOINTS_MAX_SHARDS * ENDPOINTS_MAX_LEN];
    if (a->join && resolve_join(a, cfg, &ep, replay, sizeof replay, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal actor: %s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    const char *log_file = config_str(cfg, "log", "file");
    log_setup("actor", (int)a->index, level, log_file[0] ? log_file : NULL, NULL);
    static actor_config ac;
    int rc = actor_config_from(cfg, (uint32_t)a->index, (uint32_t)a->of, a->replay, a->params,
                               &ac, &err);
    if (rc == SHOAL_OK && a->join) {
        rc = rundir_resolve(ac.episode_log, sizeof ac.episode_log, a->join, &err);
    }
    config_free(cfg);
    actor *act = rc == SHOAL_OK ? actor_new(&ac, &err) : NULL;
    if (!act) {
        fprintf(stderr, "shoal actor: actor %llu: %s\n", (unsigned long long)a->index, err.msg);
        return 1;
    }
    log_info("actor %llu of %llu: %zu x %s, shards %zu, params %s", (unsigned long long)a->index,
             (unsigned long long)a->of, ac.n_envs, ac.env_name, ac.n_replay, ac.params);
    uint64_t t0 = clock_now_ns();
    rc = actor_run(act, stop, &err);
    actor_stats st = actor_stats_get(act);
    report(&st, clock_since_s(t0));
    if (rc != SHOAL_OK && !(rc == SHOAL_EINTERRUPTED && *stop)) {
        fprintf(stderr, "shoal actor: actor %llu: %s\n", (unsigned long long)a->index, err.msg);
    } else {
        rc = SHOAL_OK;
    }
    actor_free(act);
    log_close();
    return rc == SHOAL_OK ? 0 : 1;
}

int cmd_actor(int argc, char **argv)
{
    args a = {0};
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets) {
        fprintf(stderr, "shoal actor: out of memory\n");
        return 1;
    }
    int rc = parse(argc, argv, &a);
    if (rc < 0) {
        rc = run(&a, cluster_stop_on_signals());
    }
    free(a.sets);
    return rc;
}
