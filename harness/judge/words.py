"""How a verdict is worded, and the small helpers every part of the judge shares: the
interval a test implies, the sentences for not-run and missing seeds, names of metrics
and configurations.
"""

from __future__ import annotations

import math
import operator
from typing import TypeVar

import numpy as np

from ..stats import core as stats
from ..stats.questions import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Answer, Test
from .aggregate import Selection
from .verdict import NOT_RUN, Need, Verdict, fmt

# Why a verdict is "not run" when its configuration is not in the plan at all (true of a
# tier without it and of a --where cut; a --seeds cut keeps every configuration).
LEFT_OUT = "is not in this report (not part of this tier, or left out by --where)"
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq}
_ON_MARGIN = "The difference lies on the margin itself: no number of seeds settles it"
T = TypeVar("T")


def verdict_level(alpha: float) -> float:
    """The level of the interval a margin verdict reads: TOST at ``alpha`` is the
    (1 - 2 alpha) interval inside the margin."""
    return 1 - 2 * alpha


def describe(values: np.ndarray, spec: str = ".4g") -> str:
    s = stats.summarize(values, n_boot=0)
    if s.n < 2:
        return f"{fmt(s.mean, spec)} (n={s.n})"
    return f"{fmt(s.mean, spec)} ± {fmt(s.sd, spec)} (n={s.n})"


def _word_directional(v: Verdict, base: str, answer: Answer, need: Need | None) -> Verdict:
    v.verdict, v.p, v.need = answer.outcome, answer.pvalue, need
    v.evidence.setdefault("diff", answer.diff)
    if answer.outcome == SUPPORTED:
        v.reason = f"{base}, on the claimed side."
    elif answer.outcome == CONTRADICTED:
        v.reason = f"{base}: the opposite side holds."
    else:
        v.reason = f"{base}, not significant."
    return v


def _word_margin(v: Verdict, base: str, answer: Answer, margin: float, why: str,
                 need: Need | None) -> Verdict:
    v.verdict, v.p, v.need = answer.outcome, answer.pvalue, need
    where = {SUPPORTED: "inside the", CONTRADICTED: "outside the",
             INCONCLUSIVE: "neither shown inside nor outside the"}[answer.outcome]
    decides = ""
    intervals = v.evidence.get("intervals") or {}
    if answer.outcome == CONTRADICTED and intervals:
        # "outside" is read on the (1 - alpha) interval, the wider one: name it, since
        # ``base`` quotes the (1 - 2 alpha) one that "inside" reads
        level = max(intervals)
        low, high = intervals[level]
        decides = f", its {100 * level:.3g} % interval [{fmt(low)}, {fmt(high)}] beyond it"
    v.reason = (f"{base}; {where} ±{margin:.3g} margin ({why}){decides}: "
                f"p = {fmt(answer.pvalue, '.2g')}.")
    return v


def margin_way(diff: float, margin: float) -> str:
    """Which way the seeds a margin question needs would decide it, if the observed
    difference is the truth."""
    return "inside the margin" if abs(diff) < margin else "outside the margin"


def undecidable_text(imputed: bool, gap: str) -> str:
    """Why no number of our seeds settles a margin question: the write-up's number alone is
    too uncertain, by its own spread or (``imputed``: runs that print no spread) by ours.
    ``gap`` is the distance between the difference and the margin, formatted."""
    whose = ("the uncertainty of the write-up's number alone (its runs, without a spread "
             "of their own, given our seeds' spread) is" if imputed else
             "the write-up's own uncertainty alone is")
    return (f"Even infinitely many of our seeds could not settle it: {whose} too wide for "
            f"80 % power over the {gap} between the difference and the margin")


def _interval(test: Test, values: np.ndarray, reference: float, level: float
              ) -> tuple[float, float]:
    """The ``level`` interval of (estimate - reference) that ``test`` implies."""
    from scipy import stats as sps

    result = test(values, reference, "two-sided")
    if result.statistic == 0:
        # a difference of exactly 0 hides the SE in 0 / 0; the test is linear in the
        # reference, so the same test against a shifted reference gives it back
        shift = 1e-3 * max(abs(reference), float(np.max(np.abs(values), initial=0.0)), 1e-12)
        probe = test(values, reference - shift, "two-sided")
        if not (math.isfinite(probe.statistic) and probe.statistic != 0):
            return result.diff, result.diff
        se = probe.diff / probe.statistic
    elif not math.isfinite(result.statistic):
        return result.diff, result.diff
    else:
        se = result.diff / result.statistic
    half = float(sps.t.ppf(0.5 + level / 2, result.df)) * abs(se)
    return result.diff - half, result.diff + half


def _shown(pvalue: float, on_claimed_side: bool, alpha: float) -> bool | None:
    """What the write-up's own numbers say about its claim: shown (True), significantly
    the other way (False), or neither (None: not shown, which is not a disagreement)."""
    if not pvalue < alpha:
        return None
    return on_claimed_side


def _compare(left: float, op: str, right: float, tol: float) -> bool:
    if op == "==":
        return abs(left - right) <= tol
    if op in (">", ">="):
        return OPS[op](left + tol, right)
    return OPS[op](left - tol, right)


def _not_run(v: Verdict, where: dict) -> Verdict:
    v.verdict = NOT_RUN
    v.reason = f"The configuration {_w(where)} {LEFT_OUT}."
    return v


def _no_result_text(empty: list[Selection]) -> str:
    """Why there is nothing to judge: configurations with no finished seed."""
    parts = [", ".join(f"{k}={v}" for k, v in (s.config or {}).items()) + ": "
             + (f"{s.valueless} finished without a value of it (the run never measured it)"
                if s.valueless else
                f"{s.failed} failed, none finished" if s.failed else "not run yet")
             for s in empty]
    head = "No seed with a value" if any(s.valueless for s in empty) else "No finished seed"
    return head + " (" + "; ".join(dict.fromkeys(parts)) + ")"


def _no_seeds(v: Verdict, a: Selection, b: Selection, need: int = 1) -> Verdict:
    """Too few seeds: "not run" when a side has no result at all, else inconclusive."""
    empty = [s for s in (a, b) if s.n == 0]
    if empty:
        v.verdict = NOT_RUN
        v.reason = _no_result_text(empty) + "."
        return v
    v.verdict = INCONCLUSIVE
    v.reason = (f"Too few finished seeds to test (have {a.n} and {b.n}, need {need}; "
                f"{a.failed + b.failed} failed).")
    return v


def _metric_name(metric: str, index: int | None) -> str:
    return metric if index is None else f"{metric}[{index}]"


def _w(where: dict) -> str:
    return ",".join(f"{v}" for v in where.values()) or "all"
