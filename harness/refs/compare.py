"""Two result sets side by side (``sparsebench compare``): per configuration and metric,
the test the data call for, Holm over the table's tests.

Pure functions of per-seed values. compare_sources.py reads the two sides (a store, a
committed reference, or one store's machine classes); compare_cli.py prints and writes
the table. The rules, fixed before any comparison was looked at (docs/verdicts.md has
why each test fits its data):

* **Twins are paired.** The same configuration and seed on both sides starts from the
  same initialisation and data order, so where both sides hold the same seeds (at least
  two) their differences are tested with a one-sample t test; when every difference is
  exactly 0 the row is *identical*, and no test is made. Otherwise Welch's t test of
  all seeds; seeds that both sides hold are then left unpaired, which is valid and only
  errs towards *same* (twins are positively correlated), and the row says so.
* **Indicators** (``per_seed = "indicator"``, 0/1 per seed) are counts, not normal
  samples: the exact McNemar test (an exact binomial test of the discordant twins) when
  paired, Fisher's exact test otherwise. **Grid choices** (``per_seed = "choice"``) have
  no test: the row is identical or lists the picks.
* **Exact where it is exact.** A ``deterministic`` metric that is constant on each side
  is compared exactly (identical or changed). A trained metric whose values (or paired
  differences) have zero spread gives no test, as in a verdict: zero spread says too few
  seeds or too coarse a metric, not no noise.
* **Timing** metrics (``timing = true``) are shown with their difference and its Welch
  interval, never tested: wall clocks differ between any two runs.
* **Tolerance.** A difference of means within the metric's declared ``tolerance`` (or
  float round-off) is *same* and enters no test, as in regress and verify: a consistent
  shift of a thousandth of a point between two CPUs is significant with enough twins and
  still says nothing about the claim.
* **One family.** Every row with a p enters one Holm correction at ``ALPHA``; a row is
  *changed* when its adjusted p is below it, else *same* (no change detected, which is
  not a proof of equality). A row no test can decide is *not comparable*, with the reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep

from ..judge.aggregate import entry
from ..judge.verdict import fmt, p_text
from ..spec.schemas import MetricSpec
from ..stats import core as stats
from ..stats import drift

ALPHA = 0.05  # the level of every row, after Holm over the table
CONFIDENCE = 0.95  # the level of the interval of each difference

IDENTICAL, CHANGED, SAME, NOT_COMPARABLE, TIMING = (
    "identical", "changed", "same", "not comparable", "timing")
MARKERS = (CHANGED, SAME, IDENTICAL, NOT_COMPARABLE, TIMING)

METHOD = (
    "B − A per configuration and metric. Where both sides hold the same seeds of a "
    "configuration (at least two), the twins' differences are tested (paired t; "
    "'identical' when every difference is exactly 0); otherwise Welch's t test of all "
    "seeds; a difference within the metric's declared tolerance (or float round-off) is "
    "'same', untested. Indicators: exact McNemar (paired) "
    "or Fisher's exact test; grid choices and timing metrics are shown, not tested; a "
    "deterministic metric is compared exactly; zero spread gives no test. Intervals: "
    f"{100 * CONFIDENCE:g} %. Every p enters one Holm family over the table: 'changed' "
    f"when the adjusted p is below {ALPHA:g}, else 'same' (no change detected).")

Kind = Literal["measurement", "indicator", "choice", "deterministic", "timing"]
Samples = Mapping[int, float]  # seed -> value


@dataclass(frozen=True)
class MetricKey:
    """One comparable number of a cell: a scalar, one entry of a vector, or a curve's last
    point (``index`` None)."""

    label: str  # "score", "layers[1]", "curve (last)"
    name: str
    index: int | None
    kind: Kind
    tolerance: float = 0.0  # suite.toml's: a difference of means within it never counts


@dataclass(frozen=True)
class SideStats:
    n: int
    mean: float
    sd: float

    def text(self) -> str:
        """'10.12 ± 0.51 (n 3)': the seeds' mean and SD, or '—' without a seed."""
        if self.n == 0:
            return "—"
        spread = f" ± {fmt(self.sd)}" if self.n >= 2 else ""
        return f"{fmt(self.mean)}{spread} (n {self.n})"


@dataclass
class Row:
    """One configuration's metric on both sides and what the comparison found."""

    config: str
    metric: str
    a: SideStats
    b: SideStats
    diff: float = math.nan  # B - A: of the means, or the mean paired difference
    low: float = math.nan  # the CONFIDENCE interval of diff (nan: none)
    high: float = math.nan
    test: str = ""  # the test made, e.g. "paired t, 3 seeds"; "" when none
    p: float | None = None  # its two-sided p; None without a test
    p_holm: float | None = None
    marker: str = NOT_COMPARABLE
    note: str = ""

    def diff_text(self) -> str:
        """'+0.52 [0.31, 0.73]', the interval left out where there is none."""
        if math.isnan(self.diff):
            return "—"
        interval = "" if math.isnan(self.low) else f" [{fmt(self.low)}, {fmt(self.high)}]"
        return f"{fmt(self.diff, '+.4g')}{interval}"


@dataclass
class Table:
    """Every row of a comparison, and the configurations only one side holds."""

    rows: list[Row]
    only_a: list[tuple[str, int]] = field(default_factory=list)  # (config, cells)
    only_b: list[tuple[str, int]] = field(default_factory=list)
    family: int = 0  # rows that entered Holm

    def counts(self) -> dict[str, int]:
        found = Counter(r.marker for r in self.rows)
        return {m: found[m] for m in MARKERS if found[m]}


def kind_of(spec: MetricSpec) -> Kind:
    if spec.timing:
        return "timing"
    if spec.per_seed != "measurement":
        return spec.per_seed
    return "deterministic" if spec.deterministic else "measurement"


def metric_keys(metrics: Mapping[str, MetricSpec], chosen: Sequence[str],
                lengths: Mapping[str, int]) -> list[MetricKey]:
    """The rows each configuration gets, in suite.toml's order: ``chosen`` metrics (every
    one when empty) but images (pictures, never compared); a vector's entries up to the
    longest seen on either side (``lengths``)."""
    keys = []
    for name, spec in metrics.items():
        if spec.kind == "image" or (chosen and name not in chosen):
            continue
        kind, tol = kind_of(spec), spec.tolerance
        if spec.kind == "vector":
            keys += [MetricKey(f"{name}[{i}]", name, i, kind, tol)
                     for i in range(lengths.get(name, 0))]
        elif spec.kind == "curve":
            keys.append(MetricKey(f"{name} (last)", name, None, kind, tol))
        else:
            keys.append(MetricKey(name, name, None, kind, tol))
    return keys


def table(configs: Sequence[str], keys: Sequence[MetricKey],
          a: Mapping[str, Mapping[int, dict]], b: Mapping[str, Mapping[int, dict]],
          alpha: float = ALPHA) -> Table:
    """The comparison of ``a`` and ``b`` ({config: {seed: metrics of a finished cell}})
    over ``configs`` in their order; a configuration one side lacks is listed apart; a
    metric neither side has for a configuration gets no row."""
    rows, only_a, only_b = [], [], []
    for config in configs:
        seeds_a, seeds_b = a.get(config), b.get(config)
        if seeds_a is None or seeds_b is None:
            if seeds_a is not None:
                only_a.append((config, len(seeds_a)))
            elif seeds_b is not None:
                only_b.append((config, len(seeds_b)))
            continue
        for key in keys:
            va, vb = _samples(seeds_a, key), _samples(seeds_b, key)
            if va or vb:
                rows.append(compare_samples(config, key.label, va, vb, key.kind,
                                            key.tolerance))
    return Table(rows, only_a, only_b, correct(rows, alpha))


def _samples(seeds: Mapping[int, dict], key: MetricKey) -> dict[int, float]:
    """{seed: value} of one metric key over finished seeds, finite values only."""
    out = {}
    for seed, metrics in seeds.items():
        value = entry(metrics.get(key.name), key.index)
        if value is not None and math.isfinite(value):
            out[seed] = value
    return out


def _side(values: Samples) -> SideStats:
    s = stats.summarize(list(values.values()), n_boot=0)
    return SideStats(s.n, s.mean, s.sd)


def compare_samples(config: str, metric: str, a: Samples, b: Samples, kind: Kind,
                    tolerance: float = 0.0) -> Row:
    """One row: side A's seeds against side B's, with the test ``kind`` calls for (the
    module's rules); a difference of means within ``tolerance`` (or float round-off) is
    same, untested. A row with a p is left unmarked: ``correct`` marks it."""
    row = Row(config, metric, _side(a), _side(b))
    if not a or not b:
        row.note = f"no finished seed with a value in {'A' if not a else 'B'}"
        return row
    row.diff = row.b.mean - row.a.mean
    if kind == "timing":
        row.low, row.high = _welch_interval(a, b)
        row.marker, row.note = TIMING, "wall-clock time: shown, never tested"
        return row
    twins = sorted(a) if set(a) == set(b) and len(a) >= 2 else None
    everything = {*a.values(), *b.values()}
    if len(everything) == 1:
        row.marker, row.note = IDENTICAL, f"every seed gives {fmt(next(iter(everything)))}"
        return row
    if twins is not None and all(a[s] == b[s] for s in twins):
        row.marker, row.diff = IDENTICAL, 0.0
        row.note = f"each of the {len(twins)} seeds gives the same value on both sides"
        return row
    if kind in ("measurement", "deterministic") \
            and abs(row.diff) <= drift.least_move(row.a.mean, tolerance):
        row.marker = SAME
        row.note = (f"the means differ by {fmt(row.diff, '+.3g')}, within "
                    + (f"the metric's declared tolerance ±{tolerance:g}" if tolerance else
                       "float round-off") + ": not tested")
        return row
    if kind == "deterministic" and _flat(a) and _flat(b):
        row.test, row.marker = "exact", CHANGED
        row.note = "the same in every seed by construction: compared exactly"
        return row
    if kind == "choice":
        row.note = f"a grid choice, not tested: A {_picks(a)}; B {_picks(b)}"
        return row
    if kind == "indicator" and everything <= {0.0, 1.0}:
        return _indicator(row, a, b, twins)
    if twins is not None:
        return _paired(row, np.array([b[s] - a[s] for s in twins]))
    return _welch(row, a, b)


def _paired(row: Row, d: np.ndarray) -> Row:
    """The one-sample t test of the twins' differences B - A."""
    row.diff = float(np.mean(d))
    if _flat(d):
        row.note = (f"the {len(d)} paired differences are all {fmt(d[0], '+.4g')}: zero "
                    "spread gives no test (a metric equal in every seed by construction is "
                    "declared deterministic = true in suite.toml and compared exactly)")
        return row
    result = stats.one_sample(d, 0.0)
    s = stats.summarize(d, n_boot=0)
    row.low, row.high = stats.mean_ci(s.mean, s.sd, s.n, CONFIDENCE)
    row.test, row.p = f"paired t, {len(d)} seeds", result.pvalue
    return row


def _welch(row: Row, a: Samples, b: Samples) -> Row:
    """Welch's t test of B's seeds against A's (no twins to pair)."""
    if len(a) < 2 or len(b) < 2:
        row.note = "a test needs two seeds on each side"
        return row
    if _flat(a) and _flat(b):
        row.note = ("each side's seeds all agree (zero spread gives no test; a metric equal "
                    "in every seed by construction is declared deterministic = true)")
        return row
    result = stats.welch(list(b.values()), list(a.values()))
    row.low, row.high = _welch_interval(a, b)
    row.test, row.p = "Welch", result.pvalue
    row.note = _unpaired(a, b)
    return row


def _indicator(row: Row, a: Samples, b: Samples, twins: list[int] | None) -> Row:
    """0/1 seeds: exact McNemar on twins (B's 1s against A's 1s among the discordant
    pairs), else Fisher's exact test of the two shares with Newcombe's interval."""
    if twins is not None:
        gained = sum(a[s] == 0 and b[s] == 1 for s in twins)
        lost = sum(a[s] == 1 and b[s] == 0 for s in twins)
        row.diff = (gained - lost) / len(twins)
        row.test = f"exact McNemar, {len(twins)} seeds"
        row.p = float(sps.binomtest(gained, gained + lost, 0.5).pvalue)
        row.note = f"{gained} seeds 0 -> 1, {lost} seeds 1 -> 0; no interval for paired shares"
        return row
    hits_a, hits_b = int(sum(a.values())), int(sum(b.values()))
    row.test = "Fisher exact"
    row.p = float(sps.fisher_exact([[hits_b, len(b) - hits_b],
                                    [hits_a, len(a) - hits_a]]).pvalue)
    low, high = confint_proportions_2indep(hits_b, len(b), hits_a, len(a), method="newcomb",
                                           compare="diff")
    row.low, row.high = float(low), float(high)
    row.note = "; ".join(filter(None, [f"A {hits_a} of {len(a)} seeds, B {hits_b} of {len(b)}",
                                       _unpaired(a, b)]))
    return row


def correct(rows: Sequence[Row], alpha: float = ALPHA) -> int:
    """Holm over every row with a p, in place: changed when the adjusted p is below
    ``alpha``, else same. Returns the family's size."""
    tested = [r for r in rows if r.p is not None and not math.isnan(r.p)]
    for r in rows:
        if r.p is not None and math.isnan(r.p):
            r.p, r.marker = None, NOT_COMPARABLE
            r.note = (r.note + "; " if r.note else "") + "the test gave no p"
    for r, adjusted in zip(tested, stats.holm([r.p for r in tested]), strict=True):
        r.p_holm = adjusted
        r.marker = CHANGED if adjusted < alpha else SAME
    return len(tested)


def _welch_interval(a: Samples, b: Samples) -> tuple[float, float]:
    sa, sb = _side(a), _side(b)
    return stats.diff_ci(sb.mean, sb.sd, sb.n, sa.mean, sa.sd, sa.n, CONFIDENCE)


def _flat(values: Samples | np.ndarray) -> bool:
    x = np.fromiter(values.values(), float) if isinstance(values, Mapping) else values
    return bool(np.all(x == x[0]))


def _unpaired(a: Samples, b: Samples) -> str:
    """Where some seeds are on both sides but not all: they are left unpaired, which
    only errs towards 'same' (twins are positively correlated)."""
    shared = sorted(set(a) & set(b))
    if not shared:
        return ""
    return (f"seed{'s' if len(shared) > 1 else ''} {', '.join(map(str, shared))} on both "
            "sides but the seed sets differ: unpaired, which errs towards same")


def _picks(values: Samples) -> str:
    """'0.09 in seed 0, 0.27 in seeds 1, 2'."""
    by_value: dict[float, list[int]] = {}
    for seed, value in sorted(values.items()):
        by_value.setdefault(value, []).append(seed)
    return ", ".join(f"{fmt(v)} in seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"
                     for v, s in by_value.items())


def count(n: int, word: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def p_cell(p: float | None, alpha: float = ALPHA) -> str:
    """A p as the table prints it: two significant digits, more where rounding would cross
    ``alpha``; '—' without a test."""
    return "—" if p is None else p_text(p, alpha)
