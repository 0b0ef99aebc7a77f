"""A seeded synthetic language with three sequence types and a known entropy floor.

The write-up (``002_7d7092b9beb3aecc.txt``) names three sequence types, *uniform*,
*sparse* and *dense*, but not what they were; its losses sit at ln(1000), chance for a
1,000-token vocabulary. This module builds a language with those names that a small
transformer can learn, and whose Bayes-optimal loss is known exactly.

Vocabulary: 1,000 tokens. Tokens 0, 1, 2 are type markers (uniform, sparse, dense);
tokens 3..999 are content. The *language* is one table, ``successors`` (1,000 x 4):
every token has four distinct content successors, drawn once from ``language_seed``.
A sequence is its marker followed by ``length`` content tokens:

* **uniform**: a Markov chain. x[t] is uniform over the four successors of x[t-1].
  Every position carries exactly ln 4 nats; only the previous token matters.
* **sparse**: copy. The first ``m = length // 2`` content tokens are a uniform chain
  as above; the rest repeat them (x[t] = x[t - m]). The copied positions are
  determined by one far-away position each (a sparse dependency) and carry 0 nats,
  so the floor is ``(m / length) ln 4`` (ln 2 for even lengths).
* **dense**: a mixture over the recent past. For each t a lag j is uniform on
  ``1..min(window, t)`` and x[t] is uniform over the successors of x[t - j]; every
  token depends on the last ``window`` tokens. Its conditional distribution is the
  mixture; its entropy depends on overlaps between successor sets and is estimated
  by averaging the exact per-prefix entropy over many sequences
  (:func:`entropy_floor`), about ln 16 = 2.77 nats for ``window = 4``.

Models are trained on the next-token task: input ``x[:, :length]`` (marker and the
first ``length - 1`` content tokens), targets ``x[:, 1:]``. Chance (a uniform guess)
is ln 1000 = 6.908 nats and 0.1 % accuracy.

Everything is generated on the CPU from a ``torch.Generator``, so the data do not
depend on the device a model trains on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

VOCAB_SIZE = 1000
TYPES = ("uniform", "sparse", "dense")
N_MARKERS = len(TYPES)  # tokens 0, 1, 2 mark the sequence type
BRANCHING = 4  # successors per token
WINDOW = 4  # dense: how far back the mixture reaches
LANGUAGE_SEED = 20_251
CHANCE_LOSS = math.log(VOCAB_SIZE)  # 6.908
CHANCE_ACC = 100.0 / VOCAB_SIZE  # 0.1 %


@functools.lru_cache(maxsize=4)
def successor_table(language_seed: int = LANGUAGE_SEED) -> torch.Tensor:
    """(VOCAB_SIZE, BRANCHING) int64: four distinct content successors of every token."""
    g = torch.Generator().manual_seed(language_seed)
    n_content = VOCAB_SIZE - N_MARKERS
    # Distinct successors: the first BRANCHING entries of a random permutation per row.
    scores = torch.rand(VOCAB_SIZE, n_content, generator=g)
    return scores.argsort(dim=1)[:, :BRANCHING] + N_MARKERS


@dataclass(frozen=True)
class Batch:
    tokens: torch.Tensor  # (n, length + 1) int64: marker then ``length`` content tokens
    types: torch.Tensor  # (n,) int64 in {0, 1, 2}

    @property
    def inputs(self) -> torch.Tensor:
        return self.tokens[:, :-1]

    @property
    def targets(self) -> torch.Tensor:
        return self.tokens[:, 1:]


def sample(n: int, length: int, generator: torch.Generator, types: torch.Tensor | None = None,
           language_seed: int = LANGUAGE_SEED) -> Batch:
    """``n`` sequences of ``length`` content tokens; types uniform unless given."""
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    succ = successor_table(language_seed)
    if types is None:
        types = torch.randint(0, N_MARKERS, (n,), generator=generator)
    types = types.to(torch.int64)
    x = torch.empty(n, length + 1, dtype=torch.int64)
    x[:, 0] = types  # the marker token of each type is its index
    choice = torch.randint(0, BRANCHING, (n, length + 1), generator=generator)
    rows = torch.arange(n)
    half = length // 2
    is_sparse, is_dense = types == 1, types == 2
    for t in range(1, length + 1):
        lag = torch.randint(1, min(WINDOW, t) + 1, (n,), generator=generator)
        source = torch.where(is_dense, x[rows, t - lag], x[:, t - 1])
        nxt = succ[source, choice[:, t]]
        if t > half:  # sparse: the second half copies the first
            nxt = torch.where(is_sparse, x[:, t - half], nxt)
        x[:, t] = nxt
    return Batch(x, types)


def true_distribution_stats(batch: Batch, language_seed: int = LANGUAGE_SEED
                            ) -> dict[str, torch.Tensor]:
    """Per target position of ``batch``, from the generating process itself:

    ``nll``: -log p(target | prefix, type), the Bayes-optimal model's loss;
    ``entropy``: the entropy of p(. | prefix, type);
    ``top``: max_v p(v | prefix, type), the Bayes-optimal expected accuracy.
    Each is (n, length) float64; column c is the target x[:, c + 1].
    """
    x, types = batch.tokens, batch.types
    n, length = x.shape[0], x.shape[1] - 1
    ln_b = math.log(BRANCHING)
    # Chain positions (uniform; the first half of sparse): uniform over four successors.
    nll = torch.full((n, length), ln_b, dtype=torch.float64)
    ent = nll.clone()
    top = torch.full((n, length), 1.0 / BRANCHING, dtype=torch.float64)
    copied = (types == 1)[:, None] & (torch.arange(1, length + 1) > length // 2)[None, :]
    nll[copied], ent[copied], top[copied] = 0.0, 0.0, 1.0  # sparse copies are determined
    dense = (types == 2).nonzero().flatten()
    for chunk in dense.split(256):
        d_nll, d_ent, d_top = _dense_stats(x[chunk], language_seed)
        nll[chunk], ent[chunk], top[chunk] = d_nll, d_ent, d_top
    return {"nll": nll, "entropy": ent, "top": top}


def _dense_stats(x: torch.Tensor, language_seed: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """nll, entropy, top of dense sequences ``x`` (m, length + 1), each (m, length)."""
    succ = successor_table(language_seed)
    m, length = x.shape[0], x.shape[1] - 1
    nll = torch.empty(m, length, dtype=torch.float64)
    ent, top = torch.empty_like(nll), torch.empty_like(nll)

    def fill(cols: slice, window: torch.Tensor, target: torch.Tensor, j: int) -> None:
        # window (m, c, j): the j tokens before each target; p(v) = (number of their
        # successor sets that contain v) / (4 j), since each set holds 4 distinct tokens.
        sets = succ[window].flatten(2)  # (m, c, 4 j)
        mult = (sets[..., :, None] == sets[..., None, :]).sum(-1).to(torch.float64)
        p = mult / (j * BRANCHING)
        # A token appearing mult times in ``sets`` is counted once by dividing by mult.
        ent[:, cols] = (-(p * p.log()) / mult).sum(-1)
        top[:, cols] = p.max(-1).values
        hits = (sets == target[..., None]).sum(-1).to(torch.float64)
        nll[:, cols] = -(hits / (j * BRANCHING)).log()

    for t in range(1, min(WINDOW, length + 1)):  # early targets see fewer than WINDOW tokens
        fill(slice(t - 1, t), x[:, None, :t], x[:, t:t + 1], t)
    if length >= WINDOW:  # targets t = WINDOW..length: the WINDOW tokens before each
        windows = x[:, :length].unfold(1, WINDOW, 1)  # (m, length - WINDOW + 1, WINDOW)
        fill(slice(WINDOW - 1, length), windows, x[:, WINDOW:], WINDOW)
    return nll, ent, top


@functools.lru_cache(maxsize=16)
def entropy_floor(length: int, n: int = 3000, seed: int = 12_345,
                  language_seed: int = LANGUAGE_SEED) -> dict[str, float]:
    """The language's entropy rate in nats per target token, per type and mixed.

    Uniform and sparse are exact (ln 4 and (length // 2) / length * ln 4). Dense is the
    average, over ``n`` sampled sequences, of the exact entropy of each position's
    conditional distribution (standard error below 1e-3 nats at the default ``n``).
    ``mixed`` is the mean over the three types (the data hold them in equal shares).
    """
    out = {
        "uniform": math.log(BRANCHING),
        "sparse": (length // 2) / length * math.log(BRANCHING),
    }
    g = torch.Generator().manual_seed(seed)
    dense = sample(n, length, g, types=torch.full((n,), 2), language_seed=language_seed)
    out["dense"] = float(true_distribution_stats(dense, language_seed)["entropy"].mean())
    out["mixed"] = sum(out[t] for t in TYPES) / len(TYPES)
    return out


def validation_set(length: int, n_per_type: int, seed: int,
                   language_seed: int = LANGUAGE_SEED) -> Batch:
    """A fixed validation set: ``n_per_type`` sequences of each type, in type order."""
    types = torch.arange(N_MARKERS).repeat_interleave(n_per_type)
    return sample(len(types), length, torch.Generator().manual_seed(seed), types=types,
                  language_seed=language_seed)
