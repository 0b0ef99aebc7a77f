"""Merging result stores written on several machines into one.

A cell's id hashes its suite, code, parameters and seed, so the same id in two stores is
the same experiment. The two copies are the *same record* when they agree on what the
cell found: suite, stage, parameters, status, error and metrics. Where and when it ran
(``fingerprint``, ``finished_at``, ``wall_s``) and metrics that suite.toml marks
``timing = true`` are left out: two clusters that ran one tuning trial each measured
their own speed, and regress never compares those either. Anything else that differs is
a conflict: the merge is refused whole, before anything is written, and every conflict
is listed, because silently keeping either copy would decide a verdict by the order of
the command line. ``prefer_finished`` settles one kind only: a finished cell over a
failed one (a cell that failed on one cluster and finished on another). Meta entries
(a settle run's design, a recipe search: ``settle:<suite>:<tier>``,
``recipe:<suite>:<tier>``) merge the same way, compared as JSON where they are JSON.

The plan is made from the stores' indexes first, reading whole records only for the
cells they share; the write is one transaction (``Store.put_many``).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .store import CellRecord, Store

TARGET = -1  # the store merged into, as a holder of a cell
SCHEMA_KEY = "schema"  # the store's own version: every store opened is this one's


@dataclass(frozen=True)
class Conflict:
    """One cell id or meta key whose two copies differ: what it is, how they differ,
    and which stores hold them."""

    key: str  # the cell id, or "meta <key>"
    what: str  # "<suite> <stage> <params summary>", or "" for a meta entry
    differences: tuple[str, ...]
    stores: tuple[Path, Path]

    def line(self) -> str:
        about = f" ({self.what})" if self.what else ""
        return (f"{self.key}{about}: {'; '.join(self.differences)} "
                f"[{self.stores[0]} vs {self.stores[1]}]")


@dataclass
class MergePlan:
    """What merging would do: cells to write (id -> index of the source that holds the
    copy to write), meta entries to write, counts per (suite, stage), conflicts."""

    sources: list[Path]
    write: dict[str, int] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    # each (suite, stage) -> how many cells: new to the store merged into; its failed
    # copy replaced by a finished one; the same record, skipped; a source's failed copy
    # not written because another copy finished (--prefer finished)
    added: Counter = field(default_factory=Counter)
    finished_over_failed: Counter = field(default_factory=Counter)
    same: Counter = field(default_factory=Counter)
    failed_left_out: Counter = field(default_factory=Counter)
    meta_same: int = 0
    conflicts: list[Conflict] = field(default_factory=list)

    def summary(self) -> list[list]:
        """Rows (suite, stage, added, replaced, identical, failed left out), one per
        suite and stage the sources hold."""
        keys = sorted(set(self.added) | set(self.finished_over_failed) | set(self.same)
                      | set(self.failed_left_out))
        return [[s, st, self.added[s, st], self.finished_over_failed[s, st], self.same[s, st],
                 self.failed_left_out[s, st]] for s, st in keys]


def plan(target: Store | None, sources: list[Store], prefer_finished: bool = False,
         timing: dict[str, set[str]] | None = None) -> MergePlan:
    """What merging ``sources`` (in order) into ``target`` (None: a store not made yet)
    does. ``timing``: per suite, the metrics left out of the comparison (default: those
    marked timing in the shipped suite of that name, ``timing_metrics``)."""
    stores: dict[int, Store] = {i: s for i, s in enumerate(sources)}
    if target is not None:
        stores[TARGET] = target
    out = MergePlan([s.path for s in sources])
    holder: dict[str, int] = {}  # cell id -> who holds the copy the merge would keep
    if target is not None:
        holder.update((row[0], TARGET) for row in target.cell_index())
    meta = dict(target.meta_items()) if target is not None else {}
    meta_from: dict[str, int] = dict.fromkeys(meta, TARGET)
    skip_metrics = _TimingLookup(timing)
    for index, source in enumerate(sources):
        shared: list[str] = []
        for cell_id, suite, stage, _status in source.cell_index():
            if cell_id in holder:
                shared.append(cell_id)
            else:
                holder[cell_id] = index
                out.write[cell_id] = index
                out.added[suite, stage] += 1
        for chunk in _chunks(shared, 500):
            _compare(out, chunk, index, stores, holder, prefer_finished, skip_metrics)
        for key, value in source.meta_items().items():
            if key == SCHEMA_KEY:
                continue
            if key not in meta:
                meta[key], meta_from[key] = value, index
                out.meta[key] = value
            elif _same_meta(meta[key], value):
                out.meta_same += 1
            else:
                out.conflicts.append(Conflict(
                    f"meta {key}", "", (_meta_difference(meta[key], value),),
                    (stores[meta_from[key]].path, source.path)))
    return out


def _compare(out: MergePlan, ids: list[str], index: int, stores: dict[int, Store],
             holder: dict[str, int], prefer_finished: bool, skip_metrics) -> None:
    """Compare the source's copies of ``ids`` with the copies the merge keeps so far."""
    new = {r.id: r for r in stores[index].records(ids)}
    by_holder: dict[int, list[str]] = {}
    for cell_id in ids:
        by_holder.setdefault(holder[cell_id], []).append(cell_id)
    kept = {r.id: r for h, some in by_holder.items() for r in stores[h].records(some)}
    for cell_id in ids:
        old, mine = kept[cell_id], new[cell_id]
        key = (old.suite, old.stage)
        differences = record_differences(old, mine, skip_metrics(old.suite))
        if not differences:
            out.same[key] += 1
            continue
        statuses = (old.status, mine.status)
        if prefer_finished and sorted(statuses) == ["done", "failed"] \
                and len(differences) == len(_status_bound(differences)):
            if mine.status == "done":  # the finished copy replaces the failed one
                if holder[cell_id] == TARGET:
                    out.finished_over_failed[key] += 1
                else:  # an earlier source's failed copy, counted as added, is not written
                    out.failed_left_out[key] += 1
                holder[cell_id] = index
                out.write[cell_id] = index
            else:
                out.failed_left_out[key] += 1
            continue
        out.conflicts.append(Conflict(cell_id, describe(old), tuple(differences),
                                      (stores[holder[cell_id]].path, stores[index].path)))


def _status_bound(differences: list[str]) -> list[str]:
    """The differences a failed cell against a finished one always has (its status, its
    error, its missing metrics): --prefer finished settles those; a different stage,
    suite or parameters under one id is never a matter of status."""
    return [d for d in differences if d.split(" ", 1)[0] in ("status", "error", "metric",
                                                             "metrics")]


def record_differences(a: CellRecord, b: CellRecord, skip: set[str] = frozenset()) -> list[str]:
    """How two copies of a cell differ, one phrase per field, in the order of the
    store's columns; empty when they are the same record (see the module docstring)."""
    out = []
    for name in ("suite", "stage", "status"):
        if getattr(a, name) != getattr(b, name):
            out.append(f"{name} {getattr(a, name)} vs {getattr(b, name)}")
    if a.params != b.params:
        keys = sorted(k for k in set(a.params) | set(b.params)
                      if a.params.get(k, _MISSING) != b.params.get(k, _MISSING))
        out.append(f"params {', '.join(keys)}")
    if (a.error or "") != (b.error or ""):
        out.append(f"error {_short(a.error)} vs {_short(b.error)}")
    names = sorted((set(a.metrics) | set(b.metrics)) - set(skip))
    differing = [n for n in names if not _same_value(a.metrics.get(n, _MISSING),
                                                     b.metrics.get(n, _MISSING))]
    if differing:
        shown = [f"{n} {_value(a.metrics.get(n, _MISSING))} vs "
                 f"{_value(b.metrics.get(n, _MISSING))}" for n in differing[:3]]
        more = f" and {len(differing) - 3} more" if len(differing) > 3 else ""
        out.append(f"metric{'s' if len(differing) > 1 else ''} {', '.join(shown)}{more}")
    return out


_MISSING = object()


def _same_value(a: object, b: object) -> bool:
    """Equal as stored: NaN equals NaN (a diverged metric), a vector entry by entry."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _value(v: object) -> str:
    if v is _MISSING:
        return "(none)"
    if isinstance(v, list):
        return f"[{len(v)} values]"
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return "(none)"
    line = text.splitlines()[0]
    return repr(line if len(line) <= width else line[:width - 3] + "...")


def describe(record: CellRecord, limit: int = 6) -> str:
    """'<suite> <stage> seed=0 arm=a ...': the cell a conflict is about, its seed first
    and then the parameters its suite varies (factors, the tuned one) where the shipped
    suite is found, else the first few."""
    params = record.params
    varied = _varied_params(record.suite)
    keys = ["seed", *[k for k in varied if k != "seed"]] if varied else ["seed", *params]
    shown = [f"{k}={params[k]}" for k in dict.fromkeys(keys) if k in params][:limit]
    return " ".join([record.suite, record.stage, *shown])


def _same_meta(a: str, b: str) -> bool:
    try:
        return a == b or json.loads(a) == json.loads(b)
    except ValueError:
        return False


def _meta_difference(a: str, b: str) -> str:
    """Which top-level keys of two JSON entries differ, else that the texts do."""
    try:
        x, y = json.loads(a), json.loads(b)
    except ValueError:
        return "the texts differ"
    if isinstance(x, dict) and isinstance(y, dict):
        keys = sorted(k for k in set(x) | set(y) if x.get(k, _MISSING) != y.get(k, _MISSING))
        return f"differs in {', '.join(keys)}"
    return "the values differ"


# ------------------------------------------------------------------ the suites' metrics


def _suite_toml(suite: str) -> dict:
    """The shipped suite.toml of a suite name, read as TOML only (a merge needs no task,
    no torch); {} when there is none or it does not read."""
    from ..spec.suite import SUITES_DIR

    path = SUITES_DIR / suite / "suite.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def timing_metrics(suite: str) -> set[str]:
    """The metrics suite.toml marks ``timing = true``: measured, never compared. A suite
    not found under suites/ (a copy elsewhere stores under ``<name>-<hex>``) has none
    known, and every metric is compared."""
    metrics = _suite_toml(suite).get("metrics")
    if not isinstance(metrics, dict):
        return set()
    return {n for n, m in metrics.items() if isinstance(m, dict) and m.get("timing") is True}


def _varied_params(suite: str) -> list[str]:
    data = _suite_toml(suite)
    names: list[str] = []
    for block in [data.get("factors"), *[g.get("factors") for g in data.get("grid", [])
                                          if isinstance(g, dict)]]:
        if isinstance(block, dict):
            names += list(block)
    tuning = data.get("tuning")
    if isinstance(tuning, dict) and isinstance(tuning.get("param"), str):
        names.append(tuning["param"])
    return list(dict.fromkeys(names))


class _TimingLookup:
    def __init__(self, given: dict[str, set[str]] | None):
        self.cache = dict(given or {})

    def __call__(self, suite: str) -> set[str]:
        if suite not in self.cache:
            self.cache[suite] = timing_metrics(suite)
        return self.cache[suite]


# ------------------------------------------------------------------ writing


def apply(merge: MergePlan, target: Store, sources: list[Store]) -> int:
    """Write the plan's cells and meta entries into ``target`` in one transaction;
    returns how many cells were written."""
    if merge.conflicts:
        raise ValueError("a merge with conflicts is never applied")

    def records() -> Iterator[CellRecord]:
        for index, source in enumerate(sources):
            ids = [cell_id for cell_id, i in merge.write.items() if i == index]
            for chunk in _chunks(ids, 500):
                yield from source.records(chunk)

    return target.put_many(records(), merge.meta)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
