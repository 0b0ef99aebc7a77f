"""How many seeds regress's statistical mode needs to see a shared-code change.

Across machine classes each seed's number is, at worst, a new draw (a trained network
turns a kernel's last bit into a seed-sized difference), so the pairing of stored and new
seeds helps nothing and the comparison is two independent samples per configuration.
This script simulates exactly that worst case with the suite's own shape (how many
configurations and metric keys one tier compares, harness/stats/drift.py's whole Holm family)
and prints, per seed count, the chance that a change moving one metric by ``delta`` seed
SDs in every configuration is flagged (detection), and the chance that nothing changed
and something is flagged (false alarm).

    python benchmarks/regress_power.py --configs 3 --keys 12 [--delta 1 2] [--reps 400]

The rule the quick tiers follow (docs/regression-across-machines.md): a tier's seed count
is the smallest that detects a 2-SD shared change with probability >= 0.8 in this worst
case, or the tier says in its description why it cannot afford it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.stats import drift  # noqa: E402


def simulate(configs: int, keys: int, seeds: int, delta: float, reps: int,
             rng: np.random.Generator) -> tuple[float, float]:
    """(detection rate of a ``delta``-SD shift of key 0 in every configuration, false-alarm
    rate with no shift), over ``reps`` simulated suites."""
    hits = alarms = 0
    labels = [str(s) for s in range(seeds)]
    for _ in range(reps):
        for shift, counter in ((delta, "hit"), (0.0, "alarm")):
            samples = {}
            for k in range(keys):
                samples[f"m{k}"] = {
                    f"c{c}": (dict(zip(labels, rng.normal(size=seeds), strict=True)),
                              dict(zip(labels, rng.normal(size=seeds)
                                       + (shift if k == 0 else 0.0), strict=True)))
                    for c in range(configs)}
            moved = [t for t in drift.family(samples, {}) if t.moved()]
            if counter == "hit":
                hits += any(t.key == "m0" for t in moved)
            else:
                alarms += bool(moved)
    return hits / reps, alarms / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, required=True)
    parser.add_argument("--keys", type=int, required=True,
                        help="metric keys the statistical mode compares (a curve counts 1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 6, 8, 10, 12])
    parser.add_argument("--delta", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--rng", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.rng)
    rows = []
    for seeds in args.seeds:
        row = [seeds]
        alarm = 0.0
        for delta in args.delta:
            hit, alarm_d = simulate(args.configs, args.keys, seeds, delta, args.reps, rng)
            row.append(f"{hit:.2f}")
            alarm = max(alarm, alarm_d)
        rows.append(row + [f"{alarm:.3f}"])
    print(f"{args.configs} configurations x {args.keys} keys, independent draws across "
          f"classes, {args.reps} simulated suites per cell")
    print(tabulate(rows, headers=["seeds"] + [f"detect {d:g} SD" for d in args.delta]
                   + ["false alarm"], disable_numparse=True))


if __name__ == "__main__":
    main()
