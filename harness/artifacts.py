"""Intermediates that cells share: computed once, content-keyed, kept beside the store.

Some cells repeat an expensive step alike: the L1 cells of one seed calibrate their
lambda over the same grid of trained models whatever their target. A task hands such a
step to ``shared(ctx, key, compute)``. ``key`` names everything the result depends on;
the file is ``<store>.artifacts/<suite>-<code digest>/<sha256 of key>.pt``, so other code
never reads it. It is written to a temporary file and renamed into place, so a run
killed at any moment leaves the whole artifact or none, as the store does; a cell that
needs an artifact another cell is computing waits on a file lock and then reads it.

A cell's numbers must not depend on whether the artifact was computed or read: ``compute``
runs with the global RNG and ``ctx.generator`` saved and restored around it, and must seed
what it draws from the key alone (``seeded_context(ctx, key)`` does that).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from .task_api import RunContext

T = TypeVar("T")


def folder_for(store_path: Path, suite_name: str, code_digest: str) -> Path:
    """Where a suite's artifacts live, for one store and one version of its code."""
    return store_path.with_name(store_path.name + ".artifacts") / f"{suite_name}-{code_digest}"


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def shared(ctx: RunContext, key: dict, compute: Callable[[], T]) -> T:
    """``compute()``'s result, read from the artifact named by ``key`` when a cell before
    this one wrote it (same store, same code), else computed and written."""
    folder: Path | None = getattr(ctx, "artifacts", None)
    if folder is None:
        with _rng_kept(ctx):
            return compute()
    path = folder / f"{key_digest(key)}.pt"
    folder.mkdir(parents=True, exist_ok=True)
    # a cell that needs an artifact another is computing waits for it (the lock goes
    # with its holder, killed or not) rather than computing it a second time
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            try:
                return torch.load(path, map_location=ctx.device, weights_only=False)
            except (RuntimeError, EOFError, pickle.UnpicklingError):  # damaged: again
                pass
        with _rng_kept(ctx):
            value = compute()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(value, tmp)
        os.replace(tmp, path)
    return value


def seeded_context(ctx: RunContext, key: dict) -> RunContext:
    """A copy of ``ctx`` whose generator, and the global RNG, are seeded from ``key``
    alone, for ``compute``: what it draws then depends on nothing the cell did before."""
    seed = int(key_digest(key)[:15], 16)
    torch.manual_seed(seed)
    private = RunContext(seed=seed, device=ctx.device, data_dir=ctx.data_dir,
                         stage=ctx.stage, progress=ctx.progress)
    private.artifacts = getattr(ctx, "artifacts", None)
    return private


@contextmanager
def _rng_kept(ctx: RunContext) -> Iterator[None]:
    """The global RNGs (CPU and every initialised CUDA device) and ``ctx.generator`` as
    they were before."""
    devices = range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []
    generator: Any = ctx.generator.get_state()
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            ctx.generator.set_state(generator)
