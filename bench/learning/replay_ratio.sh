#!/usr/bin/env bash
# The replay ratio on a fixed wall-clock budget: MinAtar Breakout (its default config) with
# several replay.samples_per_insert values (0: no ratio, actors run free), each for the same
# number of seconds. Shows what the default ratio buys on this machine: frames generated,
# learner updates, and the final checkpoint's evaluation (bench/learning/minatar.sh columns).
#
#   bench/learning/replay_ratio.sh [--ratios "0 8"] [--seconds S] [--game G] [--out DIR]
set -euo pipefail
here=$(dirname "$0")
. "$here/args.sh"
ratios="0 8"
seconds=240
game=breakout
out=runs/learning/replay-ratio
while [ $# -gt 0 ]; do
    case $1 in
        --ratios) ratios=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --game) game=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) usage_exit 2 6 ;;
        *) unknown_arg "$1" ;;
    esac
done
for r in $ratios; do
    echo "== samples_per_insert $r, $seconds s" >&2
    # The frame budget is out of reach: the time decides.
    "$here/minatar.sh" --games "$game" --frames 1000000000000 --seconds "$seconds" \
        --out "$out/spi-$r" --set replay.samples_per_insert="$r"
done
