"""Reading ``suites/<suite>/expected/<tier>.json`` (a regress snapshot or a committed
reference) with one-line errors: a truncated or hand-broken file names itself, what is
wrong and the command that rewrites it, instead of a traceback or being skipped.

A file holds each number more than once: per cell (``cells``, what regress compares),
per configuration (``configs``, the seeds' mean and SD) and, in a reference, per record
(``records``, what reports and verify read). The per-cell numbers are the source; every
reader checks that the other two are derived from them, so a number edited in one place
is an error naming the place, not a reference that says one thing to regress and another
to a report."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import SparsebenchError
from ..spec.suite import SUITES_DIR


def rewrite_command(path: Path) -> str:
    """'sparsebench regress --update --suite S --tier T' for the file at ``path``
    (``<suite folder>/expected/<tier>.json``): a shipped suite by its name, else by its
    folder's path."""
    folder = path.parent.parent
    shipped = (SUITES_DIR / folder.name).resolve() == folder.resolve()
    return shlex.join(["sparsebench", "regress", "--update", "--suite",
                       folder.name if shipped else str(folder), "--tier", path.stem])


def read_json(path: Path, command: str | None = None, keys: Iterable[str] = ()) -> dict:
    """The JSON object in ``path``, which must hold ``keys``; else a SparsebenchError
    naming the file, what is wrong and ``command`` (default: ``rewrite_command(path)``)."""
    fix = f"rewrite it with: {command or rewrite_command(path)}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SparsebenchError(f"{path}: not UTF-8 text (byte {err.start}); {fix}") from None
    except OSError as err:
        raise SparsebenchError(f"{path}: cannot be read ({err.strerror}); {fix}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SparsebenchError(f"{path}: not JSON at line {err.lineno} column {err.colno} "
                               f"({err.msg}); {fix}") from None
    if not isinstance(data, dict):
        raise SparsebenchError(f"{path}: holds a JSON {_kind(data)}, not an object; {fix}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise SparsebenchError(f"{path}: lacks the key{'s' if len(missing) > 1 else ''} "
                               f"{', '.join(missing)}; {fix}")
    if isinstance(data.get("cells"), dict):
        disagreements = [*_configs_disagree(data), *_records_disagree(data)]
        if disagreements:
            shown = "; ".join(disagreements[:3])
            more = f" and {len(disagreements) - 3} more" if len(disagreements) > 3 else ""
            raise SparsebenchError(
                f"{path}: the copies of its numbers disagree ({shown}{more}): the file was "
                f"edited after it was written; {fix}")
    return data


def _configs_disagree(data: dict) -> list[str]:
    """Where ``configs`` is not the seeds' summary of ``cells``."""
    from .regress import configs_of

    try:
        derived = configs_of(data["cells"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return ["cells: not {label: {status, metrics}}"]
    stored = data.get("configs")
    if not isinstance(stored, dict):
        return ["configs: missing"] if "configs" in data else []
    found = []
    for config in sorted(set(stored) | set(derived)):
        have, want = stored.get(config) or {}, derived.get(config) or {}
        for key in sorted(set(have) | set(want), key=str):
            if not _summary_equal(have.get(key), want.get(key)):
                found.append(f"configs[{config!r}][{key!r}] is {have.get(key)}, its cells "
                             f"give {want.get(key)}")
    return found


def _summary_equal(a: object, b: object) -> bool:
    if not (isinstance(a, dict) and isinstance(b, dict)) or a.get("n") != b.get("n"):
        return False
    return all(_close(a.get(k), b.get(k)) for k in ("mean", "sd"))


def _close(a: object, b: object) -> bool:
    """Equal up to the round-off of summing a few seeds in another order."""
    if a is None or b is None:
        return a is b
    if not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _records_disagree(data: dict) -> list[str]:
    """Where a reference's main-stage ``records`` are not its ``cells``."""
    records = data.get("records")
    if not isinstance(records, list):
        return []
    cells: dict = data["cells"]
    find = cell_finder(cells)
    found, seen = [], set()
    for r in records:
        if not isinstance(r, dict) or r.get("stage") != "main":
            continue
        params = r.get("params") or {}
        label = find(params)
        if label is None:
            found.append(f"record {r.get('id')} ({_describe(params)}) has no cell")
            continue
        seen.add(label)
        cell = cells[label]
        if cell.get("status") != r.get("status"):
            found.append(f"{label!r}: status {cell.get('status')} in cells, "
                         f"{r.get('status')} in records")
        metrics = r.get("metrics") or {}
        for name, value in (cell.get("metrics") or {}).items():
            if not _same(value, metrics.get(name)):
                found.append(f"{label!r} {name}: {value} in cells, {metrics.get(name)} "
                             "in records")
    found += [f"cell {label!r} has no record" for label in cells if label not in seen]
    return found


def cell_finder(cells: dict) -> Callable[[dict], str | None]:
    """A function from a record's full parameters to the label in ``cells`` ('model=fsb
    seed=1') of the cell run with them, or None. Labels name the factors in their grid's
    order, which differs between grids; the label naming the most of them wins."""
    by_pairs = {frozenset(label.split()): label for label in cells}
    keysets = {frozenset(p.partition("=")[0] for p in pairs) for pairs in by_pairs}

    def find(params: dict) -> str | None:
        matches = [by_pairs.get(frozenset(f"{k}={params[k]}" for k in keys))
                   for keys in keysets if keys <= params.keys()]
        return max((m for m in matches if m), key=lambda m: len(m.split()), default=None)
    return find


def _describe(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))[:80]


def _same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _kind(value: object) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")
