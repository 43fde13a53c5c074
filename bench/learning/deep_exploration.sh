#!/usr/bin/env bash
# Deep exploration: DeepSea (sizes 10, 20, 30) and Osband's Chain (lengths 20, 50, 100), each
# with epsilon (the Ape-X ladder's epsilon for one actor, 0.4), bootstrap (10 heads), bootstrap
# with randomized priors (beta = 3) and count (SimHash bonus), for a fixed budget of episodes.
# Reports per run the first episode that reached the optimal return and the average regret
# (optimal return minus the episode's return, averaged over the budget), read from the actor's
# episode log. The replay ratio is fixed (replay.samples_per_insert), so the numbers depend on
# episodes, not on how fast this machine is: 32 samples per inserted transition, one update of
# 32 per environment step, as bsuite's agents.
#
#   bench/learning/deep_exploration.sh [--seeds "1 2 3"] [--out DIR] [--envs "deepsea:10 chain:20"]
#                                      [--strategies "epsilon bootstrap prior count"]
#                                      [--heads N] [--seconds S]
#                                      [--set section.key=value ...] [--dry-run]
# Budgets: $DEEPSEA_EPISODES episodes on DeepSea (default 3000) and $CHAIN_EPISODES on Chain
# (default 1000). --heads: the heads of bootstrap and prior (default 10). --seconds caps each
# run (run.max_seconds; default 0, no cap: the budget is episodes, whatever this machine's
# speed); a run it stops is reported as time_cap in the ended_by column and below the table.
# Each --set goes to every `shoal train` after the script's own (it wins). Each run's command
# is printed first; --dry-run prints them and checks the configuration without training.
set -euo pipefail
. "$(dirname "$0")/common.sh"

seeds="1 2 3"
out=runs/learning/deep-exploration
envs="deepsea:10 deepsea:20 deepsea:30 chain:20 chain:50 chain:100"
strategies="epsilon bootstrap prior count"
deepsea_episodes=${DEEPSEA_EPISODES:-3000}
chain_episodes=${CHAIN_EPISODES:-1000}
heads=10
seconds=0
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --seeds) seeds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --envs) envs=$2; shift 2 ;;
        --strategies) strategies=$2; shift 2 ;;
        --heads) heads=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --set) extra+=(--set "$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage_exit 2 20 ;;
        *) unknown_arg "$1" ;;
    esac
done
[ -n "$DRY_RUN" ] || summary=$(summary_csv "$out" "env,size,strategy,seed,episodes,first_optimal,avg_regret,wall_s,ended_by")

for e in $envs; do
    name=${e%%:*}
    size=${e##*:}
    case $name in
        deepsea) cfg=$root/cluster/configs/deepsea-bootstrap.ini; budget=$deepsea_episodes
                 steps=$size; optimal=0.99; size_key=env.deepsea_size ;;
        chain) cfg=$root/cluster/configs/chain-bootstrap.ini; budget=$chain_episodes
               steps=$((size + 8)); optimal=10; size_key=env.chain_length ;;
        *) echo "deep_exploration.sh: unknown env $name (deepsea, chain)" >&2; exit 2 ;;
    esac
    for strategy in $strategies; do
        case $strategy in
            epsilon) sets=(--set exploration.strategy=epsilon --set network.heads=1 --set network.prior_scale=0) ;;
            bootstrap) sets=(--set exploration.strategy=bootstrap --set network.heads="$heads" --set network.prior_scale=0) ;;
            prior) sets=(--set exploration.strategy=bootstrap --set network.heads="$heads" --set network.prior_scale=3) ;;
            count) sets=(--set exploration.strategy=count --set network.heads=1 --set network.prior_scale=0) ;;
            *) echo "deep_exploration.sh: unknown strategy $strategy" >&2; exit 2 ;;
        esac
        for seed in $seeds; do
            dir=$out/$name-$size-$strategy-$seed
            # A few episodes more than the budget: the run stops at the next progress poll.
            frames=$(( (budget + 8) * steps ))
            wall=$(train_run "$dir" "$cfg" "${sets[@]}" --set "$size_key=$size" \
                --set run.seed="$seed" --set run.max_frames="$frames" --set run.max_seconds="$seconds" \
                --set run.progress_secs=0.5 --set cluster.actors=1 --set cluster.evaluators=0 \
                --set actor.envs=4 --set network.dense=32 --set learner.batch_size=32 \
                --set replay.samples_per_insert=32 --set replay.min_size=500 \
                --set learner.checkpoint_period=100000 \
                --set actor.episode_log=episodes-%d.csv ${extra[@]+"${extra[@]}"})
            [ -z "$DRY_RUN" ] || continue
            ended_by "$dir"
            row=$(awk -F, -v budget="$budget" -v opt="$optimal" '
                NR > 1 && n < budget { n++; regret += opt - $2
                                       if (!first && $2 >= opt - 1e-4) first = n }
                END { printf "%d,%s,%.4f", n, first ? first : "", n ? regret / n : 0 }' \
                "$dir/episodes-0.csv")
            echo "$name,$size,$strategy,$seed,$row,$wall,$ended" | tee -a "$summary"
        done
    done
done

[ -z "$DRY_RUN" ] || exit 0
# Per setting: runs that reached the optimum, the median first episode among them, mean regret.
echo
echo "| env | size | strategy | solved (of seeds) | first optimal episode (each seed) | average regret |"
echo "|---|---|---|---|---|---|"
awk -F, 'NR > 1 { k = $1 "|" $2 "|" $3; n[k]++; if ($6 != "") s[k]++
                  f[k] = f[k] (f[k] == "" ? "" : ", ") ($6 == "" ? "-" : $6); r[k] += $7
                  if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
         END { for (i = 1; i <= m; i++) { k = order[i]; split(k, p, "|")
               printf "| %s | %s | %s | %d of %d | %s | %.4f |\n", p[1], p[2], p[3], s[k], n[k],
                      f[k], r[k] / n[k] } }' "$summary"
capped_summary
