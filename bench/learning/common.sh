# Shared by the bench/learning scripts: where shoal is, one training run with its log, the
# summary file of a sweep and reading a run's CSV files. Source it; it sets SHOAL (the binary)
# and defines train_run (with a percentage line on a terminal), ended_by, capped_summary,
# summary_csv, last_col and final_eval, and the option helpers of args.sh.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/bench/learning/args.sh"
SHOAL=${SHOAL:-$root/build/cluster/shoal}
if [ ! -x "$SHOAL" ]; then
    echo "bench/learning: $SHOAL not found; build first (cmake -S . -B build && cmake --build build)" >&2
    exit 2
fi

# DRY_RUN=1 (the scripts' --dry-run): train_run checks the configuration and prints the
# command without running it; the scripts then skip reading the run's files.
DRY_RUN=${DRY_RUN:-}

# train_run RUN_DIR CONFIG [--set k=v ...]: a fresh run in RUN_DIR, its terminal output in
# RUN_DIR.out; prints the effective command first (on stderr, and as RUN_DIR.out's first line),
# then the wall-clock seconds it took on stdout. Fails when shoal train fails, or (dry run) when
# the configuration does not load.
train_run() {
    local dir=$1 cfg=$2
    shift 2
    local cmdline
    cmdline="+ $(printf '%q ' "$SHOAL" train "$cfg" --run-dir "$dir" "$@")"
    echo "$cmdline" >&2
    if [ -n "$DRY_RUN" ]; then
        # The effective configuration must load: a typo in a --set fails here, not after hours.
        "$SHOAL" config show "$cfg" "$@" > /dev/null || return 1
        echo 0
        return 0
    fi
    rm -rf "$dir" "$dir.out"
    mkdir -p "$(dirname "$dir")"
    local t0 t1
    t0=$(date +%s.%N)
    echo "$cmdline" > "$dir.out"
    local rc=0
    train_with_progress "$dir" "$cfg" "$@" || rc=$?
    if [ "$rc" -eq 130 ]; then
        echo "bench/learning: interrupted during $dir; the run is not finished" >&2
        return 1
    elif [ "$rc" -ne 0 ]; then
        echo "bench/learning: shoal train failed for $dir; see $dir.out and $dir/log/" >&2
        tail -5 "$dir.out" >&2
        return 1
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}

# train_with_progress RUN_DIR CONFIG [--set k=v ...]: shoal train with its output appended to
# RUN_DIR.out. When stderr is a terminal, a percentage line on stderr follows the run's frame
# budget (from `shoal status --json`, every 2 s) and is erased at the end; otherwise nothing
# is added to the output. STOP_WHEN (a command, empty by default): every 2 s `$STOP_WHEN RUN_DIR`
# is asked whether the run's outcome is decided; once it says so (exit 0) the run gets the stop
# request (SIGTERM: every role stops and writes its checkpoint) and RUN_DIR.out the line
# "bench/learning: decided by STOP_WHEN, stopped early". Returns shoal train's exit status, or
# 130 when the script was interrupted (SIGINT or SIGTERM) during the run.
STOP_WHEN=${STOP_WHEN:-}
train_with_progress() {
    local dir=$1 cfg=$2
    shift 2
    if [ ! -t 2 ] && [ -z "$STOP_WHEN" ]; then
        "$SHOAL" train "$cfg" --run-dir "$dir" "$@" >> "$dir.out" 2>&1
        return
    fi
    "$SHOAL" train "$cfg" --run-dir "$dir" "$@" >> "$dir.out" 2>&1 &
    local pid=$! json pct stopped= interrupted=
    # A background job of a script ignores SIGINT: pass Ctrl-C on as the stop request, and fail
    # (the run is not finished: a sweep must not go on to its next run nor report this one).
    trap 'kill -TERM "$pid" 2>/dev/null; interrupted=1' INT TERM
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        if [ -n "$STOP_WHEN" ] && [ -z "$stopped" ] && "$STOP_WHEN" "$dir"; then
            stopped=1
            echo "bench/learning: decided by $STOP_WHEN, stopped early" >> "$dir.out"
            kill -TERM "$pid" 2>/dev/null || true
        fi
        [ -t 2 ] || continue
        json=$("$SHOAL" status "$dir" --json 2>/dev/null) || continue
        pct=$(printf '%s\n' "$json" | awk '
            match($0, /"frames":[0-9.]+/) { f = substr($0, RSTART + 9, RLENGTH - 9) }
            match($0, /"max_frames":[0-9.]+/) { m = substr($0, RSTART + 13, RLENGTH - 13) }
            END { if (m > 0 && f != "") printf "%d%% (%d of %d frames)", 100 * f / m, f, m }')
        [ -z "$pct" ] || printf '\r%s: %s\033[K' "$dir" "$pct" >&2
    done
    [ ! -t 2 ] || printf '\r\033[K' >&2
    trap - INT TERM
    wait "$pid" || return
    [ -z "$interrupted" ] || { echo "bench/learning: interrupted" >> "$dir.out"; return 130; }
}

# ended_by RUN_DIR: sets $ended to what ended the finished run: "time_cap" when run.max_seconds
# stopped it before its frame budget (shoal train says so in RUN_DIR.out), else "budget"; a
# time-capped run is said on stderr and remembered in capped_runs for capped_summary.
capped_runs=()
ended_by() {
    ended=budget
    if grep -q "^shoal train: time cap reached" "$1.out" 2>/dev/null; then
        ended=time_cap
        capped_runs+=("$1")
        echo "bench/learning: $1 ended on the time cap (run.max_seconds), not its budget" >&2
    fi
}

# capped_summary: the closing line about time caps (every run ended on its budget, or which
# did not); nothing in a dry run.
capped_summary() {
    [ -z "$DRY_RUN" ] || return 0
    if [ ${#capped_runs[@]} -eq 0 ]; then
        echo "Every run ended on its budget (none on the time cap run.max_seconds)."
    else
        echo "${#capped_runs[@]} run(s) ended on the time cap (run.max_seconds) before their budget; their numbers cover less than the budget: ${capped_runs[*]}"
    fi
}

# summary_csv DIR HEADER: creates DIR and DIR/summary.csv with the HEADER row unless the file
# exists (a sweep that goes on appends to it); prints the file's path.
summary_csv() {
    mkdir -p "$1"
    [ -f "$1/summary.csv" ] || echo "$2" > "$1/summary.csv"
    echo "$1/summary.csv"
}

# final_eval RUN_DIR EPISODES: the run's newest checkpoint played for EPISODES episodes by
# `shoal eval` (ε = the run's evaluator.epsilon) sets final_mean and final_std; best is the
# best mean of the run's eval.csv ("" without one). Fails when the run has no checkpoint or
# the evaluation fails.
final_eval() {
    local ckpt json
    ckpt=$(newest_ckpt "$1") || return 1
    json=$("$SHOAL" eval "$ckpt" --episodes "$2" --json) || return 1
    final_mean=$(echo "$json" | sed -n 's/.*"mean":\([-0-9.e]*\).*/\1/p')
    final_std=$(echo "$json" | sed -n 's/.*"std":\([-0-9.e]*\).*/\1/p')
    best=
    [ ! -f "$1/eval.csv" ] ||
        best=$(awk -F, 'NR > 1 && ($5 > b || b == "") { b = $5 } END { print b }' "$1/eval.csv")
}

# newest_ckpt RUN_DIR: the path of the run's newest checkpoint (highest step); fails when it
# has none.
newest_ckpt() {
    local step
    step=$(ls "$1/checkpoints" 2>/dev/null | sed -n 's/^step-\([0-9]*\)\.ckpt$/\1/p' | sort -n | tail -1)
    [ -n "$step" ] || return 1
    echo "$1/checkpoints/step-$step.ckpt"
}

# curve_stats EVAL_CSV TARGET COLUMN: a run's evaluation curve against x = the eval.csv column
# COLUMN (2 frames, 1 updates), as "reach,mean,last,best": the first x whose mean return reached
# TARGET ("" if none), the area under the curve by trapezoids divided by the x span (the mean
# return over the run; the last return when the span is 0), the last and the best mean return.
curve_stats() {
    sort -t, -k"$3" -n "$1" | awk -F, -v target="$2" -v c="$3" '
        $1 == "step" { next }
        { if (n) auc += ($c - f) * ($5 + m) / 2
          f = $c; m = $5; n++; if (reach == "" && $5 >= target) reach = $c
          if ($5 > best || n == 1) best = $5; if (n == 1) first = $c }
        END { span = f - first; mean = (span > 0) ? auc / span : m
              printf "%s,%.3f,%.3f,%.3f\n", reach, mean, m, best }'
}

# last_col FILE COLUMN: the value of COLUMN (by its header name) in the last row of a CSV.
last_col() {
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                       k { v = $k } END { print v }' "$1"
}
