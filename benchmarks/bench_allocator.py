"""The sae_mnist_logits sweep's hidden-8192 classifier step with glibc's default malloc
and with large blocks kept in the heap (harness/run/allocator.py), timed in one run.

Each way runs in its own fresh process (malloc's settings are per process), alternating,
``--repeats`` times; prints ms per step, minor page faults per step, the ratio of the
medians, and whether the trained weights are the same bits both ways.

    python benchmarks/bench_allocator.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time, torch, torch.nn.functional as F
from baselines.mnist import load_mnist
from baselines.sae import FFN
from harness.run.allocator import keep_large_blocks
steps, data_dir = int(sys.argv[1]), sys.argv[2] or None
kept = keep_large_blocks()
torch.set_num_threads(1)
data = load_mnist(data_dir)
x, y = data["x_train"][: 8 * (steps + 20)], data["y_train"][: 8 * (steps + 20)]
torch.manual_seed(0)
model = FFN("relu", d_in=784, hidden=8192)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
def step(i):
    loss = F.cross_entropy(model(x[8 * i:8 * i + 8]), y[8 * i:8 * i + 8])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    loss.item()
for i in range(20):
    step(i)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
start = time.perf_counter()
for i in range(20, 20 + steps):
    step(i)
ms = 1e3 * (time.perf_counter() - start) / steps
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
digest = float(model.W_in_ih.weight.double().sum())
print(json.dumps({"kept": kept, "ms": ms, "faults": faults, "digest": digest}))
"""


def run_child(way: str, steps: int, data_dir: str) -> dict:
    env = {**os.environ, "SPARSEBENCH_MALLOC": way, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps), data_dir], env=env,
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("SPARSEBENCH_DATA", ""),
                        help="MNIST folder (default: $SPARSEBENCH_DATA)")
    args = parser.parse_args()
    print(f"sae_mnist_logits sweep step, hidden 8192, batch 8, {args.steps} timed steps, "
          f"{args.repeats} fresh processes each way, alternating")
    print(describe(torch.device("cpu"), 1))
    runs: dict[str, list[dict]] = {"default": [], "kept": []}
    for _ in range(args.repeats):
        for way in runs:
            runs[way].append(run_child(way, args.steps, args.data_dir))
    medians = {way: statistics.median(r["ms"] for r in rs) for way, rs in runs.items()}
    for way, rs in runs.items():
        faults = statistics.median(r["faults"] for r in rs)
        print(f"{way:>8} malloc: {medians[way]:7.2f} ms/step (median), {faults:8.1f} minor page "
              f"faults per step, in effect: {rs[0]['kept']}")
    same = len({r["digest"] for rs in runs.values() for r in rs}) == 1
    print(f"ratio default / kept: {medians['default'] / medians['kept']:.2f}x; "
          f"trained weights the same bits every run: {same}")


if __name__ == "__main__":
    main()
