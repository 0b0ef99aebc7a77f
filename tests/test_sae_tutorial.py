"""The sae_tutorial suite: the task at tiny size, determinism, and a smoke-tier CLI run."""

from __future__ import annotations

import pytest
import torch

from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite
from tests.conftest import DATA, needs_mnist

SUITE = load_suite("sae_tutorial")
TINY = {"n_train": 200, "n_val": 100, "n_eval": 150, "n_probe": 150, "probe_iter": 10,
        "epochs": 1, "l1_grid_points": 2, "width": 64}
ALWAYS = {"mse", "l0", "l0_sd", "active_pct", "inactive_pct", "rho_hat", "dead_pct",
          "usage_balance", "probe_acc", "denoise_mse", "denoise_gain", "auroc_l0",
          "auroc_units", "lambda", "train_loss", "filters"}
TARGET = {"achieved", "target_err_pct", "share_err_pct"}


def _cell(grid: str, **factors):
    plan = resolve(SUITE, "smoke")
    extra = next((g.params for g in plan.grids if g.name == grid), {}) if grid != "main" else {}
    params = {**plan.params, **extra, **TINY, **factors}
    if grid != "main":
        params["grid"] = grid
    return make_cell(SUITE, "main", params)


def _run(cell):
    record = execute_cell(SUITE, cell, torch.device("cpu"), DATA)
    assert record.status == "done", record.error
    return record.metrics


def test_every_metric_is_declared_and_claims_load():
    assert ALWAYS | TARGET | {"calib_share"} == set(SUITE.spec.metrics)
    methods = SUITE.spec.factor_values()["method"]
    assert set(methods) == {"l1", "kl_batch", "kl_running", "dense", "topk", "wta", "lifetime"}
    kinds = {c.kind for c in SUITE.claims.claim}
    assert {"greater", "value", "threshold", "not_testable"} <= kinds


@needs_mnist
def test_calibrated_l1_cell_returns_every_metric():
    m = _run(_cell("main", method="l1", rho=0.05, seed=0))
    assert set(m) == ALWAYS | TARGET | {"calib_share"}
    assert len(m["calib_share"]) == 2 and len(m["train_loss"]) == 1
    assert m["lambda"] in (0.1, 0.2)
    assert abs(m["active_pct"] + m["inactive_pct"] - 100) < 1e-9
    assert 0.5 <= m["auroc_l0"] <= 1 and 0.5 <= m["auroc_units"] <= 1


@needs_mnist
@pytest.mark.parametrize("grid,factors", [
    ("equal_l0", {"method": "topk", "rho": 0.05}),
    ("equal_l0", {"method": "wta", "rho": 0.05}),
    ("width", {"method": "dense", "width": 32}),
])
def test_other_methods_return_their_metrics(grid, factors):
    m = _run(_cell(grid, seed=1, **factors))
    expected = ALWAYS | (TARGET if "rho" in factors else set())
    assert set(m) == expected
    if factors["method"] == "topk":
        assert m["l0"] == round(0.05 * 64) and m["l0_sd"] == 0.0
    if factors["method"] == "wta":
        assert m["l0"] <= 1.0
    assert len(m["filters"]) == 16 * 784  # 16 decoder columns of 28 x 28 (exercise 2)


def test_filters_are_the_most_used_units_decoder_columns():
    most_used_filters = SUITE.task.__globals__["most_used_filters"]
    model = SUITE.task.__globals__["build"]("dense", 5)
    act = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 1, 0, 0]], dtype=torch.bool)
    flat = most_used_filters(model, act, 3)  # uses per unit: 1, 0, 3, 2, 0
    columns = model.dec.weight.detach().double()
    assert flat == torch.cat([columns[:, 2], columns[:, 3], columns[:, 0]]).tolist()
    assert len(most_used_filters(model, act, 16)) == 5 * 784  # never more than d tiles


@needs_mnist
def test_same_seed_twice_gives_identical_metrics():
    cell = _cell("main", method="kl_running", rho=0.1, seed=3)
    first, second = _run(cell), _run(cell)
    assert first == second
    other = _run(_cell("main", method="kl_running", rho=0.1, seed=4))
    assert other["mse"] != first["mse"]


@needs_mnist
def test_smoke_tier_cli_writes_a_report(smoke_run):
    proc = smoke_run("sae_tutorial")  # shared with test_every_suite_smoke.py
    assert proc.returncode == 0, proc.stderr
    assert "6 cells and trials trained" in proc.stdout
    md = (proc.out / "sae_tutorial-smoke.md").read_text()
    assert md.startswith("# Sparse autoencoders on MNIST")
    assert "Exercise 3: KL vs L1" in md and "ex3-kl-hits-target-005" in md
