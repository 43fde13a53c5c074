#include "cluster/launch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool launch_under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int launch_mpirun_argv(const launch_spec *spec, char *np_buf, char **argv, size_t cap,
                       size_t *argc, shoal_err *err)
{
    if (spec->n_procs == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "cannot launch 0 processes");
    }
    snprintf(np_buf, 16, "%u", spec->n_procs);
    /* Fixed words: why each is there.
     * --oversubscribe: a laptop runs more processes than cores.
     * --enable-recovery: a crashed actor must not end the job.
     * --bind-to none: with more processes than cores, pinning would stack them on one core.
     * mpi_yield_when_idle: an idle rank sleeps instead of spinning (ARCHITECTURE.md).
     * btl_vader_single_copy_mechanism none: CMA is often forbidden in containers.
     * -x OPENBLAS_NUM_THREADS=1: one BLAS thread per process. */
    const char *fixed[] = {
        spec->mpirun, "-np", np_buf, "--oversubscribe", "--enable-recovery", "--bind-to", "none",
        "--mca", "mpi_yield_when_idle", "1", "--mca", "btl_vader_single_copy_mechanism", "none",
        "-x", "OPENBLAS_NUM_THREADS=1",
    };
    size_t n_fixed = sizeof fixed / sizeof fixed[0];
    size_t need = n_fixed + (spec->as_root ? 1 : 0) + (spec->hostfile ? 2 : 0) + 1 +
                  (size_t)spec->n_args + 1;
    if (need > cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "mpirun command line of %zu words exceeds %zu",
                             need, cap);
    }
    size_t n = 0;
    for (size_t i = 0; i < n_fixed; i++) {
        argv[n++] = (char *)fixed[i];
    }
    if (spec->as_root) {
        argv[n++] = "--allow-run-as-root";
    }
    if (spec->hostfile) {
        argv[n++] = "--hostfile";
        argv[n++] = (char *)spec->hostfile;
    }
    argv[n++] = (char *)spec->self;
    for (int i = 0; i < spec->n_args; i++) {
        argv[n++] = spec->args[i];
    }
    argv[n] = NULL;
    *argc = n;
    return SHOAL_OK;
}

/* The parent of pid from /proc/PID/stat, or -1 when it is gone. The command name (field 2) may
 * hold spaces and parentheses, so parsing starts after its last ')'. */
static pid_t parent_of(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *close = strrchr(text, ')');
    int ppid;
    char state;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2) {
        return -1;
    }
    return (pid_t)ppid;
}

size_t launch_job_children(pid_t mpirun_pid, pid_t *out, size_t cap)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && n < cap && (e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && parent_of(pid) == mpirun_pid) {
            out[n++] = pid;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}
