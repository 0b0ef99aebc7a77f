"""MNIST-1D as torch tensors, generated offline with the package's default recipe.

``mnist1d.data.make_dataset(get_dataset_args())`` is deterministic (it seeds
``random`` and ``numpy`` globally with its own seed, 42) and takes about 2 s, so
the tensors are built once per process and cached. Generation would otherwise
reset the caller's global ``random``/``numpy`` state, so that state is saved and
restored around it.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch


@functools.lru_cache(maxsize=1)
def _generate() -> dict[str, torch.Tensor]:
    from mnist1d.data import get_dataset_args, make_dataset

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {
        "x_train": torch.as_tensor(data["x"], dtype=torch.float32),
        "y_train": torch.as_tensor(data["y"], dtype=torch.int64),
        "x_test": torch.as_tensor(data["x_test"], dtype=torch.float32),
        "y_test": torch.as_tensor(data["y_test"], dtype=torch.int64),
    }


def load_mnist1d() -> dict[str, torch.Tensor]:
    """Return ``x_train`` (4000, 40), ``y_train`` (4000,), ``x_test`` (1000, 40), ``y_test``.

    x is float32, y is int64 (classes 0-9), all on CPU. The tensors are fresh
    clones of a cached copy, so callers may modify them freely.
    """
    return {name: t.clone() for name, t in _generate().items()}


def holdout_split(
    x: torch.Tensor, y: torch.Tensor, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split off ``round(fraction * len(x))`` random rows as a validation set.

    Returns ``(x_train, y_train, x_val, y_val)``. The permutation is drawn from
    ``generator`` (a CPU generator; it is moved to ``x``'s device). With
    ``fraction == 0`` the inputs come back unchanged (same order) with empty
    validation tensors, and nothing is drawn from the generator.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    n = len(x)
    n_val = round(fraction * n)
    if n_val == 0:
        if fraction > 0:
            raise ValueError(f"holdout fraction {fraction} leaves no validation rows of {n}")
        return x, y, x[:0], y[:0]
    perm = torch.randperm(n, generator=generator).to(x.device)
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]
