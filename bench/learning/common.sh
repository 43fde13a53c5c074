# Shared by the bench/learning scripts: where shoal is, one training run with its log, the
# summary file of a sweep and reading a run's CSV files. Source it; it sets SHOAL (the binary)
# and defines train_run, summary_csv and last_col, and the option helpers of args.sh.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/bench/learning/args.sh"
SHOAL=${SHOAL:-$root/build/cluster/shoal}
if [ ! -x "$SHOAL" ]; then
    echo "bench/learning: $SHOAL not found; build first (cmake -S . -B build && cmake --build build)" >&2
    exit 2
fi

# train_run RUN_DIR CONFIG [--set k=v ...]: a fresh run in RUN_DIR, its terminal output in
# RUN_DIR.out; prints the wall-clock seconds it took. Fails when shoal train fails.
train_run() {
    local dir=$1 cfg=$2
    shift 2
    rm -rf "$dir" "$dir.out"
    mkdir -p "$(dirname "$dir")"
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$SHOAL" train "$cfg" --run-dir "$dir" "$@" > "$dir.out" 2>&1; then
        echo "bench/learning: shoal train failed for $dir; see $dir.out and $dir/log/" >&2
        tail -5 "$dir.out" >&2
        return 1
    fi
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}

# summary_csv DIR HEADER: creates DIR and DIR/summary.csv with the HEADER row unless the file
# exists (a sweep that goes on appends to it); prints the file's path.
summary_csv() {
    mkdir -p "$1"
    [ -f "$1/summary.csv" ] || echo "$2" > "$1/summary.csv"
    echo "$1/summary.csv"
}

# last_col FILE COLUMN: the value of COLUMN (by its header name) in the last row of a CSV.
last_col() {
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                       k { v = $k } END { print v }' "$1"
}
