"""Training throughput of the attention suite's models at the write-up's size.

Runs a short training cell per model through the suite's own task (same code path as a
full-tier cell, fewer steps) and prints tokens/s (median over steps after warm-up),
parameters, and model FLOPs utilisation: 6 x params x tokens/s over the device's peak.

    python benchmarks/bench_attention_throughput.py --device cuda --seq-len 256
"""

from __future__ import annotations

import argparse

from machine import describe, peak_tflops

from harness.determinism import resolve_device
from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--models", default="dense,fixed50,adaptive")
    args = parser.parse_args()
    device = resolve_device(args.device)
    suite = load_suite("adaptive_sparse_attention")
    plan = resolve(suite, "full")
    peak = peak_tflops(device)
    print(f"{describe(device, suite.spec.threads)}; steps {args.steps}, "
          f"seq_len {args.seq_len}, tokens/step {plan.params['tokens_per_step']}")
    for model in args.models.split(","):
        params = {**plan.params, "model": model, "seq_len": args.seq_len,
                  "steps": args.steps, "timing_warmup": min(20, args.steps // 3), "seed": 0}
        record = execute_cell(suite, make_cell(suite, "main", params), device, None)
        if record.status != "done":
            print(f"{model}: failed: {record.error}")
            continue
        m = record.metrics
        tps = m["tokens_per_s"]
        n_params = m.get("param_count", float("nan"))
        mfu = f", MFU {100 * 6 * n_params * tps / (peak * 1e12):.1f} % of {peak:g} TFLOP/s" \
            if peak else ""
        print(f"{model:>9}: {tps:12,.0f} tokens/s, {n_params / 1e6:.3f}M params, "
              f"cell wall {record.wall_s:.1f} s{mfu}")


if __name__ == "__main__":
    main()
