#!/bin/bash
# Supervision figures (issue 14): SIGKILL an actor, the replay shard and the learner of a real
# `shoal train` on this machine (one shard, one learner, two actors, demonstrations, no
# evaluator, run.restarts = 1) and print, for each kill: seconds from the kill to the line that
# names it, seconds from the kill to the resumed run's first new learner step, learner steps lost
# (the step the learner had reached minus the checkpoint step it resumed from; 0 when the
# learner wrote a newer checkpoint while the run stopped) and replay transitions lost (the
# shard's insert count at the kill minus the count in the resumed run's first metrics row,
# which already holds up to 0.2 s of new inserts: a lower bound), with the age of the shard's
# checkpoint at the kill (the loss is at most that many seconds of inserts).
#
#   bench/supervise.sh [build/cluster/shoal] [checkpoint_secs of the shard, default 5]
#
# The learner's step at the kill is the last metrics.csv row (one every 0.2 s), so steps lost
# are a lower bound by at most 0.2 s of updates.
set -euo pipefail
shoal=$(realpath "${1:-build/cluster/shoal}")
shard_ckpt_secs=${2:-5}
work=$(mktemp -d /tmp/shoal-supervise-XXXXXX)
trap 'pkill -KILL -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cat > "$work/small.ini" <<EOF
[cluster]
replay_shards = 1
learners = 1
evaluators = 0
actors = 2
[replay]
capacity = 20000
min_size = 500
checkpoint_secs = $shard_ckpt_secs
demos = $work/demo.demo
[actor]
envs = 4
[learner]
checkpoint_period = 500
metrics_secs = 0.2
[run]
progress_secs = 1
demo_episodes = 2
restarts = 1
EOF

now() { date +%s.%N; }
# last value of a metrics.csv column (empty before the first row)
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                           { v = $c } END { print v }' "$1/metrics.csv" 2>/dev/null
}
# waits until command succeeds, at most $1 seconds
wait_for() {
    local limit=$1; shift
    local t0; t0=$(now)
    until "$@"; do
        if (( $(echo "$(now) - $t0 > $limit" | bc) )); then return 1; fi
        sleep 0.05
    done
}
# pid of a world rank's process (not its guardian, which has the same command line)
rank_pid() {
    local run=$1 rank=$2 p r pr
    for p in $(pgrep -f "$run --prepared"); do
        r=$(tr '\0' '\n' < /proc/$p/environ 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
        pp=$(awk '{print $4}' /proc/$p/stat 2>/dev/null || echo 0)
        pr=$(tr '\0' '\n' < /proc/$pp/environ 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
        if [[ "$r" == "$rank" && "$pr" == "$rank" ]]; then echo "$p"; return; fi
    done
}
step_above() { local s; s=$(column "$1" step); [[ -n "$s" ]] && (( $(echo "$s > $2" | bc) )); }
has_line() { grep -q -- "$2" "$1"; }
resumed() { grep -q "resuming from" "$1/log/learner-0.log"; }
# a metrics row after the first $2 lines with a step above $3
new_step_above() { (( $(wc -l < "$1/metrics.csv") > $2 )) && step_above "$1" "$3"; }

printf "%-8s %14s %16s %12s %18s %16s\n" killed "s to message" "s to 1st step" "steps lost" \
    "transitions lost" "shard ckpt age s"
for victim in actor:3 shard:0 learner:1; do
    name=${victim%%:*}; rank=${victim##*:}
    run="$work/run-$name"; out="$work/$name.log"
    "$shoal" train "$work/small.ini" --run-dir "$run" > "$out" 2>&1 &
    launcher=$!
    wait_for 120 step_above "$run" 1000
    wait_for 30 test -f "$run/replay-0.ckpt"
    # The shard's checkpoints come every checkpoint_secs from its start, the first when the file
    # appears: killing at 90 % of an interval after it gives about the worst case of a loss.
    sleep "$(echo "$shard_ckpt_secs * 0.9" | bc)"
    step_at_kill=$(column "$run" step)
    inserted_at_kill=$(column "$run" replay_inserted)
    pid=$(rank_pid "$run" "$rank")
    t_kill=$(now)
    ckpt_age=$(echo "$t_kill - $(stat -c %.9Y "$run/replay-0.ckpt")" | bc)
    kill -KILL "$pid"
    wait_for 30 has_line "$out" "died:"
    t_msg=$(now)
    to_step="-"; steps_lost=0; lost=0
    if [[ $name != actor ]]; then
        wait_for 60 resumed "$run"
        rows=$(wc -l < "$run/metrics.csv")
        from=$(sed -n 's/.*resuming from .*(step \([0-9]*\)).*/\1/p' "$run/log/learner-0.log" |
               head -1)
        wait_for 60 new_step_above "$run" "$rows" "$from"
        to_step=$(echo "$(now) - $t_kill" | bc)
        steps_lost=$(( ${step_at_kill%.*} - from ))
        (( steps_lost < 0 )) && steps_lost=0
        first_inserted=$(sed -n "$((rows + 1))p" "$run/metrics.csv" | awk -F, -v h="$(head -1 \
            "$run/metrics.csv")" 'BEGIN { n = split(h, names, ","); for (i = 1; i <= n; i++)
            if (names[i] == "replay_inserted") c = i } { print $c }')
        lost=$(( ${inserted_at_kill%.*} - ${first_inserted%.*} ))
        (( lost < 0 )) && lost=0
    fi
    kill -TERM "$launcher"; wait "$launcher" || true
    printf "%-8s %14.1f %16s %12d %18d %16.1f\n" "$name" "$(echo "$t_msg - $t_kill" | bc)" \
        "$( [[ $to_step == - ]] && echo - || printf %.1f "$to_step")" "$steps_lost" "$lost" \
        "$ckpt_age"
done
