#!/usr/bin/env bash
# One `shoal train --hostfile` across hosts made as Linux network namespaces on this machine:
# each host has its own network stack (an address on a shared bridge) and its own host name
# (a UTS namespace); OpenMPI's rsh agent starts each host's orted inside that host's
# namespaces, and MPI's TCP traffic is restricted to the bridge's subnet. The shard runs on h1
# (where mpirun runs too), the learner on h2, the evaluator and two actors on h3, and an actor
# from h4 joins the running job with `shoal actor --join`.
#
# Asserts: every role ran on its host (log/<role>-<i>.alive holds "HOST PID"); endpoints.json
# holds the hosts' addresses; frames flowed and the learner updated; checkpoints and
# evaluations were written; the run exited 0; the joined actor took an index the run gave it,
# sent transitions and stopped by itself when the run ended. A second job under the user's own
# mpirun loses h3's actors (SIGKILL) and must still end by itself after its budget. A third puts
# two learners on two hosts (h2, h4) and checks they agree and parameters reach h3's actors,
# whose link is cut for 10 s: they must resume.
#
#   tests/multihost.sh build/cluster/shoal       (ctest: test_multihost)
#
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), ip(8), unshare(1) and mpirun; without them it
# says why and exits 77, which ctest reports as skipped. Every exit path removes the
# namespaces, their processes and the files it made (trap).
set -uo pipefail

SKIP=77
shoal=${1:-${SHOAL_BIN:-}}
skip() { echo "test_multihost: SKIPPED: $*"; exit $SKIP; }
fail() { echo "test_multihost: FAILED: $*" >&2; exit 1; }

[ -n "$shoal" ] && [ -x "$shoal" ] || fail "usage: $0 PATH/TO/shoal"
shoal=$(realpath "$shoal")
for tool in mpirun timeout; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done

P=shmh$$ # namespace and link names of this run (tests/netns.sh)
. "$(dirname "$0")/netns.sh"
subnet=$netns_subnet
hosts="h1 h2 h3 h4"
work=$(mktemp -d /tmp/shoal-multihost-XXXXXX)

cleanup() {
    netns_down
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_up "$work" $hosts
case $? in
0) ;;
1) skip "$netns_why" ;;
*) fail "$netns_why" ;;
esac

printf 'h1 slots=1\nh2 slots=1\nh3 slots=3\n' >"$work/hosts"
cat >"$work/small.ini" <<'EOF'
[cluster]
replay_shards = 1
learners = 1
evaluators = 1
actors = 2
[replay]
capacity = 20000
min_size = 500
[actor]
envs = 4
[learner]
checkpoint_period = 100
metrics_secs = 1
publish_period = 20
[evaluator]
episodes = 2
poll_secs = 1
max_episode_steps = 200
n_envs = 2
[run]
progress_secs = 2
max_seconds = 30
EOF

run=$work/run
mpirun_args="--mca plm_rsh_agent $work/agent --mca plm_rsh_no_tree_spawn 1"
mpirun_args+=" --mca oob_tcp_if_include $subnet --mca btl_tcp_if_include $subnet"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "test_multihost: shoal train across h1 (shard), h2 (learner), h3 (evaluator, 2 actors)"
inhost h1 timeout -s KILL 150 "$shoal" train "$work/small.ini" --run-dir "$run" \
    --hostfile "$work/hosts" --mpirun-args "$mpirun_args" \
    --set cluster.bind_host=auto --set cluster.advertise_host=$subnet >"$work/train.out" 2>&1 &
train_pid=$!

# The joiner: from h4, once the job has written its endpoints.
for _ in $(seq 600); do
    [ -s "$run/endpoints.json" ] && break
    kill -0 $train_pid 2>/dev/null || break
    sleep 0.1
done
[ -s "$run/endpoints.json" ] || { cat "$work/train.out"; fail "no endpoints.json"; }
inhost h4 timeout -s KILL 150 "$shoal" actor --join "$run" >"$work/join.out" 2>&1 &
join_pid=$!

wait $train_pid
train_rc=$?
wait $join_pid
join_rc=$?
echo "--- shoal train (exit $train_rc)"
cat "$work/train.out"
echo "--- shoal actor --join from h4 (exit $join_rc)"
cat "$work/join.out"

. "$(dirname "$0")/checks.sh"
on_host() { # on_host ROLE-INDEX HOST [RUN]: its heartbeat says it ran there
    local file="${3:-$run}/log/$1.alive"
    [ -f "$file" ] && [ "$(cut -d' ' -f1 "$file")" = "$2" ]
}

check "shoal train exited 0" [ "$train_rc" = 0 ]
check "the shard ran on h1" on_host replay-0 h1
check "the learner ran on h2" on_host learner-0 h2
check "the evaluator ran on h3" on_host evaluator-0 h3
check "actor 0 ran on h3" on_host actor-0 h3
check "actor 1 ran on h3" on_host actor-1 h3
check "endpoints.json: the shard at h1's address" has "$run/endpoints.json" '"tcp://10.77.0.1:'
check "endpoints.json: the parameters at h2's address" has "$run/endpoints.json" \
    '"params": *"tcp://10.77.0.2:'
# metrics.csv: time_s,step,frames,...: the learner's last row has updates and frames.
last=$(tail -n 1 "$run/metrics.csv" 2>/dev/null)
check "frames flowed and the learner updated (metrics.csv: $last)" \
    awk -F, -v l="$last" 'BEGIN { split(l, f, ","); exit !(f[2] > 0 && f[3] > 0) }'
check "checkpoints were written" sh -c "ls '$run/checkpoints' | grep -q ."
check "evaluations were written" sh -c "[ \$(wc -l < '$run/eval.csv') -ge 2 ]"
check "the joined actor stopped by itself with the run (exit 0)" [ "$join_rc" = 0 ]
check "the joined actor took an index the run gave it" \
    grep -Eq "as actor [0-9]+ \(the index the run gave it\)" "$work/join.out"
check "the joined actor's transitions were acknowledged" \
    grep -Eq "transitions sent in [0-9]+ batches, [1-9][0-9]* acknowledged" "$work/join.out"

# Second job: under the user's own mpirun, as docs/cluster.md shows, the actors of h3 are
# killed; every other role finishes at the end of the budget, and the job must end then too
# (OpenMPI 4.1's mpirun alone waits on h3's daemon forever).
run2=$work/run2
echo "test_multihost: own mpirun; the actors of h3 killed mid-run"
t0=$(date +%s)
inhost h1 timeout -s KILL 120 mpirun -np 5 --hostfile "$work/hosts" --oversubscribe \
    --enable-recovery --bind-to none $mpirun_args -x OPENBLAS_NUM_THREADS=1 \
    "$shoal" train "$work/small.ini" --run-dir "$run2" --set run.max_seconds=15 \
    --set cluster.bind_host=auto --set cluster.advertise_host=$subnet >"$work/own.out" 2>&1 &
own_pid=$!
for _ in $(seq 600); do
    [ -s "$run2/log/actor-0.alive" ] && [ -s "$run2/log/actor-1.alive" ] && break
    sleep 0.1
done
sleep 3
for a in actor-0 actor-1; do
    pid=$(cut -d' ' -f2 "$run2/log/$a.alive" 2>/dev/null)
    [ -n "$pid" ] && ip netns exec "${P}h3" kill -KILL "$pid"
done
wait $own_pid
own_rc=$?
own_secs=$(($(date +%s) - t0))
echo "--- own mpirun (exit $own_rc after $own_secs s)"
tail -n 3 "$work/own.out"
check "the killed actors were reported dead" \
    sh -c "[ -f '$run2/log/actor-0.died' ] && [ -f '$run2/log/actor-1.died' ]"
check "shard, learner and evaluator finished" \
    sh -c "ls '$run2/log/' | grep -Ec '^(replay|learner|evaluator)-0.done$' | grep -qx 3"
check "the job ended by itself after its budget ($own_secs s; killed at 120 s)" \
    [ "$own_rc" != 137 -a "$own_secs" -lt 100 ]

# Third job: two learners on two hosts (h2, h4), whose all-reduced updates must stay equal
# (learner.checksum_period: a mismatch fails the run), and parameters that reach the actors on
# a third (h3), whose link to the bridge is cut for 10 s mid-run: its actors must resume.
run3=$work/run3
printf 'h1 slots=1\nh2 slots=1\nh4 slots=1\nh3 slots=3\n' >"$work/hosts3"
echo "test_multihost: learners on h2 and h4, actors on h3"
inhost h1 timeout -s KILL 120 "$shoal" train "$work/small.ini" --run-dir "$run3" \
    --hostfile "$work/hosts3" --mpirun-args "$mpirun_args" --set cluster.learners=2 \
    --set learner.checksum_period=10 --set run.max_seconds=32 \
    --set cluster.bind_host=auto --set cluster.advertise_host=$subnet >"$work/two.out" 2>&1 &
two_pid=$!
# frames (column 3 of metrics.csv) the learner has seen, from its newest row
frames_now() { tail -n 1 "$run3/metrics.csv" 2>/dev/null | cut -d, -f3; }
for _ in $(seq 600); do
    [ "$(frames_now)" -gt 0 ] 2>/dev/null && break
    sleep 0.1
done
sleep 2
ip -n "${P}br" link set "${P}a3" down # h3's side of the bridge: its packets are dropped
sleep 1
down_frames=$(frames_now)
sleep 9
ip -n "${P}br" link set "${P}a3" up
sleep 2 # the learner's metrics row of the moment (learner.metrics_secs = 1 in small.ini)
cut_frames=$(frames_now)
wait $two_pid
two_rc=$?
end_frames=$(frames_now)
echo "--- two learners (exit $two_rc)"
tail -n 3 "$work/two.out"
check "two learners: exited 0 (no divergence, no failure)" [ "$two_rc" = 0 ]
check "learner 0 ran on h2" on_host learner-0 h2 "$run3"
check "learner 1 ran on h4" on_host learner-1 h4 "$run3"
step3=$(tail -n 1 "$run3/metrics.csv" 2>/dev/null | cut -d, -f2)
check "two learners: checksums compared every 10 updates and agreed (step ${step3:-none})" \
    [ "${step3:-0}" -ge 20 ]
# The progress line's "params vA[-B]": the versions the actors of h3 acted with.
pv=$(grep -o 'params v[0-9]*' "$work/two.out" | tail -n 1 | tr -dc 0-9)
check "parameters reached the actors on h3 (version ${pv:-none})" [ "${pv:-0}" -gt 0 ]
check "h3's actors resumed after its link came back (frames: $down_frames cut, $cut_frames back, $end_frames end)" \
    [ "${end_frames:-0}" -gt $((${cut_frames:-0} + 1000)) ]

if [ $failed != 0 ]; then
    echo "--- run folder logs"
    tail -n 5 "$run"/log/*.log 2>/dev/null
    exit 1
fi
echo "test_multihost: passed"
