"""An MNIST FFN classifier and a JumpReLU sparse autoencoder for its logits.

Names follow the write-up's Shazeer suffix style: ``x_bi`` inputs (batch, 784),
``h_bh`` hidden, ``y_bo`` logits; weights ``W_in_ih``, ``W_gate_ih``, ``W_out_ho``.

JumpReLU, as the write-up describes it: the forward pass uses the hard gate
``g = 1[u > theta]`` (exactly 0 or 1), the backward pass the derivative of the
sigmoid surrogate ``sigmoid((u - theta) / tau)`` (straight-through). A latent is
``z = u * g``; the sparsity penalty is ``lambda * mean_b sum_j g_bj`` (the hard L0,
with the same surrogate gradient). Decoder columns (one dictionary atom per latent)
are renormalised to unit length after every optimiser step.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

FfnKind = Literal["relu", "geglu"]
FFN_KINDS: tuple[str, ...] = ("relu", "geglu")


class FFN(nn.Module):
    """784 -> hidden -> 10, no biases (the write-up names weights only).

    relu:  y = relu(x W_in) W_out
    geglu: y = (gelu(x W_gate) * (x W_in)) W_out     (Shazeer 2020)
    """

    def __init__(self, kind: FfnKind = "relu", d_in: int = 784, hidden: int = 128,
                 n_classes: int = 10):
        super().__init__()
        if kind not in FFN_KINDS:
            raise ValueError(f"unknown FFN kind {kind!r}; expected one of {FFN_KINDS}")
        self.kind = kind
        self.W_in_ih = nn.Linear(d_in, hidden, bias=False)
        self.W_gate_ih = nn.Linear(d_in, hidden, bias=False) if kind == "geglu" else None
        self.W_out_ho = nn.Linear(hidden, n_classes, bias=False)

    def forward(self, x_bi: torch.Tensor) -> torch.Tensor:
        if self.W_gate_ih is None:
            h_bh = F.relu(self.W_in_ih(x_bi))
        else:
            h_bh = F.gelu(self.W_gate_ih(x_bi)) * self.W_in_ih(x_bi)
        return self.W_out_ho(h_bh)  # y_bo


class HardGate(torch.autograd.Function):
    """Forward ``1[u > theta]`` exactly; backward the gradient of
    ``sigmoid((u - theta) / tau)`` (to u, and with the opposite sign to theta)."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, theta: torch.Tensor, tau: float) -> torch.Tensor:
        ctx.save_for_backward(u, theta)
        ctx.tau = tau
        return (u > theta).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        u, theta = ctx.saved_tensors
        s = torch.sigmoid((u - theta) / ctx.tau)
        d_u = grad * s * (1 - s) / ctx.tau
        d_theta = -d_u
        # theta broadcasts over the batch: sum its gradient back to its own shape
        while d_theta.dim() > theta.dim():
            d_theta = d_theta.sum(0)
        return d_u, d_theta, None


def hard_gate(u: torch.Tensor, theta: torch.Tensor, tau: float) -> torch.Tensor:
    return HardGate.apply(u, theta, tau)


class JumpReLUSAE(nn.Module):
    """d -> n_latents -> d on (optionally standardised) logits.

    u = W_enc x + b_enc;  g = 1[u > theta];  z = u * g;  x_hat = W_dec z + b_dec,
    with theta = exp(log_theta) > 0 per latent (learned, initialised to ``theta_init``).
    ``fit_standardizer`` stores per-dimension mean and SD (of the training logits);
    ``normalize`` / ``denormalize`` map between raw and SAE space (identity when
    ``normalize_inputs`` is False).
    """

    def __init__(self, d: int = 10, n_latents: int = 32, tau: float = 0.1,
                 theta_init: float = 0.5, normalize_inputs: bool = True):
        super().__init__()
        self.tau = float(tau)
        self.normalize_inputs = normalize_inputs
        self.enc = nn.Linear(d, n_latents)
        self.dec = nn.Linear(n_latents, d)
        self.log_theta = nn.Parameter(torch.full((n_latents,), math.log(theta_init)))
        self.register_buffer("mean_o", torch.zeros(d))
        self.register_buffer("std_o", torch.ones(d))
        self.renorm_decoder()

    @torch.no_grad()
    def fit_standardizer(self, y_bo: torch.Tensor, eps: float = 1e-6) -> None:
        if self.normalize_inputs:
            self.mean_o.copy_(y_bo.mean(0))
            self.std_o.copy_(y_bo.std(0, correction=0).clamp_min(eps))

    def normalize(self, y_bo: torch.Tensor) -> torch.Tensor:
        return (y_bo - self.mean_o) / self.std_o

    def denormalize(self, x_bo: torch.Tensor) -> torch.Tensor:
        return x_bo * self.std_o + self.mean_o

    @property
    def theta(self) -> torch.Tensor:
        return self.log_theta.exp()

    def encode(self, x_bo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents z, gates g), both (batch, n_latents); x in SAE space."""
        u = self.enc(x_bo)
        g = hard_gate(u, self.theta, self.tau)
        return u * g, g

    def forward(self, x_bo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction in SAE space, gates)."""
        z, g = self.encode(x_bo)
        return self.dec(z), g

    @torch.no_grad()
    def gate_counts(self, x_bo: torch.Tensor) -> torch.Tensor:
        """Hard number of active latents per example (the L0), shape (batch,)."""
        return self.encode(x_bo)[1].sum(1)

    @torch.no_grad()
    def renorm_decoder(self, eps: float = 1e-8) -> None:
        """Each latent's decoder column (dec.weight[:, j]) to unit L2 norm."""
        w = self.dec.weight  # (d, n_latents): column j is latent j's atom
        w.div_(w.norm(dim=0, keepdim=True).clamp_min(eps))
