/* `shoal eval CHECKPOINT`: evaluate one parameter file and print the result; `shoal evaluate
 * --run-dir DIR`: the evaluator role on its own, watching DIR/checkpoints until a signal.
 * Both read the run's own config.ini when no --config is given, so the environment matches
 * the one the network was trained on. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cmdline.h"
#include "cluster/commands.h"
#include "cluster/rundir.h"
#include "cluster/stop.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/pbar.h"
#include "evaluator/results.h"
#include "evaluator/watch.h"
#include "nn/paramfile.h"

typedef struct args {
    cmdline_args cfg;
    cli_list path;       /* eval: the checkpoint */
    const char *run_dir; /* evaluate */
    const char *episodes;
    bool json;
    uint64_t agreement; /* eval: --agreement STEPS; 0: off */
    bool csv;           /* eval: the agreement table as CSV */
} args;

static int parse_eval(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--config", "FILE", "configuration (INI); default: RUN_DIR/config.ini when CHECKPOINT\n"
                             "lies in RUN_DIR/checkpoints/ and that file exists, else the defaults",
         .value = &a->cfg.config},
        CMDLINE_SET(&a->cfg),
        {"--episodes", "N", "episodes to play (evaluator.episodes)", .value = &a->episodes},
        {"--json", NULL, "print the eval.jsonl object instead of text", .flag = &a->json},
        {"--agreement", "STEPS", "also ask the game's scripted expert at every step and print\n"
                                 "how often the policy chose its action, per STEPS steps of an\n"
                                 "episode", .number = &a->agreement, .min = 1},
        {"--csv", NULL, "print only the agreement table, as CSV (with --agreement)",
         .flag = &a->csv},
    };
    const cli_command cmd = {
        .name = "shoal eval",
        .usage = "shoal eval CHECKPOINT [--config FILE] [--set section.key=value ...]\n"
                 "                  [--episodes N] [--json] [--agreement STEPS [--csv]]",
        .about = "Evaluates one parameter file (e.g. runs/x/checkpoints/step-1000.ckpt): plays\n"
                 "evaluator.episodes episodes of [env] with epsilon-greedy actions\n"
                 "(evaluator.epsilon), by majority vote for a bootstrapped network, whose heads\n"
                 "also play on their own.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "--agreement shows behaviour cloning's distribution shift: a policy that copies\n"
                 "the expert on the expert's states agrees less as its own mistakes take it\n"
                 "elsewhere. Only the acting policy's episodes count (not single heads'); the\n"
                 "expert only watches, so the returns are those of a plain evaluation. The last\n"
                 "span of the table holds every later step.\n\n"
                 "Exit status: 0 evaluated, 1 the file or configuration was refused, 2 bad usage.",
        .operands = &a->path,
        .max_operands = 1,
        .operand = "CHECKPOINT",
        .operand_required = true,
    };
    int rc = cmdline_parse(&cmd, argc, argv);
    if (rc == CMDLINE_RUN && a->csv && !a->agreement) {
        fprintf(stderr, "shoal eval: --csv prints the agreement table: give --agreement STEPS\n");
        return EXIT_USAGE;
    }
    if (rc == CMDLINE_RUN && a->csv && a->json) {
        fprintf(stderr, "shoal eval: --csv and --json exclude each other\n");
        return EXIT_USAGE;
    }
    return rc;
}

static int parse_evaluate(int argc, char **argv, args *a)
{
    const cli_option options[] = {
        {"--run-dir", "DIR", "the run folder", .value = &a->run_dir, .required = true},
        {"--config", "FILE", "configuration (INI); default: DIR/config.ini when it exists",
         .value = &a->cfg.config},
        CMDLINE_SET(&a->cfg),
    };
    const cli_command cmd = {
        .name = "shoal evaluate",
        .usage = "shoal evaluate --run-dir DIR [--config FILE] [--set section.key=value ...]",
        .about = "Runs the evaluator role: watches DIR/checkpoints/ for step-<N>.ckpt files and\n"
                 "evaluates each one once, newest first (evaluator.catch_up), appending to\n"
                 "DIR/eval.csv and DIR/eval.jsonl and redrawing DIR/eval.svg. Checkpoints already\n"
                 "in DIR/eval.jsonl are not evaluated again. Files that cannot be read are skipped\n"
                 "with a warning.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .notes = "SIGINT or SIGTERM stops it: an evaluation in progress is dropped, then the\n"
                 "checkpoints not yet evaluated are, newest first, for at most 5 s (the log\n"
                 "names what is left); exit 0.",
    };
    return cmdline_parse(&cmd, argc, argv);
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

/* The agreement table: one row per span of r (evaluate.h), as text or CSV. */
static void print_agreement(const evaluator_result *r, uint64_t steps, bool csv)
{
    if (csv) {
        printf("first_step,last_step,visits,agreement\n");
    } else {
        printf("the expert's action chosen, by step of the episode:\n");
    }
    for (size_t k = 0; k < r->agreement_spans; k++) {
        uint64_t v = r->agreement_visits[k];
        double share = v ? (double)r->agreement_agree[k] / (double)v : 0.0;
        bool last = k + 1 == EVALUATOR_AGREEMENT_SPANS;
        if (csv) {
            /* the open-ended last span has no last step */
            printf("%llu,", (unsigned long long)(k * steps));
            if (!last) {
                printf("%llu", (unsigned long long)((k + 1) * steps - 1));
            }
            printf(",%llu,%.4f\n", (unsigned long long)v, share);
        } else if (last) {
            printf("  steps %6llu and later: %5.1f%% of %llu\n", (unsigned long long)(k * steps),
                   100.0 * share, (unsigned long long)v);
        } else {
            printf("  steps %6llu..%-6llu  : %5.1f%% of %llu\n", (unsigned long long)(k * steps),
                   (unsigned long long)((k + 1) * steps - 1), 100.0 * share,
                   (unsigned long long)v);
        }
    }
}

static int eval_one(const args *a, volatile sig_atomic_t *stop)
{
    const char *path = a->path.items[0];
    char run_dir[FILEIO_PATH_MAX];
    log_setup("eval", 0, LOG_WARN, NULL, NULL);
    config *cfg =
        cmdline_role_config("shoal eval", &a->cfg, rundir_of_checkpoint(path, run_dir, sizeof run_dir), true);
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
    evaluator_player_config pc = {0};
    evaluator_player *p = NULL;
    if (evaluator_player_config_from(cfg, &pc, &err) == SHOAL_OK) {
        pc.agreement_steps = a->agreement;
        p = evaluator_player_new(&pc, &err);
    }
    config_free(cfg);
    evaluator_result r;
    struct stat st;
    pbar bar;
    pbar_init(&bar, stderr, "shoal eval", "episodes", pc.episodes);
    if (p) {
        evaluator_player_on_progress(p, pbar_callback, &bar);
    }
    int rc = p ? evaluator_player_eval_file(p, path, stop, &r, &err) : err.code;
    pbar_finish(&bar);
    if (rc == SHOAL_OK && stat(path, &st) != 0) {
        memset(&st, 0, sizeof st);
    }
    if (rc == SHOAL_OK && a->json) {
        evaluator_json_info info = {path, pc.env_name, pc.epsilon};
        double wall = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
        rc = evaluator_json_write(stdout, &info, &r, wall, &err);
    } else if (rc == SHOAL_OK && a->csv) {
        print_agreement(&r, a->agreement, true);
    } else if (rc == SHOAL_OK) {
        print_text(path, &pc, &r);
        if (a->agreement) {
            print_agreement(&r, a->agreement, false);
        }
    }
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal eval: %s\n", err.msg);
    }
    evaluator_player_free(p);
    return rc == SHOAL_OK ? 0 : 1;
}

static int watch(const args *a, volatile sig_atomic_t *stop)
{
    log_setup("evaluator", 0, LOG_INFO, NULL, NULL);
    config *cfg = cmdline_role_config("shoal evaluate", &a->cfg, a->run_dir, true);
    if (!cfg) {
        return 1;
    }
    cmdline_log_setup(cfg, "evaluator", 0);
    shoal_err err = {0};
    evaluator_config ec;
    evaluator *e = NULL;
    if (evaluator_config_from(cfg, a->run_dir, &ec, &err) == SHOAL_OK &&
        rundir_tb_dir(ec.tb_dir, sizeof ec.tb_dir, cfg, a->run_dir, "evaluator", -1, &err) ==
            SHOAL_OK) {
        e = evaluator_new(&ec, &err);
    }
    config_free(cfg);
    int rc = e ? evaluator_run(e, stop, &err) : err.code;
    if (rc == SHOAL_OK) {
        /* Another process's learner gives no sign when its last checkpoint is written: what
         * is there now is evaluated. */
        evaluator_final f = {.secs = EVALUATOR_FINAL_SECS};
        rc = evaluator_finish(e, &f, NULL, &err);
    }
    if (rc != SHOAL_OK) {
        fprintf(stderr, "shoal evaluate: %s\n", err.msg);
    }
    evaluator_free(e);
    log_close();
    return rc == SHOAL_OK ? 0 : 1;
}

/* Parses with parse, then runs go with the stop flag (SIGTERM/SIGINT), which the evaluator
 * checks between environment steps and between checkpoints. */
static int run(int (*parse)(int, char **, args *), int (*go)(const args *, volatile sig_atomic_t *),
               int argc, char **argv)
{
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc == CMDLINE_RUN) {
        rc = go(&a, cluster_stop_on_signals());
    }
    cli_list_fini(&a.path);
    cli_list_fini(&a.cfg.sets);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    return run(parse_eval, eval_one, argc, argv);
}

int cmd_evaluate(int argc, char **argv)
{
    return run(parse_evaluate, watch, argc, argv);
}
