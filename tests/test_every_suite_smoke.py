"""Every suite under suites/ runs its smoke tier and renders its report: a suite added as
a folder is a new test case here, with no test written for it.

The runs are shared (the ``smoke_run`` fixture in conftest.py) with the suites' own tests,
which check their numbers in the same reports.
"""

from __future__ import annotations

import html
import re

import pytest

from harness.suite import available_suites, load_suite
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
    md = unescaped_markdown((run.out / f"{suite.name}.md").read_text(encoding="utf-8"))
    page = html.unescape((run.out / f"{suite.name}.html").read_text(encoding="utf-8"))
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
