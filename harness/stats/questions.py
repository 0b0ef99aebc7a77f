"""The statistical questions a verdict asks, one pure function each.

A question takes the data, the number they are held against and the test to use (a
callable, as rliable takes its statistics) and answers with an outcome and the numbers
behind it; ``judge.py`` only words the answer. A test is called as
``test(data, reference, alternative)`` with scipy's alternatives and returns a
``stats.TestResult`` whose ``diff`` is estimate - reference.

Every claim has one direction. A directional question is decided by a two-sided test at
``alpha`` whose sign says supported (the claimed direction) or contradicted, so that
when the truth sits on the reference the two decisive outcomes together happen at rate
``alpha``, not ``2 alpha`` as two one-sided tests would give.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import core as stats

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
Direction = Literal["above", "below"]
Test = Callable[[Any, float, str], stats.TestResult]


@dataclass(frozen=True)
class Answer:
    outcome: str  # SUPPORTED, CONTRADICTED or INCONCLUSIVE
    diff: float  # estimate - reference
    # the p of the outcome reached (directional questions: two-sided; margin questions:
    # TOST's when supported, beyond the margin when contradicted), or of the nearer one
    pvalue: float


def direction_outcome(pvalue: float, diff: float, direction: Direction, alpha: float) -> str:
    """A two-sided p below ``alpha`` is decisive; the sign of ``diff`` says which way."""
    if not pvalue < alpha or not diff or math.isnan(diff):
        return INCONCLUSIVE
    return SUPPORTED if (diff > 0) == (direction == "above") else CONTRADICTED


def one_sided_question(data: Any, reference: float, direction: Direction, alpha: float,
                       test: Test = stats.one_sample) -> Answer:
    """Is the estimate ``direction`` of ``reference``? (a threshold, chance, or for
    ``greater`` the other arm: ``test`` then binds it)."""
    result = test(data, reference, "two-sided")
    return Answer(direction_outcome(result.pvalue, result.diff, direction, alpha),
                  result.diff, result.pvalue)


def margin_question(data: Any, reference: float, margin: float, alpha: float,
                    test: Test) -> Answer:
    """Is the estimate within ±``margin`` of ``reference``? Inside: two one-sided tests
    at ``alpha`` (TOST; the (1 - 2 alpha) interval inside the margin), p TOST's. Outside:
    the difference beyond either bound, a two-sided question at ``alpha`` (the
    (1 - alpha) interval entirely outside the margin), so that a faithful reproduction
    with a margin small against its error is contradicted at rate alpha, not 2 alpha. An
    inconclusive answer carries the smaller p, the nearer a decision."""
    lower = test(data, reference - margin, "two-sided")
    upper = test(data, reference + margin, "two-sided")
    above_lower = _one_sided_p(lower.pvalue, lower.diff, "above")
    below_upper = _one_sided_p(upper.pvalue, upper.diff, "below")
    p_inside = max(above_lower, below_upper)
    p_outside = min(1.0, 2 * min(1 - above_lower, 1 - below_upper))
    if p_inside < alpha:
        outcome, p = SUPPORTED, p_inside
    elif p_outside < alpha:
        outcome, p = CONTRADICTED, p_outside
    else:
        outcome, p = INCONCLUSIVE, min(p_inside, p_outside)
    return Answer(outcome, lower.diff - margin, p)


def k_of_n_question(hits: int, n: int, alpha: float) -> Answer:
    """Do most seeds reproduce the claim? ``hits`` of ``n`` seeds did: an exact binomial
    test of the share against one half, two-sided at ``alpha``; above: supported, below:
    contradicted. For a per-seed indicator or a grid choice, whose mean is no normal
    sample (``diff`` is the share minus one half)."""
    from scipy import stats as sps

    p = float(sps.binomtest(hits, n, 0.5).pvalue) if n else math.nan
    diff = hits / n - 0.5 if n else math.nan
    return Answer(direction_outcome(p, diff, "above", alpha), diff, p)


def seeds_for_unanimous(level: float) -> int:
    """The fewest seeds, all agreeing, that an exact two-sided binomial test of one half
    decides at ``level`` (6 at 0.05)."""
    n = 1
    while 2 * 0.5**n >= level:
        n += 1
    return n


def _one_sided_p(two_sided: float, diff: float, direction: Direction) -> float:
    """The one-sided p in ``direction`` from a two-sided p and the sign of the difference."""
    if math.isnan(two_sided):
        return math.nan
    half = two_sided / 2
    toward = (diff > 0) == (direction == "above")
    return half if toward else 1 - half


# ---------------------------------------------------------------- tests against a number


def _mean_sd_n(values: Sequence[float]) -> tuple[float, float, int]:
    x = np.asarray(values, dtype=float)
    sd = float(np.std(x, ddof=1)) if x.size >= 2 else math.nan
    return float(np.mean(x)), sd, int(x.size)


def against_exact(values: Sequence[float], reference: float,
                  alternative: str) -> stats.TestResult:
    """One-sample t test of the seeds' mean against an exact number (zero spread: the
    limit, decided by the sign)."""
    mean, sd, n = _mean_sd_n(values)
    return stats.one_sample_from_stats(mean, sd, n, reference, alternative)


def against_runs(runs: int) -> Test:
    """The seeds' mean against the mean of ``runs`` runs of the same process, whose spread
    is taken as the seeds' own SD: the reference adds sd^2 / runs to the variance of the
    difference (for one run, the t test of a new observation; df n - 1)."""

    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        mean, sd, n = _mean_sd_n(values)
        return stats.one_sample_from_stats(mean, sd * math.sqrt(1 + n / runs), n, reference,
                                           alternative)

    return test


def against_reported(sd: float, n: int) -> Test:
    """The seeds' mean against a reported mean with its own SD over ``n`` runs (Welch)."""

    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        mean, own_sd, own_n = _mean_sd_n(values)
        if own_sd == 0 and sd == 0:  # two exact numbers: the limit, as one_sample_from_stats
            return stats.one_sample_from_stats(mean, 0.0, max(own_n, 2), reference,
                                               alternative)
        return stats.welch_from_stats(mean, own_sd, own_n, reference, sd, n, alternative)

    return test


def against_estimate(se: float, df: float) -> Test:
    """The seeds' mean against a number known to ±``se`` with ``df`` degrees of freedom
    (a derived reported number, propagate.py): Welch-Satterthwaite over both."""

    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        mean, sd, n = _mean_sd_n(values)
        ours = sd**2 / n if n >= 2 else math.nan
        total = ours + se**2
        df_total = total**2 / (ours**2 / (n - 1) + se**4 / df) if n >= 2 else math.nan
        return stats.estimate_test(mean - reference, math.sqrt(total), df_total, alternative)

    return test


def combined(components: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(SE, Welch-Satterthwaite df) of a sum of independent estimates, each given as
    (variance, df)."""
    total = sum(v for v, _ in components)
    df = total**2 / sum(v**2 / d for v, d in components if v > 0) if total > 0 else math.nan
    return math.sqrt(total), df


def difference_against(other: Sequence[float] | None, se_w: float, df_w: float) -> Test:
    """Our difference (a - b of two independent arms, or the mean of paired differences
    when ``other`` is None) against a difference the write-up reports with standard error
    ``se_w`` on ``df_w`` degrees of freedom: one t test over all the variances."""
    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        mean, sd, n = _mean_sd_n(values)
        parts = [(sd**2 / n, n - 1)]
        if other is not None:
            mean_b, sd_b, n_b = _mean_sd_n(other)
            mean -= mean_b
            parts.append((sd_b**2 / n_b, n_b - 1))
        if se_w > 0:
            parts.append((se_w**2, df_w))
        se, df = combined(parts)
        return stats.estimate_test(mean - reference, se, df, alternative)
    return test


def difference_against_runs(other: Sequence[float] | None, runs: int) -> Test:
    """Our difference against the write-up's difference from ``runs`` runs per arm that
    print no spread, whose spread is taken as ours (the size a claim implies, as
    ``against_runs`` for a table cell). Paired (``other`` None, ``values`` the per-seed
    differences): one variance estimate, used for both sides, df n - 1. Two arms: each
    arm's variance enters once, scaled by 1/n + 1/runs, Welch-Satterthwaite over the two."""
    if other is None:
        return against_runs(runs)

    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        mean_a, sd_a, n_a = _mean_sd_n(values)
        mean_b, sd_b, n_b = _mean_sd_n(other)
        se, df = combined([(sd_a**2 * (1 / n_a + 1 / runs), n_a - 1),
                           (sd_b**2 * (1 / n_b + 1 / runs), n_b - 1)])
        return stats.estimate_test(mean_a - mean_b - reference, se, df, alternative)

    return test


def against_arm(other: Sequence[float]) -> Test:
    """Welch's test of the seeds' mean against another arm's seeds; ``reference`` is a
    shift of the other arm's mean (0 asks whether they differ)."""

    def test(values: Sequence[float], reference: float, alternative: str
             ) -> stats.TestResult:
        return stats.welch(np.asarray(values, dtype=float) - reference, other, alternative)

    return test
