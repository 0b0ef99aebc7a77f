"""A claim not testable for lack of a run is judged once a sweep has run it (when_run.py),
only at the reference tier, and says which run would test it until then (toy suite:
``shift`` moves every score by its value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.judge.engine import CONTRADICTED, NOT_TESTABLE, SUPPORTED
from harness.report.model import build
from tests.test_sensitivity import run, sweep
from tests.test_suite_validation import edit

CLAIM = '''
[[claim]]
id = "shift-raises-b"
quote = "An offset of 4 raises B's score"
kind = "not_testable"
reason = "No run here adds an offset."
[claim.when_run]
kind = "greater"
metric = "score"
a = { arm = "b", shift = 4.0 }
b = { arm = "b" }
'''


def with_claim(toy: Path, reference: str = "smoke", claim: str = CLAIM) -> None:
    (toy / "claims.toml").write_text((toy / "claims.toml").read_text() + claim)
    edit(toy / "suite.toml", 'seeds = 4\n', f'seeds = 4\nreference = "{reference}"\n')


def verdict(model, vid: str):
    return next(v for v in model.claims if v.id == vid)


def test_judged_from_the_sweep_once_it_ran(toy: Path, store_path: Path):
    with_claim(toy)
    sweep(toy, "[4.0]")
    before = verdict(build(run(toy, store_path, train=False), "cmd"), "shift-raises-b")
    assert before.verdict == NOT_TESTABLE
    assert "becomes testable once the sensitivity sweep of shift = 4.0 has run" in \
        before.reason
    after = verdict(build(run(toy, store_path), "cmd"), "shift-raises-b")
    assert after.verdict == SUPPORTED, after.reason
    assert after.label == "supported (from a sensitivity sweep)"
    assert after.reason.startswith("Judged from the sensitivity sweep of shift = 4.0")
    assert after.family is not None and after.p_holm is not None  # in the claims' family


def test_the_other_direction_is_contradicted(toy: Path, store_path: Path):
    with_claim(toy, claim=CLAIM.replace("shift = 4.0", "shift = -4.0"))
    sweep(toy, "[-4.0]")
    v = verdict(build(run(toy, store_path), "cmd"), "shift-raises-b")
    assert v.verdict == CONTRADICTED, v.reason


def test_only_at_the_reference_tier(toy: Path, store_path: Path):
    with_claim(toy, reference="full")
    sweep(toy, "[4.0]")
    v = verdict(build(run(toy, store_path), "cmd"), "shift-raises-b")
    assert v.verdict == NOT_TESTABLE and "No run here adds an offset." in v.reason


@pytest.mark.parametrize("bad", ['kind = "internal"', 'kind = "not_testable"'])
def test_when_run_takes_only_a_claim_the_runs_can_judge(toy: Path, bad: str):
    from harness.errors import SpecError
    from harness.spec.suite import load_suite

    with_claim(toy, claim=CLAIM.replace('kind = "greater"', bad))
    with pytest.raises(SpecError, match="when_run"):
        load_suite(str(toy))


@pytest.mark.parametrize("arm, message", [
    ('{ arm = "b", shift = 3.0 }', "3.0 is not a value the \\[\\[sensitivity\\]\\] sweep of shift"),
    ('{ arm = "b", shfit = 4.0 }', "shfit: unknown factor"),
    ('{ arm = "b", recipe = "closest" }', "declares no \\[recipe\\] search"),
])
def test_an_arm_names_a_run_the_suite_can_make(toy: Path, arm: str, message: str):
    from harness.errors import SpecError
    from harness.spec.suite import load_suite

    with_claim(toy, claim=CLAIM.replace('{ arm = "b", shift = 4.0 }', arm))
    sweep(toy, "[4.0]")
    with pytest.raises(SpecError, match=message):
        load_suite(str(toy))
