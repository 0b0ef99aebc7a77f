"""MLPs with sparse bottlenecks: Baseline (GELU), FSB and DSB.

A hidden layer is ``Linear -> GELU -> bottleneck``:
- ``baseline``: no bottleneck (identity);
- ``fsb`` (fixed sparse bottleneck): soft-threshold with a learnable per-neuron
  tau = softplus(raw), raw initialised to ``tau_bias`` (default 0: tau starts at ln 2);
- ``dsb`` (dynamic sparse bottleneck): tau = softplus(W_tau h + b_tau) per neuron,
  predicted from the post-GELU vector h that is being thresholded; W_tau has
  nn.Linear's default init, b_tau starts at ``tau_bias`` (default 0).

Caution, measured: with the default tau_bias = 0 (tau ~ ln 2 ~ 0.69) and PyTorch's
default Linear init, post-GELU values on MNIST-1D rarely exceed 0.69, so layer 1's
bottleneck zeroes ~93 % of units and layers 2-3 zero 100 % for every input. Then
no gradient reaches anything but the head bias and FSB/DSB stay at chance. A
negative ``tau_bias`` (a smaller initial tau) avoids this.

Soft-threshold: y = sign(x) * max(0, |x| - tau), exactly 0 where |x| <= tau.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

Kind = Literal["baseline", "fsb", "dsb"]
KINDS: tuple[str, ...] = ("baseline", "fsb", "dsb")


def soft_threshold(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """sign(x) * relu(|x| - tau); tau broadcasts against x."""
    return torch.sign(x) * F.relu(x.abs() - tau)


class SoftThreshold(nn.Module):
    """Input-independent per-neuron threshold tau = softplus(raw).

    ``learnable=False`` keeps raw as a buffer (a fixed threshold).
    """

    def __init__(self, width: int, raw_init: float = 0.0, learnable: bool = True):
        super().__init__()
        raw = torch.full((width,), float(raw_init))
        if learnable:
            self.raw = nn.Parameter(raw)
        else:
            self.register_buffer("raw", raw)

    def tau(self, x: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(self.raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_threshold(x, self.tau())


class DynamicSoftThreshold(nn.Module):
    """Input-dependent per-neuron threshold tau = softplus(W_tau x + b_tau)."""

    def __init__(self, width: int, bias_init: float = 0.0):
        super().__init__()
        self.tau_net = nn.Linear(width, width)
        nn.init.constant_(self.tau_net.bias, bias_init)

    def tau(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.tau_net(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_threshold(x, self.tau(x))


def make_bottleneck(kind: Kind, width: int, tau_bias: float = 0.0) -> nn.Module:
    if kind == "baseline":
        return nn.Identity()
    if kind == "fsb":
        return SoftThreshold(width, raw_init=tau_bias)
    if kind == "dsb":
        return DynamicSoftThreshold(width, bias_init=tau_bias)
    raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")


class SparseMLP(nn.Module):
    """``depth`` hidden layers of width ``hidden``, each Linear -> GELU -> bottleneck."""

    def __init__(
        self,
        kind: Kind,
        d_in: int = 40,
        hidden: int = 100,
        depth: int = 3,
        n_classes: int = 10,
        tau_bias: float = 0.0,
    ):
        super().__init__()
        self.kind = kind
        # The main layers and head are created before the bottlenecks, so for one
        # global seed all three kinds start from identical Linear/head weights
        # (DSB's extra Linear draws from the RNG only after them).
        dims = [d_in] + [hidden] * depth
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.head = nn.Linear(hidden, n_classes)
        self.bottlenecks = nn.ModuleList(
            make_bottleneck(kind, hidden, tau_bias) for _ in range(depth)
        )

    def forward(
        self, x: torch.Tensor, return_acts: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits; with ``return_acts`` also the per-layer bottleneck outputs.

        The activations are the post-bottleneck outputs of each hidden layer
        (post-GELU for the baseline), each of shape (batch, hidden).
        """
        acts = []
        for fc, bottleneck in zip(self.fcs, self.bottlenecks, strict=True):
            x = bottleneck(F.gelu(fc(x)))
            acts.append(x)
        logits = self.head(x)
        return (logits, acts) if return_acts else logits


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
