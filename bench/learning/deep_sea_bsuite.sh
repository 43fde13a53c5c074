#!/usr/bin/env bash
# bsuite's deep_sea experiment with shoal's actor, replay shard and learner: DeepSea sizes
# N = 10, 12, ..., 50 (deterministic, bsuite's action mapping seed 42), one run per size, a budget
# of 10,000 episodes, bsuite's solved criterion and score (deep_sea_score.awk says exactly how,
# from bsuite's source). Writes OUT/summary.csv (a row per run), OUT/deep_sea.svg (episodes to
# solve against N, with the 2^N line of dithering) and prints a table and the score per strategy.
#
#   bench/learning/deep_sea_bsuite.sh [--strategy prior|bootstrap|epsilon] [--label NAME]
#                                     [--sizes "10 12 ... 50"] [--episodes E] [--seeds "1"]
#                                     [--full] [--seconds S] [--out DIR]
#                                     [--set section.key=value ...] [--dry-run] [--report]
# --strategy: the settings of bsuite's reference agents (default prior):
#   prior      bsuite's boot_dqn: 20 heads of two hidden layers of 50, randomized priors of
#              scale 3, masks with p = 0.5, one head per episode acting greedily;
#   bootstrap  the same without priors;
#   epsilon    bsuite's dqn: one head of 50, 50 and epsilon = 0.05, batch 32.
#   Every strategy also gets the common settings (Adam 1e-3 with eps 1e-8, batch 128, one
#   update per environment step, target period 4 updates, 1-step targets, gamma 0.99, uniform
#   replay of 10,000 from 128, no double Q, the actor's parameters refreshed every episode),
#   then each --set in order (the last wins): another
#   strategy (count, rnd, ...) is a --label and its --set options.
# --label: the strategy's name in the outputs and run folders (default: --strategy).
# --episodes: the budget per size (default 10000). --full: run every size to its budget; by
#   default a run stops once bsuite's criterion has decided it (ended_by "decided"): solved (it
#   only depends on the first crossing), or too many bad episodes for any later crossing. --seconds caps each run (run.max_seconds; 0, the default: no cap).
# --report: no training; the table, score and plot of the runs already in OUT (every label).
# Out: OUT/<label>-<N>-<seed> per run (its episode log episodes-0.csv), OUT/summary.csv,
#   OUT/deep_sea.svg. Default OUT: runs/learning/deep-sea-bsuite.
set -euo pipefail
. "$(dirname "$0")/common.sh"

here=$root/bench/learning
strategy=prior
label=
sizes=$(seq -s ' ' 10 2 50)
episodes=10000
seeds=1
full=
seconds=0
out=runs/learning/deep-sea-bsuite
report_only=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --strategy) strategy=$2; shift 2 ;;
        --label) label=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --episodes) episodes=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --full) full=1; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --report) report_only=1; shift ;;
        -h|--help) usage_exit 2 28 ;;
        *) unknown_arg "$1" ;;
    esac
done
label=${label:-$strategy}
case $label in
    *[!A-Za-z0-9_.+-]*|'') echo "deep_sea_bsuite.sh: --label '$label': letters, digits, _ . + - only" >&2
                           exit 2 ;;
esac
for n in $sizes $episodes $seeds; do
    case $n in
        *[!0-9]*|'') echo "deep_sea_bsuite.sh: sizes, --episodes and --seeds are whole numbers ('$n')" >&2
                     exit 2 ;;
    esac
done

# bsuite's agents (bsuite/baselines/tf/boot_dqn/agent.py and dqn/agent.py, default_agent).
common=(--set env.name=deepsea --set network.conv=
        --set network.shared= --set network.dense=50,50 --set network.dueling=false
        --set learner.optimizer=adam --set learner.lr=1e-3 --set learner.adam_eps=1e-8
        --set learner.batch_size=128 --set learner.target_period=4 --set learner.double_q=false
        --set replay.capacity=10000 --set replay.min_size=128 --set replay.samples_per_insert=128
        --set replay.alpha=0 --set actor.n_step=1 --set actor.gamma=0.99 --set actor.envs=1
        --set cluster.actors=1 --set cluster.evaluators=0 --set cluster.learners=1
        --set cluster.replay_shards=1 --set learner.checkpoint_period=1000000
        --set actor.episode_log=episodes-%d.csv --set run.progress_secs=0.5)
case $strategy in
    prior) sets=(--set exploration.strategy=bootstrap --set network.heads=20
                 --set network.prior_scale=3 --set exploration.mask_p=0.5
                 --set exploration.bootstrap_epsilon=0) ;;
    bootstrap) sets=(--set exploration.strategy=bootstrap --set network.heads=20
                     --set network.prior_scale=0 --set exploration.mask_p=0.5
                     --set exploration.bootstrap_epsilon=0) ;;
    epsilon) sets=(--set exploration.strategy=epsilon --set exploration.epsilon=0.05
                   --set network.heads=1 --set network.prior_scale=0 --set learner.batch_size=32
                   --set replay.samples_per_insert=32) ;;
    *) echo "deep_sea_bsuite.sh: unknown --strategy $strategy (prior, bootstrap, epsilon)" >&2
       exit 2 ;;
esac

header="label,size,seed,episodes,solved_episode,first_below,first_optimal,bad_fraction,beat_dither,wall_s,ended_by"

# decided RUN_DIR: whether bsuite's criterion has decided the run (solved, or it can no longer
# be solved within the budget): train_run's STOP_WHEN.
decided() {
    [ -f "$1/episodes-0.csv" ] || return 1
    [ "$(awk -F, -v size="$size" -v budget="$episodes" -v decide=1 \
         -f "$here/deep_sea_score.awk" "$1/episodes-0.csv")" = 1 ]
}

if [ -z "$report_only" ]; then
    [ -n "$DRY_RUN" ] || summary=$(summary_csv "$out" "$header")
    [ -n "$full" ] || STOP_WHEN=decided
    for size in $sizes; do
        for seed in $seeds; do
            dir=$out/$label-$size-$seed
            # Episodes of exactly N steps: the frame budget is the episode budget (and a few
            # more: the run stops at the next progress poll; the measures read the first E).
            # The actor looks for new parameters once per episode, when it picks the episode's
            # head (bsuite's agent acts with its latest parameters).
            wall=$(train_run "$dir" "$root/cluster/configs/deepsea-bootstrap.ini" "${common[@]}" \
                "${sets[@]}" --set env.deepsea_size="$size" --set run.seed="$seed" \
                --set actor.param_refresh_steps="$size" --set learner.publish_period="$size" \
                --set run.max_frames=$(( (episodes + 8) * size )) \
                --set run.max_seconds="$seconds" ${extra[@]+"${extra[@]}"})
            [ -z "$DRY_RUN" ] || continue
            ended_by "$dir"
            [ "$ended" = time_cap ] || ! grep -q "^bench/learning: decided" "$dir.out" || ended=decided
            row=$(awk -F, -v size="$size" -v budget="$episodes" -f "$here/deep_sea_score.awk" \
                "$dir/episodes-0.csv")
            echo "$label,$size,$seed,$row,$wall,$ended" | tee -a "$summary"
        done
    done
    [ -z "$DRY_RUN" ] || exit 0
fi

summary=$out/summary.csv
[ -f "$summary" ] || { echo "deep_sea_bsuite.sh: no $summary (run the sweep first)" >&2; exit 2; }
# A size run again (an appended sweep) counts with its last row only; by strategy, size, seed.
latest() {
    head -1 "$summary"
    awk -F, 'NR > 1 { k = $1 FS $2 FS $3; if (!(k in row)) order[++m] = k; row[k] = $0 }
             END { for (i = 1; i <= m; i++) print row[order[i]] }' "$summary" |
        sort -t, -k1,1 -k2,2n -k3,3n
}
# The protocol's sizes, for the score that counts a size not run as not solved.
protocol=$(seq 10 2 50 | wc -l)
echo
echo "| strategy | N | seed | solved at episode (bsuite) | first below 0.8 | first optimal | bad fraction | beats 2^N + 100 | episodes run | wall s | ended by |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3,
                  $5 != "" ? $5 : $11 == "stopped" ? "not decided (stopped)" : "unsolved", $6 == "" ? "-" : $6, $7 == "" ? "-" : $7, $8,
                  $9 ? "yes" : "no", $4, $10, $11 }' <(latest)
echo
echo "| strategy | runs | solved | largest N solved | score over sizes run | score over the protocol's $protocol sizes |"
echo "|---|---|---|---|---|---|"
# bsuite's score is the mean over the sizes of "solved and beats 2^N + 100"; with several seeds
# each (size, seed) run counts once, as in bsuite's mean over its rows. The last column counts
# the protocol's sizes not run (for every seed run) as failures.
awk -F, -v protocol="$protocol" '
    NR > 1 { k = $1; runs[k]++; beat[k] += $9; if (!((k, $3) in sd)) { sd[k, $3] = 1; seeds[k]++ }
             if ($5 != "") { solved[k]++; if ($2 + 0 > big[k]) big[k] = $2 + 0 }
             if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
    END { for (i = 1; i <= m; i++) { k = order[i]; all = protocol * seeds[k]
          printf "| %s | %d | %d | %s | %.3f | %.3f |\n", k, runs[k], solved[k] + 0,
                 big[k] ? big[k] : "-", beat[k] / runs[k], beat[k] / (runs[k] > all ? runs[k] : all) } }' <(latest)
"$here/deep_sea_plot.sh" "$out/deep_sea.svg" <(latest) "$episodes"
[ -n "$report_only" ] || capped_summary
