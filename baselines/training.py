"""What every suite's task repeats, written once: the seeded epoch loop, the checks of
its inputs, accuracy, chunked evaluation and step timing.

A new task should use these; the shipped suites move onto them when their references
are regenerated for another reason (a task's code is part of its cells' ids, so moving
one would otherwise change every committed number's identity for nothing). The loop is
the one the suites already run, so a suite that moves keeps its bits:

* each epoch draws a permutation of the ``n`` rows from ``ctx.generator`` (never the
  global RNG, so model initialisation cannot shift the data order);
* the last, smaller batch is kept;
* the batch losses are summed on the device, weighted by batch size, and read back once
  per epoch: one host sync, and a NaN or inf anywhere in the epoch makes the sum
  non-finite, which raises ``Diverged`` naming the epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

import torch

from harness.task_api import RunContext, check_finite


def check_seed(params: dict, ctx: RunContext) -> None:
    """A ``seed`` parameter, when a cell has one, is the harness's seed."""
    if "seed" in params and int(params["seed"]) != ctx.seed:
        raise ValueError(f"params seed {params['seed']} != ctx.seed {ctx.seed}")


def choose(name: str, value: object, allowed: Collection) -> object:
    """``value`` when it is one of ``allowed``; else an error listing them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(allowed)}")
    return value


def train_epochs(step: Callable[[torch.Tensor], torch.Tensor], n: int, batch_size: int,
                 epochs: int, ctx: RunContext, where: str = "",
                 progress: tuple[float, float] = (0.0, 1.0),
                 after_epoch: Callable[[int], None] | None = None) -> list[float]:
    """Train ``epochs`` passes over ``n`` rows in seeded order; the mean loss per epoch.

    ``step(idx)`` trains on the rows ``idx`` (forward, backward, optimiser step) and
    returns the batch's mean loss. ``after_epoch(e)`` runs after each epoch's check
    (e.g. reviving dead units). Progress moves from ``progress[0]`` to ``progress[1]``.
    """
    if batch_size < 1 or n < 1:
        raise ValueError(f"train_epochs needs n >= 1 and batch_size >= 1 (got {n}, "
                         f"{batch_size})")
    curve = []
    low, high = progress
    for e in range(epochs):
        perm = torch.randperm(n, generator=ctx.generator).to(ctx.device)
        total = torch.zeros((), device=ctx.device)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            total += step(idx).detach() * len(idx)
        value = total.item() / n
        check_finite(value, f"{where} epoch {e}".strip())
        curve.append(value)
        if after_epoch is not None:
            after_epoch(e)
        ctx.progress(low + (high - low) * (e + 1) / epochs)
    return curve


def accuracy(logits: torch.Tensor, y: torch.Tensor, percent: bool = True) -> float:
    """Share of rows whose argmax is the label (in % unless ``percent=False``)."""
    share = (logits.argmax(-1) == y).double().mean().item()
    return 100.0 * share if percent else share


@torch.no_grad()
def in_chunks(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
              chunk: int) -> torch.Tensor:
    """``fn`` over ``x`` in chunks of ``chunk`` rows, concatenated: the memory of one
    chunk, the same result as one call for row-wise models."""
    return torch.cat([fn(x[i:i + chunk]) for i in range(0, len(x), chunk)])


class StepTimer:
    """Wall time per step, with the GPU's queue drained at each end of a timed step
    (without it a CUDA step's time is only the launch)."""

    def __init__(self, device: torch.device, skip: int = 0):
        self.device, self.skip = device, skip
        self.times: list[float] = []
        self._seen = 0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def step(self) -> Iterator[None]:
        """Time the block as one step; the first ``skip`` steps are not kept (warm-up)."""
        self._sync()
        start = time.perf_counter()
        yield
        self._sync()
        self._seen += 1
        if self._seen > self.skip:
            self.times.append(time.perf_counter() - start)

    @property
    def median_ms(self) -> float:
        """The median kept step in ms (nan before any)."""
        if not self.times:
            return float("nan")
        return 1e3 * float(torch.tensor(self.times).median())
