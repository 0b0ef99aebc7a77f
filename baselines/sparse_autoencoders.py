"""Sparse autoencoders 784 -> d -> 784 for the sparse-autoencoder tutorial (plain PyTorch).

One class per penalty or activation; every one has the same shape:

    z = model.encode(x)             # (batch, d) code
    x_hat = model.decode(z)         # (batch, 784) reconstruction, linear output
    loss = model.loss(x)            # mean_b ||x - x_hat||^2 + the model's sparsity term

``model.active(z)`` says which code entries count as "active" (non-zero for the ReLU and
top-k codes, above ``threshold`` for sigmoid codes), the measure behind L0, dead units
and lifetime statistics.

    DenseAE      ReLU, no sparsity term (the dense reference of the same width)
    L1AE         ReLU, lambda * mean_b sum_j |z_j|                       (tutorial 2.2)
    KLAE         sigmoid, lambda * sum_j KL(rho || rho_hat_j); rho_hat_j from the mini-batch
                 ("batch") or a running average beta * r + (1 - beta) * batch mean
                 ("running"), both as section 7.1 describes                (2.2, 3, 7.1)
    TopKAE       k-sparse (Makhzani & Frey 2013): linear pre-activations, keep the k largest
                 per input, zero the rest: exactly k non-zeros per input     (6.4)
    WTAAE        winner-take-all: the tau -> 0 limit of section 6.3's softmax: per input only
                 the largest ReLU pre-activation survives (at most one active unit)
    LifetimeAE   ReLU + L1, plus the lifetime term of section 2.2: per unit a smooth batch
                 estimate p_j of how often it is active, penalised by sum_j (p_j - rho)^2,
                 so units that are always (p = 1) or never (p = 0) active pay

Dead-unit handling (section 7.3, "periodically reinitialize dead units") is
:func:`reinit_dead`: the encoder rows of dead units are set to the directions of random
training inputs with a small positive bias, their decoder columns to zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_DIM = 784


class SparseAE(nn.Module):
    """The shared encoder/decoder; subclasses define ``encode`` and ``penalty``."""

    kind = "base"

    def __init__(self, d: int, input_dim: int = INPUT_DIM) -> None:
        super().__init__()
        self.d = d
        self.enc = nn.Linear(input_dim, d)
        self.dec = nn.Linear(d, input_dim)

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.pre(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return self.decode(z), z

    def active(self, z: torch.Tensor) -> torch.Tensor:
        return z != 0

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        return z.new_zeros(())

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat, z = self(x)
        recon = (x_hat - x).pow(2).sum(1).mean()
        return recon + self.penalty(z)


class DenseAE(SparseAE):
    """A plain ReLU autoencoder: no sparsity term."""

    kind = "dense"


class L1AE(SparseAE):
    """ReLU code with an L1 penalty lam * mean_b sum_j |z_j|."""

    kind = "l1"

    def __init__(self, d: int, lam: float, input_dim: int = INPUT_DIM) -> None:
        super().__init__(d, input_dim)
        self.lam = lam

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        return self.lam * z.abs().sum(1).mean()


def kl_bernoulli(rho: float, rho_hat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)), elementwise (section 3.1)."""
    rho_hat = rho_hat.clamp(eps, 1 - eps)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


class KLAE(SparseAE):
    """Sigmoid code with lam * sum_j KL(rho || rho_hat_j) (Ng 2011).

    estimate "batch": rho_hat_j is the mini-batch mean of z_j. "running": a buffer
    r_j <- beta r_j + (1 - beta) batch mean (detached) is kept across steps, and the
    penalty uses rho_hat_j = beta r_j + (1 - beta) batch mean, so the gradient flows
    through the current batch only (section 7.1's running average).
    """

    kind = "kl"

    def __init__(self, d: int, rho: float, lam: float = 3.0, estimate: str = "batch",
                 beta: float = 0.9, threshold: float = 0.5, input_dim: int = INPUT_DIM) -> None:
        super().__init__(d, input_dim)
        if estimate not in ("batch", "running"):
            raise ValueError(f"estimate must be 'batch' or 'running', not {estimate!r}")
        self.rho, self.lam, self.estimate, self.beta = rho, lam, estimate, beta
        self.threshold = threshold
        self.register_buffer("running", torch.full((d,), float(rho)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.pre(x))

    def active(self, z: torch.Tensor) -> torch.Tensor:
        return z > self.threshold

    def rho_hat(self, z: torch.Tensor) -> torch.Tensor:
        batch = z.mean(0)
        if self.estimate == "batch":
            return batch
        rho_hat = self.beta * self.running + (1 - self.beta) * batch
        if self.training:
            self.running.copy_(rho_hat.detach())
        return rho_hat

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        return self.lam * kl_bernoulli(self.rho, self.rho_hat(z)).sum()


class TopKAE(SparseAE):
    """k-sparse: linear pre-activations, the k largest per input kept, the rest zeroed."""

    kind = "topk"

    def __init__(self, d: int, k: int, input_dim: int = INPUT_DIM) -> None:
        super().__init__(d, input_dim)
        if not 1 <= k <= d:
            raise ValueError(f"k must be in [1, {d}], not {k}")
        self.k = k

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        a = self.pre(x)
        idx = a.topk(self.k, dim=1).indices
        mask = torch.zeros_like(a).scatter_(1, idx, 1.0)
        return a * mask

    def active(self, z: torch.Tensor) -> torch.Tensor:
        # the k kept positions (a kept pre-activation of exactly 0.0 has probability 0)
        return z != 0


class WTAAE(SparseAE):
    """Winner-take-all: per input only the largest ReLU pre-activation survives."""

    kind = "wta"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.pre(x))
        mask = torch.zeros_like(a).scatter_(1, a.argmax(1, keepdim=True), 1.0)
        return a * mask


def lifetime_frequency(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """Smooth per-unit activity frequency over the batch: mean_b tanh(z_bj / temperature)."""
    return torch.tanh(z.clamp_min(0) / temperature).mean(0)


def lifetime_penalty(z: torch.Tensor, rho: float, temperature: float) -> torch.Tensor:
    """sum_j (p_j - rho)^2: zero when every unit is active for a share rho of the batch."""
    return (lifetime_frequency(z, temperature) - rho).pow(2).sum()


class LifetimeAE(SparseAE):
    """ReLU + L1 (lam_l1) + lam * sum_j (p_j - rho)^2 on each unit's batch activity p_j."""

    kind = "lifetime"

    def __init__(self, d: int, rho: float, lam: float = 10.0, lam_l1: float = 0.0,
                 temperature: float = 0.1, input_dim: int = INPUT_DIM) -> None:
        super().__init__(d, input_dim)
        self.rho, self.lam, self.lam_l1, self.temperature = rho, lam, lam_l1, temperature

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        out = self.lam * lifetime_penalty(z, self.rho, self.temperature)
        if self.lam_l1:
            out = out + self.lam_l1 * z.abs().sum(1).mean()
        return out


METHODS = ("dense", "l1", "kl_batch", "kl_running", "topk", "wta", "lifetime")


def build(method: str, d: int, *, rho: float = 0.05, lam: float = 0.0, kl_lam: float = 3.0,
          kl_beta: float = 0.9, threshold: float = 0.5, k: int | None = None,
          life_lam: float = 10.0, life_temperature: float = 0.1) -> SparseAE:
    """One autoencoder by the suite's method name."""
    if method == "dense":
        return DenseAE(d)
    if method == "l1":
        return L1AE(d, lam)
    if method in ("kl_batch", "kl_running"):
        return KLAE(d, rho, kl_lam, method.removeprefix("kl_"), kl_beta, threshold)
    if method == "topk":
        return TopKAE(d, k if k is not None else max(1, round(rho * d)))
    if method == "wta":
        return WTAAE(d)
    if method == "lifetime":
        return LifetimeAE(d, rho, life_lam, lam, life_temperature)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


@torch.no_grad()
def reinit_dead(model: SparseAE, dead: torch.Tensor, x: torch.Tensor,
                generator: torch.Generator, bias: float = 0.01) -> int:
    """Reinitialise the units where ``dead`` is True (section 7.3); returns how many.

    Encoder row j <- a random row of ``x`` (drawn with ``generator``), scaled to the norm
    of the default initialisation's rows; encoder bias <- ``bias`` (small positive);
    decoder column j <- 0, so the reconstruction is unchanged at the moment of revival.
    """
    idx = dead.nonzero().flatten()
    if len(idx) == 0:
        return 0
    pick = torch.randint(len(x), (len(idx),), generator=generator).to(x.device)
    rows = x[pick]
    scale = model.enc.weight.norm(dim=1).mean()
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-8) * scale
    model.enc.weight[idx] = rows
    model.enc.bias[idx] = bias
    model.dec.weight[:, idx] = 0.0
    return len(idx)


def usage_balance(active: torch.Tensor) -> float:
    """Normalised entropy (0..1) of how activations spread over units (1: equal use)."""
    counts = active.double().sum(0)
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts / total
    h = -(p[p > 0] * p[p > 0].log()).sum().item()
    return h / math.log(active.shape[1])
