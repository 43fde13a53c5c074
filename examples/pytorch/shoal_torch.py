"""Load a network exported by `shoal export CHECKPOINT --out net.npz` into PyTorch.

    import shoal_torch
    model, meta = shoal_torch.load("net.npz")        # a torch.nn.Module in eval mode
    q = model(obs_nchw)                              # (B, K, A) Q-values, prior included
    q = model(shoal_torch.from_shoal_obs(obs_nhwc))  # observations as shoal stores them

The module's state_dict names are the .npz entry names (torso.conv0.weight, heads.0.out.weight,
prior.torso.conv0.weight, ...; docs/formats.md, "Exported network"), so load_state_dict checks
that every tensor is there with its shape. Input is float32 (B, C, H, W); the torso's image is
flattened in PyTorch's (c, h, w) order, which the export already accounts for.
"""
import json

import numpy as np
import torch
from torch import nn

META = "meta.json"


class Head(nn.Module):
    """One head: hidden ReLU layers, then Q (or advantages and a state value with dueling)."""

    def __init__(self, n_in, dense, n_actions, dueling):
        super().__init__()
        self.n_dense = len(dense)
        self.dueling = dueling
        for j, n_out in enumerate(dense):
            self.add_module(f"dense{j}", nn.Linear(n_in, n_out))
            n_in = n_out
        if dueling:
            self.advantage = nn.Linear(n_in, n_actions)
            self.value = nn.Linear(n_in, 1)
        else:
            self.out = nn.Linear(n_in, n_actions)

    def forward(self, h):
        for j in range(self.n_dense):
            h = torch.relu(getattr(self, f"dense{j}")(h))
        if not self.dueling:
            return self.out(h)
        a = self.advantage(h)
        # Wang et al. 2016, as shoal aggregates: Q = V + A - mean(A)
        return self.value(h) + a - a.mean(dim=1, keepdim=True)


class Torso(nn.Module):
    """3x3 stride-1 unpadded convolutions with ReLU, flatten, shared dense ReLU layers."""

    def __init__(self, input_chw, conv, shared):
        super().__init__()
        c, h, w = input_chw
        self.n_conv, self.n_shared = len(conv), len(shared)
        for l, f in enumerate(conv):
            self.add_module(f"conv{l}", nn.Conv2d(c, f, kernel_size=3))
            c, h, w = f, h - 2, w - 2
        n = c * h * w
        for s, n_out in enumerate(shared):
            self.add_module(f"shared{s}", nn.Linear(n, n_out))
            n = n_out
        self.n_out = n

    def forward(self, x):
        for l in range(self.n_conv):
            x = torch.relu(getattr(self, f"conv{l}")(x))
        x = torch.flatten(x, 1)
        for s in range(self.n_shared):
            x = torch.relu(getattr(self, f"shared{s}")(x))
        return x


class QNetwork(nn.Module):
    """The network meta["network"] describes: (B, C, H, W) -> (B, K, A). With prior_scale
    beta != 0 it holds the fixed prior network too and adds beta * prior(x) to every head
    (Osband et al. 2018)."""

    def __init__(self, network, with_prior=True):
        super().__init__()
        self.torso = Torso(network["input_chw"], network["conv"], network["shared"])
        self.heads = nn.ModuleList(
            Head(self.torso.n_out, network["dense"], network["n_actions"], network["dueling"])
            for _ in range(network["n_heads"]))
        self.prior_scale = float(network["prior_scale"])
        if with_prior and self.prior_scale != 0.0:
            self.prior = QNetwork(network, with_prior=False).requires_grad_(False)
        else:
            self.prior = None

    def forward(self, x):
        h = self.torso(x)
        q = torch.stack([head(h) for head in self.heads], dim=1)
        if self.prior is not None:
            with torch.no_grad():
                q = q + self.prior_scale * self.prior(x)
        return q


def from_shoal_obs(obs):
    """Observations as shoal's --dump-q stores them, float32 (B, H, W, C), as (B, C, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32)).permute(0, 3, 1, 2)


def read_meta(archive):
    """meta.json of an open np.load archive, as a dict."""
    return json.loads(bytes(archive[META]).decode("utf-8"))


def load(path):
    """(model, meta): a QNetwork holding the exported parameters, in eval mode."""
    with np.load(path) as z:
        meta = read_meta(z)
        if meta.get("format") != "shoal-npz" or meta.get("format_version") != 1:
            raise ValueError(f"{path}: not a shoal network export (format version 1)")
        model = QNetwork(meta["network"])
        state = {name: torch.from_numpy(z[name]) for name in z.files if name != META}
    model.load_state_dict(state, strict=True)
    return model.eval(), meta
