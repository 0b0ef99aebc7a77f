"""Stored numbers: write them from a run, compare a new run against them.

Metrics marked ``timing = true`` are left out: wall-clock numbers never repeat; so are
image metrics (pictures such as decoder filters; the numbers judged are regressed).
Exact comparison (float tolerance) when the stored run came from the same platform
(torch, device, threads), where reruns are bit-identical; statistical comparison of
per-configuration means otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from . import stats
from .determinism import platform_key
from .runner import RunResult

RTOL, ATOL = 1e-9, 1e-12  # exact mode: only float round-off may differ
Z = 4.0  # statistical mode: |mean difference| <= Z standard errors of the difference


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
    cells, groups = {}, {}
    for r in sorted(run.records, key=lambda r: _label(r.params, [*factors, "seed"])):
        label = _label(r.params, [*factors, "seed"])
        metrics = {k: v for k, v in r.metrics.items() if k not in timings}
        cells[label] = {"status": r.status, "metrics": metrics}
        if r.status == "done":
            config = groups.setdefault(_label(r.params, factors), {})
            for name, value in metrics.items():
                values = value if isinstance(value, list) else [value]
                for i, v in enumerate(values):
                    key = name if not isinstance(value, list) else f"{name}[{i}]"
                    config.setdefault(key, []).append(v)
    configs = {}
    for label, metrics in groups.items():
        configs[label] = {}
        for key, values in metrics.items():
            s = stats.summarize(values, n_boot=0) if len(values) else None
            configs[label][key] = {"n": s.n, "mean": s.mean,
                                   "sd": None if math.isnan(s.sd) else s.sd}
    tuned = {_label(t.group, list(t.group)): t.best_value for t in run.tuning}
    code = {"digest": plan.suite.code.digest, "task_version": plan.suite.task_version,
            "files": list(plan.suite.code.files)}
    return {"suite": plan.suite.name, "tier": plan.tier, "generated_by": command,
            "environment": env, "code": code, "tuned": tuned, "cells": cells,
            "configs": configs}


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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def compare(stored: dict, new: dict, floors: dict[str, float] | None = None
            ) -> tuple[str, list[Diff]]:
    """('exact' | 'statistical', differences beyond tolerance). ``floors`` are the
    metrics' declared tolerances, the least a statistical comparison allows."""
    same = bool(stored.get("environment")) and \
        platform_key(stored["environment"]) == platform_key(new["environment"])
    if same:
        return "exact", _exact(stored, new)
    return "statistical", _statistical(stored, new, floors or {})


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL + RTOL * abs(a)


def _exact(stored: dict, new: dict) -> list[Diff]:
    diffs = []
    tol = f"rel {RTOL:g}"
    for group, value in stored["tuned"].items():
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


def _statistical(stored: dict, new: dict, floors: dict[str, float]) -> list[Diff]:
    diffs = []
    for label, metrics in stored["configs"].items():
        got = new["configs"].get(label, {})
        for key, old in metrics.items():
            cur = got.get(key)
            if cur is None:
                diffs.append(Diff(f"{label} {key}", f"{old['mean']:.6g}", "missing", "present"))
                continue
            se = math.sqrt(((old["sd"] or 0) ** 2) / old["n"] + ((cur["sd"] or 0) ** 2) / cur["n"])
            tol = max(Z * se, floors.get(key.split("[")[0], 0.0),
                      ATOL + RTOL * abs(old["mean"]))
            if abs(cur["mean"] - old["mean"]) > tol:
                diffs.append(Diff(f"{label} {key} (mean of {cur['n']} seeds)",
                                  f"{old['mean']:.6g}", f"{cur['mean']:.6g}",
                                  f"±{tol:.3g} ({Z:g} SE)"))
    return diffs


def _short(value) -> str:
    if isinstance(value, list):
        return f"[{len(value)} values]"
    return "missing" if value is None else f"{value:.10g}"


def diff_table(diffs: list[Diff]) -> str:
    return tabulate([[d.what, d.stored, d.new, d.tolerance] for d in diffs],
                    headers=["metric", "stored", "new", "tolerance"], disable_numparse=True)
