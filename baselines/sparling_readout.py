"""Readout options for the SPARLING decoder: where it looks, and how it knows where it is.

Trained end to end on a CPU budget, ``SparlingNet`` reads which digits are on the
canvas but not their order around the circle. Feeding its decoder perfect motif maps
(``oracle_maps``; ``benchmarks/sparling_oracle.py``) shows that the decoder itself is
the bottleneck: from a map with one active entry per digit it learns the digits, not
their cyclic order. ``ReadoutNet`` is ``SparlingNet`` with a decoder that has these
switches, all off by default (then it computes exactly ``SparlingNet``'s function with
the same weights, and draws the same initialisation from the same seed):

attend_active  encoder self-attention and decoder cross-attention see only the pooled
               cells that hold an active motif (the bottleneck's own ``active()`` rule,
               anywhere in the pooling window, any channel); a sample with no active
               cell attends to every cell. The decoder then compares a handful of
               digit cells instead of averaging them into 64-400 empty ones.
soft_bias      instead of that hard mask, add ``log(soft_eps + a)`` to each key's score,
               ``a`` the cell's activity relative to the sample's most active cell (see
               ``ReadoutDecoder.key_bias``): exactly-zero cells are damped by
               ``soft_eps``, active ones weighted by how active they are, and the scores
               stay differentiable in the motif map, so the motif model gets a gradient
               from where the decoder looks.
polar          add a learned projection of each cell's angle around the canvas centre
               (cos k theta, sin k theta, k = 1..harmonics) and radius / half-size to the
               row/column embeddings. The label is the angular order around the circle's
               centre, which holds the canvas centre, so order is a sort by theta; learned
               row/column tables would have to discover that angle themselves.
log_values     feed ``log1p(v)`` rather than ``v``: MT's ReLU(x - t) values can be large,
               and large values swamp the position embeddings in the embedded cell.
kl_feed        (KL bottleneck only) feed ``ReLU(sigmoid - 0.5)`` as the authors' KL
               baseline does, rather than the raw sigmoid, whose 0.4s look like signal.
read_active    the 1x1 embedding also reads the 0/1 active indicator (extra channels),
               so presence is visible independently of magnitude.

Determinism is kept as in ``baselines.sparling``: matmul attention, one-hot token
embeddings, non-overlapping pools; the polar features are fixed buffers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from baselines.digit_circle import DigitCircleBatch
from baselines.sparling import (
    BOS,
    VOCAB,
    Attention,
    Block,
    Bottleneck,
    MotifExtractor,
)

OPTIONS = ("attend_active", "soft_bias", "polar", "log_values", "kl_feed", "read_active")


# ----------------------------------------------------------------- features


def polar_features(size: int, pool: int, harmonics: int) -> torch.Tensor:
    """(g*g, 2*harmonics + 1): cos k theta, sin k theta (k = 1..harmonics), radius / (size/2).

    One row per pooled cell in row-major order, from the centre of the cell's pixels.
    theta follows ``digit_circle``'s convention (row offset = r cos theta, column
    offset = r sin theta), so it is the angle the generator placed a stamp at when
    seen from the canvas centre.
    """
    grid = size // pool
    centre = (size - 1) / 2
    pos = np.arange(grid) * pool + (pool - 1) / 2 - centre  # cell centre offsets in px
    dr, dc = np.meshgrid(pos, pos, indexing="ij")
    theta, radius = np.arctan2(dc, dr).ravel(), np.hypot(dr, dc).ravel()
    k = np.arange(1, harmonics + 1)[None]
    feats = np.concatenate([np.cos(k * theta[:, None]), np.sin(k * theta[:, None]),
                            radius[:, None] / (size / 2)], axis=1)
    return torch.from_numpy(feats).float()


def oracle_maps(batch: DigitCircleBatch, motifs: int = 10, value: float = 1.0
                ) -> torch.Tensor:
    """Perfect motif maps (N, motifs, S, S): ``value`` at each stamp's centre pixel, on the
    channel of its digit, zero elsewhere. The centre is where the generator aimed the
    stamp (box start + half the glyph, the inverse of its placement)."""
    n, size = batch.images.shape[0], batch.images.shape[1]
    m = torch.zeros(n, motifs, size, size)
    for i in range(n):
        for d, (r0, c0, r1, c1) in zip(batch.digits[i], batch.boxes[i], strict=True):
            if d < 0:
                break
            m[i, d, r0 + (r1 - r0) // 2, c0 + (c1 - c0) // 2] = value
    return m


# ----------------------------------------------------------------- attention with a key bias


def attend(attn: Attention, x: torch.Tensor, context: torch.Tensor, causal: bool = False,
           key_bias: torch.Tensor | None = None) -> torch.Tensor:
    """``Attention.forward`` with an additive score bias per key, (N, M), broadcast over
    heads and queries. Without a bias it is the same operations, so the same bits."""
    (b, n, d), m, h = x.shape, context.shape[1], attn.heads
    q = attn.q(x).view(b, n, h, d // h).transpose(1, 2)
    k, v = attn.kv(context).view(b, m, 2, h, d // h).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)
    if causal:
        later = torch.ones(n, m, dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(later, float("-inf"))
    if key_bias is not None:
        scores = scores + key_bias[:, None, None, :]
    return attn.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


class ReadoutBlock(Block):
    """``Block`` (same parameters, same initialisation) whose self-attention and
    cross-attention can take a key bias."""

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None,
                causal: bool = False, self_bias: torch.Tensor | None = None,
                memory_bias: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + attend(self.attn, h, h, causal, self_bias)
        if self.cross is not None:
            x = x + attend(self.cross, self.norm2(x), memory, key_bias=memory_bias)
        return x + self.mlp(self.norm3(x))


# ----------------------------------------------------------------- the decoder


class ReadoutDecoder(nn.Module):
    """``SequenceDecoder`` with the readout options (module docstring).

    Built in ``SequenceDecoder``'s order with its parameter names, so its state dict
    loads into this one (``polar`` adds ``polar_proj``; ``read_active`` widens ``embed``).
    Inputs are split in two: ``values`` is what the embedding reads (already fed through
    ``log_values`` / ``kl_feed`` by the network), ``activity`` (N, C, S, S) is >= 0 and
    positive exactly where a motif is active; it decides where attention may look.
    """

    def __init__(self, motifs: int, size: int, d: int, heads: int, enc_layers: int,
                 dec_layers: int, pool: int, max_len: int, *, attend_active: bool = False,
                 soft_bias: bool = False, soft_eps: float = 1e-6, polar: bool = False,
                 harmonics: int = 3, read_active: bool = False):
        super().__init__()
        if attend_active and soft_bias:
            raise ValueError("attend_active and soft_bias are two ways to bias attention; "
                             "choose one")
        if soft_bias and not soft_eps > 0:
            raise ValueError(f"soft_eps must be positive, not {soft_eps}")
        self.attend_active, self.soft_bias, self.soft_eps = attend_active, soft_bias, soft_eps
        self.read_active = read_active
        grid = size // pool
        self.embed = nn.Conv2d(2 * motifs if read_active else motifs, d, 1)
        self.pool = nn.MaxPool2d(pool)  # kernel = stride: windows do not overlap
        self.rows, self.cols = (nn.Parameter(0.02 * torch.randn(grid, d)) for _ in range(2))
        self.encoder = nn.ModuleList([ReadoutBlock(d, heads) for _ in range(enc_layers)])
        self.tokens = nn.Parameter(0.02 * torch.randn(VOCAB, d))
        self.positions = nn.Parameter(0.02 * torch.randn(max_len + 1, d))
        self.decoder = nn.ModuleList([ReadoutBlock(d, heads, cross=True)
                                      for _ in range(dec_layers)])
        self.norm_enc, self.norm_dec = nn.LayerNorm(d), nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)
        # created last, so that everything above draws SequenceDecoder's initialisation
        self.polar_proj = nn.Linear(2 * harmonics + 1, d) if polar else None
        if polar:  # fixed by the geometry: not saved with the weights
            self.register_buffer("polar", polar_features(size, pool, harmonics),
                                 persistent=False)

    def key_bias(self, activity: torch.Tensor) -> torch.Tensor | None:
        """Per-cell score bias (N, g*g), or None when attention looks everywhere.

        A cell's activity ``s`` is the largest ``activity`` in its pooling window over
        all channels. Hard mask: 0 where ``s > 0``, -inf elsewhere; a sample with no
        active cell gets 0 everywhere. Soft: ``log(soft_eps + s / max_cells s)`` -- the
        sample's most active cell gets ~0, a zero cell log(soft_eps), and a sample with
        no activity a constant, which softmax ignores. Normalising by the sample's
        maximum makes the bias independent of the scale of the motif values.
        """
        if not (self.attend_active or self.soft_bias):
            return None
        s = self.pool(activity.amax(1, keepdim=True)).flatten(1)  # (N, g*g)
        if self.attend_active:
            active = s > 0
            active = active | ~active.any(1, keepdim=True)  # empty: attend everywhere
            return torch.zeros_like(s).masked_fill(~active, float("-inf"))
        top = s.amax(1, keepdim=True).clamp_min(torch.finfo(s.dtype).tiny)
        return torch.log(self.soft_eps + s / top)

    def encode(self, values: torch.Tensor, activity: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(memory (N, g*g, d), key bias (N, g*g) or None)."""
        if self.read_active:
            values = torch.cat([values, (activity > 0).to(values.dtype)], 1)
        x = self.pool(self.embed(values))  # (N, d, g, g)
        x = x.permute(0, 2, 3, 1) + self.rows[:, None] + self.cols[None, :]
        x = x.flatten(1, 2)  # (N, g*g, d)
        if self.polar_proj is not None:
            x = x + self.polar_proj(self.polar)
        bias = self.key_bias(activity)
        for block in self.encoder:
            x = block(x, self_bias=bias)
        return self.norm_enc(x), bias

    def decode(self, memory: torch.Tensor, bias: torch.Tensor | None, tokens: torch.Tensor
               ) -> torch.Tensor:
        x = F.one_hot(tokens, VOCAB).to(memory.dtype) @ self.tokens
        x = x + self.positions[: tokens.shape[1]]
        for block in self.decoder:
            x = block(x, memory, causal=True, memory_bias=bias)
        return self.head(self.norm_dec(x))


# ----------------------------------------------------------------- the network


class ReadoutNet(nn.Module):
    """``SparlingNet`` with ``ReadoutDecoder``: the same positional arguments, the readout
    options as keywords, and the interface the task uses (``motifs``, ``forward``,
    ``greedy``, ``bottleneck``, ``extractor``, ``decoder.encoder``/``decoder.decoder``).
    ``read`` decodes from a given motif map (the oracle benchmark's entry point)."""

    def __init__(self, method: str = "MT", size: int = 100, width: int = 512, units: int = 4,
                 motifs: int = 10, batch_norm: bool = True, density: float = 0.5,
                 d_model: int = 512, heads: int = 8, enc_layers: int = 6,
                 dec_layers: int = 6, pool: int = 8, max_len: int = 7,
                 momentum: float = 0.1, *, attend_active: bool = False,
                 soft_bias: bool = False, soft_eps: float = 1e-6, polar: bool = False,
                 harmonics: int = 3, log_values: bool = False, kl_feed: bool = False,
                 read_active: bool = False):
        super().__init__()
        if kl_feed and method != "KL":
            raise ValueError(f"kl_feed is for the KL bottleneck, not {method!r}")
        self.max_len = max_len
        self.log_values, self.kl_feed = log_values, kl_feed
        self.extractor = MotifExtractor(width, units, motifs)
        self.bottleneck = Bottleneck(method, motifs, density, batch_norm, momentum)
        self.decoder = ReadoutDecoder(motifs, size, d_model, heads, enc_layers, dec_layers,
                                      pool, max_len, attend_active=attend_active,
                                      soft_bias=soft_bias, soft_eps=soft_eps, polar=polar,
                                      harmonics=harmonics, read_active=read_active)

    def motifs(self, images: torch.Tensor) -> torch.Tensor:
        # fp32 bottleneck under autocast, as SparlingNet (its quantile thresholds)
        return self.bottleneck(self.extractor(images).float())

    def activity(self, m: torch.Tensor) -> torch.Tensor:
        """>= 0, positive exactly where ``bottleneck.active(m)``: KL's margin above 0.5,
        otherwise |m|. Differentiable in ``m`` where active (the soft bias uses that)."""
        level = m - 0.5 if self.bottleneck.method == "KL" else m.abs()
        return torch.where(self.bottleneck.active(m), level, torch.zeros_like(m))

    def feed(self, m: torch.Tensor) -> torch.Tensor:
        """What the decoder's embedding reads: m, [ReLU(m - 0.5)], [log1p]."""
        v = F.relu(m - 0.5) if self.kl_feed else m
        return torch.log1p(v) if self.log_values else v

    def encode(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decoder.encode(self.feed(m), self.activity(m))

    def read(self, m: torch.Tensor, tokens_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits from a motif map."""
        return self.decoder.decode(*self.encode(m), tokens_in)

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor):
        m = self.motifs(images)
        return self.read(m, tokens_in), m

    @torch.no_grad()
    def greedy(self, m: torch.Tensor) -> torch.Tensor:
        """Decode ``max_len`` tokens after BOS from motif maps; (N, max_len)."""
        memory, bias = self.encode(m)
        tokens = torch.full((m.shape[0], 1), BOS, dtype=torch.long, device=m.device)
        for _ in range(self.max_len):
            logits = self.decoder.decode(memory, bias, tokens)[:, -1]
            logits[:, BOS] = float("-inf")
            tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], 1)
        return tokens[:, 1:]


__all__ = ["OPTIONS", "ReadoutBlock", "ReadoutDecoder", "ReadoutNet", "attend",
           "oracle_maps", "polar_features"]
