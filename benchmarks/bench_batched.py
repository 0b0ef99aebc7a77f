"""One-cell-at-a-time vs batched training of a suite's tier, timed in one run.

Runs the same plan through the real runner (tuning trials and main cells, store writes
included), each way into a fresh store: one cell at a time, then batched, in this
process; with ``--workers N`` also both ways on a Dask LocalCluster of N one-thread
worker processes (the tuning groups' rounds and the main batches then train side by
side). Prints each wall time, its ratio to the one-cell in-process run, whether its
stored metrics are identical to that run's, and the device and versions.

    python benchmarks/bench_batched.py --suite dsb_mnist1d --tier full [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from machine import describe, sync

from harness.determinism import resolve_device
from harness.run.executors import DaskExecutor
from harness.run.runner import Runner
from harness.run.store import Store
from harness.spec.plan import resolve
from harness.spec.suite import load_suite


def timed_run(plan, device: torch.device, batch: int, store_path: Path,
              workers: int = 0) -> tuple[float, dict]:
    executor = DaskExecutor(workers=workers) if workers else None  # started before timing
    with Store(store_path) as store:
        runner = Runner(store, device, None, progress=False, batch_size=batch,
                        executor=executor)
        start = time.perf_counter()
        try:
            result = runner.run(plan)
            sync(device)
            wall = time.perf_counter() - start
        finally:
            runner.executor.close()
    records = [*result.records, *(r for t in result.tuning for r in t.trials)]
    return wall, {r.id: (r.status, r.metrics) for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="dsb_mnist1d")
    parser.add_argument("--tier", default="full")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0,
                        help="also run both ways on this many Dask worker processes")
    args = parser.parse_args()
    device = resolve_device(args.device)
    suite = load_suite(args.suite)
    plan = resolve(suite, args.tier)
    main_cells, trials = plan.cell_count()
    ways = [("one cell at a time", 1, 0), (f"batched (<= {args.batch})", args.batch, 0)]
    if args.workers:
        ways += [(f"one cell at a time, {args.workers} workers", 1, args.workers),
                 (f"batched (<= {args.batch}), {args.workers} workers", args.batch,
                  args.workers)]
    print(f"suite {args.suite}, tier {args.tier}: {main_cells} cells + {trials} tuning trials")
    print(describe(device, suite.spec.threads))
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up (data generation, CUDA context) so no way pays it.
        timed_run(resolve(suite, "smoke"), device, args.batch, Path(tmp) / "warm.sqlite")
        base = None
        for i, (label, batch, workers) in enumerate(ways):
            wall, metrics = timed_run(plan, device, batch, Path(tmp) / f"{i}.sqlite", workers)
            base = base or (wall, metrics)
            print(f"{label:>34}: {wall:8.1f} s  {base[0] / wall:5.2f}x  "
                  f"stored metrics identical: {metrics == base[1]}", flush=True)


if __name__ == "__main__":
    main()
