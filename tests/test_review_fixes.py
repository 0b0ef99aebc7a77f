"""What an independent statistical review of the new verdict engine found (issue 14):
seed counts from a power function that returned nan near power 1, a one-sided quantile
on a two-sided question, and the write-up's "not shown" read as "disagrees"."""

from __future__ import annotations

import numpy as np
import pytest

from harness.judge.engine import Judge
from harness.stats import core as stats
from tests.test_verdicts import claims, results

SIDE = {"metric": "score", "a": {"arm": "a"}, "b": {"arm": "b"}}


def test_seeds_to_detect_at_a_corrected_level():
    """d = 1 between two groups at alpha 0.002 needs 34 per group (statsmodels'
    solve_power: 33.3); the old search read a nan power as "not enough" and said 629."""
    assert stats.seeds_to_detect(1.0, 0.002, alternative="two-sided") == 34
    assert stats.seeds_to_detect(1.0, 0.05, alternative="two-sided") == 17


def test_seeds_to_detect_falls_as_the_level_rises():
    for effect in (0.3, 1.2, 3.0):
        for one_sample in (False, True):
            needs = [stats.seeds_to_detect(effect, a, alternative="two-sided",
                                           one_sample=one_sample)
                     for a in (0.0005, 0.002, 0.01, 0.05)]
            assert needs == sorted(needs, reverse=True), (effect, one_sample, needs)


def test_power_is_monotone_and_finite_far_out():
    powers = [stats.t_test_power(1.0, n, 0.002, True) for n in range(2, 400)]
    assert all(np.isfinite(powers)) and np.all(np.diff(powers) >= -1e-12)


def test_seeds_to_settle_a_miss_use_the_two_sided_quantile():
    """Outside the margin is a two-sided question (questions.margin_question), so the
    seeds that settle a miss are the fewest whose t_{1-alpha/2} + t_{0.8} standard errors
    fit in the distance to the margin (the one-sided t_{1-alpha} promised too few)."""
    diff, sd, margin, alpha = 1.0, 1.0, 0.2, 0.05
    got = stats.seeds_to_settle_margin(diff, sd, margin, alpha).n
    from scipy import stats as sps
    n = got
    fits = lambda k: (sps.t.ppf(1 - alpha / 2, k - 1) + sps.t.ppf(0.8, k - 1)) \
        * sd / np.sqrt(k) < abs(diff) - margin  # noqa: E731
    assert fits(n) and not fits(n - 1)


@pytest.fixture(scope="module")
def plan():
    from harness.spec.plan import resolve
    from harness.spec.suite import load_suite
    from tests.test_verdicts import TOY

    return resolve(load_suite(str(TOY)), "quick")


def _writeup(plan, a_text: str, b_text: str, significant: bool = False):
    table = [{"id": "t", "title": "T", "row_header": "arm",
              "columns": [{"key": "s", "label": "S", "metric": "score",
                           "no_verdict": "checked by the claims"}],
              "row": [{"label": "A", "where": {"arm": "a"}, "reported": {"s": a_text}},
                      {"label": "B", "where": {"arm": "b"}, "reported": {"s": b_text}}]}]
    spec = claims({"id": "g", "quote": "A beats B", "kind": "greater", **SIDE,
                   "significant": significant}, table=table)
    res = results(plan, "score", {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.5, 3.5]})
    [v] = Judge(spec, res, "claims.toml").claims_verdicts()
    return v


def test_the_write_ups_numbers_not_showing_a_claim_is_not_a_disagreement(plan):
    assert _writeup(plan, "10.0 ± 3.0", "9.0 ± 3.0").writeup_ok is None  # not shown
    assert _writeup(plan, "10.0 ± 0.1", "9.0 ± 0.1").writeup_ok is True
    assert _writeup(plan, "9.0 ± 0.1", "10.0 ± 0.1").writeup_ok is False  # the other way
    # a difference the write-up calls significant, which its own numbers do not show
    called = _writeup(plan, "10.0 ± 3.0", "9.0 ± 3.0", significant=True)
    assert called.writeup_ok is False and "calls the difference significant" in called.writeup


def test_an_assumed_run_count_is_said(plan):
    """A run count the write-up does not state ([source].n_note says why it was chosen)
    is marked as assumed wherever the write-up's own numbers are tested with it."""
    v = _writeup(plan, "10.0 ± 0.1", "9.0 ± 0.1")
    assert "(n=3 each)" in v.writeup  # the test source states its n: no n_note
    from harness.spec.schemas import ClaimsSpec

    spec = claims({"id": "g", "quote": "q", "kind": "greater", **SIDE}, table=[
        {"id": "t", "title": "T", "row_header": "arm",
         "columns": [{"key": "s", "label": "S", "metric": "score", "no_verdict": "x"}],
         "row": [{"label": "A", "where": {"arm": "a"}, "reported": {"s": "10.0 ± 0.1"}},
                 {"label": "B", "where": {"arm": "b"}, "reported": {"s": "9.0 ± 0.1"}}]}])
    data = spec.model_dump()
    data["source"]["n_note"] = "the write-up does not say; 3 is the usual minimum"
    res = results(plan, "score", {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.5, 3.5]})
    [assumed] = Judge(ClaimsSpec.model_validate(data), res, "c.toml").claims_verdicts()
    assert "(n=3 each, assumed)" in assumed.writeup
