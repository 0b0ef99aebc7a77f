"""Verdicts: the write-up's tables and claims checked against the reproduced seeds.

Every verdict carries the quote, one sentence of reason that cites the numbers, and,
when it is inconclusive, how many seeds per group would settle it.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .aggregate import Results, Selection, is_constant
from .expressions import evaluate
from .specs import ClaimSpec, ClaimsSpec, ColumnSpec, RowSpec, TableSpec

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_TESTABLE, NOT_RUN = "not testable", "not run"
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
        return self.verdict != SUPPORTED or self.writeup_ok is False


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
    s = stats.summarize(values)
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
                                          reported, self.reported_n(table), col.margin, col.format)
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
            out = self._value_verdict(c.id, c.quote, a, reported, None, c.margin, ".4g")
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
        if a.n >= 2 and b.n >= 2 and is_constant(a.values) and is_constant(b.values):
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
        fwd = stats.welch(a.values, b.values, "greater")
        rev = stats.welch(a.values, b.values, "less")
        g = stats.hedges_g(a.values, b.values)
        v.evidence.update(p=fwd.pvalue, p_reverse=rev.pvalue, diff=fwd.diff, g=g,
                          text_a=da, text_b=db, name=name)
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
            fwd = stats.holm([v.evidence["p"] for v in family])
            rev = stats.holm([v.evidence["p_reverse"] for v in family])
            m = len(family)
            for v, p, pr in zip(family, fwd, rev, strict=True):
                e = v.evidence
                e.update(p_holm=p, p_reverse_holm=pr)
                holm = f"Holm over {m} claims" if m > 1 else "one claim, no correction"
                base = (f"{e['name']}: {_w_from(v, 'a')} {e['text_a']} vs {_w_from(v, 'b')} "
                        f"{e['text_b']}, difference {fmt(e['diff'])}, Hedges' g "
                        f"{fmt(e['g'], '.2f')}")
                if p < self.alpha:
                    v.verdict = SUPPORTED
                    v.reason = f"{base}; one-sided Welch p = {fmt(p, '.2g')} ({holm})."
                elif pr < self.alpha:
                    v.verdict = CONTRADICTED
                    v.reason = (f"{base}; the reverse holds: one-sided Welch p = "
                                f"{fmt(pr, '.2g')} ({holm}).")
                else:
                    v.verdict = INCONCLUSIVE
                    v.seeds_needed = stats.seeds_to_detect(e["g"], self.alpha / m)
                    if not v.seeds_needed:
                        need = "no feasible number of seeds would detect an effect this small"
                    elif e["diff"] > 0:
                        need = f"about {v.seeds_needed} seeds per side would detect it"
                    else:
                        need = (f"the difference points the other way; about "
                                f"{v.seeds_needed} seeds per side would show that")
                    v.reason = (f"{base}; p = {fmt(p, '.2g')} ({holm}), not significant; "
                                f"{need}.")

    def _equivalent(self, c: ClaimSpec, v: Verdict, a: Selection, b: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        if a.n < 2 or b.n < 2:
            return _no_seeds(v, a, b, 2)
        m = c.margin
        sa, sb = stats.summarize(a.values), stats.summarize(b.values)
        low, high = stats.diff_ci(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n, self.level)
        test = stats.tost(a.values, b.values, -m, m)
        base = (f"{name}: {_w(c.a)} {describe(a.values)} vs {_w(c.b)} {describe(b.values)}, "
                f"difference {fmt(sa.mean - sb.mean)}, {100 * self.level:g} % CI "
                f"[{fmt(low)}, {fmt(high)}]")
        v.evidence = {"tost_p": test.pvalue, "ci": [low, high]}
        return _settle(v, base, test.pvalue < self.alpha, low, high, m,
                       lambda: stats.seeds_to_settle_equivalence(sa.mean - sb.mean, sa.sd,
                                                                 sb.sd, m, self.alpha))

    def _value_verdict(self, vid: str, quote: str, sel: Selection, rep: stats.Reported,
                       rep_n: int | None, margin: float, spec: str) -> Verdict:
        v = Verdict(vid, "value", quote, NOT_RUN, "")
        if sel.config is None:
            v.reason = f"This configuration {LEFT_OUT}."
            return v
        if sel.n == 0:
            v.reason = _no_result_text([sel]) + "."
            return v  # NOT_RUN: no result to judge
        s = stats.summarize(sel.values)
        if rep.spread is not None and rep_n:
            rep_sd, rep_n_eff = rep.sd(rep_n), rep_n
        else:
            rep_sd, rep_n_eff = 0.0, None  # a bare number: treated as exact
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
        if rep_n_eff:
            low, high = stats.diff_ci(s.mean, s.sd, s.n, rep.mean, rep_sd, rep_n_eff,
                                      self.level)
        else:
            low, high = (x - rep.mean for x in stats.mean_ci(s.mean, s.sd, s.n,
                                                             self.level))
        base = (f"Reproduced {fmt(s.mean, spec)} ± {fmt(s.sd, spec)} (n={s.n}) vs reported "
                f"{rep.text}{f' (n={rep_n_eff})' if rep_n_eff else ''}: difference "
                f"{fmt(diff, spec)}, {100 * self.level:g} % CI [{fmt(low, spec)}, "
                f"{fmt(high, spec)}]")
        v.evidence = {"diff": diff, "ci": [low, high], "margin": margin}
        inside = -margin < low and high < margin
        return _settle(v, base, inside, low, high, margin,
                       lambda: stats.seeds_to_settle_equivalence(diff, s.sd, rep_sd, margin,
                                                                 self.alpha))

    def _threshold(self, c: ClaimSpec, v: Verdict, a: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        if a.n < 1:
            return _no_seeds(v, a, a)
        above = c.op in (">", ">=")
        s = stats.summarize(a.values)
        if a.n < 2 or is_constant(a.values):
            holds = _compare(s.mean, c.op, c.value, 0.0)
            if a.n < 2:
                v.verdict = INCONCLUSIVE
                word = "meets" if holds else "misses"
                v.reason = (f"{name} = {fmt(s.mean)} from one seed ({word} {c.op} {c.value:g}); "
                            "one seed gives no test.")
            else:
                v.verdict = SUPPORTED if holds else CONTRADICTED
                v.reason = (f"{name} = {fmt(s.mean)} in every seed, which "
                            f"{'meets' if holds else 'misses'} {c.op} {c.value:g}.")
            return v
        p = stats.one_sample(a.values, c.value, "greater" if above else "less").pvalue
        p_rev = stats.one_sample(a.values, c.value, "less" if above else "greater").pvalue
        base = f"{name} = {describe(a.values)} against {c.op} {c.value:g}"
        v.evidence = {"p": p, "p_reverse": p_rev}
        if p < self.alpha:
            v.verdict, v.reason = SUPPORTED, f"{base}: one-sided t-test p = {fmt(p, '.2g')}."
        elif p_rev < self.alpha:
            v.verdict, v.reason = CONTRADICTED, (f"{base}: the opposite side holds, one-sided "
                                                 f"p = {fmt(p_rev, '.2g')}.")
        else:
            g = (s.mean - c.value) / s.sd if s.sd > 0 else math.nan
            v.seeds_needed = stats.seeds_to_detect(g * math.sqrt(2), self.alpha)
            v.verdict, v.reason = INCONCLUSIVE, (f"{base}: p = {fmt(p, '.2g')}, not "
                                                 "significant.")
        return v

    def _above_chance(self, c: ClaimSpec, v: Verdict, a: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
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
        if a.n < 2:
            return _no_seeds(v, a, a, 2)
        test = stats.one_sample(a.values, c.chance, better)
        base = f"{name} = {describe(a.values)} vs chance {c.chance:g}"
        v.evidence = {"p": test.pvalue}
        if test.pvalue < self.alpha:
            v.verdict = SUPPORTED
            v.reason = f"{base}: beyond chance, p = {fmt(test.pvalue, '.2g')}."
        else:
            v.verdict, v.reason = CONTRADICTED, (f"{base}: not distinguishable from chance, "
                                                 f"p = {fmt(test.pvalue, '.2g')}.")
        return v


# ---------------------------------------------------------------- helpers


def _compare(left: float, op: str, right: float, tol: float) -> bool:
    if op == "==":
        return abs(left - right) <= tol
    if op in (">", ">="):
        return OPS[op](left + tol, right)
    return OPS[op](left - tol, right)


def _settle(v: Verdict, base: str, inside: bool, low: float, high: float, margin: float,
            seeds) -> Verdict:
    if inside:
        v.verdict = SUPPORTED
        v.reason = f"{base}, inside the ±{margin:g} margin."
    elif low > margin or high < -margin:
        v.verdict = CONTRADICTED
        v.reason = f"{base}, entirely outside the ±{margin:g} margin."
    else:
        v.verdict = INCONCLUSIVE
        v.seeds_needed = seeds()
        need = (f"about {v.seeds_needed} seeds per side would settle it" if v.seeds_needed
                else "no feasible number of seeds settles it")
        v.reason = f"{base}, overlapping the ±{margin:g} margin; {need}."
    return v


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

