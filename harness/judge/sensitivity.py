"""Where the open choices land: each reported table number in a swept configuration,
judged again at every value a [[sensitivity]] sweep tried.

A sweep reruns configurations with one of the suite's open choices (a key of
``[choices]``) at other values. For every reported number of a metric column whose
configuration the sweep covers, each tried value gets the value verdict the table cell
gets (reproduced within its margin, TOST), at ``alpha / k`` for the ``k`` values that
compete to reproduce it (the suite's own value included): trying more values makes a
"reproduced" by chance likelier, and the Bonferroni split keeps that at ``alpha``. The
report says which values reproduce the number, or that none does, and the table cell's
own verdict names them. These are exploratory: they never change a verdict's outcome.

A tried value is judged as the table cell is, with the same margin and, for a derived
cell, the same propagated uncertainty of the write-up's number; where the tier does not
stand for the write-up's scale (the table cell is "not comparable"), no tried value is
judged either. A value that reproduces one number is reported with the numbers of the
same configuration that the same runs contradict: a choice that reaches one number by
breaking another has not reproduced the write-up.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from ..run.store import CellRecord
from ..spec.schemas import SensitivitySpec, reported_str
from ..stats import core as stats
from ..stats.margins import margin_for
from ..stats.propagate import propagate
from .aggregate import selection
from .engine import (
    CONTRADICTED,
    NOT_COMPARABLE,
    NOT_RUN,
    NOT_TESTABLE,
    SUPPORTED,
    Judge,
    TableResult,
)


@dataclass(frozen=True)
class Tried:
    value: object
    n: int
    mean: float | None
    sd: float | None
    verdict: str  # the value verdict at alpha / k
    own: bool = False  # the suite's own choice: the table cell's own verdict (after Holm)
    values: tuple[float, ...] = ()  # the seeds' numbers, sorted


@dataclass
class SweepCell:
    vid: str  # the table cell's verdict id: table/row/column
    label: str  # "Table, Row, Column: printed"
    reported: float
    margin: float
    sweep: SensitivitySpec
    tried: list[Tried] = field(default_factory=list)
    config: str = ""  # the swept configuration, as JSON: the cells of one set of runs
    # tried value -> the same configuration's numbers those runs contradict
    broken: dict[object, list[str]] = field(default_factory=dict)

    @property
    def reproduced_with(self) -> list[object]:
        return [t.value for t in self.tried if t.verdict == SUPPORTED and not t.own]

    @property
    def others(self) -> list[Tried]:
        return [t for t in self.tried if not t.own]

    @property
    def complete(self) -> bool:
        return all(t.verdict != NOT_RUN for t in self.tried)

    @property
    def moved(self) -> bool:
        """False when every tried value gave the very same numbers: the choice does not
        reach this number (a baseline the swept part of the pipeline never touches)."""
        return not self.complete or len({t.values for t in self.tried}) > 1

    def found(self) -> str:
        """What the sweep found for this number, in a few words (the report's column)."""
        if self.reproduced_with:
            return ", ".join(self._with_broken(v) for v in self.reproduced_with)
        if not self.complete:
            return "not every value has run"
        if all(t.verdict == NOT_COMPARABLE for t in self.others):
            return "not comparable at this tier"
        if all(t.verdict == NOT_TESTABLE for t in self.others):
            return "not testable by this suite"
        if all(t.verdict == CONTRADICTED for t in self.others):
            return "none: contradicted at every tried value"
        return "none shown: no tried value settles it"

    def _with_broken(self, value: object) -> str:
        broken = self.broken.get(value)
        return repr(value) + (f" (the same runs contradict: {'; '.join(broken)})"
                              if broken else "")

    def summary(self) -> str:
        """One sentence for the cell's verdict reason."""
        own = next(t for t in self.tried if t.own)
        values = ", ".join(f"{t.value!r}: {t.verdict}" for t in self.others)
        head = f"Where the open choice {self.sweep.choice!r} lands"
        if self.reproduced_with:
            got = ", ".join(self._with_broken(v) for v in self.reproduced_with)
            return (f"{head}: reproduced with {self.sweep.param} = {got} (tried {values}; "
                    f"the suite's {own.value!r}: {own.verdict}).")
        if not self.complete:
            return (f"{head}: not every tried {self.sweep.param} "
                    f"({', '.join(repr(t.value) for t in self.others)}) has run.")
        if all(t.verdict in (NOT_COMPARABLE, NOT_TESTABLE) for t in self.others):
            return (f"{head}: tried {self.sweep.param} = "
                    f"{', '.join(repr(t.value) for t in self.others)}, "
                    f"{self.others[0].verdict} either.")
        if all(t.verdict == CONTRADICTED for t in self.others):
            return (f"{head}: not reproduced under any tried {self.sweep.param} ({values}; "
                    f"the suite's {own.value!r}: {own.verdict}).")
        return (f"{head}: no tried {self.sweep.param} shown to reproduce it ({values}; "
                f"the suite's {own.value!r}: {own.verdict}).")


def analyse(judge: Judge, tables: list[TableResult], sweeps: list[SensitivitySpec],
            swept: list[tuple[int, CellRecord]]) -> list[SweepCell]:
    """Every reported metric cell of every table in a configuration a sweep covers."""
    out = []
    for i, sweep in enumerate(sweeps):
        records = [r for j, r in swept if j == i]
        for result in tables:
            table = result.spec
            for r, row in enumerate(table.row):
                for col in table.columns:
                    if col.metric is None or col.key not in row.reported or col.no_verdict \
                            or row.not_run:
                        continue
                    where = {**row.where, **col.where}
                    config = judge.results.config_for(where, "sensitivity")
                    if config is None or "grid" in config or any(
                            config.get(k) != v for k, v in sweep.where.items()):
                        continue
                    own = result.cells[(r, col.key)].verdict
                    out.append(_sweep_cell(judge, sweep, records, table, row, col, config,
                                           own.verdict if own else NOT_RUN))
    _mark_broken(out)
    return out


def _mark_broken(cells: list[SweepCell]) -> None:
    """For each value that reproduces a number, the numbers of the same runs (sweep and
    configuration) that it contradicts."""
    for cell in cells:
        for value in cell.reproduced_with:
            cell.broken[value] = [
                other.label for other in cells
                if other is not cell and other.sweep is cell.sweep
                and other.config == cell.config and any(
                    t.value == value and t.verdict == CONTRADICTED for t in other.tried)]


def _sweep_cell(judge, sweep, records, table, row, col, config, own_verdict) -> SweepCell:
    """The cell at each tried value; the suite's own value keeps the table's verdict."""
    text = reported_str(row.reported[col.key])
    reported = stats.parse_reported(text)
    margin, why = margin_for(reported, col.margin, col.margin_reason,
                             judge.bounds(col.metric))
    index = row.index if row.index is not None else col.index
    own_value = judge.results.plan.config_params(config)[sweep.param]
    values = [own_value, *(v for v in sweep.values if v != own_value)]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        values.sort()  # drawn left to right in order
    strict = copy.copy(judge)
    strict.alpha = judge.alpha / len(values)  # the values compete to reproduce it
    derived = row.derived.get(col.key)
    estimate = propagate(derived, judge.lookup_stats) if derived else None
    vid = f"{table.id}/{row.label}/{col.key}"
    quote = f"{table.title}, {row.label}, {col.label}: {text}"
    cell = SweepCell(vid, quote, reported.mean, margin, sweep,
                     config=json.dumps(config, sort_keys=True, default=str))
    own_sel = judge.results.select({**row.where, **col.where}, col.metric, index, vid)
    for value in values:
        if value == own_value:
            s = stats.summarize(own_sel.values, n_boot=0) if own_sel.n else None
            cell.tried.append(Tried(value, own_sel.n, s.mean if s else None,
                                    s.sd if s and s.n > 1 else None, own_verdict, own=True,
                                    values=tuple(sorted(map(float, own_sel.values)))))
            continue
        mine = [r for r in records if r.params.get(sweep.param) == value
                and all(r.params.get(k) == v for k, v in config.items())]
        sel = selection(config, mine, col.metric, index)
        if own_verdict in (NOT_COMPARABLE, NOT_TESTABLE):  # the scale, not the choice, rules
            outcome = own_verdict if sel.n else NOT_RUN  # it out
        else:
            outcome = strict._value_verdict(vid, quote, sel, reported, judge.reported_n(table),
                                            margin, why, col.format, col.metric,
                                            estimate=estimate).verdict
        s = stats.summarize(sel.values, n_boot=0) if sel.n else None
        cell.tried.append(Tried(value, sel.n, s.mean if s else None,
                                s.sd if s and s.n > 1 else None, outcome,
                                values=tuple(sorted(map(float, sel.values)))))
    return cell


def annotate(cells: list[SweepCell], tables: list[TableResult]) -> None:
    """Each table cell's value verdict gains where its sweeps land (its outcome stays);
    a number the sweep's choice does not move gains nothing."""
    by_id = {}
    for result in tables:
        for cell in result.cells.values():
            if cell.verdict is not None:
                by_id[cell.verdict.id] = cell.verdict
    for sweep_cell in cells:
        if not sweep_cell.moved:
            continue
        verdict = by_id.get(sweep_cell.vid)
        if verdict is not None:
            verdict.reason += " " + sweep_cell.summary()
