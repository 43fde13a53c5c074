"""Compares PyTorch's Q-values with shoal's.

    shoal export CKPT --out net.npz --dump-q q.npz --set env.name=minatar/breakout
    python3 check_q.py net.npz q.npz [--tol 1e-5]

Builds the network from net.npz (shoal_torch.py), evaluates it on the observations in q.npz
and prints the largest absolute difference from shoal's Q-values. Exit status 0 when it is
within the tolerance, 1 when not. The default 1e-5 allows for float32 sums taken in another
order (shoal's kernels and PyTorch's differ); a wrong layout or a missing tensor is off by
far more.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shoal_torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("network", help="the .npz from shoal export --out")
    p.add_argument("qdump", help="the .npz from shoal export --dump-q")
    p.add_argument("--tol", type=float, default=1e-5, help="largest absolute difference allowed")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, meta = shoal_torch.load(a.network)
    with np.load(a.qdump) as z:
        obs, q_shoal, qmeta = z["obs"], z["q"], shoal_torch.read_meta(z)
    if qmeta["arch"] != meta["arch"]:
        sys.exit(f"{a.qdump} is of network \"{qmeta['arch']}\", {a.network} of \"{meta['arch']}\"")
    with torch.no_grad():
        q_torch = model(shoal_torch.from_shoal_obs(obs)).numpy()
    if q_torch.shape != q_shoal.shape:
        sys.exit(f"shapes differ: torch {q_torch.shape}, shoal {q_shoal.shape}")
    diff = float(np.max(np.abs(q_torch.astype(np.float64) - q_shoal.astype(np.float64))))
    scale = float(np.max(np.abs(q_shoal)))
    env = qmeta.get("env", {}).get("name", "?")
    print(f"{env}: {meta['arch']}: max |q_torch - q_shoal| = {diff:.3g} over {q_shoal.shape} "
          f"(max |q| {scale:.3g}, tolerance {a.tol:g})")
    return 0 if diff <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
