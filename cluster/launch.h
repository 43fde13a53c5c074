/* Local launch: `shoal train` started without mpirun re-executes itself under
 * `mpirun -np N --oversubscribe --enable-recovery ...` on this machine (ARCHITECTURE.md,
 * Processes and roles). This module builds that command line (launch_mpirun_argv) and runs the
 * job to its end (launch_run): mpirun in its own process group, the progress line, and Ctrl-C,
 * SIGTERM or the end of the budget turned into a graceful stop (the STOP file every rank
 * watches), with SIGTERM and then SIGKILL to the job as the last resort 10 seconds later.
 *
 *     char np[16];
 *     char *argv[LAUNCH_ARGV_MAX];
 *     size_t argc;
 *     launch_mpirun_argv(&spec, np, argv, LAUNCH_ARGV_MAX, &argc, &err);
 *     execvp(argv[0], argv);
 */
#ifndef SHOAL_CLUSTER_LAUNCH_H
#define SHOAL_CLUSTER_LAUNCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/err.h"

#define LAUNCH_ARGV_MAX 256

typedef struct launch_spec {
    const char *mpirun;   /* mpirun program, e.g. "mpirun" */
    uint32_t n_procs;     /* world size */
    bool as_root;         /* add --allow-run-as-root (uid 0) */
    const char *hostfile; /* --hostfile, or NULL for this machine only */
    /* Interfaces (names or CIDR) MPI's TCP transport and its daemons' out-of-band channel may
     * use and listen on (btl_tcp_if_include, oob_tcp_if_include), or NULL: OpenMPI's default
     * (every interface). launch_mpi_interface chooses it. */
    const char *interface;
    const char *self;     /* path of the shoal binary to run on every rank */
    int n_args;           /* words after the binary, passed through unchanged */
    char *const *args;
    size_t n_extra;       /* the user's mpirun options (cluster.mpirun_args), before the binary */
    char *const *extra;
} launch_spec;

/* Writes the mpirun command line into argv (NULL-terminated, at most cap entries including the
 * NULL) and its length into *argc. np_buf (>= 16 bytes) holds the process count text; argv
 * points into spec's strings and np_buf. EINVAL when it does not fit or n_procs is 0. */
int launch_mpirun_argv(const launch_spec *spec, char *np_buf, char **argv, size_t cap,
                       size_t *argc, shoal_err *err);

/* The interfaces for launch_spec.interface: cluster.interface when set; else loopback
 * ("127.0.0.1/8") without a hostfile, where every rank is on this machine; else NULL (OpenMPI
 * picks, listening on every interface). */
const char *launch_mpi_interface(const config *cfg, bool hostfile);

/* The direct children of mpirun_pid (its local ranks) into out, at most cap; returns how many
 * (Linux: reads /proc). OpenMPI starts every local rank in a process group of its own, so a
 * signal to mpirun's group alone would leave them running once mpirun is killed: the launcher
 * signals these groups too. Ranks on other hosts end when their orted loses mpirun. */
size_t launch_job_children(pid_t mpirun_pid, pid_t *out, size_t cap);

/* The parent of pid (Linux: /proc/PID/stat), or -1 when it is gone. */
pid_t launch_parent_of(pid_t pid);

/* The nearest ancestor of this process (up to 4 levels) that is OpenMPI's mpirun or daemon
 * (mpirun, orterun, orted, prterun, prted: /proc/PID/comm), or -1. */
pid_t launch_job_daemon(void);

/* Whether this process was started by mpirun (OpenMPI/PMIx set these variables). */
bool launch_under_mpirun(void);

/* Runs the job of the prepared run folder run_dir (its effective configuration cfg) under
 * mpirun on this machine, or on hostfile's machines (NULL: this one), until it ends; *stop
 * (set by signals) asks for a graceful stop. This is the body of `shoal train` without mpirun:
 * it prints the launcher's lines (processes, progress, each rank that failed, died or stopped
 * answering, stopping, outcome) on stdout and stderr, and stops the job when a shard, learner
 * or evaluator is lost or fails (cluster/liveness.h). Returns the exit code: 0 when every
 * shard, learner and evaluator finished and no rank failed (a lost actor is tolerated), 127
 * when mpirun could not be started, else 1. *restartable says whether the job was stopped
 * because a shard, learner or evaluator died or stopped answering, which resuming from the
 * checkpoints may heal (not when the user stopped it or a role reported an error). */
int launch_run(const char *run_dir, const config *cfg, const char *hostfile,
               volatile sig_atomic_t *stop, bool *restartable);

#endif
