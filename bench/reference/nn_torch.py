#!/usr/bin/python3
"""PyTorch reference for bench_nn: the MinAtar network of bench/nn.c (10x10xC input, conv 16 3x3
stride 1 unpadded + ReLU, flatten, dense 128 + ReLU, 6 actions; one head, no dueling) on one
thread, timed the way bench_nn times shoal: a warm-up call, then the median of 5 runs of 0.25 s
of calls per second. It prints the rows of `bench_nn --compare` in the same layout (with
torch/s in the column where bench_nn prints shoal/s), so the two tables divide row by row;
bench/reference/compare.sh alternates them and prints the ratios.

    /usr/bin/python3 bench/reference/nn_torch.py [--channels C] [--cpu] [--smoke]

--cpu times in the thread's CPU time, as bench_nn --cpu does (on a loaded machine).

Needs Debian's python3-torch and python3-numpy (hence /usr/bin/python3, not a virtualenv).
Inference runs under torch.inference_mode; an update is what shoal's learner does per batch:
online and target forwards on s' (double DQN: the online network picks the action, the target
network values it), targets R + C * Q_target, the training forward on s, the Huber loss of the
taken actions averaged over the batch, backward, and an Adam step (lr 1e-4, eps 3.125e-4).
"""
import argparse
import statistics
import time

import torch
from torch import nn

RUNS = 5
RUN_SECONDS = 0.25
ACTIONS = 6

# (bench_nn's row name, batch, is an update)
ROWS = [
    ("inference, batch 1", 1, False),
    ("inference, batch 16", 16, False),
    ("inference, batch 64", 64, False),
    ("double-DQN update + Adam, batch 32", 32, True),
    ("double-DQN update + Adam, batch 512", 512, True),
]


def minatar_net(channels):
    """bench_nn's network; PyTorch's default initialisation, as shoal's."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, kernel_size=3), nn.ReLU(), nn.Flatten(),
        nn.Linear(16 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, ACTIONS))


def observations(batch, channels, gen):
    """MinAtar-like: binary, mostly empty."""
    return (torch.rand(batch, channels, 10, 10, generator=gen) < 0.1).float()


def median_rate(fn, runs, seconds, clock):
    fn()  # warm-up
    rates = []
    for _ in range(runs):
        calls, t0 = 0, clock()
        while True:
            fn()
            calls += 1
            t = clock() - t0
            if t >= seconds:
                break
        rates.append(calls / t)
    return statistics.median(rates)


def forward_flops(channels):
    macs = 64 * 9 * channels * 16 + 1024 * 128 + 128 * ACTIONS
    return 2.0 * macs


def update_flops(channels):
    """As bench_nn's update_flops: three forwards and a backward of two products per layer,
    except the first convolution's input gradient."""
    fwd = forward_flops(channels) / 2.0
    conv0 = 64.0 * 9.0 * channels * 16.0
    return 2.0 * (3.0 * fwd + 2.0 * fwd - conv0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=10, help="input channels C (default 10)")
    ap.add_argument("--smoke", action="store_true", help="one short run per row")
    ap.add_argument("--cpu", action="store_true",
                    help="rates per second of this thread's CPU time, not wall time")
    args = ap.parse_args()
    runs, seconds = (1, 0.002) if args.smoke else (RUNS, RUN_SECONDS)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    C = args.channels

    clock = time.thread_time if args.cpu else time.perf_counter
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread; "
          f"medians of {runs} runs of {seconds:.3f} s "
          f"({'thread CPU time' if args.cpu else 'wall time'})")
    print(f"{'work (MinAtar net, 6 actions)':<38s} {'C':>5s} {'torch/s':>12s} {'GFLOP/s':>8s}")
    for work, batch, is_update in ROWS:
        online = minatar_net(C)
        target = minatar_net(C)
        target.load_state_dict(online.state_dict())
        opt = torch.optim.Adam(online.parameters(), lr=1e-4, eps=3.125e-4)
        s = observations(batch, C, gen)
        s2 = observations(batch, C, gen)
        R = torch.randint(0, 2, (batch,), generator=gen).float()
        disc = torch.full((batch,), 0.99)
        act = torch.randint(0, ACTIONS, (batch,), generator=gen)

        def inference():
            with torch.inference_mode():
                online(s)

        def update():
            with torch.no_grad():
                a2 = online(s2).argmax(dim=1, keepdim=True)
                y = R + disc * target(s2).gather(1, a2).squeeze(1)
            q = online(s).gather(1, act.unsqueeze(1)).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, y, beta=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        rate = median_rate(update if is_update else inference, runs, seconds, clock)
        flops = update_flops(C) if is_update else forward_flops(C)
        print(f"{work:<38s} {C:5d} {rate:12.1f} {rate * flops * batch * 1e-9:8.1f}", flush=True)


if __name__ == "__main__":
    main()
