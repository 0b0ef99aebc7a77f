"""baselines/training.py: the shared epoch loop gives the bits the suites' own loops give,
keeps the last smaller batch, stops on a non-finite loss naming the epoch, and its
small helpers say what is wrong."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from baselines.training import StepTimer, accuracy, check_seed, choose, in_chunks, train_epochs
from harness.task_api import Diverged, RunContext


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(70, 5, generator=g)
    return x, (x[:, 0] > 0).long()


def hand_loop(seed: int, epochs: int, bs: int) -> tuple[list[float], torch.Tensor]:
    """The loop the dsb_mnist1d task writes out by hand."""
    torch.manual_seed(0)
    x, y = data()
    model, ctx = nn.Linear(5, 2), RunContext(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, foreach=False)
    curve = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=ctx.generator)
        total = torch.zeros(())
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        curve.append(total.item() / len(x))
    return curve, model.weight.detach().clone()


def helper_loop(seed: int, epochs: int, bs: int, seen: list | None = None):
    torch.manual_seed(0)
    x, y = data()
    model, ctx = nn.Linear(5, 2), RunContext(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, foreach=False)

    def step(idx):
        if seen is not None:
            seen.append(len(idx))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return train_epochs(step, len(x), bs, epochs, ctx, "toy"), model.weight.detach().clone()


def test_the_same_bits_as_the_hand_written_loop():
    curve, weight = hand_loop(3, 4, 16)
    again, weight2 = helper_loop(3, 4, 16)
    assert again == curve and torch.equal(weight, weight2)
    other, _ = helper_loop(4, 4, 16)
    assert other != curve  # the seed orders the data


def test_the_last_smaller_batch_is_kept():
    seen: list[int] = []
    helper_loop(0, 1, 16, seen)
    assert seen == [16, 16, 16, 16, 6]


def test_a_non_finite_loss_stops_naming_the_epoch():
    ctx = RunContext(0)
    calls = iter([torch.tensor(1.0)] * 2 + [torch.tensor(float("nan"))] * 10)
    with pytest.raises(Diverged, match="sae epoch 1"):
        train_epochs(lambda idx: next(calls), 4, 2, 5, ctx, "sae")


def test_progress_and_after_epoch():
    marks, ends = [], []
    ctx = RunContext(0, progress=marks.append)
    train_epochs(lambda idx: torch.tensor(0.5), 4, 4, 2, ctx, progress=(0.5, 1.0),
                 after_epoch=ends.append)
    assert marks == [0.75, 1.0] and ends == [0, 1]


def test_small_helpers():
    with pytest.raises(ValueError, match="params seed 2 != ctx.seed 1"):
        check_seed({"seed": 2}, RunContext(1))
    check_seed({}, RunContext(1))
    with pytest.raises(ValueError, match=r"unknown model 'mlp'; expected one of \['fsb', 'dsb'\]"):
        choose("model", "mlp", ("fsb", "dsb"))
    assert accuracy(torch.tensor([[0.0, 1.0], [2.0, 0.0]]), torch.tensor([1, 1])) == 50.0
    x = torch.randn(10, 3)
    assert torch.equal(in_chunks(lambda t: t * 2, x, 3), x * 2)
    timer = StepTimer(torch.device("cpu"), skip=1)
    for _ in range(3):
        with timer.step():
            pass
    assert len(timer.times) == 2 and timer.median_ms >= 0
