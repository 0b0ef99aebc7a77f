"""Verify a committed reference (harness/reference.py) without its hours of compute:
re-run a random sample of its main cells and compare each number with the stored one.

On the platform that made the reference (same ``platform_key``: torch, platform,
device, CUDA, threads) a cell gives the same bits, so the comparison is exact (regress's
RTOL/ATOL). Elsewhere one re-run is one new draw from its configuration's distribution,
judged against the reference's seeds: |new - mean| <= Z * sd * sqrt(1 + 1/n), the
prediction interval of one draw (regress's Z), never tighter than the metric's declared
``tolerance``. Timing and image metrics are not compared (as in regress).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tabulate import tabulate

from .regress import ATOL, RTOL, Z
from .regress import _label as label  # the spelling regress keys its configs with

if TYPE_CHECKING:
    from .plan import Cell, Plan
    from .runner import Runner
    from .store import CellRecord
    from .suite import Suite

MATCH, MOVED, FAILED = "match", "moved", "failed"


@dataclass(frozen=True)
class Sample:
    chosen: list[dict]  # reference records, in the reference's order
    eligible: int  # main cells that could be chosen
    finished: int  # main cells of the reference that finished


@dataclass(frozen=True)
class Row:
    cell: str
    metric: str  # the metric, with [i] for one value of a vector or curve
    stored: str
    new: str
    tolerance: str
    verdict: str  # match, moved or failed


def eligible(records: list[dict], max_seconds: float | None = None) -> list[dict]:
    """The reference's finished main cells, with ``max_seconds`` only those whose stored
    wall time is at most that (the cheap ones, for a time-boxed check)."""
    return [r for r in records if r["stage"] == "main" and r["status"] == "done"
            and (max_seconds is None
                 or (r.get("wall_s") is not None and r["wall_s"] <= max_seconds))]


def choose(records: list[dict], k: int, seed: int = 0,
           max_seconds: float | None = None) -> Sample:
    """``k`` eligible main records drawn without replacement by a NumPy generator seeded
    with ``seed`` (the same seed, the same cells), all of them when there are no more."""
    pool = eligible(records, max_seconds)
    picked = np.random.default_rng(seed).choice(len(pool), size=min(k, len(pool)),
                                                replace=False) if pool else []
    finished = len(eligible(records))
    return Sample([pool[i] for i in sorted(int(i) for i in picked)], len(pool), finished)


def describe(sample: Sample, k: int, seed: int, max_seconds: float | None) -> str:
    """One line on what was chosen from what."""
    pool = f"{sample.eligible} finished main cells"
    if max_seconds is not None:
        pool += (f" that took at most {max_seconds:g} s in the reference (of "
                 f"{sample.finished} finished)")
    if k > sample.eligible:
        return f"--sample {k} is more than the {pool}: verifying all {sample.eligible}"
    return f"{len(sample.chosen)} cells chosen at random (seed {seed}) from the {pool}"


def compared_metrics(suite: Suite) -> dict[str, float]:
    """The metrics a verification compares, with their declared tolerance (the least a
    statistical comparison allows): every metric but timing and image ones."""
    return {name: m.tolerance for name, m in suite.spec.metrics.items()
            if not m.timing and m.kind != "image"}


def compare_cell(stored: dict, new: CellRecord, config: dict, exact: bool,
                 floors: dict[str, float], cell: str) -> list[Row]:
    """One row per stored number of the metrics in ``floors`` (a vector or curve gives
    one per value). ``stored`` is the reference's record, ``new`` the re-run; ``config``
    is the reference's statistics of the cell's configuration (its ``configs`` entry:
    key -> n, mean, sd), used when ``exact`` is false. ``cell`` labels the rows."""
    if new.status != "done":
        error = (new.error or "no reason recorded").strip().splitlines()[0]
        return [Row(cell, "status", stored["status"], f"{new.status}: {error}", "done",
                    FAILED)]
    rows = []
    for name, floor in floors.items():
        if name not in stored["metrics"]:
            continue
        old_values = _flat(name, stored["metrics"][name])
        new_values = _flat(name, new.metrics.get(name))
        for key, old in old_values.items():
            got = new_values.get(key)
            if exact:
                rows.append(_exact_row(cell, key, old, got))
            else:
                rows.append(_statistical_row(cell, key, old, got, config.get(key), floor))
    return rows


def _flat(name: str, value) -> dict[str, float | None]:
    if isinstance(value, list):
        return {f"{name}[{i}]": v for i, v in enumerate(value)}
    return {name: value}


def _exact_row(cell: str, key: str, old: float | None, got: float | None) -> Row:
    same = old is not None and got is not None and abs(old - got) <= ATOL + RTOL * abs(old)
    return Row(cell, key, _text(old, 10), _text(got, 10), f"rel {RTOL:g}",
               MATCH if same else MOVED)


def _statistical_row(cell: str, key: str, old: float | None, got: float | None,
                     stats: dict | None, floor: float) -> Row:
    if stats is None or got is None:
        why = "no reference statistics" if stats is None else "present"
        return Row(cell, key, _text(old, 6), _text(got, 6), why, MOVED)
    mean, n, sd = stats["mean"], stats["n"], stats["sd"] or 0.0
    tol = max(Z * sd * math.sqrt(1 + 1 / n), floor, ATOL + RTOL * abs(mean))
    verdict = MATCH if abs(got - mean) <= tol else MOVED
    return Row(cell, key, _text(old, 6), _text(got, 6),
               f"mean {mean:.6g} ± {tol:.3g} ({Z:g} SD, {n} seeds)", verdict)


def _text(value: float | None, digits: int) -> str:
    return "missing" if value is None else f"{value:.{digits}g}"


def table(rows: list[Row]) -> str:
    """The rows as a table; the matching values of a vector or curve share one row
    ("train_loss [50 values]"), the ones that moved keep a row each."""
    shown: list[Row] = []
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if "[" in row.metric:
            base = row.metric.split("[", 1)[0]
            group = groups.setdefault((row.cell, base), [])
            if not group:
                shown.append(Row(row.cell, base, "", "", "", ""))  # placeholder, filled below
            group.append(row)
        else:
            shown.append(row)
    out = []
    for row in shown:
        if row.verdict:
            out.append(row)
            continue
        group = groups[(row.cell, row.metric)]
        out += [r for r in group if r.verdict != MATCH]
        same = [r for r in group if r.verdict == MATCH]
        if same:
            other = " other" if len(same) < len(group) else ""
            tolerances = {r.tolerance for r in same}
            tol = tolerances.pop() if len(tolerances) == 1 else "per value"
            count = f"{len(same)} values"
            out.append(Row(row.cell, f"{row.metric} [{len(same)}{other} values]", count,
                           count, tol, MATCH))
    return tabulate([[r.cell, r.metric, r.stored, r.new, r.tolerance, r.verdict] for r in out],
                    headers=["cell", "metric", "stored", "re-run", "tolerance", "verdict"],
                    disable_numparse=True)


def summary(rows: list[Row], cells: int, modes: list[str]) -> str:
    """One line: how much was compared, how, and what moved or failed."""
    numbers = [r for r in rows if r.verdict != FAILED]
    metrics = {(r.cell, r.metric.split("[", 1)[0]) for r in numbers}
    moved = sum(r.verdict == MOVED for r in rows)
    failed = sum(r.verdict == FAILED for r in rows)
    kinds = sorted(set(modes))
    how = kinds[0] if len(kinds) == 1 else ", ".join(
        f"{kind} for {modes.count(kind)} cells" for kind in kinds)
    verdicts = []
    if moved:
        verdicts.append(f"{moved} numbers moved")
    if failed:
        verdicts.append(f"{failed} cells failed")
    return (f"{cells} cells, {len(metrics)} metrics ({len(numbers)} numbers): "
            f"{'; '.join(verdicts) or 'all match'} ({how})")


def rerun(runner: Runner, plan: Plan, cells: list[Cell]) -> list[CellRecord]:
    """Obtain ``cells`` through the runner (batched where the task allows, on its
    executor, each stored as it ends), as ``Runner.run`` obtains a tier's main cells;
    no tuning: the cells carry the reference's tuned values in their parameters."""
    from .runner import Progress

    runner.executed = runner.executed_failed = 0
    runner._suite = plan.suite  # the suite whose cells _obtain runs, as Runner.run sets it
    bar = Progress(f"{plan.suite.name} verify", len(cells), runner.progress and runner.execute)
    try:
        found = runner._obtain(cells, bar, lambda c, r: label(c.params, [*plan.factor_names,
                                                                         "seed"]))
    finally:
        bar.close()
    return [r for r in found if r is not None]
