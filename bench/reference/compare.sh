#!/bin/sh
# Alternates `bench_nn --compare` and the PyTorch reference (nn_torch.py) for ROUNDS rounds in
# one window, then prints each row's median rate of both and their ratio. Run it on an idle
# machine where you can; OPENBLAS_CORETYPE, if set, applies to bench_nn.
#
#     bench/reference/compare.sh BUILD_DIR [ROUNDS]      (default 3 rounds)
#
# SHOAL_BENCH_CPU=1 times both in thread CPU time (--cpu): on a machine loaded by other work,
# the rates then leave out the time each waited for a core.
set -eu
if [ $# -lt 1 ] || [ "$1" = "--help" ]; then
    echo "usage: bench/reference/compare.sh BUILD_DIR [ROUNDS]" >&2
    [ $# -ge 1 ] && exit 0
    exit 2
fi
build=$1
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
python=${SHOAL_TORCH_PYTHON:-/usr/bin/python3}
bench=$build/bench/bench_nn
[ -x "$bench" ] || { echo "compare.sh: no $bench (configure with -DSHOAL_BENCH=ON)" >&2; exit 2; }
export OPENBLAS_NUM_THREADS=1
cpu=
[ "${SHOAL_BENCH_CPU:-0}" = 1 ] && cpu=--cpu
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
    "$bench" --compare $cpu >"$out/shoal.$i"
    "$python" "$here/nn_torch.py" $cpu >"$out/torch.$i"
    i=$((i + 1))
done
head -n 2 "$out/shoal.1"
head -n 1 "$out/torch.1"
# Rows are "<work, 38 columns> C rate ...": collect each row's rates over the rounds.
awk -v rounds="$rounds" '
    function median(s,   v, n, i, j, t) {
        n = split(s, v, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    /^(inference|double-DQN)/ {
        work = substr($0, 1, 38); sub(/ +$/, "", work)
        split(substr($0, 39), f, " ")
        side = FILENAME ~ /shoal/ ? "shoal" : "torch"
        rate[work, side] = rate[work, side] " " f[2]
        if (!(work in seen)) { seen[work] = 1; order[++n] = work }
    }
    END {
        printf "%-38s %12s %12s %8s   (medians of %d alternated rounds)\n", "work", "shoal/s", "torch/s", "ratio", rounds
        for (i = 1; i <= n; i++) {
            s = median(rate[order[i], "shoal"]); t = median(rate[order[i], "torch"])
            printf "%-38s %12.1f %12.1f %7.2fx\n", order[i], s, t, s / t
        }
    }' "$out"/shoal.* "$out"/torch.*
