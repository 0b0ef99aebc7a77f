"""SPARLING: the sparsity layer (MT/ST), the annealing schedule, motif scoring, the task."""

from __future__ import annotations

import math
import re
import sqlite3

import numpy as np
import pytest
import torch

from baselines.sparling import DensityAnnealer, SparlingNet, SpatialSparsity
from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite


def channel_data(n: int, gen: torch.Generator, scales=(1.0,) * 10) -> torch.Tensor:
    """(n, C, 16, 16) normal data with a different scale and shift per channel."""
    c = len(scales)
    x = torch.randn(n, c, 16, 16, generator=gen)
    shift = torch.linspace(-2, 2, c)
    return x * torch.tensor(scales).view(1, c, 1, 1) + shift.view(1, c, 1, 1)


# ----------------------------------------------------------------- the layer


def test_mt_reaches_the_target_density_per_channel_after_warm_up():
    gen = torch.Generator().manual_seed(0)
    layer = SpatialSparsity(10, density=0.01, per_channel=True).train()
    for _ in range(40):
        layer(channel_data(8, gen))
    layer.eval()
    out = layer(channel_data(64, gen))
    per_channel = (out > 0).float().mean(dim=(0, 2, 3))
    assert (out > 0).float().mean().item() == pytest.approx(0.01, rel=0.2)
    assert per_channel.min().item() > 0.005 and per_channel.max().item() < 0.02


@pytest.mark.parametrize("density", [0.5, 0.06, 0.01, 2.8e-4, 1e-6])
def test_the_quantile_is_the_kth_value_exactly_whichever_way_it_is_found(density: float):
    # at low densities the layer takes the smallest of the top values instead of kthvalue
    gen = torch.Generator().manual_seed(2)
    x = channel_data(16, gen)
    x[:, :, :4] = x[:, :, 4:8]  # ties
    layer = SpatialSparsity(10, density=density).train()
    layer(x)
    flat = x.transpose(0, 1).reshape(10, -1)
    k = min(max(int(flat.shape[1] * (1.0 - density)), 1), flat.shape[1])
    assert torch.equal(layer.threshold, flat.kthvalue(k, dim=1).values)


def test_thresholds_are_frozen_in_eval_and_get_no_gradient():
    gen = torch.Generator().manual_seed(1)
    layer = SpatialSparsity(10, density=0.05)
    layer(channel_data(4, gen))
    assert "threshold" in dict(layer.named_buffers())
    assert not any(True for _ in layer.parameters())
    layer.eval()
    before = layer.threshold.clone()
    x = (channel_data(4, gen) + 3.0).requires_grad_(True)  # shifted data: no update in eval
    out = layer(x)
    assert torch.equal(layer.threshold, before)
    out.sum().backward()
    assert not layer.threshold.requires_grad and layer.threshold.grad is None
    expected = (x.detach() > before.view(1, -1, 1, 1)).float()
    assert torch.equal(x.grad, expected)  # d ReLU(x - t) / dx, t a constant
    layer.train()
    layer(x.detach())
    assert not torch.equal(layer.threshold, before)  # training moves it again


def test_st_lets_a_loud_channel_take_the_budget_mt_does_not():
    gen = torch.Generator().manual_seed(2)
    scales = (10.0,) + (1.0,) * 9
    shares = {}
    for per_channel in (True, False):
        layer = SpatialSparsity(10, density=0.02, per_channel=per_channel).train()
        for _ in range(30):
            layer(channel_data(8, gen, scales))
        layer.eval()
        counts = (layer(channel_data(32, gen, scales)) > 0).sum(dim=(0, 2, 3)).float()
        shares[per_channel] = counts / counts.sum()
    assert shares[True].min() > 0.05  # MT: every channel keeps about a tenth
    assert shares[False][0] > 0.6 and shares[False][1:].max() < 0.1  # ST: one channel hogs it


def test_network_shapes_and_the_bottleneck_variants():
    torch.manual_seed(0)
    images = torch.randint(0, 2, (2, 32, 32), dtype=torch.uint8)
    tokens = torch.tensor([[10, 3, 5], [10, 1, 11]])
    for method in ("MT", "ST", "L1", "KL"):
        net = SparlingNet(method, 32, width=8, units=1, d_model=16, heads=2, enc_layers=1,
                          dec_layers=1, pool=4, max_len=3, density=0.1)
        logits, m = net(images, tokens)
        assert logits.shape == (2, 3, 12) and m.shape == (2, 10, 32, 32)
        assert net.greedy(m).shape == (2, 3)
        if method == "KL":
            assert ((m > 0) & (m < 1)).all()
        else:
            assert (m >= 0).all()
    no_bn = SparlingNet("MT", 32, width=8, units=1, d_model=16, heads=2, enc_layers=1,
                        dec_layers=1, pool=4, max_len=3, batch_norm=False)
    assert isinstance(no_bn.bottleneck.norm, torch.nn.Identity)


# ----------------------------------------------------------------- annealing


def test_annealing_follows_a_scripted_accuracy_sequence():
    a = DensityAnnealer(0.5, target=0.5 * 0.75**2, factor=0.75, bar=1.0, bar_decay=0.1)
    script = [0.85, 0.85, 0.62, 0.62, 0.5, 0.9, 0.99]
    outcomes, densities, bars = [], [], []
    for acc in script:
        outcomes.append(a.step(acc))
        densities.append(a.density)
        bars.append(round(a.bar, 6))
    # the bar decays by 0.1 first, then rises to the accuracy: 0.9 holds 0.85; 0.8 is
    # beaten (reduce, bar 0.85); 0.75, 0.65, 0.55 hold; 0.45 is beaten by 0.9 (reduce to
    # the target, bar 0.9); at the target, beating 0.8 with 0.99 means done
    assert outcomes == ["hold", "reduce", "hold", "hold", "hold", "reduce", "done"]
    assert densities == pytest.approx([0.5, 0.375, 0.375, 0.375, 0.375, 0.28125, 0.28125])
    assert bars == pytest.approx([0.9, 0.85, 0.75, 0.65, 0.55, 0.9, 0.99])
    assert a.reductions == 2 and a.at_target and a.done
    assert a.step(1.0) == "done" and a.density == pytest.approx(0.28125)


def test_steps_to_the_papers_target():
    a = DensityAnnealer(0.5, target=5.0226e-5)  # the paper: 0.5 -> 0.5 x 0.75^32
    assert a.steps_to_target() == 32
    for _ in range(32):
        assert not a.at_target
        a.density *= a.factor
    assert a.at_target and a.steps_to_target() == 0
    assert 100 * (1 - a.density) == pytest.approx(99.99498, abs=1e-5)


def test_annealing_bar_has_a_floor():
    a = DensityAnnealer(0.5, target=1e-3, bar=0.2, bar_decay=0.5, bar_min=0.1)
    assert a.step(0.05) == "hold" and a.bar == pytest.approx(0.1)
    assert a.step(0.11) == "reduce"


# ----------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def task():
    return load_suite("sparling").task.__globals__


def test_motif_scoring_on_a_hand_made_case(task):
    """Two 8 x 8 samples, 3 channels. Stamps: s0 = 4 @ top-left, 7 @ bottom-right;
    s1 = 4 @ top-right, 7 @ bottom-right, 2 @ bottom-left."""
    values = np.zeros((2, 3, 8, 8))
    values[0, 1, 1, 1] = 2.0  # s0: 4 -> channel 1
    values[0, 2, 5, 5] = 1.0  # s0: 7 -> channel 2
    values[0, 0, 7, 0] = 1.0  # s0: a stray activation, outside every box: false positive
    values[1, 1, 1, 5] = 2.0  # s1: 4 -> channel 1 ...
    values[1, 2, 2, 6] = 0.5  # ... channel 2 weaker in the same box: consumed, not an FP
    values[1, 1, 5, 5] = 1.0  # s1: 7 -> channel 1 (a confusion); 2: nothing (false negative)
    digits = np.array([[4, 7, -1], [4, 7, 2]])
    boxes = np.array([[[0, 0, 3, 3], [4, 4, 7, 7], [0, 0, 0, 0]],
                      [[0, 4, 3, 7], [4, 4, 7, 7], [4, 0, 7, 3]]])
    conf = task["motif_confusion"](values, values != 0, digits, boxes)
    assert conf[1, 4] == 2 and conf[2, 7] == 1 and conf[1, 7] == 1
    assert conf[3, 2] == 1 and conf[0, 10] == 1 and conf.sum() == 6
    err = task["motif_errors"](conf)
    assert err["fne"] == pytest.approx(100 * 1 / 5)  # 1 of 5 stamps undetected
    assert err["fpe"] == pytest.approx(100 * 1 / 5)  # 1 stray / (1 + 4 detected)
    assert err["ce"] == pytest.approx(100 * (1 - 3 / 4))  # best matching: 1->4, 2->7
    assert err["motif_acc"] == pytest.approx(100 * 3 / 6)


def test_confusion_error_uses_the_best_permutation_not_greedy(task):
    conf = np.zeros((3, 11), dtype=np.int64)
    conf[0, 3], conf[0, 5] = 3, 2  # channel 0 mostly "3" ...
    conf[1, 3] = 2  # ... but channel 1 only ever fires on "3"
    # greedy (0 -> 3) matches 3 of 7; the Hungarian matching (0 -> 5, 1 -> 3) matches 4
    assert task["motif_errors"](conf)["ce"] == pytest.approx(100 * (1 - 4 / 7))
    empty = task["motif_errors"](np.zeros((3, 11), dtype=np.int64))
    assert empty["ce"] == 100.0 and empty["fne"] == 0.0 and empty["motif_acc"] == 0.0


def test_edit_distance_and_sequence_scores(task):
    ed = task["edit_distance"]
    assert ed([1, 2, 3], [1, 3]) == 1 and ed([], [4, 5]) == 2 and ed([1, 2], [2, 1]) == 2
    labels = np.array([[1, 2, 3], [0, 5, -1]])
    exact, err = task["sequence_scores"]([[1, 2, 3], [0, 6, 5]], labels, np.array([3, 2]))
    assert exact == 0.5 and err == pytest.approx((0 + 1 / 3) / 2)
    assert task["sequences"](np.array([[3, 4, 11, 2], [5, 5, 5, 5]])) == [[3, 4], [5, 5, 5, 5]]


# ----------------------------------------------------------------- the task


def smoke_cell(method: str, seed: int = 0):
    suite = load_suite("sparling")
    plan = resolve(suite, "smoke")
    return suite, make_cell(suite, "main", {**plan.params, "method": method, "seed": seed})


def test_every_declared_metric_comes_back_finite(one_thread):
    suite, _ = smoke_cell("MT")
    declared = set(suite.spec.metrics)
    timing = {k for k, m in suite.spec.metrics.items() if m.timing}
    seen = set()
    for method in suite.spec.factors["method"]:
        _, cell = smoke_cell(method)
        record = execute_cell(suite, cell, torch.device("cpu"), None)
        assert record.status == "done", record.error
        assert set(record.metrics) <= declared, set(record.metrics) - declared
        for value in record.metrics.values():
            assert all(math.isfinite(v) for v in (value if isinstance(value, list) else [value]))
        seen |= set(record.metrics)
        if method == "MT":
            assert set(record.metrics) == declared  # MT reports every metric
            assert record.metrics["reached_target"] == 1.0
            assert len(record.metrics["density_curve"]) == 3
    assert seen == declared and timing <= seen


def test_same_seed_twice_gives_identical_metrics(one_thread):
    suite, cell = smoke_cell("ST", seed=1)
    timing = {k for k, m in suite.spec.metrics.items() if m.timing}
    first = execute_cell(suite, cell, torch.device("cpu"), None)
    second = execute_cell(suite, cell, torch.device("cpu"), None)
    assert first.status == second.status == "done", first.error
    strip = lambda r: {k: v for k, v in r.metrics.items() if k not in timing}  # noqa: E731
    assert strip(first) == strip(second)
    _, other = smoke_cell("ST", seed=2)
    third = execute_cell(suite, other, torch.device("cpu"), None)
    assert strip(third) != strip(first)


def test_smoke_tier_end_to_end_cli(smoke_run):
    proc = smoke_run("sparling")  # shared with test_every_suite_smoke.py
    out = proc.out
    assert proc.returncode == 0, proc.stderr
    assert "12 cells and trials trained" in proc.stdout
    md = (out / "sparling-smoke.md").read_text()
    assert md.startswith("# SPARLING: extreme activation sparsity on DIGIT CIRCLE — tier `smoke`")
    for title in ("DIGIT CIRCLE at the final density", "MT at two densities", "Diagnostics"):
        assert title in md
    assert re.search(r"\| MT, no batch norm +\|", md) and "sparsity-99995" in md
    assert (out / "sparling-smoke" / "results.png").is_file()
    with sqlite3.connect(proc.store) as db:
        statuses = db.execute("SELECT status, COUNT(*) FROM cells GROUP BY status").fetchall()
    assert statuses == [("done", 12)]


def test_an_after_run_probe_leaves_the_target_the_test_ran_at(one_thread):
    """The cpu tier probes after the run (probe_steps > 0): the layer's density goes back
    up, but the target and the density ratios describe the run's final test."""
    suite, cell = smoke_cell("MT")
    params = {**cell.params, "probe_steps": 2}
    record = execute_cell(suite, make_cell(suite, "main", params), torch.device("cpu"), None)
    assert record.status == "done", record.error
    m = record.metrics
    assert m["reached_target"] == 1.0
    assert m["target_density_pct"] == pytest.approx(100.0 * params["target_density"])
    assert m["density_over_target"] == pytest.approx(m["density_pct"] / m["target_density_pct"])
    assert m["density_at"][1] == pytest.approx(m["density_pct"])  # [probe, final]


def test_timings_read_cpu_time_on_a_cpu_so_other_work_does_not_stretch_them():
    """A cell's step and inference times on a CPU are its process's CPU time: a sleep (as
    a core taken by another process) adds nothing to it, while wall time grows."""
    import time as clock_module

    from suites.sparling.task import timer

    assert timer(torch.device("cuda")) is clock_module.perf_counter
    cpu = timer(torch.device("cpu"))
    start_cpu, start_wall = cpu(), clock_module.perf_counter()
    clock_module.sleep(0.2)
    assert clock_module.perf_counter() - start_wall >= 0.2
    assert cpu() - start_cpu < 0.05
