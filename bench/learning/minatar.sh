#!/usr/bin/env bash
# MinAtar: each game with its default config (cluster/configs/minatar-<game>.ini) for a fixed
# frame budget; then the final checkpoint played for 100 episodes by `shoal eval` (greedy,
# evaluator.epsilon = 0.001), the best evaluation the run's evaluator saw (30 episodes each),
# the actors' training return (their last episodes, exploration included), the wall-clock time
# and frames/s.
#
#   bench/learning/minatar.sh [--games "breakout asterix ..."] [--frames N] [--seconds S]
#                             [--seed N] [--out DIR] [--set section.key=value ...] [--dry-run]
# --frames defaults to 1000000 (docs/results.md), or $MINATAR_FRAMES when set. --seconds caps
# a run that is slower than expected (default 900; 0: no cap); a run it stops is reported as
# time_cap in the ended_by column. Each --set goes to every `shoal train` after the script's
# own (it wins). Each run's command is printed first; --dry-run prints them and checks the
# configuration without training.
set -euo pipefail
. "$(dirname "$0")/common.sh"

games="breakout asterix freeway seaquest space_invaders"
frames=${MINATAR_FRAMES:-1000000}
seconds=900
seed=1
out=runs/learning/minatar
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --games) games=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage_exit 2 15 ;;
        *) unknown_arg "$1" ;;
    esac
done
[ -n "$DRY_RUN" ] || summary=$(summary_csv "$out" "game,seed,frames,wall_s,frames_per_s,updates,eval_final_mean,eval_final_std,eval_best_mean,train_return,ended_by")

for game in $games; do
    cfg=$root/cluster/configs/minatar-$game.ini
    [ -f "$cfg" ] || { echo "minatar.sh: no config $cfg" >&2; exit 2; }
    dir=$out/$game-$seed
    echo "== $game: $frames frames (seed $seed)" >&2
    wall=$(train_run "$dir" "$cfg" --set run.seed="$seed" --set run.max_frames="$frames" \
        --set run.max_seconds="$seconds" --set run.progress_secs=2 ${extra[@]+"${extra[@]}"})
    [ -z "$DRY_RUN" ] || continue
    ended_by "$dir"
    done_frames=$(last_col "$dir/metrics.csv" frames)
    updates=$(last_col "$dir/metrics.csv" step)
    # The mean return of the episodes in the last interval that had any (the row written at
    # the stop often has none).
    train=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "episodes") e = i
                                                           if ($i == "mean_return_recent") r = i }
                               next }
                     $e > prev { v = $r } { prev = $e } END { print v }' "$dir/metrics.csv")
    final_eval "$dir" 100
    fps=$(awk -v f="$done_frames" -v w="$wall" 'BEGIN { printf "%.0f", f / w }')
    echo "$game,$seed,$done_frames,$wall,$fps,$updates,$final_mean,$final_std,$best,$train,$ended" | tee -a "$summary"
done
capped_summary
