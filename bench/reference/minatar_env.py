#!/usr/bin/env python3
"""Stepping speed of the reference Python MinAtar, measured the way bench_env measures shoal.

MinAtar (the GitHub repository kenjyoung/MinAtar, GPL-3.0) is not part of shoal: give the folder
of its source (the one holding `minatar/`) with --minatar or $MINATAR_SRC. It needs numpy only
(Debian: /usr/bin/python3 with python3-numpy).

The protocol is bench/env.c's (env/measure.c, env_bench): per game, sticky actions 0.1,
difficulty ramping on, uniformly random actions of the game's minimal set drawn before timing
(4096 of them, cycled), an episode that ends is reset at once; three modes, one env writing
observations (`state()` after every `act`), one env acting only, and a vector of 64 envs
(stepped one after the other, each writing its observation). Prints the table in bench_env's
format, medians of --runs runs.

With --bench-env PATH (shoal's build/bench/bench_env; repeat it to compare builds, e.g. before
and after a change) it alternates --rounds rounds of the reference and of each bench_env, in one
window, and prints the median of each figure over the rounds and shoal's ratio to the
reference.

    /usr/bin/python3 bench/reference/minatar_env.py --minatar ~/src/MinAtar --cpu
    /usr/bin/python3 bench/reference/minatar_env.py --minatar ~/src/MinAtar --cpu \\
        --bench-env build/bench/bench_env --rounds 3
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

GAMES = ["breakout", "asterix", "freeway", "seaquest", "space_invaders"]
MODES = [("with obs", 1, True), ("act only", 1, False), ("vec64 obs", 64, True)]
N_ACTIONS = 4096


def import_minatar(path):
    if path:
        if not os.path.isdir(os.path.join(path, "minatar")):
            sys.exit(f"minatar_env.py: {path} has no minatar/ folder; give the MinAtar source "
                     "folder (a clone of kenjyoung/MinAtar)")
        sys.path.insert(0, path)
    try:
        # environment.py warns when matplotlib is missing; it is only for display.
        import logging
        logging.disable(logging.WARNING)
        from minatar import Environment
        logging.disable(logging.NOTSET)
    except ImportError as e:
        sys.exit(f"minatar_env.py: cannot import minatar ({e}); give --minatar PATH or set "
                 "MINATAR_SRC to a clone of kenjyoung/MinAtar, and run with a python3 that has "
                 "numpy (Debian: /usr/bin/python3 with python3-numpy)")
    return Environment


def bench_run(envs, actions, obs, steps, clock):
    """One timed run; steps per second."""
    for e in envs:
        e.reset()
        if obs:
            e.state()
    done = 0
    t0 = clock()
    if len(envs) == 1:
        e = envs[0]
        act, state, reset = e.act, e.state, e.reset
        for i in range(steps):
            _, terminal = act(actions[i % N_ACTIONS])
            if obs:
                state()
            if terminal:
                reset()
                if obs:
                    state()
        done = steps
    else:
        n = len(envs)
        k = 0
        while done < steps:
            base = (k * 977) % N_ACTIONS
            for i, e in enumerate(envs):
                _, terminal = e.act(actions[base + i])
                if obs:
                    e.state()
                if terminal:
                    e.reset()
                    if obs:
                        e.state()
            k += 1
            done += n
    secs = clock() - t0
    return done / secs if secs > 0 else 0.0


def bench_game(Environment, game, n_envs, obs, steps, runs, clock):
    import numpy as np
    envs = []
    for i in range(n_envs):
        e = Environment(game, sticky_action_prob=0.1, difficulty_ramping=True)
        e.seed(i + 1)
        envs.append(e)
    minimal = envs[0].minimal_action_set()
    pick = np.random.RandomState(1).randint(0, len(minimal), N_ACTIONS + n_envs)
    actions = [int(minimal[j]) for j in pick]
    return statistics.median(bench_run(envs, actions, obs, steps, clock) for _ in range(runs))


def reference_table(Environment, games, steps, runs, clock):
    """{shoal env name: [with obs, act only, vec64 obs]}"""
    table = {}
    for g in games:
        table["minatar/" + g] = [bench_game(Environment, g, n, o, steps, runs, clock)
                                 for _, n, o in MODES]
    return table


def print_table(title, table, fmt="{:14.0f}"):
    print(title)
    print("{:<24s} {:>14s} {:>14s} {:>14s}".format("env", *[m[0] for m in MODES]))
    for name, row in table.items():
        print("{:<24s}".format(name) + "".join(" " + fmt.format(v) for v in row))
    sys.stdout.flush()


def run_bench_env(path, games, steps, runs, cpu):
    cmd = [path] + (["--cpu"] if cpu else [])
    for g in games:
        cmd += ["--game", "minatar/" + g]
    cmd += [str(steps), str(runs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines()[2:]:
        f = line.split()
        if len(f) == 4:
            table[f[0]] = [float(x) for x in f[1:]]
    if len(table) != len(games):
        sys.exit("minatar_env.py: could not read bench_env's table:\n" + out)
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--minatar", default=os.environ.get("MINATAR_SRC"),
                    help="folder of the MinAtar source (default: $MINATAR_SRC, else an "
                         "installed minatar package)")
    ap.add_argument("--steps", type=int, default=200000,
                    help="steps per run of the reference (default 200000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument("--game", action="append", choices=GAMES,
                    help="only this game (repeatable; default all five)")
    ap.add_argument("--cpu", action="store_true",
                    help="time by this thread's CPU time instead of the monotonic clock "
                         "(bench_env --cpu; steadier on a shared machine)")
    ap.add_argument("--bench-env", metavar="PATH", action="append",
                    help="shoal's bench_env: alternate rounds of the reference and of it, and "
                         "print ratios (repeatable)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternated rounds with --bench-env (default 3)")
    ap.add_argument("--shoal-steps", type=int, default=2000000,
                    help="steps per run of bench_env (default 2000000)")
    a = ap.parse_args()
    if a.steps <= 0 or a.runs <= 0 or a.rounds <= 0 or a.shoal_steps <= 0:
        ap.error("--steps, --runs, --rounds and --shoal-steps must be positive")
    games = a.game or GAMES
    Environment = import_minatar(a.minatar)
    clock = time.thread_time if a.cpu else time.perf_counter
    clock_name = "thread CPU time" if a.cpu else "monotonic clock"
    title = (f"steps/s, median of {a.runs} runs of {a.steps} steps (reference MinAtar, numpy "
             f"RandomState, sticky 0.1, random actions, {clock_name})")
    if not a.bench_env:
        print_table(title, reference_table(Environment, games, a.steps, a.runs, clock))
        return
    refs, ours = [], {path: [] for path in a.bench_env}
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        refs.append(reference_table(Environment, games, a.steps, a.runs, clock))
        for path in a.bench_env:
            ours[path].append(run_bench_env(path, games, a.shoal_steps, a.runs, a.cpu))

    def med(tables):
        return {k: [statistics.median(t[k][m] for t in tables) for m in range(len(MODES))]
                for k in tables[0]}

    ref = med(refs)
    print_table(f"reference, median of {a.rounds} alternated rounds ({clock_name})", ref)
    for path in a.bench_env:
        our = med(ours[path])
        print_table(f"{path}, median of {a.rounds} alternated rounds ({clock_name})", our)
        print_table(f"ratio {path} / reference",
                    {k: [our[k][m] / ref[k][m] for m in range(len(MODES))] for k in ref},
                    "{:13.1f}x")

if __name__ == "__main__":
    main()
