"""What the write-up's own numbers say about its claims (a greater, non-inferior or
threshold claim read on its tables, with their spreads), shown beside each verdict.
"""

from __future__ import annotations

from ..spec.schemas import GreaterClaim, NonInferiorClaim, ThresholdClaim
from ..stats import core as stats
from .verdict import Verdict, fmt
from .words import _compare, _shown


class WriteUpJudging:
    """Mixed into Judge (engine.py): uses its readings and selections."""

    def _reported_arms(self, c: GreaterClaim | NonInferiorClaim
                       ) -> tuple[stats.Reported, int | None, stats.Reported, int | None] | None:
        """The write-up's numbers (and runs) for both arms of a claim, when its tables
        report both."""
        ra = self.reported_for(c.metric, c.a, c.index)
        rb = self.reported_for(c.metric, c.b, c.index if c.index_b is None else c.index_b)
        return (*ra, *rb) if ra and rb else None

    def _writeup_greater(self, c: GreaterClaim, v: Verdict) -> None:
        found = self._reported_arms(c)
        if found is None:
            return
        rep_a, n_a, rep_b, n_b = found
        if rep_a.spread is None or rep_b.spread is None or not n_a or not n_b:
            holds = rep_a.mean - rep_b.mean > c.by
            v.writeup = (f"{rep_a.text} vs {rep_b.text}, "
                         f"{'ordered as claimed' if holds else 'NOT ordered as claimed'}")
            v.writeup_ok = holds
            return
        test = stats.welch_from_stats(rep_a.mean - c.by, rep_a.sd(n_a), n_a, rep_b.mean,
                                      rep_b.sd(n_b), n_b, "two-sided")
        shown = _shown(test.pvalue, test.diff > 0, self.alpha)
        v.writeup = (f"{rep_a.text} vs {rep_b.text} (n={n_a} each{self._assumed(n_a)}): "
                     f"two-sided Welch p = {fmt(test.pvalue, '.2g')}, "
                     f"{'significant' if test.pvalue < self.alpha else 'not significant'} at "
                     f"{self.alpha:g}")
        if c.significant and shown is None:  # the write-up calls it significant; it is not
            shown = False
            v.writeup += ", though the write-up calls the difference significant"
        v.writeup_ok = shown

    def _writeup_non_inferior(self, c: NonInferiorClaim, v: Verdict) -> None:
        """Do the write-up's own numbers show a no worse than b by more than the margin?"""
        found = self._reported_arms(c)
        if found is None:
            return
        rep_a, n_a, rep_b, n_b = found
        higher = self.higher_is_better(c.metric, c.higher_is_better)
        bound = -c.margin if higher else c.margin
        gap = rep_a.mean - rep_b.mean - bound
        if rep_a.spread is None or rep_b.spread is None or not n_a or not n_b:
            v.writeup_ok = (gap > 0) == higher
            v.writeup = (f"{rep_a.text} vs {rep_b.text}: {'within' if v.writeup_ok else 'beyond'}"
                         f" the margin as printed, no spread to test")
            return
        test = stats.welch_from_stats(rep_a.mean - bound, rep_a.sd(n_a), n_a, rep_b.mean,
                                      rep_b.sd(n_b), n_b, "two-sided")
        v.writeup_ok = _shown(test.pvalue, (gap > 0) == higher, self.alpha)
        said = {True: "shown", False: "worse beyond the margin", None: "not shown"}
        v.writeup = (f"{rep_a.text} vs {rep_b.text} (n={n_a} each{self._assumed(n_a)}) "
                     f"against the bound {bound:+g}: two-sided Welch p = "
                     f"{fmt(test.pvalue, '.2g')}, {said[v.writeup_ok]} at {self.alpha:g}")

    def _writeup_threshold(self, c: ThresholdClaim, v: Verdict) -> None:
        """The write-up's own number for the claim's cell, when a table reports it."""
        found = self.reported_for(c.metric, c.a, c.index)
        if not found:
            return
        rep, n = found
        holds = _compare(rep.mean, c.op, c.value, 0.0)
        side = "meets" if holds else "misses"
        if rep.spread is None or not n or n < 2:
            v.writeup_ok = holds
            v.writeup = f"{rep.text} {side} {c.op} {c.value:g} as printed"
            return
        t = stats.one_sample_from_stats(rep.mean, rep.sd(n), n, c.value)
        v.writeup_ok = _shown(t.pvalue, holds, self.alpha)
        v.writeup = (f"{rep.text} (n={n}{self._assumed(n)}) {side} {c.op} {c.value:g}: "
                     f"two-sided p = {fmt(t.pvalue, '.2g')} against it")
