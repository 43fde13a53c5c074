#include "nn/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>

bool nn_blas_setup(void)
{
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1); /* for a re-executed process and children */
    }
    int threads = atoi(getenv("OPENBLAS_NUM_THREADS"));
    openblas_set_num_threads(threads > 0 ? threads : 1);
    if (getenv("OPENBLAS_CORETYPE") || strcasecmp(openblas_get_corename(), "prescott") != 0) {
        return false;
    }
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        core = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        core = "Haswell";
    }
    if (!core) {
        return false;
    }
    setenv("OPENBLAS_CORETYPE", core, 1);
    return true;
}

const char *nn_blas_core(void)
{
    return openblas_get_corename();
}
