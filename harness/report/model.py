"""Assemble what a report shows from a run: tables, verdicts, tuning, provenance.

The model is plain data, rendered by ``render.py``. Nothing here depends on time,
so the same store gives byte-identical reports (a resumed run equals a fresh one).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field

from ..judge import findings, scale
from ..judge.aggregate import Results
from ..judge.engine import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_RUN,
    NOT_TESTABLE,
    SUPPORTED,
    TableCell,
    TableResult,
    Verdict,
    verdict_level,
)
from ..judge.judged import judge_run
from ..judge.scale import NOT_COMPARABLE
from ..judge.sensitivity import SweepCell, analyse, annotate
from ..judge.verdict import level_text, p_text
from ..judge.when_run import OtherRuns
from ..judge.write_up_checks import WriteUpCheck, check_write_up
from ..recipe import report_section as recipe_report
from ..recipe.report_section import RecipeSection
from ..run.runner import RunResult
from ..settle import design as settle
from ..settle.run import later_looks
from ..spec.schemas import TableSpec
from ..stats.core import BOOTSTRAP_MIN_N, SUMMARY_CONFIDENCE, within
from ..stats.margins import RULE
from .caveats import Caveat, caveats, for_claim, for_table
from .headlines import headline_claims

VERDICT_ORDER = [SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_COMPARABLE, NOT_TESTABLE,
                 NOT_RUN]
MARKS = {SUPPORTED: "✅", CONTRADICTED: "❌", INCONCLUSIVE: "❔", NOT_COMPARABLE: "📏",
         NOT_TESTABLE: "➖", NOT_RUN: "⏭"}
SEED_STATS_HEADERS = [
    "configuration", "metric", "n", "mean", "SD", "SEM",
    f"{level_text(SUMMARY_CONFIDENCE)} t interval",
    f"{level_text(SUMMARY_CONFIDENCE)} BCa bootstrap interval, shown from n ≥ {BOOTSTRAP_MIN_N}",
]
SEED_STATS_NOTE = (
    f"Per configuration and metric: seeds, mean, SD, standard error, the "
    f"{level_text(SUMMARY_CONFIDENCE)} t interval of the mean and its "
    f"{level_text(SUMMARY_CONFIDENCE)} BCa bootstrap interval. The bootstrap interval is "
    f"shown from n ≥ {BOOTSTRAP_MIN_N} seeds: with fewer it covers the true mean far less "
    f"often than {level_text(SUMMARY_CONFIDENCE)} (seeded simulation, "
    "benchmarks/bootstrap_coverage.py)."
)


@dataclass
class RenderedTable:
    id: str
    title: str
    note: str
    headers: list[str]
    rows: list[list[str]]  # verdict columns hold the verdict's word
    plot: bool
    result: TableResult = field(repr=False)
    verdict_cols: list[int] = field(default_factory=list)  # indices of verdict columns
    interval_note: str = ""  # what the numbers and intervals in the table are

    def marked_rows(self) -> list[list[str]]:
        """The rows with each verdict word preceded by its mark, for text output."""
        return [[f"{MARKS[c]} {c}" if i in self.verdict_cols and c in MARKS else c
                 for i, c in enumerate(row)] for row in self.rows]


@dataclass
class CurvePanels:
    """What a [[curves]] figure draws: per configuration, each seed's points per metric."""

    metrics: list[str]
    rows: list[tuple[str, list[tuple[int, dict[str, list[float]]]]]]  # (label, seeds)
    x_step: float | None  # the k-th point lies at k x this; None: at k
    x_label: str
    log_y: list[str]


@dataclass
class RenderedFigure:
    id: str
    title: str
    note: str
    rows: list[tuple[str, int | None, object]]  # (label, seed, tiles array or None)
    curves: CurvePanels | None = None  # a [[curves]] figure instead of tiles


@dataclass
class ReportModel:
    suite: str
    title: str
    writeup: str
    tier: str
    tier_description: str
    command: str
    choices: dict
    provenance: dict
    tuning: list[dict]
    tables: list[RenderedTable]
    claims: list[Verdict]
    table_verdicts: list[Verdict]
    counts: dict[str, int]
    flags: list[Verdict]
    failed: list[dict]
    missing: int
    seed_stats: list[list[str]]
    figures: list[RenderedFigure] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)  # table/figure id -> PNG file name
    scale: str = ""  # the tier against the write-up's settings (harness/judge/scale.py)
    table_counts: dict[str, int] = field(default_factory=dict)  # verdicts of table cells
    units: dict[str, str] = field(default_factory=dict)  # metric -> unit, e.g. "%"
    subset: str = ""  # "This report shows part of tier ...", when --where/--seeds cut it
    reference: str = ""  # "Reference run of ...", when the report renders a committed reference
    verify: str = ""  # the command that re-runs a sample of that reference
    reference_tier: str | None = None  # the suite's reference tier (suite.toml)
    reference_committed: bool = False  # expected/<reference tier>.json is in the suite
    cli_name: str = ""  # how a command names the suite (Suite.cli_name)
    headlines: list | None = None  # headlines.HeadlineClaim of claims.toml; None: unreadable
    write_up_checks: list[WriteUpCheck] = field(default_factory=list)  # write_up_checks.py
    sensitivity: list[SweepCell] = field(default_factory=list)  # sensitivity.py
    recipe: RecipeSection | None = None  # the recipe search (recipe/report_section.py)
    summary: list[str] = field(default_factory=list)  # findings.py: generated sentences
    unjudged: list[Verdict] = field(default_factory=list)  # not run, not testable, ...
    caveats: list[Caveat] = field(default_factory=list)  # choices a verdict could rest on

    def claim_caveats(self, verdict_id: str) -> list[Caveat]:
        """The caveats beside a claim's verdict."""
        return for_claim(self.caveats, verdict_id)

    def table_caveats(self, table_id: str) -> list[Caveat]:
        """The caveats beside a table."""
        return for_table(self.caveats, table_id)

    @property
    def flag_rows(self) -> list[list[str]]:
        """One row per flagged verdict: claim, verdict, compared, effect with its
        interval, adjusted p, the reason that decided it."""
        return [[v.id, v.label, v.compared or "—", v.effect_text() or "—",
                 p_text(v.p_holm, v.alpha or 0.05) if v.p_holm is not None else "—",
                 v.decided_by()] for v in self.flags]

    @property
    def sweeps(self) -> list:
        """The [[sensitivity]] sweeps that have a reported number to judge, in order."""
        seen = []
        for cell in self.sensitivity:
            if not any(cell.sweep is s for s in seen):
                seen.append(cell.sweep)
        return seen

    @property
    def write_up_counts(self) -> dict[str, int]:
        """Checks of the write-up's printed numbers per outcome."""
        return dict(Counter(c.outcome for c in self.write_up_checks))

    @property
    def total_counts(self) -> dict[str, int]:
        """Every verdict of the report per outcome: claims and table cells together."""
        return {k: self.counts.get(k, 0) + self.table_counts.get(k, 0) for k in VERDICT_ORDER}


def reproduced_text(s, spec: str) -> str:
    if s is None or s.n == 0:
        return "not run"
    if s.n < 2:
        return f"{format(s.mean, spec)} (n=1)"
    if s.sd <= 1e-12 * max(1.0, abs(s.mean)):  # equal seeds (mean rounding leaves ~1e-17)
        return f"{format(s.mean, spec)} (all {s.n} seeds)"
    return (f"{format(s.mean, spec)} ± {format(s.sd, spec)} "
            f"[{format(s.ci_low, spec)}, {format(s.ci_high, spec)}]")


def param_text(value: object, spec: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def interval_note(has_verdicts: bool, alpha: float) -> str:
    """What a write-up table's reproduced numbers and verdicts are, with both levels."""
    note = (f"Reproduced: mean ± SD over the seeds [{level_text(SUMMARY_CONFIDENCE)} t "
            "interval of the mean].")
    if has_verdicts:
        note += (f" Verdict: the {level_text(verdict_level(alpha))} t interval of "
                 "reproduced − reported inside ±margin: supported; the "
                 f"{level_text(1 - alpha)} interval entirely outside: contradicted; otherwise "
                 "inconclusive; no finished seed: not run. Margin: "
                 f"{RULE}, unless the column says otherwise below. Intervals of a bounded "
                 "metric are cut to its bounds. A decisive verdict "
                 f"needs a Holm-adjusted p below {alpha:g} over the tests of this table "
                 "(the claims are another family); an interval marked Holm is read at the "
                 "level the correction held its test to. "
                 "Vs chance: our number on the better side of chance by a two-sided t test.")
    return note


def column_notes(spec: TableSpec) -> list[str]:
    """Each column's own margin or reason for no verdict, as the report shows them."""
    notes = []
    for col in spec.columns:
        if col.margin is not None:
            notes.append(f"{col.label}: margin ±{col.margin:g}: {col.margin_reason}")
        if col.no_verdict and any(col.key in r.reported for r in spec.row):
            notes.append(f"{col.label}: no verdict: {col.no_verdict}")
    return notes


def render_table(result: TableResult, alpha: float) -> RenderedTable:
    spec = result.spec
    headers = [spec.row_header]
    has_reported = {c.key: any(c.key in r.reported for r in spec.row) for c in spec.columns}
    for col in spec.columns:
        if has_reported[col.key]:
            headers += [f"{col.label} (reported)", f"{col.label} (reproduced)"]
        else:
            headers.append(f"{col.label} (reproduced)")
        if has_reported[col.key] and col.metric and not col.no_verdict:
            headers.append("verdict")
        if has_reported[col.key] and any(result.cells[(r, col.key)].chance
                                         for r in range(len(spec.row))):
            headers.append("vs chance")
    rows = []
    verdict_cols: list[int] = []
    for r, row in enumerate(spec.row):
        line = [row.label]
        for col in spec.columns:
            cell: TableCell = result.cells[(r, col.key)]
            if has_reported[col.key]:
                line.append(cell.reported_text or "—")
            if col.param:
                line.append(param_text(cell.param_value, col.format))
            else:
                text = reproduced_text(cell.reproduced, col.format)
                if cell.failed:
                    text += f" ({cell.failed} failed)"
                line.append(text)
            if has_reported[col.key] and col.metric and not col.no_verdict:
                if r == 0:
                    verdict_cols.append(len(line))
                line.append(cell.verdict.verdict if cell.verdict else "—")
            if has_reported[col.key] and any(result.cells[(i, col.key)].chance
                                             for i in range(len(spec.row))):
                if r == 0:
                    verdict_cols.append(len(line))
                line.append(cell.chance.verdict if cell.chance else "—")
        rows.append(line)
    repeats = sorted({f"{c.verdicts[0].id.rsplit('/', 1)[0]} as "
                      f"{c.repeat_of.verdicts[0].id.rsplit('/', 1)[0]}"
                      for c in result.cells.values() if c.repeat_of is not None})
    judged_once = [f"Printed in an earlier table too (the same seeds' values and reported "
                   f"number): {'; '.join(repeats)}. Each number gets one verdict, decisive "
                   "only where both tables' corrections leave it decisive, and is counted "
                   "once in the report's totals."] if repeats else []
    levels = " ".join([interval_note(bool(verdict_cols), alpha), *column_notes(spec),
                       *judged_once])
    return RenderedTable(spec.id, spec.title, spec.note, headers, rows, spec.plot, result,
                         verdict_cols, levels)


def digest(records, timings: set[str]) -> str:
    """A hash of every result behind the report (wall-clock metrics left out): two
    reports with the same digest were built from the same numbers."""
    payload = [(r.id, r.status, {k: v for k, v in r.metrics.items() if k not in timings})
               for r in sorted(records, key=lambda r: r.id)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build(run: RunResult, command: str) -> ReportModel:
    plan = run.plan
    suite = plan.suite
    results = Results(plan, run.records)
    others = OtherRuns(plan, run.records, run.sensitivity, run.recipe, run.recipe_records)
    judged = judge_run(plan, results, others=others)
    settled: list[str] = []
    if run.settle is not None and any(r.done for r in run.settle.rounds):
        later = later_looks(plan, run.records, run.settle_records, run.settle)
        settled = settle.merge(judged, later, run.settle)
    judge, table_results, claims, sizes, stand = (judged.judge, judged.tables, judged.claims,
                                                  judged.sizes, judged.stand)
    # each number once: a cell that repeats an earlier table's (tables.py) is not counted
    table_verdicts = [v for v in judged.table_verdicts() if "repeat_of" not in v.evidence]
    claims = _with_sizes(claims, sizes)
    swept = analyse(judge, table_results, suite.spec.sensitivity, run.sensitivity)
    annotate(swept, table_results)
    searched = recipe_report.build(plan, run.recipe, run.recipe_records)
    recipe_report.annotate(searched, table_results)
    counts = Counter(v.verdict for v in claims)
    table_counts = Counter(v.verdict for v in table_verdicts)
    unknown = (set(counts) | set(table_counts)) - set(VERDICT_ORDER)
    assert not unknown, f"outcomes missing from VERDICT_ORDER: {unknown}"  # never uncounted
    all_records = run.all_records
    fingerprints = sorted({json.dumps({k: v for k, v in r.fingerprint.items()
                                       if k != "git_commit"}, sort_keys=True)
                           for r in all_records})
    commits = sorted({r.fingerprint.get("git_commit", "unknown") for r in all_records})
    main_count, trial_count = plan.cell_count()
    missing = main_count - len(run.records)  # not run yet, or no tuned value to run with
    provenance = {
        "cells": f"{sum(r.status == 'done' for r in run.records)} done, "
                 f"{sum(r.status == 'failed' for r in run.records)} failed, "
                 f"{missing} missing of {main_count} main cells; "
                 f"{sum(len(t.trials) for t in run.tuning)} of {trial_count} tuning trials",
        "results_digest": digest([*all_records, *run.settle_records],
                                 {n for n, m in suite.spec.metrics.items() if m.timing}),
        "git_commits": ", ".join(commits) or "none",
        "code_digest": suite.code.digest,
        "code_files": ", ".join(suite.code.files),
        "environments": [json.loads(f) for f in fingerprints],
        "seeds": ", ".join(map(str, plan.seeds)),
    }
    if settled or (run.settle is not None and run.settle.rounds):
        provenance["settle"] = settle.provenance_text(run.settle, len(run.settle_records),
                                                      settled)
    tuning = []
    for t in run.tuning:
        done = [r for r in t.trials if r.status == "done"]
        tuning.append({
            "group": ", ".join(f"{k}={v}" for k, v in t.group.items()),
            "param": t.param,
            "best": "n/a" if t.best_value is None else f"{t.best_value:.5g}",
            "objective": "n/a" if t.best_objective is None else f"{t.best_objective:.4g}",
            "trials": f"{len(done)} done, {len(t.trials) - len(done)} failed"
                      + (f", {t.missing} missing" if t.missing else ""),
        })
    # a cell names only the factors of its own grid (main cells have no "grid"); failed
    # main cells first (their holes show in the tables), then failed tuning trials
    failed = [{"id": r.id, "params": ", ".join(f"{k}={r.params[k]}"
                                                 for k in [*plan.factor_names, "seed"]
                                                 if k in r.params),
               "stage": r.stage, "error": r.error}
              for r in sorted(run.failed, key=lambda r: r.stage != "main")]
    flags = [v for v in claims if v.flagged] + [v for v in table_verdicts if v.flagged]
    unjudged = [v for v in claims if v.unjudged and not v.flagged] + \
        [v for v in table_verdicts if v.unjudged and not v.flagged]
    return ReportModel(
        suite=suite.name, title=suite.spec.title, writeup=suite.spec.writeup, tier=plan.tier,
        tier_description=suite.spec.tiers[plan.tier].description, command=command,
        scale=scale.summary(plan, stand),
        choices=dict(suite.spec.choices), provenance=provenance, tuning=tuning,
        tables=[render_table(t, suite.claims.source.alpha) for t in table_results],
        claims=claims,
        table_verdicts=table_verdicts,
        counts={k: counts.get(k, 0) for k in VERDICT_ORDER},
        table_counts={k: table_counts.get(k, 0) for k in VERDICT_ORDER},
        units={name: m.unit for name, m in suite.spec.metrics.items()},
        flags=flags, failed=failed, unjudged=unjudged,
        summary=findings.summary(
            claims, table_results,
            f"sparsebench settle --suite {suite.cli_name} --tier {plan.tier}"
            if (suite.folder / "expected" / f"{plan.tier}.json").is_file() else None),
        missing=missing, seed_stats=seed_statistics(results),
        figures=figures(results, str(suite.folder / "claims.toml")),
        subset=f"This report shows part of tier {plan.tier}: {plan.subset}." if plan.subset
        else "",
        reference_tier=suite.spec.reference,
        reference_committed=bool(suite.spec.reference) and
        (suite.folder / "expected" / f"{suite.spec.reference}.json").is_file(),
        cli_name=suite.cli_name,
        headlines=headline_claims(suite.folder),
        write_up_checks=check_write_up(suite.claims, suite.spec),
        sensitivity=swept,
        recipe=searched,
        caveats=caveats(suite.spec, suite.claims),
    )


def _with_sizes(claims: list[Verdict], sizes: list[Verdict]) -> list[Verdict]:
    """The claims with each size verdict right after the claim it sizes."""
    after: dict[str, list[Verdict]] = {}
    for v in sizes:
        after.setdefault(v.id.rsplit("/", 1)[0], []).append(v)
    return [x for v in claims for x in (v, *after.get(v.id, []))]


def figures(results: Results, source: str) -> list[RenderedFigure]:
    out = []
    metrics = results.plan.suite.spec.metrics
    for fig in results.plan.suite.claims.figure:
        shape = metrics[fig.metric].shape
        rows = []
        for row in fig.row:
            found = results.tiles(row.where, fig.metric, shape, fig.tiles, fig.seed, source)
            rows.append((row.label, *(found if found else (None, None))))
        out.append(RenderedFigure(fig.id, fig.title, fig.note, rows))
    for fig in results.plan.suite.claims.curves:
        step = None
        if fig.x_param is not None:
            step = results.plan.params.get(fig.x_param)
            step = float(step) if isinstance(step, (int, float)) else None
        lines = [(row.label, results.curves(row.where, fig.metrics, source)) for row in fig.row]
        out.append(RenderedFigure(fig.id, fig.title, fig.note, [], CurvePanels(
            list(fig.metrics), lines, step, fig.x_label, list(fig.log_y))))
    return out


def seed_statistics(results: Results) -> list[list[str]]:
    rows = []
    specs = results.plan.suite.spec.metrics
    for config, metric, s in results.summaries():
        label = ", ".join(f"{k}={v}" for k, v in config.items())
        spec = specs.get(metric.split("[", 1)[0])
        bounds = spec.bounds if spec is not None else None
        rows.append([label, metric, str(s.n), f"{s.mean:.4g}", _g(s.sd), _g(s.sem),
                     _interval(*within(s.ci_low, s.ci_high, bounds)),
                     f"n < {BOOTSTRAP_MIN_N}" if s.n < BOOTSTRAP_MIN_N
                     else _interval(s.boot_low, s.boot_high)])
    return rows


def _g(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"[{low:.4g}, {high:.4g}]"

