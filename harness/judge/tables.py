"""The write-up's tables judged cell by cell: each reported number against the seeds of
its configuration (a value verdict within the margin rule) and, where a chance level is
declared, against chance.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from ..spec.schemas import ColumnSpec, RowSpec, TableSpec, reported_str
from ..stats import core as stats
from ..stats.margins import margin_for
from ..stats.propagate import Estimate, propagate
from ..stats.questions import (
    INCONCLUSIVE,
    Test,
    against_estimate,
    against_exact,
    against_reported,
    against_runs,
    margin_question,
)
from .aggregate import Selection
from .verdict import NOT_RUN, NOT_TESTABLE, TableCell, TableResult, Verdict, about, fmt
from .words import (
    _ON_MARGIN,
    LEFT_OUT,
    _interval,
    _metric_name,
    _no_result_text,
    _shown,
    _word_margin,
    margin_way,
    undecidable_text,
)


class TableJudging:
    """Mixed into Judge (engine.py): uses its readings and selections."""

    def tables(self) -> list[TableResult]:
        """Every table's cells judged. A cell that asks the same question of the same
        seeds as an earlier one (a write-up that prints one checkpoint's figures in two
        tables) is marked ``repeat_of`` it: each stays in its own table's Holm family, and
        correction.one_verdict_per_number gives the two one verdict, counted once."""
        out, first = [], {}
        for t, table in enumerate(self.claims.table):
            cells = {}
            for r, row in enumerate(table.row):
                for col in table.columns:
                    cell = self._reading(
                        functools.partial(self._table_cell, t, table, r, row, col))
                    if cell.question is not None and cell.verdicts:
                        earlier = first.setdefault(cell.question, cell)
                        if earlier is not cell:
                            cell.repeat_of = earlier
                    cells[(r, col.key)] = cell
            out.append(TableResult(table, cells))
        return out

    def _table_cell(self, t: int, table: TableSpec, r: int, row: RowSpec, col: ColumnSpec
                    ) -> TableCell:
        raw = row.reported.get(col.key)
        text = None if raw is None else reported_str(raw)
        reported, reading = self.read(text, col.metric, self.reported_n(table)) if text \
            else (None, None)
        if row.not_run:
            return self._not_run_cell(table, row, col, reported, text)
        where = {**row.where, **col.where}
        key = f"table[{t}].row[{r}]"
        if col.param:
            value = self.results.param(where, col.param, f"{self.file}: {key}")
            return TableCell(reported, text, None, value, None)
        index = row.index if row.index is not None else col.index
        sel = self.select(where, col.metric, index, key)
        summary = stats.summarize(sel.values) if sel.n else None
        if summary is not None and self.bounds(col.metric):
            low, high = stats.within(summary.ci_low, summary.ci_high, self.bounds(col.metric))
            summary = dataclasses.replace(summary, ci_low=low, ci_high=high)
        cell = TableCell(reported, text, summary, None, None, sel.failed)
        if reported is None:
            return cell
        vid = f"{table.id}/{row.label}/{col.key}"
        quote = f"{table.title}, {table.row_header} {row.label}, {col.label}: {text}"
        derived = row.derived.get(col.key)
        margin, why = (None, None) if col.no_verdict else \
            margin_for(reported, col.margin, col.margin_reason, self.bounds(col.metric))
        chance = col.chance if col.chance is not None else self.spec.metrics[col.metric].chance
        better = None if chance is None else \
            self.higher_is_better(col.metric, col.higher_is_better)
        if sel.config is not None and sel.n:
            # the values, not the metric's name: a write-up may print one checkpoint's
            # number under two names (a final figure and the same point of a curve); with
            # all the metric's declarations a verdict reads (bounds, how its spread is
            # read, what a seed's value is, which settings it depends on for the scale)
            spec = self.spec.metrics[col.metric]
            cell.question = (json.dumps(sel.config, sort_keys=True, default=str),
                             tuple(sel.seeds or ()), tuple(sel.values.tolist()), text,
                             repr(reported), reading, self.bounds(col.metric),
                             self.deterministic(col.metric), spec.per_seed,
                             None if spec.depends_on is None else tuple(spec.depends_on),
                             tuple(spec.bound_to), self.reported_n(table), col.no_verdict,
                             margin, str(derived), chance, better)
        if not col.no_verdict:
            estimate = propagate(derived, self.lookup_stats) if derived else None
            cell.verdict = self._value_verdict(vid, quote, sel, reported, self.reported_n(table),
                                               margin, why, col.format, col.metric,
                                               estimate=estimate)
        if chance is not None:
            cell.chance = self._chance_verdict(f"{vid}/chance", quote, sel, reported,
                                               self.reported_n(table), chance, better,
                                               col.metric, index)
        for v in cell.verdicts if reading else ():
            v.reason += f" {reading}"
            v.evidence["spread_read_as"] = "se"
        return cell

    def _not_run_cell(self, table: TableSpec, row: RowSpec, col: ColumnSpec,
                      reported: stats.Reported | None, text: str | None) -> TableCell:
        """A row the suite does not run: the write-up's number, no seeds of ours."""
        cell = TableCell(reported, text, None, None, None)
        if reported is not None and not col.no_verdict:
            vid = f"{table.id}/{row.label}/{col.key}"
            quote = f"{table.title}, {table.row_header} {row.label}, {col.label}: {text}"
            cell.verdict = Verdict(vid, "value", quote, NOT_TESTABLE,
                                   f"Not run by this suite: {row.not_run}")
        return cell

    def _chance_verdict(self, vid: str, quote: str, sel: Selection, rep: stats.Reported,
                        rep_n: int | None, chance: float, higher_is_better: bool,
                        metric: str, index: int | None) -> Verdict:
        """The write-up's number and ours against chance, in the better direction."""
        v = Verdict(vid, "above_chance", quote, NOT_RUN, "")
        if rep.spread is not None and rep_n and rep_n >= 2:
            t = stats.one_sample_from_stats(rep.mean, rep.sd(rep_n), rep_n, chance)
            ok = _shown(t.pvalue, (t.diff > 0) == higher_is_better, self.alpha)
            side = {True: "better than chance", False: "worse than chance",
                    None: "not distinguishable from chance"}[ok]
            v.writeup = (f"{rep.text} (n={rep_n}{self._assumed(rep_n)}) vs chance {chance:g}: "
                         f"two-sided p = {fmt(t.pvalue, '.2g')}, {side}")
        else:
            ok = None
            v.writeup = f"{rep.text} vs chance {chance:g}: no spread to test"
        v.writeup_ok = ok
        if sel.config is None:
            v.reason = f"This configuration {LEFT_OUT}."
            return v
        op = ">" if higher_is_better else "<"
        return self._directional(v, metric, index, sel, chance, op, f"chance {chance:g}")

    def _value_verdict(self, vid: str, quote: str, sel: Selection, rep: stats.Reported,
                       rep_n: int | None, margin: float, why: str, spec: str, metric: str,
                       target: bool = False, estimate: Estimate | None = None) -> Verdict:
        """Reproduced within ±margin of a number: a number the write-up measured (with its
        uncertainty: a reported spread, one draw of its process, or the propagated
        uncertainty of a derived number) or, ``target``, a setting it chose (exact)."""
        v = Verdict(vid, "value", quote, NOT_RUN, "")
        if sel.config is None:
            v.reason = f"This configuration {LEFT_OUT}."
            return v
        if sel.n == 0:
            v.reason = _no_result_text([sel]) + "."
            return v
        if self.per_seed(metric) != "measurement":
            v = self._k_of_n(v, _metric_name(metric, None), np.asarray(sel.values),
                             lambda x: abs(x - rep.mean) <= margin,
                             f"match {rep.text} within ±{margin:.3g} ({why})")
            v.evidence["margin_note"] = why
            return v
        s = stats.summarize(sel.values, n_boot=0)
        diff = s.mean - rep.mean
        if s.n < 2:
            side = "within" if abs(diff) <= margin else "outside"
            v.verdict, v.reason = INCONCLUSIVE, (
                f"Reproduced {fmt(s.mean, spec)} from one seed vs reported {rep.text}: "
                f"{side} the ±{margin:.3g} margin, but one seed gives no interval.")
            return v
        flat = self._no_spread(metric, [("", sel)])
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"Reproduced vs reported {rep.text}: {flat}."
            return v
        test, ref_var, ref_df, label, note, imputed = self._reference(s, rep, rep_n, target,
                                                                      estimate)
        answer = margin_question(sel.values, rep.mean, margin, self.alpha, test)
        # the difference of two means within the bounds: ours - an exact target lies in
        # bounds - target; ours - the write-up's (a noisy number) in [low - high, high - low]
        bounds, shift = self.bounds(metric), rep.mean
        if bounds is not None and not target:
            bounds, shift = (bounds[0] - bounds[1], bounds[1] - bounds[0]), 0.0

        def interval_at(level: float) -> tuple[float, float]:
            return stats.within(*_interval(test, sel.values, rep.mean, level), bounds, shift)

        low, high = interval_at(self.level)
        outside = interval_at(1 - self.alpha)
        v.interval_at = interval_at
        noun = "the target" if target else "reported"
        base = (f"Reproduced {fmt(s.mean, spec)} ± {fmt(s.sd, spec.replace('+', ''))} "
                f"(n={s.n}) vs {noun} "
                f"{rep.text}{label}: difference {fmt(diff, spec)}, {100 * self.level:.3g} % CI "
                f"[{fmt(low, spec)}, {fmt(high, spec)}]")
        v.evidence = {"diff": diff, "ci": [low, high], "margin": margin, "effect": diff,
                      "compared": f"{fmt(s.mean, spec)} vs {rep.text}",
                      "intervals": {self.level: (low, high), 1 - self.alpha: outside}}

        def need(level: float) -> tuple[int | None, str]:
            if abs(diff) == margin:
                return None, _ON_MARGIN
            got = stats.seeds_to_settle_margin(diff, s.sd, margin, level, ref_var, ref_df)
            if got.never:
                # the summary and the flagged row say so, and whose uncertainty it is
                v.evidence["undecidable"] = "imputed" if imputed else "reported"
                return None, undecidable_text(imputed, fmt(abs(abs(diff) - margin), spec))
            fixed = "" if target else " (the write-up's runs stay as they are)"
            way = margin_way(diff, margin)
            return got.n, (f"If the observed difference is the true one, {about(got.n)} of "
                           f"our seeds would settle it, {way}{fixed}")

        _word_margin(v, base, answer, margin, why, need)
        if note:
            v.reason += " " + note
        return v

    def _reference(self, s: stats.Summary, rep: stats.Reported, rep_n: int | None,
                   target: bool, estimate: Estimate | None
                   ) -> tuple[Test, float, float | None, str, str, bool]:
        """What the reported number is held to be: the test against it, its variance and
        degrees of freedom (for the seeds a question needs), a label, a note, and whether
        its uncertainty is ours imputed (runs that print no spread) rather than its own."""
        if target:
            return (against_exact, 0.0, None, "", "The number is a setting the write-up chose.",
                    False)
        if estimate is not None and estimate.se > 0:
            note = (f"The write-up computed this number from other cells; their spreads carry "
                    f"into it: ± {fmt(estimate.se)} (SE, delta method, df "
                    f"{fmt(estimate.df, '.3g')}).")
            return (against_estimate(estimate.se, estimate.df), estimate.se**2, estimate.df, "",
                    note, False)
        if rep.spread is not None and rep_n and rep_n >= 2:
            rep_sd = rep.sd(rep_n)
            return (against_reported(rep_sd, rep_n), rep_sd**2 / rep_n, rep_n - 1,
                    f" (n={rep_n})", "", False)
        runs = rep_n if rep.spread is None and rep_n else 1
        note = ("The write-up's number is a mean of {runs} runs without a spread; its runs' SD "
                "is taken as the reproduced SD." if runs > 1 else
                "The write-up's number is one run; its spread is taken as the reproduced SD."
                if rep_n else
                "The write-up does not say how many runs its number is from: it is taken as "
                "one run, its spread as the reproduced SD.").format(runs=runs)
        return (against_runs(runs), s.sd**2 / runs, None, f" (n={runs})" if rep_n else "", note,
                True)
