"""Scale (issue 14, fault 1): a tier that differs from the write-up's settings never
supports or contradicts a claim whose numbers depend on them."""

from __future__ import annotations

from pathlib import Path

import torch

from harness.judge.scale import NOT_COMPARABLE, deviations, summary
from harness.judge.verdict import NOT_TESTABLE
from harness.report.model import VERDICT_ORDER, build
from harness.report.render import terminal_summary, write_suite_report
from harness.run.runner import Runner
from harness.run.store import Store
from harness.spec.plan import resolve
from harness.spec.suite import load_suite
from tests.test_suite_validation import edit

CPU = torch.device("cpu")
JUDGED = {"supported", "contradicted", "inconclusive"}


def at_scale_smoke_differs(toy: Path) -> None:
    """The write-up's settings: spread 0.5. The smoke tier runs spread 0.6; quick and
    full run the write-up's. ``size`` is the same at any setting."""
    edit(toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[scale]\nparams = { spread = 0.5 }\n\n[tiers.smoke]\nseeds = 3\n"
         "params = { spread = 0.6 }")
    edit(toy / "suite.toml", "size = {}", "size = { depends_on = [] }")


def report(toy: Path, store_path: Path, tier: str):
    plan = resolve(load_suite(str(toy)), tier)
    with Store(store_path) as store:
        run = Runner(store, CPU, None, progress=False).run(plan)
    return build(run, "x")


def test_deviations_are_derived_from_the_tiers_parameters(toy: Path):
    at_scale_smoke_differs(toy)
    suite = load_suite(str(toy))
    [dev] = deviations(resolve(suite, "smoke"))
    assert (dev.key, dev.tier_value, dev.writeup_value) == ("spread", 0.6, 0.5)
    assert deviations(resolve(suite, "full")) == []
    assert "spread = 0.6 (write-up: 0.5)" in summary(resolve(suite, "smoke"))
    assert summary(resolve(suite, "full")) == "This tier runs the write-up's stated settings."


def test_below_scale_no_scale_dependent_claim_is_decided(toy: Path, tmp_path: Path):
    at_scale_smoke_differs(toy)
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    full = report(toy, tmp_path / "f.sqlite", "full")
    by_id = {v.id: v for v in smoke.claims}
    for vid in ["a-beats-b", "b-beats-a", "a-equals-c"]:  # trained numbers: score
        assert by_id[vid].verdict == NOT_COMPARABLE, by_id[vid]
        assert "spread = 0.6 (write-up: 0.5)" in by_id[vid].reason
        assert "the tiers full, quick would test it" in by_id[vid].reason
        assert "At this tier (" in by_id[vid].reason  # the numbers are still shown
        assert by_id[vid].flagged == (by_id[vid].writeup_ok is False)  # the write-up itself
        # not judged, so not among the report's tests: no p, no Holm, no seed count
        assert by_id[vid].p is None and by_id[vid].p_holm is None and not by_id[vid].seeds_needed
    assert by_id["internal-sum"].verdict in JUDGED  # the write-up against itself
    assert len(smoke.table_verdicts) == 4  # the values and the tests against chance
    for v in smoke.table_verdicts:
        assert v.verdict == NOT_COMPARABLE and v.p is None
    # the same claims at the write-up's settings are judged
    full_ids = {v.id: v.verdict for v in full.claims}
    assert full_ids["a-beats-b"] in JUDGED and full_ids["a-equals-c"] in JUDGED
    assert all(v.p_holm is not None for v in full.table_verdicts)
    assert smoke.counts[NOT_COMPARABLE] >= 3 and NOT_COMPARABLE in VERDICT_ORDER
    assert smoke.scale.startswith("This tier differs") and smoke.scale in terminal_summary(smoke)
    paths = write_suite_report(smoke, tmp_path / "out")
    for kind in ("md", "html"):
        text = paths[kind].read_text()
        assert "not judged here" in text.lower()  # the cells' reasons
        assert "main/A/score" in text and "spread = 0.6 (write-up: 0.5)" in text


def test_a_metric_no_setting_changes_is_judged_below_scale(toy: Path, tmp_path: Path):
    at_scale_smoke_differs(toy)
    edit(toy / "claims.toml", 'id = "a-beats-b"\nquote = "A beats B"\nkind = "greater"\n'
         'metric = "score"', 'id = "a-beats-b"\nquote = "A beats B"\nkind = "greater"\n'
         'metric = "size"')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    verdict = next(v for v in smoke.claims if v.id == "a-beats-b")
    assert verdict.verdict in JUDGED, verdict.reason


def test_the_shipped_quick_tiers_are_below_their_write_ups_scale():
    for name in ["dsb_mnist1d", "sae_mnist_logits", "sae_tutorial", "sparling",
                 "adaptive_sparse_attention"]:
        suite = load_suite(name)
        assert suite.spec.scale is not None, name
        assert deviations(resolve(suite, "quick")), name
    assert deviations(resolve(load_suite("dsb_mnist1d"), "full")) == []


def test_what_no_tier_reproduces_makes_every_tier_differ(toy: Path, tmp_path: Path):
    at_scale_smoke_differs(toy)
    edit(toy / "suite.toml", "[scale]\nparams = { spread = 0.5 }",
         "[scale]\nparams = { spread = 0.5 }\nunmatched = { data = \"our own data\" }")
    edit(toy / "suite.toml", "size = { depends_on = [] }", "size = { depends_on = ['spread'] }")
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\nreference = "full"')
    suite = load_suite(str(toy))
    assert [d.key for d in deviations(resolve(suite, "full"))] == ["data"]
    full = report(toy, tmp_path / "f.sqlite", "full")
    by_id = {v.id: v for v in [*full.claims, *full.table_verdicts]}
    # a reproduced number against the write-up's: no bigger tier of this suite could
    # decide it: not testable by this suite, not "not comparable" (which promises another
    # tier), and listed apart from the flagged
    cell = by_id["main/A/score"]
    assert cell.verdict == NOT_TESTABLE and not cell.flagged
    assert cell.reason.startswith("Not testable by this suite: it depends on what no tier "
                                  "reproduces (data: our own data (the write-up's is not "
                                  "reproduced))"), cell.reason
    assert "At this tier (" in cell.reason  # what the tier's numbers showed is kept
    assert cell in full.unjudged and cell not in full.flags
    # an ordering of two of the suite's own arms is still tested, as a conceptual
    # replication on its data, labelled so, and in the claims' Holm family
    claim = by_id["a-beats-b"]
    assert claim.verdict in JUDGED and claim.evidence["conceptual"]
    assert claim.label == f"{claim.verdict} (conceptual replication)"
    assert claim.reason.startswith("Conceptual replication: as a reproduction this claim is "
                                   "not testable by this suite (it depends on what no tier "
                                   "reproduces"), claim.reason
    assert claim.p_holm is not None
    assert by_id["a-beats-b/size"].verdict == NOT_TESTABLE  # against the write-up's size
    assert by_id["size-deterministic"].verdict in JUDGED  # depends on spread only
    # below the reference tier nothing is judged as a conceptual replication either
    smoke = {v.id: v for v in report(toy, tmp_path / "s.sqlite", "smoke").claims}
    assert smoke["a-beats-b"].verdict != "supported" and \
        "conceptual" not in smoke["a-beats-b"].evidence


def stands_for_scale(toy: Path, requires: str, learned: str = "") -> None:
    """The smoke tier (spread 0.6) stands for the write-up's scale (spread 0.5)."""
    at_scale_smoke_differs(toy)
    with open(toy / "suite.toml", "a") as f:
        f.write(f'\n[tiers.smoke.stands_for_scale]\nwhy = "a toy regime."\n'
                f"requires = [{requires}]\n{learned}")


def test_a_tier_that_shows_the_write_ups_regime_is_judged(toy: Path, tmp_path: Path):
    stands_for_scale(toy, '{ metric = "score", where = { arm = "a" }, op = ">=", value = 5.0 }')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    by_id = {v.id: v for v in smoke.claims}
    for vid in ["a-beats-b", "a-equals-c"]:
        assert by_id[vid].verdict in JUDGED, by_id[vid].reason
    assert by_id["a-beats-b"].p_holm is not None  # among the report's tests
    assert "stands for its scale: a toy regime." in smoke.scale
    assert "score of arm = a:" in smoke.scale and "(needs >= 5)" in smoke.scale
    assert "Its run shows the regime" in smoke.scale


def test_a_tier_whose_run_falls_short_of_the_regime_is_not_comparable(toy: Path,
                                                                      tmp_path: Path):
    stands_for_scale(toy, '{ metric = "score", where = { arm = "a" }, op = ">=", value = 50.0 }')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    verdict = next(v for v in smoke.claims if v.id == "a-beats-b")
    assert verdict.verdict == NOT_COMPARABLE
    assert "only when its run shows the regime, which this run does not" in verdict.reason
    assert "score of arm = a: " in verdict.reason and "(needs >= 50)" in verdict.reason
    assert "It falls short" in smoke.scale
    # the write-up against itself does not depend on scale
    assert next(v for v in smoke.claims if v.id == "internal-sum").verdict in JUDGED


def test_a_configuration_that_did_not_learn_is_not_comparable(toy: Path, tmp_path: Path):
    # arm b's scores lie near 5, a's and c's near 10: b has not learned by this bar
    stands_for_scale(toy, '{ metric = "score", where = { arm = "a" }, op = ">=", value = 5.0 }',
                     'learned = { metric = "score", op = ">=", value = 7.5 }\n')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    by_id = {v.id: v for v in smoke.claims}
    for vid in ["a-beats-b", "b-beats-a"]:
        assert by_id[vid].verdict == NOT_COMPARABLE
        assert "has not learned the task at this tier's budget" in by_id[vid].reason
        assert "score of arm = b: " in by_id[vid].reason
    assert by_id["a-equals-c"].verdict in JUDGED  # both arms learned
    assert "did not learn the task at this budget are not comparable: score of arm = b" \
        in smoke.scale


def test_a_metric_bound_to_a_changed_setting_stays_not_comparable(toy: Path, tmp_path: Path):
    stands_for_scale(toy, '{ metric = "score", where = { arm = "a" }, op = ">=", value = 5.0 }')
    edit(toy / "suite.toml", "score = { unit = \"pts\" }",
         "score = { unit = \"pts\", bound_to = [\"spread\"] }")
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    verdict = next(v for v in smoke.claims if v.id == "a-beats-b")
    assert verdict.verdict == NOT_COMPARABLE
    assert "this number depends on it" in verdict.reason
    assert "except on numbers that depend on spread" in smoke.scale
    assert next(v for v in smoke.claims if v.id == "size-deterministic").verdict in JUDGED


def test_stands_for_scale_names_what_exists(toy: Path):
    stands_for_scale(toy, '{ metric = "scroe", where = { arm = "a" }, op = ">=", value = 5.0 }')
    try:
        load_suite(str(toy))
    except Exception as e:  # noqa: BLE001 - the message is what is tested
        assert "tiers.smoke.stands_for_scale.requires[0].metric" in str(e)
        assert "'scroe'" in str(e)
    else:
        raise AssertionError("an unknown metric in stands_for_scale was accepted")


def test_a_requirement_holds_for_every_configuration_it_selects(toy: Path, tmp_path: Path):
    # no where: every arm must meet it; b's scores lie near 5, so >= 7 fails on b alone
    stands_for_scale(toy, '{ metric = "score", op = ">=", value = 7.0 }')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    verdict = next(v for v in smoke.claims if v.id == "a-equals-c")
    assert verdict.verdict == NOT_COMPARABLE
    assert "score of arm = b: " in verdict.reason and "(n = 3)" in verdict.reason
    assert "would test it" in verdict.reason and "smoke (when" not in verdict.reason


def test_failed_seeds_never_show_the_regime_or_a_learned_task():
    import numpy as np

    from harness.judge.aggregate import Selection
    from harness.judge.scale import _condition
    from harness.spec.schemas import LearnedSpec

    class Stub:  # one configuration per arm, with the seeds given
        configs = [{"arm": "a"}, {"arm": "b"}]

        def __init__(self, sels):
            self.sels = sels

        def select(self, where, metric, index, source):
            return self.sels[where["arm"]]

    bar = LearnedSpec(metric="score", op=">=", value=5.0)
    good = Selection({"arm": "a"}, np.array([9.0, 9.0]))
    failed = Selection({"arm": "b"}, np.array([9.0, 9.0]), failed=1)
    unmeasured = Selection({"arm": "b"}, np.array([]))
    assert _condition(Stub({"a": good, "b": good}), bar, {}, "x")[1] is True
    text, ok = _condition(Stub({"a": good, "b": failed}), bar, {}, "x")
    assert not ok and "arm = b: 9 (n = 2, 1 failed), 2 of 2 seeds on their own" in text
    # the rule reads the mean; the text also says how many seeds meet the bar alone
    split = Selection({"arm": "a"}, np.array([4.0, 7.0, 4.5]))
    text, ok = _condition(Stub({"a": split}), bar, {"arm": "a"}, "x")
    assert ok is True and "arm = a: 5.167 (n = 3), 1 of 3 seeds on their own" in text
    text, ok = _condition(Stub({"a": good, "b": unmeasured}), bar, {}, "x")
    assert not ok and "arm = b: not measured" in text
    assert _condition(Stub({"a": good}), bar, {"arm": "z"}, "x") == (
        "score of arm = z: no such configuration (needs >= 5)", False)


def test_a_judged_verdict_says_on_what_standing(toy: Path, tmp_path: Path):
    stands_for_scale(toy, '{ metric = "score", where = { arm = "c" }, op = ">=", value = 5.0 }')
    smoke = report(toy, tmp_path / "s.sqlite", "smoke")
    # (the write-up against itself and size, which no setting changes, need no standing)
    judged = [v for v in smoke.claims if v.verdict in JUDGED and v.kind != "internal"
              and v.id != "size-deterministic"]
    assert judged and all(v.reason.startswith("Judged at tier smoke, which runs spread = 0.6")
                          for v in judged)


def test_a_number_bound_to_a_setting_must_depend_on_it(toy: Path):
    at_scale_smoke_differs(toy)
    edit(toy / "suite.toml", "size = { depends_on = [] }",
         "size = { depends_on = [], bound_to = [\"spread\"] }")
    try:
        load_suite(str(toy))
    except Exception as e:  # noqa: BLE001 - the message is what is tested
        assert "metrics.size.bound_to[0]" in str(e) and "depends_on" in str(e)
    else:
        raise AssertionError("bound_to outside depends_on was accepted")
