#!/usr/bin/env bash
# The measurements behind docs/scaling.md: each role's cost on this machine, and the scaling
# model checked against `shoal train` runs. Prints markdown tables; every figure comes from a
# program run here, nothing is copied in.
#
#   bench/scaling.sh [--quick] [--check] [--hosts] [--seconds N] [--runs "A:S:L ..."]
#                    [--nice N] [--inputs "c_a c_i c_s b_i P"] [--build DIR]
#
# Steps (each prints its table):
#   costs   bench_actor (actor CPU per frame by game and network), bench_replay (shard CPU per
#           inserted and sampled transition, message bytes), bench_params (Params bytes, publish
#           and receive CPU and latency), bench_learner (updates/s by batch and rank count)
#   check   (--check) `shoal train` on this host at 1-8 actors, 1-4 shards, 1-2 learners; per
#           run: frames/s and updates/s over a steady window (metrics.csv), every rank's CPU
#           (/proc/PID/stat utime + stime, pids from RUN_DIR/log/*.alive) over the same window,
#           and the model's prediction of frames/s with its error
#   hosts   (--hosts, needs root) the same runs across hosts made as network namespaces
#           (tests/netns.sh): shards on h1, learners on h2, actors on h3; adds the bytes each
#           host's link carried against the model's
#
# --seconds: each run's run.max_seconds (default 30); --nice: the runs' niceness (default 10,
# the machine is shared; the model takes the CPU the run got as an input, so niceness moves
# the figures, not the error).
# --inputs: the five model inputs of an earlier run (its "Model inputs" table, in its units),
# to skip the costs and only run the checks.
# --runs: the (actors:shards:learners) of the check runs (default "1:1:1 1:1:2 2:1:1 4:1:1
# 8:1:1 4:2:1 4:4:1 4:1:2 8:2:2"; across hosts "1:1:1 1:1:2 2:1:1 4:2:1 4:1:2"); 1:1:1 and
# 1:1:2 calibrate the learner's CPU per update and belong in every list.
#
# --quick: the costs from the benches' smoke modes and no runs (a few seconds; the test suite
# runs it, bench_scaling_smoke). Without --quick the costs take a few minutes; --check adds
# about 35 s per run (9 runs), --hosts 5 more runs.
set -uo pipefail

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

quick=0 check=0 hosts=0 secs=30 nice=10 inputs= build=build runs= host_runs=
while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --quick) quick=1 ;;
    --check) check=1 ;;
    --hosts) hosts=1 ;;
    --seconds) secs=${2:-}; shift ;;
    --nice) nice=${2:-}; shift ;;
    --inputs) inputs=${2:-}; shift ;;
    --runs) runs=${2:-}; host_runs=${2:-}; shift ;;
    --build) build=${2:-}; shift ;;
    *) echo "bench/scaling.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
    esac
    shift
done
case $secs in
'' | *[!0-9]*) echo "bench/scaling.sh: --seconds wants a whole number of seconds" >&2; exit 2 ;;
esac
[ "$secs" -ge 15 ] || { echo "bench/scaling.sh: --seconds: at least 15" >&2; exit 2; }
case $nice in
'' | *[!0-9]*) echo "bench/scaling.sh: --nice wants a niceness 0..19" >&2; exit 2 ;;
esac
bench=$build/bench
shoal=$build/cluster/shoal
for p in "$bench/bench_actor" "$bench/bench_replay" "$bench/bench_params"; do
    [ -x "$p" ] || { echo "bench/scaling.sh: $p not found: build with -DSHOAL_BENCH=ON" \
        "or name the build folder with --build" >&2; exit 2; }
done
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d /tmp/shoal-scaling-XXXXXX)
P=shsc$$ # network namespaces of --hosts (tests/netns.sh)
here=$(dirname "$0")
. "$here/../tests/netns.sh" || exit 2
train_pid= # the shoal train running now: stopped (SIGTERM, it stops its ranks) if we are
cleanup() {
    [ -z "$train_pid" ] || { kill -TERM "$train_pid" 2>/dev/null; wait "$train_pid"; }
    [ "$hosts" = 0 ] || netns_down
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cores=$(nproc)
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# shoal scaling measurements, $(date -u +%Y-%m-%dT%H:%MZ), $cores cores, load average $(load)"

# ---- costs ------------------------------------------------------------------------------
if [ -n "$inputs" ]; then
    read -r c_actor c_ins c_smp ins_bytes params_bytes extra <<<"$inputs"
    for v in "$c_actor" "$c_ins" "$c_smp" "$ins_bytes" "$params_bytes"; do
        case $v in
        '' | *[!0-9.]*) echo "bench/scaling.sh: --inputs wants five numbers" >&2; exit 2 ;;
        esac
    done
    [ -z "${extra:-}" ] || { echo "bench/scaling.sh: --inputs wants five numbers" >&2; exit 2; }
else
    # bench_actor's row for E envs: "E rate env fwd explore nstep send cpu"; prints the cpu column.
    actor_cpu() { # actor_cpu GAME E [--set K=V]...
        local game=$1 envs=$2
        shift 2
        local args=(--game "$game" --envs "$envs" "$@")
        if [ $quick = 1 ]; then args+=(--smoke); else args+=(3 30000); fi
        "$bench/bench_actor" "${args[@]}" | awk -v e="$envs" '$1 == e { print $NF }'
    }
    echo
    echo "## Actor: CPU per frame (bench_actor, the actor thread's CPU clock, shard in a thread)"
    echo
    echo "| game | network | envs | CPU µs/frame | frames/s per core |"
    echo "|---|---|---|---|---|"
    games="minatar/breakout minatar/seaquest minatar/space_invaders"
    [ $quick = 1 ] && games=minatar/breakout
    for game in $games; do
        for net in default dueling heads10; do
            case $net in
            default) sets=() ;;
            dueling) sets=(--set network.dueling=true) ;;
            heads10) sets=(--set network.heads=10 --set network.prior_scale=3) ;;
            esac
            [ $quick = 1 ] && [ $net != default ] && continue
            c=$(actor_cpu "$game" 16 "${sets[@]}")
            [ -n "$c" ] || { echo "bench_actor failed for $game $net" >&2; exit 1; }
            awk -v g="$game" -v n="$net" -v c="$c" 'BEGIN { printf "| %s | %s | 16 | %s | %.0f |\n", g, n, c, 1e6 / c }'
            [ "$game $net" = "minatar/breakout default" ] && c_actor=$c
        done
    done

    echo
    echo "## Replay shard: CPU per transition (bench_replay, process CPU: shard + client + ZeroMQ)"
    echo
    if [ $quick = 1 ]; then "$bench/bench_replay" --smoke >"$work/replay.txt"; else
        "$bench/bench_replay" 3 >"$work/replay.txt"; fi || { cat "$work/replay.txt"; exit 1; }
    cat "$work/replay.txt" | sed 's/^/    /'
    # the plain "cpu us/tr" column of a row: the last but one (the last is CURVE's)
    grep -q "cpu us/tr *CURVE us$" "$work/replay.txt" ||
        { echo "bench/scaling.sh: bench_replay's columns changed: update replay_col" >&2; exit 1; }
    replay_col() { # replay_col OP BATCH
        awk -v op="$1" -v b="$2" '$1 == op && $2 == b { print $(NF - 1) }' "$work/replay.txt"
    }
    c_ins=$(replay_col insert 64)
    c_smp=$(replay_col sample 64)
    ins_bytes=$(awk '$1 == "insert" && $2 == 64 { print $5 }' "$work/replay.txt")
    [ -n "$c_ins" ] && [ -n "$c_smp" ] && [ -n "$ins_bytes" ] ||
        { echo "bench/scaling.sh: cannot read bench_replay's table" >&2; exit 1; }

    echo
    echo "## Parameter broadcast (bench_params)"
    echo
    if [ $quick = 1 ]; then "$bench/bench_params" --smoke >"$work/params.txt"; else
        "$bench/bench_params" 30 >"$work/params.txt"; fi || { cat "$work/params.txt"; exit 1; }
    sed 's/^/    /' "$work/params.txt"
    params_bytes=$(awk '$1 == "minatar/breakout" && $2 == "minatar" { print $(NF - 3) }' "$work/params.txt")

    if [ $quick = 0 ] && [ -x "$bench/bench_learner" ]; then
        echo
        echo "## Learner: updates/s by batch and ranks (bench_learner, wall clock, load $(load))"
        echo
        "$bench/bench_learner" 2>&1 | grep -E "^ranks|bench_learner" | sed 's/^/    /'
    fi
fi

# ---- the model --------------------------------------------------------------------------
# Symbols (docs/scaling.md): c_a actor CPU s/frame, c_i and c_s shard CPU s per inserted and
# sampled transition, c_u learner CPU s per update (all ranks), rho samples per insert, B batch.
echo
echo "## Model inputs"
echo
printf '| symbol | value | from |\n|---|---|---|\n'
printf '| c_a | %s µs/frame | bench_actor, breakout, E = 16 |\n' "$c_actor"
printf '| c_i | %s µs/transition | bench_replay insert 64 |\n' "$c_ins"
printf '| c_s | %s µs/transition | bench_replay sample 64 |\n' "$c_smp"
printf '| b_i | %s bytes / 64 transitions | bench_replay insert 64 message |\n' "$ins_bytes"
printf '| P | %s bytes | bench_params, breakout, MinAtar network |\n' "$params_bytes"
[ $check = 1 ] || [ $hosts = 1 ] || exit 0

# ---- check: shoal train runs ------------------------------------------------------------
[ -x "$shoal" ] || { echo "bench/scaling.sh: $shoal not found" >&2; exit 2; }
cat >"$work/base.ini" <<EOF
[cluster]
evaluators = 0
[replay]
capacity = 100000
min_size = 2000
[actor]
envs = 16
[learner]
metrics_secs = 1
checkpoint_period = 1000000
[run]
progress_secs = 5
max_seconds = $secs
EOF
rho=8 batch=32

# cpu_ticks RUN: "role-i ticks" for every rank whose heartbeat names a live pid on this machine
cpu_ticks() {
    local f pid
    for f in "$1"/log/*.alive; do
        [ -f "$f" ] || continue
        pid=$(cut -d' ' -f2 "$f")
        [ -r "/proc/$pid/stat" ] || continue
        # fields after the ")" of comm: state is 1st, utime 12th, stime 13th
        echo "$(basename "$f" .alive) $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')"
    done
}
# link_bytes: "host bytes" sent by every namespace host so far (its bridge port's rx; empty
# on one host)
link_bytes() {
    [ -n "${ns_hosts:-}" ] || return 0
    local i=0 h
    for h in $ns_hosts; do
        i=$((i + 1))
        echo "$h $(ip netns exec "${P}br" cat "/sys/class/net/${P}a$i/statistics/rx_bytes")"
    done
}
hz=$(getconf CLK_TCK)

# last_row RUN: "time_s step frames" of metrics.csv's newest row (empty before the first)
last_row() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
             { r = $c["time_s"] " " $c["step"] " " $c["frames"] } END { print r }' \
        "$1/metrics.csv" 2>/dev/null
}

# one_run NAME A S L [PREFIX...]: one shoal train (PREFIX runs it, e.g. on a namespace host),
# measured over the window from secs/2 to secs - 2; appends a line to $work/runs.txt:
# name A S L frames/s updates/s cores_got cpu_actor cpu_shard cpu_learner (seconds of CPU per
# second, summed over the role's ranks) and, across hosts, each host's tx bytes/s
one_run() {
    local name=$1 a=$2 s=$3 l=$4
    shift 4
    local run=$work/$name w0 w1 r0 r1
    "$@" nice -n "$nice" "$shoal" train "$work/base.ini" --run-dir "$run" \
        --set cluster.actors="$a" --set cluster.replay_shards="$s" \
        --set cluster.learners="$l" ${train_extra[@]+"${train_extra[@]}"} >"$work/$name.out" 2>&1 &
    local pid=$! t_start; t_start=$(date +%s)
    train_pid=$pid
    # the window opens 3 s after the learner's first update (before it the shards fill to
    # replay.min_size and the rate limiter does not yet pace the actors) and closes 2 s before
    # the time cap
    until [ "$(last_row "$run" | cut -d' ' -f2)" -gt 0 ] 2>/dev/null; do
        [ $(($(date +%s) - t_start)) -lt "$secs" ] || break
        sleep 0.2
    done
    sleep 3
    w0=$(date +%s.%N); r0=$(last_row "$run"); cpu_ticks "$run" >"$work/$name.cpu0"
    link_bytes >"$work/$name.net0"
    local left=$((t_start + secs - 2 - $(date +%s)))
    if [ $left -lt 4 ]; then
        echo "run $name: the learner's first update came too late for a window of 4 s;" \
            "raise --seconds" >&2
        wait $pid
        return 1
    fi
    sleep $left
    w1=$(date +%s.%N); r1=$(last_row "$run"); cpu_ticks "$run" >"$work/$name.cpu1"
    link_bytes >"$work/$name.net1"
    wait $pid
    local rc=$?
    train_pid=
    if [ $rc != 0 ] || [ -z "$r0" ] || [ -z "$r1" ]; then
        echo "run $name: exit $rc, metrics '$r0' '$r1':" >&2
        tail -n 20 "$work/$name.out" >&2
        tail -n 3 "$run"/log/*.log >&2 2>/dev/null
        return 1
    fi
    awk -v n="$name" -v a="$a" -v s="$s" -v l="$l" -v hz="$hz" -v dt="$(echo "$w1 - $w0" | bc -l)" \
        -v r0="$r0" -v r1="$r1" '
        FILENAME ~ /cpu0$/ { c0[$1] = $2; next }
        FILENAME ~ /cpu1$/ { if ($1 in c0) { role = $1; sub(/-[0-9]+$/, "", role)
                                             cpu[role] += ($2 - c0[$1]) / hz / dt }; next }
        FILENAME ~ /net0$/ { b0[$1] = $2; next }
        FILENAME ~ /net1$/ { net = net sprintf(" %s=%.0f", $1, ($2 - b0[$1]) / dt); next }
        END {
            split(r0, x); split(r1, y); t = y[1] - x[1]
            fps = (y[3] - x[3]) / t; ups = (y[2] - x[2]) / t
            got = cpu["actor"] + cpu["replay"] + cpu["learner"]
            printf "%s %s %s %s %.0f %.1f %.3f %.3f %.3f %.3f%s\n", n, a, s, l, fps, ups, got,
                   cpu["actor"], cpu["replay"], cpu["learner"], net
        }' "$work/$name.cpu0" "$work/$name.cpu1" "$work/$name.net0" "$work/$name.net1" \
        >>"$work/runs.txt"
    echo "  $name done, load average $(load)" >&2
}

# predict: the model's frames/s for every run of runs.txt, with its error; c_u(L) from the
# calibration runs a1s1l1 and a1s1l2 (learner CPU per update, all ranks)
predict() {
    awk -v ca="$c_actor" -v ci="$c_ins" -v cs="$c_smp" -v rho=$rho -v B=$batch -v cores="$cores" \
        -v bi="$ins_bytes" -v P="$params_bytes" -v pp=50 -v tr=1 '
        { n[NR] = $1; A[NR] = $2; S[NR] = $3; L[NR] = $4; f[NR] = $5; u[NR] = $6; got[NR] = $7
          xa[NR] = $8; xs[NR] = $9; xl[NR] = $10; net[NR] = ""
          for (i = 11; i <= NF; i++) net[NR] = net[NR] " " $i
          if ($1 ~ /^(h-)?a1s1l[12]$/ && $6 > 0 && !(($1 ~ /^h-/) SUBSEP $4 in cu))
              cu[($1 ~ /^h-/), $4] = $10 / $6 * 1e6 }
        END {
            printf "| run | A | S | L | frames/s | updates/s | cores got | actor µs/frame | shard µs/frame | learner µs/update | predicted frames/s (cores got) | error | binding | predicted (%d idle cores) |\n", cores
            print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
            for (k = 1; k <= NR; k++) {
                h = n[k] ~ /^h-/; c_u = cu[h, L[k]]
                if (c_u == "") c_u = cu[0, L[k]]
                shard = ci + rho * cs; learn = rho / B * c_u
                sum = ca + shard + learn
                cap_a = A[k] / ca * 1e6; cap_s = S[k] / shard * 1e6; cap_l = L[k] / learn * 1e6
                fc = got[k] / sum * 1e6; fi = cores / sum * 1e6
                p = fc; why = "cores"; pi = fi
                if (cap_a < p) { p = cap_a; why = "actors" }
                if (cap_s < p) { p = cap_s; why = "shards" }
                if (cap_l < p) { p = cap_l; why = "learners" }
                if (cap_a < pi) pi = cap_a; if (cap_s < pi) pi = cap_s; if (cap_l < pi) pi = cap_l
                cal = n[k] ~ /a1s1l[12]$/ ? " (cal.)" : ""
                printf "| %s%s | %d | %d | %d | %.0f | %.1f | %.2f | %.1f | %.1f | %.0f | %.0f | %+.0f%% | %s | %.0f |\n",
                    n[k], cal, A[k], S[k], L[k], f[k], u[k], got[k],
                    (f[k] > 0 ? xa[k] / f[k] * 1e6 : 0), (f[k] > 0 ? xs[k] / f[k] * 1e6 : 0),
                    (u[k] > 0 ? xl[k] / u[k] * 1e6 : 0), p,
                    (f[k] > 0 ? 100 * (p - f[k]) / f[k] : 0),
                    why, pi
            }
            print ""
            print "raw (name A S L frames/s updates/s cores; CPU s/s of actors, shards, learners; host=tx bytes/s):"
            for (k = 1; k <= NR; k++) print "    " n[k], A[k], S[k], L[k], f[k], u[k], got[k], xa[k], xs[k], xl[k] net[k]
            hdr = 0
            for (k = 1; k <= NR; k++) {
                if (net[k] == "") continue
                if (!hdr++) {
                    print ""
                    print "| run | host | measured tx bytes/s | predicted | error |"
                    print "|---|---|---|---|---|"
                }
                # h1 shards: samples (~137 B per sampled transition); h2 learners: priorities
                # (~12 B per sampled transition) and Params to every actor; h3 actors: inserts
                # (b_i per 64 transitions)
                pred["h1"] = rho * f[k] * 137
                # (a publish every g = pp/U s; within each gap the latest is repeated every
                # tr s: ceil(g/tr) messages per gap)
                g = u[k] > 0 ? pp / u[k] : tr; per = int(g / tr); if (per < g / tr) per++
                if (per < 1) per = 1; pub = per / g
                pred["h2"] = rho * f[k] * 12 + A[k] * P * pub
                pred["h3"] = f[k] * bi / 64
                m = split(net[k], parts, " ")
                for (j = 1; j <= m; j++) {
                    split(parts[j], kv, "=")
                    if (!(kv[1] in pred)) continue
                    printf "| %s | %s | %.0f | %.0f | %+.0f%% |\n", n[k], kv[1], kv[2],
                        pred[kv[1]], (kv[2] > 0 ? 100 * (pred[kv[1]] - kv[2]) / kv[2] : 0)
                }
            }
        }' "$work/runs.txt"
}

if [ $check = 1 ]; then
    echo
    echo "## Check: shoal train on this host (${secs} s runs, window from 3 s after the first update to 2 s before the cap, nice -n $nice)"
    echo
    : >"$work/runs.txt"
    for cfg in ${runs:-1:1:1 1:1:2 2:1:1 4:1:1 8:1:1 4:2:1 4:4:1 4:1:2 8:2:2}; do
        IFS=: read -r a s l <<<"$cfg"
        one_run "a${a}s${s}l${l}" "$a" "$s" "$l"
    done
    predict
fi

if [ $hosts = 1 ]; then
    echo
    echo "## Check: across namespace hosts (shards h1, learners h2, actors h3; CURVE on)"
    echo
    ns_hosts="h1 h2 h3"
    netns_up "$work" $ns_hosts || { echo "bench/scaling.sh: --hosts: $netns_why" >&2; exit 1; }
    : >"$work/runs.txt"
    mpirun_args="--mca plm_rsh_agent $work/agent --mca plm_rsh_no_tree_spawn 1"
    mpirun_args+=" --mca oob_tcp_if_include $netns_subnet --mca btl_tcp_if_include $netns_subnet"
    for cfg in ${host_runs:-1:1:1 1:1:2 2:1:1 4:2:1 4:1:2}; do
        IFS=: read -r a s l <<<"$cfg"
        printf 'h1 slots=%d\nh2 slots=%d\nh3 slots=%d\n' "$s" "$l" "$a" >"$work/hosts-$cfg"
        train_extra=(--hostfile "$work/hosts-$cfg" --mpirun-args "$mpirun_args"
            --set cluster.bind_host=auto --set cluster.advertise_host=$netns_subnet)
        one_run "h-a${a}s${s}l${l}" "$a" "$s" "$l" inhost h1
    done
    train_extra=()
    predict
fi
echo
echo "load average at the end: $(load)"
