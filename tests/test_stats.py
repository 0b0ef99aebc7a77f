"""Tests for harness.stats.core against hand-computed or textbook values.

Running example used throughout: a = [1, 2, 3], b = [4, 5, 7].
  mean a = 2,     var a = ((-1)^2 + 0 + 1^2) / 2 = 1
  mean b = 16/3,  var b = ((-4/3)^2 + (-1/3)^2 + (5/3)^2) / 2 = (42/9) / 2 = 7/3
  diff   = 2 - 16/3 = -10/3
  se^2   = 1/3 + (7/3)/3 = 10/9                      -> se = 1.054093
  t      = (-10/3) / sqrt(10/9) = -sqrt(10)          = -3.162278
  df     = (10/9)^2 / ((1/3)^2/2 + (7/9)^2/2)
         = (100/81) / (58/162) = 200/58              = 3.448276
  two-sided p = I_{df/(df+t^2)}(df/2, 1/2)           = 0.0419145
  (regularized incomplete beta, evaluated with mpmath at 30 digits)
"""

from __future__ import annotations

import math

import pytest

from harness.stats.core import (
    EquivResult,
    Reported,
    Summary,
    bootstrap_ci,
    diff_ci,
    hedges_g,
    hedges_g_from_stats,
    holm,
    mean_ci,
    one_sample,
    parse_reported,
    seeds_to_detect,
    seeds_to_settle_equivalence,
    summarize,
    tost,
    tost_from_stats,
    welch,
    welch_from_stats,
)

A = [1.0, 2.0, 3.0]
B = [4.0, 5.0, 7.0]
SD_B = math.sqrt(7 / 3)
WELCH_T = -math.sqrt(10)
WELCH_DF = 200 / 58
WELCH_P = 0.0419145174714540
SE_AB = math.sqrt(10 / 9)


# --------------------------------------------------------------------------- summarize


def test_summarize_textbook() -> None:
    # [1,2,3,4]: mean 2.5, sd = sqrt(5/3) = 1.290994, sem = sd/2 = 0.645497,
    # t_{0.975,3} = 3.182446 (table) -> half width 2.054260.
    s = summarize([1, 2, 3, 4])
    assert isinstance(s, Summary)
    assert s.n == 4
    assert s.mean == pytest.approx(2.5)
    assert s.sd == pytest.approx(1.290994, abs=1e-6)
    assert s.sem == pytest.approx(0.645497, abs=1e-6)
    assert s.ci_low == pytest.approx(2.5 - 3.182446 * 0.645497, abs=1e-5)
    assert s.ci_high == pytest.approx(2.5 + 3.182446 * 0.645497, abs=1e-5)
    # A bootstrap of the mean of 4 points can only land on averages of the data; summarize
    # does not show it for so few seeds.
    low, high = bootstrap_ci([1, 2, 3, 4])
    assert 1.0 <= low < 2.5 < high <= 4.0
    assert math.isnan(s.boot_low) and math.isnan(s.boot_high)


def test_summarize_bootstrap_is_seeded() -> None:
    values = [0.91, 0.87, 0.93, 0.88, 0.95, 0.90] * 5
    first, again = summarize(values, seed=3), summarize(values, seed=3)
    assert (first.boot_low, first.boot_high) == (again.boot_low, again.boot_high)
    assert first.boot_low < first.mean < first.boot_high


def test_summarize_confidence_level_widens_interval() -> None:
    narrow = summarize([1, 2, 3, 4], confidence=0.5)
    # t_{0.75,3} = 0.764892 (table)
    assert narrow.ci_high - narrow.mean == pytest.approx(0.764892 * 0.645497, abs=1e-5)


def test_summarize_zero_variance() -> None:
    s = summarize([1234.0] * 5)
    assert s.n == 5
    assert s.mean == 1234.0
    assert s.sd == 0.0
    assert s.sem == 0.0
    assert (s.ci_low, s.ci_high) == (1234.0, 1234.0)
    assert math.isnan(s.boot_low) and math.isnan(s.boot_high)


def test_summarize_single_and_empty() -> None:
    one = summarize([3.0])
    assert one.n == 1 and one.mean == 3.0
    assert all(math.isnan(v) for v in (one.sd, one.sem, one.ci_low, one.ci_high, one.boot_low))
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_mean_ci_from_stats() -> None:
    low, high = mean_ci(2.5, math.sqrt(5 / 3), 4, 0.95)
    assert low == pytest.approx(0.445740, abs=1e-5)
    assert high == pytest.approx(4.554260, abs=1e-5)
    assert mean_ci(7.0, 0.0, 3) == (7.0, 7.0)
    assert all(math.isnan(v) for v in mean_ci(7.0, 1.0, 1))


# --------------------------------------------------------------------------- t tests


def test_welch_by_hand() -> None:
    r = welch(A, B)
    assert r.statistic == pytest.approx(WELCH_T, rel=1e-9)
    assert r.df == pytest.approx(WELCH_DF, rel=1e-9)
    assert r.pvalue == pytest.approx(WELCH_P, rel=1e-6)
    assert r.diff == pytest.approx(-10 / 3)


def test_welch_one_sided() -> None:
    assert welch(A, B, alternative="less").pvalue == pytest.approx(WELCH_P / 2, rel=1e-6)
    assert welch(A, B, alternative="greater").pvalue == pytest.approx(1 - WELCH_P / 2, rel=1e-6)


def test_welch_from_stats_matches_raw() -> None:
    raw = welch(A, B)
    summ = welch_from_stats(2.0, 1.0, 3, 16 / 3, SD_B, 3)
    assert summ.statistic == pytest.approx(raw.statistic, rel=1e-9)
    assert summ.df == pytest.approx(raw.df, rel=1e-9)
    assert summ.pvalue == pytest.approx(raw.pvalue, rel=1e-9)
    assert summ.diff == pytest.approx(raw.diff)


def test_welch_zero_variance() -> None:
    r = welch([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
    assert r.statistic == -math.inf
    assert r.pvalue == 0.0
    assert math.isnan(r.df)  # undefined, not scipy's placeholder of 1
    assert r.diff == -1.0


def test_one_sample_by_hand() -> None:
    # [1,2,3,4] vs 2: t = 0.5 / 0.645497 = 0.774597, df = 3.
    # t(3) CDF in closed form: F(t) = 1/2 + (u/(1+u^2) + atan(u)) / pi, u = t/sqrt(3)
    # u = 0.447214, u/(1+u^2) = 0.372678, atan(u) = 0.420534 -> F = 0.752488
    # two-sided p = 2 * (1 - 0.752488) = 0.495025
    r = one_sample([1, 2, 3, 4], 2.0)
    assert r.statistic == pytest.approx(0.774597, abs=1e-6)
    assert r.df == 3.0
    assert r.pvalue == pytest.approx(0.495025, abs=1e-6)
    assert r.diff == pytest.approx(0.5)
    assert one_sample([1, 2, 3, 4], 2.0, "greater").pvalue == pytest.approx(0.247512, abs=1e-6)


def test_diff_ci_by_hand() -> None:
    # t_{0.975, 200/58} = 2.960730 (mpmath): -10/3 -/+ 2.960730 * 1.054093
    low, high = diff_ci(2.0, 1.0, 3, 16 / 3, SD_B, 3, 0.95)
    assert low == pytest.approx(-6.454217, abs=1e-5)
    assert high == pytest.approx(-0.212449, abs=1e-5)


def test_diff_ci_dual_to_welch_pvalue() -> None:
    # The (1 - p) CI ends exactly at 0, where p is the two-sided Welch p-value.
    _, high = diff_ci(2.0, 1.0, 3, 16 / 3, SD_B, 3, 1 - WELCH_P)
    assert high == pytest.approx(0.0, abs=1e-9)


def test_diff_ci_zero_variance() -> None:
    assert diff_ci(5.0, 0.0, 3, 4.0, 0.0, 3) == (1.0, 1.0)


# --------------------------------------------------------------------------- effect size


def test_hedges_g_by_hand() -> None:
    # pooled var = (2*1 + 2*7/3) / 4 = 5/3, sp = 1.290994
    # d = (-10/3) / 1.290994 = -2.581989; J = 1 - 3/(4*6 - 9) = 0.8; g = -2.065591
    assert hedges_g(A, B) == pytest.approx(-2.065591, abs=1e-6)
    assert hedges_g(B, A) == pytest.approx(2.065591, abs=1e-6)


def test_hedges_g_from_stats_matches_raw() -> None:
    assert hedges_g_from_stats(2.0, 1.0, 3, 16 / 3, SD_B, 3) == pytest.approx(hedges_g(A, B))


def test_hedges_g_unequal_n() -> None:
    # n1=4, sd1=2; n2=6, sd2=1: pooled var = (3*4 + 5*1)/8 = 17/8, sp = 1.457738
    # d = 1/1.457738 = 0.685994; J = 1 - 3/(40 - 9) = 28/31; g = 0.619608
    assert hedges_g_from_stats(11.0, 2.0, 4, 10.0, 1.0, 6) == pytest.approx(0.619608, abs=1e-6)


def test_hedges_g_zero_variance() -> None:
    assert hedges_g([3.0, 3.0], [1.0, 1.0]) == math.inf
    assert math.isnan(hedges_g([3.0, 3.0], [3.0, 3.0]))


# --------------------------------------------------------------------------- holm


def test_holm_textbook() -> None:
    # sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone max 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_holm_caps_at_one_and_handles_empty() -> None:
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


# --------------------------------------------------------------------------- tost


def test_tost_by_hand() -> None:
    # bounds (-5, 1): lower t = (-10/3 + 5)/1.054093 = 1.581139, upper t = (-10/3 - 1)/1.054093
    # = -4.110961, both with df 200/58; one-sided p (mpmath): 0.1000865, 0.0099276.
    r = tost(A, B, -5.0, 1.0)
    assert isinstance(r, EquivResult)
    assert r.lower_p == pytest.approx(0.1000865, abs=1e-6)
    assert r.upper_p == pytest.approx(0.0099276, abs=1e-6)
    assert r.pvalue == pytest.approx(0.1000865, abs=1e-6)
    assert not r.equivalent
    assert r.equivalent_at(0.2)


def test_tost_tight_pair_is_equivalent_far_pair_is_not() -> None:
    a = [10.0, 10.1, 9.9, 10.0, 10.05]
    b = [10.02, 9.95, 10.08, 9.97, 10.0]
    near = tost(a, b, -0.5, 0.5)
    assert near.equivalent and near.pvalue < 1e-4
    far = tost(a, [v + 5 for v in b], -0.5, 0.5)
    assert not far.equivalent and far.pvalue > 0.99


def test_tost_from_stats_matches_raw() -> None:
    raw = tost(A, B, -5.0, 1.0)
    summ = tost_from_stats(2.0, 1.0, 3, 16 / 3, SD_B, 3, -5.0, 1.0)
    assert summ.pvalue == pytest.approx(raw.pvalue, rel=1e-9)
    assert summ.lower_p == pytest.approx(raw.lower_p, rel=1e-9)
    assert summ.upper_p == pytest.approx(raw.upper_p, rel=1e-9)


def test_tost_zero_variance_pair() -> None:
    # Identical parameter counts in every seed: trivially inside / outside the margin.
    assert tost([100.0] * 3, [100.0] * 3, -1.0, 1.0).pvalue == 0.0
    assert tost([100.0] * 3, [110.0] * 3, -1.0, 1.0).pvalue == 1.0


def test_tost_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="low < high"):
        tost(A, B, 1.0, -1.0)


# --------------------------------------------------------------------------- planning


def test_seeds_to_detect_textbook() -> None:
    # Cohen (1988) sample-size table, two-sided alpha .05, power .8: d=.5 -> 64, d=.8 -> 26.
    # Check by the normal approximation with Guenther's correction:
    # 2*(1.959964 + 0.841621)^2 / 0.25 + 1.959964^2/4 = 62.79 + 0.96 = 63.75 -> 64
    assert seeds_to_detect(0.5, alternative="two-sided") == 64
    assert seeds_to_detect(0.8, alternative="two-sided") == 26
    assert seeds_to_detect(-0.5, alternative="two-sided") == 64


def test_seeds_to_detect_one_sided() -> None:
    # 2*(1.644854 + 0.841621)^2 / 0.25 + 1.644854^2/4 = 49.46 + 0.68 = 50.14 -> 51
    assert seeds_to_detect(0.5) == 51
    assert seeds_to_detect(0.5, alternative="greater") == 51


def test_seeds_to_detect_none() -> None:
    assert seeds_to_detect(0.0) is None
    assert seeds_to_detect(float("nan")) is None
    # d = 0.01 needs about 2*(2.8)^2/1e-4 = 157,000 seeds per group
    assert seeds_to_detect(0.01, alternative="two-sided") is None


def test_seeds_to_settle_equivalence_by_hand() -> None:
    # Settled with 80 % power (stats.POWER): the distance from the difference to the
    # margin must exceed (t_{.95,df} + t_{.80,df}) standard errors.
    # sd1 = sd2 = 1, equal n: se = sqrt(2/n), Welch df = 2(n - 1).
    # diff 0, margin 1 (distance 1):
    #   n=13: df 24: (1.7109 + 0.8569) * 0.39223 = 1.00715 > 1
    #   n=14: df 26: (1.7056 + 0.8557) * 0.37796 = 0.96807 < 1   -> 14
    # (at 50 % power, t_{.95} alone, it was 7)
    assert seeds_to_settle_equivalence(0.0, 1.0, 1.0, 1.0) == 14
    # |diff| > margin: outside is a two-sided question, t_{.975} + t_{.8} must fit in 1:
    #   n=16: df 30: (2.0423 + 0.8538) * 0.35355 = 1.0239 >= 1
    #   n=17: df 32: (2.0369 + 0.8530) * 0.34300 = 0.99124 < 1   -> 17
    assert seeds_to_settle_equivalence(2.0, 1.0, 1.0, 1.0) == 17
    assert seeds_to_settle_equivalence(-2.0, 1.0, 1.0, 1.0) == 17
    # diff 0.5, margin 1 (distance 0.5):
    #   n=50: df 98:  (1.6606 + 0.8453) * 0.20000 = 0.50117 > 0.5
    #   n=51: df 100: (1.6602 + 0.8452) * 0.19803 = 0.49616 < 0.5   -> 51 (was 23)
    assert seeds_to_settle_equivalence(0.5, 1.0, 1.0, 1.0) == 51
    # the power is a parameter: at 50 % (t_{.50} = 0) the old counts come back
    assert seeds_to_settle_equivalence(0.0, 1.0, 1.0, 1.0, power=0.5) == 7
    assert seeds_to_settle_equivalence(0.5, 1.0, 1.0, 1.0, power=0.5) == 23


def test_seeds_to_settle_equivalence_edges() -> None:
    assert seeds_to_settle_equivalence(1.0, 1.0, 1.0, 1.0) is None  # on the margin
    # half width (1.645 + 0.842) * sqrt(2/n) < 0.001 needs n > 12 million
    assert seeds_to_settle_equivalence(0.0, 1.0, 1.0, 0.001) is None
    assert seeds_to_settle_equivalence(0.0, 1.0, 1.0, 1.0, max_n=13) is None
    assert seeds_to_settle_equivalence(0.0, 1.0, 1.0, 1.0, max_n=14) == 14
    assert seeds_to_settle_equivalence(0.3, 0.0, 0.0, 1.0) == 2
    with pytest.raises(ValueError, match="margin"):
        seeds_to_settle_equivalence(0.0, 1.0, 1.0, 0.0)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "mean", "spread", "kind", "percent"),
    [
        ("86.50 +/- 0.32", 86.50, 0.32, "sd", False),
        ("86.50% ± 0.32%", 86.50, 0.32, "sd", True),
        ("86.50 ± 0.32%", 86.50, 0.32, "sd", True),
        ("6.924 ± 0.003", 6.924, 0.003, "sd", False),
        ("2,236 ± 8", 2236.0, 8.0, "sd", False),
        ("1,234,567", 1234567.0, None, "sd", False),
        ("0.9721", 0.9721, None, "sd", False),
        ("27.32%", 27.32, None, "sd", True),
        ("1e-4", 1e-4, None, "sd", False),
        ("\u22120.0684", -0.0684, None, "sd", False),
        ("+0.2598", 0.2598, None, "sd", False),
        ("81.22 ± 0.73 (SE)", 81.22, 0.73, "se", False),
        ("81.22 ± 0.73 (SD)", 81.22, 0.73, "sd", False),
        ("81.22 ± 0.73 (s.e.m.)", 81.22, 0.73, "se", False),
        ("  -3.5 +- 1.25  ", -3.5, 1.25, "sd", False),
        ("267K", 267e3, None, "sd", False),
        ("1.3M ± 0.2M", 1.3e6, 0.2e6, "sd", False),
        ("2B", 2e9, None, "sd", False),
        ("12x", 12.0, None, "sd", False),
        ("3.5 ×", 3.5, None, "sd", False),
    ],
)
def test_parse_reported(
    text: str, mean: float, spread: float | None, kind: str, percent: bool
) -> None:
    r = parse_reported(text)
    assert isinstance(r, Reported)
    assert r.mean == pytest.approx(mean)
    if spread is None:
        assert r.spread is None
    else:
        assert r.spread == pytest.approx(spread)
    assert r.spread_kind == kind
    assert r.percent is percent
    assert r.text == text


@pytest.mark.parametrize(
    "text", ["abc", "1 +/- ", "", "   ", "1,5", "1 ± -0.2", "0.5 (SE)", "nan", "1e999", "1 2",
             "10 m", "1e3K", "267 K"]
)
def test_parse_reported_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="cannot parse reported value") as info:
        parse_reported(text)
    assert repr(text) in str(info.value)


def test_a_multiplier_keeps_the_printed_precision() -> None:
    """"267K" is 267 000 printed to the thousand: half a unit of its last digit is 500,
    not the 0.5 that writing it out as 267000 would claim."""
    from harness.stats import forensics as fx
    from harness.stats.margins import resolution

    rep = parse_reported("267K")
    assert rep.mean_text == "267e3" and resolution(rep.text) == 500.0
    assert resolution("1.3M") == 5e4 and resolution("267000") == 0.5
    printed = fx.Printed.parse(rep.mean_text)
    assert printed.half_ulp == 500 and printed.value == 267000
