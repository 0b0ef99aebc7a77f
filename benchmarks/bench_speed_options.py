"""The speed options of the transformer and SPARLING suites, timed in one run.

Trains the same short cell (the suite's own task, a tier's sizes, fewer steps) with each
option set: fp32 eager (what CI stores), bf16 autocast, torch.compile, both. Prints the
steady-state speed (tokens/s for the attention suite, ms per step for SPARLING; both
leave the warm-up and compilation out), the cell's wall time (compilation included),
the ratio to fp32 eager, the device and the versions.

    python benchmarks/bench_speed_options.py --suite adaptive_sparse_attention --device cuda
    python benchmarks/bench_speed_options.py --suite sparling --tier quick --device cpu
"""

from __future__ import annotations

import argparse

from machine import describe, peak_tflops

from harness.determinism import resolve_device
from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite

OPTIONS = {
    "fp32": {"precision": "fp32", "compile": False},
    "bf16": {"precision": "bf16", "compile": False},
    "compile": {"precision": "fp32", "compile": True},
    "bf16+compile": {"precision": "bf16", "compile": True},
}

# per suite: the factor values of the timed cell, the short-run overrides (a function of
# --steps), and the speed metric with whether higher is faster
SETUPS = {
    "adaptive_sparse_attention": (
        {"model": "dense", "seq_len": 256},
        lambda steps: {"steps": steps, "timing_warmup": max(steps // 3, 1), "val_per_type": 8,
                       "log_every": steps},
        "tokens_per_s", True),
    "sparling": (
        {"method": "MT"},
        lambda steps: {"max_steps": steps, "val_every": max(steps // 5, 1), "n_val": 32,
                       "n_test": 64},
        "step_ms", False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SETUPS), default="adaptive_sparse_attention")
    parser.add_argument("--tier", default=None, help="sizes from this tier (default: full on "
                        "a GPU, quick on a CPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--options", default=",".join(OPTIONS),
                        help=f"comma-separated, from {', '.join(OPTIONS)}")
    args = parser.parse_args()
    device = resolve_device(args.device)
    tier = args.tier or ("full" if device.type == "cuda" else "quick")
    suite = load_suite(args.suite)
    plan = resolve(suite, tier)
    factors, overrides, metric, higher_is_faster = SETUPS[args.suite]
    peak = peak_tflops(device)
    print(f"{args.suite}, tier {tier} sizes, {args.steps} steps; "
          f"{describe(device, suite.spec.threads)}")
    base = None
    for option in args.options.split(","):
        params = {**plan.params, **factors, **overrides(args.steps), **OPTIONS[option],
                  "seed": 0}
        record = execute_cell(suite, make_cell(suite, "main", params), device, None)
        if record.status != "done":
            print(f"{option:>13}: failed: {record.error}")
            continue
        speed = record.metrics[metric]
        base = base or (option, speed)
        ratio = speed / base[1] if higher_is_faster else base[1] / speed
        extra = ""
        if metric == "tokens_per_s" and peak:
            mfu = 6 * record.metrics["param_count"] * speed / (peak * 1e12)
            extra = f", MFU {100 * mfu:.1f} % of {peak:g} TFLOP/s"
        unit = "tokens/s" if metric == "tokens_per_s" else "ms/step"
        compiling = " (compilation included)" if OPTIONS[option]["compile"] else ""
        print(f"{option:>13}: {speed:12,.1f} {unit}, {ratio:5.2f}x {base[0]}, cell wall "
              f"{record.wall_s:.1f} s{compiling}{extra}")


if __name__ == "__main__":
    main()
