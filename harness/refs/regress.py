"""Stored numbers: write them from a run, compare a new run against them.

Metrics marked ``timing = true`` are left out: wall-clock numbers never repeat; so are
image metrics (pictures such as decoder filters; the numbers judged are regressed).
Exact comparison (float round-off) when the stored run came from the same machine class
and platform (harness/run/machine.py), where reruns are bit-identical; across classes, each
configuration's seeds are compared by distribution (harness/stats/drift.py), deterministic
metrics and cell statuses still exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from ..run import atomic
from ..run.machine import Comparison, comparison
from ..run.runner import RunResult, tuning_label
from ..stats import core as stats
from ..stats import drift

RTOL, ATOL = drift.RTOL, drift.ATOL  # exact mode: only float round-off may differ


@dataclass
class Diff:
    what: str
    stored: str
    new: str
    tolerance: str


def _label(params: dict, keys: list[str]) -> str:
    return " ".join(f"{k}={params[k]}" for k in keys if k in params)


def snapshot(run: RunResult, command: str) -> dict:
    plan = run.plan
    factors = plan.factor_names
    timings = {name for name, m in plan.suite.spec.metrics.items()
               if m.timing or m.kind == "image"}
    envs = [r.fingerprint for r in run.records]
    env = {k: v for k, v in envs[0].items() if k != "git_commit"} if envs else {}
    cells = {}
    for r in sorted(run.records, key=lambda r: _label(r.params, [*factors, "seed"])):
        metrics = {k: v for k, v in r.metrics.items() if k not in timings}
        cells[_label(r.params, [*factors, "seed"])] = {"status": r.status, "metrics": metrics}
    tuned = {tuning_label(t.group): t.best_value for t in run.tuning}
    code = {"digest": plan.suite.code.digest, "task_version": plan.suite.task_version,
            "files": list(plan.suite.code.files)}
    return {"suite": plan.suite.name, "tier": plan.tier, "generated_by": command,
            "environment": env, "code": code, "tuned": tuned, "cells": cells,
            "configs": configs_of(cells)}


def configs_of(cells: dict) -> dict[str, dict[str, dict]]:
    """{configuration: {metric key: {n, mean, sd}}} over the seeds of a snapshot's
    finished cells: the summary a snapshot stores beside its cells, derived from them
    alone (reference_file checks that a stored file's two agree)."""
    configs: dict[str, dict[str, dict]] = {}
    for key, by_config in seed_samples(cells).items():
        for config, by_seed in by_config.items():
            s = stats.summarize(list(by_seed.values()), n_boot=0)
            configs.setdefault(config, {})[key] = {
                "n": s.n, "mean": s.mean, "sd": None if math.isnan(s.sd) else s.sd}
    return configs


def code_note(stored: dict, new: dict) -> str | None:
    """A sentence when the suite's code differs from the code that made the stored
    numbers (the likely reason they moved), else None."""
    old_code, new_code = stored.get("code") or {}, new["code"]
    if old_code.get("digest") == new_code["digest"]:
        return None
    if not old_code:
        return "the stored numbers do not record which code made them"
    return (f"the suite's code changed since the stored numbers were made (code digest "
            f"{old_code['digest']} -> {new_code['digest']}; files hashed: "
            f"{', '.join(new_code['files'])})")


def write(snap: dict, path: Path) -> None:
    """``snap`` to ``path`` whole or not at all (a temporary file replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(snap, indent=1, sort_keys=True) + "\n")


def compare(stored: dict, new: dict, floors: dict[str, float] | None = None,
            deterministic: set[str] | frozenset[str] = frozenset(),
            curves: set[str] | frozenset[str] = frozenset()
            ) -> tuple[Comparison, list[Diff]]:
    """How the two runs compare (exact within one machine class, statistical across,
    harness/run/machine.py) and the differences beyond tolerance. ``floors`` are the metrics'
    declared tolerances, the least a statistical comparison counts; ``deterministic``
    metrics are compared exactly in either mode; of ``curves`` the statistical mode tests
    the last entry (harness/stats/drift.py)."""
    how = comparison(stored.get("environment") or {}, new["environment"])
    if how.exact:
        return how, _exact(stored, new)
    return how, _statistical(stored, new, floors or {}, deterministic, curves)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL + RTOL * abs(a)


def _exact(stored: dict, new: dict, only: set[str] | frozenset[str] | None = None,
           tuned: bool = True) -> list[Diff]:
    """Every stored number against the new one (``only``: those metrics alone; ``tuned``:
    the tuned values too)."""
    diffs = []
    tol = f"rel {RTOL:g}"
    for group, value in (stored["tuned"].items() if tuned else ()):
        got = new["tuned"].get(group)
        if value is None or got is None or not _close(value, got):
            diffs.append(Diff(f"tuned value [{group}]", f"{value!r}", f"{got!r}", tol))
    for label, cell in stored["cells"].items():
        got = new["cells"].get(label)
        if got is None:
            diffs.append(Diff(f"{label}", cell["status"], "missing", "present"))
            continue
        if got["status"] != cell["status"]:
            diffs.append(Diff(f"{label} status", cell["status"], got["status"], "equal"))
            continue
        for name, value in cell["metrics"].items():
            if only is not None and name not in only:
                continue
            new_value = got["metrics"].get(name)
            old_list = value if isinstance(value, list) else [value]
            new_list = new_value if isinstance(new_value, list) else [new_value]
            if new_value is None or len(old_list) != len(new_list):
                diffs.append(Diff(f"{label} {name}", _short(value), _short(new_value), tol))
                continue
            for i, (a, b) in enumerate(zip(old_list, new_list, strict=True)):
                if not _close(a, b):
                    key = name if not isinstance(value, list) else f"{name}[{i}]"
                    diffs.append(Diff(f"{label} {key}", f"{a:.10g}", f"{b:.10g}", tol))
    for label in new["cells"]:
        if label not in stored["cells"]:
            diffs.append(Diff(label, "absent", "new cell", "absent"))
    return diffs


def split_label(label: str) -> tuple[str, str]:
    """'model=fsb seed=2' -> ('model=fsb', '2'): a cell's configuration and seed."""
    head, _, seed = label.rpartition("seed=")
    return head.strip(), seed


def seed_samples(cells: dict, skip: set[str] | frozenset[str] = frozenset()
                 ) -> dict[str, dict[str, dict[str, float]]]:
    """{metric key: {configuration: {seed: value}}} of a snapshot's finished cells; a
    vector or curve gives one key per entry (``name[i]``). Metrics in ``skip`` are left
    out."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label, cell in cells.items():
        if cell["status"] != "done":
            continue
        config, seed = split_label(label)
        for name, value in cell["metrics"].items():
            if name in skip:
                continue
            values = value if isinstance(value, list) else [value]
            for i, v in enumerate(values):
                key = name if not isinstance(value, list) else f"{name}[{i}]"
                out.setdefault(key, {}).setdefault(config, {})[seed] = v
    return out


def _statistical(stored: dict, new: dict, floors: dict[str, float],
                 deterministic: set[str] | frozenset[str],
                 curves: set[str] | frozenset[str] = frozenset()) -> list[Diff]:
    """Deterministic metrics and cell statuses exactly; every other number by
    distribution (harness/stats/drift.py). Tuned values are noisy picks across machine classes:
    they are not compared here (cmd_regress reruns the main cells with the stored picks
    where they differ and says so)."""
    diffs = _exact(stored, new, only=deterministic, tuned=False)
    old, cur = seed_samples(stored["cells"], deterministic), \
        seed_samples(new["cells"], deterministic)
    samples = {key: {config: (seeds, cur.get(key, {}).get(config, {}))
                     for config, seeds in configs.items()}
               for key, configs in old.items()}
    diffs += [Diff(f"{config} {key}", f"{a} finite values", f"{b} finite values",
                   "the same count") for key, config, a, b in drift.count_changes(old, cur)]
    for test in drift.family(samples, floors, curves):
        if test.moved():
            diffs.append(Diff(f"{test.what} {test.key} ({test.kind})", test.stored or "-",
                              test.new or "-", f"Holm p {test.adjusted:.2g} <= {drift.ALPHA:g}"))
    return diffs


def tuned_changes(stored: dict, new: dict) -> dict[str, tuple[float | None, float | None]]:
    """{group: (stored pick, new pick)} of the tuning groups whose pick differs."""
    return {group: (value, new["tuned"].get(group)) for group, value in stored["tuned"].items()
            if value is None or new["tuned"].get(group) is None
            or not _close(value, new["tuned"][group])}


def identical(stored: dict, new: dict) -> tuple[int, int]:
    """(numbers bit-identical, numbers compared) over the stored cells: across machine
    classes a count near the total says the kernels happened to agree."""
    same = total = 0
    for label, cell in stored["cells"].items():
        got = (new["cells"].get(label) or {}).get("metrics", {})
        for name, value in cell["metrics"].items():
            old = value if isinstance(value, list) else [value]
            cur = got.get(name)
            cur = cur if isinstance(cur, list) else [cur]
            total += len(old)
            same += sum(a == b for a, b in zip(old, cur, strict=False))
    return same, total


def _short(value) -> str:
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return "missing" if value is None else f"{value:.10g}"


def diff_table(diffs: list[Diff]) -> str:
    return tabulate([[d.what, d.stored, d.new, d.tolerance] for d in diffs],
                    headers=["metric", "stored", "new", "tolerance"], disable_numparse=True)
