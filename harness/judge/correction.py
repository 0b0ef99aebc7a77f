"""Family-wise correction: Holm within each family of tests a reader takes together.

A report judges many numbers at once. Uncorrected, a table of forty cells that all
reproduce would show two "contradicted" by chance; corrected over the whole report, a
claim shares its level with every table cell and a 33 pp gap with 3 seeds is left
inconclusive. The families follow the questions a reader asks of a report, fixed in
advance of any result:

* **the claims**: the write-up's statements, read together in the summary and the
  flagged list ("which of its claims hold?");
* **each table**: its cells' reproductions and chance checks ("does table 2 reproduce?").

Every verdict of a family that rests on a test (``Verdict.p``) and is still judged after
the scale check enters it; a decisive verdict whose adjusted p is not below alpha becomes
inconclusive, and an inconclusive one states the seeds that would settle it at the
corrected level. The interval printed beside a corrected verdict is read at the
family's Holm-compatible level, alpha / (m - r) with r of its m tests rejected
(``Verdict.held_at``): every rejected test's p lies below it and no other's, so each
interval excludes the null exactly when its verdict is decisive. Exact comparisons and the
write-up checked against itself are not tests and stay outside. docs/verdicts.md states the design.
"""

from __future__ import annotations

import math

from ..stats import core as stats
from ..stats.questions import INCONCLUSIVE
from .verdict import JUDGED, TableResult, Verdict, fmt, level_text, p_text


def holm_within(verdicts: list[Verdict], alpha: float, family: str) -> int:
    """Correct the tests among ``verdicts`` in place as one Holm family named ``family``
    ("the claims", "table 'Main'"); returns its size."""
    tests = [v for v in verdicts
             if v.p is not None and not math.isnan(v.p) and v.verdict in JUDGED]
    m = len(tests)
    adjusted_ps = stats.holm([v.p for v in tests])
    rejected = sum(adjusted < alpha for adjusted in adjusted_ps)
    held = alpha / (m - rejected) if rejected < m else alpha
    for v, adjusted in zip(tests, adjusted_ps, strict=True):
        v.p_holm, v.alpha, v.family, v.held = adjusted, alpha, m, held
        where = f"Holm over the {m} tests of {family}" if m > 1 else \
            f"the only test of {family}, no correction"
        shown = p_text(adjusted, alpha)
        if v.verdict != INCONCLUSIVE and not adjusted < alpha:
            v.reason += (f" {where}: adjusted p = {shown}, not below {alpha:g}, so "
                         f"inconclusive (uncorrected: {v.verdict}).")
            v.verdict = INCONCLUSIVE
        else:
            v.reason += f" {where}: adjusted p = {shown}."
        found = v.held_interval()
        if found is not None:
            level, low, high = found
            v.reason += (f" Read at the family's Holm-compatible level ({level_text(level)}:"
                         f" alpha over the {m - rejected} tests it did not decide), the "
                         f"interval is [{fmt(low, '.4g')}, {fmt(high, '.4g')}].")
        if v.verdict == INCONCLUSIVE and v.need is not None:
            v.seeds_needed, text = v.need(alpha / m)
            basis = "all agreeing, " if "share" in v.evidence else "80 % power "
            power = f" ({basis}at the corrected level {fmt(alpha / m, '.2g')})" \
                if v.seeds_needed is not None else ""
            v.reason += f" {text}{power}."
    return m


def holm_by_family(families: list[tuple[str, list[Verdict]]], alpha: float) -> dict[str, int]:
    """Each (name, verdicts) family corrected on its own; {name: size}."""
    return {name: holm_within(verdicts, alpha, name) for name, verdicts in families}


def one_verdict_per_number(tables: list[TableResult]) -> None:
    """A number printed in two tables (``TableCell.repeat_of``, tables.py) is tested in
    both tables' families, so that each table's family-wise error stays at alpha; it then
    gets one verdict, decisive only where both corrections leave it decisive, and the
    later copy is marked ``repeat_of`` so that the report counts it once."""
    for table in tables:
        for cell in table.cells.values():
            if cell.repeat_of is None:
                continue
            for later, first in zip(cell.verdicts, cell.repeat_of.verdicts, strict=True):
                later.evidence["repeat_of"] = first.id
                if later.verdict == first.verdict:
                    continue
                undone, other = (later, first) if later.verdict in JUDGED and \
                    later.verdict != INCONCLUSIVE else (first, later)
                if undone.verdict not in JUDGED or other.verdict != INCONCLUSIVE:
                    continue  # only a decisive copy beside an inconclusive one is joined
                undone.reason += (
                    f" The same number is {other.id}, inconclusive after its table's "
                    f"correction (adjusted p = {fmt(other.p_holm, '.2g')}): one number gets "
                    f"one verdict, decisive only where both tables' corrections leave it "
                    f"decisive, so inconclusive (here: {undone.verdict}).")
                undone.verdict = INCONCLUSIVE
                if undone.need is not None and undone.alpha and undone.family:
                    undone.seeds_needed, text = undone.need(undone.alpha / undone.family)
                    undone.reason += f" {text}."
