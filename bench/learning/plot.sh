#!/usr/bin/env bash
# Draws evaluation curves of several runs on one SVG: mean evaluation return against frames
# (or learner updates, or seconds since the run's first evaluated checkpoint), one line per run,
# from each run's eval.csv.
#
#   bench/learning/plot.sh [--x frames|updates|seconds] [--xlabel TEXT] [--ylabel TEXT]
#                          OUT.svg "TITLE" LABEL=RUN_DIR/eval.csv ...
# --xlabel and --ylabel replace the axes' names (the x option's name, "evaluation return"), for
# other curves written in eval.csv's columns (bench/learning/imitation.sh's agreement plot).
set -euo pipefail
x=frames
xlabel=
ylabel="evaluation return"
while [ $# -gt 0 ]; do
    case $1 in
        --x) x=$2; shift 2 ;;
        --xlabel) xlabel=$2; shift 2 ;;
        --ylabel) ylabel=$2; shift 2 ;;
        *) break ;;
    esac
done
case $x in
    frames) xcol=2 ;;
    updates) xcol=1 ;;
    seconds) xcol=3 ;;
    *) echo "plot.sh: --x is frames, updates or seconds" >&2; exit 2 ;;
esac
[ -n "$xlabel" ] || xlabel=$x
if [ $# -lt 3 ]; then
    sed -n 2,9p "$0" >&2
    exit 2
fi
svg=$1
title=$2
shift 2
colors=('#1f77b4' '#d62728' '#2ca02c' '#9467bd' '#ff7f0e' '#8c564b')
{
    i=0
    for spec in "$@"; do
        label=${spec%%=*}
        file=${spec#*=}
        [ -f "$file" ] || { echo "plot.sh: $file not found" >&2; exit 2; }
        # Seconds count from the run's first evaluated checkpoint (wall_seconds is its mtime).
        sort -t, -k"$xcol" -g "$file" | awk -F, -v l="$label" -v c="${colors[$((i % 6))]}" \
            -v k="$xcol" '$1 != "step" { if (k == 3 && t0 == "") t0 = $3
                                          print l "," c "," (k == 3 ? $3 - t0 : $k) "," $5 }'
        i=$((i + 1))
    done
} | awk -F, -v title="$title" -v xname="$xlabel" -v yname="$ylabel" '
    { label[NR] = $1; color[NR] = $2; x[NR] = $3; y[NR] = $4
      if (NR == 1 || $3 > xmax) xmax = $3; if (NR == 1 || $4 > ymax) ymax = $4
      if (NR == 1 || $4 < ymin) ymin = $4 }
    END {
      W = 640; H = 360; L = 60; R = 160; T = 30; B = 40
      if (ymin > 0) ymin = 0; if (ymax <= ymin) ymax = ymin + 1; if (xmax <= 0) xmax = 1
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"%d\" y=\"18\" font-size=\"14\">%s</text>\n", L, title
      pw = W - L - R; ph = H - T - B
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, T + ph
      for (k = 0; k <= 4; k++) {
        yv = ymin + (ymax - ymin) * k / 4; yy = T + ph - ph * k / 4
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 4, yy + 4, yv
        xv = xmax * k / 4; xx = L + pw * k / 4
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", xx, T + ph + 16, xv
      }
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + pw / 2, H - 6, xname
      printf "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">%s</text>\n", T + ph / 2, T + ph / 2, yname
      n = 0
      for (i = 1; i <= NR; i++) {
        if (i == 1 || label[i] != label[i - 1]) {
          if (i > 1) printf "\"/>\n"
          n++
          printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", L + pw + 10, T + 16 * n, color[i], label[i]
          printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color[i]
        }
        printf "%.1f,%.1f ", L + pw * x[i] / xmax, T + ph - ph * (y[i] - ymin) / (ymax - ymin)
      }
      if (NR > 0) printf "\"/>\n"
      printf "</svg>\n"
    }' > "$svg"
echo "plot.sh: wrote $svg" >&2
