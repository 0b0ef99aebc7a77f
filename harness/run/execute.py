"""Run one cell (or a batch of cells) of a task: seeded, timed, failures kept."""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import torch

from ..determinism import fingerprint, seed_everything
from ..spec.plan import Cell
from ..spec.suite import Suite
from ..task_api import Diverged, RunContext
from .allocator import keep_large_blocks
from .cell_timeout import CellTimeout, alarm, current
from .machine import cpu_model, machine_class
from .store import CellRecord


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _invalid_metrics(metrics: object) -> str | None:
    """Why the task's return value is not a metrics dict, or None if it is one."""
    if not isinstance(metrics, dict) or not metrics:
        return f"task returned {type(metrics).__name__}, expected a non-empty dict of metrics"
    for name, value in metrics.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return f"metric {name!r} is {type(v).__name__}, expected float or list of floats"
            if not math.isfinite(v):
                return f"metric {name!r} is not finite ({v})"
    return None


def _undeclared_metrics(suite: Suite, metrics: dict) -> str | None:
    """Why the metrics do not match suite.toml's [metrics], or None when they do. A
    misspelled name would otherwise be stored unseen while the declared metric reads "not
    run", and a vector longer than its labels would have entries no report names."""
    declared = suite.spec.metrics
    unknown = [name for name in metrics if name not in declared]
    if unknown:
        return (f"task returned undeclared metric{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; suite.toml [metrics] declares "
                f"{', '.join(declared)}")
    for name, value in metrics.items():
        labels = declared[name].labels
        if labels and isinstance(value, (list, tuple)) and len(value) != len(labels):
            return (f"metric {name!r} has {len(value)} values but its labels in suite.toml "
                    f"name {len(labels)} ({', '.join(labels)})")
    return None


def _error_text(err: BaseException) -> str:
    """'ValueError: bad (at task.py:12)': a failed cell's stored error."""
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"


def pinned_threads(suite: Suite, device: torch.device) -> int | None:
    """The CPU thread count the suite pins its cells to on ``device``: its ``threads``
    on a CPU, None where it pins none (the process's setting applies)."""
    if suite.spec.threads and device.type == "cpu":
        return suite.spec.threads
    return None


@contextmanager
def suite_threads(suite: Suite, device: torch.device) -> Iterator[None]:
    """The suite's pinned CPU thread count, if it has one, for the duration of a cell."""
    before = torch.get_num_threads()
    pinned = pinned_threads(suite, device)
    if pinned:
        torch.set_num_threads(pinned)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute_cell(suite: Suite, cell: Cell, device: torch.device, data_dir: Path | None,
                 progress: Callable[[float], None] = lambda f: None,
                 artifacts: Path | None = None) -> CellRecord:
    """Run ``cell`` in this process. Whatever the task raises becomes a failed record
    (``sys.exit`` and running past ``--cell-timeout`` included); only KeyboardInterrupt
    passes through, so that the user can stop a run."""
    keep_large_blocks()
    with suite_threads(suite, device):
        return _execute_cell(suite, cell, device, data_dir, progress, artifacts)


def _context(cell: Cell, device: torch.device, data_dir: Path | None,
             progress: Callable[[float], None], artifacts: Path | None) -> RunContext:
    ctx = RunContext(seed=cell.seed, device=device, data_dir=data_dir, stage=cell.stage,
                     progress=progress)
    ctx.artifacts = artifacts  # read by artifacts.shared; None: nothing is shared
    return ctx


def _execute_cell(suite: Suite, cell: Cell, device: torch.device, data_dir: Path | None,
                  progress: Callable[[float], None], artifacts: Path | None) -> CellRecord:
    seed_everything(cell.seed)
    ctx = _context(cell, device, data_dir, progress, artifacts)
    start = time.perf_counter()
    metrics: dict = {}
    error = None
    try:
        with alarm(current()):
            result = suite.task(dict(cell.params), ctx)
        metrics, error = _clean(suite, result)
    except Diverged as err:
        error = f"diverged: {err}"
    except CellTimeout as err:
        error = str(err)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # a failing cell must not stop the suite, sys.exit neither
        error = _error_text(err)
    return _record(cell, metrics, error, time.perf_counter() - start, device)


def _record(cell: Cell, metrics: dict, error: str | None, wall: float,
            device: torch.device) -> CellRecord:
    return CellRecord(
        id=cell.id, suite=cell.suite, stage=cell.stage, params=cell.params,
        status="failed" if error else "done", error=error, wall_s=wall, finished_at=_now(),
        fingerprint={**fingerprint(device), "cpu": cpu_model(),
                     "machine_class": machine_class(device)},
        metrics=metrics if not error else {},
    )


def _clean(suite: Suite, result: object) -> tuple[dict, str | None]:
    error = _invalid_metrics(result) or _undeclared_metrics(suite, result)
    if error:
        return {}, error
    return {k: (list(map(float, v)) if isinstance(v, (list, tuple)) else float(v))
            for k, v in result.items()}, None


def execute_batch(suite: Suite, cells: list[Cell], device: torch.device,
                  data_dir: Path | None,
                  progress: Callable[[float], None] = lambda f: None,
                  artifacts: Path | None = None) -> list[CellRecord]:
    """Run cells through the task's batched form; each gets its own record (wall time is
    the batch's, shared out). If the batched form itself raises, the cells run one by one
    so that one bad cell cannot fail the others."""
    keep_large_blocks()
    with suite_threads(suite, device):
        return _execute_batch(suite, cells, device, data_dir, progress, artifacts)


def _execute_batch(suite: Suite, cells: list[Cell], device: torch.device,
                   data_dir: Path | None, progress: Callable[[float], None],
                   artifacts: Path | None) -> list[CellRecord]:
    seed_everything(cells[0].seed)
    ctxs = [_context(c, device, data_dir, progress if i == 0 else (lambda f: None), artifacts)
            for i, c in enumerate(cells)]
    start = time.perf_counter()
    limit = current()
    try:  # a batch does the work of its cells: it gets their time limits together
        with alarm(None if limit is None else limit * len(cells)):
            results = suite.task_batch([dict(c.params) for c in cells], ctxs)
        if len(results) != len(cells):
            raise ValueError(f"run_batch returned {len(results)} results for {len(cells)}")
    except KeyboardInterrupt:
        raise
    except BaseException:  # fall back to the one-cell path, which records each error
        return [execute_cell(suite, c, device, data_dir, progress, artifacts) for c in cells]
    wall = (time.perf_counter() - start) / len(cells)
    records = []
    for cell, result in zip(cells, results, strict=True):
        if isinstance(result, Diverged):
            metrics, error = {}, f"diverged: {result}"
        elif isinstance(result, Exception):
            metrics, error = {}, f"{type(result).__name__}: {result}"
        else:
            metrics, error = _clean(suite, result)
        records.append(_record(cell, metrics, error, wall, device))
    return records
