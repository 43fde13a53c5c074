#!/usr/bin/env bash
# Imitation against reinforcement: Breakout and Seaquest from cluster/configs/minatar-<game>.ini
# with the game's scripted expert as the demonstrator and labeller. Variants (--variants):
#   bc50, bc500  behaviour cloning (learner.mode = bc, no actors) on 50 or 500 expert episodes,
#                for --bc-updates updates
#   dagger       behaviour cloning on DAgger's aggregate: one actor acts with the learner's
#                greedy policy mixed with the expert (β = 1, halved every --dagger-period
#                updates), the expert labels every visited state, for as many labels as bc50
#                has transitions; the learner's samples pace the actor at about --bc-updates
#                updates in all
#   finetune     RL for --frames frames starting from bc50's last checkpoint (learner.init_from),
#                no demonstrations in replay
#   dqfd         DQfD: the 50 episodes kept in replay, 5,000 pre-training updates, a quarter of
#                every batch from them, margin loss (as bench/learning/demos.sh)
#   dqfd-df05, dqfd-mixed   dqfd with replay.demo_fraction = 0.05, or with replay.mixed = true
#   rl           no demonstrations
# The expert's return is its mean over the 500 recorded episodes of the seed. Every run's last
# checkpoint is evaluated on 100 episodes (`shoal eval`); with --agreement,
# also the expert's agreement with the policy by step of the episode (`shoal eval --agreement`).
#
#   bench/learning/imitation.sh [--games "breakout seaquest"] [--variants "bc50 ..."]
#                               [--seeds "1"] [--frames N] [--bc-updates N] [--dagger-period N]
#                               [--seconds S] [--out DIR] [--reuse] [--agreement STEPS]
#                               [--set section.key=value ...] [--dry-run]
# Defaults: every variant but dqfd-df05 and dqfd-mixed, seed 1, --frames 1000000, --bc-updates
# 40000, --dagger-period 2000, --seconds 3600 (a run's time cap; a capped run is reported as
# time_cap), --out runs/learning/imitation. --reuse keeps a finished run of the same name.
# Writes DIR/summary.csv (one row per run) and, with --agreement, DIR/agreement.csv and the
# plot DIR/agreement-GAME.svg.
set -euo pipefail
. "$(dirname "$0")/common.sh"

games="breakout seaquest"
variants="bc50 bc500 dagger finetune dqfd rl"
seeds=1
frames=1000000
bc_updates=40000
dagger_period=2000
seconds=3600
out=runs/learning/imitation
reuse=
agreement=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --games) games=$2; shift 2 ;;
        --variants) variants=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --bc-updates) bc_updates=$2; shift 2 ;;
        --dagger-period) dagger_period=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --reuse) reuse=1; shift ;;
        --agreement) agreement=$2; shift 2 ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage_exit 2 29 ;;
        *) unknown_arg "$1" ;;
    esac
done
for v in $variants; do
    case $v in
        bc50|bc500|dagger|finetune|dqfd|dqfd-df05|dqfd-mixed|rl) ;;
        *) echo "imitation.sh: unknown variant $v (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$DRY_RUN" ] || summary=$(summary_csv "$out" "game,variant,seed,expert_return,demo_transitions,labels,frames,updates,wall_s,to_expert,to_expert_unit,auc_mean_return,auc_over,final_eval_mean,final_eval_std,best_eval_mean,ended_by")
if [ -n "$agreement" ] && [ -z "$DRY_RUN" ] && [ ! -f "$out/agreement.csv" ]; then
    echo "game,variant,seed,first_step,last_step,visits,agreement" > "$out/agreement.csv"
fi

# record GAME EPISODES SEED: the expert's demonstrations (once per seed); sets demo, expert
# (its mean return) and transitions.
record() {
    local cfg=$root/cluster/configs/minatar-$1.ini
    demo=$out/$1-expert$2-seed$3.demo
    local cmd=("$SHOAL" demos record --env "minatar/$1" --policy expert --episodes "$2"
               --out "$demo" --config "$cfg" --set run.seed="$3")
    echo "+ $(printf '%q ' "${cmd[@]}")" >&2
    if [ -n "$DRY_RUN" ]; then
        expert=0; transitions=40000
        return
    fi
    local line
    if [ ! -f "$demo.txt" ]; then
        rm -f "$demo"
        "${cmd[@]}" > "$demo.txt"
    fi
    line=$(cat "$demo.txt")
    expert=$(printf '%s\n' "$line" | sed -n 's/.*mean return \([-0-9.]*\).*/\1/p')
    transitions=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) transitions.*/\1/p')
}

for seed in $seeds; do
    for game in $games; do
        cfg=$root/cluster/configs/minatar-$game.ini
        # The target is the expert's mean over its 500 recorded episodes: 50 episodes' mean
        # varies by ±5 between seeds on Breakout.
        record "$game" 500 "$seed"; demo500=$demo; t500=$transitions; expert50=$expert
        record "$game" 50 "$seed"; demo50=$demo; t50=$transitions
        for variant in $variants; do
            dir=$out/$game-$variant-$seed
            labels=0
            ntrans=$t50
            auc_over=frames
            case $variant in
                bc50|bc500)
                    d=$demo50; [ "$variant" = bc50 ] || { d=$demo500; ntrans=$t500; }
                    sets=(--set cluster.actors=0 --set learner.mode=bc --set run.max_frames=0
                          --set "replay.demos=$d" --set "replay.demo_capacity=$ntrans"
                          --set learner.max_updates="$bc_updates"
                          --set learner.checkpoint_period=$(( bc_updates / 10 )))
                    auc_over=updates ;;
                dagger)
                    # samples per inserted step so that the label budget buys about bc_updates
                    # updates of the batch (32 in every MinAtar config)
                    spi=$(( (32 * bc_updates + t50 / 2) / t50 ))
                    sets=(--set cluster.actors=1 --set actor.label=expert
                          --set exploration.epsilon=0 --set learner.mode=bc
                          --set actor.dagger_beta=1 --set actor.dagger_decay=0.5
                          --set actor.dagger_period="$dagger_period"
                          --set "replay.demo_capacity=$(( t50 + 20000 ))"
                          --set replay.min_size=1000 --set replay.samples_per_insert="$spi"
                          --set run.max_frames="$t50"
                          --set learner.checkpoint_period=$(( bc_updates / 10 )))
                    ntrans=0 ;;
                finetune)
                    init=$(newest_ckpt "$out/$game-bc50-$seed" || true)
                    if [ -z "$DRY_RUN" ] && [ -z "$init" ]; then
                        echo "imitation.sh: finetune needs bc50's run ($out/$game-bc50-$seed): list bc50 before finetune" >&2
                        exit 1
                    fi
                    sets=(--set "learner.init_from=${init:-BC50_CHECKPOINT}" --set replay.demos=
                          --set learner.pretrain_steps=0 --set run.max_frames="$frames")
                    ntrans=$t50 ;;
                dqfd|dqfd-df05|dqfd-mixed)
                    sets=(--set "replay.demos=$demo50" --set "replay.demo_capacity=$t50"
                          --set learner.pretrain_steps=5000 --set learner.lambda_demo=1.0
                          --set replay.demo_fraction=0.25 --set learner.l2=1e-5
                          --set run.max_frames="$frames")
                    [ "$variant" != dqfd-df05 ] || sets+=(--set replay.demo_fraction=0.05)
                    [ "$variant" != dqfd-mixed ] || sets+=(--set replay.mixed=true) ;;
                rl)
                    sets=(--set replay.demos= --set learner.pretrain_steps=0
                          --set run.max_frames="$frames")
                    ntrans=0 ;;
            esac
            if [ -n "$reuse" ] && [ -z "$DRY_RUN" ] && grep -q "^shoal train: finished" "$dir.out" 2>/dev/null; then
                echo "== $game $variant seed $seed: reusing the finished run in $dir" >&2
                wall=$(cat "$dir.wall")
            else
                echo "== $game $variant seed $seed (expert return $expert50)" >&2
                wall=$(train_run "$dir" "$cfg" "${sets[@]}" --set run.seed="$seed" \
                    --set run.max_seconds="$seconds" --set run.progress_secs=10 \
                    ${extra[@]+"${extra[@]}"})
                [ -z "$DRY_RUN" ] || continue
                echo "$wall" > "$dir.wall"
            fi
            ended_by "$dir"
            [ "$variant" != dagger ] || labels=$(last_col "$dir/metrics.csv" labels)
            done_frames=$(last_col "$dir/metrics.csv" frames)
            updates=$(last_col "$dir/metrics.csv" step)
            # The curve: x = frames, or updates for behaviour cloning (no frames); the first
            # x at which an evaluation reached the expert's mean return.
            # A reused run keeps the row it has: the summary holds one row per run.
            if ! grep -q "^$game,$variant,$seed," "$summary"; then
                final_eval "$dir" 100 2>/dev/null  # before curve_stats: it sets best too
                fmean=$final_mean; fstd=$final_std
                col=2; [ "$auc_over" = frames ] || col=1
                IFS=, read -r reach auc _ best < <(curve_stats "$dir/eval.csv" "$expert50" $col)
                awk -v f="$fmean" -v b="$best" 'BEGIN { exit !(f > b) }' && best=$fmean
                unit=$auc_over
                if [ "$variant" = dagger ]; then
                    unit=labels  # one label per frame: the actor labels every state it visits
                fi
                if [ -z "$reach" ] && awk -v f="$fmean" -v t="$expert50" 'BEGIN { exit !(f >= t) }'; then
                    reach=$([ "$auc_over" = frames ] && echo "$done_frames" || echo "$updates")
                fi
                echo "$game,$variant,$seed,$expert50,$ntrans,$labels,$done_frames,$updates,$wall,$reach,$unit,$auc,$auc_over,$fmean,$fstd,$best,$ended" >> "$summary"
            elif [ -z "$agreement" ]; then
                continue
            fi
            grep "^$game,$variant,$seed," "$summary"
            if [ -n "$agreement" ] && ! grep -q "^$game,$variant,$seed," "$out/agreement.csv"; then
                "$SHOAL" eval "$(newest_ckpt "$dir")" --episodes 100 --agreement "$agreement" --csv 2>/dev/null |
                    awk -F, -v p="$game,$variant,$seed" 'NR > 1 { print p "," $0 }' >> "$out/agreement.csv"
            fi
        done
    done
done
# The distribution-shift plot: per game, each variant's agreement with the expert by step of
# the episode, over its seeds (weighted by visits; spans of fewer than 200 visits left out, so
# that a few long episodes do not draw the tail).
if [ -n "$agreement" ] && [ -z "$DRY_RUN" ]; then
    for game in $games; do
        curves=()
        for variant in $variants; do
            f=$out/agreement-$game-$variant.csv
            { echo "step,frames,wall_seconds,episodes,mean"
              awk -F, -v g="$game" -v v="$variant" '
                $1 == g && $2 == v { n[$4] += $6; a[$4] += $6 * $7 }
                END { for (k in n) if (n[k] >= 200) printf "%d,0,0,%d,%.2f\n", k, n[k], 100 * a[k] / n[k] }' \
                "$out/agreement.csv" | sort -t, -k1 -n; } > "$f"
            [ "$(wc -l < "$f")" -le 1 ] || curves+=("$variant=$f")
        done
        [ ${#curves[@]} -eq 0 ] || "$(dirname "$0")/plot.sh" --x updates \
            --xlabel "step of the episode" --ylabel "the expert's action chosen (%)" \
            "$out/agreement-$game.svg" "MinAtar $game: agreement with the expert along an episode" \
            "${curves[@]}"
    done
fi
capped_summary
