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
# Train the default agent (MinAtar Breakout) for ten minutes on this machine. A new run folder
# each time, so running the script twice never collides with an earlier run.
run_dir="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
echo "==> training MinAtar Breakout for 10 minutes (Ctrl-C stops early and keeps the checkpoints)"
./build/cluster/shoal train --run-dir "$run_dir" --set run.max_seconds="${SHOAL_QUICKSTART_SECONDS:-600}"
echo
echo "==> learning curve: $run_dir/eval.svg (open it in a browser)"
echo "    evaluations:    $run_dir/eval.csv"
echo "    checkpoints:    $run_dir/checkpoints/"
echo "    continue with:  ./build/cluster/shoal train --resume $run_dir"
