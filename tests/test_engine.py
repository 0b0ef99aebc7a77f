"""The engine on the toy suite: plan, store, runner, tuning, verdicts, regress, render."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import SparsebenchError, StoreError
from harness.judge.engine import CONTRADICTED, NOT_TESTABLE, SUPPORTED
from harness.refs import regress
from harness.report.model import build
from harness.report.render import write_suite_report
from harness.run.runner import Runner, store_lock
from harness.run.store import CellRecord, Store
from harness.spec.plan import resolve
from harness.spec.suite import load_suite
from harness.stats import core as stats

CPU = __import__("torch").device("cpu")


def run_toy(folder: Path, store_path: Path, tier: str = "smoke", execute: bool = True):
    suite = load_suite(str(folder))
    with Store(store_path) as store:
        runner = Runner(store, CPU, None, execute=execute, progress=False)
        return runner.run(resolve(suite, tier)), runner


# ------------------------------------------------------------------ plan


def test_tiers_override_and_cells_have_stable_ids(toy: Path):
    suite = load_suite(str(toy))
    smoke, full = resolve(suite, "smoke"), resolve(suite, "full")
    assert smoke.seeds == [0, 1, 2] and full.seeds == list(range(8))
    assert smoke.tuning.trials == 3 and full.tuning.trials == 4
    assert smoke.cell_count() == (9, 9) and full.cell_count() == (24, 12)
    tuned = {'{"arm": "a"}': {"lr": 0.3}, '{"arm": "b"}': {"lr": 0.3},
             '{"arm": "c"}': {"lr": 0.3}}
    ids = [c.id for c in smoke.main_cells(tuned)]
    assert len(set(ids)) == 9
    assert ids == [c.id for c in resolve(load_suite(str(toy)), "smoke").main_cells(tuned)]
    # a changed parameter makes new cells; the tier name alone does not
    (toy / "suite.toml").write_text((toy / "suite.toml").read_text().replace(
        "spread = 0.5", "spread = 0.6"))
    changed = resolve(load_suite(str(toy)), "smoke").main_cells(tuned)
    assert not set(ids) & {c.id for c in changed}
    quick_ids = [c.id for c in resolve(suite, "quick").main_cells(tuned)]
    assert set(ids) <= set(quick_ids)  # seeds 0-2 of quick are the smoke cells


def test_extra_grid_runs_beside_the_main_grid(toy: Path, store_path: Path):
    with open(toy / "suite.toml", "a") as f:
        f.write('\n[[grid]]\nname = "sweep"\nfactors = { spread = [0.1, 0.2], arm = ["a"] }\n'
                'params = { lr = 0.5 }\n')
    # {arm = "a"} now names three configurations (a load error, tested below)
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")
    suite = load_suite(str(toy))
    plan = resolve(suite, "smoke")
    assert plan.cell_count() == (15, 9)
    assert plan.factor_names == ["arm", "spread", "grid"]
    result, _ = run_toy(toy, store_path)
    sweep = [r for r in result.records if r.params.get("grid") == "sweep"]
    assert len(sweep) == 6 and {r.params["lr"] for r in sweep} == {0.5}
    assert all("grid" not in r.params for r in result.records if r not in sweep)
    from harness.judge.aggregate import Results
    results = Results(plan, result.records)
    assert results.select({"grid": "sweep", "spread": 0.1}, "score", None, "x").n == 3
    with pytest.raises(SparsebenchError, match="matches 3 configurations.*also give"):
        results.select({"arm": "a"}, "score", None, "claims.toml")


def test_a_where_that_names_several_configurations_fails_at_load(toy: Path):
    """Before any training: a grid that also runs arm a makes claims.toml's {arm = "a"}
    name three configurations, and every table row and claim arm that reads it says so,
    with the factors that tell them apart."""
    with open(toy / "suite.toml", "a") as f:
        f.write('\n[[grid]]\nname = "sweep"\nfactors = { spread = [0.1, 0.2], arm = ["a"] }\n')
    with pytest.raises(SparsebenchError) as err:
        load_suite(str(toy))
    text = str(err.value)
    assert "table[0].row[0].where: {'arm': 'a'} matches 3 configurations at tier" in text
    assert "also give ['grid', 'spread']" in text and 'not_run = "why"' in text
    assert "(id \"a-beats-b\").a: {'arm': 'a'} matches 3" in text


def test_tier_factors_narrow_every_grid_and_never_add(toy: Path):
    with open(toy / "suite.toml", "a") as f:
        f.write('\n[[grid]]\nname = "sweep"\nfactors = { spread = [0.1, 0.2], arm = ["a"] }\n'
                '\n[[grid]]\nname = "other"\nfactors = { arm = ["b"] }\n'
                '\n[tiers.narrow]\nfactors = { arm = ["a", "c"], spread = [0.2] }\n')
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # 'arm = a' is ambiguous
    plan = resolve(load_suite(str(toy)), "narrow")
    assert plan.factors == {"arm": ["a", "c"]}  # the main grid keeps its own order
    assert [(g.name, g.factors) for g in plan.grids] == \
        [("sweep", {"spread": [0.2], "arm": ["a"]})]  # "other" (arm b only) is left out
    text = (toy / "suite.toml").read_text()
    (toy / "suite.toml").write_text(text.replace('arm = ["a", "c"], spread', 'arm = ["d"], spread'))
    with pytest.raises(SparsebenchError, match=r"tiers\.narrow\.factors\.arm\[0\]: 'd' is not"):
        load_suite(str(toy))


# ------------------------------------------------------------------ store


def test_store_round_trip_and_one_row_per_cell(store_path: Path):
    record = CellRecord("abc", "toy", "main", {"arm": "a", "seed": 0}, "done", None, 0.5,
                        "2026-01-01T00:00:00+00:00", {"torch": "x"},
                        {"score": 1.5, "layers": [0.1, 0.2], "curve": [3.0]})
    with Store(store_path) as store:
        store.put(record)
        store.put(record)  # a retry replaces, never duplicates
        got = store.get("abc")
        assert got.metrics == record.metrics and got.params == record.params
        assert store.db.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 1
        frame = store.metrics_frame(["abc"])
        assert sorted(frame["name"]) == ["curve", "layers", "layers", "score"]


def test_corrupted_store_is_a_clear_error(store_path: Path):
    store_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable sparsebench store.*recover"):
        Store(store_path)


def test_second_writer_is_refused(store_path: Path):
    with store_lock(store_path), pytest.raises(SparsebenchError, match="in use by pid"), \
            store_lock(store_path):
        pass


# ------------------------------------------------------------------ runner


def test_run_resume_and_failures(toy: Path, store_path: Path):
    (toy / "suite.toml").write_text((toy / "suite.toml").read_text().replace(
        'fail_arm = ""', 'fail_arm = "c"'))
    result, runner = run_toy(toy, store_path)
    # arm c fails in every trial, so it gets no tuned value and no main cells
    assert result.executed == 9 + 6
    done = [r for r in result.records if r.status == "done"]
    assert len(done) == 6 and {r.params["arm"] for r in done} == {"a", "b"}
    failed = [t for tr in result.tuning for t in tr.trials if t.status == "failed"]
    assert len(failed) == 3 and all("diverged: non-finite loss" in t.error for t in failed)
    assert result.records[0].fingerprint["threads"] >= 1
    again, _ = run_toy(toy, store_path)
    assert again.executed == 0 and len(again.records) == 6


def test_all_records_are_trials_then_main_cells_and_the_report_lists_main_failures_first(
        toy: Path, store_path: Path):
    (toy / "suite.toml").write_text((toy / "suite.toml").read_text().replace(
        'fail_arm = ""', 'fail_arm = "c"'))
    result, _ = run_toy(toy, store_path)
    trials = [t for tr in result.tuning for t in tr.trials]
    assert result.all_records == trials + result.records and len(trials) == 9
    assert result.failed == [r for r in trials if r.status == "failed"]  # arm c's 3 trials
    # one failed main cell: the report lists failed main cells before the trials
    result.records[0] = replace(result.records[0], status="failed", error="x", metrics={})
    stages = [f["stage"] for f in build(result, "cmd").failed]
    assert stages == ["main", "tune", "tune", "tune"]
    assert [r.stage for r in result.failed] == ["tune", "tune", "tune", "main"]


def test_a_group_whose_trials_all_fail_is_reported_not_fatal(toy: Path, store_path: Path):
    (toy / "suite.toml").write_text((toy / "suite.toml").read_text().replace(
        'fail_arm = ""', 'fail_arm = "a"'))
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    tuning = {t["group"]: t for t in model.tuning}
    assert tuning["arm=a"]["best"] == "n/a" and tuning["arm=a"]["trials"] == "0 done, 3 failed"
    assert len(model.failed) == 3 and "6 done, 0 failed, 3 missing of 9" in \
        model.provenance["cells"]
    assert {c.id: c.verdict for c in model.claims}["a-beats-b"] == "not run"  # arm a: no cells


def test_tuning_is_seeded_and_flows_into_the_grid(toy: Path, tmp_path: Path):
    first, _ = run_toy(toy, tmp_path / "one.sqlite")
    second, _ = run_toy(toy, tmp_path / "two.sqlite")
    best = [t.best_value for t in first.tuning]
    assert best == [t.best_value for t in second.tuning]
    for t in first.tuning:
        trial_lrs = [r.params["lr"] for r in t.trials]
        assert t.best_value in trial_lrs
        cells = [r for r in first.records if r.params["arm"] == t.group["arm"]]
        assert {r.params["lr"] for r in cells} == {t.best_value}


def test_tuning_groups_train_side_by_side_and_each_study_runs_as_if_alone(
        toy: Path, tmp_path: Path, monkeypatch):
    """All groups' trials of a round reach the executor together, and each group's
    study, told between rounds of 4 past TPE's 10 random start-up trials, suggests
    exactly what it suggests when its group is tuned on its own."""
    import harness.run.runner as runner_module

    suite_toml = toy / "suite.toml"
    text = suite_toml.read_text().replace("tuning = { trials = 3 }", "tuning = { trials = 16 }")
    suite_toml.write_text(text.replace('objective = "val_score"',
                                       'objective = "val_score"\nparallel = 4'))
    calls: list[set[str]] = []
    real_map = runner_module.LocalExecutor.map

    def recording_map(self, jobs, progress):
        calls.append({c.params["arm"] for job in jobs for c in job.cells})
        return real_map(self, jobs, progress)

    monkeypatch.setattr(runner_module.LocalExecutor, "map", recording_map)
    together, _ = run_toy(toy, tmp_path / "together.sqlite")
    assert calls[:4] == [{"a", "b", "c"}] * 4  # four tuning rounds, every arm in each
    suite_toml.write_text(suite_toml.read_text().replace('arm = ["a", "b", "c"]',
                                                         'arm = ["b"]'))
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # its claims name a, c
    alone, _ = run_toy(toy, tmp_path / "alone.sqlite")
    lrs = [r.params["lr"] for r in alone.tuning[0].trials]
    assert len(lrs) == 16 and len(set(lrs)) == 16
    assert [r.params["lr"] for r in together.tuning[1].trials] == lrs
    assert together.tuning[1].best_value == alone.tuning[0].best_value


def test_progress_advances_as_each_cell_finishes(toy: Path, store_path: Path, monkeypatch):
    import harness.run.runner as runner_module

    seen: list[tuple[int, str]] = []
    original = runner_module.Progress.finished

    def spy(self, note: str = "") -> None:
        seen.append((runner.executed, note))
        original(self, note)

    monkeypatch.setattr(runner_module.Progress, "finished", spy)
    suite = load_suite(str(toy))
    with Store(store_path) as store:
        runner = Runner(store, CPU, None, progress=True, batch_size=1)
        runner.run(resolve(suite, "smoke"))
        # 9 trials then 9 cells, each counted the moment it was stored, not at the end
        assert [n for n, _ in seen] == list(range(1, 19))
        assert seen[0][1].startswith("arm=a lr=") and seen[-1][1] == "arm=c seed=2 ok"
        seen.clear()
        runner.run(resolve(suite, "smoke"))  # read back: every cell counted, none run
        assert [n for n, _ in seen] == [0] * 18


def test_report_mode_trains_nothing(toy: Path, store_path: Path):
    result, runner = run_toy(toy, store_path, execute=False)
    assert runner.executed == 0 and result.records == []
    assert all(t.missing == 3 for t in result.tuning)


# ------------------------------------------------------------------ verdicts


@pytest.fixture
def toy_report(toy: Path, store_path: Path):
    suite_toml = toy / "suite.toml"  # the toy's size is the same for every seed by design
    suite_toml.write_text(suite_toml.read_text().replace("size = {}",
                                                         "size = { deterministic = true }"))
    result, _ = run_toy(toy, store_path, tier="quick")
    return build(result, "sparsebench reproduce --suite toy --tier quick")


def test_verdicts_on_known_effects(toy_report):
    v = {c.id: c for c in toy_report.claims}
    assert v["a-beats-b"].verdict == SUPPORTED  # true means 10 vs 5, SD 0.5
    assert v["a-beats-b"].writeup_ok is True  # 10 ± 0.5 vs 9 ± 0.5, n=4: p = 0.015
    assert "p = " in v["a-beats-b"].reason
    assert "Holm over the 5 tests of the claims" in v["a-beats-b"].reason
    assert v["b-beats-a"].verdict == CONTRADICTED
    assert v["a-equals-c"].verdict == SUPPORTED  # same true mean, margin 2
    assert v["a-no-worse-than-c"].verdict == SUPPORTED  # same true mean, margin 2
    assert v["size-deterministic"].verdict == SUPPORTED
    assert "same in every seed" in v["size-deterministic"].reason
    assert v["threshold"].verdict == SUPPORTED
    assert v["internal-sum"].verdict == SUPPORTED and "10 - 9" not in v["internal-sum"].reason
    assert v["untestable"].verdict == NOT_TESTABLE
    assert toy_report.counts[SUPPORTED] == 6
    # the score column's chance (0, higher is better): both arms and both reported numbers
    chance = [c.chance for c in toy_report.tables[0].result.cells.values() if c.chance]
    assert [c.verdict for c in chance] == [SUPPORTED, SUPPORTED]
    assert all(c.writeup_ok is True and "vs chance 0: two-sided p" in c.writeup for c in chance)


def test_holm_families_are_the_claims_and_each_table(toy_report):
    """Issue 25: the claims are one Holm family (5 tests here) and each table another
    (2 value cells + 2 chance cells): a claim no longer shares its level with every table
    cell, and a table's cells are still corrected together."""
    claims = [v for v in toy_report.claims if v.p is not None and v.kind != "size"]
    sizes = [v for v in toy_report.claims if v.p is not None and v.kind == "size"]
    cells = [v for v in toy_report.table_verdicts if v.p is not None]
    assert {v.id for v in claims} == {"a-beats-b", "b-beats-a", "a-equals-c",
                                      "a-no-worse-than-c", "threshold"}
    # the greater claims whose arms the write-up reports are sized, in their own family
    assert {v.id for v in sizes} == {"a-beats-b/size", "b-beats-a/size"}
    assert len(cells) == 4 == len(toy_report.table_verdicts)
    for family, name in [(claims, "the claims"), (cells, "table 'Main table'"),
                         (sizes, "the claimed sizes")]:
        assert [v.p_holm for v in family] == pytest.approx(stats.holm([v.p for v in family]))
        assert all(v.p_holm >= v.p and f"Holm over the {len(family)} tests of {name}"
                   in v.reason for v in family)
    # exact comparisons and the write-up against itself are not tests: outside the family
    for v in toy_report.claims:
        if v.id in ("size-deterministic", "internal-sum", "untestable"):
            assert v.p is None and v.p_holm is None and "Holm" not in v.reason


def test_table_cells_get_value_verdicts(toy_report):
    table = toy_report.tables[0]
    cells = table.result.cells
    assert cells[(0, "score")].verdict.verdict == SUPPORTED  # 10 reported, ~10 reproduced
    assert cells[(1, "score")].verdict.verdict == CONTRADICTED  # 9 reported, ~5 reproduced
    assert cells[(0, "lr")].param_value is not None
    assert table.headers[:5] == ["Arm", "Score (reported)", "Score (reproduced)", "verdict",
                                 "vs chance"]
    assert toy_report.table_counts[SUPPORTED] == 3  # two chance verdicts and row A
    assert toy_report.table_counts[CONTRADICTED] == 1


def test_reports_render_and_escape_hostile_text(toy: Path, store_path: Path, tmp_path: Path):
    hostile = "<script>alert(1)</script> {{ 7*7 }} | break"
    text = (toy / "claims.toml").read_text().replace('quote = "A beats B"',
                                                     f'quote = "{hostile}"')
    (toy / "claims.toml").write_text(text)
    result, _ = run_toy(toy, store_path)
    paths = write_suite_report(build(result, "cmd"), tmp_path / "out")
    html = paths["html"].read_text()
    md = paths["md"].read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in html.split("{{ 7*7 }}")[0][-5:]
    assert "> \\<script>alert(1)\\</script> {{ 7\\*7 }} | break" in md  # Markdown escapes
    assert "tier <code>smoke</code>" in html and "tier `smoke`" in md
    assert "data:image/png;base64," in html
    assert (tmp_path / "out" / "toy-smoke" / "main.png").exists()


def test_image_metrics_are_figures_not_numbers(toy: Path, store_path: Path, tmp_path: Path):
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    [figure] = model.figures
    (label_a, seed_a, tiles_a), (label_b, seed_b, tiles_b) = figure.rows
    assert (label_a, seed_a, label_b, seed_b) == ("A", 0, "B", 0)  # the lowest seed
    assert tiles_a.shape == (2, 2, 3) and tiles_a[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tiles_a[1, 0, 0] == 2 * tiles_b[1, 0, 0]  # arm means 10 and 5, same seed's draw
    assert not any(metric.startswith("tiles") for _, metric, *_ in model.seed_stats)
    snap = regress.snapshot(result, "cmd")
    assert all("tiles" not in c["metrics"] for c in snap["cells"].values())
    paths = write_suite_report(model, tmp_path / "out")
    assert (tmp_path / "out" / "toy-smoke" / "tiles.png").stat().st_size > 1000
    assert "![Toy tiles](toy-smoke/tiles.png)" in paths["md"].read_text()
    assert '<img alt="Toy tiles" src="data:image/png;base64,' in paths["html"].read_text()
    # nothing finished yet: the report says so instead of failing
    empty, _ = run_toy(toy, tmp_path / "empty.sqlite", execute=False)
    model = build(empty, "cmd")
    assert [row[1:] for row in model.figures[0].rows] == [(None, None), (None, None)]
    paths = write_suite_report(model, tmp_path / "empty")
    assert "Not drawn: no configuration" in paths["md"].read_text()
    assert not (tmp_path / "empty" / "toy-smoke" / "tiles.png").exists()


# ------------------------------------------------------------------ regress


def test_regress_exact_and_statistical(toy: Path, store_path: Path):
    result, _ = run_toy(toy, store_path)
    stored = regress.snapshot(result, "cmd")
    assert all("wall" not in c["metrics"] for c in stored["cells"].values())  # a timing
    assert all("score" in c["metrics"] for c in stored["cells"].values())
    same = json.loads(json.dumps(stored))
    how, diffs = regress.compare(stored, same)
    assert how.exact and diffs == []
    moved = json.loads(json.dumps(stored))
    cell = next(iter(moved["cells"]))
    moved["cells"][cell]["metrics"]["score"] += 1e-6
    how, diffs = regress.compare(stored, moved)
    assert how.mode == "exact" and len(diffs) == 1 and diffs[0].what == f"{cell} score"
    table = regress.diff_table(diffs)
    assert "stored" in table and "tolerance" in table and "score" in table
    # another platform: each configuration's seeds compared by distribution
    other = json.loads(json.dumps(stored))
    other["environment"]["threads"] = 99
    config, _ = regress.split_label(cell)
    mine = [label for label in other["cells"] if regress.split_label(label)[0] == config]
    for label in mine:  # far inside the seeds' spread
        other["cells"][label]["metrics"]["score"] += 1e-6
    how, diffs = regress.compare(stored, other)
    assert how.mode == "statistical" and "threads" in how.why and diffs == []
    for label in mine:  # far beyond it
        other["cells"][label]["metrics"]["score"] += 50
    how, diffs = regress.compare(stored, other)
    assert how.mode == "statistical" and diffs
    assert all(d.what.startswith(config) and "score" in d.what for d in diffs), diffs
    # a metric whose seeds tie on both sides (size: SD 0) shows no seed noise: no test
    # across classes (tests/test_drift.py), unless it is declared deterministic
    for label in mine:
        other["cells"][label]["metrics"]["score"] -= 50
        other["cells"][label]["metrics"]["size"] += 0.5
    assert regress.compare(stored, other)[1] == []
    _, diffs = regress.compare(stored, other, {}, {"size"})
    assert sorted(d.what for d in diffs) == sorted(f"{label} size" for label in mine)


def test_store_file_is_plain_sqlite_for_pandas(toy: Path, store_path: Path):
    run_toy(toy, store_path)
    with sqlite3.connect(store_path) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM cells GROUP BY status"))
    assert statuses == {"done": 18}


def test_a_row_the_suite_does_not_run_shows_its_numbers_without_a_lookup(toy: Path,
                                                                          store_path: Path):
    """``not_run`` on a table row: another paper's method quoted for comparison. Its
    where is never looked up, and its reported cells read "not testable" with the
    reason; the rows the suite runs are judged as before."""
    claims = toy / "claims.toml"
    claims.write_text(claims.read_text().replace(
        '[[figure]]', '[[table.row]]\nlabel = "Other paper"\nnot_run = "another paper\'s '
        'method, quoted for comparison"\nreported = { score = "12.0 ± 0.4" }\n\n[[figure]]', 1))
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    table = model.tables[0]
    other = table.result.cells[(2, "score")]
    assert other.reproduced is None and other.reported_text == "12.0 ± 0.4"
    assert other.verdict.verdict == NOT_TESTABLE
    assert other.verdict.reason == ("Not run by this suite: another paper's method, quoted "
                                    "for comparison")
    assert table.result.cells[(0, "score")].verdict.verdict != NOT_TESTABLE
    md = write_suite_report(model, store_path.parent / "out")["md"].read_text()
    assert re.search(r"\| Other paper +\| 12\.0 ± 0\.4 +\| not run +\| .* not testable", md)
    assert "Not run by this suite: another paper's method" in md


def test_a_row_not_run_needs_no_index_of_a_vector_metric(toy: Path):
    """A vector metric's column asks each row it reads for an index; a row the suite does
    not run reads none, so it needs none (a row the suite runs still does)."""
    claims = toy / "claims.toml"
    table = ('\n[[table]]\nid = "layers"\ntitle = "Layers"\nrow_header = "Arm"\n'
             'columns = [{ key = "l", label = "Layer", metric = "layers" }]\n'
             'row = [{ label = "A", where = { arm = "a" }, index = 0 }, '
             '{ label = "Other", not_run = "another paper", reported = { l = "3.0" } }]\n')
    claims.write_text(claims.read_text() + table)
    load_suite(str(toy))  # loads
    claims.write_text(claims.read_text().replace(', index = 0 }', ' }'))
    with pytest.raises(SparsebenchError, match=r"row\[0\] x .*vector; give an index"):
        load_suite(str(toy))


def test_a_vector_column_names_every_row_without_an_index(toy: Path):
    """One problem names every row that lacks the index, and says the column's index
    would cover them all: a newcomer fixes them at once, not one validate at a time."""
    claims = toy / "claims.toml"
    table = ('\n[[table]]\nid = "layers"\ntitle = "Layers"\nrow_header = "Arm"\n'
             'columns = [{ key = "l", label = "Layer", metric = "layers" }]\n'
             'row = [{ label = "A", where = { arm = "a" } }, '
             '{ label = "B", where = { arm = "b" }, index = 1 }, '
             '{ label = "C", where = { arm = "c" } }]\n')
    claims.write_text(claims.read_text() + table)
    with pytest.raises(SparsebenchError) as err:
        load_suite(str(toy))
    lines = [line for line in str(err.value).splitlines() if "give an index" in line]
    assert len(lines) == 1, str(err.value)
    assert "table[1].row[0], row[2] x table[1].columns[0].metric" in lines[0]
    assert "row[1]" not in lines[0]
    assert "or once as the column's index" in lines[0]
    claims.write_text(claims.read_text().replace('metric = "layers" }]',
                                                 'metric = "layers", index = 0 }]'))
    load_suite(str(toy))  # the column's index covers the rows without one
