#!/usr/bin/env bash
# Demonstrations: Breakout and Seaquest from cluster/configs/minatar-<game>.ini, once with
# expert demonstrations (DQfD: learner.pretrain_steps updates on demonstrations only, the
# large-margin loss, demonstrations kept in replay and a quarter of every batch) and once
# without, for the same frame budget and seed. The demonstrations are recorded first with the
# game's scripted expert (`shoal demos record`), whose mean return is the target. Reports the
# frames until an evaluation first reached the expert's return and the area under the
# evaluation curve (mean evaluation return over the run, trapezoids over frames).
#
#   bench/learning/demos.sh [--games "breakout seaquest"] [--frames N] [--seconds S]
#                           [--episodes N] [--seed N] [--out DIR] [--reuse]
#                           [--set section.key=value ...] [--dry-run]
# --frames defaults to 1000000 (docs/results.md), or $DEMOS_FRAMES when set. --seconds caps a
# run that is slower than expected (default 900; 0: no cap); a run it stops is reported as
# time_cap in the ended_by column. --episodes: expert episodes recorded (default 50).
# --reuse keeps a run of the same name that finished before (an interrupted sweep goes on).
# Each --set goes to every `shoal train` after the script's own (it wins). Each run's command
# is printed first; --dry-run prints them and checks the configuration without recording or
# training.
set -euo pipefail
. "$(dirname "$0")/common.sh"

games="breakout seaquest"
frames=${DEMOS_FRAMES:-1000000}
seconds=900
episodes=50
seed=1
out=runs/learning/demos
reuse=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --games) games=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --episodes) episodes=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --reuse) reuse=1; shift ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage_exit 2 19 ;;
        *) unknown_arg "$1" ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$DRY_RUN" ] || summary=$(summary_csv "$out" "game,variant,seed,expert_return,frames,wall_s,frames_to_expert,auc_mean_return,final_eval_mean,best_eval_mean,ended_by")

for game in $games; do
    cfg=$root/cluster/configs/minatar-$game.ini
    demo=$out/$game-expert.demo
    record=("$SHOAL" demos record --env "minatar/$game" --policy expert --episodes "$episodes"
            --out "$demo" --config "$cfg")
    echo "+ $(printf '%q ' "${record[@]}")" >&2
    if [ -n "$DRY_RUN" ]; then
        expert="(not recorded: dry run)"
    else
        rm -f "$demo"
        expert=$("${record[@]}" | sed -n 's/.*mean return \([-0-9.]*\).*/\1/p')
    fi
    transitions=$(( episodes * 2000 ))
    for variant in demos none; do
        if [ "$variant" = demos ]; then
            sets=(--set "replay.demos=$demo" --set "replay.demo_capacity=$transitions"
                  --set learner.pretrain_steps=5000 --set learner.lambda_demo=1.0
                  --set replay.demo_fraction=0.25 --set learner.l2=1e-5)
        else
            sets=(--set replay.demos= --set learner.pretrain_steps=0)
        fi
        dir=$out/$game-$variant-$seed
        if [ -n "$reuse" ] && [ -z "$DRY_RUN" ] && grep -q "^shoal train: finished" "$dir.out" 2>/dev/null; then
            echo "== $game $variant: reusing the finished run in $dir" >&2
            wall=$(cat "$dir.wall")
        else
            echo "== $game $variant: $frames frames (expert return $expert)" >&2
            wall=$(train_run "$dir" "$cfg" "${sets[@]}" --set run.seed="$seed" \
                --set run.max_frames="$frames" --set run.max_seconds="$seconds" \
                --set run.progress_secs=2 ${extra[@]+"${extra[@]}"})
            [ -z "$DRY_RUN" ] || continue
            echo "$wall" > "$dir.wall"
        fi
        ended_by "$dir"
        row=$(curve_stats "$dir/eval.csv" "$expert" 2)
        done_frames=$(last_col "$dir/metrics.csv" frames)
        echo "$game,$variant,$seed,$expert,$done_frames,$wall,$row,$ended" | tee -a "$summary"
    done
    [ -z "$DRY_RUN" ] || continue
    "$(dirname "$0")/plot.sh" "$out/$game-$seed.svg" "MinAtar $game: expert demonstrations (DQfD) vs none" \
        "demos=$out/$game-demos-$seed/eval.csv" "none=$out/$game-none-$seed/eval.csv"
done
capped_summary
