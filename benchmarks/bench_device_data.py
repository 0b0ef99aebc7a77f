"""DataLoader vs tensors kept on the device, for one MNIST-1D MLP, timed in one run.

Trains the dsb_mnist1d suite's model (Adam, batch 100, cross-entropy) the same number of
epochs two ways: the usual ``DataLoader(TensorDataset, shuffle=True)`` loop, which
collates every batch on the host and copies it to the device, and the suites' way, where
the whole data set is a tensor on the device and each epoch is a seeded index
permutation. Prints both wall times, the ratio, the device and the versions.

    python benchmarks/bench_device_data.py [--device cuda] [--model dsb] [--epochs 10]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from machine import describe, sync
from torch.utils.data import DataLoader, TensorDataset

from baselines.mnist1d_data import load_mnist1d
from baselines.sparse_mlp import KINDS, SparseMLP
from harness.determinism import resolve_device


def train(model: SparseMLP, batches, device: torch.device) -> float:
    """Wall seconds to run Adam over ``batches`` (an iterable of (x, y) pairs)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=False, foreach=False)
    sync(device)
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x.to(device, non_blocking=True)),
                               y.to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - start


def with_dataloader(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int):
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    for _ in range(epochs):
        yield from loader


def with_device_tensors(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int):
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=generator).to(x.device)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            yield x[idx], y[idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", choices=KINDS, default="dsb")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (the suite pins 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_mnist1d()
    x_host, y_host = data["x_train"], data["y_train"]
    x_dev, y_dev = x_host.to(device), y_host.to(device)
    print(f"{args.model} MLP, {len(x_host)} rows, {args.epochs} epochs of batch {args.batch}, "
          f"median of {args.repeats}; {describe(device)}")
    ways = {
        "DataLoader": lambda: with_dataloader(x_host, y_host, args.epochs, args.batch),
        "device tensors": lambda: with_device_tensors(x_dev, y_dev, args.epochs, args.batch),
    }
    walls: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # interleaved, so drifting load hits both ways alike
        for name, batches in ways.items():
            torch.manual_seed(0)
            model = SparseMLP(args.model, x_host.shape[1], tau_bias=-2.0).to(device)
            walls[name].append(train(model, batches(), device))
    medians = {name: sorted(w)[len(w) // 2] for name, w in walls.items()}
    for name, wall in medians.items():
        print(f"{name:>15}: {wall:7.2f} s  {medians['DataLoader'] / wall:5.2f}x DataLoader")


if __name__ == "__main__":
    main()
