"""sae_tutorial's calibrated L1 cells of one seed, without and with the shared grid, timed
in one run.

The L1 cells at rho 0.01, 0.05 and 0.1 of one seed train the same lambda grid
(harness/artifacts.py). Runs those cells one after another in this process twice: (a)
with no artifact folder, so each cell trains the grid itself, and (b) with an empty one,
so the first cell trains it and the others read it. The sizes are a tier's, the rho
values the suite's own (the smoke tier keeps only 0.05). Prints both wall times, the
ratio, whether the stored metrics are identical, and the device and versions.

    python benchmarks/bench_calibration_cache.py [--tier full] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from machine import describe, sync

from harness.determinism import resolve_device
from harness.run.execute import execute_cell
from harness.spec.plan import Cell, make_cell, resolve
from harness.spec.suite import load_suite

SUITE = "sae_tutorial"


def timed(suite, cells: list[Cell], device: torch.device, data_dir: Path | None,
          artifacts: Path | None) -> tuple[float, dict]:
    """Wall seconds to run ``cells`` one after another, and their (status, metrics)."""
    sync(device)
    start = time.perf_counter()
    records = [execute_cell(suite, cell, device, data_dir, artifacts=artifacts)
               for cell in cells]
    sync(device)
    wall = time.perf_counter() - start
    for record in records:
        if record.status != "done":
            raise SystemExit(f"cell {record.id} failed: {record.error}")
    return wall, {r.id: (r.status, r.metrics) for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="quick")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=None, help="default: the tier's first")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="MNIST folder (default: $SPARSEBENCH_DATA)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data_dir = args.data_dir or (Path(os.environ["SPARSEBENCH_DATA"])
                                 if os.environ.get("SPARSEBENCH_DATA") else None)
    suite = load_suite(SUITE)
    plan = resolve(suite, args.tier)
    seed = plan.seeds[0] if args.seed is None else args.seed
    rhos = [r for r in suite.spec.factors["rho"] if r > 0]
    cells = [make_cell(suite, "main", {**plan.config_params({"method": "l1", "rho": rho}),
                                       "seed": seed})
             for rho in rhos]
    grid = int(plan.params["l1_grid_points"])
    print(f"suite {SUITE}, tier {args.tier} sizes: L1 cells at rho "
          f"{', '.join(map(str, rhos))} of seed {seed}, a {grid}-point lambda grid each")
    print(describe(device, suite.spec.threads))
    # Warm-up (MNIST decoded into the process cache, CUDA context) so neither way pays it.
    warm = next(c for c in resolve(suite, "smoke").main_cells() if c.params["method"] != "l1")
    execute_cell(suite, warm, device, data_dir)
    alone, metrics = timed(suite, cells, device, data_dir, None)
    print(f"{'each cell trains its grid':>27}: {alone:8.1f} s  {1:5.2f}x", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        together, shared_metrics = timed(suite, cells, device, data_dir, Path(tmp))
    print(f"{'one grid, shared':>27}: {together:8.1f} s  {alone / together:5.2f}x  "
          f"stored metrics identical: {shared_metrics == metrics}")


if __name__ == "__main__":
    main()
