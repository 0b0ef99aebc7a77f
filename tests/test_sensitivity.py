"""[[sensitivity]]: open choices tried at other values, and whether any reproduces a
reported number (toy suite: ``shift`` moves every score by its value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.judge.aggregate import Results
from harness.judge.engine import INCONCLUSIVE, NOT_COMPARABLE, SUPPORTED, Judge
from harness.judge.sensitivity import analyse
from harness.report.model import build
from harness.report.render import write_suite_report
from harness.run.store import Store
from harness.spec.plan import resolve
from harness.spec.suite import load_suite
from tests.test_engine import CPU, Runner
from tests.test_suite_validation import edit


def sweep(toy: Path, values: str, where: str = '{ arm = "b" }') -> None:
    edit(toy / "suite.toml", "lr = 0.3\n", "lr = 0.3\nshift = 0.0\n\n[choices]\n"
         'offset = "the write-up states no offset; we add none"\n\n[[sensitivity]]\n'
         f'choice = "offset"\nparam = "shift"\nvalues = {values}\nwhere = {where}\n'
         'why = "an offset moves every score"\n')


def run(toy: Path, store_path: Path, train: bool = True):
    with Store(store_path) as store:
        runner = Runner(store, CPU, None, progress=False, sensitivity=train)
        return runner.run(resolve(load_suite(str(toy)), "smoke"))


def test_sweep_cells_run_only_when_asked_and_are_kept_apart(toy: Path, store_path: Path):
    sweep(toy, "[0.0, 4.0, 1.0]")  # 0.0 is the suite's own: not run again
    plan = resolve(load_suite(str(toy)), "smoke")
    result = run(toy, store_path, train=False)
    assert result.sensitivity == [] and len(result.records) == 9
    result = run(toy, store_path)
    assert len(result.sensitivity) == 2 * 3  # 2 other values x 3 seeds, arm b only
    assert {r.params["shift"] for _, r in result.sensitivity} == {4.0, 1.0}
    assert all(r.stage == "sens" and r.params["arm"] == "b" for _, r in result.sensitivity)
    assert all(r.params["shift"] == 0.0 for r in result.records)  # main cells untouched
    # the sweep's cells carry the tuned lr of their group, as the main cells do
    main_lr = {r.params["lr"] for r in result.records if r.params["arm"] == "b"}
    assert {r.params["lr"] for _, r in result.sensitivity} == main_lr
    assert len(plan.sensitivity_cells({})) == 0  # no tuned value yet: no sweep cell
    again = run(toy, store_path, train=False)  # read back from the store
    assert len(again.sensitivity) == 6 and again.executed == 0


def test_a_choice_that_reaches_the_number_and_one_that_does_not(toy: Path, store_path: Path,
                                                                tmp_path: Path):
    sweep(toy, "[4.0, 1.0]")  # B's mean is 5 with no shift; the write-up prints 9.0
    result = run(toy, store_path)
    model = build(result, "cmd")
    (cell,) = [c for c in model.sensitivity if c.vid == "main/B/score"]
    tried = {t.value: t.verdict for t in cell.tried}
    assert tried[4.0] == SUPPORTED and tried[1.0] != SUPPORTED, cell.tried
    assert cell.reproduced_with == [4.0]
    reason = next(v for v in model.table_verdicts if v.id == "main/B/score").reason
    assert "reproduced with shift = 4.0" in reason
    md = write_suite_report(model, tmp_path / "out")["md"].read_text()
    assert "## Where the open choices land" in md and "### offset: shift" in md
    assert (tmp_path / "out" / "toy-smoke" / "sensitivity-0.png").is_file()


def test_no_tried_choice_reaches_the_number(toy: Path, store_path: Path):
    sweep(toy, "[1.0, -1.0]")  # B's means 6.4 and 4.4 against 9.0 within 1.5: far outside
    model = build(run(toy, store_path), "cmd")
    (cell,) = [c for c in model.sensitivity if c.vid == "main/B/score"]
    assert cell.reproduced_with == [] and cell.complete
    assert [t.value for t in cell.tried] == [-1.0, 0.0, 1.0]  # in order, for the plot
    reason = next(v for v in model.table_verdicts if v.id == "main/B/score").reason
    assert ("not reproduced under any tried shift (-1.0: contradicted, 1.0: contradicted"
            in reason)
    assert cell.found() == "none: contradicted at every tried value"


def test_a_choice_that_settles_nothing_is_not_called_a_failure(toy: Path, store_path: Path):
    sweep(toy, "[2.0]")  # B's mean 7.4 against 9.0 within 1.5: too close to call
    model = build(run(toy, store_path), "cmd")
    (cell,) = [c for c in model.sensitivity if c.vid == "main/B/score"]
    assert [t.verdict for t in cell.others] == [INCONCLUSIVE]
    reason = next(v for v in model.table_verdicts if v.id == "main/B/score").reason
    assert "no tried shift shown to reproduce it (2.0: inconclusive" in reason
    assert "not reproduced" not in reason
    assert cell.found() == "none shown: no tried value settles it"


def test_the_tried_values_split_alpha_between_them(toy: Path, store_path: Path,
                                                   monkeypatch):
    sweep(toy, "[4.0, 1.0, 2.0]")  # with the suite's own 0.0: k = 4 values compete
    result = run(toy, store_path)
    levels = []
    original = Judge._value_verdict

    def spy(self, *args, **kwargs):
        levels.append(self.alpha)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Judge, "_value_verdict", spy)
    build(result, "cmd")
    alpha = result.plan.suite.claims.source.alpha
    swept = levels[-3:]  # the last calls: B's score at the three tried values
    assert swept == pytest.approx([alpha / 4] * 3)


def test_a_value_that_reproduces_one_number_names_those_its_runs_contradict(
        toy: Path, store_path: Path):
    sweep(toy, "[4.0]")  # reproduces B's score of 9.0, and moves its val_score to 9.4
    edit(toy / "claims.toml", '  { key = "lr",',
         '  { key = "val", label = "Val", metric = "val_score", margin = 1.5, '
         'margin_reason = "as the score" },\n'
         '  { key = "lr",')
    edit(toy / "claims.toml", 'reported = { score = "9.0 ± 0.5" }',
         'reported = { score = "9.0 ± 0.5", val = "5.0 ± 0.5" }')
    model = build(run(toy, store_path), "cmd")
    cells = {c.vid: c for c in model.sensitivity}
    assert cells["main/B/score"].reproduced_with == [4.0]
    assert cells["main/B/score"].broken == {4.0: ["Main table, B, Val: 5.0 ± 0.5"]}
    reason = next(v for v in model.table_verdicts if v.id == "main/B/score").reason
    assert "reproduced with shift = 4.0 (the same runs contradict: Main table, B, Val" \
        in reason


def test_a_tier_below_the_write_ups_scale_judges_no_tried_value(toy: Path,
                                                                store_path: Path):
    sweep(toy, "[4.0]")  # would reproduce B's 9.0, as above
    result = run(toy, store_path)
    judge = Judge(result.plan.suite.claims, Results(result.plan, result.records), "claims")
    tables = judge.tables()
    for t in tables:  # as scale.apply leaves it at a tier below the write-up's scale
        for c in t.cells.values():
            if c.verdict is not None and c.verdict.id == "main/B/score":
                c.verdict.verdict = NOT_COMPARABLE
    (cell,) = [c for c in analyse(judge, tables, result.plan.suite.spec.sensitivity,
                                  result.sensitivity) if c.vid == "main/B/score"]
    assert [t.verdict for t in cell.others] == [NOT_COMPARABLE]
    assert cell.reproduced_with == [] and cell.found() == "not comparable at this tier"


def test_a_number_the_choice_never_touches_is_named_not_judged_again(toy: Path,
                                                                   store_path: Path,
                                                                   tmp_path: Path):
    sweep(toy, "[4.0]")  # shift moves the score; the size is 50 for arm b whatever it is
    edit(toy / "claims.toml", '  { key = "lr",',
         '  { key = "size", label = "Size", metric = "size" },\n  { key = "lr",')
    edit(toy / "claims.toml", 'reported = { score = "9.0 ± 0.5" }',
         'reported = { score = "9.0 ± 0.5", size = "50" }')
    model = build(run(toy, store_path), "cmd")
    cells = {c.vid: c for c in model.sensitivity}
    assert cells["main/B/score"].moved and not cells["main/B/size"].moved
    reasons = {v.id: v.reason for v in model.table_verdicts}
    assert "open choice" in reasons["main/B/score"]
    assert "open choice" not in reasons["main/B/size"]
    md = write_suite_report(model, tmp_path / "out")["md"].read_text()
    section = md.split("## Where the open choices land")[1].split("\n## ")[0]
    assert "Not moved by shift (the same numbers at every tried value): Main table, B, Size" \
        in section
    assert "| Main table, B, Size" not in section and "| Main table, B, Score" in section


@pytest.mark.parametrize("old,new,key", [
    ('choice = "offset"', 'choice = "ofset"', "sensitivity[0].choice"),
    ('param = "shift"', 'param = "arm"', "sensitivity[0].param"),
    ("values = [1.0]", 'values = ["x"]', "sensitivity[0].values[0]"),
    ('where = { arm = "b" }', 'where = { arm = "z" }', "sensitivity[0].where.arm"),
])
def test_a_bad_sweep_names_its_key(toy: Path, old, new, key):
    sweep(toy, "[1.0]")
    edit(toy / "suite.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    assert f": {key}: " in str(err.value), str(err.value)


def test_a_reference_carries_its_sweeps_and_a_report_from_it_shows_them(toy: Path,
                                                                       store_path: Path,
                                                                       tmp_path: Path):
    from harness.refs import reference

    sweep(toy, "[4.0]")
    ref = reference.make(run(toy, store_path), "cmd")
    assert sum(r["stage"] == "sens" for r in ref["records"]) == 3
    assert ref["provenance"]["cells"] == 9 + 9  # main cells and tuning trials only
    assert ref["sensitivity_provenance"]["cells"] == 3
    fresh = tmp_path / "fresh.sqlite"
    with Store(fresh) as store:
        reference.fill(store, ref, load_suite(str(toy)))
    model = build(run(toy, fresh, train=False), "cmd")
    (cell,) = [c for c in model.sensitivity if c.vid == "main/B/score"]
    assert cell.reproduced_with == [4.0]
