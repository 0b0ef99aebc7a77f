"""The stacked MLP trains each model exactly as torch's one-model path does (on CPU)."""

from __future__ import annotations

from functools import cache

import pytest
import torch
import torch.nn.functional as F

from baselines.batched_mlp import BatchedAdam, BatchedSparseMLP
from baselines.sparse_mlp import SparseMLP

LRS = [1e-3, 1e-2, 5e-2]
STEPS = 40
Params = dict[tuple[int, str], torch.Tensor]  # (model, parameter name) -> its float64 value

# How far the fast path may move from the one-model path in float64, from the arithmetic
# (see test_fast_batched_training_is_the_same_math): 1.1e-6 at worst, 1e-5 with room.
FLOAT64_BOUND = 1e-5
# How many times farther than the one-model float32 path the batched float32 path may be
# from float64 (see test_fast_float32_is_as_close_to_float64_as_the_one_model_path).
FLOAT32_FACTOR = 10.0


def models(kind: str, dtype: torch.dtype = torch.float32) -> list[SparseMLP]:
    out = []
    for seed in range(len(LRS)):
        torch.manual_seed(seed)
        out.append(SparseMLP(kind, 40, 32, 3, tau_bias=-2.0).to(dtype))
    return out


def train(kind: str, steps: int, exact: bool, dtype: torch.dtype = torch.float32):
    singles = models(kind, dtype)
    opts = [torch.optim.Adam(m.parameters(), lr=lr, foreach=False, fused=False)
            for m, lr in zip(singles, LRS, strict=True)]
    net = BatchedSparseMLP(models(kind, dtype), exact=exact)
    opt = BatchedAdam(net.parameters(), LRS, exact=exact)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(len(LRS), 50, 40, generator=g).to(dtype)
        y = torch.randint(0, 10, (len(LRS), 50), generator=g)
        for m, (model, o) in enumerate(zip(singles, opts, strict=True)):
            o.zero_grad()
            F.cross_entropy(model(x[m]), y[m]).backward()
            o.step()
        opt.zero_grad()
        logits, _ = net(x)
        torch.stack([F.cross_entropy(logits[m], y[m]) for m in range(len(LRS))]).sum().backward()
        opt.step()
    return singles, net


@cache
def fast_run(kind: str, dtype: torch.dtype) -> tuple[Params, Params]:
    """The one-model and the fast batched parameters after STEPS steps (computed once)."""
    singles, net = train(kind, STEPS, exact=False, dtype=dtype)
    one = {(m, n): p.detach().double() for m, model in enumerate(singles)
           for n, p in model.named_parameters()}
    batched = {(m, n): net.params[n][m].detach().double() for m, n in one}
    return one, batched


def distance(a: Params, b: Params) -> float:
    """The largest difference of any parameter element."""
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("kind", ["baseline", "fsb", "dsb"])
def test_exact_batched_training_is_bitwise_equal(kind: str):
    singles, net = train(kind, STEPS, exact=True)
    for m, model in enumerate(singles):
        for name, p in model.named_parameters():
            assert torch.equal(p.detach(), net.params[name][m].detach()), (kind, m, name)


@pytest.mark.parametrize("kind", ["baseline", "fsb", "dsb"])
def test_fast_batched_training_is_the_same_math(kind: str):
    """The fast path computes the one-model path's formulas, summing in another order. In
    float64 (unit round-off u = 1.1e-16) a reordered sum of n <= 50 terms (a batch, or 40
    inputs) differs by at most n u sum|terms|: <= 5.5e-15 for these O(1) gradients
    (cross-entropy's are <= 1 per sample, the inputs standard normal). Adam's step
    lr m/(sqrt(v) + eps) then moves by at most lr |dg| / eps <= 5e-2 x 5.5e-15 / 1e-8 =
    2.8e-8 (its worst case: a gradient near eps), so 40 steps drift <= 1.1e-6, and
    FLOAT64_BOUND = 1e-5 leaves 10x for the network passing the drift on. A different
    formula (learning rate, bias correction, threshold, activation) moves a parameter by
    O(lr) >= 1e-3 at its first step: 100x over. In float32 (u = 6e-8) the same sums allow
    differences up to O(lr): a unit that round-off moves across its soft threshold changes
    its gradient from zero, and Adam, which scales its step by the gradient's own size,
    steps it by up to lr (seen: dsb 0.64 on ATEN_CPU_CAPABILITY=default), which is why a
    float32 bound fitted to one CPU failed on another."""
    one, batched = fast_run(kind, torch.float64)
    assert distance(one, batched) < FLOAT64_BOUND


def test_fast_float32_is_as_close_to_float64_as_the_one_model_path():
    """The fast path in float32 loses no more precision than the one-model path: both make
    round-off of the same size (the same sums, of the same lengths, in another order), so
    their distances from the float64 run are of one order; FLOAT32_FACTOR = 10 allows the
    largest of thousands of such errors to land differently (seen: 0.9-1.4x), while a lost
    digit (a sum in lower precision) shows as 10x or more. Only the baseline kind: its
    GELU network is smooth; a soft threshold turns round-off into O(lr) steps (above)."""
    reference, _ = fast_run("baseline", torch.float64)
    one, batched = fast_run("baseline", torch.float32)
    assert distance(batched, reference) <= FLOAT32_FACTOR * distance(one, reference)


def test_mixed_kinds_are_refused():
    with pytest.raises(ValueError, match="one kind per batch"):
        BatchedSparseMLP(models("fsb")[:1] + models("dsb")[:1])
