#!/usr/bin/env bash
# The replay ratio on a fixed wall-clock budget: MinAtar Breakout (its default config) with
# several replay.samples_per_insert values (0: no ratio, actors run free), each for the same
# number of seconds. Shows what the default ratio buys on this machine: frames generated,
# learner updates, and the final checkpoint's evaluation (bench/learning/minatar.sh columns).
#
#   bench/learning/replay_ratio.sh [--ratios "0 8"] [--seconds S] [--game G] [--out DIR]
#                                  [--set section.key=value ...] [--dry-run]
# Every run ends on the time cap by design (ended_by = time_cap in the summary): the frame
# budget is out of reach. --set and --dry-run go to bench/learning/minatar.sh (--set after the
# ratio's, so it wins; --dry-run prints each shoal command and checks it without training).
set -euo pipefail
here=$(dirname "$0")
. "$here/args.sh"
ratios="0 8"
seconds=240
game=breakout
out=runs/learning/replay-ratio
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --ratios) ratios=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --game) game=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) extra+=(--dry-run); shift ;;
        -h|--help) usage_exit 2 11 ;;
        *) unknown_arg "$1" ;;
    esac
done
for r in $ratios; do
    echo "== samples_per_insert $r, $seconds s" >&2
    # The frame budget is out of reach: the time decides.
    "$here/minatar.sh" --games "$game" --frames 1000000000000 --seconds "$seconds" \
        --out "$out/spi-$r" --set replay.samples_per_insert="$r" ${extra[@]+"${extra[@]}"}
done
