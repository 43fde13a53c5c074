#!/usr/bin/env bash
# The bsuite deep_sea scaling plot as an SVG: episodes to solve (bsuite's solved episode) against
# the size N on a log scale, one colour per strategy (the summary's label column), a dot per
# solved run and a cross at the episodes it ran for an unsolved one; the dashed line is 2^N, the
# episodes dithering (epsilon-greedy) needs, and the dotted line the budget.
#
#   bench/learning/deep_sea_plot.sh OUT.svg SUMMARY.csv [BUDGET]
# SUMMARY.csv: deep_sea_bsuite.sh's (label,size,seed,episodes,solved_episode,...).
set -euo pipefail
case ${1:-} in -h|--help) sed -n 2,8p "$0"; exit 0 ;; esac
if [ $# -lt 2 ]; then
    sed -n 2,8p "$0" >&2
    exit 2
fi
svg=$1
summary=$2
budget=${3:-10000}
[ -r "$summary" ] || { echo "deep_sea_plot.sh: $summary not found" >&2; exit 2; }
awk -F, -v budget="$budget" '
    function px(n) { return L + pw * (n - 10) / 40 }
    function py(e) { if (e < 10) e = 10; if (e > 1e5) e = 1e5
                     return T + ph - ph * (log(e) / log(10) - 1) / 4 }
    BEGIN { W = 640; H = 380; L = 70; R = 150; T = 30; B = 45; pw = W - L - R; ph = H - T - B
            split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b", colors, " ") }
    NR > 1 { if (!($1 in color)) { color[$1] = colors[m % 6 + 1]; order[++m] = $1 }
             k++; lab[k] = $1; size[k] = $2; ep[k] = $5 == "" ? $4 : $5; ok[k] = $5 != "" }
    END {
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"%d\" y=\"18\" font-size=\"14\">bsuite deep_sea: episodes until below 80%% bad episodes</text>\n", L
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, T + ph
      for (n = 10; n <= 50; n += 10)
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", px(n), T + ph + 16, n
      for (e = 10; e <= 1e5; e *= 10)
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", L - 4, py(e) + 4, e
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">DeepSea size N</text>\n", L + pw / 2, H - 8
      printf "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">episodes to solve (log)</text>\n", T + ph / 2, T + ph / 2
      # 2^N up to the top of the axis (10^5, N = 16.6)
      printf "<polyline fill=\"none\" stroke=\"black\" stroke-opacity=\"0.5\" stroke-width=\"2\" stroke-dasharray=\"6,4\" points=\""
      for (n = 10; n <= 50; n += 0.5) { if (2 ^ n > 1e5) break; printf "%.1f,%.1f ", px(n), py(2 ^ n) }
      printf "%.1f,%.1f\"/>\n", px(log(1e5) / log(2)), py(1e5)
      printf "<text x=\"%.1f\" y=\"%d\" fill=\"black\">2^N</text>\n", px(17) + 4, T + 12
      printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"gray\" stroke-dasharray=\"2,3\"/>\n", L, py(budget), L + pw, py(budget)
      printf "<text x=\"%d\" y=\"%.1f\" fill=\"gray\">budget %d</text>\n", L + pw + 6, py(budget) + 4, budget
      for (i = 1; i <= m; i++)
        printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", L + pw + 10, T + 16 * i, color[order[i]], order[i]
      printf "<text x=\"%d\" y=\"%d\" fill=\"gray\">dot: solved</text>\n", L + pw + 10, T + 16 * (m + 1.5)
      printf "<text x=\"%d\" y=\"%d\" fill=\"gray\">cross: unsolved</text>\n", L + pw + 10, T + 16 * (m + 2.5)
      for (i = 1; i <= k; i++) {
        x = px(size[i]); y = py(ep[i]); c = color[lab[i]]
        if (ok[i]) printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x, y, c
        else printf "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"%s\" stroke-width=\"2\"/>\n", x - 4, y - 4, c
      }
      printf "</svg>\n"
    }' "$summary" > "$svg"
echo "deep_sea_plot.sh: wrote $svg" >&2
