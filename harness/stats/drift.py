"""Did a metric's distribution move? The statistical comparison of two runs of the same
tier on different machine classes (regress and verify across classes, harness/run/machine.py).

Across machine classes the bits differ and a trained network turns the last bit of a
kernel into a seed-sized difference, so each seed's number is a new draw; what must hold
is that each configuration's seeds come from the same distribution. The design
(ALPHA and MARGIN were fixed before any run was compared; the paired test was added
after a first version without it was seen to detect nothing at 1 seed SD, and made
rank-based after a review showed the t version failing on whole-example accuracies):

* **Unit of evidence**: per configuration and metric key (a scalar, or one entry of a
  vector or curve), the stored seeds against the new ones. A key whose count of finite
  values changes (a NaN, a missing metric, a longer curve) is a move whatever the tests
  say (regress and verify check that apart).
* **Location, per configuration**: Welch's t test of the two seed means (the same seeds
  on both sides are positively correlated, so an unpaired test only errs towards
  passing). Seeds that agree exactly on both sides give no test: the machine is a source
  of noise the seeds do not show (a metric equal by construction is declared
  ``deterministic`` and compared exactly).
* **Location, pooled per key**: the per-configuration Welch statistics, each turned into
  a signed normal score through its own t distribution, summed by Stouffer's method.
  A change to shared code (an evaluation, a loss) moves a metric in every
  configuration; pooling is what gives 2-3 seeds a chance to see a shift of 1-2 seed
  SDs, which no single configuration's three seeds can show. It has no margin: with
  many configurations a consistent shift below half a seed SD can count here.
* **Paired shift, pooled per key**: the same seed re-run on another class starts from
  the same weights and data order, so under "nothing changed" the pair (stored, new) is
  exchangeable and their difference is symmetric about zero, however small the
  machine's own noise. Each difference is scaled by the spread of both sides' seeds in
  its configuration together (a scale the exchange leaves unchanged), and Wilcoxon's
  signed-rank test over every seed of every configuration asks whether the scaled
  differences are centred beyond ``MARGIN`` seed SDs (a minimum-effect test: a
  consistent shift smaller than half a seed SD, such as a rounding bias of one kernel
  path, is not a move; the standard error of a 3-seed mean is 0.58 SD). Symmetry is all
  it assumes, so ties and discrete values cost power, not validity; with n pairs its
  smallest p is 2^(1-n), so it speaks only where a tier has many seeds in all. Where the
  machine's noise is far below the seeds' (short training, most bits equal), it sees a
  shift of 1-2 seed SDs that no unpaired test of 2-3 seeds can. The SD is the one the
  seeds show: with 2-3 seeds it is itself noisy, which changes how large a real shift
  looks, never the false-alarm rate.
* **Spread, pooled per key**: per configuration the F test of the two variances (where
  both are positive), signed normal scores combined the same way. The F test assumes
  normal seeds; heavy tails raise its raw false-alarm rate (about 4x at p < 0.001 for
  t(3) seeds over 19 configurations), which Holm's family absorbs only in part.
* **Curves**: of a metric declared ``kind = "curve"`` (a loss per epoch) only the last
  entry is tested; every entry still counts in the finite-value check above. The entries
  of one curve move together (a change that moves a curve moves its end), and testing
  each one would divide the family's alpha by the curve's length: 25 epochs of a
  training loss made the dsb_mnist1d quick tier's family 3x larger and left it unable to
  see any shift (benchmarks/regress_power.py).
* **Family**: every test of one suite's tier, Holm's step-down at ``ALPHA`` = 0.001:
  the chance that a suite whose distributions did not move is reported as moved is at
  most 0.1 % where the tests' assumptions hold.
* **Floors**: a difference of means within the metric's declared ``tolerance`` or float
  round-off never counts; equal values on both sides never count.

The tests are pure functions of per-seed values (``Sample``) and work on any metric;
regress and verify build the samples from their snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

from . import core as stats

ALPHA = 0.001  # family-wise false-alarm rate per suite (see the module docstring)
MARGIN = 0.5  # seed SDs: the least consistent shift a paired test calls a move
RTOL, ATOL = 1e-9, 1e-12  # float round-off: never a move

Sample = Mapping[str, float]  # seed label -> value


@dataclass(frozen=True)
class Test:
    """One test of the family: ``what`` says which configuration(s) and key."""

    what: str
    kind: str  # "mean", "pooled mean" or "pooled spread"
    key: str
    stored: str  # the stored side, in words (mean of n, or pooled)
    new: str
    p: float
    adjusted: float = math.nan

    def moved(self, alpha: float = ALPHA) -> bool:
        return self.adjusted <= alpha


def _values(sample: Sample) -> np.ndarray:
    return np.array([v for v in sample.values() if v is not None and math.isfinite(v)],
                    dtype=float)


def finite_count(sample: Sample) -> int:
    """How many of a configuration's seeds gave a finite value."""
    return int(_values(sample).size)


def count_changes(old: Mapping[str, Mapping[str, Sample]],
                  new: Mapping[str, Mapping[str, Sample]]) -> list[tuple[str, str, int, int]]:
    """(key, configuration, stored count, new count) where a configuration gives another
    count of finite values for a key ({key: {configuration: seeds}} on each side): a NaN,
    a missing metric, a longer or shorter curve. The tests see finite values only, so
    these are compared apart, as moves."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        for config in sorted(old.get(key, {}).keys() | new.get(key, {}).keys()):
            a = finite_count(old.get(key, {}).get(config, {}))
            b = finite_count(new.get(key, {}).get(config, {}))
            if a != b:
                out.append((key, config, a, b))
    return out


def least_move(a: float, tolerance: float) -> float:
    """The least difference from ``a`` that can count: the metric's declared tolerance,
    or float round-off."""
    return max(tolerance, ATOL + RTOL * abs(a))


def welch_p(old: np.ndarray, new: np.ndarray, floor: float = 0.0) -> tuple[float, float]:
    """(two-sided p, signed normal score) of Welch's test of the means of ``new`` against
    ``old``; (1, 0), no test, when the difference is within ``floor`` or neither side
    varies. A side with one value is one draw, tested against the other side's
    prediction interval."""
    diff = float(new.mean() - old.mean())
    if abs(diff) <= least_move(old.mean(), floor):
        return 1.0, 0.0
    if old.size < 2 and new.size < 2:
        return 1.0, 0.0
    if old.size < 2 or new.size < 2:  # one draw: its prediction interval from the others
        many, one = (old, new) if old.size >= 2 else (new, old)
        sd = float(many.std(ddof=1))
        if sd == 0.0:
            return 1.0, 0.0
        t = diff / (sd * math.sqrt(1 / many.size + 1 / one.size))
        df = many.size - 1
        return float(2 * _t_sf(abs(t), df)), _signed_score(t, df)
    a, b = old.var(ddof=1) / old.size, new.var(ddof=1) / new.size
    if a + b == 0.0:  # seeds that agree exactly still differ by machine: no test
        return 1.0, 0.0
    # scipy.stats.ttest_ind(new, old, equal_var=False), written out: its argument checks
    # cost 2 ms a call, and a suite's family holds thousands (tests/test_drift.py checks
    # that the two agree).
    t = diff / math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (old.size - 1) + b**2 / (new.size - 1))
    return float(2 * _t_sf(abs(t), df)), _signed_score(t, df)


def _t_sf(t: float, df: float) -> float:
    """scipy.stats.t.sf(t, df) through scipy.special (the distribution object's checks
    cost 50-100 us a call, and a suite's family makes thousands)."""
    return float(special.stdtr(df, -t))


def _signed_score(t: float, df: float) -> float:
    """The normal score with the same one-sided tail as ``t`` on ``df`` degrees."""
    return float(-special.ndtri(_t_sf(t, df))) if t >= 0 else \
        float(special.ndtri(_t_sf(-t, df)))


def spread_score(old: np.ndarray, new: np.ndarray) -> float | None:
    """Signed normal score of the F test of var(new) / var(old), or None where a side has
    fewer than two values or no spread."""
    if old.size < 2 or new.size < 2:
        return None
    v_old, v_new = old.var(ddof=1), new.var(ddof=1)
    if v_old == 0 or v_new == 0:
        return None
    return _signed_score_f(v_new / v_old, new.size - 1, old.size - 1)


def _signed_score_f(ratio: float, df_new: int, df_old: int) -> float:
    upper = special.fdtrc(df_new, df_old, ratio)  # scipy.stats.f.sf(ratio, df_new, df_old)
    return float(-special.ndtri(upper)) if ratio >= 1 else \
        float(special.ndtri(special.fdtr(df_new, df_old, ratio)))


def stouffer_p(scores: Sequence[float]) -> float:
    """Two-sided p of the sum of independent signed normal scores (Stouffer)."""
    if not scores:
        return 1.0
    if any(math.isinf(s) for s in scores):
        signs = {math.copysign(1, s) for s in scores if math.isinf(s)}
        return 0.0 if len(signs) == 1 else 1.0
    z = sum(scores) / math.sqrt(len(scores))
    return float(2 * special.ndtr(-abs(z)))


def _describe(x: np.ndarray) -> str:
    if x.size == 0:
        return "no value"
    sd = f" ± {x.std(ddof=1):.3g}" if x.size > 1 else ""
    return f"{x.mean():.6g}{sd} (n={x.size})"


def scaled_differences(stored: Sample, new: Sample, floor: float = 0.0) -> np.ndarray:
    """new - stored of each seed both sides have, divided by the SD of both sides' values
    together (unchanged when a pair is exchanged); empty where neither side's seeds vary
    (a difference shared by every seed is then the machine's, not independent pairs) or
    every difference is within ``floor``."""
    seeds = [s for s in stored if s in new and stored[s] is not None and new[s] is not None
             and math.isfinite(stored[s]) and math.isfinite(new[s])]
    if not seeds:
        return np.array([])
    old = np.array([stored[s] for s in seeds], dtype=float)
    cur = np.array([new[s] for s in seeds], dtype=float)
    a, b = _values(stored), _values(new)
    if np.unique(a).size < 2 and np.unique(b).size < 2:
        return np.array([])  # no seed noise on either side: nothing to scale by
    both = np.concatenate([a, b])
    scale = both.std(ddof=1) if both.size > 1 else 0.0
    diff = cur - old
    if scale == 0 or np.all(np.abs(diff) <= least_move(float(np.abs(old).max()), floor)):
        return np.array([])
    return diff / scale


def paired_shift_p(z: np.ndarray, margin: float = MARGIN) -> float:
    """p that the centre of ``z`` (scaled paired differences) lies beyond +-``margin``:
    Wilcoxon's signed-rank test of ``z - margin`` (greater) and of ``z + margin`` (less),
    the smaller p doubled. Under "nothing changed" each difference is symmetric about
    zero, which is all the test assumes: no normality, and ties or discrete values
    (accuracies in whole examples) cost power, never validity. Fewer than two
    differences give no test (1)."""
    if z.size < 2:
        return 1.0
    return float(min(1.0, 2 * min(_signed_rank_p(z - margin, "greater"),
                                  _signed_rank_p(z + margin, "less"))))


def _signed_rank_p(d: np.ndarray, alternative: str) -> float:
    """Wilcoxon's one-sided signed-rank p of ``d``: its exact distribution where the
    differences are distinct and non-zero, else the normal approximation with scipy's tie
    correction (scipy would fall back on a permutation test there, seconds a call)."""
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    distinct = np.unique(np.abs(d)).size == d.size
    method = "exact" if distinct and d.size <= 50 else "asymptotic"
    return float(sps.wilcoxon(d, alternative=alternative, method=method).pvalue)


def key_tests(key: str, configs: Mapping[str, tuple[Sample, Sample]], floor: float = 0.0
              ) -> list[Test]:
    """The family's tests for one metric key: per configuration a Welch test; over the
    configurations the paired shift test, and (where more than one gives a value) the
    pooled location and spread tests."""
    tests, locations, spreads, pairs = [], [], [], []
    for config, (stored, new) in configs.items():
        old, cur = _values(stored), _values(new)
        if old.size == 0 or cur.size == 0:
            continue
        p, score = welch_p(old, cur, floor)
        tests.append(Test(config, "mean", key, _describe(old), _describe(cur), p))
        locations.append(score)
        z = scaled_differences(stored, new, floor)
        if z.size:
            pairs.append(z)
        spread = spread_score(old, cur)
        if spread is not None:
            spreads.append(spread)
    if pairs:
        z = np.concatenate(pairs)
        tests.append(Test(f"{len(pairs)} configuration(s)", "paired shift", key,
                          "", f"median {np.median(z):+.2f} seed SDs over {z.size} seeds",
                          paired_shift_p(z)))
    if len(locations) > 1:
        tests.append(Test(f"{len(locations)} configurations", "pooled mean", key,
                          "", "", stouffer_p(locations)))
    if len(spreads) > 1:
        tests.append(Test(f"{len(spreads)} configurations", "pooled spread", key, "", "",
                          stouffer_p(spreads)))
    return tests


def adjust(tests: list[Test]) -> list[Test]:
    """The tests with Holm-adjusted p-values over the whole family."""
    if not tests:
        return []
    adjusted = stats.holm([t.p for t in tests])
    return [Test(t.what, t.kind, t.key, t.stored, t.new, t.p, float(a))
            for t, a in zip(tests, adjusted, strict=True)]


def final_entries(keys: Sequence[str], curves: Collection[str]) -> list[str]:
    """``keys`` less every entry of a curve but its last (``name[i]`` with the largest i
    for each name in ``curves``); scalars and vectors are kept whole."""
    last: dict[str, int] = {}
    for key in keys:
        name, _, index = key.partition("[")
        if name in curves and index:
            last[name] = max(last.get(name, -1), int(index.rstrip("]")))
    return [key for key in keys if key.partition("[")[0] not in last
            or key == f"{key.partition('[')[0]}[{last[key.partition('[')[0]]}]"]


def family(samples: Mapping[str, Mapping[str, tuple[Sample, Sample]]],
           floors: Mapping[str, float], curves: Collection[str] = ()) -> list[Test]:
    """Every test of a suite's tier, Holm-adjusted: ``samples`` maps a metric key to its
    configurations' (stored, new) seed values; ``floors`` maps a metric's name (the key
    before any ``[i]``) to its declared tolerance. Of each metric named in ``curves`` only
    the last entry is tested (see "Curves" in the module docstring)."""
    tests = []
    for key in final_entries(list(samples), curves):
        configs = samples[key]
        tests += key_tests(key, configs, floors.get(key.split("[", 1)[0], 0.0))
    return adjust(tests)
