"""Regress and verify across machine classes: which mode, and the statistical comparison's
two error rates (harness/run/machine.py, harness/stats/drift.py, harness/refs/regress.py).

Nothing here depends on this machine's bits: the simulated draws are seeded NumPy, and the
real-suite checks read the committed quick tiers, shifting their own numbers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.refs import regress
from harness.run import machine
from harness.spec.suite import load_suite
from harness.stats import core as stats
from harness.stats import drift

REPO = Path(__file__).resolve().parents[1]
SUITES = sorted(p.parent.parent.name for p in REPO.glob("suites/*/expected/quick.json"))


def _env(cls: str | None, **extra) -> dict:
    env = {"torch": "2.13.0+cpu", "platform": "Linux-x86_64", "device": "cpu", "cuda": None,
           "threads": 1, "cpu": "Some CPU (2 cores)", **extra}
    if cls is not None:
        env["machine_class"] = cls
    return env


# ------------------------------------------------------------------ which mode


def test_the_same_machine_class_compares_exactly():
    how = machine.comparison(_env("AuthenticAMD 25/17 AMD EPYC; ATen AVX2"),
                             _env("AuthenticAMD 25/17 AMD EPYC; ATen AVX2"))
    assert how.exact and how.line().startswith("exact: the same machine class")


def test_another_vendor_or_kernel_path_compares_statistically_and_says_both():
    stored, here = "AuthenticAMD 25/17 AMD EPYC; ATen AVX2", "GenuineIntel 6/207 Xeon; ATen AVX512"
    how = machine.comparison(_env(stored), _env(here))
    assert not how.exact
    assert how.line() == f"statistical: stored on {stored}; running on {here}"


@pytest.mark.parametrize("change", [{"threads": 2}, {"torch": "2.9.1"}, {"device": "cuda"}])
def test_another_platform_key_compares_statistically(change):
    how = machine.comparison(_env("X"), _env("X", **change))
    key = next(iter(change))
    assert not how.exact and f"{key} " in how.why


def test_numbers_stored_without_a_class_are_compared_statistically():
    """A CPU's name does not say its kernel path ("AMD EPYC" covers several ISA levels)."""
    cpu = "AMD EPYC (2 cores)"
    how = machine.comparison(_env(None, cpu=cpu), _env("Y", cpu=cpu))
    assert not how.exact and "without a recorded machine class" in how.why


def test_a_kernel_override_is_part_of_the_class(monkeypatch):
    for name in machine.KERNEL_OVERRIDES:  # CI may run the suite with some of them set
        monkeypatch.delenv(name, raising=False)
    plain = machine.machine_class(torch.device("cpu"))
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    assert machine.machine_class(torch.device("cpu")) == plain + "; MKL_CBWR=AVX2"
    assert "ATen " in plain and torch.backends.cpu.get_cpu_capability() in plain


# ------------------------------------------------------------------ the tests, simulated


def _draws(rng, configs: int, seeds: int, shift: float = 0.0, noise: float = 1.0):
    """(stored, new) samples per configuration: each configuration its own mean and SD;
    the new side is the same seeds plus machine noise (``noise`` seed SDs: 1 is a fresh
    independent draw) plus ``shift`` seed SDs."""
    out = {}
    for c in range(configs):
        mean, sd = rng.normal(50, 10), rng.uniform(0.5, 3)
        old = rng.normal(mean, sd, seeds)
        fresh = rng.normal(mean, sd, seeds)
        jitter = old + rng.normal(0, noise * sd, seeds)
        new = (fresh if noise >= 1 else jitter) + shift * sd
        out[f"c={c}"] = ({str(s): float(v) for s, v in enumerate(old)},
                         {str(s): float(v) for s, v in enumerate(new)})
    return out


@pytest.mark.parametrize("noise", [1.0, 0.3, 0.01])
@pytest.mark.parametrize("seeds", [2, 3])
def test_unchanged_distributions_raise_few_false_alarms(noise, seeds):
    """200 suites of 12 keys x 6 configurations with nothing changed: the family-wise
    rate is at most ALPHA in theory; allow the binomial 99.9 % bound of 200 such suites."""
    rng = np.random.default_rng(seeds * 10 + int(noise * 100))
    alarms = 0
    for _ in range(200):
        samples = {f"k{i}": _draws(rng, 6, seeds, noise=noise) for i in range(12)}
        alarms += any(t.moved() for t in drift.family(samples, {}))
    assert alarms <= 2  # P(Binomial(200, 0.001) > 2) = 0.0011


def test_a_shift_of_two_seed_sds_in_every_configuration_is_seen_when_machine_noise_is_small():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(50):
        samples = {"k": _draws(rng, 8, 3, shift=2.0, noise=0.05)}
        samples.update({f"other{i}": _draws(rng, 6, 3, noise=0.05) for i in range(20)})
        hits += any(t.moved() and t.key == "k" for t in drift.family(samples, {}))
    assert hits >= 45


def test_a_gross_move_is_seen_even_between_independent_draws():
    rng = np.random.default_rng(2)
    samples = {"k": _draws(rng, 6, 3, shift=8.0, noise=1.0)}
    assert any(t.moved() for t in drift.family(samples, {}))


def test_a_shift_below_the_margin_is_not_a_move_however_consistent():
    """A rounding bias of one kernel path: every seed 0.2 of its configuration's seed SD
    higher, nothing else. (The margin is in the seeds' observed SD: with 2-3 seeds that
    estimate is itself noisy, which moves what a real shift looks like, never the
    false-alarm rate.)"""
    rng = np.random.default_rng(3)
    samples = {"k": {}}
    for c in range(10):
        old = rng.normal(rng.normal(50, 10), rng.uniform(0.5, 3), 3)
        new = old + 0.2 * old.std(ddof=1)
        samples["k"][f"c={c}"] = ({str(s): float(v) for s, v in enumerate(old)},
                                  {str(s): float(v) for s, v in enumerate(new)})
    assert not any(t.moved() for t in drift.family(samples, {}))


def test_identical_numbers_never_move_and_floors_hold():
    same = {"c": ({"0": 1.0, "1": 1.0}, {"0": 1.0, "1": 1.0})}
    assert not any(t.moved() for t in drift.family({"k": same}, {}))
    shifted = {f"c{i}": ({"0": 90.0 + i, "1": 91.0 + i, "2": 92.0 + i},
                         {"0": 95.0 + i, "1": 96.0 + i, "2": 97.0 + i}) for i in range(6)}
    assert any(t.moved() for t in drift.family({"acc": shifted}, {}))
    assert not any(t.moved() for t in drift.family({"acc": shifted}, {"acc": 6.0}))


def test_seeds_that_agree_exactly_give_no_test():
    """A metric equal in every seed (a step count, a chosen grid point) that differs
    between machines shows no seed noise to judge it by: no test (and no infinite score
    that would swamp the pooled ones). Metrics equal by construction are declared
    deterministic and compared exactly instead."""
    tied = {f"c{i}": ({"0": 90.0, "1": 90.0}, {"0": 90.5, "1": 90.5}) for i in range(8)}
    assert not any(t.moved() for t in drift.family({"steps": tied}, {}))


@pytest.mark.parametrize("seeds", [2, 3])
def test_whole_example_accuracies_raise_few_false_alarms(seeds):
    """Accuracies in whole examples of 200 (ties and equal paired differences are common),
    each seed a fresh draw: the family-wise rate stays near ALPHA."""
    rng = np.random.default_rng(40 + seeds)
    alarms = 0
    for _ in range(200):
        samples = {}
        for i in range(12):
            configs = {}
            for c in range(6):
                p = rng.uniform(0.6, 0.97)
                old, new = rng.binomial(200, p, seeds) / 2, rng.binomial(200, p, seeds) / 2
                configs[f"c{c}"] = ({str(s): float(v) for s, v in enumerate(old)},
                                    {str(s): float(v) for s, v in enumerate(new)})
            samples[f"k{i}"] = configs
        alarms += any(t.moved() for t in drift.family(samples, {}))
    assert alarms <= 2  # P(Binomial(200, 0.001) > 2) = 0.0011


def test_one_common_seed_per_configuration_never_moves_on_signs_alone():
    """One seed each side: every scaled difference is +-sqrt(2), so only signs remain;
    three configurations agreeing in sign are no evidence."""
    samples = {"k": {f"c{i}": ({"0": 1.0 + i}, {"0": 2.0 + i}) for i in range(3)}}
    assert not any(t.moved() for t in drift.family(samples, {}))


def test_a_nan_or_a_missing_value_is_counted_apart():
    old = {"k": {"c": {"0": 1.0, "1": 2.0}}, "v[2]": {"c": {"0": 1.0}}}
    new = {"k": {"c": {"0": 1.0, "1": float("nan")}}, "v[3]": {"c": {"0": 1.0}}}
    assert drift.count_changes(old, new) == [("k", "c", 2, 1), ("v[2]", "c", 1, 0),
                                             ("v[3]", "c", 0, 1)]


def test_one_new_draw_is_judged_by_its_prediction_interval():
    old = np.array([10.0, 11.0, 12.0])
    assert drift.welch_p(old, np.array([11.5]))[0] > 0.5
    assert drift.welch_p(old, np.array([40.0]))[0] < 0.01


# ------------------------------------------------------------------ on the real suites


def _stored(name: str) -> tuple[dict, dict, dict, set[str]]:
    suite = load_suite(str(REPO / "suites" / name))
    stored = json.loads((REPO / "suites" / name / "expected" / "quick.json").read_text())
    spec = suite.spec.metrics
    return (suite, stored, {k: m.tolerance for k, m in spec.items()},
            {k for k, m in spec.items() if m.deterministic})


def _as_other_class(snap: dict) -> dict:
    out = copy.deepcopy(snap)
    out["environment"] = {**snap["environment"], "machine_class": "another class"}
    return out


@pytest.mark.parametrize("name", SUITES)
def test_a_committed_quick_tier_matches_itself_on_another_class(name):
    _, stored, floors, deterministic = _stored(name)
    how, diffs = regress.compare(stored, _as_other_class(stored), floors, deterministic)
    assert how.mode == "statistical" and diffs == []


def _curves(name: str) -> set[str]:
    return {k for k, m in load_suite(str(REPO / "suites" / name)).spec.metrics.items()
            if m.kind == "curve"}


@pytest.mark.parametrize("name", SUITES)
def test_a_shared_change_of_a_metric_fails_regress_on_another_class(name):
    """Every configuration's seeds of the suite's most-spread metric moved by 2 stored seed
    SDs must fail (the same bits otherwise: the machine's own noise is zero here; each
    quick tier has the seeds for it, benchmarks/regress_power.py)."""
    _, stored, floors, deterministic = _stored(name)
    samples = regress.seed_samples(stored["cells"], deterministic)
    sds = {(c, k): float(np.std(list(v.values()), ddof=1))
           for k, cs in samples.items() for c, v in cs.items() if len(v) > 1}
    metric = max((k for (_, k), sd in sds.items() if sd > 0 and "[" not in k),
                 key=lambda k: sum(sds.get((c, k), 0) > 0 for c, _ in sds))
    moved = _as_other_class(stored)
    for label, cell in moved["cells"].items():
        config, _ = regress.split_label(label)
        if metric in cell["metrics"]:
            cell["metrics"][metric] += 2.0 * sds.get((config, metric), 0.0)
    _, diffs = regress.compare(stored, moved, floors, deterministic, _curves(name))
    assert diffs and all(metric in d.what for d in diffs)


def test_a_curve_is_tested_at_its_end_and_counted_whole():
    """Only a curve's last entry enters the family (its entries move together and each
    would divide alpha); a longer or shorter curve is still a move."""
    assert drift.final_entries(["loss[0]", "loss[1]", "loss[10]", "acc", "v[0]", "v[1]"],
                               {"loss"}) == ["loss[10]", "acc", "v[0]", "v[1]"]
    _, stored, floors, deterministic = _stored("dsb_mnist1d")
    moved = _as_other_class(stored)
    for cell in moved["cells"].values():
        cell["metrics"]["train_loss"][0] += 100.0  # an early epoch alone: not tested
    _, diffs = regress.compare(stored, moved, floors, deterministic, {"train_loss"})
    assert diffs == []
    for cell in moved["cells"].values():
        cell["metrics"]["train_loss"] = cell["metrics"]["train_loss"][:-1]
    _, diffs = regress.compare(stored, moved, floors, deterministic, {"train_loss"})
    assert diffs and all("finite values" in d.stored for d in diffs)


def test_a_deterministic_metric_is_compared_exactly_across_classes():
    _, stored, floors, _ = _stored("dsb_mnist1d")
    moved = _as_other_class(stored)
    label = next(iter(moved["cells"]))
    moved["cells"][label]["metrics"]["param_count"] += 1
    _, diffs = regress.compare(stored, moved, floors, {"param_count"})
    assert [d.what for d in diffs] == [f"{label} param_count"]


def test_the_written_out_tests_agree_with_the_libraries():
    """drift writes Welch's test and Holm's adjustment out for speed: they must give the
    libraries' numbers."""
    from scipy import stats as sps
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    for n_old, n_new in [(2, 2), (3, 3), (3, 5), (10, 4)]:
        old, new = rng.normal(0, 1, n_old), rng.normal(0.7, 2, n_new)
        want = sps.ttest_ind(new, old, equal_var=False).pvalue
        assert drift.welch_p(old, new)[0] == pytest.approx(want, rel=1e-9)
    p = rng.uniform(0, 0.02, 40) ** rng.uniform(0.5, 2, 40)
    p[3] = p[7]  # a tie
    assert np.allclose(stats.holm(p), multipletests(p, method="holm")[1], rtol=1e-12)


def test_the_distribution_shortcuts_agree_with_scipy_stats():
    from scipy import stats as sps

    for t, df in [(0.3, 2), (-2.5, 4.7), (12.0, 3), (-40.0, 1.5)]:
        assert drift._t_sf(t, df) == pytest.approx(sps.t.sf(t, df), rel=1e-9, abs=1e-300)
        want = -sps.norm.ppf(sps.t.sf(t, df))
        assert drift._signed_score(t, df) == pytest.approx(want, rel=1e-7)
    for ratio in [0.05, 0.9, 1.0, 7.0]:
        want = sps.norm.ppf(sps.f.cdf(ratio, 2, 4))
        assert drift._signed_score_f(ratio, 2, 4) == pytest.approx(want, rel=1e-7, abs=1e-9)
    assert drift.stouffer_p([1.0, 2.0]) == pytest.approx(2 * sps.norm.sf(3 / 2**0.5))
