"""The speed benchmarks still run and print what they promise (tiny sizes; no timing is
asserted: speed goals live in the benchmarks' printed ratios, never in tests)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import DATA, REPO, needs_mnist, require


def bench(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"device cpu \(.*\), torch .*, python ", proc.stdout), proc.stdout
    return proc.stdout


def test_batched_benchmark_times_four_ways_with_identical_metrics():
    require("distributed")
    out = bench("bench_batched.py", "--tier", "smoke", "--device", "cpu", "--workers", "2")
    ways = re.findall(r"^ *(.+?): +[\d.]+ s +[\d.]+x +stored metrics identical: (\w+)$",
                      out, re.M)
    assert [w for w, _ in ways] == ["one cell at a time", "batched (<= 16)",
                                    "one cell at a time, 2 workers",
                                    "batched (<= 16), 2 workers"], out
    assert all(same == "True" for _, same in ways), out


def test_device_data_benchmark_prints_both_ways_and_the_ratio():
    out = bench("bench_device_data.py", "--epochs", "1", "--repeats", "1", "--device", "cpu")
    assert re.search(r"DataLoader: +[\d.]+ s +1\.00x DataLoader", out), out
    assert re.search(r"device tensors: +[\d.]+ s +[\d.]+x DataLoader", out), out


def test_speed_options_benchmark_prints_each_option_against_fp32():
    out = bench("bench_speed_options.py", "--suite", "adaptive_sparse_attention", "--tier",
                "quick", "--steps", "4", "--options", "fp32,bf16", "--device", "cpu")
    assert re.search(r"fp32: +[\d,.]+ tokens/s, +1\.00x fp32", out), out
    assert re.search(r"bf16: +[\d,.]+ tokens/s, +[\d.]+x fp32", out), out


@needs_mnist
def test_calibration_cache_benchmark_times_both_ways_with_identical_metrics():
    out = bench("bench_calibration_cache.py", "--tier", "smoke", "--device", "cpu",
                "--data-dir", str(DATA))
    assert "L1 cells at rho 0.01, 0.05, 0.1 of seed 0" in out, out
    assert re.search(r"each cell trains its grid: +[\d.]+ s +1\.00x$", out, re.M), out
    assert re.search(r"one grid, shared: +[\d.]+ s +[\d.]+x +stored metrics identical: True$",
                     out, re.M), out


@needs_mnist
def test_allocator_benchmark_prints_both_ways_and_the_same_bits():
    out = bench("bench_allocator.py", "--steps", "5", "--repeats", "1", "--data-dir", str(DATA))
    assert re.search(r"default malloc: +[\d.]+ ms/step .*in effect: False", out), out
    assert re.search(r"kept malloc: +[\d.]+ ms/step .*in effect: True", out), out
    assert "trained weights the same bits every run: True" in out, out


@needs_mnist
def test_fused_adam_benchmark_prints_each_way_against_the_default():
    out = bench("bench_fused_adam.py", "--steps", "3", "--warmup", "1", "--hidden", "64",
                "--data-dir", str(DATA))
    assert re.search(r"hidden +64 +default \(for-loop\): +[\d.]+ ms/step +1\.00x", out), out
    assert re.search(r"hidden +64 +fused: +[\d.]+ ms/step +[\d.]+x", out), out
    assert re.search(r"largest \|fused - default\| weight after the steps: ", out), out


def test_sparling_step_benchmark_prints_every_phase_and_way_against_fp32():
    # every way but +compile: a cold torch.compile costs about 40 s on a 2-core CPU and is
    # the benchmark's own business (tests/test_speed_options.py checks its plumbing)
    ways = ("fp32", "bf16", "bf16+fused", "+channels_last", "+data_ahead", "no_sparsity",
            "fp32_tier", "plain_readout")
    out = bench("bench_sparling_step.py", "--tier", "smoke", "--steps", "2", "--warmup", "1",
                "--concurrent", "2", "--ways", ",".join(ways))
    assert "sparling tier smoke: 32 px, batch 8, 2 timed steps" in out, out
    number = r" +[\d.]+"
    for way in ways:
        assert re.search(rf"^ *{re.escape(way)}{number * 5} ms/step +[\d.]+x fp32$", out,
                         re.M), (way, out)
    # smoke: 6 methods x 2 seeds, 6 steps each
    assert re.search(r"^2 processes at once: [\d.]+-[\d.]+ ms/step each, [\d.]+ steps/s "
                     r"together; the tier's 12 cells x 6 steps: [\d.]+ min of training$",
                     out, re.M), out
