#!/usr/bin/env bash
# The MinAtar grid of issue 20: games x settings x seeds at one frame budget, one row per
# finished run appended to a committed CSV, so a grid is filled over several sessions.
#
#   bench/learning/grid.sh [--games "breakout asterix ..."] [--settings "default lr3e-4 ..."]
#                          [--seeds "1 2 3"] [--frames N] [--hours H] [--seconds S]
#                          [--episodes N] [--csv FILE] [--out DIR] [--configs DIR]
#                          [--settings-file FILE] [--set section.key=value ...] [--dry-run]
# A cell is (game, setting, seed, frames, config hash); one already in --csv is skipped, so
# the same command resumes a grid. The config hash is of the values the game's config and the
# setting's --sets give (schema defaults and the seed left out): editing a setting or a
# shipped config makes its cells new. Settings are named in --settings-file (default
# bench/learning/grid-settings.txt; "default" is the shipped config alone).
# A run starts only when it fits in what is left of --hours (default: no limit): its estimate
# is 1.1 times the frame budget (the actors overshoot it) at the slowest frames/s of earlier
# rows of the game and setting in the CSV (else of the game, else $GRID_DEFAULT_FPS, default
# 1000, pessimistic for 2 shared cores), plus 120 s for the evaluation. Each run is capped at
# --seconds (default 3600, the issue's hour) and at what is left of --hours; a run that its
# cap stops, that fails or that is interrupted gets no row. A finished run's final checkpoint is played for --episodes
# (default 100) by `shoal eval`; its eval.csv curve is kept beside the CSV
# (FILE without .csv/<setting>-<game>-<frames>-s<seed>-<hash>.csv) for iqm.sh's plots.
# --frames defaults to 5000000 (the issue's budget), or $GRID_FRAMES. Runs go under --out
# (default runs/learning/grid). --configs (default cluster/configs) holds minatar-<game>.ini.
# Each --set goes to every run after its setting's (it wins), and counts in the config hash
# and the CSV's sets column like the setting's own. --dry-run prints what would run, skip or
# not fit, and checks each configuration.
set -euo pipefail
. "$(dirname "$0")/common.sh"

games="breakout asterix freeway seaquest space_invaders"
settings=default
seeds="1 2 3"
frames=${GRID_FRAMES:-5000000}
hours=
seconds=3600
episodes=100
csv=$root/docs/results/minatar-grid.csv
out=runs/learning/grid
configs=$root/cluster/configs
settings_file=$root/bench/learning/grid-settings.txt
default_fps=${GRID_DEFAULT_FPS:-1000}
eval_s=120
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --games) games=$2; shift 2 ;;
        --settings) settings=$2; shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --hours) hours=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --episodes) episodes=$2; shift 2 ;;
        --csv) csv=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --configs) configs=$2; shift 2 ;;
        --settings-file) settings_file=$2; shift 2 ;;
        --set) extra+=("$2"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage_exit 2 26 ;;
        *) unknown_arg "$1" ;;
    esac
done
for n in "$frames" "$seconds" "$episodes" $seeds; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "grid.sh: $n is not a whole number" >&2; exit 2; }
done
[ -z "$hours" ] || [[ $hours =~ ^[0-9]*\.?[0-9]+$ ]] ||
    { echo "grid.sh: --hours $hours is not a number of hours" >&2; exit 2; }
[ -f "$settings_file" ] || { echo "grid.sh: no settings file $settings_file" >&2; exit 2; }

header="game,setting,seed,frames_budget,frames,updates,eval_final_mean,eval_final_std,eval_best_mean,eval_episodes,wall_s,frames_per_s,updates_per_s,commit,date,config_hash,sets"
curves=${csv%.csv}
if [ -z "$DRY_RUN" ]; then
    mkdir -p "$(dirname "$csv")" "$curves"
    [ -s "$csv" ] || echo "$header" > "$csv"
fi
if [ -s "$csv" ] && [ "$(head -1 "$csv")" != "$header" ]; then
    echo "grid.sh: $csv does not start with the grid's header:" >&2
    echo "  $header" >&2
    exit 2
fi

# setting_sets NAME: the setting's section.key=value words (nothing for default); fails for a
# name the settings file lacks.
setting_sets() {
    awk -v n="$1" '$1 == n && !/^#/ { found = 1; for (i = 2; i <= NF; i++) print $i }
                   END { exit !found }' "$settings_file"
}

# config_hash CONFIG SET...: 12 hex digits of the keys and values the configuration sets
# (those `shoal config show` does not say come "from default"; run.seed fixed), so a key the
# schema gains later does not make every row of the CSV stale.
config_hash() {
    local cfg=$1
    shift
    "$SHOAL" config show "$cfg" "$@" --set run.seed=0 | awk '
        /^\[/ { section = $0; next }
        /^[[:space:]]*;/ { origin = $0; next }
        /=/ { if (origin !~ /\(from default\)/) print section, $0 }' | sha256sum | cut -c1-12
}

# has_row GAME SETTING SEED HASH: whether the CSV holds that cell at this budget.
has_row() {
    [ -s "$csv" ] || return 1
    awk -F, -v g="$1" -v s="$2" -v r="$3" -v f="$frames" -v h="$4" '
        NR > 1 && $1 == g && $2 == s && $3 == r && $4 == f && $16 == h { found = 1 }
        END { exit !found }' "$csv"
}

# slowest_fps GAME SETTING: the lowest frames/s among the CSV's rows of the game and setting,
# else of the game, else the default.
slowest_fps() {
    local v=
    if [ -s "$csv" ]; then
        v=$(awk -F, -v g="$1" -v s="$2" '
            NR > 1 && $1 == g { if (all == "" || $12 < all) all = $12
                                if ($2 == s && (own == "" || $12 < own)) own = $12 }
            END { print own != "" ? own : all }' "$csv")
    fi
    echo "${v:-$default_fps}"
}

t_start=$(date +%s)
deadline=
[ -z "$hours" ] || deadline=$(awk -v t="$t_start" -v h="$hours" 'BEGIN { printf "%d", t + h * 3600 }')
commit=$(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
started=0 skipped=0 unfit=0 finished=0 failed=0
planned=0 # a dry run's clock: the estimates of the runs it would have started

for seed in $seeds; do
    for game in $games; do
        cfg=$configs/minatar-$game.ini
        [ -f "$cfg" ] || { echo "grid.sh: no config $cfg" >&2; exit 2; }
        for setting in $settings; do
            [[ $setting =~ ^[A-Za-z0-9_.+-]+$ ]] ||
                { echo "grid.sh: setting name '$setting' is not [A-Za-z0-9_.+-]" >&2; exit 2; }
            words=$(setting_sets "$setting") ||
                { echo "grid.sh: no setting '$setting' in $settings_file" >&2; exit 2; }
            words="$words ${extra[*]+${extra[*]}}"
            sets=()
            for w in $words; do
                [[ $w != *,* ]] || { echo "grid.sh: setting $setting: '$w' has a comma" >&2; exit 2; }
                sets+=(--set "$w")
            done
            hash=$(config_hash "$cfg" ${sets[@]+"${sets[@]}"}) ||
                { echo "grid.sh: setting $setting does not load on $game (above)" >&2; exit 2; }
            cell="$game $setting seed $seed, $frames frames"
            if has_row "$game" "$setting" "$seed" "$hash"; then
                echo "grid.sh: skip $cell: in $csv (config $hash)" >&2
                skipped=$((skipped + 1))
                continue
            fi
            cap=$seconds
            if [ -n "$deadline" ]; then
                left=$((deadline - $(date +%s) - planned))
                fps=$(slowest_fps "$game" "$setting")
                need=$(awk -v f="$frames" -v r="$fps" -v e="$eval_s" 'BEGIN { printf "%d", 1.1 * f / r + e }')
                if [ "$need" -gt "$left" ]; then
                    echo "grid.sh: not started $cell: needs about ${need} s at $fps frames/s, ${left} s left" >&2
                    unfit=$((unfit + 1))
                    continue
                fi
                [ -z "$DRY_RUN" ] || planned=$((planned + need))
                [ "$cap" -ne 0 ] && [ "$cap" -le $((left - eval_s)) ] || cap=$((left - eval_s))
                [ "$cap" -ge 1 ] || cap=1
            fi
            dir=$out/$setting-$frames/$game-$seed
            echo "== $cell (config $hash)" >&2
            started=$((started + 1))
            if ! wall=$(train_run "$dir" "$cfg" --set run.seed="$seed" --set run.max_frames="$frames" \
                    --set run.max_seconds="$cap" --set run.progress_secs=10 ${sets[@]+"${sets[@]}"}); then
                failed=$((failed + 1))
                continue
            fi
            [ -z "$DRY_RUN" ] || continue
            ended_by "$dir"
            if [ "$ended" != budget ]; then
                echo "grid.sh: $cell not counted: it ended on its time cap of $cap s" >&2
                failed=$((failed + 1))
                continue
            fi
            done_frames=$(last_col "$dir/metrics.csv" frames)
            updates=$(last_col "$dir/metrics.csv" step)
            if ! final_eval "$dir" "$episodes"; then
                echo "grid.sh: $cell not counted: no final checkpoint to evaluate in $dir" >&2
                failed=$((failed + 1))
                continue
            fi
            curve=$curves/$setting-$game-$frames-s$seed-$hash.csv
            if [ -f "$dir/eval.csv" ]; then
                # frames and the evaluation's mean and std, in frame order
                { echo "frames,mean,std"; awk -F, 'NR > 1 { print $2 "," $5 "," $6 }' "$dir/eval.csv" |
                    sort -t, -k1,1g; } > "$curve"
            fi
            row=$(awk -v OFS=, -v g="$game" -v s="$setting" -v r="$seed" -v b="$frames" \
                -v f="$done_frames" -v u="$updates" -v m="$final_mean" -v sd="$final_std" \
                -v best="$best" -v ep="$episodes" -v w="$wall" -v c="$commit" \
                -v d="$(date -u +%Y-%m-%dT%H:%MZ)" -v h="$hash" -v sets="$words" 'BEGIN {
                    gsub(/[[:space:]]+/, " ", sets); sub(/^ /, "", sets); sub(/ $/, "", sets)
                    print g, s, r, b, f, u, m, sd, best, ep, w, sprintf("%.0f", f / w),
                          sprintf("%.1f", u / w), c, d, h, sets }')
            echo "$row" >> "$csv"
            echo "$row"
            finished=$((finished + 1))
        done
    done
done
[ -z "$DRY_RUN" ] ||
    { echo "grid.sh: dry run: $started would start, $skipped already in $csv, $unfit would not fit the hours" >&2; exit 0; }
echo "grid.sh: $started started, $finished finished (rows added to $csv), $skipped already in it, $unfit not started for lack of time, $failed not counted" >&2
