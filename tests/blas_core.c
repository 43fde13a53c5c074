/* Prints the kernel family OpenBLAS picked in this process, as the test programs see it (they
 * do not re-execute themselves with OPENBLAS_CORETYPE as shoal does). tests/run.sh uses it to
 * run the numerical tests a second time under another family. */
#include <stdio.h>

#include "nn/blas.h"

int main(void)
{
    printf("%s\n", nn_blas_core());
    return 0;
}
