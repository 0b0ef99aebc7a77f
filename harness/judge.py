"""Verdicts: the write-up's tables and claims checked against the reproduced seeds.

Every verdict carries the quote, one sentence of reason that cites the numbers, and,
when it is inconclusive, about how many seeds per group would settle it if the observed
difference were the true one. The statistical questions themselves are in questions.py.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .aggregate import Results, Selection, is_constant
from .expressions import evaluate
from .questions import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    against_exact,
    against_reported,
    against_runs,
    direction_outcome,
    margin_question,
    one_sided_question,
)
from .specs import ClaimSpec, ClaimsSpec, ColumnSpec, RowSpec, TableSpec

NOT_TESTABLE, NOT_RUN = "not testable", "not run"
NOT_COMPARABLE = "not comparable"  # the tier differs from the write-up's settings (scale.py)
# Why a verdict is "not run" when its configuration is not in the plan at all (true of a
# tier without it and of a --where cut; a --seeds cut keeps every configuration).
LEFT_OUT = "is not in this report (not part of this tier, or left out by --where)"
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq}


@dataclass
class Verdict:
    id: str
    kind: str
    quote: str
    verdict: str
    reason: str
    section: str = ""
    seeds_needed: int | None = None
    writeup: str | None = None  # the check on the write-up's own numbers, when there is one
    writeup_ok: bool | None = None
    evidence: dict = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """Listed among the claims the numbers do not support: a verdict neither supported
        nor left to a tier at the write-up's scale, or a write-up at odds with itself."""
        return self.verdict not in (SUPPORTED, NOT_COMPARABLE) or self.writeup_ok is False


@dataclass
class TableCell:
    reported: stats.Reported | None
    reported_text: str | None
    reproduced: stats.Summary | None
    param_value: object | None
    verdict: Verdict | None
    failed: int = 0


@dataclass
class TableResult:
    spec: TableSpec
    cells: dict[tuple[int, str], TableCell]  # (row index, column key) -> cell


def fmt(x: float | None, spec: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def verdict_level(alpha: float) -> float:
    """The level of the interval a value verdict or equivalence test reads: TOST at
    ``alpha`` is the (1 - 2 alpha) interval inside the margin."""
    return 1 - 2 * alpha


def describe(values: np.ndarray, spec: str = ".4g") -> str:
    s = stats.summarize(values, n_boot=0)
    if s.n < 2:
        return f"{fmt(s.mean, spec)} (n={s.n})"
    return f"{fmt(s.mean, spec)} ± {fmt(s.sd, spec)} (n={s.n})"


class Judge:
    def __init__(self, claims: ClaimsSpec, results: Results, claims_file: str):
        self.claims = claims
        self.results = results
        self.file = claims_file
        self.alpha = claims.source.alpha

    @property
    def level(self) -> float:
        """The level of the intervals value and equivalence verdicts read."""
        return verdict_level(self.alpha)

    # ------------------------------------------------------------ reported lookups

    def reported_n(self, table: TableSpec | None) -> int | None:
        return (table.reported_n if table and table.reported_n else None) or \
            self.claims.source.reported_n

    def lookup(self, table_id: str, row_label: str, col_key: str) -> tuple[float, float | None]:
        r = stats.parse_reported(self.claims.reported_text(table_id, row_label, col_key))
        return r.mean, r.spread

    def reported_for(self, metric: str, where: dict, index: int | None
                     ) -> tuple[stats.Reported, int | None] | None:
        """The write-up's number for this metric and configuration, if a table has one."""
        for table in self.claims.table:
            for col in table.columns:
                if col.metric != metric:
                    continue
                for row in table.row:
                    if col.key not in row.reported:
                        continue
                    cell_where = {**row.where, **col.where}
                    cell_index = row.index if row.index is not None else col.index
                    if cell_where == where and cell_index == index:
                        return stats.parse_reported(row.reported[col.key]), self.reported_n(table)
        return None

    def select(self, where: dict, metric: str, index: int | None, key: str) -> Selection:
        return self.results.select(where, metric, index, f"{self.file}: {key}")

    def deterministic(self, metric: str) -> bool:
        """The metric is the same for every seed by construction (suite.toml)."""
        spec = self.results.plan.suite.spec.metrics.get(metric)
        return bool(spec is not None and spec.deterministic)

    def _no_spread(self, metric: str, sides: list[tuple[str, Selection]]) -> str | None:
        """Why no test is possible: a side whose seeds (two or more) are all identical, for
        a metric that is not the same for every seed by construction. Zero spread in a
        trained number says too few seeds, or too coarse a metric, not no noise."""
        if self.deterministic(metric):
            return None
        flat = [f"all {s.n} seeds{label} gave {fmt(s.values[0])}" for label, s in sides
                if is_constant(s.values)]
        if not flat:
            return None
        return "; ".join(flat) + "; a trained metric with zero spread gives no test"

    # ------------------------------------------------------------ tables

    def tables(self) -> list[TableResult]:
        out = []
        for t, table in enumerate(self.claims.table):
            cells = {}
            for r, row in enumerate(table.row):
                for col in table.columns:
                    cells[(r, col.key)] = self._table_cell(t, table, r, row, col)
            out.append(TableResult(table, cells))
        return out

    def _table_cell(self, t: int, table: TableSpec, r: int, row: RowSpec, col: ColumnSpec
                    ) -> TableCell:
        text = row.reported.get(col.key)
        reported = stats.parse_reported(text) if text else None
        where = {**row.where, **col.where}
        key = f"table[{t}].row[{r}]"
        if col.param:
            value = self.results.param(where, col.param, f"{self.file}: {key}")
            return TableCell(reported, text, None, value, None)
        index = row.index if row.index is not None else col.index
        sel = self.select(where, col.metric, index, key)
        summary = stats.summarize(sel.values) if sel.n else None
        verdict = None
        if reported is not None and col.margin is not None:
            quote = f"{table.title}, {table.row_header} {row.label}, {col.label}: {text}"
            verdict = self._value_verdict(f"{table.id}/{row.label}/{col.key}", quote, sel,
                                          reported, self.reported_n(table), col.margin, col.format,
                                          col.metric)
        return TableCell(reported, text, summary, None, verdict, sel.failed)

    # ------------------------------------------------------------ claims

    def claims_verdicts(self) -> list[Verdict]:
        verdicts = [self._claim(i, c) for i, c in enumerate(self.claims.claim)]
        self._holm(verdicts)
        return verdicts

    def _claim(self, i: int, c: ClaimSpec) -> Verdict:
        v = Verdict(c.id, c.kind, c.quote, NOT_TESTABLE, c.reason or "", c.section)
        if c.kind == "not_testable":
            return v
        if c.kind == "internal":
            return self._internal(c, v)
        key = f"claim[{i}]"
        a = self.select(c.a, c.metric, c.index, key + ".a")
        if a.config is None:
            return _not_run(v, c.a)
        if c.kind in ("greater", "equivalent"):
            b_index = c.index_b if c.index_b is not None else c.index
            b = self.select(c.b, c.metric, b_index, key + ".b")
            if b.config is None:
                return _not_run(v, c.b)
            return self._greater(c, v, a, b) if c.kind == "greater" else \
                self._equivalent(c, v, a, b)
        if c.kind == "value":
            reported = stats.Reported(c.value, None, "sd", False, f"{c.value:g}")
            out = self._value_verdict(c.id, c.quote, a, reported, None, c.margin, ".4g",
                                      c.metric, stated=True)
            out.kind, out.section = c.kind, c.section
            return out
        if c.kind == "threshold":
            return self._threshold(c, v, a)
        return self._above_chance(c, v, a)

    def _internal(self, c: ClaimSpec, v: Verdict) -> Verdict:
        left, cited_l = evaluate(c.left, self.lookup)
        right, cited_r = evaluate(c.right, self.lookup)
        holds = _compare(left, c.op, right, c.tol)
        tol = f" (tolerance {c.tol:g})" if c.tol else ""
        cites = "; ".join(dict.fromkeys(cited_l + cited_r))
        v.verdict = SUPPORTED if holds else CONTRADICTED
        v.reason = (f"From the write-up's own numbers ({cites}): {fmt(left)} {c.op} "
                    f"{fmt(right)}{tol} {'holds' if holds else 'does not hold'}.")
        v.evidence = {"left": left, "right": right}
        return v

    def _greater(self, c: ClaimSpec, v: Verdict, a: Selection, b: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        v.evidence = {"a": a.values.tolist(), "b": b.values.tolist(), "family":
                      c.family or c.metric, "label_a": _w(c.a), "label_b": label_b}
        self._writeup_greater(c, v)
        if a.n < 1 or b.n < 1:
            return _no_seeds(v, a, b)
        da, db = describe(a.values), describe(b.values)
        if self.deterministic(c.metric) and is_constant(a.values) and is_constant(b.values):
            holds = a.values[0] > b.values[0]
            v.verdict = SUPPORTED if holds else CONTRADICTED
            v.reason = (f"{name} is the same in every seed: {_w(c.a)} {fmt(a.values[0])} vs "
                        f"{_w(c.b)} {fmt(b.values[0])}, so the claim "
                        f"{'holds' if holds else 'fails'} exactly.")
            v.evidence["deterministic"] = True
            return v
        if a.n < 2 or b.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = (f"{name}: {_w(c.a)} {da} vs {_w(c.b)} {db}; a test needs at least two "
                        "seeds per side.")
            return v
        flat = self._no_spread(c.metric, [(f" of {_w(c.a)}", a), (f" of {label_b}", b)])
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"{name}: {_w(c.a)} {da} vs {_w(c.b)} {db}; {flat}."
            return v
        test = stats.welch(a.values, b.values)  # two-sided: the sign decides, in _holm
        g = stats.hedges_g(a.values, b.values)
        v.evidence.update(p=test.pvalue, diff=test.diff, g=g, text_a=da, text_b=db, name=name)
        return v  # the verdict is set in _holm, once the family's p-values are known

    def _writeup_greater(self, c: ClaimSpec, v: Verdict) -> None:
        ra = self.reported_for(c.metric, c.a, c.index)
        rb = self.reported_for(c.metric, c.b, c.index if c.index_b is None else c.index_b)
        if not ra or not rb:
            return
        (rep_a, n_a), (rep_b, n_b) = ra, rb
        if rep_a.spread is None or rep_b.spread is None or not n_a or not n_b:
            holds = rep_a.mean > rep_b.mean
            v.writeup = (f"{rep_a.text} vs {rep_b.text}, "
                         f"{'ordered as claimed' if holds else 'NOT ordered as claimed'}")
            v.writeup_ok = holds
            return
        test = stats.welch_from_stats(rep_a.mean, rep_a.sd(n_a), n_a, rep_b.mean, rep_b.sd(n_b),
                                      n_b, "greater")
        significant = test.pvalue < self.alpha
        v.writeup = (f"{rep_a.text} vs {rep_b.text} (n={n_a} each): "
                     f"one-sided Welch p = {fmt(test.pvalue, '.2g')}, "
                     f"{'significant' if significant else 'not significant'} at "
                     f"{self.alpha:g}")
        v.writeup_ok = significant if c.significant else test.diff > 0

    def _holm(self, verdicts: list[Verdict]) -> None:
        families: dict[str, list[Verdict]] = {}
        for v in verdicts:
            if v.kind == "greater" and "p" in v.evidence:
                families.setdefault(v.evidence["family"], []).append(v)
        for family in families.values():
            # Holm over the two-sided p-values: one test per claim, its sign the direction
            adjusted = stats.holm([v.evidence["p"] for v in family])
            m = len(family)
            for v, p in zip(family, adjusted, strict=True):
                e = v.evidence
                e["p_holm"] = p
                holm = f"Holm over {m} claims" if m > 1 else "one claim, no correction"
                base = (f"{e['name']}: {_w_from(v, 'a')} {e['text_a']} vs {_w_from(v, 'b')} "
                        f"{e['text_b']}, difference {fmt(e['diff'])}, Hedges' g "
                        f"{fmt(e['g'], '.2f')}")
                test = f"two-sided Welch p = {fmt(p, '.2g')} ({holm})"
                v.verdict = direction_outcome(p, e["diff"], "above", self.alpha)
                if v.verdict == SUPPORTED:
                    v.reason = f"{base}; {test}."
                elif v.verdict == CONTRADICTED:
                    v.reason = f"{base}; the reverse holds: {test}."
                else:
                    v.seeds_needed = stats.seeds_to_detect(e["g"], self.alpha / m,
                                                           alternative="two-sided")
                    if not (math.isfinite(e["g"]) and e["g"] != 0):
                        need = "the two sides have the same mean: no number of seeds separates them"
                    else:
                        shows = "detect it" if e["diff"] > 0 else "show the reverse"
                        need = (f"if the observed difference is the true one, "
                                f"{_about(v.seeds_needed)} seeds per side would {shows}")
                    v.reason = (f"{base}; {test}, not significant at {self.alpha:g}; "
                                f"{need}.")

    def _equivalent(self, c: ClaimSpec, v: Verdict, a: Selection, b: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        if a.n < 2 or b.n < 2:
            return _no_seeds(v, a, b, 2)
        m = c.margin
        da, db = describe(a.values), describe(b.values)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        flat = self._no_spread(c.metric, [(f" of {_w(c.a)}", a), (f" of {label_b}", b)])
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"{name}: {_w(c.a)} {da} vs {_w(c.b)} {db}; {flat}."
            return v
        sa, sb = stats.summarize(a.values, n_boot=0), stats.summarize(b.values, n_boot=0)
        diff = sa.mean - sb.mean
        low, high = stats.diff_ci(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n, self.level)
        test = stats.tost(a.values, b.values, -m, m)
        base = (f"{name}: {_w(c.a)} {da} vs {_w(c.b)} {db}, difference {fmt(diff)}, "
                f"{100 * self.level:g} % CI [{fmt(low)}, {fmt(high)}]")
        v.evidence = {"tost_p": test.pvalue, "ci": [low, high]}
        outcome = SUPPORTED if test.pvalue < self.alpha else \
            CONTRADICTED if low > m or high < -m else INCONCLUSIVE

        def need() -> tuple[int | None, str]:
            n = stats.seeds_to_settle_equivalence(diff, sa.sd, sb.sd, m, self.alpha)
            if abs(diff) == m:
                return None, _ON_MARGIN
            return n, (f"if the observed difference is the true one, {_about(n)} seeds per "
                       "side would settle it")

        return _settle(v, base, outcome, m, need)

    def _value_verdict(self, vid: str, quote: str, sel: Selection, rep: stats.Reported,
                       rep_n: int | None, margin: float, spec: str, metric: str,
                       stated: bool = False) -> Verdict:
        """Reproduced within ±margin of a number: a table's reported cell (the write-up's
        measurement, with its uncertainty) or, ``stated``, a claim's own number (exact)."""
        v = Verdict(vid, "value", quote, NOT_RUN, "")
        if sel.config is None:
            v.reason = f"This configuration {LEFT_OUT}."
            return v
        if sel.n == 0:
            v.reason = _no_result_text([sel]) + "."
            return v  # NOT_RUN: no result to judge
        s = stats.summarize(sel.values, n_boot=0)
        diff = s.mean - rep.mean
        if s.n < 2:
            if abs(s.mean - rep.mean) <= margin:
                v.verdict, v.reason = INCONCLUSIVE, (
                    f"Reproduced {fmt(s.mean, spec)} from one seed vs reported {rep.text}: "
                    "within the margin, but one seed gives no interval.")
            else:
                v.verdict, v.reason = INCONCLUSIVE, (
                    f"Reproduced {fmt(s.mean, spec)} from one seed vs reported {rep.text}: "
                    f"outside the ±{margin:g} margin, but one seed gives no interval.")
            return v
        flat = self._no_spread(metric, [("", sel)])
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"Reproduced vs reported {rep.text}: {flat}."
            return v
        # What the reported number is held to be, and so its share of the uncertainty
        note, label = "", ""
        if stated:  # the claim's own number, e.g. a target: exact
            test, ref_var, ref_df = against_exact, 0.0, None
            low, high = (x - rep.mean for x in stats.mean_ci(s.mean, s.sd, s.n, self.level))
        elif rep.spread is not None and rep_n and rep_n >= 2:  # a mean ± SD of rep_n runs
            rep_sd = rep.sd(rep_n)
            test, ref_var, ref_df = against_reported(rep_sd, rep_n), rep_sd**2 / rep_n, rep_n - 1
            low, high = stats.diff_ci(s.mean, s.sd, s.n, rep.mean, rep_sd, rep_n, self.level)
            label = f" (n={rep_n})"
        else:  # one run, or a mean without a spread: its spread is ours
            runs = rep_n if rep.spread is None and rep_n else 1
            test, ref_var, ref_df = against_runs(runs), s.sd**2 / runs, None
            low, high = (x - rep.mean for x in stats.mean_ci(
                s.mean, s.sd * math.sqrt(1 + s.n / runs), s.n, self.level))
            note = (f"The write-up's number is a mean of {runs} runs without a spread; its "
                    "runs' SD is taken as the reproduced SD." if runs > 1 else
                    "The write-up's number is one run; its spread is taken as the reproduced "
                    "SD." if rep_n else
                    "The write-up does not say how many runs its number is from: it is "
                    "taken as one run, its spread as the reproduced SD.")
            label = f" (n={runs})" if rep_n else ""
        answer = margin_question(sel.values, rep.mean, margin, self.alpha, test)
        base = (f"Reproduced {fmt(s.mean, spec)} ± {fmt(s.sd, spec)} (n={s.n}) vs reported "
                f"{rep.text}{label}: difference {fmt(diff, spec)}, {100 * self.level:g} % CI "
                f"[{fmt(low, spec)}, {fmt(high, spec)}]")
        v.evidence = {"diff": diff, "ci": [low, high], "margin": margin, "p": answer.pvalue}

        def need() -> tuple[int | None, str]:
            if abs(diff) == margin:
                return None, _ON_MARGIN
            got = stats.seeds_to_settle_margin(diff, s.sd, margin, self.alpha, ref_var, ref_df)
            if got.never:
                return None, (f"even infinitely many of our seeds could not settle it: the "
                              f"write-up's own uncertainty alone (±{fmt(got.floor, spec)} in "
                              f"the {100 * self.level:g} % CI) is wider than the "
                              f"{fmt(abs(abs(diff) - margin), spec)} between the difference "
                              "and the margin")
            fixed = "" if stated else " (the write-up's runs stay as they are)"
            return got.n, (f"if the observed difference is the true one, {_about(got.n)} of "
                           f"our seeds would settle it{fixed}")

        _settle(v, base, answer.outcome, margin, need)
        if note:
            v.reason += " " + note
        return v

    def _threshold(self, c: ClaimSpec, v: Verdict, a: Selection) -> Verdict:
        return self._directional(c, v, a, c.value, c.op, f"{c.op} {c.value:g}")

    def _above_chance(self, c: ClaimSpec, v: Verdict, a: Selection) -> Verdict:
        """A threshold question against chance: the same test and outcomes as a threshold
        (not distinguishable from chance is inconclusive), plus the write-up's own figure
        tested against chance."""
        better = "greater" if c.direction == "above" else "less"
        if c.reported:
            rep = stats.parse_reported(c.reported)
            n = self.claims.source.reported_n
            if rep.spread and n:
                t = stats.one_sample_from_stats(rep.mean, rep.sd(n), n, c.chance, better)
                ok = t.pvalue < self.alpha
                v.writeup = (f"{rep.text} (n={n}) vs chance {c.chance:g}: one-sided "
                             f"p = {fmt(t.pvalue, '.2g')}, "
                             f"{'distinguishable' if ok else 'indistinguishable'} from chance")
            else:
                ok = (rep.mean > c.chance) if c.direction == "above" else (rep.mean < c.chance)
                v.writeup = f"{rep.text} vs chance {c.chance:g}: no spread to test"
            v.writeup_ok = ok
        op = ">" if c.direction == "above" else "<"
        return self._directional(c, v, a, c.chance, op, f"chance {c.chance:g}")

    def _directional(self, c: ClaimSpec, v: Verdict, a: Selection, reference: float, op: str,
                     against: str) -> Verdict:
        """Is the mean of a's seeds on the ``op`` side of ``reference``? One question for
        threshold and above-chance claims (questions.one_sided_question)."""
        name = _metric_name(c.metric, c.index)
        if a.n < 1:
            return _no_seeds(v, a, a)
        direction = "above" if op in (">", ">=") else "below"
        mean = float(np.mean(a.values))
        holds = _compare(mean, op, reference, 0.0)
        word = "meets" if holds else "misses"
        if a.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = (f"{name} = {fmt(mean)} from one seed ({word} {against}); one seed "
                        "gives no test.")
            return v
        if self.deterministic(c.metric) and is_constant(a.values):
            v.verdict = SUPPORTED if holds else CONTRADICTED
            v.reason = f"{name} = {fmt(mean)} in every seed, which {word} {against}."
            v.evidence["deterministic"] = True
            return v
        flat = self._no_spread(c.metric, [("", a)])
        if flat:
            v.verdict, v.reason = INCONCLUSIVE, f"{name} against {against}: {flat}."
            return v
        answer = one_sided_question(a.values, reference, direction, self.alpha)
        base = (f"{name} = {describe(a.values)} against {against}: two-sided t-test "
                f"p = {fmt(answer.pvalue, '.2g')}")
        v.evidence = {"p": answer.pvalue, "diff": answer.diff}
        v.verdict = answer.outcome
        if answer.outcome == SUPPORTED:
            v.reason = f"{base}, on the claimed side."
        elif answer.outcome == CONTRADICTED:
            v.reason = f"{base}: the opposite side holds."
        else:
            sd = float(np.std(a.values, ddof=1))
            if answer.diff == 0:
                need = "the mean sits on the line: no number of seeds settles it"
            else:
                v.seeds_needed = stats.seeds_to_detect(answer.diff / sd, self.alpha,
                                                       alternative="two-sided", one_sample=True)
                need = (f"if the observed mean is the true one, {_about(v.seeds_needed)} "
                        "seeds would settle it")
            v.reason = f"{base}, not significant at {self.alpha:g}; {need}."
        return v


# ---------------------------------------------------------------- helpers


def _compare(left: float, op: str, right: float, tol: float) -> bool:
    if op == "==":
        return abs(left - right) <= tol
    if op in (">", ">="):
        return OPS[op](left + tol, right)
    return OPS[op](left - tol, right)


_ON_MARGIN = "the difference lies on the margin itself: no number of seeds settles it"


def _settle(v: Verdict, base: str, outcome: str, margin: float,
            need: Callable[[], tuple[int | None, str]]) -> Verdict:
    """Word a margin question's outcome; ``need`` gives, only when it is inconclusive, the
    seeds that would settle it and the sentence that says so."""
    v.verdict = outcome
    if outcome == SUPPORTED:
        v.reason = f"{base}, inside the ±{margin:g} margin."
    elif outcome == CONTRADICTED:
        v.reason = f"{base}, entirely outside the ±{margin:g} margin."
    else:
        v.seeds_needed, text = need()
        v.reason = f"{base}, overlapping the ±{margin:g} margin; {text}."
    return v


def _about(n: int | None) -> str:
    """A seed count from a power calculation, rounded: it rests on an effect observed with
    few seeds, so its digits beyond the first carry nothing."""
    if n is None or n > 1000:
        return "more than 1000"
    if n <= 10:
        return f"about {n}"
    step = 10 if n <= 100 else 100
    return f"about {max(step, round(n / step) * step)}"


def _not_run(v: Verdict, where: dict) -> Verdict:
    v.verdict = NOT_RUN
    v.reason = f"The configuration {_w(where)} {LEFT_OUT}."
    return v


def _no_result_text(empty: list[Selection]) -> str:
    """Why there is nothing to judge: configurations with no finished seed."""
    parts = [", ".join(f"{k}={v}" for k, v in (s.config or {}).items()) + ": "
             + (f"{s.failed} failed, none finished" if s.failed else "not run yet")
             for s in empty]
    return "No finished seed (" + "; ".join(dict.fromkeys(parts)) + ")"


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


def _w_from(v: Verdict, side: str) -> str:
    return v.evidence[f"label_{side}"]

