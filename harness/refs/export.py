"""A tier's stored results as one long table (CSV or Parquet) for pandas.

One row per cell and metric entry, tuning trials and failed cells included::

    cell_id, suite, tier, stage, <every parameter>, status, error, metric, index, value,
    wall_s, finished_at, env_<fingerprint key>...

* ``stage`` is ``main`` or ``tune`` (a tuning trial); parameters are columns named as in
  suite.toml, the grid's factors first, then ``seed``, then the rest in name order (a
  parameter whose name is one of the fixed columns is written ``param_<name>``); a
  parameter a cell does not have (``grid`` of a main cell) is empty.
* ``index`` is -1 for a scalar metric and the position (0, 1, ...) in a vector, curve or
  image metric, one row per position; the store uses the same convention.
* A failed cell is one row with ``status = failed``, its ``error``, an empty ``metric``,
  ``index`` -1 and an empty ``value``. A metric stored as NaN has an empty ``value``.
* The environment each cell ran in (its fingerprint: torch, python, platform, device,
  cuda, threads, git_commit) is flattened into ``env_*`` columns.
* Only cells in the store are written: a tier that has not run in full gives fewer rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import SparsebenchError
from ..run.atomic import replacing
from ..run.runner import RunResult

HEAD = ["cell_id", "suite", "tier", "stage"]
TAIL = ["status", "error", "metric", "index", "value", "wall_s", "finished_at"]


def frame(run: RunResult) -> pd.DataFrame:
    """The long table of one run (see the module docstring for its columns)."""
    plan = run.plan
    cells = run.all_records  # tuning trials (in the order asked), then main cells
    reserved = set(HEAD) | set(TAIL)
    seen = {k for r in cells for k in r.params}
    first = [k for k in [*plan.factor_names, "seed"] if k in seen]
    params = first + sorted(seen - set(first))
    columns = {k: f"param_{k}" if k in reserved or k.startswith("env_") else k for k in params}
    env_keys = sorted({k for r in cells for k in r.fingerprint})
    rows = []
    for r in cells:
        base = {"cell_id": r.id, "suite": r.suite, "tier": plan.tier, "stage": r.stage,
                **{columns[k]: r.params.get(k) for k in params},
                "status": r.status, "error": r.error}
        tail = {"wall_s": r.wall_s, "finished_at": r.finished_at,
                **{f"env_{k}": r.fingerprint.get(k) for k in env_keys}}
        entries = list(_entries(r.metrics)) or [(None, -1, math.nan)]
        rows += [{**base, "metric": name, "index": index, "value": value, **tail}
                 for name, index, value in entries]
    order = [*HEAD, *columns.values(), *TAIL, *(f"env_{k}" for k in env_keys)]
    out = pd.DataFrame(rows, columns=order)
    return out.astype({"index": "int64", "value": "float64"})


def _entries(metrics: dict):
    for name, value in metrics.items():
        if isinstance(value, list):
            for i, v in enumerate(value):
                yield name, i, float(v)
        else:
            yield name, -1, float(value)


def write(table: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``table`` as ``fmt``, ``csv`` or ``parquet`` (``--format`` allows no other).
    The caller runs ``require_engine(fmt)`` first, so a missing pyarrow fails before the
    store is read."""
    with replacing(path) as temporary:  # whole or not at all
        if fmt == "csv":
            table.to_csv(temporary, index=False)
        else:
            _one_type_per_column(table).to_parquet(temporary, index=False)
    return path


def _one_type_per_column(table: pd.DataFrame) -> pd.DataFrame:
    """Parquet wants one type per column: a parameter that is a number in one grid and
    text in another is written as text."""
    table = table.copy()
    for name in [c for c in table.columns if pd.api.types.is_object_dtype(table[c])]:
        kinds = {type(v) for v in table[name] if v is not None and v == v}
        if kinds == {int, float}:
            table[name] = table[name].astype("float64")
        elif len(kinds) > 1:
            table[name] = [None if v is None or v != v else str(v) for v in table[name]]
    return table


def require_engine(fmt: str) -> None:
    """Fail early, in one line, when ``fmt`` needs a library that is not installed."""
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SparsebenchError("--format parquet needs pyarrow: pip install pyarrow "
                                   "(or pip install -e '.[export]')") from None
