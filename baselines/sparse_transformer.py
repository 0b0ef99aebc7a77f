"""A small decoder-only transformer with dense, fixed top-k or adaptive top-k attention.

nanoGPT-style, plain PyTorch, written to be read. The pieces the write-up
(``002_7d7092b9beb3aecc.txt``) names:

* **Latent attention** (after DeepSeek's multi-head latent attention): keys and
  values are up-projections of one low-rank latent ``c = norm(W_dkv x)`` of width
  ``d_latent``. Positions come from learned absolute embeddings (DeepSeek's decoupled
  rotary keys are left out).
* **Lightning indexer** (after DeepSeek's sparse attention): a few light heads score
  every (query, key) pair, ``I[t, s] = sum_j w[t, j] * relu(q[t, j] . k[s]) / sqrt(d_I)``.
  Each query keeps its top-k keys by that score among the keys it may see (causal);
  the rest are masked out of the main attention, for every head alike. The
  selection is not differentiable, so the indexer learns from its own loss: the KL
  divergence from the main attention's (head-averaged, causal, dense) distribution
  to the indexer's softmax, on a detached input, as in DeepSeek-V3.2.
* **Fixed sparsity**: ``k = round((1 - sparsity) * L)`` keys per query for a sequence
  of length L (all available keys where fewer exist: query t sees t + 1 keys).
* **Adaptive k controller**: three analyzers, of the *length* (log L), the
  *complexity* (running mean of the token embeddings and the share of distinct
  tokens so far) and the *entropy* (entropy of the token histogram so far) of the
  sequence, add up to a logit; the kept share is
  ``keep_min + (keep_max - keep_min) * sigmoid(logit)`` and ``k = round(share * L)``.
  The analyzers read only the prefix of each query (running statistics), so k is set
  per query position and never looks at the future; the write-up's "k per sequence"
  is reported as the mean budget over a sequence's positions. Their last layers start
  at zero, so an untrained controller keeps half the keys: the adaptive model starts
  as Fixed 50 %. k is an integer, so the controller learns through a straight-through
  rank gate: the attention weights of kept keys are multiplied by 1 in the forward
  pass and by ``sigmoid((k_cont - rank - 0.5) / temperature)`` in the backward pass,
  then renormalised (so the gradient weighs the keys near the budget's edge against
  the rest rather than the size of the attention output).
* **Mixture-of-experts feed-forward**: ``n_experts`` GELU MLPs, a linear router,
  top-1 or top-2 routing (top-2 weights renormalised), and the Switch-Transformer
  load-balancing loss ``E * sum_e f_e * P_e`` (f: share of routed slots, P: mean
  router probability; 1.0 when perfectly balanced).

Attention is computed densely and masked (no sparse kernels), so sparsity here
changes what a query sees, not the arithmetic cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AttentionKind = Literal["dense", "fixed", "adaptive"]

#: The write-up's model variants: attention kind and the share of keys dropped.
VARIANTS: dict[str, tuple[AttentionKind, float]] = {
    "dense": ("dense", 0.0),
    "fixed25": ("fixed", 0.25),
    "fixed50": ("fixed", 0.50),
    "fixed75": ("fixed", 0.75),
    "adaptive": ("adaptive", 0.0),
}


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int = 1000
    max_len: int = 256
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 8
    d_latent: int = 64  # width of the key/value latent
    n_experts: int = 4
    expert_hidden: int = 1024
    moe_top_k: int = 2  # 1 (Switch) or 2 (GShard / Mixtral)
    attention: AttentionKind = "dense"
    sparsity: float = 0.0  # fixed: share of keys dropped
    indexer_heads: int = 4
    indexer_dim: int = 64
    controller_hidden: int = 64
    keep_min: float = 0.05  # adaptive: range of the kept share k / L
    keep_max: float = 0.95
    gate_temperature: float = 1.0  # adaptive: width of the straight-through rank gate

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.attention not in ("dense", "fixed", "adaptive"):
            raise ValueError(f"unknown attention {self.attention!r}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if self.moe_top_k not in (1, 2) or self.moe_top_k > self.n_experts:
            raise ValueError(f"moe_top_k must be 1 or 2 (and <= n_experts), got {self.moe_top_k}")
        if not 0.0 < self.keep_min <= self.keep_max <= 1.0:
            raise ValueError("need 0 < keep_min <= keep_max <= 1")

    @property
    def sparse(self) -> bool:
        return self.attention != "dense"


def config_for(variant: str, d_model: int = 256, n_layers: int = 4, n_heads: int = 8,
               n_experts: int = 4, **overrides) -> TransformerConfig:
    """The config of a named variant. The widths not given scale with d_model: latent
    and indexer d_model / 4 (64 at the write-up's 256), expert hidden 4 d_model,
    controller hidden d_model / 4; 4 indexer heads (the write-up's "4 heads, 64-dim")."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model {variant!r}; expected one of {sorted(VARIANTS)}")
    attention, sparsity = VARIANTS[variant]
    base = TransformerConfig(
        d_model=d_model, n_layers=n_layers, n_heads=n_heads, n_experts=n_experts,
        d_latent=max(d_model // 4, 1), expert_hidden=4 * d_model,
        indexer_dim=max(d_model // 4, 1), controller_hidden=max(d_model // 4, 1),
        attention=attention, sparsity=sparsity)
    return replace(base, **overrides)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ------------------------------------------------------------------ top-k selection


def causal_mask(length: int, device: torch.device) -> torch.Tensor:
    """(L, L) bool, True where key s <= query t."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def key_ranks(scores: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
    """Rank (0 = best) of every key for its query by ``scores`` (..., L, L); future keys
    rank after every visible key; ties go to the earlier key."""
    scores = scores.masked_fill(~causal, float("-inf"))
    order = scores.argsort(dim=-1, descending=True, stable=True)
    # rank[order[i]] = i: a scatter of unique indices per row (deterministic)
    positions = torch.arange(scores.shape[-1], device=scores.device).expand_as(order)
    return torch.empty_like(order).scatter_(-1, order, positions)


def topk_keep(ranks: torch.Tensor, k: torch.Tensor | int, causal: torch.Tensor) -> torch.Tensor:
    """(B, L, L) bool: each query keeps its ``k`` best visible keys (all of them when it
    sees fewer). ``k`` is an int or a (B, L) tensor of per-query budgets."""
    if isinstance(k, torch.Tensor):
        k = k[..., None]
    return (ranks < k) & causal


# ------------------------------------------------------------------ modules


class LightningIndexer(nn.Module):
    """Scores keys for each query with a few light ReLU heads."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.heads, self.dim = cfg.indexer_heads, cfg.indexer_dim
        self.q = nn.Linear(cfg.d_model, self.heads * self.dim, bias=False)
        self.k = nn.Linear(cfg.d_model, self.dim, bias=False)
        self.w = nn.Linear(cfg.d_model, self.heads, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, L, L) scores I[b, t, s]."""
        b, length, _ = x.shape
        q = self.q(x).view(b, length, self.heads, self.dim)  # (B, L, H, D)
        k = self.k(x)  # (B, L, D)
        dots = torch.einsum("bthd,bsd->bhts", q, k) / math.sqrt(self.dim)
        return torch.einsum("bht,bhts->bts", self.w(x).transpose(1, 2), F.relu(dots))


class LatentAttention(nn.Module):
    """Causal multi-head attention with keys and values from a low-rank latent."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.q = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.kv_down = nn.Linear(cfg.d_model, cfg.d_latent, bias=False)
        self.kv_norm = nn.LayerNorm(cfg.d_latent)
        self.k_up = nn.Linear(cfg.d_latent, cfg.d_model, bias=False)
        self.v_up = nn.Linear(cfg.d_latent, cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, causal: torch.Tensor,
                gate: torch.Tensor | None = None, want_dense_probs: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``allowed`` (L, L) or (B, L, L) bool: which keys each query attends to;
        ``causal`` (L, L) bool; ``gate`` (B, L, L): multiplies the attention weights (the
        straight-through rank gate). Returns the output and, if asked, the head-averaged
        causal dense attention distribution (B, L, L), detached, as the indexer's target."""
        b, length, d = x.shape
        c = self.kv_norm(self.kv_down(x))  # (B, L, d_latent): all that keys and values see
        q = self.q(x).view(b, length, self.n_heads, self.d_head).transpose(1, 2)
        k = self.k_up(c).view(b, length, self.n_heads, self.d_head).transpose(1, 2)
        v = self.v_up(c).view(b, length, self.n_heads, self.d_head).transpose(1, 2)
        logits = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, L, L)
        dense_probs = None
        if want_dense_probs:
            dense_probs = logits.detach().float().masked_fill(~causal, float("-inf")).softmax(-1)
            dense_probs = dense_probs.mean(1)
        mask = allowed if allowed.dim() == 2 else allowed[:, None]
        probs = logits.masked_fill(~mask, float("-inf")).softmax(-1)
        if gate is not None:  # renormalised, so the gate weighs keys against each other
            probs = probs * gate[:, None]
            probs = probs / probs.sum(-1, keepdim=True)
        y = (probs @ v).transpose(1, 2).reshape(b, length, d)
        return self.out(y), dense_probs


class Expert(nn.Module):
    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.up = nn.Linear(d_model, hidden)
        self.down = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class MoE(nn.Module):
    """Top-1 / top-2 routed experts with the Switch load-balancing loss."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.top_k = cfg.moe_top_k
        self.router = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = nn.ModuleList(Expert(cfg.d_model, cfg.expert_hidden)
                                     for _ in range(cfg.n_experts))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the output, the load-balancing loss and each expert's share of the
        routed slots (E,)."""
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (N, d)
        probs = self.router(x).softmax(-1)  # (N, E)
        weight, chosen = probs.topk(self.top_k, dim=-1)  # (N, top_k)
        if self.top_k > 1:
            weight = weight / weight.sum(-1, keepdim=True)
        n_experts = len(self.experts)
        # Share of routed slots per expert, counted with a one-hot sum (deterministic).
        slots = F.one_hot(chosen, n_experts).to(x.dtype).sum(1)  # (N, E)
        load = slots.mean(0) / self.top_k
        balance = n_experts * (load * probs.mean(0)).sum()
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token = (chosen == e).any(-1).nonzero().flatten()
            if token.numel() == 0:
                continue
            w = (weight * (chosen == e)).sum(-1)  # (N,) this expert's weight per token
            y = expert(x.index_select(0, token)) * w.index_select(0, token)[:, None]
            out = out.index_add(0, token, y.to(out.dtype))  # each token once per expert
        return out.reshape(shape), balance, load.detach()


class AdaptiveKController(nn.Module):
    """Sets a key budget per query from the sequence so far: length, complexity and
    entropy analyzers, summed into the logit of the kept share."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        h = cfg.controller_hidden
        self.max_len = cfg.max_len
        self.keep_min, self.keep_max = cfg.keep_min, cfg.keep_max
        self.length_analyzer = nn.Sequential(nn.Linear(1, h), nn.GELU(), nn.Linear(h, 1))
        self.complexity_analyzer = nn.Sequential(nn.Linear(cfg.d_model + 1, h), nn.GELU(),
                                                 nn.Linear(h, 1))
        self.entropy_analyzer = nn.Sequential(nn.Linear(1, h), nn.GELU(), nn.Linear(h, 1))
        self.bias = nn.Parameter(torch.zeros(()))
        for analyzer in (self.length_analyzer, self.complexity_analyzer, self.entropy_analyzer):
            nn.init.zeros_(analyzer[-1].weight)  # start at the middle of the range
            nn.init.zeros_(analyzer[-1].bias)

    @staticmethod
    @torch.no_grad()
    def prefix_statistics(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per query t, over tokens 0..t: share of distinct tokens and the token
        histogram's entropy divided by log(t + 1) (0 at t = 0). Both (B, L) in [0, 1]."""
        b, length = idx.shape
        dev = idx.device
        before = torch.ones(length, length, dtype=torch.bool, device=dev).tril(-1)
        # how often token x_t occurred before t
        seen = ((idx[:, :, None] == idx[:, None, :]) & before).sum(-1).float()
        new = (seen == 0).float()
        # sum_v c_v log c_v grows by (c+1) log(c+1) - c log c when a token seen c times recurs
        grow = torch.xlogy(seen + 1, seen + 1) - torch.xlogy(seen, seen)
        upto = torch.ones(length, length, device=dev).tril()  # running sums as a matmul
        n = torch.arange(1, length + 1, device=dev, dtype=torch.float32)
        distinct = (new @ upto.T) / n
        entropy = n.log() - (grow @ upto.T) / n
        entropy = entropy / n.log().clamp(min=math.log(2.0))
        return distinct, entropy

    def forward(self, h: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """(B, L, d) embeddings and (B, L) ids -> (B, L) continuous key budget k = share * L."""
        b, length, _ = h.shape
        dev = h.device
        upto = torch.ones(length, length, device=dev).tril()
        running_mean = (upto / upto.sum(-1, keepdim=True)) @ h  # (B, L, d), causal
        distinct, entropy = self.prefix_statistics(idx)
        length_feature = torch.full((b, length, 1), math.log(length) / math.log(self.max_len),
                                    device=dev)
        logit = (self.length_analyzer(length_feature)
                 + self.complexity_analyzer(torch.cat([running_mean, distinct[..., None]], -1))
                 + self.entropy_analyzer(entropy[..., None])).squeeze(-1) + self.bias
        share = self.keep_min + (self.keep_max - self.keep_min) * torch.sigmoid(logit)
        return share * length


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = LatentAttention(cfg)
        self.indexer = LightningIndexer(cfg) if cfg.sparse else None
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.moe = MoE(cfg)


@dataclass
class Output:
    logits: torch.Tensor  # (B, L, V)
    balance: torch.Tensor  # mean over layers of the load-balancing loss (1 = balanced)
    indexer_kl: torch.Tensor  # mean over layers of KL(attention || indexer); 0 when dense
    expert_load: torch.Tensor  # (E,) share of routed slots per expert, mean over layers
    k: torch.Tensor  # (B, L) key budget per query before capping at the t + 1 visible keys


class SparseTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied, as in nanoGPT
        self.apply(self._init)
        # Built after everything else is initialised, so every other parameter equals that
        # of a fixed model built from the same seed; the controller keeps its own init.
        self.controller = AdaptiveKController(cfg) if cfg.attention == "adaptive" else None

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def key_budget(self, x: torch.Tensor, idx: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Integer budget per query (B, L) and, for the adaptive model, its continuous
        value (for the straight-through gate)."""
        b, length = idx.shape
        cfg = self.cfg
        if cfg.attention == "dense":
            return torch.full((b, length), length, device=idx.device), None
        if cfg.attention == "fixed":
            k = max(1, round((1.0 - cfg.sparsity) * length))
            return torch.full((b, length), k, device=idx.device), None
        k_cont = self.controller(x.detach(), idx)
        return k_cont.detach().round().clamp(1, length).long(), k_cont

    def forward(self, idx: torch.Tensor) -> Output:
        b, length = idx.shape
        cfg = self.cfg
        if length > cfg.max_len:
            raise ValueError(f"sequence length {length} > max_len {cfg.max_len}")
        pos = torch.arange(length, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        causal = causal_mask(length, idx.device)
        k, k_cont = self.key_budget(x, idx)
        balances, kls, loads = [], [], []
        for block in self.blocks:
            h = block.ln1(x)
            gate = None
            if cfg.sparse:
                scores = block.indexer(h.detach())
                ranks = key_ranks(scores.detach(), causal)
                allowed = topk_keep(ranks, k, causal)
                if k_cont is not None:  # straight-through rank gate: 1 forward, soft backward
                    soft = torch.sigmoid((k_cont[..., None] - ranks - 0.5) / cfg.gate_temperature)
                    hard = allowed.to(soft.dtype)
                    gate = hard + soft * hard - (soft * hard).detach()
                y, target = block.attn(h, allowed, causal, gate, want_dense_probs=True)
                # in fp32 under bf16 autocast too (no-ops in fp32): a KL must not go negative
                log_q = scores.float().masked_fill(~causal, -1e9).log_softmax(-1)
                target = target.float()
                kl = (torch.xlogy(target, target) - target * log_q).sum(-1)  # (B, L)
                kls.append(kl.mean())
            else:
                y, _ = block.attn(h, causal, causal)
            x = x + y
            m, balance, load = block.moe(block.ln2(x))
            x = x + m
            balances.append(balance)
            loads.append(load)
        logits = self.head(self.ln_f(x))
        zero = torch.zeros((), device=idx.device)
        return Output(logits=logits, balance=torch.stack(balances).mean(),
                      indexer_kl=torch.stack(kls).mean() if kls else zero,
                      expert_load=torch.stack(loads).mean(0), k=k)
