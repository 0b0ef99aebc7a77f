"""Verify a committed reference (harness/refs/reference.py) without its hours of compute:
re-run a random sample of its main cells and compare each number with the stored one.

On the machine class that made the reference (harness/run/machine.py: the same CPU model and
kernel path, or GPU, with the same torch, platform and threads) a cell gives the same
bits, so the comparison is exact (regress's RTOL/ATOL) and the sample is K cells. On
another class every number is a new draw, so the sample is whole configurations (every
seed of each, about K cells in all) and their seeds are compared with the reference's by
distribution, with regress's tests (harness/stats/drift.py): per configuration and metric,
Welch's test of the means and a paired test of the same seeds' shift, Holm-adjusted over
the sample. Deterministic metrics are compared exactly either way. Timing and image
metrics are not compared (as in regress).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tabulate import tabulate

from ..stats import drift
from .regress import ATOL, RTOL
from .regress import _label as label  # the spelling regress keys its configs with

if TYPE_CHECKING:
    from ..run.runner import Runner
    from ..run.store import CellRecord
    from ..spec.plan import Cell, Plan
    from ..spec.suite import Suite

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


# the stages a reference's numbers come from: the tier's own cells, the seeds a settle run
# added, the recipe search's cells (tuning trials and sweeps only inform them)
STAGES = ("main", "settle", "recipe")


def eligible(records: list[dict], max_seconds: float | None = None) -> list[dict]:
    """The reference's finished cells of the main, settle and recipe stages, with
    ``max_seconds`` only those whose stored wall time is at most that (the cheap ones, for
    a time-boxed check)."""
    return [r for r in records if r["stage"] in STAGES and r["status"] == "done"
            and (max_seconds is None
                 or (r.get("wall_s") is not None and r["wall_s"] <= max_seconds))]


def choose(records: list[dict], k: int, seed: int = 0,
           max_seconds: float | None = None, configs: list[str] | None = None) -> Sample:
    """``k`` eligible main records drawn without replacement by a NumPy generator seeded
    with ``seed`` (the same seed, the same cells), all of them when there are no more.
    With ``configs`` (the plan's factor names) whole configurations are drawn instead,
    every seed of each, as many as cover about ``k`` cells (at least one), among those
    whose every finished seed is eligible: a statistical comparison needs seeds."""
    pool = eligible(records, max_seconds)
    finished = len(eligible(records))
    rng = np.random.default_rng(seed)
    if configs is None:
        picked = rng.choice(len(pool), size=min(k, len(pool)), replace=False) if pool else []
        return Sample([pool[i] for i in sorted(int(i) for i in picked)], len(pool), finished)
    groups: dict[str, list[dict]] = {}
    for r in eligible(records):
        groups.setdefault(label(r["params"], configs), []).append(r)
    ok = set(map(id, pool))
    whole = [g for g in groups.values() if all(id(r) in ok for r in g)]
    if not whole:
        return Sample([], 0, finished)
    per = max(1, round(sum(map(len, whole)) / len(whole)))
    count = min(len(whole), max(1, -(-k // per)))
    picked = sorted(int(i) for i in rng.choice(len(whole), size=count, replace=False))
    chosen = {id(r) for i in picked for r in whole[i]}
    return Sample([r for r in records if id(r) in chosen], sum(map(len, whole)), finished)


def describe(sample: Sample, k: int, seed: int, max_seconds: float | None,
             configs: int | None = None) -> str:
    """One line on what was chosen from what (``configs``: the number of whole
    configurations chosen, when configurations were drawn)."""
    pool = f"{sample.eligible} finished cells"
    if max_seconds is not None:
        pool += (f" that took at most {max_seconds:g} s in the reference (of "
                 f"{sample.finished} finished)")
    if configs is not None:
        return (f"{configs} whole configuration(s), {len(sample.chosen)} cells (every seed, "
                f"for a comparison by distribution), chosen at random (seed {seed}) from the "
                f"{pool}")
    if k > sample.eligible:
        return f"--sample {k} is more than the {pool}: verifying all {sample.eligible}"
    return f"{len(sample.chosen)} cells chosen at random (seed {seed}) from the {pool}"


def compared_metrics(suite: Suite) -> dict[str, float]:
    """The metrics a verification compares, with their declared tolerance (the least a
    statistical comparison allows): every metric but timing and image ones."""
    return {name: m.tolerance for name, m in suite.spec.metrics.items()
            if not m.timing and m.kind != "image"}


def compare_cell(stored: dict, new: CellRecord, floors: dict[str, float], cell: str
                 ) -> list[Row]:
    """One row per stored number of the metrics in ``floors`` (a vector or curve gives
    one per value), compared exactly: ``stored`` is the reference's record, ``new`` the
    re-run on the same machine class; ``cell`` labels the rows."""
    if new.status != "done":
        return [_failed_row(stored, new, cell)]
    rows = []
    for name in floors:
        if name not in stored["metrics"]:
            continue
        new_values = _flat(name, new.metrics.get(name))
        for key, old in _flat(name, stored["metrics"][name]).items():
            rows.append(_exact_row(cell, key, old, new_values.get(key)))
    return rows


def _failed_row(stored: dict, new: CellRecord, cell: str) -> Row:
    error = (new.error or "no reason recorded").strip().splitlines()[0]
    return Row(cell, "status", stored["status"], f"{new.status}: {error}", "done", FAILED)


def compare_configs(stored: list[dict], new: list[CellRecord], floors: dict[str, float],
                    deterministic: set[str], keys: list[str], factors: list[str],
                    curves: set[str] | frozenset[str] = frozenset()) -> list[Row]:
    """The re-run configurations against the reference's seeds of the same ones, by
    distribution (harness/stats/drift.py, Holm over the sample; of ``curves`` the last entry);
    deterministic metrics exactly.
    One row per configuration and metric key: moved when any test of that key (its own,
    or one pooled over the configurations) moved."""
    rows = [_failed_row(s, r, label(s["params"], keys)) for s, r in zip(stored, new,
                                                                       strict=True)
            if r.status != "done"]
    old: dict[str, dict[str, dict]] = {}
    cur: dict[str, dict[str, dict]] = {}
    for s, r in zip(stored, new, strict=True):
        config, seed = label(s["params"], factors), str(s["params"].get("seed"))
        for name in floors:
            got = _flat(name, r.metrics.get(name)) if r.status == "done" else {}
            had = _flat(name, s["metrics"][name]) if name in s["metrics"] else {}
            if name in deterministic:
                if r.status == "done":
                    rows += [_exact_row(label(s["params"], keys), key, value, got.get(key))
                             for key, value in had.items()]
                continue
            for key, value in had.items():
                old.setdefault(key, {}).setdefault(config, {})[seed] = value
            if r.status == "done":  # a failed cell has its own row
                for key, value in got.items():
                    cur.setdefault(key, {}).setdefault(config, {})[seed] = value
    rows += [Row(config, key, f"{a} finite values", f"{b} finite values", "the same count",
                 MOVED) for key, config, a, b in drift.count_changes(old, cur)
             if not _only_failed(config, stored, new, factors)]
    samples = {key: {config: (seeds, cur.get(key, {}).get(config, {}))
                     for config, seeds in configs.items()} for key, configs in old.items()}
    tests = drift.family(samples, floors, curves)
    moved_keys = {t.key for t in tests if t.moved() and t.kind.startswith("pooled")}
    for config_tests in _by_config(tests).items():
        (config, key), found = config_tests
        worst = min(found, key=lambda t: t.adjusted)
        moved = key in moved_keys or any(t.moved() for t in found)
        mean = next((t for t in found if t.kind == "mean"), worst)
        rows.append(Row(config, key, mean.stored, mean.new,
                        f"Holm p {worst.adjusted:.2g} ({worst.kind})",
                        MOVED if moved else MATCH))
    return rows


def _only_failed(config: str, stored: list[dict], new: list[CellRecord],
                 factors: list[str]) -> bool:
    """Whether the configuration's count changed only through cells that failed (each
    has its own row)."""
    return any(r.status != "done" for s, r in zip(stored, new, strict=True)
               if label(s["params"], factors) == config)


def _by_config(tests: list[drift.Test]) -> dict[tuple[str, str], list[drift.Test]]:
    out: dict[tuple[str, str], list[drift.Test]] = {}
    for t in tests:
        if not t.kind.startswith("pooled"):
            out.setdefault((t.what, t.key), []).append(t)
    return out


def _flat(name: str, value) -> dict[str, float | None]:
    if isinstance(value, list):
        return {f"{name}[{i}]": v for i, v in enumerate(value)}
    return {name: value}


def _exact_row(cell: str, key: str, old: float | None, got: float | None) -> Row:
    same = old is not None and got is not None and abs(old - got) <= ATOL + RTOL * abs(old)
    return Row(cell, key, _text(old, 10), _text(got, 10), f"rel {RTOL:g}",
               MATCH if same else MOVED)


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


def config_keys(plan: Plan) -> list[str]:
    """What tells a reference's configurations apart: the plan's factors and, where the
    suite has a recipe search, the choices it searched (a recipe's cells are configurations
    of their own; a settle run's added seeds belong to the tier's)."""
    space = plan.suite.spec.recipe.space if plan.suite.spec.recipe else {}
    return [*plan.factor_names, *(k for k in space if k not in plan.factor_names)]


def rerun(runner: Runner, plan: Plan, cells: list[Cell]) -> list[CellRecord]:
    """Obtain ``cells`` through the runner (batched where the task allows, on its
    executor, each stored as it ends), as ``Runner.run`` obtains a tier's main cells;
    no tuning: the cells carry the reference's tuned values in their parameters."""
    from ..run.runner import Progress

    runner.executed = runner.executed_failed = 0
    runner._suite = plan.suite  # the suite whose cells _obtain runs, as Runner.run sets it
    bar = Progress(f"{plan.suite.name} verify", len(cells), runner.progress and runner.execute)
    try:
        found = runner._obtain(cells, bar, lambda c, r: label(c.params, [*config_keys(plan),
                                                                         "seed"]))
    finally:
        bar.close()
    return [r for r in found if r is not None]
