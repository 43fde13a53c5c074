#!/usr/bin/env bash
# From a fresh clone to a running shoal: installs missing Debian packages, builds a Release
# build in build/, then runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."

./cluster/install-deps.sh

echo "==> building shoal (Release) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSHOAL_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"

export OPENBLAS_NUM_THREADS=1
# The trainer (`shoal train`) is not built yet; until it lands, show what the binary offers.
./build/cluster/shoal --help
