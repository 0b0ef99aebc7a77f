"""sae_mnist_logits' classifier step with PyTorch's default Adam and with fused Adam,
timed in one run.

The suite trains every MLP at batch size 8 on one CPU thread, where a step of the
hidden-8192 sweep point is memory traffic over 6.5 M parameters and their Adam moments.
The suite's optimiser is ``torch.optim.Adam(..., fused=True)``; this times the classifier
step of the task (the suite's FFN, cross-entropy, zero_grad, backward, step) on real
MNIST rows for each hidden size the suite trains, with each optimiser implementation,
and prints ms per step and the ratio to the default. Both ways train the same model from
the same initialisation on the same batches; the last line per size gives the largest
difference of the weights after the timed steps (the two implementations round
differently, so it is small, not zero).

    python benchmarks/bench_fused_adam.py [--steps 300] [--hidden 128,1024,8192]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import describe

from baselines.mnist import load_mnist
from baselines.sae import FFN

BATCH = 8
WAYS = {"default (for-loop)": {"foreach": False}, "foreach": {"foreach": True},
        "fused": {"fused": True}}


def timed(hidden: int, way: dict, x: torch.Tensor, y: torch.Tensor, steps: int,
          warmup: int) -> tuple[float, torch.Tensor]:
    """ms per classifier step after ``warmup`` steps, and the trained first-layer weights."""
    torch.manual_seed(0)
    model = FFN("relu", d_in=x.shape[1], hidden=hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **way)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        idx = order[step * BATCH:(step + 1) * BATCH]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # the task reads every loss
    ms = 1e3 * (time.perf_counter() - start) / steps
    return ms, model.W_in_ih.weight.detach().clone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--hidden", default="128,1024,8192")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="MNIST folder (default: $SPARSEBENCH_DATA)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the suite's threads = 1
    data_dir = args.data_dir or (Path(os.environ["SPARSEBENCH_DATA"])
                                 if os.environ.get("SPARSEBENCH_DATA") else None)
    data = load_mnist(data_dir)
    n = BATCH * (args.warmup + args.steps)
    x, y = data["x_train"][:n], data["y_train"][:n]
    print(f"sae_mnist_logits classifier step, batch {BATCH}, {args.steps} timed steps")
    print(describe(torch.device("cpu"), 1))
    for hidden in (int(h) for h in args.hidden.split(",")):
        results = {name: timed(hidden, way, x, y, args.steps, args.warmup)
                   for name, way in WAYS.items()}
        base_ms, base_w = results["default (for-loop)"]
        for name, (ms, _) in results.items():
            print(f"hidden {hidden:5d}  {name:>18}: {ms:7.2f} ms/step  {base_ms / ms:5.2f}x")
        diff = (results["fused"][1] - base_w).abs().max().item()
        print(f"hidden {hidden:5d}  largest |fused - default| weight after the steps: {diff:.2e}")


if __name__ == "__main__":
    main()
