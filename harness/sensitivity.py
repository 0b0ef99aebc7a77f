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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from . import stats
from .aggregate import selection
from .judge import NOT_RUN, SUPPORTED, Judge, TableResult
from .margins import margin_for
from .specs import SensitivitySpec, reported_str
from .store import CellRecord


@dataclass(frozen=True)
class Tried:
    value: object
    n: int
    mean: float | None
    sd: float | None
    verdict: str  # the value verdict at alpha / k
    own: bool = False  # the suite's own choice: the table cell's own verdict (after Holm)


@dataclass
class SweepCell:
    vid: str  # the table cell's verdict id: table/row/column
    label: str  # "Table, Row, Column: printed"
    reported: float
    margin: float
    sweep: SensitivitySpec
    tried: list[Tried] = field(default_factory=list)

    @property
    def reproduced_with(self) -> list[object]:
        return [t.value for t in self.tried if t.verdict == SUPPORTED and not t.own]

    @property
    def complete(self) -> bool:
        return all(t.verdict != NOT_RUN for t in self.tried)

    def summary(self) -> str:
        """One sentence for the cell's verdict reason."""
        own = next(t for t in self.tried if t.own)
        others = [t for t in self.tried if not t.own]
        values = ", ".join(repr(t.value) for t in others)
        if self.reproduced_with:
            got = ", ".join(repr(v) for v in self.reproduced_with)
            return (f"Where the open choice {self.sweep.choice!r} lands: reproduced with "
                    f"{self.sweep.param} = {got} (tried {values}; the suite's "
                    f"{own.value!r}: {own.verdict}).")
        if not self.complete:
            return (f"Where the open choice {self.sweep.choice!r} lands: not every tried "
                    f"{self.sweep.param} ({values}) has run.")
        return (f"Where the open choice {self.sweep.choice!r} lands: not reproduced under any "
                f"tried {self.sweep.param} ({values}; the suite's {own.value!r}: "
                f"{own.verdict}).")


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
                    if col.metric is None or col.key not in row.reported or col.no_verdict:
                        continue
                    where = {**row.where, **col.where}
                    config = judge.results.config_for(where, "sensitivity")
                    if config is None or "grid" in config or any(
                            config.get(k) != v for k, v in sweep.where.items()):
                        continue
                    own = result.cells[(r, col.key)].verdict
                    out.append(_sweep_cell(judge, sweep, records, table, row, col, config,
                                           own.verdict if own else NOT_RUN))
    return out


def _sweep_cell(judge, sweep, records, table, row, col, config, own_verdict) -> SweepCell:
    """The cell at each tried value; the suite's own value keeps the table's verdict."""
    text = reported_str(row.reported[col.key])
    reported = stats.parse_reported(text)
    margin, why = margin_for(reported, col.margin, col.margin_reason)
    index = row.index if row.index is not None else col.index
    own_value = judge.results.plan.config_params(config)[sweep.param]
    values = [own_value, *(v for v in sweep.values if v != own_value)]
    strict = copy.copy(judge)
    strict.alpha = judge.alpha / len(values)  # the values compete to reproduce it
    vid = f"{table.id}/{row.label}/{col.key}"
    quote = f"{table.title}, {row.label}, {col.label}: {text}"
    cell = SweepCell(vid, quote, reported.mean, margin, sweep)
    own_sel = judge.results.select({**row.where, **col.where}, col.metric, index, vid)
    for value in values:
        if value == own_value:
            s = stats.summarize(own_sel.values, n_boot=0) if own_sel.n else None
            cell.tried.append(Tried(value, own_sel.n, s.mean if s else None,
                                    s.sd if s and s.n > 1 else None, own_verdict, own=True))
            continue
        mine = [r for r in records if r.params.get(sweep.param) == value
                and all(r.params.get(k) == v for k, v in config.items())]
        sel = selection(config, mine, col.metric, index)
        verdict = strict._value_verdict(vid, quote, sel, reported, judge.reported_n(table),
                                        margin, why, col.format, col.metric)
        s = stats.summarize(sel.values, n_boot=0) if sel.n else None
        cell.tried.append(Tried(value, sel.n, s.mean if s else None,
                                s.sd if s and s.n > 1 else None, verdict.verdict))
    return cell


def annotate(cells: list[SweepCell], tables: list[TableResult]) -> None:
    """Each table cell's value verdict gains where its sweeps land (its outcome stays)."""
    by_id = {}
    for result in tables:
        for cell in result.cells.values():
            if cell.verdict is not None:
                by_id[cell.verdict.id] = cell.verdict
    for sweep_cell in cells:
        verdict = by_id.get(sweep_cell.vid)
        if verdict is not None:
            verdict.reason += " " + sweep_cell.summary()
