"""Every suite under suites/ runs its smoke tier and renders its report: a suite added as
a folder is a new test case here, with no test written for it.

The runs are shared (the ``smoke_run`` fixture in conftest.py) with the suites' own tests,
which check their numbers in the same reports.
"""

from __future__ import annotations

import html
import re

import pytest

from harness.spec.suite import available_suites, load_suite
from tests.conftest import HAVE_MNIST, missing

SUITES = available_suites()


def unescaped_markdown(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_the_shipped_suites_are_found():
    assert {"dsb_mnist1d", "sparling"} <= set(SUITES)


@pytest.mark.parametrize("name", SUITES)
def test_smoke_tier_runs_and_its_report_renders(name: str, smoke_run):
    suite = load_suite(name)
    assert "smoke" in suite.tiers, f"{name}: every suite needs a smoke tier (seconds; tests)"
    run = smoke_run(name)
    if run.returncode != 0 and not HAVE_MNIST and "MNIST file" in run.stdout + run.stderr:
        missing(f"{name} needs the MNIST files; set SPARSEBENCH_DATA")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    md = unescaped_markdown((run.out / f"{suite.name}-smoke.md").read_text(encoding="utf-8"))
    page = html.unescape((run.out / f"{suite.name}-smoke.html").read_text(encoding="utf-8"))
    assert md.startswith(f"# {suite.spec.title} — tier `smoke`"), md[:200]
    assert f"<title>{suite.spec.title}" in page and "smoke" in page.split("</h1>")[0]
    for text in (md, page):
        assert name in text
        for table in suite.claims.table:
            assert table.title in text, table.title
        for figure in suite.claims.figure:
            assert figure.title in text, figure.title
        assert "Failed cells" not in text and "have no result" not in text
    assert name in (run.out / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SUITES)
def test_below_the_write_ups_scale_no_scale_dependent_verdict_is_decisive(name: str,
                                                                          smoke_run):
    """At the smoke tier (far below every write-up's settings) a verdict that compares
    trained numbers with the write-up's is "not comparable", never supported or
    contradicted: only the write-up against itself and metrics no setting changes
    (``depends_on = []``) are decided."""
    from harness.judge.engine import CONTRADICTED, SUPPORTED
    from harness.report.model import build
    from harness.run.runner import Runner
    from harness.run.store import Store
    from harness.spec.plan import resolve
    from tests.test_engine import CPU

    run = smoke_run(name)
    if run.returncode != 0 and not HAVE_MNIST:
        missing(f"{name} needs the MNIST files; set SPARSEBENCH_DATA")
    suite = load_suite(name)
    plan = resolve(suite, "smoke")
    with Store(run.store, readonly=True) as store:
        model = build(Runner(store, CPU, None, execute=False, progress=False).run(plan), "cmd")
    assert model.scale, f"{name}: the smoke tier should differ from the write-up's settings"
    metric_of = {c.id: getattr(c, "metric", None) for c in suite.claims.claim}
    decided = [v for v in model.claims + model.table_verdicts
               if v.verdict in (SUPPORTED, CONTRADICTED)]
    for v in decided:
        if v.kind == "internal":
            continue
        metric = metric_of.get(v.id) or _table_metric(suite, v.id)
        depends = suite.spec.metrics[metric].depends_on
        assert depends == [], (f"{name}: {v.id} is {v.verdict} at smoke on {metric}, which "
                               f"depends on {depends or 'every setting'}")


def _table_metric(suite, verdict_id: str) -> str | None:
    """The metric of a table verdict's column ('table/row/column[/chance]')."""
    parts = verdict_id.split("/")
    for table in suite.claims.table:
        if parts[0] == table.id:
            key = parts[-2] if parts[-1] == "chance" else parts[-1]
            return next((c.metric for c in table.columns if c.key == key), None)
    return None
