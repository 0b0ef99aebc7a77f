"""Verdicts: the write-up's tables and claims checked against the reproduced seeds.

Every verdict carries the quote and one sentence of reason that cites the numbers. The
statistical questions are in questions.py, the margin rule in margins.py, the
uncertainty of derived reported numbers in propagate.py; the report's one Holm
correction (correction.py) runs after the scale check (scale.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from . import stats
from .aggregate import Results, Selection, is_constant
from .expressions import evaluate
from .margins import RELATIVE, margin_for, resolution
from .propagate import Estimate, propagate
from .questions import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    Answer,
    Test,
    against_arm,
    against_estimate,
    against_exact,
    against_reported,
    against_runs,
    combined,
    difference_against,
    k_of_n_question,
    margin_question,
    one_sided_question,
    seeds_for_unanimous,
)
from .specs import (
    ClaimsSpec,
    ColumnSpec,
    EquivalentClaim,
    GreaterClaim,
    InternalClaim,
    NonInferiorClaim,
    RowSpec,
    TableSpec,
    ThresholdClaim,
    ValueClaim,
    reported_str,
)
from .verdict import (  # noqa: F401  (re-exported: the report and scale import them here)
    JUDGED,
    NOT_COMPARABLE,
    NOT_RUN,
    NOT_TESTABLE,
    Need,
    TableCell,
    TableResult,
    Verdict,
    about,
    fmt,
)
from .write_up_checks import spread_reading

# Why a verdict is "not run" when its configuration is not in the plan at all (true of a
# tier without it and of a --where cut; a --seeds cut keeps every configuration).
LEFT_OUT = "is not in this report (not part of this tier, or left out by --where)"
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq}
_ON_MARGIN = "The difference lies on the margin itself: no number of seeds settles it"
T = TypeVar("T")


def verdict_level(alpha: float) -> float:
    """The level of the interval a margin verdict reads: TOST at ``alpha`` is the
    (1 - 2 alpha) interval inside the margin."""
    return 1 - 2 * alpha


def describe(values: np.ndarray, spec: str = ".4g") -> str:
    s = stats.summarize(values, n_boot=0)
    if s.n < 2:
        return f"{fmt(s.mean, spec)} (n={s.n})"
    return f"{fmt(s.mean, spec)} ± {fmt(s.sd, spec)} (n={s.n})"


class Judge:
    def __init__(self, claims: ClaimsSpec, results: Results, claims_file: str,
                 alpha: float | None = None):
        self.claims = claims
        self.results = results
        self.file = claims_file
        # claims.toml's level; settle judges its looks at a smaller one (settle.py)
        self.alpha = claims.source.alpha if alpha is None else alpha
        self.spec = results.plan.suite.spec
        self._read: list[dict] | None = None  # configurations read for the verdict at hand

    @property
    def level(self) -> float:
        """The level of the intervals margin verdicts read."""
        return verdict_level(self.alpha)

    # ------------------------------------------------------------ the write-up's numbers

    def reported_n(self, table: TableSpec | None) -> int | None:
        return (table.reported_n if table and table.reported_n else None) or \
            self.claims.source.reported_n

    def _assumed(self, n: int | None) -> str:
        """', assumed' when ``n`` is the source's run count and the write-up does not
        state it ([source].n_note says why it was chosen)."""
        source = self.claims.source
        return ", assumed" if n and n == source.reported_n and source.n_note else ""

    def _table(self, table_id: str) -> TableSpec | None:
        return next((t for t in self.claims.table if t.id == table_id), None)

    def lookup(self, table_id: str, row_label: str, col_key: str) -> tuple[float, float | None]:
        r = stats.parse_reported(self.claims.reported_text(table_id, row_label, col_key))
        return r.mean, r.spread

    def lookup_stats(self, table_id: str, row_label: str, col_key: str
                     ) -> tuple[float, float | None, int | None]:
        """A reported cell as (mean, SD, runs), for propagate.py."""
        table = self._table(table_id)
        col = next((c for c in table.columns if c.key == col_key), None) if table else None
        n = self.reported_n(table)
        r, _ = self.read(self.claims.reported_text(table_id, row_label, col_key),
                         col.metric if col else None, n)
        return r.mean, (r.sd(n) if n and r.spread is not None else None), n

    def read(self, text: str, metric: str | None, n: int | None
             ) -> tuple[stats.Reported, str | None]:
        """A reported number as every verdict reads it, with the sentence that says why
        when its ± is read as a standard error (write_up_checks.spread_reading)."""
        rep = stats.parse_reported(text)
        why = spread_reading(self.claims, metric, rep, n)
        return (dataclasses.replace(rep, spread_kind="se") if why else rep), why

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
                        n = self.reported_n(table)
                        return self.read(reported_str(row.reported[col.key]), metric, n)[0], n
        return None

    # ------------------------------------------------------------ seeds

    def select(self, where: dict, metric: str, index: int | None, key: str) -> Selection:
        sel = self.results.select(where, metric, index, f"{self.file}: {key}")
        if self._read is not None and sel.config is not None and sel.config not in self._read:
            self._read.append(sel.config)
        return sel

    def _reading(self, make: Callable[[], T]) -> T:
        """``make()``, with the configurations it selected recorded on each verdict it
        made (``evidence["configs"]``): what settle adds seeds to."""
        self._read = []
        try:
            made = make()
        finally:
            read, self._read = self._read, None
        verdicts = made.verdicts if isinstance(made, TableCell) else \
            [made] if isinstance(made, Verdict) else []
        mixed = self._mixtures(read)
        for v in verdicts:
            v.evidence["configs"] = list(read)
            if mixed and v.verdict in JUDGED:
                v.evidence["mixture"] = mixed
                v.reason += (f" The seeds mix regimes: {'; '.join(mixed)}; a mean over them "
                             "pools different choices, not one process's noise.")
        return made

    def _mixtures(self, configs: list[dict]) -> list[str]:
        """Per configuration read, each per-seed choice (``per_seed = "choice"``) its seeds
        did not all make alike: "lambda_chosen 0.09 in seed 0, 0.27 in seeds 1, 2"."""
        out = []
        choices = [name for name, m in self.spec.metrics.items() if m.per_seed == "choice"]
        for config in configs:
            for name in choices:
                sel = self.results.select(config, name, None, f"{self.file}: mixture")
                if sel.n < 2 or is_constant(sel.values):
                    continue
                groups: dict[float, list] = {}
                for value, seed in zip(sel.values, sel.seeds or range(sel.n), strict=True):
                    groups.setdefault(float(value), []).append(seed)
                parts = [f"{fmt(value)} in seed{'s' if len(seeds) > 1 else ''} "
                         f"{', '.join(map(str, seeds))}" for value, seeds in groups.items()]
                label = " ".join(f"{k}={v}" for k, v in config.items())
                out.append(f"{name} of {label} is {', '.join(parts)}")
        return out

    def bounds(self, metric: str | None) -> tuple[float, float] | None:
        """The values ``metric`` can take (suite.toml ``bounds``), if declared."""
        spec = self.spec.metrics.get(metric) if metric else None
        return spec.bounds if spec is not None else None

    def per_seed(self, metric: str | None) -> str:
        """What one seed's value of ``metric`` is: measurement, indicator or choice."""
        spec = self.spec.metrics.get(metric) if metric else None
        return spec.per_seed if spec is not None else "measurement"

    def _k_of_n(self, v: Verdict, name: str, values: np.ndarray, hit: Callable[[float], bool],
                claim: str) -> Verdict:
        """A verdict on a per-seed indicator or grid choice: how many seeds reproduce the
        claim, by an exact binomial test of the share against one half (questions.py)."""
        from scipy import stats as sps

        hits = [bool(hit(float(x))) for x in values]
        k, n = sum(hits), len(hits)
        answer = k_of_n_question(k, n, self.alpha)
        ci = sps.binomtest(k, n, 0.5).proportion_ci(1 - self.alpha, method="exact")
        shown = ", ".join(fmt(float(x)) for x in values)
        v.verdict, v.p = answer.outcome, answer.pvalue
        v.evidence = {"share": (k / n, ci.low, ci.high), "compared": f"{k} of {n} seeds",
                      "per_seed": [float(x) for x in values]}
        v.reason = (f"{name} per seed: {shown}; {k} of {n} seeds {claim}. Exact binomial "
                    f"test of the share against one half: p = {fmt(answer.pvalue, '.2g')}, "
                    f"{100 * (1 - self.alpha):g} % Clopper-Pearson interval of the share "
                    f"[{ci.low:.2f}, {ci.high:.2f}] (a per-seed "
                    f"{self.per_seed_word(name)} is counted, not averaged)")
        v.reason += {SUPPORTED: ": most seeds do.", CONTRADICTED: ": most seeds do not."
                     }.get(answer.outcome, ".")

        def need(level: float) -> tuple[int | None, str]:
            m = seeds_for_unanimous(level)
            return m, (f"{m} seeds that all agree would settle it (an exact test of "
                       f"{n} seeds cannot go below p = {2 * 0.5**n:.2g})" if n < m else
                       f"{m} or more seeds would settle it if the share is not near one "
                       "half")
        v.need = need
        return v

    def per_seed_word(self, name: str) -> str:
        return {"indicator": "indicator", "choice": "grid choice"}.get(
            self.per_seed(name.split("[", 1)[0]), "value")

    def deterministic(self, metric: str) -> bool:
        """The metric is the same for every seed by construction (suite.toml)."""
        spec = self.spec.metrics.get(metric)
        return bool(spec is not None and spec.deterministic)

    def higher_is_better(self, metric: str, override: bool | None = None) -> bool | None:
        return override if override is not None else self.spec.metrics[metric].higher_is_better

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
        return ("; ".join(flat) + "; a trained metric with zero spread gives no test (a "
                f"metric equal in every seed by construction, a size or a count, is declared "
                f"`{metric} = {{ deterministic = true }}` in suite.toml and compared exactly)")

    def paired(self, a: Selection, b: Selection) -> tuple[np.ndarray, list] | None:
        """a - b seed by seed, when the two sides are twins: the same cells (two entries of
        one configuration) or configurations that differ only in the suite's ``paired``
        factors, whose cells share seed, data order and initialisation."""
        if a.config is None or b.config is None or a.seeds is None or b.seeds is None:
            return None
        differ = {k for k in a.config.keys() | b.config.keys()
                  if a.config.get(k) != b.config.get(k)}
        if not differ <= set(self.spec.paired):
            return None
        by_seed = dict(zip(b.seeds, b.values, strict=True))
        common = [s for s in a.seeds if s in by_seed]
        ours = dict(zip(a.seeds, a.values, strict=True))
        return np.array([ours[s] - by_seed[s] for s in common], dtype=float), common

    # ------------------------------------------------------------ tables

    def tables(self) -> list[TableResult]:
        out = []
        for t, table in enumerate(self.claims.table):
            cells = {}
            for r, row in enumerate(table.row):
                for col in table.columns:
                    cells[(r, col.key)] = self._reading(
                        functools.partial(self._table_cell, t, table, r, row, col))
            out.append(TableResult(table, cells))
        return out

    def _table_cell(self, t: int, table: TableSpec, r: int, row: RowSpec, col: ColumnSpec
                    ) -> TableCell:
        raw = row.reported.get(col.key)
        text = None if raw is None else reported_str(raw)
        reported, reading = self.read(text, col.metric, self.reported_n(table)) if text \
            else (None, None)
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
        if not col.no_verdict:
            derived = row.derived.get(col.key)
            estimate = propagate(derived, self.lookup_stats) if derived else None
            margin, why = margin_for(reported, col.margin, col.margin_reason,
                                     self.bounds(col.metric))
            cell.verdict = self._value_verdict(vid, quote, sel, reported, self.reported_n(table),
                                               margin, why, col.format, col.metric,
                                               estimate=estimate)
        chance = col.chance if col.chance is not None else self.spec.metrics[col.metric].chance
        if chance is not None:
            better = self.higher_is_better(col.metric, col.higher_is_better)
            cell.chance = self._chance_verdict(f"{vid}/chance", quote, sel, reported,
                                               self.reported_n(table), chance, better,
                                               col.metric, index)
        for v in cell.verdicts if reading else ():
            v.reason += f" {reading}"
            v.evidence["spread_read_as"] = "se"
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

    # ------------------------------------------------------------ claims

    def claims_verdicts(self) -> list[Verdict]:
        return [self._reading(functools.partial(self._claim, i, c))
                for i, c in enumerate(self.claims.claim)]

    def size_verdicts(self) -> list[tuple[GreaterClaim, Verdict]]:
        """For each ``greater`` claim whose arms the write-up's tables report, whether the
        reproduced difference matches the write-up's own difference within the margin
        rule: a claim that implies a size can be contradicted on its size. Each is
        returned with its claim (for scale.apply); they form their own Holm family."""
        out = []
        for i, c in enumerate(self.claims.claim):
            if not isinstance(c, GreaterClaim) or self._reported_arms(c) is None:
                continue
            v = self._reading(functools.partial(self._size, i, c))
            if v is not None:
                out.append((c, v))
        return out

    def _size(self, i: int, c: GreaterClaim) -> Verdict | None:
        rep_a, n_a, rep_b, n_b = self._reported_arms(c)
        key = f"claim[{i}]"
        a = self.select(c.a, c.metric, c.index, key + ".a")
        b_index = c.index_b if c.index_b is not None else c.index
        b = self.select(c.b, c.metric, b_index, key + ".b")
        if a.n < 2 or b.n < 2 or (self.deterministic(c.metric) and is_constant(a.values)
                                  and is_constant(b.values)):
            return None  # the claim's own verdict says why nothing is tested
        claimed = rep_a.mean - rep_b.mean
        label_a = _w(c.a)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        v = Verdict(f"{c.id}/size", "size", f"{c.quote} (its size: the write-up's "
                    f"{label_a} − {label_b} = {fmt(claimed, '+.4g')})", INCONCLUSIVE, "",
                    c.section)
        pairs = self.paired(a, b)
        data, other = (pairs[0], None) if pairs is not None and len(pairs[0]) >= 2 \
            else (a.values, b.values)
        if rep_a.spread is not None and rep_b.spread is not None and n_a and n_b \
                and n_a >= 2 and n_b >= 2:
            se_w, df_w = combined([(rep_a.sd(n_a) ** 2 / n_a, n_a - 1),
                                   (rep_b.sd(n_b) ** 2 / n_b, n_b - 1)])
            whose = f"its reported spreads (n={n_a} and {n_b})"
        else:  # runs without a spread: their spread taken as ours, as for a table cell
            runs = min(n_a or 1, n_b or 1)
            se_w, df_w = combined([(float(np.var(a.values, ddof=1)) / runs, a.n - 1),
                                   (float(np.var(b.values, ddof=1)) / runs, b.n - 1)])
            whose = (f"{runs} run{'s' if runs > 1 else ''} per arm without a spread, "
                     "whose spread is taken as ours")
        margin = max(RELATIVE * abs(claimed), resolution(rep_a.text) + resolution(rep_b.text))
        test = difference_against(other, se_w, df_w)
        answer = margin_question(data, claimed, margin, self.alpha, test)
        ours = float(np.mean(data)) if other is None else \
            float(np.mean(a.values) - np.mean(b.values))
        ivs = {level: _interval(test, data, claimed, level)
               for level in (self.level, 1 - self.alpha)}
        low, high = ivs[self.level]
        v.evidence = {"effect": ours - claimed, "margin": margin, "intervals": ivs,
                      "compared": f"ours {fmt(ours, '+.4g')} vs {fmt(claimed, '+.4g')}"}
        base = (f"{_metric_name(c.metric, c.index)}: reproduced {label_a} − {label_b} = "
                f"{fmt(ours, '+.4g')} ({'paired by seed' if other is None else 'Welch'}) vs "
                f"the write-up's {fmt(claimed, '+.4g')} ± {fmt(se_w, '.3g')} (SE, from "
                f"{whose}): difference {fmt(ours - claimed, '+.4g')}, "
                f"{100 * self.level:.3g} % CI [{fmt(low)}, {fmt(high)}]")
        return _word_margin(v, base, answer, margin,
                            "5 % of the write-up's difference, or the printing's half units "
                            "of both its numbers if larger", None)

    def _claim(self, i: int, c) -> Verdict:
        v = Verdict(c.id, c.kind, c.quote, NOT_TESTABLE, getattr(c, "reason", ""), c.section)
        if c.kind == "not_testable":
            return v
        if c.kind == "internal":
            return self._internal(c, v)
        # the write-up's own numbers are checked whatever this tier runs
        if isinstance(c, ThresholdClaim):
            self._writeup_threshold(c, v)
        elif isinstance(c, GreaterClaim):
            self._writeup_greater(c, v)
        elif isinstance(c, NonInferiorClaim):
            self._writeup_non_inferior(c, v)
        key = f"claim[{i}]"
        a = self.select(c.a, c.metric, c.index, key + ".a")
        if a.config is None:
            return _not_run(v, c.a)
        if isinstance(c, ValueClaim):
            return self._value_claim(c, a)
        if isinstance(c, ThresholdClaim):
            return self._directional(v, c.metric, c.index, a, c.value, c.op, f"{c.op} {c.value:g}")
        b_index = c.index_b if c.index_b is not None else c.index
        b = self.select(c.b, c.metric, b_index, key + ".b")
        if b.config is None:
            return _not_run(v, c.b)
        return self._two_arms(c, v, a, b)

    def _value_claim(self, c: ValueClaim, a: Selection) -> Verdict:
        rep = stats.Reported(c.value, None, "sd", False, reported_str(c.value))
        margin, why = margin_for(rep, c.margin, c.margin_reason, self.bounds(c.metric),
                                 target=c.of == "target")
        runs = c.reported_n or self.claims.source.reported_n
        out = self._value_verdict(c.id, c.quote, a, rep, runs, margin, why, ".4g",
                                  c.metric, target=c.of == "target")
        out.kind, out.section = c.kind, c.section
        return out

    def _internal(self, c: InternalClaim, v: Verdict) -> Verdict:
        if c.statistical:
            est = propagate(f"({c.left}) - ({c.right})", self.lookup_stats)
            if est.se > 0:
                return self._internal_test(c, v, est)
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

    def _internal_test(self, c: InternalClaim, v: Verdict, est: Estimate) -> Verdict:
        """left - right as an estimate with the write-up's spreads propagated."""
        def test(_data: object, reference: float, alternative: str) -> stats.TestResult:
            return stats.estimate_test(est.value - reference, est.se, est.df, alternative)

        cites = "; ".join(dict.fromkeys(est.cited))
        base = (f"From the write-up's own numbers ({cites}): left - right = {fmt(est.value)} "
                f"± {fmt(est.se)} (SE, delta method, df {fmt(est.df, '.3g')})")
        if c.op == "==":
            answer = margin_question(None, 0.0, c.tol, self.alpha, test)
            return _word_margin(v, base, answer, c.tol, "the stated tolerance", None)
        direction = "above" if c.op in (">", ">=") else "below"
        answer = one_sided_question(None, 0.0, direction, self.alpha, test)
        return _word_directional(v, f"{base}; two-sided p = {fmt(answer.pvalue, '.2g')}", answer,
                                 None)

    # ------------------------------------------------------------ two arms

    def _two_arms(self, c: GreaterClaim | EquivalentClaim | NonInferiorClaim, v: Verdict,
                  a: Selection, b: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        label_a = _w(c.a)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        if a.n < 1 or b.n < 1:
            return _no_seeds(v, a, b)
        da, db = describe(a.values), describe(b.values)
        sides = f"{name}: {label_a} {da} vs {label_b} {db}"
        if self.deterministic(c.metric) and is_constant(a.values) and is_constant(b.values):
            return self._exact_two_arms(c, v, name, label_a, label_b, a.values[0] - b.values[0])
        if a.n < 2 or b.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = f"{sides}; a test needs at least two seeds per side."
            return v
        pairs = self.paired(a, b)
        if pairs is not None:
            diffs, seeds = pairs
            if len(diffs) < 2:
                v.verdict = INCONCLUSIVE
                v.reason = f"{sides}; fewer than two seeds are on both sides to pair."
                return v
            flat = None if self.deterministic(c.metric) or not is_constant(diffs) else \
                f"the {len(diffs)} paired differences are all {fmt(diffs[0])}; zero spread " \
                "gives no test"
            data, test = diffs, stats.one_sample
            design = (f"paired by seed over {len(diffs)} seeds (the same seed's "
                      f"{'cells' if a.config == b.config else 'twin cells'}): difference "
                      f"{describe(diffs)}")
            sd_d = float(np.std(diffs, ddof=1)) if not flat else math.nan
        else:
            # Welch needs one arm's spread: an arm whose seeds agree (0 % dead in every
            # seed) is tested against the other's; both flat give no test
            both_flat = is_constant(a.values) and is_constant(b.values)
            flat = self._no_spread(c.metric, [(f" of {label_a}", a), (f" of {label_b}", b)]) \
                if both_flat else None
            data, test = a.values, against_arm(b.values)
            gap = a.values.mean() - b.values.mean()
            design = f"independent arms (Welch): difference {fmt(gap)}"
            one_flat = [label for label, side in ((label_a, a), (label_b, b))
                        if side.n >= 2 and is_constant(side.values)]
            if one_flat and not both_flat and not self.deterministic(c.metric):
                design += (f" ({one_flat[0]}'s seeds all agree: the test rests on the "
                           "other arm's spread)")
            sd_d = math.nan
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"{sides}; {flat}."
            return v
        base = f"{sides}; {design}"
        need = self._need_two_arms(a, b, pairs is not None, sd_d)
        v.evidence["effect"] = float(np.mean(data)) if pairs is not None else \
            float(np.mean(a.values) - np.mean(b.values))
        v.evidence["compared"] = (f"{label_a} {fmt(float(np.mean(a.values)))} vs {label_b} "
                                  f"{fmt(float(np.mean(b.values)))}")
        v.evidence["intervals"] = {level: self._diff_interval(a, b, pairs, level)
                                   for level in (self.level, 1 - self.alpha)}
        if isinstance(c, GreaterClaim):
            answer = one_sided_question(data, c.by, "above", self.alpha, test)
            by = f" by more than {c.by:g}" if c.by else ""
            return _word_directional(
                v, f"{base}; is {label_a} above {label_b}{by}? two-sided p = "
                   f"{fmt(answer.pvalue, '.2g')}", answer, need(c.by))
        margin, why = c.margin, c.margin_reason
        if isinstance(c, EquivalentClaim):
            answer = margin_question(data, 0.0, margin, self.alpha, test)
            low, high = self._diff_interval(a, b, pairs, self.level)
            base += f", {100 * self.level:.3g} % CI [{fmt(low)}, {fmt(high)}]"
            v.evidence["margin"] = margin
            return _word_margin(v, base, answer, margin, why, need(None, margin, answer.diff))
        higher = self.higher_is_better(c.metric, c.higher_is_better)
        bound = -margin if higher else margin
        answer = one_sided_question(data, bound, "above" if higher else "below", self.alpha,
                                    test)
        worse = "below" if higher else "above"
        return _word_directional(
            v, f"{base}; is {label_a} no more than {margin:g} {worse} {label_b} (margin: {why})? "
               f"two-sided p = {fmt(answer.pvalue, '.2g')} against the bound {bound:+g}",
            answer, need(bound))

    def _exact_two_arms(self, c, v: Verdict, name: str, label_a: str, label_b: str,
                        diff: float) -> Verdict:
        if isinstance(c, GreaterClaim):
            holds = diff > c.by
        elif isinstance(c, EquivalentClaim):
            holds = abs(diff) <= c.margin
        else:
            higher = self.higher_is_better(c.metric, c.higher_is_better)
            holds = diff >= -c.margin if higher else diff <= c.margin
        v.verdict = SUPPORTED if holds else CONTRADICTED
        v.reason = (f"{name} is the same in every seed: {label_a} minus {label_b} = "
                    f"{fmt(diff)}, so the claim {'holds' if holds else 'fails'} exactly.")
        v.evidence["deterministic"] = True
        return v

    def _diff_interval(self, a: Selection, b: Selection, pairs, level: float
                       ) -> tuple[float, float]:
        """The ``level`` interval of a - b (paired where the seeds pair)."""
        if pairs is not None:
            d = pairs[0]
            s = stats.summarize(d, n_boot=0)
            return stats.mean_ci(s.mean, s.sd, s.n, level)
        sa, sb = stats.summarize(a.values, n_boot=0), stats.summarize(b.values, n_boot=0)
        return stats.diff_ci(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n, level)

    def _need_two_arms(self, a: Selection, b: Selection, paired: bool, sd_d: float):
        """need(reference) for a directional question, need(None, margin, diff) for a margin
        question: the seeds (pairs) that would settle it, as a function of the level."""
        sa, sb = stats.summarize(a.values, n_boot=0), stats.summarize(b.values, n_boot=0)
        diff = sa.mean - sb.mean

        def make(reference: float | None, margin: float | None = None,
                 observed: float | None = None) -> Need:
            def need(level: float) -> tuple[int | None, str]:
                unit = "pairs of seeds" if paired else "seeds per side"
                if margin is not None:
                    d = observed if observed is not None else diff
                    if abs(d) == margin:
                        return None, _ON_MARGIN
                    n = (stats.seeds_to_settle_margin(d, sd_d, margin, level).n if paired
                         else stats.seeds_to_settle_equivalence(d, sa.sd, sb.sd, margin, level))
                else:
                    effect = diff - reference
                    if effect == 0 or not math.isfinite(effect):
                        return None, ("The estimate sits on the bound: no number of seeds "
                                      "settles it")
                    n = (stats.seeds_to_detect(effect / sd_d, level, alternative="two-sided",
                                               one_sample=True) if paired else
                         stats.seeds_to_detect(stats.hedges_g_from_stats(
                             sa.mean - reference, sa.sd, sa.n, sb.mean, sb.sd, sb.n), level,
                             alternative="two-sided"))
                return n, f"If the observed difference is the true one, {about(n)} {unit} " \
                          "would settle it"
            return need
        return make

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

    # ------------------------------------------------------------ one arm

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
        test, ref_var, ref_df, label, note = self._reference(s, rep, rep_n, target, estimate)
        answer = margin_question(sel.values, rep.mean, margin, self.alpha, test)
        # the difference of two means within the bounds: ours - an exact target lies in
        # bounds - target; ours - the write-up's (a noisy number) in [low - high, high - low]
        bounds, shift = self.bounds(metric), rep.mean
        if bounds is not None and not target:
            bounds, shift = (bounds[0] - bounds[1], bounds[1] - bounds[0]), 0.0
        low, high = stats.within(*_interval(test, sel.values, rep.mean, self.level), bounds,
                                 shift)
        outside = stats.within(*_interval(test, sel.values, rep.mean, 1 - self.alpha), bounds,
                               shift)
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
                v.evidence["undecidable"] = True  # the summary and the flagged row say so
                return None, ("Even infinitely many of our seeds could not settle it: the "
                              "write-up's own uncertainty alone is wider than the "
                              f"{fmt(abs(abs(diff) - margin), spec)} between the difference "
                              "and the margin")
            fixed = "" if target else " (the write-up's runs stay as they are)"
            return got.n, (f"If the observed difference is the true one, {about(got.n)} of "
                           f"our seeds would settle it{fixed}")

        _word_margin(v, base, answer, margin, why, need)
        if note:
            v.reason += " " + note
        return v

    def _reference(self, s: stats.Summary, rep: stats.Reported, rep_n: int | None,
                   target: bool, estimate: Estimate | None
                   ) -> tuple[Test, float, float | None, str, str]:
        """What the reported number is held to be: the test against it, its variance and
        degrees of freedom (for the seeds a question needs), a label and a note."""
        if target:
            return against_exact, 0.0, None, "", "The number is a setting the write-up chose."
        if estimate is not None and estimate.se > 0:
            note = (f"The write-up computed this number from other cells; their spreads carry "
                    f"into it: ± {fmt(estimate.se)} (SE, delta method, df "
                    f"{fmt(estimate.df, '.3g')}).")
            return (against_estimate(estimate.se, estimate.df), estimate.se**2, estimate.df, "",
                    note)
        if rep.spread is not None and rep_n and rep_n >= 2:
            rep_sd = rep.sd(rep_n)
            return (against_reported(rep_sd, rep_n), rep_sd**2 / rep_n, rep_n - 1,
                    f" (n={rep_n})", "")
        runs = rep_n if rep.spread is None and rep_n else 1
        note = ("The write-up's number is a mean of {runs} runs without a spread; its runs' SD "
                "is taken as the reproduced SD." if runs > 1 else
                "The write-up's number is one run; its spread is taken as the reproduced SD."
                if rep_n else
                "The write-up does not say how many runs its number is from: it is taken as "
                "one run, its spread as the reproduced SD.").format(runs=runs)
        return against_runs(runs), s.sd**2 / runs, None, f" (n={runs})" if rep_n else "", note

    def _directional(self, v: Verdict, metric: str, index: int | None, a: Selection,
                     reference: float, op: str, against: str) -> Verdict:
        """Is the mean of a's seeds on the ``op`` side of ``reference``? One question for
        thresholds and chance (questions.one_sided_question)."""
        name = _metric_name(metric, index)
        if a.n < 1:
            return _no_seeds(v, a, a)
        direction = "above" if op in (">", ">=") else "below"
        if self.per_seed(metric) != "measurement":
            return self._k_of_n(v, name, np.asarray(a.values),
                                lambda x: _compare(x, op, reference, 0.0), f"meet {against}")
        mean = float(np.mean(a.values))
        holds = _compare(mean, op, reference, 0.0)
        word = "meets" if holds else "misses"
        if a.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = (f"{name} = {fmt(mean)} from one seed ({word} {against}); one seed "
                        "gives no test.")
            return v
        if self.deterministic(metric) and is_constant(a.values):
            v.verdict = SUPPORTED if holds else CONTRADICTED
            v.reason = f"{name} = {fmt(mean)} in every seed, which {word} {against}."
            v.evidence["deterministic"] = True
            return v
        flat = self._no_spread(metric, [("", a)])
        if flat:
            v.verdict, v.reason = INCONCLUSIVE, f"{name} against {against}: {flat}."
            return v
        answer = one_sided_question(a.values, reference, direction, self.alpha)
        sd = float(np.std(a.values, ddof=1))

        def need(level: float) -> tuple[int | None, str]:
            if answer.diff == 0:
                return None, "The mean sits on the line: no number of seeds settles it"
            n = stats.seeds_to_detect(answer.diff / sd, level, alternative="two-sided",
                                      one_sample=True)
            return n, f"If the observed mean is the true one, {about(n)} seeds would settle it"

        base = (f"{name} = {describe(a.values)} against {against}: two-sided t-test "
                f"p = {fmt(answer.pvalue, '.2g')}")
        s = stats.summarize(a.values, n_boot=0)
        low, high = stats.mean_ci(s.mean, s.sd, s.n, 1 - self.alpha)
        v.evidence = {"diff": answer.diff, "effect": mean - reference,
                      "compared": f"{fmt(mean)} vs {against}",
                      "intervals": {1 - self.alpha: stats.within(
                          low - reference, high - reference, self.bounds(metric),
                          reference)}}  # of mean - reference; the reference is exact
        return _word_directional(v, base, answer, need)


# ---------------------------------------------------------------- wording


def _word_directional(v: Verdict, base: str, answer: Answer, need: Need | None) -> Verdict:
    v.verdict, v.p, v.need = answer.outcome, answer.pvalue, need
    v.evidence.setdefault("diff", answer.diff)
    if answer.outcome == SUPPORTED:
        v.reason = f"{base}, on the claimed side."
    elif answer.outcome == CONTRADICTED:
        v.reason = f"{base}: the opposite side holds."
    else:
        v.reason = f"{base}, not significant."
    return v


def _word_margin(v: Verdict, base: str, answer: Answer, margin: float, why: str,
                 need: Need | None) -> Verdict:
    v.verdict, v.p, v.need = answer.outcome, answer.pvalue, need
    where = {SUPPORTED: "inside the", CONTRADICTED: "outside the",
             INCONCLUSIVE: "neither shown inside nor outside the"}[answer.outcome]
    v.reason = f"{base}; {where} ±{margin:.3g} margin ({why}): p = {fmt(answer.pvalue, '.2g')}."
    return v


def _interval(test: Test, values: np.ndarray, reference: float, level: float
              ) -> tuple[float, float]:
    """The ``level`` interval of (estimate - reference) that ``test`` implies."""
    from scipy import stats as sps

    result = test(values, reference, "two-sided")
    if result.statistic == 0:
        # a difference of exactly 0 hides the SE in 0 / 0; the test is linear in the
        # reference, so the same test against a shifted reference gives it back
        shift = 1e-3 * max(abs(reference), float(np.max(np.abs(values), initial=0.0)), 1e-12)
        probe = test(values, reference - shift, "two-sided")
        if not (math.isfinite(probe.statistic) and probe.statistic != 0):
            return result.diff, result.diff
        se = probe.diff / probe.statistic
    elif not math.isfinite(result.statistic):
        return result.diff, result.diff
    else:
        se = result.diff / result.statistic
    half = float(sps.t.ppf(0.5 + level / 2, result.df)) * abs(se)
    return result.diff - half, result.diff + half


def _shown(pvalue: float, on_claimed_side: bool, alpha: float) -> bool | None:
    """What the write-up's own numbers say about its claim: shown (True), significantly
    the other way (False), or neither (None: not shown, which is not a disagreement)."""
    if not pvalue < alpha:
        return None
    return on_claimed_side


def _compare(left: float, op: str, right: float, tol: float) -> bool:
    if op == "==":
        return abs(left - right) <= tol
    if op in (">", ">="):
        return OPS[op](left + tol, right)
    return OPS[op](left - tol, right)


def _not_run(v: Verdict, where: dict) -> Verdict:
    v.verdict = NOT_RUN
    v.reason = f"The configuration {_w(where)} {LEFT_OUT}."
    return v


def _no_result_text(empty: list[Selection]) -> str:
    """Why there is nothing to judge: configurations with no finished seed."""
    parts = [", ".join(f"{k}={v}" for k, v in (s.config or {}).items()) + ": "
             + (f"{s.valueless} finished without a value of it (the run never measured it)"
                if s.valueless else
                f"{s.failed} failed, none finished" if s.failed else "not run yet")
             for s in empty]
    head = "No seed with a value" if any(s.valueless for s in empty) else "No finished seed"
    return head + " (" + "; ".join(dict.fromkeys(parts)) + ")"


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
