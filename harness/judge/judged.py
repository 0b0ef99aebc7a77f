"""Every verdict of one run at one level: the judge, the scale check and the Holm families.

``report.build`` renders one of these; ``settle`` judges each of its looks with one and
keeps, for the verdicts it set out to decide, the look that decided them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..spec.plan import Plan
from . import scale
from .aggregate import Results
from .correction import holm_by_family, one_verdict_per_number
from .engine import Judge
from .verdict import TableCell, TableResult, Verdict
from .when_run import OtherRuns, judge_when_run


@dataclass
class Judged:
    judge: Judge
    tables: list[TableResult]
    claims: list[Verdict]  # in claims.toml order
    sizes: list[Verdict]  # the size verdicts of greater claims (their own family)
    stand: scale.Standing | None

    def table_verdicts(self) -> list[Verdict]:
        return [v for t in self.tables for c in t.cells.values() for v in c.verdicts]

    def verdicts(self) -> Iterator[Verdict]:
        """Every verdict: claims, sizes, then table cells."""
        yield from self.claims
        yield from self.sizes
        yield from self.table_verdicts()

    def by_id(self) -> dict[str, Verdict]:
        return {v.id: v for v in self.verdicts()}

    def cell_of(self, verdict_id: str) -> tuple[TableResult, tuple, TableCell] | None:
        """The table cell a table verdict belongs to."""
        for table in self.tables:
            for key, cell in table.cells.items():
                if any(v.id == verdict_id for v in cell.verdicts):
                    return table, key, cell
        return None


def judge_run(plan: Plan, results: Results, alpha: float | None = None,
              others: OtherRuns | None = None) -> Judged:
    """Judge ``results`` at ``alpha`` (default: claims.toml's): tables, claims and the
    sizes of greater claims, the scale check, then Holm within each family and one
    verdict for a number two tables print. With
    ``others`` (the sweeps' and the recipe search's cells), a claim not testable for lack
    of a run is judged from them where they ran it (when_run.py)."""
    suite = plan.suite
    judge = Judge(suite.claims, results, str(suite.folder / "claims.toml"), alpha)
    tables = judge.tables()
    claims = judge.claims_verdicts()
    stand = scale.standing(plan, results)  # once: the heading and the verdicts share it
    scale.apply(plan, suite.claims.claim, claims, tables, results, stand)
    if others is not None:
        judge_when_run(plan, claims, others, judge.alpha)
    sized = judge.size_verdicts()
    scale.apply(plan, [c for c, _ in sized], [v for _, v in sized], [], results, stand)
    sizes = [v for _, v in sized]
    holm_by_family([("the claims", claims), ("the claimed sizes", sizes),
                    *((f"table '{t.spec.title}'", [v for c in t.cells.values()
                                                    for v in c.verdicts])
                      for t in tables)], judge.alpha)
    one_verdict_per_number(tables)
    return Judged(judge, tables, claims, sizes, stand)
