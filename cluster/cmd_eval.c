/* `shoal eval CHECKPOINT`: evaluate one parameter file and print the result; `shoal evaluate
 * --run-dir DIR`: the evaluator role on its own, watching DIR/checkpoints until a signal.
 * Both read the run's own config.ini when no --config is given, so the environment matches
 * the one the network was trained on. */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/commands.h"
#include "cluster/envfacts.h"
#include "common/cli.h"
#include "common/fileio.h"
#include "common/log.h"
#include "evaluator/results.h"
#include "evaluator/watch.h"

/* Set by SIGTERM/SIGINT; the evaluator checks it between environment steps. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static void eval_usage(FILE *out)
{
    fprintf(out,
            "usage: shoal eval CHECKPOINT [--config FILE] [--set section.key=value ...]\n"
            "                  [--episodes N] [--json]\n"
            "\n"
            "Evaluates one parameter file (e.g. runs/x/checkpoints/step-1000.ckpt): plays\n"
            "evaluator.episodes episodes of [env] with epsilon-greedy actions (evaluator.epsilon),\n"
            "by majority vote for a bootstrapped network, whose heads also play on their own.\n"
            "\n"
            "  --config FILE   configuration (INI); default: RUN_DIR/config.ini when CHECKPOINT\n"
            "                  lies in RUN_DIR/checkpoints/ and that file exists, else the defaults\n"
            "  --set k=v       override a configuration key (repeatable)\n"
            "  --episodes N    episodes to play (evaluator.episodes)\n"
            "  --json          print the eval.jsonl object instead of text\n"
            "\n"
            "Exit status: 0 evaluated, 1 the file or configuration was refused, 2 bad usage.\n");
}

static void evaluate_usage(FILE *out)
{
    fprintf(out,
            "usage: shoal evaluate --run-dir DIR [--config FILE] [--set section.key=value ...]\n"
            "\n"
            "Runs the evaluator role: watches DIR/checkpoints/ for step-<N>.ckpt files and\n"
            "evaluates each one once, newest first (evaluator.catch_up), appending to\n"
            "DIR/eval.csv and DIR/eval.jsonl and redrawing DIR/eval.svg. Checkpoints already\n"
            "in DIR/eval.jsonl are not evaluated again. Files that cannot be read are skipped\n"
            "with a warning.\n"
            "\n"
            "  --run-dir DIR   the run folder\n"
            "  --config FILE   configuration (INI); default: DIR/config.ini when it exists\n"
            "  --set k=v       override a configuration key (repeatable)\n"
            "\n"
            "SIGINT or SIGTERM stops it (an evaluation in progress is dropped); exit 0.\n");
}

typedef struct args {
    const char *path;     /* eval: the checkpoint */
    const char *run_dir;  /* evaluate */
    const char *config;
    const char *episodes;
    bool json;
    const char **sets;
    int n_sets;
} args;

/* Parses the options both commands share and the ones of `eval` (is_eval). Returns -1 to go
 * on, or the exit code. */
static int parse(const char *cmd, bool is_eval, int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v = "";
        const char *opt = argv[i];
        if (cli_is_help(opt)) {
            is_eval ? eval_usage(stdout) : evaluate_usage(stdout);
            return 0;
        } else if (cli_match(argc, argv, &i, "--config", &v)) {
            a->config = v;
        } else if (cli_match(argc, argv, &i, "--set", &v)) {
            a->sets[a->n_sets++] = v;
        } else if (is_eval && cli_match(argc, argv, &i, "--episodes", &v)) {
            a->episodes = v;
        } else if (is_eval && cli_flag(opt, "--json")) {
            a->json = true;
        } else if (!is_eval && cli_match(argc, argv, &i, "--run-dir", &v)) {
            a->run_dir = v;
        } else if (is_eval && opt[0] != '-' && !a->path) {
            a->path = opt;
        } else {
            fprintf(stderr, "shoal %s: unexpected argument '%s'\n", cmd, opt);
            is_eval ? eval_usage(stderr) : evaluate_usage(stderr);
            return EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "shoal %s: %s needs a value\n", cmd, opt);
            return EXIT_USAGE;
        }
    }
    if (is_eval ? !a->path : !a->run_dir) {
        fprintf(stderr, "shoal %s: %s is required\n", cmd, is_eval ? "CHECKPOINT" : "--run-dir");
        is_eval ? eval_usage(stderr) : evaluate_usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

/* The configuration: --config, else run_dir/config.ini when it exists (run_dir may be NULL),
 * else the defaults; then the overrides. */
static config *load_config(const char *cmd, const args *a, const char *run_dir)
{
    char run_config[FILEIO_PATH_MAX];
    const char *path = a->config;
    struct stat st;
    if (!path && run_dir &&
        (size_t)snprintf(run_config, sizeof run_config, "%s/config.ini", run_dir) <
            sizeof run_config &&
        stat(run_config, &st) == 0) {
        path = run_config;
        log_info("using the run's configuration %s", path);
    }
    shoal_err err = {0};
    config *cfg = cluster_with_env_facts(shoal_config_load(path, a->sets, a->n_sets, &err), &err);
    if (!cfg) {
        fprintf(stderr, "shoal %s: %s\n", cmd, err.msg);
    }
    return cfg;
}

static void setup_log(const config *cfg, const char *role)
{
    log_level level = LOG_INFO;
    log_level_parse(config_str(cfg, "log", "level"), &level, NULL);
    const char *file = config_str(cfg, "log", "file");
    log_setup(role, 0, level, file[0] ? file : NULL, NULL);
}

/* RUN_DIR of a checkpoint in RUN_DIR/checkpoints/, into buf; NULL when it is elsewhere. */
static const char *run_dir_of(const char *checkpoint, char *buf, size_t cap)
{
    char copy[FILEIO_PATH_MAX];
    if ((size_t)snprintf(copy, sizeof copy, "%s", checkpoint) >= sizeof copy) {
        return NULL;
    }
    char *folder = dirname(copy);
    size_t n = strlen(folder);
    if (n < 11 || strcmp(folder + n - 11, "checkpoints") != 0 ||
        (n > 11 && folder[n - 12] != '/')) {
        return NULL;
    }
    if (n == 11) {
        snprintf(buf, cap, ".");
    } else {
        snprintf(buf, cap, "%.*s", (int)(n - 12), folder);
    }
    return buf[0] ? buf : "/";
}

static void print_text(const char *path, const evaluator_player_config *pc,
                       const evaluator_result *r)
{
    printf("%s: step %llu, %llu frames, %s\n", path, (unsigned long long)r->step,
           (unsigned long long)r->frames, pc->env_name);
    printf("mean return %.4g \u00b1 %.3g (min %.4g, max %.4g) over %zu episodes, epsilon %g, "
           "%llu steps in %.2f s\n",
           r->mean, r->std, r->min, r->max, r->episodes, pc->epsilon,
           (unsigned long long)r->env_steps, r->seconds);
    if (r->n_heads > 1) {
        printf("%zu heads acting by majority vote", r->n_heads);
        if (r->head_episodes > 0) {
            printf("; each head alone (%zu episodes):", r->head_episodes);
            for (size_t k = 0; k < r->n_heads; k++) {
                printf(" %.4g", r->head_mean[k]);
            }
        }
        printf("\n");
    }
}

static int eval_one(const args *a)
{
    char run_dir[FILEIO_PATH_MAX];
    log_setup("eval", 0, LOG_WARN, NULL, NULL);
    config *cfg = load_config("eval", a, run_dir_of(a->path, run_dir, sizeof run_dir));
    if (!cfg) {
        return 1;
    }
    shoal_err err = {0};
    char set[64];
    if (a->episodes) {
        snprintf(set, sizeof set, "evaluator.episodes=%s", a->episodes);
        if (config_set(cfg, set, "--episodes", &err) != SHOAL_OK) {
            fprintf(stderr, "shoal eval: %s\n", err.msg);
            config_free(cfg);
            return EXIT_USAGE;
        }
    }
    evaluator_player_config pc;
    evaluator_player *p = NULL;
    if (evaluator_player_config_from(cfg, &pc, &err) == SHOAL_OK) {
        p = evaluator_player_new(&pc, &err);
    }
    config_free(cfg);
    evaluator_result r;
    struct stat st;
    int rc = p ? evaluator_player_eval_file(p, a->path, &stop_requested, &r, &err) : err.code;
    if (rc == SHOAL_OK && stat(a->path, &st) != 0) {
        memset(&st, 0, sizeof st);
    }
    if (rc == SHOAL_OK && a->json) {
        evaluator_json_info info = {a->path, pc.env_name, pc.epsilon};
        double wall = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
        rc = evaluator_json_write(stdout, &info, &r, wall, &err);
    } else if (rc == SHOAL_OK) {
        print_text(a->path, &pc, &r);
    }
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal eval: %s\n", err.msg);
    }
    evaluator_player_free(p);
    return rc == SHOAL_OK ? 0 : 1;
}

static int watch(const args *a)
{
    log_setup("evaluator", 0, LOG_INFO, NULL, NULL);
    config *cfg = load_config("evaluate", a, a->run_dir);
    if (!cfg) {
        return 1;
    }
    setup_log(cfg, "evaluator");
    shoal_err err = {0};
    evaluator_config ec;
    evaluator *e = NULL;
    if (evaluator_config_from(cfg, a->run_dir, &ec, &err) == SHOAL_OK) {
        e = evaluator_new(&ec, &err);
    }
    config_free(cfg);
    int rc = e ? evaluator_run(e, &stop_requested, &err) : err.code;
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal evaluate: %s\n", err.msg);
    }
    evaluator_free(e);
    log_close();
    return rc == SHOAL_OK ? 0 : 1;
}

static int run(const char *cmd, bool is_eval, int argc, char **argv)
{
    args a = {0};
    a.sets = calloc((size_t)argc + 1, sizeof *a.sets);
    if (!a.sets) {
        fprintf(stderr, "shoal %s: out of memory\n", cmd);
        return 1;
    }
    int rc = parse(cmd, is_eval, argc, argv, &a);
    if (rc < 0) {
        install_signals();
        rc = is_eval ? eval_one(&a) : watch(&a);
    }
    free(a.sets);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    return run("eval", true, argc, argv);
}

int cmd_evaluate(int argc, char **argv)
{
    return run("evaluate", false, argc, argv);
}
