"""Render report models: Markdown and self-contained, autoescaped HTML (Jinja), plus a
terminal summary (tabulate)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import jinja2
from tabulate import tabulate

from ..judge.verdict import NOT_RUN
from ..run import atomic
from ..spec.suite import REPO_ROOT
from ..stats.core import SUMMARY_CONFIDENCE
from .index_page import LEGEND, SUMMARY, earlier_reports, suite_cards, summary
from .md_text import md_code, md_escape
from .model import (
    MARKS,
    SEED_STATS_HEADERS,
    SEED_STATS_NOTE,
    VERDICT_ORDER,
    ReportModel,
    level_text,
)
from .plots import plot_curves, plot_recipe, plot_sensitivity, plot_table, plot_tiles

TEMPLATES = REPO_ROOT / "reports" / "templates"
SWEEP_NOTE = (
    "Each open choice of [[sensitivity]] in suite.toml, tried at other values on the "
    "configurations it names: every reported number there is judged at each tried value "
    "as its table cell is (reproduced within the same margin), at alpha / k for the k "
    "values that compete to reproduce it (the suite's own included), so that trying more "
    "values does not make a chance 'reproduced' likelier; the suite's own value shows the "
    "table's verdict. 'None shown' means no tried value settles the number either way; "
    "'none' that every tried value contradicts it. A value that reproduces one number is "
    "named with the numbers that the same runs contradict. Exploratory: the table's "
    "verdicts keep their outcome and name what the sweep found.")
CHECK_MARKS = {"consistent": "✅", "inconsistent": "❌", "implausible": "⚠️",
               "uninformative": "➖"}
WRITE_UP_NOTE = (
    "Every printed number of the write-up's tables, checked against itself, with no run of "
    "ours involved: a mean of n runs on a grid (GRIM), its SD with it (GRIMMER), the bounds "
    "and chance level of its metric, and each number the write-up derived from others, "
    "recomputed from them as printed. A printed number stands for every value that rounds "
    "to it. Inconsistent: no such value passes; implausible: possible, but worth a look "
    "(worse than chance, a difference claimed between equal numbers); uninformative: the "
    "check cannot decide at this precision. The grids and bounds are declared in "
    "claims.toml [forensics], with what they assume.")


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate([[md_escape(c, table=True) for c in r] for r in rows],
                    headers=[md_escape(h, table=True) for h in headers], tablefmt="github",
                    disable_numparse=True)


def _env(autoescape: bool) -> jinja2.Environment:
    # Markdown keeps the newline after a block tag (trim_blocks off): its blank lines matter.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=autoescape,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["md"] = md_escape
    env.filters["md_alt"] = lambda text: md_escape(text, link_text=True)
    env.filters["code"] = md_code
    env.filters["level"] = level_text
    env.filters["counts"] = count_text
    env.filters["split"] = split_text
    env.globals.update(table=md_table, marks=MARKS, verdicts=VERDICT_ORDER,
                       check_marks=CHECK_MARKS, write_up_note=WRITE_UP_NOTE,
                       sweep_note=SWEEP_NOTE,
                       seed_stats_headers=SEED_STATS_HEADERS, seed_stats_note=SEED_STATS_NOTE)
    return env


def _rows(model: ReportModel) -> tuple[list[list[str]], list[list[str]]]:
    tuning = [[t["group"], t["param"], t["best"], t["objective"], t["trials"]]
              for t in model.tuning]
    failed = [[f["id"], f["stage"], f["params"], f["error"] or ""] for f in model.failed]
    return tuning, failed


def report_stem(model: ReportModel) -> str:
    """A report's file name without suffix: one per suite and tier."""
    return f"{model.suite}-{model.tier}"


def write_suite_report(model: ReportModel, out_dir: Path) -> dict[str, Path]:
    """Write <suite>-<tier>.md, .html, the plots and the summary a later index lists it
    by under <suite>-<tier>/; return the paths. Each file is written whole or not at all
    (harness/run/atomic.py)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(model)
    plot_dir = out_dir / stem
    plots: dict[str, str] = {}
    images: dict[str, str] = {}

    def keep(key: str, path: Path) -> None:
        """A drawn figure: linked from the Markdown, embedded in the HTML."""
        plots[key] = f"{stem}/{path.name}"
        images[key] = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    for table in model.tables:
        path = plot_dir / f"{table.id}.png"
        if table.plot and plot_table(table.result, path, model.units, SUMMARY_CONFIDENCE):
            keep(table.id, path)
    for figure in model.figures:
        path = plot_dir / f"{figure.id}.png"
        if (plot_curves(figure.curves, figure.title, path, model.units) if figure.curves
                else plot_tiles(figure.rows, figure.title, path)):
            keep(figure.id, path)
    for i, sweep in enumerate(model.sweeps):
        path = plot_dir / f"sensitivity-{i}.png"
        cells = [c for c in model.sensitivity if c.sweep is sweep and c.moved]
        if plot_sensitivity(cells, f"Where {sweep.choice!r} lands ({sweep.param})", path):
            keep(f"sensitivity-{i}", path)
    path = plot_dir / "recipe.png"
    if model.recipe is not None and plot_recipe(model.recipe, path):
        keep("recipe", path)
    model = replace(model, plots=plots)
    tuning_rows, failed_rows = _rows(model)
    write_up_rows = [[f"{CHECK_MARKS[c.outcome]} {c.outcome}", c.cell, c.check, c.arithmetic,
                      c.would_pass] for c in model.write_up_checks]
    sweep_rows = [[[c.label, c.sweep.param, "; ".join(_tried_text(t) for t in c.tried),
                    c.found()]
                   for c in model.sensitivity if c.sweep is sweep and c.moved]
                  for sweep in model.sweeps]
    unmoved = ["; ".join(c.label for c in model.sensitivity if c.sweep is sweep and not c.moved)
               for sweep in model.sweeps]
    context = {"m": _View(model, tuning_rows=tuning_rows, failed_rows=failed_rows,
                          write_up_rows=write_up_rows, sweep_rows=sweep_rows, unmoved=unmoved,
                          images=images)}
    md = _env(autoescape=False).get_template("suite.md.j2").render(context)
    md = re.sub(r"\n{3,}", "\n\n", md)
    html = _env(autoescape=True).get_template("suite.html.j2").render(context)
    md_path, html_path = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    atomic.write_text(md_path, md)
    atomic.write_text(html_path, html)
    atomic.write_text(plot_dir / SUMMARY, json.dumps(summary(model), indent=1) + "\n")
    return {"md": md_path, "html": html_path, **{k: out_dir / v for k, v in plots.items()}}


def _tried_text(t) -> str:
    """'0.5: 81.2 ± 0.4 (supported)', the suite's own marked."""
    got = "not run" if t.mean is None else (
        f"{t.mean:.4g}" + (f" ± {t.sd:.2g}" if t.sd is not None else "") + f", n={t.n}")
    return f"{t.value!r}{' (ours)' if t.own else ''}: {got} ({t.verdict})"


def write_index(models: list[ReportModel], out_dir: Path) -> Path:
    """The landing page: one card per suite (harness/report/index_page.py), the other suite reports
    the folder holds (an earlier command's) and the verdicts' legend."""
    out_dir.mkdir(parents=True, exist_ok=True)
    earlier = earlier_reports(out_dir, {report_stem(m) for m in models})
    html = _env(autoescape=True).get_template("index.html.j2").render(
        cards=suite_cards(models), earlier=earlier, verdicts=VERDICT_ORDER, legend=LEGEND,
        stem=report_stem)
    return atomic.write_text(out_dir / "index.html", html)


def count_text(counts: dict[str, int]) -> str:
    """'4 supported, 2 not run': the verdicts that occur, in VERDICT_ORDER."""
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none"


def split_text(model: ReportModel) -> str:
    """'claims: 4 supported; table numbers: 1 supported, 3 contradicted': where the
    headline's counts come from."""
    return (f"claims: {count_text(model.counts)}; "
            f"table numbers: {count_text(model.table_counts)}")


def terminal_summary(model: ReportModel) -> str:
    head = (f"{model.suite} (tier {model.tier}): verdicts: {count_text(model.total_counts)} "
            f"({split_text(model)})")
    lines = [head, model.scale]
    if model.subset:
        lines.append(model.subset)
    for table in model.tables:
        lines += ["", table.title, tabulate(table.marked_rows(), headers=table.headers,
                                            disable_numparse=True), table.interval_note]
    if model.summary:
        lines += ["", "Summary:"] + [f"  {line}" for line in model.summary]
    if model.flags:
        lines += ["", "Flagged:", tabulate(
            model.flag_rows, headers=["claim or number", "verdict", "reproduced vs reported",
                                      "effect [interval]", "adjusted p", "decided by"],
            disable_numparse=True, maxcolwidths=[28, 12, 24, 30, 8, 30])]
    not_run = [v for v in model.unjudged if v.verdict == NOT_RUN]
    if not_run:  # what a further run would judge
        lines += ["", "Not run:"] + [f"  {v.id}: {v.reason}" for v in not_run]
    others = len(model.unjudged) - len(not_run)
    if others:
        lines.append(f"{others} more not judged here (not testable by this suite, or left "
                     "to another tier): see the report")
    return "\n".join(lines)


class _View:
    """The report model with the extra fields the templates read."""

    def __init__(self, model: ReportModel, **extra):
        self._model = model
        self.__dict__.update(extra)

    def __getattr__(self, name: str):
        return getattr(self._model, name)
