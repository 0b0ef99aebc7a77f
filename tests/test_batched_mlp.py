"""The stacked MLP trains each model exactly as torch's one-model path does (on CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from baselines.batched_mlp import BatchedAdam, BatchedSparseMLP
from baselines.sparse_mlp import SparseMLP

LRS = [1e-3, 1e-2, 5e-2]


def models(kind: str) -> list[SparseMLP]:
    out = []
    for seed in range(len(LRS)):
        torch.manual_seed(seed)
        out.append(SparseMLP(kind, 40, 32, 3, tau_bias=-2.0))
    return out


def train(kind: str, steps: int, exact: bool):
    singles = models(kind)
    opts = [torch.optim.Adam(m.parameters(), lr=lr, foreach=False, fused=False)
            for m, lr in zip(singles, LRS, strict=True)]
    net = BatchedSparseMLP(models(kind), exact=exact)
    opt = BatchedAdam(net.parameters(), LRS, exact=exact)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(len(LRS), 50, 40, generator=g)
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


@pytest.mark.parametrize("kind", ["baseline", "fsb", "dsb"])
def test_exact_batched_training_is_bitwise_equal(kind: str):
    singles, net = train(kind, 40, exact=True)
    for m, model in enumerate(singles):
        for name, p in model.named_parameters():
            assert torch.equal(p.detach(), net.params[name][m].detach()), (kind, m, name)


@pytest.mark.parametrize("kind", ["baseline", "fsb", "dsb"])
def test_fast_batched_training_is_the_same_math(kind: str):
    singles, net = train(kind, 40, exact=False)
    worst = max((p.detach() - net.params[name][m].detach()).abs().max().item()
                for m, model in enumerate(singles) for name, p in model.named_parameters())
    assert 0 <= worst < 1e-4


def test_mixed_kinds_are_refused():
    with pytest.raises(ValueError, match="one kind per batch"):
        BatchedSparseMLP(models("fsb")[:1] + models("dsb")[:1])
