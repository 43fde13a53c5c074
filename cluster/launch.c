#include "cluster/launch.h"

#include <stdio.h>
#include <stdlib.h>

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
