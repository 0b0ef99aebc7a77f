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

import functools
import itertools
import re
from dataclasses import dataclass

from ..spec.schemas import ClaimsSpec, ColumnSpec, RowSpec, SuiteSpec, TableSpec, reported_str
from ..stats import forensics as fx
from ..stats.core import parse_reported
from ..stats.expressions import evaluate

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


def _sizes_for_the_column(table: TableSpec, col: ColumnSpec, n: int, examples: int
                          ) -> str:
    """The evaluation-set sizes N that make every mean of a column possible at once (one
    test set serves a whole column)."""
    means = [fx.Printed.parse(parse_reported(reported_str(r.reported[col.key])).mean_text)
             for r in table.row if col.key in r.reported]
    common = [m for m in _sizes_near(examples)
              if all(fx.grim_any_count(mean, n, [m]) for mean in means)][:4]
    return "every mean of the column: " + (", ".join(f"N = {m}" for m in common)
                                           or "none near the declared N")


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
        first = fx.Printed.parse(parse_reported(a[1]).mean_text)
        second = fx.Printed.parse(parse_reported(b[1]).mean_text)
        if first.value == second.value:  # rounding may hide a gap: worth a look
            outcome, words = fx.IMPLAUSIBLE, ": the same number, which cannot show the claim"
        elif first.high < second.low:
            outcome, words = fx.INCONSISTENT, ": the other way round"
        else:
            outcome, words = fx.CONSISTENT, ""
        out.append(WriteUpCheck(
            f"claim {claim.id}: {a[0]} against {b[0]}", "claimed difference", outcome,
            f"the claim puts the first above the second; the table prints {a[1]} and "
            f"{b[1]}{words}"))
    return out


def _cell_findings(claims: ClaimsSpec, spec: SuiteSpec, table: TableSpec, row: RowSpec,
                   col: ColumnSpec, text: str, n: int | None) -> list[fx.Finding]:
    rep = parse_reported(text)
    mean = fx.Printed.parse(rep.mean_text)
    spread = fx.Printed.parse(rep.spread_text) if rep.spread_text else None
    found: list[fx.Finding] = []
    grid = claims.forensics.get(col.metric)
    if grid is not None and grid.step is not None and n:
        step = grid.step_value
        finding = fx.grim(mean, n, step)
        if finding.outcome == fx.INCONSISTENT and grid.examples:
            finding.would_pass.extend(fx.grim_any_count(mean, n, _sizes_near(grid.examples))[:6])
            finding.would_pass.append(_sizes_for_the_column(table, col, n, grid.examples))
        found.append(_assuming(finding, grid.assumed))
        if spread is not None and n >= 2:
            found.append(_assuming(fx.grimmer(mean, spread, n, step, _readings(rep),
                                              low=grid.low, high=grid.high), grid.assumed))
    if grid is not None and (grid.low is not None or grid.high is not None):
        found.append(fx.in_range(mean, grid.low, grid.high, "value"))
        if spread is not None and rep.spread_kind == "sd" and n and n >= 2 \
                and grid.low is not None and grid.high is not None:
            found.append(fx.bounded_sd(mean, spread, n, grid.low, grid.high))
    chance = col.chance if col.chance is not None else spec.metrics[col.metric].chance
    if chance is None and grid is not None:
        chance = grid.chance
    better = col.higher_is_better if col.higher_is_better is not None \
        else spec.metrics[col.metric].higher_is_better
    if chance is not None and better is not None:
        found.append(_against_chance(mean, chance, better))
    derived = row.derived.get(col.key)
    if derived:
        found.append(recompute(derived, claims, mean))
    return found


def spread_reading(claims: ClaimsSpec, metric: str | None, rep, n: int | None
                   ) -> str | None:
    """The one reading of an unlabelled "± x" that the verdicts share with these checks:
    None (an SD, the default) unless GRIMMER on the metric's grid finds the spread
    impossible as a sample or population SD and possible as a standard error, and the
    grid is consistent (GRIM) with every mean the write-up prints for the metric; then the
    sentence that says so, and the number is an SE wherever it is read."""
    grid = claims.forensics.get(metric) if metric else None
    if grid is None or grid.step is None or not n or n < 2 or rep.spread is None \
            or rep.spread_kind != "sd" or _readings(rep) != tuple(fx.READINGS):
        return None
    # the grid must hold for the metric's other printed means too: a grid that makes
    # them impossible (GRIM) cannot rule out the SD reading of this one
    for table in claims.table:
        if (table.reported_n or claims.source.reported_n) != n:
            continue
        for row in table.row:
            for col in table.columns:
                if col.metric == metric and col.key in row.reported:
                    mean = fx.Printed.parse(parse_reported(
                        reported_str(row.reported[col.key])).mean_text)
                    if fx.grim(mean, n, grid.step_value).outcome == fx.INCONSISTENT:
                        return None
    finding = _grimmer(rep.mean_text, rep.spread_text, n, grid.step_value, grid.low,
                       grid.high)
    if finding.outcome != fx.CONSISTENT or \
            not finding.arithmetic.startswith("as a standard error"):
        return None
    return (f"The write-up's ± {rep.spread_text} is read as a standard error: as an SD of "
            f"{n} runs it is impossible (GRIMMER: {finding.arithmetic}).")


@functools.lru_cache(maxsize=256)
def _grimmer(mean: str, spread: str, n: int, step, low, high) -> fx.Finding:
    return fx.grimmer(fx.Printed.parse(mean), fx.Printed.parse(spread), n, step,
                      tuple(fx.READINGS), False, low, high)


def _readings(rep) -> tuple[str, ...]:
    """How a printed ± can be read: as labelled, else as any of them."""
    if rep.spread_kind == "se":
        return ("standard error",)
    if re.search(r"\(\s*(s\.?d\.?|std)\s*\)", rep.text, re.IGNORECASE):
        return ("sample SD", "population SD")
    return tuple(fx.READINGS)


def _sizes_near(size: int) -> list[int]:
    """Evaluation-set sizes from half to twice the declared one, nearest first."""
    return sorted(range(max(size // 2, 1), 2 * size + 1), key=lambda m: abs(m - size))


def _assuming(finding: fx.Finding, assumed: str) -> fx.Finding:
    """A finding that rests on a grid the write-up does not state says so."""
    if not assumed or finding.outcome == fx.UNINFORMATIVE:
        return finding
    return fx.Finding(finding.check, finding.outcome,
                      f"assuming {assumed}: {finding.arithmetic}", finding.would_pass)


def _against_chance(mean: fx.Printed, chance: float, higher_is_better: bool) -> fx.Finding:
    """Worse than chance is possible (noise, a model that did not learn), not impossible:
    a finding to look at."""
    worse = mean.high < chance if higher_is_better else mean.low > chance
    side = "below" if higher_is_better else "above"
    return fx.Finding("chance", fx.IMPLAUSIBLE if worse else fx.CONSISTENT,
                      f"{mean.text} {side if worse else 'not ' + side} chance ({chance:g})")


def _denominators(expr: str) -> list[str]:
    """The source of every divisor in the expression."""
    import ast

    return [ast.unparse(node.right) for node in ast.walk(ast.parse(expr, mode="eval"))
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)]


def recompute(expr: str, claims: ClaimsSpec, printed: fx.Printed) -> fx.Finding:
    """The derived number from its printed inputs, each anywhere within half a unit of its
    last digit, against the printed result within half a unit of its own. The range is
    taken over the corners of the inputs' box and, for up to 4 inputs, a grid of 9 points
    per input inside it (an extreme inside the box, as of (x - a)^2, is found); a divisor
    that can reach zero in the box leaves the range unbounded: uninformative."""
    inputs = {m.groups(): fx.Printed.parse(parse_reported(
        claims.reported_text(*m.groups())).mean_text) for m in _REP.finditer(expr)}
    if len(inputs) > MAX_INPUTS:
        return fx.Finding("recomputation", fx.UNINFORMATIVE,
                          f"{len(inputs)} inputs: more than {MAX_INPUTS}")

    def value(source: str, choice: dict) -> float:
        return evaluate(source, lambda t, r, c: (float(choice[(t, r, c)]), None))[0]

    points = 9 if len(inputs) <= 4 else 2
    axes = [[p.low + (p.high - p.low) * k / (points - 1) for k in range(points)]
            for p in inputs.values()]
    boxes = [dict(zip(inputs, c, strict=True)) for c in itertools.product(*axes)]
    try:
        for divisor in _denominators(expr):
            signs = {(v > 0) - (v < 0) for v in (value(divisor, b) for b in boxes)}
            if 0 in signs or signs == {1, -1}:
                raise ZeroDivisionError
        central = value(expr, {k: p.value for k, p in inputs.items()})
        values = [value(expr, b) for b in boxes]
    except ZeroDivisionError:
        return fx.Finding("recomputation", fx.UNINFORMATIVE,
                          f"{expr}: a divisor can be zero within the inputs' rounding")
    low, high = min(values), max(values)
    shown = _REP.sub(lambda m: inputs[m.groups()].text, expr)
    slack = 1e-9 * max(1.0, abs(low), abs(high))  # float rounding never makes a false alarm
    fits = high + slack >= printed.low and low - slack <= printed.high
    return fx.Finding("recomputation", fx.CONSISTENT if fits else fx.INCONSISTENT,
                      f"{shown} = {central:.6g} (inputs as printed, to half their last "
                      f"digit: {low:.6g} to {high:.6g}); printed {printed.text}")
