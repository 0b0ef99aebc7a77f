"""Statistics for aggregating seeds and judging claims.

Inputs are sequences of floats, one value per seed. Every function accepts
degenerate samples (one seed, or the same value in every seed, such as a
parameter count) and answers with ``nan``/``inf`` where a quantity is undefined
instead of raising; scipy and statsmodels warnings about those cases are
silenced, because the ``nan`` already says it.

The heavy lifting is done by scipy and statsmodels; only the glue (Welch
degrees of freedom from summary statistics, the sample-size search for
equivalence, parsing of reported numbers) is written here.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from scipy import stats as sps
from statsmodels.stats.meta_analysis import effectsize_smd
from statsmodels.stats.weightstats import ttost_ind

NAN = float("nan")
# The level of the intervals summarize() gives each metric's seeds: the reports print it
# beside every mean (the tables, the seed statistics and the plots).
SUMMARY_CONFIDENCE = 0.95
# The fewest seeds from which summarize() gives a bootstrap interval: the smallest n at
# which its 95 % BCa interval of the mean covers the true mean within 2 points of 95 % for
# normal and for skewed (gamma, skewness 1) data. Below it the interval is too narrow
# (normal data: 53 % at n = 2, 72 % at 3, 90 % at 10, 93 % at 20). Measured by seeded
# simulation: python benchmarks/bootstrap_coverage.py.
BOOTSTRAP_MIN_N = 30

__all__ = [
    "BOOTSTRAP_MIN_N",
    "EquivResult",
    "Reported",
    "SUMMARY_CONFIDENCE",
    "Summary",
    "TestResult",
    "bootstrap_ci",
    "diff_ci",
    "hedges_g",
    "hedges_g_from_stats",
    "holm",
    "mean_ci",
    "one_sample",
    "parse_reported",
    "SeedsNeeded",
    "seeds_to_detect",
    "seeds_to_settle_equivalence",
    "seeds_to_settle_margin",
    "summarize",
    "tost",
    "tost_from_stats",
    "welch",
    "welch_from_stats",
]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy/scipy/statsmodels noise about degenerate samples."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        yield


def _array(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of floats, got shape {arr.shape}")
    return arr


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(x)) if x.size else NAN
    sd = float(np.std(x, ddof=1)) if x.size >= 2 else NAN
    return mean, sd


def _welch_se_df(sd1: float, n1: float, sd2: float, n2: float) -> tuple[float, float]:
    """Standard error of mean1 - mean2 and Welch–Satterthwaite degrees of freedom.

    df is ``nan`` when undefined (a group with n < 2, or both SDs zero); scipy
    substitutes 1 there, which would print as a meaningful number.
    """
    if n1 < 2 or n2 < 2:
        return NAN, NAN
    v1, v2 = sd1**2 / n1, sd2**2 / n2
    se = math.sqrt(v1 + v2)
    denom = v1**2 / (n1 - 1) + v2**2 / (n2 - 1)
    df = (v1 + v2) ** 2 / denom if denom > 0 else NAN
    return se, df


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    """Mean of the seeds with a t-based and a bootstrap confidence interval.

    ``boot_low``/``boot_high`` are nan below ``BOOTSTRAP_MIN_N`` seeds.
    """

    n: int
    mean: float
    sd: float
    sem: float
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float


def mean_ci(mean: float, sd: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """t-based confidence interval of a mean from summary statistics.

    An SD of 0 gives the degenerate interval ``(mean, mean)``; n < 2 gives nans.
    """
    if n < 2 or not math.isfinite(sd):
        return NAN, NAN
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def within(low: float, high: float, bounds: tuple[float, float] | None,
           shift: float = 0.0) -> tuple[float, float]:
    """An interval cut to what the quantity can take: ``bounds`` of a metric, moved by
    ``shift`` (the interval of mean - reference lies within bounds - reference). The
    true value lies within them, so cutting keeps the coverage."""
    if bounds is None:
        return low, high
    lo, hi = bounds[0] - shift, bounds[1] - shift
    return min(max(low, lo), hi), max(min(high, hi), lo)


def bootstrap_ci(values: Sequence[float], confidence: float = SUMMARY_CONFIDENCE,
                 n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap CI of the mean, falling back to percentile if BCa is degenerate.

    Any n >= 2 is answered; ``summarize`` shows it only from ``BOOTSTRAP_MIN_N`` on.
    """
    x = _array(values)
    if x.size < 2 or np.ptp(x) == 0 or not np.all(np.isfinite(x)):
        return NAN, NAN
    for method in ("BCa", "percentile"):
        with _quiet():
            res = sps.bootstrap(
                (x,),
                np.mean,
                confidence_level=confidence,
                n_resamples=n_boot,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return NAN, NAN


def summarize(
    values: Sequence[float], confidence: float = SUMMARY_CONFIDENCE, n_boot: int = 2000,
    seed: int = 0,
) -> Summary:
    """Summarize one metric over seeds.

    sd uses ddof=1. ``n_boot=0`` skips the bootstrap. The bootstrap interval is
    BCa (percentile if BCa is degenerate) and is ``nan`` below ``BOOTSTRAP_MIN_N`` seeds,
    where it covers the mean far less often than ``confidence`` says, and for identical
    values, where resampling carries no information.
    """
    x = _array(values)
    n = int(x.size)
    mean, sd = _mean_sd(x)
    sem = sd / math.sqrt(n) if n >= 2 else NAN
    ci_low, ci_high = mean_ci(mean, sd, n, confidence)
    shown = n_boot and n >= BOOTSTRAP_MIN_N
    boot_low, boot_high = bootstrap_ci(x, confidence, n_boot, seed) if shown else (NAN, NAN)
    return Summary(n, mean, sd, sem, ci_low, ci_high, boot_low, boot_high)


# --------------------------------------------------------------------------- t tests


@dataclass(frozen=True)
class TestResult:
    """A t test. ``diff`` is mean(a) - mean(b), or mean - popmean for one sample."""

    __test__ = False  # not a pytest test class

    statistic: float
    df: float
    pvalue: float
    diff: float


def welch(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Welch's unequal-variance t test of mean(a) vs mean(b).

    ``alternative`` is scipy's: "two-sided", "less" or "greater" (for mean(a) - mean(b)).
    """
    x, y = _array(a), _array(b)
    with _quiet():
        res = sps.ttest_ind(x, y, equal_var=False, alternative=alternative)
        _, sd1 = _mean_sd(x)
        _, sd2 = _mean_sd(y)
        _, df = _welch_se_df(sd1, x.size, sd2, y.size)
        diff = float(np.mean(x) - np.mean(y)) if x.size and y.size else NAN
    return TestResult(float(res.statistic), df, float(res.pvalue), diff)


def welch_from_stats(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    alternative: str = "two-sided",
) -> TestResult:
    """Welch's t test from reported means, SDs (ddof=1) and seed counts."""
    with _quiet():
        res = sps.ttest_ind_from_stats(
            mean1, sd1, n1, mean2, sd2, n2, equal_var=False, alternative=alternative
        )
    _, df = _welch_se_df(sd1, n1, sd2, n2)
    return TestResult(float(res.statistic), df, float(res.pvalue), mean1 - mean2)


def one_sample(
    values: Sequence[float], popmean: float, alternative: str = "two-sided"
) -> TestResult:
    """One-sample t test of mean(values) against ``popmean`` (e.g. a reported number)."""
    x = _array(values)
    with _quiet():
        res = sps.ttest_1samp(x, popmean, alternative=alternative)
    df = float(x.size - 1) if x.size >= 2 else NAN
    diff = float(np.mean(x)) - popmean if x.size else NAN
    return TestResult(float(res.statistic), df, float(res.pvalue), diff)


def one_sample_from_stats(
    mean: float, sd: float, n: int, popmean: float, alternative: str = "two-sided"
) -> TestResult:
    """One-sample t test from a reported mean, SD and n (e.g. a loss against chance)."""
    if n < 2 or not math.isfinite(sd):
        return TestResult(NAN, NAN, NAN, mean - popmean)
    return estimate_test(mean - popmean, sd / math.sqrt(n), float(n - 1), alternative)


def estimate_test(diff: float, se: float, df: float, alternative: str = "two-sided"
                  ) -> TestResult:
    """t test of an estimate minus its reference, ``diff``, with standard error ``se`` and
    ``df`` degrees of freedom. A zero ``se`` gives the limit: p 0 or 1 by the sign."""
    if not (math.isfinite(se) and math.isfinite(diff)) or math.isnan(df):
        return TestResult(NAN, df, NAN, diff)
    # se 0 is the limit: an exact difference is decided by its sign
    exact = math.copysign(math.inf, diff) if diff else NAN
    t = diff / se if se > 0 else exact
    if math.isnan(t):
        p = 1.0
    elif alternative == "greater":
        p = float(sps.t.sf(t, df))
    elif alternative == "less":
        p = float(sps.t.cdf(t, df))
    else:
        p = float(2 * sps.t.sf(abs(t), df))
    return TestResult(t, df, p, diff)


def diff_ci(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Welch confidence interval of mean1 - mean2 from summary statistics."""
    diff = mean1 - mean2
    se, df = _welch_se_df(sd1, n1, sd2, n2)
    if not math.isfinite(se):
        return NAN, NAN
    if se == 0:
        return diff, diff
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    return diff - half, diff + half


# --------------------------------------------------------------------------- effect size


def hedges_g_from_stats(
    mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int
) -> float:
    """Hedges' g of mean1 - mean2: pooled-SD Cohen's d times J = 1 - 3/(4(n1+n2) - 9).

    With zero pooled SD the effect is ``±inf`` (``nan`` if the means are equal too).
    """
    if n1 + n2 <= 2 or n1 < 1 or n2 < 1:
        return NAN
    pooled_var = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2)
    if pooled_var == 0:
        diff = mean1 - mean2
        return math.copysign(math.inf, diff) if diff != 0 else NAN
    g, _ = effectsize_smd(mean1, sd1, n1, mean2, sd2, n2)
    return float(g)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of mean(a) - mean(b) from raw per-seed values."""
    x, y = _array(a), _array(b)
    m1, s1 = _mean_sd(x)
    m2, s2 = _mean_sd(y)
    # A single seed contributes no variance but still counts in n.
    s1 = 0.0 if x.size == 1 else s1
    s2 = 0.0 if y.size == 1 else s2
    return hedges_g_from_stats(m1, s1, x.size, m2, s2, y.size)


# --------------------------------------------------------------------------- multiplicity


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order: statsmodels'
    ``multipletests(p, method="holm")`` written out, since that function runs
    ``gc.collect()`` on every call (0.1-0.3 s in a large process, and regress's drift
    tests adjust thousands of families in its tests; tests/test_drift.py checks that the
    two agree)."""
    p = _array(pvalues)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    out = np.empty_like(p)
    out[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in out]


# --------------------------------------------------------------------------- equivalence


@dataclass(frozen=True)
class EquivResult:
    """TOST for low < mean1 - mean2 < high.

    ``lower_p`` tests H0: diff <= low, ``upper_p`` tests H0: diff >= high, and
    ``pvalue`` is the larger of the two.
    """

    pvalue: float
    lower_p: float
    upper_p: float
    low: float
    high: float

    def equivalent_at(self, alpha: float = 0.05) -> bool:
        """True when both one-sided tests reject at ``alpha`` (nan is never equivalent)."""
        return bool(self.pvalue < alpha)

    @property
    def equivalent(self) -> bool:
        """Equivalence at alpha = 0.05."""
        return self.equivalent_at(0.05)


def tost_from_stats(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    low: float,
    high: float,
) -> EquivResult:
    """TOST from summary statistics as two one-sided Welch tests on shifted means."""
    if not low < high:
        raise ValueError(f"equivalence bounds need low < high, got ({low}, {high})")
    with _quiet():
        lower = sps.ttest_ind_from_stats(
            mean1 - low, sd1, n1, mean2, sd2, n2, equal_var=False, alternative="greater"
        )
        upper = sps.ttest_ind_from_stats(
            mean1 - high, sd1, n1, mean2, sd2, n2, equal_var=False, alternative="less"
        )
    lower_p, upper_p = float(lower.pvalue), float(upper.pvalue)
    return EquivResult(max(lower_p, upper_p), lower_p, upper_p, float(low), float(high))


def tost(a: Sequence[float], b: Sequence[float], low: float, high: float) -> EquivResult:
    """Welch TOST for low < mean(a) - mean(b) < high from raw per-seed values."""
    if not low < high:
        raise ValueError(f"equivalence bounds need low < high, got ({low}, {high})")
    x, y = _array(a), _array(b)
    m1, s1 = _mean_sd(x)
    m2, s2 = _mean_sd(y)
    if s1 == 0 and s2 == 0:
        # statsmodels returns nan for a noiseless pair; scipy's from-stats path
        # gives the limit (p = 0 or 1), which is the honest answer.
        return tost_from_stats(m1, s1, x.size, m2, s2, y.size, low, high)
    with _quiet():
        pvalue, (_, lower_p, _), (_, upper_p, _) = ttost_ind(x, y, low, high, usevar="unequal")
    return EquivResult(float(pvalue), float(lower_p), float(upper_p), float(low), float(high))


# --------------------------------------------------------------------------- planning

_MAX_SEEDS = 10000
POWER = 0.8  # the one yardstick for "seeds that would settle it": 80 % power


def seeds_to_detect(
    effect_size_g: float,
    alpha: float = 0.05,
    power: float = POWER,
    alternative: str = "larger",
    one_sample: bool = False,
) -> int | None:
    """Seeds per group a two-sample t test needs to detect an effect of this size
    (``one_sample``: seeds a one-sample t test needs, the effect in SDs of one seed).

    Only the magnitude of the effect matters: one-sided alternatives ("larger",
    "smaller", or scipy's "greater", "less") mean a test in the effect's
    direction. None when the effect is 0/nan or more than 10000 seeds are needed.
    """
    alt = {"greater": "larger", "less": "larger", "smaller": "larger"}.get(alternative, alternative)
    if alt not in ("two-sided", "larger"):
        raise ValueError(f"unknown alternative {alternative!r}")
    effect = abs(float(effect_size_g))
    if not math.isfinite(effect) or effect == 0:
        return None
    def enough(n: int) -> bool:
        return t_test_power(effect, n, alpha, alt == "two-sided", one_sample) >= power

    # Power rises with n, so double then bisect.
    if not enough(_MAX_SEEDS):
        return None
    lo, hi = 1, 2
    while not enough(hi):
        lo, hi = hi, min(2 * hi, _MAX_SEEDS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return max(2, hi)


def t_test_power(effect: float, n: int, alpha: float, two_sided: bool,
                 one_sample: bool = False) -> float:
    """Power of a t test with ``n`` seeds (per group for two samples) against a true
    standardised effect, from the noncentral t distribution (statsmodels' power function
    returns nan where power nears 1, which a search then misreads; where scipy's does
    too, the normal approximation stands in)."""
    if n < 2:
        return 0.0
    df = n - 1 if one_sample else 2 * n - 2
    nc = abs(effect) * math.sqrt(n if one_sample else n / 2)
    crit = float(sps.t.ppf(1 - (alpha / 2 if two_sided else alpha), df))
    with _quiet():
        upper = float(sps.nct.sf(crit, df, nc))
        lower = float(sps.nct.cdf(-crit, df, nc)) if two_sided else 0.0
    if not math.isfinite(upper):  # scipy's nct loses its way far in the tail: power ~ 1
        upper = float(sps.norm.sf(crit - nc))
    if not math.isfinite(lower):
        lower = float(sps.norm.cdf(-crit - nc))
    return upper + lower


def seeds_to_settle_equivalence(
    diff: float,
    sd1: float,
    sd2: float,
    margin: float,
    alpha: float = 0.05,
    max_n: int = 10000,
    power: float = POWER,
) -> int | None:
    """Smallest seeds per group at which an equivalence claim would be settled with
    probability ``power`` if the observed diff and SDs were the truth: the (1 - 2 alpha)
    Welch CI of the difference inside (-margin, margin), or, when |diff| > margin,
    entirely outside it (normal-approximation power: the distance to the margin exceeds
    (t_{1-alpha} + t_{power}) standard errors). None if no n <= max_n does it (including
    |diff| == margin, which never settles).
    """
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin}")
    dist = abs(abs(diff) - margin)  # how far the CI may reach before it crosses a bound
    if not (math.isfinite(dist) and math.isfinite(sd1) and math.isfinite(sd2)) or dist == 0:
        return None

    side = alpha / 2 if abs(diff) > margin else alpha  # outside: a two-sided question

    def settled(n: int) -> bool:
        se, df = _welch_se_df(sd1, n, sd2, n)
        if se == 0:
            return True
        return float(sps.t.ppf(1 - side, df) + sps.t.ppf(power, df)) * se < dist

    # The half-width shrinks monotonically in n, so double then bisect.
    lo, hi = 1, 2  # invariant: settled(hi) is the candidate, lo is known not to settle
    while not settled(hi):
        if hi >= max_n:
            return None
        lo, hi = hi, min(2 * hi, max_n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if settled(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class SeedsNeeded:
    """How many of our seeds would settle a question against a fixed reference, if the
    observed difference were the true one.

    ``n`` is the smallest count up to the search's limit, None when none does it.
    ``never`` says no count can: the reference's own uncertainty alone, ``floor`` (the
    interval's half-width with infinitely many of our seeds), reaches the margin.
    """

    n: int | None
    never: bool
    floor: float


def seeds_to_settle_margin(
    diff: float,
    sd: float,
    margin: float,
    alpha: float = 0.05,
    reference_var: float = 0.0,
    reference_df: float | None = None,
    max_n: int = _MAX_SEEDS,
    power: float = POWER,
) -> SeedsNeeded:
    """Our seeds needed for the (1 - 2 alpha) interval of (our mean - a reference) to lie
    inside (-margin, margin), or entirely outside it, with probability ``power`` if
    ``diff`` and ``sd`` were the truth (the distance to the margin exceeds
    (t_{1-alpha} + t_{power}) standard errors).

    Only our seeds grow; the reference's uncertainty stays: ``reference_var`` is the
    variance of the reference number (0 for an exact one) and ``reference_df`` its degrees
    of freedom (the write-up's n - 1 for a reported mean ± SD; None when the reference's
    spread is our own SD, as for a reported number taken as one run: df = n - 1). The
    half-width is computed for every n up to ``max_n``, since with a Welch df it need not
    shrink monotonically.
    """
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin}")
    dist = abs(abs(diff) - margin)
    side = alpha / 2 if abs(diff) > margin else alpha  # outside: a two-sided question
    limit_df = math.inf if reference_df is None else reference_df
    with _quiet():
        floor = float(sps.t.ppf(1 - side, limit_df) + sps.t.ppf(power, limit_df)) \
            * math.sqrt(reference_var) if reference_var > 0 else 0.0
    if not (math.isfinite(dist) and math.isfinite(sd) and math.isfinite(reference_var)) \
            or dist == 0:
        return SeedsNeeded(None, True, floor)
    n = np.arange(2, max_n + 1, dtype=float)
    ours = sd**2 / n
    se = np.sqrt(ours + reference_var)
    with _quiet():
        if reference_df is None:
            df = n - 1
        else:
            denom = ours**2 / (n - 1) + reference_var**2 / reference_df
            df = np.where(denom > 0, (ours + reference_var) ** 2 / denom, np.inf)
        half = np.where(se > 0, (sps.t.ppf(1 - side, df) + sps.t.ppf(power, df)) * se, 0.0)
    settled = np.flatnonzero(half < dist)
    if settled.size:
        return SeedsNeeded(int(n[settled[0]]), False, floor)
    return SeedsNeeded(None, floor >= dist, floor)


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Reported:
    """A number as reported in a paper, e.g. "86.50% ± 0.32%".

    ``mean`` and ``spread`` are as written (a percent is not divided by 100), except that
    a spread printed as zero is read as half a unit in its last digit, the most it can be;
    ``percent`` says a % sign appeared. ``spread_kind`` is "sd" unless the text
    marks it as a standard error.
    """

    mean: float
    spread: float | None
    spread_kind: str
    percent: bool
    text: str
    mean_text: str = ""  # the mean and the spread as printed, for their precision
    spread_text: str = ""

    def sd(self, n: int) -> float:
        """The spread as an SD across ``n`` runs (an SE is scaled by sqrt(n))."""
        if self.spread is None:
            return NAN
        return self.spread * math.sqrt(n) if self.spread_kind == "se" else self.spread


_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"
# a multiplier printed after a number ("267K", "1.3M", "2B"), case-sensitive: its power of
# ten joins the number's exponent, so "267K" keeps its printed precision (±500)
SCALE = {"k": 3, "K": 3, "M": 6, "G": 9, "B": 9}
_SCALED = r"(?-i:[kKMGB])"
_REPORTED = re.compile(
    rf"""^\s*
    (?P<mean>[+-]?(?:{_NUM}))(?P<scale1>{_SCALED})?\s*(?P<pct1>%|[x×])?\s*
    (?:(?:±|\+/-|\+-)\s*(?P<spread>{_NUM})(?P<scale2>{_SCALED})?\s*(?P<pct2>%|[x×])?\s*)?
    (?:\(\s*(?P<kind>s\.?e\.?(?:m\.?)?|s\.?d\.?|std)\s*\)\s*)?
    $""",
    re.IGNORECASE | re.VERBOSE,
)


def _scaled(token: str | None, scale: str | None, text: str) -> str | None:
    """A number token with its multiplier written as a power of ten: ("267", "K") ->
    "267e3" (the printed digits stay; Decimal reads the exponent)."""
    if token is None or scale is None:
        return token
    if "e" in token.lower():
        raise ValueError(f"cannot parse reported value {text!r}: {token!r} has both an "
                         f"exponent and the multiplier {scale!r}")
    return f"{token}e{SCALE[scale]}"
_SPACES = re.compile(r"[\u00a0\u2009\u202f]")


# A printed number's decimal exponent (digits after the point included) beyond this is no
# reported value: the write-up checks compute exactly with powers of ten, and 10 ** 10**8
# takes hours. A float's own range ends at about 1e308.
MAX_EXPONENT = 400


def _to_float(token: str, text: str) -> float:
    clean = token.replace(",", "")
    number = Decimal(clean)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and (abs(exponent) > MAX_EXPONENT
                                      or abs(number.adjusted()) > MAX_EXPONENT):
        raise ValueError(f"cannot parse reported value {text!r}: {token!r} has a decimal "
                         f"exponent beyond ±{MAX_EXPONENT}; write the number as the write-up "
                         "prints it")
    value = float(clean)
    if not math.isfinite(value):
        raise ValueError(f"cannot parse reported value {text!r}: {token!r} is not finite")
    return value


def parse_reported(text: str) -> Reported:
    """Parse a reported number: "86.50 +/- 0.32", "2,236 ± 8", "−0.0684", "81.22 ± 0.73 (SE)".

    Raises ValueError naming the text on anything else.
    """
    if not isinstance(text, str):
        raise ValueError(f"cannot parse reported value {text!r}: not a string")
    cleaned = _SPACES.sub(" ", text).replace("\u2212", "-")
    m = _REPORTED.match(cleaned)
    if m is None:
        raise ValueError(
            f"cannot parse reported value {text!r}: expected 'MEAN', 'MEAN ± SPREAD' "
            "or 'MEAN ± SPREAD (SD|SE)', optionally with %, x, or a multiplier (267K, "
            "1.3M, 2B)"
        )
    spread_token, kind = _scaled(m.group("spread"), m.group("scale2"), text), m.group("kind")
    mean_token = _scaled(m.group("mean"), m.group("scale1"), text)
    if kind is not None and spread_token is None:
        raise ValueError(f"cannot parse reported value {text!r}: ({kind}) without a ± spread")
    marker = "" if kind is None else kind.lower().replace(".", "")
    spread_kind = "se" if marker in ("se", "sem") else "sd"
    spread = None if spread_token is None else _to_float(spread_token, text)
    if spread == 0:  # "± 0.000" is a spread below what was printed, not none at all
        decimals = len(spread_token.partition(".")[2])
        spread = 0.5 * 10.0 ** -decimals
    return Reported(
        mean=_to_float(mean_token, text),
        spread=spread,
        spread_kind=spread_kind,
        percent="%" in (m.group("pct1") or "") + (m.group("pct2") or ""),
        text=text,
        mean_text=mean_token,
        spread_text=spread_token or "",
    )
