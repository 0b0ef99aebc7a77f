"""Part of a tier (--where, --seeds), export to CSV/Parquet, and the report's
"Reproduce with" command: every option that changes numbers, parsed back by the CLI."""

from __future__ import annotations

import re
import shlex
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.cli import main, parser
from harness.errors import SparsebenchError
from harness.report.reproduce_line import stored_device_threads
from harness.run.execute import pinned_threads
from harness.run.runner import Runner
from harness.run.store import CellRecord, Store
from harness.spec.plan import resolve
from harness.spec.selection import narrow, stored_filter
from harness.spec.suite import load_suite
from tests.conftest import require
from tests.test_suite_validation import edit

SWEEP = '\n[[grid]]\nname = "sweep"\nfactors = { spread = [0.1, 0.2], arm = ["a"] }\n'


@pytest.fixture(autouse=True)
def keep_threads():
    """The CLI sets torch's thread count (--threads); give the next test the old one."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def stored_cells(store: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT id, stage, params FROM cells").fetchall()


def reproduce_line(md: str) -> list[str]:
    found = re.search(r"^Reproduce with: `([^`]*)`$", md, re.M)
    assert found, md[:500]
    return shlex.split(found.group(1))


# ------------------------------------------------------------------ item 12: the plan


def test_where_and_seeds_cut_the_plan(toy: Path):
    with open(toy / "suite.toml", "a") as f:
        f.write(SWEEP)
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # 'arm = a' is ambiguous
    whole = resolve(load_suite(str(toy)), "smoke")
    assert whole.cell_count() == (15, 9) and whole.subset == ""

    part = narrow(whole, ["arm=a"], "0,1")
    assert part.configs() == [{"arm": "a"}, {"grid": "sweep", "spread": 0.1, "arm": "a"},
                              {"grid": "sweep", "spread": 0.2, "arm": "a"}]
    assert part.seeds == [0, 1] and part.cell_count() == (6, 3)
    assert part.tuning_groups() == [{"arm": "a"}]
    assert part.subset == "arm=a; seeds 0, 1 (the tier has 0, 1, 2)"

    # the same key twice is OR; different keys AND; values in the factor's own type
    assert [c["arm"] for c in narrow(whole, ["arm=a", "arm=c"], None).configs()
            if "grid" not in c] == ["a", "c"]
    both = narrow(whole, ["spread=0.10", "arm=a"], None)
    assert both.configs() == [{"grid": "sweep", "spread": 0.1, "arm": "a"}]
    assert both.tuning_groups() == []  # no main cell kept: no tuning needed
    assert narrow(whole, ["grid=sweep"], None).cell_count() == (6, 0)
    assert narrow(whole, [], "5").subset == "seeds 5 (the tier has 0, 1, 2)"


def test_where_on_a_factor_tuning_is_not_per_keeps_every_trial_it_needs(toy: Path):
    """Tuning is per arm; cutting by another factor keeps every group's trials, and
    they are the whole tier's trials (same ids), so nothing is tuned twice."""
    edit(toy / "suite.toml", 'arm = ["a", "b", "c"]', 'arm = ["a", "b", "c"]\nwidth = [1, 2]')
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # 'arm = a' is ambiguous
    whole = resolve(load_suite(str(toy)), "smoke")
    part = narrow(whole, ["width=2"], None)
    assert part.tuning_groups() == whole.tuning_groups() == [{"arm": a} for a in "abc"]
    for group in whole.tuning_groups():
        assert part.trial_cell(part.tuning_config(group), 0.1).id == \
            whole.trial_cell(whole.tuning_config(group), 0.1).id
    assert {c["width"] for c in part.configs()} == {2} and part.cell_count() == (9, 9)
    assert narrow(whole, ["arm=b", "width=1"], None).cell_count() == (3, 3)


@pytest.mark.parametrize("args,message", [
    (["--where", "colour=red"], "--where colour=red: suite toy has no factor 'colour'; "
                                "valid keys: arm"),
    (["--where", "arm=z"], "--where arm=z: not a value of arm at tier smoke of suite toy; "
                           "its values: a, b, c"),
    (["--where", "arm"], "--where arm: expected KEY=VALUE"),
    (["--seeds", "0,-1"], "--seeds 0,-1: expected a comma list of non-negative integers"),
    (["--seeds", "1,x"], "--seeds 1,x: expected a comma list of non-negative integers"),
])
@pytest.mark.parametrize("command", ["run", "report", "reproduce", "export"])
def test_bad_where_or_seeds_is_one_line_exit_2_before_anything_runs(
        toy: Path, tmp_path: Path, capsys, command, args, message):
    store = tmp_path / "store.sqlite"
    assert main([command, "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"sparsebench: error: {message}"), err
    assert not store.exists()


# ------------------------------------------------------------------ item 12: run and report


def test_run_part_of_a_tier_and_the_report_says_so(toy: Path, tmp_path: Path, capsys):
    store, out = tmp_path / "store.sqlite", tmp_path / "out"
    part = ["--suite", str(toy), "--tier", "smoke", "--store", str(store), "--where", "arm=a",
            "--seeds", "0,1"]
    assert main(["reproduce", *part, "--out", str(out), "--no-progress"]) == 0
    note = "This report shows part of tier smoke: arm=a; seeds 0, 1 (the tier has 0, 1, 2)."
    terminal = capsys.readouterr().out
    assert note in terminal
    # the claim "A and C are equivalent" lost arm c to the cut, and its reason says so
    assert ("a-equals-c: The configuration c is not in this report (not part of this tier, "
            "or left out by --where).") in terminal
    md, html = (out / "toy-smoke.md").read_text(), (out / "toy-smoke.html").read_text()
    assert note in md and note in html
    # counts are the subset's: 2 main cells, the 3 trials of arm a, nothing missing
    assert "2 done, 0 failed, 0 missing of 2 main cells; 3 of 3 tuning trials" in md
    assert "have no result" not in md
    cells = stored_cells(store)
    assert sorted(stage for _, stage, _ in cells) == ["main"] * 2 + ["tune"] * 3
    assert all('"arm": "a"' in params for _, _, params in cells)

    # the whole tier from the same store: no subset note, 7 of 9 main cells missing
    assert main(["report", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--out", str(tmp_path / "whole")]) == 0
    whole = (tmp_path / "whole" / "toy-smoke.md").read_text()
    assert "This report shows part" not in whole and "7 missing of 9 main cells" in whole
    # running the whole tier reuses arm a's trials and cells: 18 cells in all, not 21
    assert main(["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress"]) == 0
    assert len(stored_cells(store)) == 9 + 9


# ------------------------------------------------------------------ item 15: Reproduce with


def test_reproduce_with_names_every_option_that_changes_numbers(toy: Path, tmp_path: Path,
                                                                monkeypatch):
    monkeypatch.delenv("SPARSEBENCH_DATA", raising=False)
    store, data = tmp_path / "my store.sqlite", tmp_path / "data dir"
    data.mkdir()
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu",
                 "--threads", "2", "--batch", "3", "--data-dir", str(data),
                 "--where", "arm=a", "--where", "arm=b", "--seeds", "0,2"]) == 0
    argv = reproduce_line((tmp_path / "out" / "toy-smoke.md").read_text())
    assert argv[:2] == ["sparsebench", "reproduce"]
    args = parser().parse_args(argv[1:])
    assert (args.suite, args.tier) == ([str(toy)], "smoke")
    assert (args.device, args.threads, args.batch) == ("cpu", 2, 3)
    assert args.data_dir == data  # quoted: the path has a space
    assert (args.where, args.seeds) == (["arm=a", "arm=b"], "0,2")

    # `report` trains nothing: device and threads come from the stored cells' fingerprints
    assert main(["report", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--out", str(tmp_path / "again"), "--where", "arm=a", "--where", "arm=b",
                 "--seeds", "0,2"]) == 0
    again = (tmp_path / "again" / "toy-smoke.md").read_text()
    args = parser().parse_args(reproduce_line(again)[1:])
    assert (args.device, args.threads, args.where, args.seeds) == \
        ("cpu", 2, ["arm=a", "arm=b"], "0,2")


def test_reproduce_with_states_a_suites_pinned_thread_count(toy: Path, tmp_path: Path):
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\nthreads = 1')
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"), "--no-progress",
                 "--device", "cpu", "--threads", "2"]) == 0
    args = parser().parse_args(reproduce_line((tmp_path / "out" / "toy-smoke.md").read_text())[1:])
    assert (args.device, args.threads, args.batch) == ("cpu", 1, 16)  # the cells ran on 1
    assert args.where is None and args.seeds is None


def test_pinned_threads_is_the_suites_count_on_a_cpu_only(toy: Path):
    """One rule for the threads a cell runs with (execute) and the one "Reproduce with"
    states (command)."""
    assert pinned_threads(load_suite(str(toy)), torch.device("cpu")) is None
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\nthreads = 1')
    pinned = load_suite(str(toy))
    assert pinned_threads(pinned, torch.device("cpu")) == 1
    assert pinned_threads(pinned, torch.device("cuda")) is None


def test_stored_filter_matches_stored_params_and_checks_keys_at_every_tier(toy: Path):
    """forget without --tier: stored cells of any tier, tested as `run` matches values."""
    suite = load_suite(str(toy))
    wanted = stored_filter(suite, ["arm=a", "arm=c"])
    assert [wanted({"arm": arm, "seed": 0}) for arm in "abc"] == [True, False, True]
    assert not wanted({"seed": 0})  # a stale cell without the factor
    assert stored_filter(suite, None)({})  # no --where: every cell
    with pytest.raises(SparsebenchError, match=r"^--where colour=red: suite toy has no "
                                               r"factor 'colour'; valid keys: arm$"):
        stored_filter(suite, ["colour=red"])


def test_stored_device_and_threads_only_where_the_cells_agree():
    def record(device: str, threads: int) -> CellRecord:
        return CellRecord("x", "toy", "main", {}, "done", None, 0.0, "t",
                          {"device": device, "threads": threads}, {})

    assert stored_device_threads([record("NVIDIA H200", 4)] * 2) == ("cuda", 4)
    assert stored_device_threads([record("cpu", 1), record("cpu", 2)]) == ("cpu", None)
    assert stored_device_threads([]) == (None, None)


# ------------------------------------------------------------------ item 13: export


@pytest.fixture
def failing_store(toy: Path, tmp_path: Path) -> Path:
    """The toy's smoke tier with arm c diverging: its 3 trials fail, so it has no main
    cells; arms a and b have 3 trials and 3 main cells each."""
    edit(toy / "suite.toml", 'fail_arm = ""', 'fail_arm = "c"')
    store = tmp_path / "store.sqlite"
    with Store(store) as opened:
        Runner(opened, torch.device("cpu"), None, progress=False).run(
            resolve(load_suite(str(toy)), "smoke"))
    return store


def test_export_csv_one_row_per_cell_and_metric(toy: Path, tmp_path: Path,
                                                failing_store: Path):
    path = tmp_path / "toy.csv"
    assert main(["export", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(failing_store), "--out", str(path)]) == 0
    table = pd.read_csv(path)
    for column in ["cell_id", "suite", "tier", "stage", "arm", "seed", "lr", "spread",
                   "status", "error", "metric", "index", "value", "env_torch", "env_device",
                   "env_threads", "env_git_commit"]:
        assert column in table.columns, column
    assert set(table["tier"]) == {"smoke"} and set(table["suite"]) == {"toy"}
    assert table["cell_id"].nunique() == 6 + 9  # every main cell and tuning trial
    main_rows = table[table["stage"] == "main"]
    # score, val_score, size, wall: one row each; layers 2, curve 3, tiles 12
    assert main_rows.groupby("cell_id").size().tolist() == [21] * 6
    with Store(failing_store) as store:
        for record in store.records(main_rows["cell_id"].unique()):
            rows = main_rows[main_rows["cell_id"] == record.id].set_index(["metric", "index"])
            assert rows.loc[("score", -1), "value"] == record.metrics["score"]
            assert rows.loc[("layers", 1), "value"] == record.metrics["layers"][1]
            assert rows.loc[("score", -1), "lr"] == record.params["lr"]
    failed = table[table["status"] == "failed"]
    assert len(failed) == 3 and set(failed["stage"]) == {"tune"} and set(failed["arm"]) == {"c"}
    assert failed["metric"].isna().all() and failed["value"].isna().all()
    assert (failed["index"] == -1).all()
    assert failed["error"].str.startswith("diverged: non-finite loss").all()
    assert set(table["env_device"]) == {"cpu"}


def test_export_parquet_where_seeds_and_default_path(toy: Path, tmp_path: Path,
                                                     failing_store: Path, monkeypatch):
    require("pyarrow")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(failing_store), "--format", "parquet", "--where", "arm=b",
                 "--seeds", "1"]) == 0
    table = pd.read_parquet(tmp_path / "reports" / "out" / "toy-smoke.parquet")
    assert set(table["arm"]) == {"b"}
    main_rows = table[table["stage"] == "main"]
    assert set(main_rows["seed"]) == {1} and main_rows["cell_id"].nunique() == 1
    assert (table["stage"] == "tune").any()  # arm b's trials, which its cells need


def test_export_refuses_a_missing_store_and_a_missing_pyarrow(toy: Path, tmp_path: Path,
                                                              capsys, monkeypatch):
    store = tmp_path / "none.sqlite"
    assert main(["export", "--suite", str(toy), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such store" in err and not store.exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    assert main(["export", "--suite", str(toy), "--store", str(store), "--format",
                 "parquet", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install pyarrow" in err
