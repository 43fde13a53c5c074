# bsuite's deep_sea measures of one run, from shoal's actor episode log (actor.episode_log: a
# header, then one row per finished episode, the return in column 2), as bsuite computes them
# (bsuite/experiments/deep_sea/analysis.py, find_solution and score; bsuite/utils/wrappers.py,
# _logarithmic_logging; bsuite/environments/deep_sea.py, total_bad_episodes):
#
# - A "bad" episode left the optimal path (bsuite: took "left" on the diagonal). On the
#   deterministic DeepSea that is every episode whose return is below the optimal 0.99.
# - bsuite records total_bad_episodes only at the episodes of its logarithmic schedule: 1 to 10,
#   then 12, 14, 17, 20, 25, 30, 40, ..., 100 and the same ratios (1, 1.2, 1.4, 1.7, 2, 2.5, 3, 4,
#   5, 6, 7, 8, 9, 10) of every power of ten.
# - A run is solved at the first such episode e <= the budget where total_bad_episodes / e is
#   below 0.8 (find_solution's thresh; its plot's label says "< 90% bad episodes", the code
#   uses 0.8). Only that first crossing counts: a run can stop as soon as it is found.
# - score (per size, averaged over sizes by the caller): solved and e < 2^N + 100 (forgiveness).
#
#   awk -F, -v size=N -v budget=10000 -f deep_sea_score.awk episodes-0.csv
# prints: episodes,solved_episode,first_below,first_optimal,bad_fraction,beat_dither
#   episodes: rows read, at most budget; solved_episode: bsuite's (empty: unsolved);
#   first_below: the first episode of all (not only logged) with the average below 0.8, which
#   bsuite's schedule rounds up to solved_episode; first_optimal: the first good episode;
#   bad_fraction: total_bad_episodes / episodes; beat_dither: 1 when solved and
#   solved_episode < 2^size + 100 (the run's share of the score), else 0.
# Optional: -v optimal=0.99 -v thresh=0.8.
# -v decide=1 prints only whether the run is decided: 1 when solved, or when no later logged
# episode within the budget can be below the threshold even if every episode from now on is
# good (total_bad_episodes / the last logged episode <= budget is not below it), else 0. A run
# can stop there: going on cannot change its measures' outcome (solved or not, the score).

# Whether bsuite logs episode e: e = 10^k * r, r one of the ratios, 10^k <= e < 10^(k+1).
# Integer arithmetic in tenths, which is what numpy's 10**k * r gives for these ratios.
function logged(e,    p, i, n, r) {
    p = 1
    while (p * 10 <= e) p *= 10
    n = split("10 12 14 17 20 25 30 40 50 60 70 80 90 100", r, " ")
    for (i = 1; i <= n; i++) if (e * 10 == p * r[i]) return 1
    return 0
}

BEGIN {
    if (size == "") { print "deep_sea_score.awk: -v size=N is required" > "/dev/stderr"; exit 2 }
    if (budget == "") budget = 10000
    if (optimal == "") optimal = 0.99
    if (thresh == "") thresh = 0.8
    for (last = budget; last > 1 && !logged(last); last--) {}
}

NR == 1 && $2 == "return" { next }

n < budget {
    n++
    if ($2 < optimal - 1e-4) bad++
    else if (!first_optimal) first_optimal = n
    if (!first_below && bad / n < thresh) first_below = n
    if (!solved && bad / n < thresh && logged(n)) solved = n
}

END {
    if (size == "") exit 2
    if (decide) { print (solved || bad / last >= thresh) ? 1 : 0; exit }
    printf "%d,%s,%s,%s,%.4f,%d\n", n, solved ? solved : "", first_below ? first_below : "",
           first_optimal ? first_optimal : "", n ? bad / n : 0, solved && solved < 2 ^ size + 100
}
