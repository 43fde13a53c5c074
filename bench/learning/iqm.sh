#!/usr/bin/env bash
# The statistics of bench/learning/grid.sh's CSV, after rliable (Agarwal et al. 2021): per game,
# setting, frame budget and config hash, the interquartile mean (IQM) of the seeds' final
# evaluations with a 95% bootstrap confidence interval, as a markdown table; and with --svg DIR
# one SVG per game and budget of the evaluation curves, each setting's IQM over its seeds with
# the band from the lowest to the highest seed.
#
#   bench/learning/iqm.sh [--csv FILE] [--reps N] [--seed N] [--svg DIR] [--games "..."]
#                         [--settings "..."] [--frames N]
# --csv defaults to docs/results/minatar-grid.csv; --games, --settings and --frames keep only
# those rows. The procedure, as rliable's get_interval_estimates with its defaults:
#   IQM: scipy.stats.trim_mean(x, 0.25): sort the n values, drop int(0.25 n) from each end
#     (none for n = 3, so the IQM of 3 seeds is their mean; one each for n = 4 to 7), average
#     the rest.
#   CI: --reps resamples (default 50000) of the n seeds with replacement; for one game the
#     stratified bootstrap is this, one stratum. The interval is the 2.5th and 97.5th
#     percentiles of the resamples' IQMs, interpolated linearly between order statistics (numpy's
#     percentile, which rliable's percentile method uses).
#   The draws come from the Park-Miller generator (16807 x mod 2^31 - 1) started at --seed
#   (default 1) afresh for each row, so a row's interval depends on its own seeds' values
#   only, and the same CSV and seed give the same table on any awk.
# "goal" is issue 20's goal at 5M frames; "holds" says whether the interval's lower end is at
# or above it, only for rows at 5,000,000 frames with at least 3 seeds.
set -euo pipefail
. "$(dirname "$0")/args.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

csv=$root/docs/results/minatar-grid.csv
reps=50000
seed=1
svg=
games=
settings=
frames=
while [ $# -gt 0 ]; do
    case $1 in
        --csv) csv=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --svg) svg=$2; shift 2 ;;
        --games) games=$2; shift 2 ;;
        --settings) settings=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        -h|--help) usage_exit 2 24 ;;
        *) unknown_arg "$1" ;;
    esac
done
for n in "$reps" "$seed" $frames; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "iqm.sh: $n is not a whole number" >&2; exit 2; }
done
[ "$reps" -ge 1 ] || { echo "iqm.sh: --reps must be at least 1" >&2; exit 2; }
[ -f "$csv" ] || { echo "iqm.sh: no CSV $csv (bench/learning/grid.sh writes it)" >&2; exit 2; }
curves=${csv%.csv}

# The rows kept by --games, --settings and --frames, header first.
rows() {
    awk -F, -v gs=" $games " -v ss=" $settings " -v fr="$frames" '
        NR == 1 { print; next }
        (gs == "  " || index(gs, " " $1 " ")) && (ss == "  " || index(ss, " " $2 " ")) &&
        (fr == "" || $4 == fr)' "$csv"
}

# The functions both awk programs use: trim_mean of a[1..n] (sorts it) and the random stream.
lib='
function isort(a, n,    i, j, v) {
    for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
}
function trim_mean(a, n,    cut, i, s) {
    isort(a, n); cut = int(0.25 * n); s = 0
    for (i = cut + 1; i <= n - cut; i++) s += a[i]
    return s / (n - 2 * cut)
}
function pm_next() { pm = (16807 * pm) % 2147483647; return pm }
'

rows | awk -F, -v reps="$reps" -v seed="$seed" "$lib"'
function sift(a, i, n,    c, t) {
    while ((c = 2 * i) <= n) {
        if (c < n && a[c + 1] > a[c]) c++
        if (a[i] >= a[c]) return
        t = a[i]; a[i] = a[c]; a[c] = t; i = c
    }
}
function hsort(a, n,    i, t) {
    for (i = int(n / 2); i >= 1; i--) sift(a, i, n)
    for (i = n; i > 1; i--) { t = a[1]; a[1] = a[i]; a[i] = t; sift(a, 1, i - 1) }
}
# numpy.percentile (linear) of the sorted a[1..n]
function pct(a, n, p,    h, lo) {
    h = p / 100 * (n - 1); lo = int(h)
    return lo + 1 >= n ? a[n] : a[lo + 1] + (h - lo) * (a[lo + 2] - a[lo + 1])
}
NR == 1 { next }
{
    key = $1 SUBSEP $2 SUBSEP $4 SUBSEP $16
    if (!(key in n)) { order[++groups] = key }
    k = ++n[key]; v[key, k] = $7; wall[key] += $11; fps[key] += $12
    seeds[key] = seeds[key] (k > 1 ? ", " : "") $7
}
END {
    goal["breakout"] = 17; goal["asterix"] = 20; goal["freeway"] = 55
    goal["seaquest"] = 20; goal["space_invaders"] = 100
    print "| game | setting | frames | config | seeds | IQM | 95% CI | each seed (final, 100 episodes) | mean wall-clock | mean frames/s | goal at 5M | holds |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (gi = 1; gi <= groups; gi++) {
        key = order[gi]; split(key, f, SUBSEP); m = n[key]
        for (i = 1; i <= m; i++) x[i] = v[key, i]
        iqm = trim_mean(x, m)
        pm = seed % 2147483646 + 1
        for (r = 1; r <= reps; r++) {
            for (i = 1; i <= m; i++) y[i] = v[key, int(pm_next() * m / 2147483647) + 1]
            boot[r] = trim_mean(y, m)
        }
        hsort(boot, reps)
        lo = pct(boot, reps, 2.5); hi = pct(boot, reps, 97.5)
        g = (f[1] in goal) ? goal[f[1]] : ""
        holds = f[3] != 5000000 ? "not measured (budget)" : m < 3 ? "not measured (< 3 seeds)" \
              : g == "" ? "" : lo >= g ? "yes" : iqm >= g ? "not shown (interval reaches below)" : "no"
        printf "| %s | %s | %d | %s | %d | %.2f | [%.2f, %.2f] | %s | %.0f s | %.0f | %s | %s |\n",
            f[1], f[2], f[3], f[4], m, iqm, lo, hi, seeds[key], wall[key] / m, fps[key] / m, g, holds
    }
}'

[ -n "$svg" ] || exit 0
mkdir -p "$svg"
# One SVG per game and budget: for each setting (and config hash) of it, the IQM over its seeds
# of the evaluation return at 60 points of the budget, each seed holding its last evaluation
# before the point (none before its first), and the band from the lowest to the highest seed.
rows | awk -F, 'NR > 1 { print $1 "," $4 }' | sort -u | while IFS=, read -r game budget; do
    out=$svg/$game-$budget.svg
    rows | awk -F, -v g="$game" -v b="$budget" -v dir="$curves" -v title="$game, $budget frames: IQM over seeds, band from lowest to highest seed" "$lib"'
    NR == 1 || $1 != g || $4 != b { next }
    {
        key = $2 SUBSEP $16
        if (!(key in runs)) { order[++groups] = key; label[key] = $2 }
        file = dir "/" $2 "-" $1 "-" $4 "-s" $3 "-" $16 ".csv"
        k = ++runs[key]; pts[key, k] = 0
        while ((getline line < file) > 0) {
            split(line, c, ",")
            if (c[1] == "frames") continue
            p = ++pts[key, k]; fx[key, k, p] = c[1] + 0; fy[key, k, p] = c[2] + 0
        }
        close(file)
        if (pts[key, k] == 0) print "iqm.sh: no curve " file " (its row is kept, its seed is not drawn)" > "/dev/stderr"
    }
    END {
        # a setting named twice (two config hashes) is labelled with its hash
        for (gi = 1; gi <= groups; gi++) { split(order[gi], s, SUBSEP); names[s[1]]++ }
        for (gi = 1; gi <= groups; gi++) { split(order[gi], s, SUBSEP); if (names[s[1]] > 1) label[order[gi]] = s[1] "@" s[2] }
        P = 60; ymin = 0; ymax = 1
        for (gi = 1; gi <= groups; gi++) {
            key = order[gi]
            for (q = 1; q <= P; q++) {
                xq = b * q / P; m = 0
                for (k = 1; k <= runs[key]; k++) {
                    yv = ""
                    for (p = 1; p <= pts[key, k] && fx[key, k, p] <= xq; p++) yv = fy[key, k, p]
                    if (yv != "") a[++m] = yv
                }
                cnt[key, q] = m
                if (m == 0) continue
                mid[key, q] = trim_mean(a, m); low[key, q] = a[1]; high[key, q] = a[m]
                if (a[m] > ymax) ymax = a[m]; if (a[1] < ymin) ymin = a[1]
            }
        }
        W = 640; H = 360; L = 60; R = 170; T = 30; B = 40; pw = W - L - R; ph = H - T - B
        colors = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b"; split(colors, col, " ")
        printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
        printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
        printf "<text x=\"%d\" y=\"18\" font-size=\"13\">%s</text>\n", L, title
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, T + ph
        for (t = 0; t <= 4; t++) {
            printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 4, T + ph - ph * t / 4 + 4, ymin + (ymax - ymin) * t / 4
            printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", L + pw * t / 4, T + ph + 16, b * t / 4
        }
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">frames</text>\n", L + pw / 2, H - 6
        printf "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">evaluation return</text>\n", T + ph / 2, T + ph / 2
        for (gi = 1; gi <= groups; gi++) {
            key = order[gi]; cc = col[(gi - 1) % 6 + 1]; up = ""; down = ""; line = ""
            for (q = 1; q <= P; q++) {
                if (cnt[key, q] == 0) continue
                xx = L + pw * q / P
                up = up sprintf("%.1f,%.1f ", xx, T + ph - ph * (high[key, q] - ymin) / (ymax - ymin))
                down = sprintf("%.1f,%.1f ", xx, T + ph - ph * (low[key, q] - ymin) / (ymax - ymin)) down
                line = line sprintf("%.1f,%.1f ", xx, T + ph - ph * (mid[key, q] - ymin) / (ymax - ymin))
            }
            printf "<polygon fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" points=\"%s%s\"/>\n", cc, up, down
            printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n", cc, line
            printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s (%d seeds)</text>\n", L + pw + 10, T + 16 * gi, cc, label[key], runs[key]
        }
        printf "</svg>\n"
    }' > "$out"
    echo "iqm.sh: wrote $out" >&2
done
