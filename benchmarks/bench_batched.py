"""One-cell-at-a-time vs batched training of a suite's tier, timed in one run.

Runs the same plan twice through the real runner (tuning trials and main cells, store
writes included), once with --batch 1 and once batched, each into a fresh store, and
prints both wall times, their ratio, whether the stored metrics are identical, and the
device and versions.

    python benchmarks/bench_batched.py --suite dsb_mnist1d --tier full [--device cuda]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from harness.determinism import resolve_device
from harness.plan import resolve
from harness.runner import Runner
from harness.store import Store
from harness.suite import load_suite


def timed_run(plan, device: torch.device, batch: int, folder: Path) -> tuple[float, dict]:
    with Store(folder / f"batch{batch}.sqlite") as store:
        runner = Runner(store, device, None, progress=False, batch_size=batch)
        start = time.perf_counter()
        result = runner.run(plan)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    records = [*result.records, *(r for t in result.tuning for r in t.trials)]
    return wall, {r.id: r.metrics for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="dsb_mnist1d")
    parser.add_argument("--tier", default="full")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    device = resolve_device(args.device)
    plan = resolve(load_suite(args.suite), args.tier)
    main_cells, trials = plan.cell_count()
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up (data generation, CUDA context) so neither side pays it.
        warm = resolve(load_suite(args.suite), "smoke")
        (Path(tmp) / "warm").mkdir()
        timed_run(warm, device, args.batch, Path(tmp) / "warm")
        one, one_metrics = timed_run(plan, device, 1, Path(tmp))
        batched, batched_metrics = timed_run(plan, device, args.batch, Path(tmp))
    same = one_metrics == batched_metrics
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"suite {args.suite}, tier {args.tier}: {main_cells} cells + {trials} tuning trials")
    print(f"device {device} ({name or platform.machine()}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, python {platform.python_version()}")
    print(f"one cell at a time: {one:8.1f} s")
    print(f"batched (<= {args.batch}): {batched:8.1f} s")
    print(f"ratio: {one / batched:.2f}x")
    print(f"stored metrics identical: {same}")


if __name__ == "__main__":
    main()
