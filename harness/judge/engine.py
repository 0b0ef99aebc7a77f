"""Verdicts: the write-up's tables and claims checked against the reproduced seeds.

Every verdict carries the quote and one sentence of reason that cites the numbers. The
statistical questions are in stats/questions.py, the margin rule in stats/margins.py, the
uncertainty of derived reported numbers in stats/propagate.py; the report's one Holm
correction (correction.py) runs after the scale check (scale.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..spec.schemas import ClaimsSpec, TableSpec, reported_str
from ..stats import core as stats
from ..stats.questions import (  # noqa: F401  (the outcomes re-exported: callers import them here)
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    k_of_n_question,
    seeds_for_unanimous,
)
from .aggregate import Results, Selection, is_constant
from .claims import ClaimJudging
from .tables import TableJudging
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
from .words import LEFT_OUT, OPS, T, _interval, _no_result_text, describe, verdict_level  # noqa: F401  (re-exported: the report and tests import them here)
from .write_up_checks import spread_reading
from .writeup import WriteUpJudging


class Judge(TableJudging, ClaimJudging, WriteUpJudging):
    """The verdict engine over one run's results: the readings of reported numbers and
    the selections every verdict shares live here; tables, claims and the write-up's own
    numbers are judged by the mixins of judge_tables.py, judge_claims.py and
    judge_writeup.py, worded by judge_words.py."""

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
                    if col.key not in row.reported or row.not_run:
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

        def interval_at(level: float) -> tuple[float, float]:
            found = sps.binomtest(k, n, 0.5).proportion_ci(level, method="exact")
            return found.low, found.high

        v.interval_at = interval_at
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

    def paired(self, a: Selection, b: Selection, metric: str) -> tuple[np.ndarray, list] | None:
        """a - b seed by seed, when the two sides are twins: the same cells (two entries of
        one configuration) or configurations that differ only in the suite's ``paired``
        factors, whose cells share seed, data order and initialisation. A timing metric
        pairs only within one cell (two entries of one configuration): its noise is the
        machine's (what else ran beside the cell), which twin cells do not share."""
        if a.config is None or b.config is None or a.seeds is None or b.seeds is None:
            return None
        spec = self.spec.metrics.get(metric)
        if spec is not None and spec.timing and a.config != b.config:
            return None
        differ = {k for k in a.config.keys() | b.config.keys()
                  if a.config.get(k) != b.config.get(k)}
        if not differ <= set(self.spec.paired):
            return None
        by_seed = dict(zip(b.seeds, b.values, strict=True))
        common = [s for s in a.seeds if s in by_seed]
        ours = dict(zip(a.seeds, a.values, strict=True))
        return np.array([ours[s] - by_seed[s] for s in common], dtype=float), common









