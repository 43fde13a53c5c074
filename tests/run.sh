#!/usr/bin/env bash
# The test contract: installs what is missing, builds the Release and the sanitizer
# (ASan + UBSan) builds, runs every test through ctest on both, exits non-zero on any failure.
#   ./tests/run.sh            both builds
#   SHOAL_TEST_BUILDS=release ./tests/run.sh   only one of: release, sanitize
# The Release build then runs the tests whose results go through OpenBLAS a second time under
# another kernel family (OPENBLAS_CORETYPE), and each build keeps its cmake output in
# <build>/configure.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./cluster/install-deps.sh --tests

if [ ! -d "$root/../shared" ]; then
    echo "tests/run.sh: ../shared (specs and fixtures) is not beside this clone; some tests need it" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
builds=${SHOAL_TEST_BUILDS:-"release sanitize"}
export OPENBLAS_NUM_THREADS=1
# MPI as root (CI containers) needs these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The tests whose results go through OpenBLAS: run a second time under another kernel family.
numeric_tests='^test_(nn_|learner|actor|evaluator_evaluate)'

# A kernel family other than `used` (what the test programs got) that this CPU can run, so a
# test that holds only under one family's summation order fails here rather than on a user's
# machine (an AMD CPU with OPENBLAS_CORETYPE=Haswell, an Intel one with AVX-512, ...). Zen
# shares Haswell's sgemm kernels, so it is not "another family" for Haswell.
other_kernel_family() {
    local used=${1,,} flags
    flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
    local avx512=0 avx2=0
    [[ " $flags " == *" avx512f "* ]] && avx512=1
    [[ " $flags " == *" avx2 "* ]] && avx2=1
    case "$used" in
        skylakex|cooperlake|sapphirerapids) [ $avx2 = 1 ] && echo Haswell || echo Prescott ;;
        haswell|zen) [ $avx512 = 1 ] && echo SkylakeX || echo Prescott ;;
        *) if [ $avx512 = 1 ]; then echo SkylakeX; elif [ $avx2 = 1 ]; then echo Haswell; fi ;;
    esac
}

# set -e does not apply inside a function called from an `||` list, so every step checks its
# own status: a failed build or test must fail the run.
run_build() {
    local name=$1 dir=$2 second_family=$3; shift 3
    echo "==> [$name] configure + build in $dir"
    mkdir -p "$dir"
    cmake -S "$root" -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" || { echo "==> [$name] BUILD FAILED" >&2; return 1; }
    echo "==> [$name] ctest"
    local start=$SECONDS
    # As many tests at once as cores: the long ones start real processes that mostly wait, and
    # the tests that need the machine to themselves (the multi-host test) are RUN_SERIAL.
    (cd "$dir" && ctest -j "$jobs" --output-on-failure --no-tests=error --timeout 600) || { echo "==> [$name] TESTS FAILED" >&2; return 1; }
    echo "==> [$name] passed in $((SECONDS - start)) s"
    [ "$second_family" = yes ] || return 0
    local used other
    used=$("$dir/tests/blas_core") || { echo "==> [$name] tests/blas_core failed" >&2; return 1; }
    other=$(other_kernel_family "$used")
    if [ -z "$other" ]; then
        echo "==> [$name] OpenBLAS uses $used and this CPU runs no other kernel family: numerical tests not repeated"
        return 0
    fi
    echo "==> [$name] numerical tests again with OPENBLAS_CORETYPE=$other (the tests got $used)"
    start=$SECONDS
    (cd "$dir" && OPENBLAS_CORETYPE=$other ctest -j "$jobs" --output-on-failure --no-tests=error --timeout 600 -R "$numeric_tests") || { echo "==> [$name] TESTS FAILED under OPENBLAS_CORETYPE=$other" >&2; return 1; }
    echo "==> [$name] passed under $other in $((SECONDS - start)) s"
}

status=0
for b in $builds; do
    case "$b" in
        release) run_build release "$root/build" yes -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=ON -DSHOAL_BENCH=ON || status=1 ;;
        sanitize) run_build sanitize "$root/build-asan" no -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_SANITIZE=ON -DSHOAL_TESTS=ON -DSHOAL_BENCH=OFF || status=1 ;;
        *) echo "tests/run.sh: unknown build '$b' (release, sanitize)" >&2; exit 2 ;;
    esac
done

if [ $status -ne 0 ]; then
    echo "tests/run.sh: FAILED" >&2
    exit 1
fi
echo "tests/run.sh: all tests passed"
