"""The write-up against itself: every printed number of its tables, checked for whether it
can be right as printed, with no claim written per number.

For each reported cell of a metric column:

- granularity (``[forensics.<metric>]`` in claims.toml gives the grid one run's value lies
  on): the mean of the table's ``reported_n`` runs by GRIM, its SD with the mean by
  GRIMMER; a failure names the run counts n (and, for an accuracy over N examples, the N)
  that would make the number possible;
- ranges: the mean inside the metric's bounds, the SD no larger than the bounds allow at
  that mean, an accuracy not below the column's chance level;
- recomputation: a derived cell (a column's or a row's ``derived``) recomputed from the
  printed inputs, each anywhere within half a unit of its last digit, against the printed
  result within half a unit of its own.

The arithmetic lives in ``forensics.py``; this module finds the numbers.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from . import forensics as fx
from .expressions import evaluate
from .specs import ClaimsSpec, ColumnSpec, RowSpec, SuiteSpec, TableSpec, reported_str
from .stats import parse_reported

MAX_INPUTS = 10  # a derived cell's inputs: 2 ** 10 corners at most
_REP = re.compile(r"rep\(\s*'([^']*)'\s*,\s*'([^']*)'\s*,\s*'([^']*)'\s*\)")


@dataclass(frozen=True)
class WriteUpCheck:
    cell: str  # "Table title, Row, Column: printed text"
    check: str  # GRIM | GRIMMER | range | chance | recomputation
    outcome: str  # forensics.CONSISTENT | INCONSISTENT | UNINFORMATIVE
    arithmetic: str
    would_pass: str = ""


def check_write_up(claims: ClaimsSpec, spec: SuiteSpec) -> list[WriteUpCheck]:
    """Every check of every reported metric cell, in table, row and column order."""
    out: list[WriteUpCheck] = []
    for table in claims.table:
        n = table.reported_n or claims.source.reported_n
        for row in table.row:
            for col in table.columns:
                if col.metric is None or col.key not in row.reported:
                    continue
                text = reported_str(row.reported[col.key])
                where = f"{table.title}, {row.label}, {col.label}: {text}"
                findings = _cell_findings(claims, spec, table, row, col, text, n)
                out += [WriteUpCheck(where, f.check, f.outcome, f.arithmetic,
                                     ", ".join(f.would_pass)) for f in findings]
    return out + _claimed_differences(claims)


def _claimed_differences(claims: ClaimsSpec) -> list[WriteUpCheck]:
    """A claim that one arm beats another, where the write-up's own table prints the same
    number for both: the table cannot show the difference the text claims."""
    cells: dict[tuple, tuple[str, str]] = {}  # (metric, where, index) -> (label, text)
    for table in claims.table:
        for row in table.row:
            for col in table.columns:
                if col.metric and col.key in row.reported:
                    index = row.index if row.index is not None else col.index
                    where = tuple(sorted({**row.where, **col.where}.items()))
                    cells[(col.metric, where, index)] = (
                        f"{table.title}, {row.label}, {col.label}",
                        reported_str(row.reported[col.key]))
    out = []
    for claim in claims.claim:
        if claim.kind != "greater":
            continue
        index_b = claim.index_b if claim.index_b is not None else claim.index
        a = cells.get((claim.metric, tuple(sorted(claim.a.items())), claim.index))
        b = cells.get((claim.metric, tuple(sorted(claim.b.items())), index_b))
        if a is None or b is None:
            continue
        same = fx.Printed.parse(parse_reported(a[1]).mean_text).value == \
            fx.Printed.parse(parse_reported(b[1]).mean_text).value
        out.append(WriteUpCheck(
            f"claim {claim.id}: {a[0]} against {b[0]}", "claimed difference",
            fx.INCONSISTENT if same else fx.CONSISTENT,
            f"the claim puts the first above the second; the table prints {a[1]} and {b[1]}"
            + (": the same number, no difference to claim" if same else "")))
    return out


def _cell_findings(claims: ClaimsSpec, spec: SuiteSpec, table: TableSpec, row: RowSpec,
                   col: ColumnSpec, text: str, n: int | None) -> list[fx.Finding]:
    rep = parse_reported(text)
    mean = fx.Printed.parse(rep.mean_text)
    sd = fx.Printed.parse(rep.spread_text) if rep.spread_text and rep.spread_kind == "sd" \
        else None
    found: list[fx.Finding] = []
    grid = claims.forensics.get(col.metric)
    if grid is not None and grid.step is not None and n:
        step = grid.step_value
        finding = fx.grim(mean, n, step)
        if finding.outcome == fx.INCONSISTENT and grid.examples:
            size = grid.examples  # the evaluation-set sizes nearest the declared one
            sizes = sorted(range(max(size // 2, 1), 2 * size + 1), key=lambda m: abs(m - size))
            finding.would_pass.extend(fx.grim_any_count(mean, n, sizes)[:6])
        found.append(finding)
        if sd is not None and n >= 2:
            found.append(fx.grimmer(mean, sd, n, step))
    if grid is not None and (grid.low is not None or grid.high is not None):
        found.append(fx.in_range(mean, grid.low, grid.high, "mean"))
        if sd is not None and n and n >= 2 and grid.low is not None and grid.high is not None:
            found.append(fx.bounded_sd(mean, sd, n, grid.low, grid.high))
    chance = col.chance if col.chance is not None else spec.metrics[col.metric].chance
    better = col.higher_is_better if col.higher_is_better is not None \
        else spec.metrics[col.metric].higher_is_better
    if chance is not None and better is not None:
        found.append(_against_chance(mean, chance, better))
    derived = row.derived.get(col.key)
    if derived:
        found.append(recompute(derived, claims, mean))
    return found


def _against_chance(mean: fx.Printed, chance: float, higher_is_better: bool) -> fx.Finding:
    worse = mean.high < chance if higher_is_better else mean.low > chance
    side = "below" if higher_is_better else "above"
    return fx.Finding("chance", fx.INCONSISTENT if worse else fx.CONSISTENT,
                      f"{mean.text} {side if worse else 'not ' + side} chance ({chance:g})")


def recompute(expr: str, claims: ClaimsSpec, printed: fx.Printed) -> fx.Finding:
    """The derived number from its printed inputs, each anywhere within half a unit of its
    last digit (the extremes lie at corners: differences and ratios are monotone in each
    input), against the printed result within half a unit of its own."""
    inputs = {m.groups(): fx.Printed.parse(parse_reported(
        claims.reported_text(*m.groups())).mean_text) for m in _REP.finditer(expr)}
    if len(inputs) > MAX_INPUTS:
        return fx.Finding("recomputation", fx.UNINFORMATIVE,
                          f"{len(inputs)} inputs: more than {MAX_INPUTS}")

    def value(choice: dict) -> float:
        return evaluate(expr, lambda t, r, c: (float(choice[(t, r, c)]), None))[0]

    central = value({k: p.value for k, p in inputs.items()})
    corners = [value(dict(zip(inputs, c, strict=True)))
               for c in itertools.product(*((p.low, p.high) for p in inputs.values()))]
    low, high = min(corners), max(corners)
    shown = _REP.sub(lambda m: inputs[m.groups()].text, expr)
    fits = high >= printed.low and low <= printed.high
    return fx.Finding("recomputation", fx.CONSISTENT if fits else fx.INCONSISTENT,
                      f"{shown} = {central:.6g} (inputs as printed, to half their last "
                      f"digit: {low:.6g} to {high:.6g}); printed {printed.text}")
