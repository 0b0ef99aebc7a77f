"""Both error rates of regress's statistical mode (harness/stats/drift.py), on real suites.

False alarms: the committed quick tiers (suites/*/expected/quick.json) against runs of
the same code on other machine classes, each saved by

    sparsebench regress --tier quick --save-run DIR       # on another CPU, or here with
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 sparsebench regress ...

Every number flagged is a false alarm: the code did not change.

Misses: a deliberate change, emulated on each such run: one metric's values shifted by
``delta`` times the stored seed SD of each configuration (every entry of a vector or
curve, every configuration: a change to shared code; or one configuration alone). A
metric counts as detected when the comparison flags any of its numbers. Metrics whose
stored seeds have no spread in any configuration have no seed SD and are left out;
deterministic metrics are compared exactly and are left out too.

    python benchmarks/regress_error_rates.py --runs DIR [DIR ...] [--suite S ...]

prints, per suite and run: numbers compared, false alarms, and the detection rate at
1 and 2 seed SDs, for shared-code and one-configuration changes.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.refs import regress  # noqa: E402
from harness.spec.suite import load_suite  # noqa: E402

SUITES = ["adaptive_sparse_attention", "dsb_mnist1d", "sae_mnist_logits", "sae_tutorial",
          "sparling"]


def stored_sd(stored: dict) -> dict[tuple[str, str], float]:
    """{(configuration, key): the stored seeds' SD}."""
    out = {}
    for key, configs in regress.seed_samples(stored["cells"]).items():
        for config, seeds in configs.items():
            values = np.array(list(seeds.values()), dtype=float)
            out[(config, key)] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return out


def shifted(run: dict, metric: str, delta: float, sds: dict, only: str | None) -> dict:
    """``run`` with ``metric`` moved by ``delta`` stored seed SDs in every configuration
    (or in configuration ``only``)."""
    out = copy.deepcopy(run)
    for label, cell in out["cells"].items():
        config, _ = regress.split_label(label)
        value = cell["metrics"].get(metric)
        if value is None or (only is not None and config != only):
            continue
        if isinstance(value, list):
            cell["metrics"][metric] = [v + delta * sds.get((config, f"{metric}[{i}]"), 0.0)
                                       for i, v in enumerate(value)]
        else:
            cell["metrics"][metric] = value + delta * sds.get((config, metric), 0.0)
    return out


def flagged(stored: dict, run: dict, floors: dict, deterministic: set[str],
            curves: set[str]) -> list[str]:
    _, diffs = regress.compare(stored, run, floors, deterministic, curves)
    return [d.what for d in diffs]


def _names(what: list[str]) -> set[str]:
    """The metric names a list of flagged numbers touches."""
    names = set()
    for w in what:
        for token in w.replace("(", " ").split():
            names.add(token.split("[", 1)[0])
    return names


def rates(suite_name: str, run_path: Path) -> list:
    suite = load_suite(str(ROOT / "suites" / suite_name))
    stored = json.loads((ROOT / "suites" / suite_name / "expected" / "quick.json").read_text())
    run = json.loads(run_path.read_text())
    run = {**run, "environment": {**run["environment"], "machine_class": "benchmark"}}
    spec = suite.spec.metrics
    floors = {k: m.tolerance for k, m in spec.items()}
    deterministic = {k for k, m in spec.items() if m.deterministic}
    curves = {k for k, m in spec.items() if m.kind == "curve"}
    alarms = flagged(stored, run, floors, deterministic, curves)
    sds = stored_sd(stored)
    compared = sum(len(seeds) for configs in regress.seed_samples(stored["cells"]).values()
                   for seeds in configs.values())
    metrics = sorted({k.split("[", 1)[0] for (_, k), sd in sds.items() if sd > 0}
                     - deterministic)
    configs = sorted({c for c, _ in sds})
    row = [suite_name, run_path.parent.name, compared, len(alarms), len(metrics)]
    for delta in (1.0, 2.0):
        hit_all = sum(m in _names(flagged(stored, shifted(run, m, delta, sds, None), floors,
                                          deterministic, curves)) for m in metrics)
        row.append(f"{hit_all}/{len(metrics)}")
    one = configs[0]  # the first configuration alone, at 2 seed SDs and at 4
    for delta in (2.0, 4.0):
        moved = [m for m in metrics if sds.get((one, m), 0) > 0
                 or any(sds.get((one, f"{m}[{i}]"), 0) > 0 for i in range(64))]
        hit = sum(m in _names(flagged(stored, shifted(run, m, delta, sds, one), floors,
                                      deterministic, curves)) for m in moved)
        row.append(f"{hit}/{len(moved)}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True, metavar="DIR")
    parser.add_argument("--suite", action="append", default=None)
    args = parser.parse_args()
    rows = []
    for run_dir in args.runs:
        for name in args.suite or SUITES:
            path = run_dir / f"{name}-quick.json"
            if path.is_file():
                rows.append(rates(name, path))
    print(tabulate(rows, headers=["suite", "run", "numbers", "false alarms", "metrics",
                                  "all configs 1 SD", "all configs 2 SD", "one config 2 SD",
                                  "one config 4 SD"], disable_numparse=True))
    return 1 if any(r[3] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
