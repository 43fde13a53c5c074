#!/usr/bin/env bash
# The test contract: installs what is missing, builds the Release and the sanitizer
# (ASan + UBSan) builds, runs every test through ctest on both, exits non-zero on any failure.
#   ./tests/run.sh            both builds
#   SHOAL_TEST_BUILDS=release ./tests/run.sh   only one of: release, sanitize
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./cluster/install-deps.sh

if [ ! -d "$root/../shared" ]; then
    echo "tests/run.sh: ../shared (specs and fixtures) is not beside this clone; some tests need it" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
builds=${SHOAL_TEST_BUILDS:-"release sanitize"}
export OPENBLAS_NUM_THREADS=1
# MPI as root (CI containers) needs these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# set -e does not apply inside a function called from an `||` list, so every step checks its
# own status: a failed build or test must fail the run.
run_build() {
    local name=$1 dir=$2; shift 2
    echo "==> [$name] configure + build in $dir"
    cmake -S "$root" -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
    cmake --build "$dir" -j "$jobs" || { echo "==> [$name] BUILD FAILED" >&2; return 1; }
    echo "==> [$name] ctest"
    local start=$SECONDS
    (cd "$dir" && ctest --output-on-failure --no-tests=error --timeout 600) || { echo "==> [$name] TESTS FAILED" >&2; return 1; }
    echo "==> [$name] passed in $((SECONDS - start)) s"
}

status=0
for b in $builds; do
    case "$b" in
        release) run_build release "$root/build" -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=ON -DSHOAL_BENCH=ON || status=1 ;;
        sanitize) run_build sanitize "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_SANITIZE=ON -DSHOAL_TESTS=ON -DSHOAL_BENCH=OFF || status=1 ;;
        *) echo "tests/run.sh: unknown build '$b' (release, sanitize)" >&2; exit 2 ;;
    esac
done

if [ $status -ne 0 ]; then
    echo "tests/run.sh: FAILED" >&2
    exit 1
fi
echo "tests/run.sh: all tests passed"
