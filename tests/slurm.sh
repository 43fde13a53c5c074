#!/usr/bin/env bash
# cluster/slurm/shoal.sbatch under a real Slurm: this script starts a single-node Slurm of its
# own (munged, slurmctld, slurmd from Debian's slurm-wlm) in a temporary folder (its own
# slurm.conf, ports, state and spool folders, MUNGE key and socket), submits the batch script
# with sbatch on a small config and waits for the job.
#
# Case "complete" (ctest test_slurm): the job completes (scontrol: COMPLETED, exit code 0:0);
# the batch script sized the run from the allocation (5 tasks: shard, learner, evaluator, 2
# actors); every role ran on this node and wrote its .done marker, none died or failed;
# checkpoints were written; the run stopped at its frame budget. About 25 s.
# Case "requeue" (ctest test_slurm_requeue, opt-in: SHOAL_TEST_SLURM_REQUEUE=1, about 50 s):
# the job is requeued (scontrol requeue) after its first checkpoint: Slurm stops it (SIGTERM to
# every process at once), which must stop the run in order (no role failed or died: the shard
# drains, the actors flush); Slurm starts it again, and the batch script resumes the run from
# its checkpoints (the learner's log says from which), which then completes with exit code 0.
#
#   tests/slurm.sh build/cluster/shoal [complete|requeue]
#
# Needs root (slurmd runs jobs as any user), slurm-wlm and munge (cluster/install-deps.sh
# installs them); without them, or when the daemons do not start, it says why and exits 77,
# which ctest reports as skipped. Every exit path stops the jobs and daemons it started and
# removes its folder (trap). Authentication: MUNGE with a key made for this run. Slurm 22.05
# still ships an auth/none plugin, but its slurm.conf(5) documents only auth/munge (auth/none
# is gone from later releases), and MUNGE is what a cluster runs.
set -uo pipefail

SKIP=77
shoal=${1:-${SHOAL_BIN:-}}
case_name=${2:-complete}
repo=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "test_slurm: SKIPPED: $*"; exit $SKIP; }
fail() { echo "test_slurm: FAILED: $*" >&2; exit 1; }

[ -n "$shoal" ] && [ -x "$shoal" ] || fail "usage: $0 PATH/TO/shoal [complete|requeue]"
case "$case_name" in
complete) ;;
requeue)
    [ "${SHOAL_TEST_SLURM_REQUEUE:-0}" = 1 ] ||
        skip "the requeue case takes about 50 s; set SHOAL_TEST_SLURM_REQUEUE=1 to run it" ;;
*) fail "unknown case '$case_name' (complete, requeue)" ;;
esac
shoal=$(realpath "$shoal")
[ "$(id -u)" = 0 ] || skip "not root: slurmd must run as root to start jobs"
for tool in slurmctld slurmd sbatch scontrol squeue munged mungekey munge unmunge mpirun timeout ss; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install slurm-wlm munge)"
done

work=$(mktemp -d /tmp/shoal-slurm-XXXXXX)
chmod 711 "$work" # munged wants its socket's folder searchable by all, writable by root only
export SLURM_CONF=$work/slurm.conf
# Every process of this test carries this variable (daemons, slurmstepd, the jobs): cleanup
# finds them by it, and nothing else on the machine.
marker="SLURM_CONF=$SLURM_CONF"

# Processes whose environment holds the marker (not this shell), with one grep.
ours() {
    grep -lzxF "$marker" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|^/proc/\([0-9]*\)/environ$|\1|' | grep -vx -e $$ -e "$BASHPID"
}
cleanup() {
    local pid f
    if [ -s "$work/slurmctld.pid" ]; then
        timeout 10 scancel --quiet --user=root 2>/dev/null
        for _ in $(seq 40); do # jobs stop within KillWait (slurm.conf below)
            [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    for f in slurmd slurmctld; do
        [ -s "$work/$f.pid" ] && kill -TERM "$(cat "$work/$f.pid")" 2>/dev/null
    done
    [ -S "$work/munge/sock" ] && munged --stop --socket="$work/munge/sock" >/dev/null 2>&1
    unset SLURM_CONF # from here on, only what this test started carries the marker
    sleep 0.5
    for pid in $(ours); do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# MUNGE: a key of this run and a daemon on a socket in the temporary folder.
mkdir -m 700 "$work/munge" && chmod 711 "$work/munge"
mungekey --create --keyfile="$work/munge/munge.key" >"$work/err" 2>&1 ||
    skip "mungekey cannot make a key: $(cat "$work/err")"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/sock" \
    --pid-file="$work/munge/pid" --seed-file="$work/munge/seed" \
    --log-file="$work/munge/log" >"$work/err" 2>&1 ||
    skip "munged does not start: $(cat "$work/err" "$work/munge/log" 2>/dev/null)"
munge --socket="$work/munge/sock" --no-input 2>"$work/err" |
    unmunge --socket="$work/munge/sock" >/dev/null 2>>"$work/err" ||
    skip "munged does not answer: $(cat "$work/err")"

# Two TCP ports nobody listens on (slurmctld, slurmd).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        ss -Htln "sport = :$p" | grep -q . || { echo $p; return; }
    done
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

# The node is this machine under its own host name, so the hostfile the batch script builds
# from the allocation names it as mpirun knows it. config_overrides: 8 CPUs whatever the
# machine has, so 5 tasks fit on CI's 2 cores (shoal's mpirun oversubscribes). cred_expire and
# sched_interval: a requeued job may start again about 10 s later (defaults 120 s and 60 s).
# KillWait 20 s: shoal needs about 10 s to stop after Slurm's SIGTERM.
host=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/log"
cat >"$SLURM_CONF" <<EOF
ClusterName=shoaltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/sock,cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=20
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=shoal Nodes=$host Default=YES MaxTime=10 State=UP
EOF

daemon_logs() { tail -n 20 "$work"/log/*.log 2>/dev/null; }
slurmctld -f "$SLURM_CONF" >"$work/err" 2>&1 || skip "slurmctld does not start: $(cat "$work/err"; daemon_logs)"
slurmd -f "$SLURM_CONF" >"$work/err" 2>&1 || skip "slurmd does not start: $(cat "$work/err"; daemon_logs)"
for _ in $(seq 60); do
    [ "$(timeout 5 sinfo -h -o %t 2>/dev/null)" = idle ] && break
    sleep 0.5
done
[ "$(timeout 5 sinfo -h -o %t 2>/dev/null)" = idle ] ||
    skip "the Slurm node did not come up (sinfo: $(timeout 5 sinfo -h 2>&1)): $(daemon_logs)"
echo "test_slurm: Slurm $(sinfo -V | cut -d' ' -f2) up on $host (ports $ctld_port, $slurmd_port) after $SECONDS s"

# Small: a learner checkpoint every 100 updates, an evaluator that plays one short episode.
cat >"$work/small.ini" <<'EOF'
[cluster]
replay_shards = 1
learners = 1
evaluators = 1
[replay]
capacity = 20000
min_size = 500
[learner]
checkpoint_period = 100
[evaluator]
episodes = 1
max_episode_steps = 200
[run]
max_frames = 5000
max_seconds = 60
EOF

export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# sbatch NAME: submits shoal.sbatch for the run folder $work/NAME on one node with 5 tasks
# (the script's 3 nodes x 8 overridden), output in $work/NAME.out; prints the job id.
submit() {
    SHOAL_BIN=$shoal SHOAL_RUN_DIR=$work/$1 timeout 20 sbatch --parsable --chdir="$work" \
        --job-name="$1" --nodes=1 --ntasks-per-node=5 --time=3 --output="$work/$1.out" \
        "$repo/cluster/slurm/shoal.sbatch" "$work/small.ini"
}
field() { timeout 5 scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | cut -d= -f2; }
# Waits (at most $2 seconds) for job $1 to end; prints its last state.
wait_job() {
    local state=""
    for _ in $(seq $(($2 * 2))); do
        state=$(field "$1" JobState)
        case "$state" in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) break ;;
        esac
        sleep 0.5
    done
    echo "$state"
}

. "$(dirname "$0")/checks.sh"
# ended_well RUN: every role wrote its .done marker on this node, none died or failed.
ended_well() {
    local r
    for r in replay-0 learner-0 evaluator-0 actor-0 actor-1; do
        [ -f "$1/log/$r.done" ] && [ "$(cut -d' ' -f1 "$1/log/$r.alive")" = "$host" ] || return 1
    done
    ! ls "$1/log" | grep -Eq '\.(died|failed)$'
}

if [ "$case_name" = complete ]; then
    echo "test_slurm: sbatch shoal.sbatch; the job completes"
    t0=$SECONDS
    job=$(submit one) || fail "sbatch refused the job: $job"
    state=$(wait_job "$job" 90)
    echo "--- job $job: $state, exit code $(field "$job" ExitCode) after $((SECONDS - t0)) s"
    cat "$work/one.out"
    check "the job completed" [ "$state" = COMPLETED ]
    check "with exit code 0:0" [ "$(field "$job" ExitCode)" = 0:0 ]
    check "the batch script sized the run from the allocation (5 tasks, 2 actors)" \
        has "$work/one.out" "5 processes (1 shard(s), 1 learner(s), 1 evaluator(s), 2 actor(s))"
    check "the run stopped at its frame budget" has "$work/one.out" "frame budget reached"
    check "every role ran on $host and finished; none died or failed" ended_well "$work/one"
    check "checkpoints were written" sh -c "ls '$work/one/checkpoints' | grep -q '^step-.*\.ckpt$'"
else
    echo "test_slurm: the job requeued after its first checkpoint resumes the run"
    t0=$SECONDS
    job=$(submit two) || fail "sbatch refused the job: $job"
    for _ in $(seq 180); do
        ls "$work/two/checkpoints" 2>/dev/null | grep -q '\.ckpt$' && break
        case "$(field "$job" JobState)" in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) break ;;
        esac
        sleep 0.5
    done
    ls "$work/two/checkpoints" 2>/dev/null | grep -q '\.ckpt$' ||
        fail "no checkpoint within 90 s (job $job: $(field "$job" JobState)): $(cat "$work/two.out")"
    timeout 10 scontrol requeue "$job" || fail "scontrol requeue $job failed"
    state=$(wait_job "$job" 120)
    echo "--- job $job: $state, exit code $(field "$job" ExitCode), restarts $(field "$job" Restarts) after $((SECONDS - t0)) s"
    cat "$work/two.out"
    check "the job was requeued once" [ "$(field "$job" Restarts)" = 1 ]
    check "the requeued job completed" [ "$state" = COMPLETED ]
    check "with exit code 0:0" [ "$(field "$job" ExitCode)" = 0:0 ]
    check "the first attempt started a new run" has "$work/two.out" "new run $work/two"
    check "the first attempt stopped in order on Slurm's SIGTERM (no role failed or died)" \
        sh -c "! grep -Eq '^shoal train: .* (failed|died)' '$work/two.out'"
    check "the first attempt's shoal train ended with its run finished (exit 0)" \
        [ "$(grep -c '^shoal train: finished;' "$work/two.out")" = 2 ]
    check "the second attempt resumed it" has "$work/two.out" "(restart 1): resuming $work/two"
    check "the learner resumed from a checkpoint" \
        grep -Eq "resuming from .*step-[0-9]+\.ckpt \(step [1-9][0-9]*\)" "$work/two/log/learner-0.log"
    check "only the resumed attempt reached the frame budget" \
        [ "$(grep -c 'frame budget reached' "$work/two.out")" = 1 ]
    check "every role finished; none died or failed" ended_well "$work/two"
fi

if [ $failed != 0 ]; then
    echo "--- run folder logs and Slurm's"
    tail -n 5 "$work"/one/log/*.log "$work"/two/log/*.log 2>/dev/null
    daemon_logs
    exit 1
fi
echo "test_slurm: passed in $SECONDS s"
