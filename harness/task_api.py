"""What a suite's task sees: the run context and the errors it may raise.

A task is a plain function ``run(params, ctx) -> metrics``. ``params`` is the
fully resolved parameter dict of one cell (factors, fixed parameters, tier
overrides, tuned values and ``seed``). ``metrics`` maps a metric name to a
float (scalar) or a list of floats (a per-layer vector, a per-epoch curve or the
flattened tiles of an image).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch


class Diverged(RuntimeError):
    """Raised by a task when training diverges (NaN or infinite loss).

    The runner stores the cell as failed with this message; the suite goes on.
    """


def check_finite(loss: torch.Tensor | float, where: str) -> None:
    """Raise :class:`Diverged` if ``loss`` is NaN or infinite."""
    value = float(loss)
    if not math.isfinite(value):
        raise Diverged(f"non-finite loss {value} at {where}")


@dataclass
class RunContext:
    """Everything a task needs from the harness for one cell."""

    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    data_dir: Path | None = None
    stage: str = "main"
    progress: Callable[[float], None] = lambda fraction: None
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        # Data order and any other task-side randomness draw from this generator,
        # never from the global RNG, so model initialisation cannot shift them.
        self.generator = torch.Generator().manual_seed(self.seed)
