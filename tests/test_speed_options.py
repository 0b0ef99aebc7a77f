"""The speed options a tier can turn on (bf16 autocast, torch.compile): plumbed through,
off by default, and a clear error for a bad value. torch.compile itself is exercised by
benchmarks/bench_speed_options.py (a cold compile takes minutes on a 2-core CPU)."""

from __future__ import annotations

import math

import pytest
import torch

from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite

CASES = [("adaptive_sparse_attention", {"model": "adaptive", "seq_len": 64}),
         ("sparling", {"method": "MT"})]


def smoke(suite_name: str, factors: dict, **extra):
    suite = load_suite(suite_name)
    params = {**resolve(suite, "smoke").params, **factors, "seed": 0, **extra}
    return execute_cell(suite, make_cell(suite, "main", params), torch.device("cpu"), None)


@pytest.mark.parametrize("suite_name,factors", CASES)
def test_bf16_autocast_runs_and_changes_the_arithmetic(one_thread, suite_name, factors):
    fp32 = smoke(suite_name, factors)
    bf16 = smoke(suite_name, factors, precision="bf16")
    assert fp32.status == bf16.status == "done", (fp32.error, bf16.error)
    timing = {k for k, m in load_suite(suite_name).spec.metrics.items() if m.timing}
    for value in bf16.metrics.values():
        assert all(math.isfinite(v) for v in (value if isinstance(value, list) else [value]))
    differ = [k for k in fp32.metrics if k not in timing and fp32.metrics[k] != bf16.metrics[k]]
    assert differ, "bf16 autocast changed no metric: is it applied?"


@pytest.mark.parametrize("suite_name,factors", CASES)
def test_speed_options_are_off_by_default_and_on_in_the_fast_tier(suite_name, factors):
    suite = load_suite(suite_name)
    full, fast = resolve(suite, "full").params, resolve(suite, "fast").params
    assert (full["precision"], full["compile"]) == ("fp32", False)
    assert (fast["precision"], fast["compile"]) == ("bf16", True)
    assert {k: v for k, v in fast.items() if k not in ("precision", "compile")} == \
        {k: v for k, v in full.items() if k not in ("precision", "compile")}


@pytest.mark.parametrize("suite_name,factors", CASES)
def test_a_bad_precision_fails_the_cell_with_its_name(suite_name, factors):
    record = smoke(suite_name, factors, precision="fp8")
    assert record.status == "failed" and "precision 'fp8'" in record.error
