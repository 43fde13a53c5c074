/* The shoal binary: git-style subcommands, one per role or tool. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/commands.h"
#include "nn/blas.h"

static const command commands[] = {
    {"config", cmd_config, "show the effective configuration, or the reference of every key"},
    {"train", cmd_train, "train an agent: every role under mpirun, with progress and evaluation"},
    {"env", cmd_env, "list, benchmark and check the environments; random-play statistics"},
    {"eval", cmd_eval, "evaluate one checkpoint: mean, std, min, max return over episodes"},
    {"export", cmd_export, "write a checkpoint's tensors as a NumPy .npz (PyTorch layouts)"},
    {"evaluate", cmd_evaluate, "watch a run's checkpoints and evaluate each (eval.csv, eval.svg)"},
    {"learner", cmd_learner, "run the MPI data-parallel learner (under mpirun)"},
    {"replay", cmd_replay, "run one prioritized replay shard (ZeroMQ ROUTER)"},
    {"actor", cmd_actor, "run one actor: envs, exploration, n-step transitions to replay"},
    {"status", cmd_status, "a run at a glance: roles, progress, replay, evaluation, budget"},
    {"demos", cmd_demos, "record demonstrations (expert or checkpoint); check, inspect, merge"},
    {"play", cmd_play, "play a game yourself in the terminal and record it as demonstrations"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "shoal %s: distributed actor-learner deep reinforcement learning\n\n"
                 "usage: shoal <command> [options]   (shoal <command> --help for its options)\n\n"
                 "commands:\n", SHOAL_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "  %-10s %s\n", "version", "print the version");
}

int main(int argc, char **argv)
{
    if (nn_blas_setup()) {
        execv("/proc/self/exe", argv); /* only returns on failure: then run with what we have */
    }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("shoal %s (OpenBLAS kernels: %s)\n", SHOAL_VERSION, nn_blas_core());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "shoal: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
