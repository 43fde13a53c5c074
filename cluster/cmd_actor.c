#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/actor.h"
#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "cluster/watcher.h"
#include "common/endpoints.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

typedef struct args {
    cmdline_args cfg;
    const char *replay, *params, *join;
    uint64_t index, of;
    bool have_index, have_of;
    bool claimed; /* index claimed from the run folder (rundir_claim_join) */
} args;

/* The options that go together: --join, or every endpoint and the ladder position. */
static int check(const cli_command *cmd, const args *a)
{
    if (a->join && (a->replay || a->params)) {
        fprintf(stderr, "shoal actor: --join reads the endpoints from RUN_DIR/endpoints.json; "
                        "leave out --replay and --params\n");
        return EXIT_USAGE;
    }
    if (!a->join && (!a->cfg.config || !a->replay || !a->params || !a->have_index ||
                     !a->have_of)) {
        fprintf(stderr, "shoal actor: --config, --replay, --params, --index and --of are "
                        "required (or --join RUN_DIR)\n");
        cli_synopsis(cmd, stderr);
        return EXIT_USAGE;
    }
    if (a->have_of && a->have_index && a->index >= a->of) {
        fprintf(stderr, "shoal actor: --index %llu must be below --of %llu\n",
                (unsigned long long)a->index, (unsigned long long)a->of);
        return EXIT_USAGE;
    }
    return CMDLINE_RUN;
}

static int parse(int argc, char **argv, args *a)
{
    const char *join_help =
        "join a running job: reads RUN_DIR/config.ini and\n"
        "RUN_DIR/endpoints.json (written by shoal train), and stops when\n"
        "the run does (RUN_DIR/STOP). Without --index the run gives it\n"
        "one: the highest below replay.max_actors no other joiner holds\n"
        "(RUN_DIR/log/join-I.claim), and with N = I + 1 it acts with the\n"
        "ladder's smallest ε";
    const cli_option options[] = {
        CMDLINE_CONFIG(&a->cfg, false),
        {"--replay", "EPS", "the replay shards' endpoints, comma-separated, in shard order",
         .value = &a->replay},
        {"--params", "EP", "the learner's parameter publisher", .value = &a->params},
        {"--index", "I", "this actor's global index (0-based): its ε on the Ape-X ladder,\n"
                         "its shard (I mod shards) and its random streams",
         .number = &a->index, .max = 0xFFFFFFFEu, .given = &a->have_index},
        {"--of", "N", "the number of actors the ladder spans", .number = &a->of,
         .max = 0xFFFFFFFFu, .given = &a->have_of},
        {"--join", "RUN_DIR", join_help, .value = &a->join},
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal actor",
        .usage = "shoal actor --config FILE --replay EP[,EP...] --params EP --index I --of N\n"
                 "                   [--set section.key=value ...]\n"
                 "       shoal actor --join RUN_DIR [--index I --of N] [--set ...]",
        .about = "Runs one actor: [actor].envs environments, one batched forward pass per step,\n"
                 "exploration from [exploration], n-step transitions with initial priorities sent\n"
                 "to the replay shards in batches of actor.batch, parameters from the learner.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "The actor waits actor.params_timeout_s for the first parameters. SIGTERM or SIGINT\n"
                 "sends the transitions it holds and exits 0.",
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    return rc == CMDLINE_RUN ? check(&cmd, a) : rc;
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
        uint32_t max_actors = (uint32_t)config_int(cfg, "replay", "max_actors");
        uint32_t trainer = (uint32_t)config_int(cfg, "cluster", "actors");
        uint32_t index = 0;
        rc = rundir_claim_join(a->join, trainer < max_actors ? trainer : 0, max_actors, &index,
                               err);
        if (rc != SHOAL_OK) {
            return rc;
        }
        a->index = index;
        a->claimed = true;
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
    config *cfg = cmdline_role_config("shoal actor", &a->cfg, a->join, false);
    if (!cfg) {
        return 1;
    }
    shoal_err err = {0};
    static endpoint_file ep;
    static char replay[ENDPOINTS_MAX_SHARDS * ENDPOINTS_MAX_LEN];
    if (a->join && resolve_join(a, cfg, &ep, replay, sizeof replay, &err) != SHOAL_OK) {
        fprintf(stderr, "shoal actor: %s\n", err.msg);
        if (a->claimed) {
            rundir_release_join(a->join, (uint32_t)a->index);
        }
        config_free(cfg);
        return 1;
    }
    if (a->join) {
        printf("shoal actor: joined %s as actor %llu%s\n", a->join,
               (unsigned long long)a->index, a->claimed ? " (the index the run gave it)" : "");
        fflush(stdout);
    }
    cmdline_log_setup(cfg, "actor", (int)a->index);
    static actor_config ac;
    int rc = actor_config_from(cfg, (uint32_t)a->index, (uint32_t)a->of, a->replay, a->params,
                               &ac, &err);
    if (rc == SHOAL_OK && a->join) {
        rc = rundir_resolve(ac.episode_log, sizeof ac.episode_log, a->join, &err);
    }
    if (rc == SHOAL_OK) {
        rc = rundir_curve_keys(cfg, a->join ? a->join : "", false, &ac.curve, &err);
    }
    config_free(cfg);
    actor *act = rc == SHOAL_OK ? actor_new(&ac, &err) : NULL;
    curve_keys_wipe(&ac.curve);
    if (!act) {
        fprintf(stderr, "shoal actor: actor %llu: %s\n", (unsigned long long)a->index, err.msg);
        if (a->claimed) {
            rundir_release_join(a->join, (uint32_t)a->index);
        }
        return 1;
    }
    log_info("actor %llu of %llu: %zu x %s, shards %zu, params %s", (unsigned long long)a->index,
             (unsigned long long)a->of, ac.n_envs, ac.env_name, ac.n_replay, ac.params);
    uint64_t t0 = clock_now_ns();
    /* A joined actor ends with the run: the watcher turns RUN_DIR/STOP into the stop flag (no
     * heartbeat: the run's liveness knows only its own ranks). */
    watcher w = {.run_dir = a->join, .stop = stop};
    if (a->join) {
        watcher_start(&w);
    }
    rc = actor_run(act, stop, &err);
    if (a->join) {
        watcher_join(&w);
    }
    actor_stats st = actor_stats_get(act);
    report(&st, clock_since_s(t0));
    if (rc != SHOAL_OK && !(rc == SHOAL_EINTERRUPTED && *stop)) {
        fprintf(stderr, "shoal actor: actor %llu: %s\n", (unsigned long long)a->index, err.msg);
    } else {
        rc = SHOAL_OK;
    }
    actor_free(act);
    if (a->claimed) {
        rundir_release_join(a->join, (uint32_t)a->index);
    }
    log_close();
    return rc == SHOAL_OK ? 0 : 1;
}

int cmd_actor(int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = run(&a, cluster_stop_on_signals());
    }
    cli_list_fini(&a.cfg.sets);
    return rc;
}
