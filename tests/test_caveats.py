"""A choice a verdict could rest on is stated once and named beside every claim and table
that reads one of its metrics (caveats.py); which those are comes from claims.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.report.caveats import caveats
from harness.report.model import build
from harness.report.render import write_suite_report
from harness.spec.suite import load_suite
from tests.test_sensitivity import run
from tests.test_suite_validation import edit

CAVEAT = '''
[choices]
arm_model = "each arm's model is a toy"

[[caveat]]
choice = "arm_model"
label = "a toy prior"
metrics = ["size"]
text = "The toy's sizes are fixed by construction."
'''


def with_caveat(toy: Path, caveat: str = CAVEAT) -> None:
    edit(toy / "suite.toml", "[metrics]\n", caveat + "\n[metrics]\n")


def test_the_claims_and_tables_it_touches_come_from_their_metrics(toy: Path):
    with_caveat(toy)
    suite = load_suite(str(toy))
    (found,) = caveats(suite.spec, suite.claims)
    assert found.label == "a toy prior" and found.metrics == ("size",)
    assert found.claims == ("size-deterministic",) and found.tables == ()


def test_score_caveat_reaches_the_table_and_its_claims(toy: Path):
    with_caveat(toy, CAVEAT.replace('["size"]', '["score"]'))
    suite = load_suite(str(toy))
    (found,) = caveats(suite.spec, suite.claims)
    assert found.tables == ("main",)
    assert {"a-beats-b", "b-beats-a", "a-equals-c", "threshold"} <= set(found.claims)
    assert "size-deterministic" not in found.claims and "internal-sum" not in found.claims


def test_the_report_states_it_once_and_names_it_beside_each_verdict(toy: Path,
                                                                     store_path: Path,
                                                                     tmp_path: Path):
    with_caveat(toy, CAVEAT.replace('["size"]', '["score"]'))
    model = build(run(toy, store_path, train=False), "cmd")
    assert [c.label for c in model.claim_caveats("a-beats-b")] == ["a toy prior"]
    assert model.claim_caveats("size-deterministic") == []
    write_suite_report(model, tmp_path / "out")
    (md,), (html,) = (tmp_path / "out").glob("*.md"), (tmp_path / "out").glob("*.html")
    text = md.read_text()
    assert text.count("The toy's sizes are fixed by construction.") == 1  # stated once
    assert "## Caveats: choices a verdict could rest on" in text
    named = text.count("*Caveat: a toy prior (see Caveats).*")
    verdicts = [v for v in model.claims if model.claim_caveats(v.id)]  # sizes share theirs
    assert len(verdicts) > len(model.caveats[0].claims)
    assert named == 1 + len(verdicts)  # the table, and each verdict of those claims
    assert "<b>Caveat:</b> a toy prior" in html.read_text()


@pytest.mark.parametrize("old, new, key", [
    ('choice = "arm_model"', 'choice = "arm_modle"', "caveat[0].choice"),
    ('metrics = ["size"]', 'metrics = ["sise"]', "caveat[0].metrics[0]"),
])
def test_an_unknown_choice_or_metric_names_the_field(toy: Path, old: str, new: str,
                                                      key: str):
    with_caveat(toy, CAVEAT.replace(old, new))
    with pytest.raises(SpecError, match=r"suite\.toml") as err:
        load_suite(str(toy))
    assert key in str(err.value)
