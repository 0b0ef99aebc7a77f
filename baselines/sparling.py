"""SPARLING (arXiv 2302.01976): extreme activation sparsity between a motif model and a
sequence decoder, with the write-up's ablations and the L1 / KL baselines.

    image -> MotifExtractor (1x1 conv, pre-activation residual units of 3x3 convs,
             1x1 conv to 10 channels: receptive field 1 + 4 * units pixels)
          -> Bottleneck: [BatchNorm] then one of
               MT  per-channel quantile thresholds      ReLU(x - t_c)
               ST  one threshold for all channels       ReLU(x - t)
               L1  ReLU, loss + lambda * mean|m|
               KL  sigmoid, loss + lambda * KL(target || mean m)
          -> SequenceDecoder: 1x1 conv to d_model, max-pool, 2-D position embedding,
             transformer encoder, autoregressive transformer decoder -> digit tokens

The thresholds of MT/ST are buffers, not parameters: in training each batch moves them
towards the batch's (1 - density) quantile with momentum, under ``no_grad``; in eval
they are frozen. ``DensityAnnealer`` is the adaptive schedule that lowers the density.

Everything here runs with ``torch.use_deterministic_algorithms(True)`` on CUDA too:
attention is written with matmuls (no fused SDPA kernels), the token embedding and
the cross-entropy use one-hot products (``nn.NLLLoss`` has no deterministic CUDA
kernel), and max-pooling windows do not overlap.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

METHODS = ("MT", "ST", "L1", "KL")
BOS, EOS, VOCAB = 10, 11, 12  # tokens: digits 0-9, begin, end


# ----------------------------------------------------------------- sparsity layer


class SpatialSparsity(nn.Module):
    """ReLU(x - t) with t the running (1 - density) quantile of x; no gradient to t.

    ``per_channel=True`` is MT (one threshold per channel, each channel keeps a
    ``density`` share of its positions); ``False`` is the ST ablation (one threshold
    over all channels, so channels may take unequal shares). Input (N, C, H, W).
    The first training batch sets t directly (the paper starts t at 0); later
    batches move it by ``momentum`` (paper: 0.1).
    """

    def __init__(self, channels: int, density: float, per_channel: bool = True,
                 momentum: float = 0.1):
        super().__init__()
        self.density = float(density)
        self.per_channel = per_channel
        self.momentum = momentum
        self.register_buffer("threshold", torch.zeros(channels if per_channel else 1))
        self.fresh = True  # a Python flag: checking a tensor would sync with the GPU

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        flat = x.transpose(0, 1).reshape(x.shape[1], -1) if self.per_channel else x.reshape(1, -1)
        n = flat.shape[1]
        k = min(max(int(n * (1.0 - self.density)), 1), n)
        if n - k + 1 <= n // 16:  # few kept: the (n-k+1)-th largest is the same value, sooner
            quantile = flat.topk(n - k + 1, dim=1, sorted=False).values.min(dim=1).values
        else:
            quantile = flat.kthvalue(k, dim=1).values
        quantile = quantile.to(self.threshold.dtype)
        if self.fresh:
            self.threshold.copy_(quantile)
            self.fresh = False
        else:
            self.threshold.lerp_(quantile, self.momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.update(x.detach())
        return F.relu(x - self.threshold.view(1, -1, 1, 1))


class Bottleneck(nn.Module):
    """[BatchNorm2d] + the method's sparsity: MT, ST (thresholds), L1 (ReLU), KL (sigmoid)."""

    def __init__(self, method: str, channels: int = 10, density: float = 0.5,
                 batch_norm: bool = True, momentum: float = 0.1):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
        self.method = method
        self.norm = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()
        self.sparse = (SpatialSparsity(channels, density, method == "MT", momentum)
                       if method in ("MT", "ST") else None)

    @property
    def density(self) -> float | None:
        return self.sparse.density if self.sparse is not None else None

    @density.setter
    def density(self, value: float) -> None:
        self.sparse.density = float(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.sparse is not None:
            return self.sparse(x)
        return F.relu(x) if self.method == "L1" else torch.sigmoid(x)

    def active(self, m: torch.Tensor) -> torch.Tensor:
        """Which motif activations count as present (KL: sigmoid > 0.5, else nonzero)."""
        return m > 0.5 if self.method == "KL" else m != 0

    def penalty(self, m: torch.Tensor, l1_weight: float, kl_weight: float,
                target: float) -> torch.Tensor:
        if self.method == "L1":
            return l1_weight * m.abs().mean()
        if self.method == "KL":  # Bernoulli KL of the target rate from the mean activation
            p, q = target, m.mean().clamp(1e-7, 1 - 1e-7)
            return kl_weight * (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q)))
        return m.new_zeros(())


class DensityAnnealer:
    """Adaptive density schedule (the paper's LinearThresholdAdaptiveSUO).

    At every validation the bar first decays by ``bar_decay`` (never below
    ``bar_min``); if the accuracy beats the bar the density is multiplied by
    ``factor``; the bar then rises to the accuracy if that is higher. At the target
    (no further step would stay at or above it) a beaten bar means done.

    ``near_target`` > 0 replaces the bar decay by ``near_decay`` once that many
    reductions or fewer remain (not in the paper): the last reductions, which remove
    most of what is left of each digit, then wait for the accuracy to recover.
    """

    def __init__(self, density: float, target: float, factor: float = 0.75,
                 bar: float = 1.0, bar_decay: float = 0.002, bar_min: float = 0.0,
                 near_target: int = 0, near_decay: float | None = None):
        if near_target and near_decay is None:
            raise ValueError("near_target needs near_decay")
        self.density, self.target, self.factor = float(density), float(target), factor
        self.bar, self.bar_decay, self.bar_min = bar, bar_decay, bar_min
        self.near_target, self.near_decay = near_target, near_decay
        self.reductions = 0
        self.done = False

    @property
    def at_target(self) -> bool:
        return self.density * self.factor < self.target * (1 - 1e-9)

    def steps_to_target(self) -> int:
        """Reductions left before the target is reached."""
        steps, density = 0, self.density
        while density * self.factor >= self.target * (1 - 1e-9):
            density *= self.factor
            steps += 1
        return steps

    def step(self, acc: float) -> str:
        """'reduce', 'done' or 'hold' for a validation accuracy in [0, 1]."""
        near = self.near_target > 0 and self.steps_to_target() <= self.near_target
        decay = self.near_decay if near else self.bar_decay
        self.bar = max(self.bar - decay, self.bar_min)
        beaten = acc > self.bar
        self.bar = max(self.bar, acc)
        if not beaten or self.done:
            return "done" if self.done else "hold"
        if self.at_target:
            self.done = True
            return "done"
        self.density *= self.factor
        self.reductions += 1
        return "reduce"


# ----------------------------------------------------------------- motif model


class ResidualUnit(nn.Module):
    """Pre-activation residual unit (He et al. 2016): x + conv(relu(bn(conv(relu(bn(x))))))."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MotifExtractor(nn.Module):
    """1x1 conv -> ``units`` residual units -> 1x1 conv to ``motifs`` channels."""

    def __init__(self, width: int, units: int, motifs: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, width, 1),
                                 *[ResidualUnit(width) for _ in range(units)],
                                 nn.Conv2d(width, motifs, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.unsqueeze(1).float())


# ----------------------------------------------------------------- sequence decoder


class Attention(nn.Module):
    """Multi-head attention with plain matmuls; ``causal`` masks later positions."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor, context: torch.Tensor, causal: bool = False):
        (b, n, d), m, h = x.shape, context.shape[1], self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(context).view(b, m, 2, h, d // h).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)
        if causal:
            later = torch.ones(n, m, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(later, float("-inf"))
        return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer layer: self-attention, [cross-attention], 4x MLP."""

    def __init__(self, d: int, heads: int, cross: bool = False):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(d), Attention(d, heads)
        self.norm2 = nn.LayerNorm(d) if cross else None
        self.cross = Attention(d, heads) if cross else None
        self.norm3 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, memory=None, causal=False):
        h = self.norm1(x)
        x = x + self.attn(h, h, causal)
        if self.cross is not None:
            x = x + self.cross(self.norm2(x), memory)
        return x + self.mlp(self.norm3(x))


class SequenceDecoder(nn.Module):
    """Motif map (N, C, S, S) -> token logits, autoregressive over the digit sequence."""

    def __init__(self, motifs: int, size: int, d: int, heads: int, enc_layers: int,
                 dec_layers: int, pool: int, max_len: int):
        super().__init__()
        grid = size // pool
        self.embed = nn.Conv2d(motifs, d, 1)
        self.pool = nn.MaxPool2d(pool)  # kernel = stride: windows do not overlap
        self.rows, self.cols = (nn.Parameter(0.02 * torch.randn(grid, d)) for _ in range(2))
        self.encoder = nn.ModuleList([Block(d, heads) for _ in range(enc_layers)])
        self.tokens = nn.Parameter(0.02 * torch.randn(VOCAB, d))
        self.positions = nn.Parameter(0.02 * torch.randn(max_len + 1, d))
        self.decoder = nn.ModuleList([Block(d, heads, cross=True) for _ in range(dec_layers)])
        self.norm_enc, self.norm_dec = nn.LayerNorm(d), nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def encode(self, m: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.embed(m))  # (N, d, g, g)
        x = x.permute(0, 2, 3, 1) + self.rows[:, None] + self.cols[None, :]
        x = x.flatten(1, 2)  # (N, g*g, d)
        for block in self.encoder:
            x = block(x)
        return self.norm_enc(x)

    def decode(self, memory: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(tokens, VOCAB).to(memory.dtype) @ self.tokens
        x = x + self.positions[: tokens.shape[1]]
        for block in self.decoder:
            x = block(x, memory, causal=True)
        return self.head(self.norm_dec(x))


# ----------------------------------------------------------------- the network


class SparlingNet(nn.Module):
    """Motif extractor -> bottleneck -> sequence decoder (paper sizes as defaults)."""

    def __init__(self, method: str = "MT", size: int = 100, width: int = 512, units: int = 4,
                 motifs: int = 10, batch_norm: bool = True, density: float = 0.5,
                 d_model: int = 512, heads: int = 8, enc_layers: int = 6,
                 dec_layers: int = 6, pool: int = 8, max_len: int = 7,
                 momentum: float = 0.1):
        super().__init__()
        self.max_len = max_len
        self.extractor = MotifExtractor(width, units, motifs)
        self.bottleneck = Bottleneck(method, motifs, density, batch_norm, momentum)
        self.decoder = SequenceDecoder(motifs, size, d_model, heads, enc_layers, dec_layers,
                                       pool, max_len)

    def motifs(self, images: torch.Tensor) -> torch.Tensor:
        # the bottleneck in fp32 even under bf16 autocast: its quantile thresholds at
        # densities near 1e-4 would otherwise cut between bf16's coarse, tied values
        return self.bottleneck(self.extractor(images).float())

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor):
        m = self.motifs(images)
        return self.decoder.decode(self.decoder.encode(m), tokens_in), m

    @torch.no_grad()
    def greedy(self, m: torch.Tensor) -> torch.Tensor:
        """Decode ``max_len`` tokens after BOS from motif maps; (N, max_len)."""
        memory = self.decoder.encode(m)
        tokens = torch.full((m.shape[0], 1), BOS, dtype=torch.long, device=m.device)
        for _ in range(self.max_len):
            logits = self.decoder.decode(memory, tokens)[:, -1]
            logits[:, BOS] = float("-inf")
            tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], 1)
        return tokens[:, 1:]


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor):
    """Mean cross-entropy over unmasked positions, via log-softmax x one-hot."""
    logp = logits.log_softmax(-1)
    nll = -(logp * F.one_hot(targets, VOCAB).to(logp.dtype)).sum(-1)
    return (nll * mask).sum() / mask.sum()


def forward_flops(size: int, width: int, units: int, motifs: int, d_model: int,
                  enc_layers: int, dec_layers: int, pool: int, max_len: int) -> dict:
    """Dense forward FLOPs (2 x multiply-adds) per image, by stage.

    ``embed`` is the 1x1 conv right after the bottleneck: the only layer whose input
    is the sparse motif map, so the only one the zeros could make cheaper.
    """
    px, d = size * size, d_model
    tokens, steps = (size // pool) ** 2, max_len + 1
    extractor = 2 * px * (width + units * 2 * 9 * width * width + width * motifs)
    enc = enc_layers * 2 * (12 * tokens * d * d + 2 * tokens * tokens * d)
    dec = dec_layers * 2 * (14 * steps * d * d + 2 * steps * steps * d
                            + 2 * tokens * d * d + 2 * steps * tokens * d)
    return {"extractor": extractor, "embed": 2 * px * motifs * d,
            "transformer": enc + dec + 2 * steps * d * VOCAB}
