"""The sae_mnist_logits suite: JumpReLU maths, calibration, the task, determinism, CLI."""

from __future__ import annotations

import pytest
import torch

from baselines.sae import FFN, JumpReLUSAE, hard_gate
from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite
from harness.task_api import RunContext
from suites.sae_mnist_logits.task import (
    choose_lambda,
    lambda_grid,
    per_example_summary,
    run,
    train_sae,
)
from tests.conftest import DATA, HAVE_MNIST, missing, needs_mnist

SUITE = load_suite("sae_mnist_logits")
TIMINGS = {name for name, m in SUITE.spec.metrics.items() if m.timing}


# ------------------------------------------------------------------ the gate


def test_hard_gate_forward_is_exactly_zero_or_one():
    u = torch.tensor([[-1.0, 0.2, 0.5, 0.50001, 3.0]])
    theta = torch.full((5,), 0.5)
    g = hard_gate(u, theta, 0.1)
    assert g.tolist() == [[0.0, 0.0, 0.0, 1.0, 1.0]]  # strictly greater than theta opens
    assert set(hard_gate(torch.randn(64, 5), theta, 0.1).unique().tolist()) <= {0.0, 1.0}


def test_hard_gate_gradient_is_the_sigmoid_surrogate():
    torch.manual_seed(0)
    tau = 0.1
    u = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    theta = (torch.rand(4, dtype=torch.float64) + 0.1).requires_grad_()
    w = torch.randn(6, 4, dtype=torch.float64)  # an arbitrary upstream gradient
    (hard_gate(u, theta, tau) * w).sum().backward()
    u2, theta2 = u.detach().clone().requires_grad_(), theta.detach().clone().requires_grad_()
    (torch.sigmoid((u2 - theta2) / tau) * w).sum().backward()
    torch.testing.assert_close(u.grad, u2.grad, rtol=1e-12, atol=0)
    torch.testing.assert_close(theta.grad, theta2.grad, rtol=1e-12, atol=0)
    assert theta.grad.shape == theta.shape
    # the surrogate is sharp: far from theta the gradient all but vanishes
    assert u.grad.abs().max() <= w.abs().max() / (4 * tau) + 1e-12


def test_jumprelu_latents_are_u_times_gate_and_l0_counts_them():
    torch.manual_seed(0)
    sae = JumpReLUSAE(d=10, n_latents=32, theta_init=0.3)
    x = torch.randn(16, 10)
    z, g = sae.encode(x)
    u = sae.enc(x)
    torch.testing.assert_close(z, u * (u > 0.3).float())
    assert torch.equal(g, (u > 0.3).float())
    assert torch.equal(sae.gate_counts(x), g.sum(1))
    assert (z[g == 0] == 0).all() and (z[g == 1] > 0.3 - 1e-6).all()


def test_decoder_columns_are_unit_norm_at_init_and_after_every_step():
    torch.manual_seed(0)
    sae = JumpReLUSAE(theta_init=0.1)
    assert torch.allclose(sae.dec.weight.norm(dim=0), torch.ones(32))
    with torch.no_grad():
        sae.dec.weight.mul_(torch.linspace(0.1, 5.0, 32))
    sae.renorm_decoder()
    torch.testing.assert_close(sae.dec.weight.norm(dim=0), torch.ones(32))
    x = torch.randn(40, 10)
    before = sae.dec.weight.detach().clone()
    train_sae(sae, x, lam=0.01, epochs=1, batch_size=8, lr=1e-2, ctx=RunContext(seed=0),
              where="test")
    assert not torch.equal(sae.dec.weight, before)  # it trained ...
    torch.testing.assert_close(sae.dec.weight.norm(dim=0), torch.ones(32))  # ... and stays unit


def test_standardiser_round_trip():
    y = torch.randn(500, 10) * torch.arange(1.0, 11.0) + 3.0
    sae = JumpReLUSAE()
    sae.fit_standardizer(y)
    z = sae.normalize(y)
    torch.testing.assert_close(z.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0, correction=0), torch.ones(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(sae.denormalize(z), y, atol=1e-5, rtol=1e-5)
    off = JumpReLUSAE(normalize_inputs=False)
    off.fit_standardizer(y)
    assert torch.equal(off.normalize(y), y)


# ------------------------------------------------------------------ calibration


def test_lambda_grid_is_geometric_and_holds_the_writeups_lambda():
    grid = lambda_grid(0.01, 3.0, 6)
    assert len(grid) == 6
    for a, b in zip(grid, grid[1:], strict=False):
        assert b / a == pytest.approx(3.0)
    assert grid[2] == pytest.approx(0.09)
    with pytest.raises(ValueError):
        lambda_grid(0.01, 1.0, 3)


def test_choose_lambda_picks_the_closest_l0():
    lambdas = [0.01, 0.03, 0.09, 0.27]
    assert choose_lambda(lambdas, [5.0, 3.0, 1.63, 0.52], 1.0) == 3  # |0.52-1| < |1.63-1|
    assert choose_lambda(lambdas, [5.0, 3.0, 1.3, 0.52], 1.0) == 2
    assert choose_lambda(lambdas, [5.0, 3.0, 1.5, 0.5], 1.0) == 2  # a tie: the smaller lambda
    assert choose_lambda(lambdas, [0.1, 0.2, 0.3, 0.4], 4.0) == 3  # target beyond the grid
    with pytest.raises(ValueError):
        choose_lambda(lambdas, [1.0], 1.0)


def test_per_example_summary():
    err = torch.tensor([0.1, 0.2, 0.3, 0.4, 10.0] * 4)  # 20 examples
    s = per_example_summary(err)
    assert s["val_mse_mean"] == pytest.approx(2.2)
    assert s["val_mse_median"] == pytest.approx(0.3)
    assert s["val_mse_best"] == pytest.approx(0.1) and s["val_mse_best_idx"] == 0.0
    assert s["val_mse_worst"] == pytest.approx(10.0) and s["val_mse_worst_idx"] == 4.0
    assert s["val_mse_p95"] == pytest.approx(10.0)
    assert s["val_mse_top5_share"] == pytest.approx(10.0 / 44.0)  # worst 1 of 20
    assert s["val_mse_mean_minus_median"] == pytest.approx(1.9)


def test_ffn_kinds():
    relu, geglu = FFN("relu", hidden=16), FFN("geglu", hidden=16)
    assert sum(p.numel() for p in relu.parameters()) == 784 * 16 + 16 * 10  # no biases
    assert sum(p.numel() for p in geglu.parameters()) == 2 * 784 * 16 + 16 * 10
    x = torch.rand(3, 784)
    assert relu(x).shape == geglu(x).shape == (3, 10)
    with pytest.raises(ValueError):
        FFN("swish")  # type: ignore[arg-type]


# ------------------------------------------------------------------ the task

TINY = resolve(SUITE, "smoke").params  # 256 training rows, 300 eval rows, 3 lambdas


def _cell(**over):
    return make_cell(SUITE, "main", {**TINY, "ffn": "relu", "seed": 0, **over})


@pytest.fixture(scope="module")
def tiny_runs():
    if not HAVE_MNIST:
        missing(f"no MNIST files in {DATA / 'mnist'}")
    cpu = torch.device("cpu")
    main = _cell()
    sweep = _cell(grid="sweep", hidden=1024, lr=1e-3)
    out = {name: execute_cell(SUITE, cell, cpu, DATA)
           for name, cell in [("main", main), ("sweep", sweep)]}
    out["again"] = execute_cell(SUITE, main, cpu, DATA)
    out["seed1"] = execute_cell(SUITE, _cell(seed=1), cpu, DATA)
    return out


@needs_mnist
def test_main_cell_returns_every_declared_metric(tiny_runs):
    rec = tiny_runs["main"]
    assert rec.status == "done", rec.error
    m = rec.metrics
    assert set(m) == set(SUITE.spec.metrics)
    for name, spec in SUITE.spec.metrics.items():
        if spec.kind == "vector":
            assert len(m[name]) == len(spec.labels), name
    assert len(m["calib_l0"]) == len(m["calib_mse"]) == len(m["calib_acc_drop"]) == 3
    assert m["lambda_chosen"] in [pytest.approx(v) for v in lambda_grid(0.01, 3.0, 3)]
    for i in range(3):
        assert m["dacc"][i] == pytest.approx(m["acc_recon"][i] - m["acc_base"][i])
        assert m["dce"][i] == pytest.approx(m["ce_recon"][i] - m["ce_base"][i])
        assert 0.0 <= m["acc_base"][i] <= 1.0 and 0.0 <= m["l0"][i] <= 32.0
    assert m["delta_acc_logits"] == pytest.approx(-m["dacc"][2])
    assert m["achieved_actives_val"] == m["l0"][1]
    assert m["val_mse_mean"] == pytest.approx(m["mse_norm"][1])
    assert m["test_acc"] == m["acc_base"][2] and m["val_ce"] == m["ce_base"][1]
    assert m["val_mse_best"] <= m["val_mse_median"] <= m["val_mse_p95"] <= m["val_mse_worst"]
    assert 0 <= m["val_mse_best_idx"] < 300 and 0 <= m["val_mse_worst_idx"] < 300
    assert m["calib_l0_chosen"] == m["calib_l0"][
        [pytest.approx(v) for v in lambda_grid(0.01, 3.0, 3)].index(m["lambda_chosen"])]
    assert 0 <= m["dead_latents"] <= 32 and m["logit_var_mean"] > 0


@needs_mnist
def test_sweep_cell_trains_the_classifier_only(tiny_runs):
    rec = tiny_runs["sweep"]
    assert rec.status == "done", rec.error
    assert set(rec.metrics) == {"val_ce", "val_acc", "test_ce", "test_acc", "ffn_train_loss",
                                "ffn_ms_per_step"}
    assert rec.metrics["val_ce"] != tiny_runs["main"].metrics["val_ce"]  # hidden 1024, not 128


@needs_mnist
def test_same_seed_twice_gives_identical_metrics(tiny_runs):
    first, again = tiny_runs["main"].metrics, tiny_runs["again"].metrics
    strip = lambda m: {k: v for k, v in m.items() if k not in TIMINGS}  # noqa: E731
    assert strip(first) == strip(again)
    other = strip(tiny_runs["seed1"].metrics)
    assert other["ffn_train_loss"] != first["ffn_train_loss"]
    assert other["val_mse_mean"] != first["val_mse_mean"]


@needs_mnist
def test_threads_are_restored_and_seed_mismatch_rejected():
    before = torch.get_num_threads()
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="seed"):
        run({**TINY, "ffn": "relu", "seed": 1}, RunContext(seed=0, data_dir=DATA))
    assert torch.get_num_threads() == before


@needs_mnist
def test_diverging_classifier_is_a_failed_cell():
    rec = execute_cell(SUITE, _cell(ffn="relu", lr=1e30), torch.device("cpu"), DATA)
    assert rec.status == "failed" and rec.error.startswith("diverged"), rec.error


# ------------------------------------------------------------------ end to end


@needs_mnist
def test_smoke_tier_through_the_cli(smoke_run):
    proc = smoke_run("sae_mnist_logits")  # shared with test_every_suite_smoke.py
    assert proc.returncode == 0, proc.stderr
    md = (proc.out / "sae_mnist_logits-smoke.md").read_text()
    assert md.startswith("# JumpReLU sparse autoencoder on MNIST classifier logits — tier `smoke`")
    for heading in ["## Best Result (Auto)", "## Reconstruction Error",
                    "## Per-example Val MSE (normalized space)",
                    "## MLP Sweep (bs=8): Top-3 (by Val CE)", "## Classifier Loss & Accuracy"]:
        assert heading in md, heading
    assert "| Val     | 0.174266" in md  # the reported MSE beside the reproduced one
    assert "sae-classifier-is-sweep-winner — not testable" in md  # a question of ours
    assert "6 cells and trials trained" in proc.stdout
    assert "cells: 6 done, 0 failed, 0 missing of 6 main cells" in md
    assert (proc.out / "sae_mnist_logits-smoke" / "mse.png").is_file()
