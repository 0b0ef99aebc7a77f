"""One family-wise correction over a report: Holm over every test that could be decisive.

A report judges many numbers at once (claims and table cells); uncorrected, a suite of
a hundred true statements would show five contradicted. Every verdict that rests on a
test (``Verdict.p``) and is still judged after the scale check enters one Holm family;
a decisive verdict whose adjusted p is not below alpha becomes inconclusive, and an
inconclusive one states the seeds that would settle it at the corrected level.
"""

from __future__ import annotations

import math

from . import stats
from .questions import INCONCLUSIVE
from .verdict import JUDGED, Verdict, fmt


def holm_over_report(verdicts: list[Verdict], alpha: float) -> int:
    """Correct ``verdicts`` in place; returns the size of the family."""
    family = [v for v in verdicts
              if v.p is not None and not math.isnan(v.p) and v.verdict in JUDGED]
    m = len(family)
    for v, adjusted in zip(family, stats.holm([v.p for v in family]), strict=True):
        v.p_holm = adjusted
        where = f"Holm over the {m} tests of this report" if m > 1 else "one test, no correction"
        if v.verdict != INCONCLUSIVE and not adjusted < alpha:
            v.reason += (f" {where}: adjusted p = {fmt(adjusted, '.2g')}, not below "
                         f"{alpha:g}, so inconclusive (uncorrected: {v.verdict}).")
            v.verdict = INCONCLUSIVE
        else:
            v.reason += f" {where}: adjusted p = {fmt(adjusted, '.2g')}."
        if v.verdict == INCONCLUSIVE and v.need is not None:
            v.seeds_needed, text = v.need(alpha / m)
            power = f" (80 % power at the corrected level {fmt(alpha / m, '.2g')})" \
                if v.seeds_needed is not None else ""
            v.reason += f" {text}{power}."
    return m
