"""The command line's failure modes and housekeeping: exit codes, messages, forget,
--version, a fast --help, regress that trains afresh."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.cli import CELLS_FAILED, PIPE_CLOSED, main
from tests.test_suite_validation import edit

REPO = Path(__file__).resolve().parents[1]


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("sparsebench: error: "), err
    assert "Traceback" not in err
    return err


def count_cells(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]


# ------------------------------------------------------------------ bad input, rc 2


@pytest.mark.parametrize("device", ["gpu", "cuda:99", "cpu:3", "cuda"])
def test_a_device_this_machine_lacks_is_one_line_exit_2(device: str, toy: Path, tmp_path: Path,
                                                        capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a CPU-only torch
    store = tmp_path / "store.sqlite"
    code = main(["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--device", device, "--no-progress"])
    err = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert f"--device {device}:" in err and "available here: auto, cpu" in err
    assert not store.exists() and not Path(f"{store}.lock").exists()  # checked before both


def test_regress_without_stored_numbers_is_bad_input_before_training(toy: Path, tmp_path: Path,
                                                                    capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.sqlite"
    assert main(["regress", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress"]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert str(toy / "expected" / "smoke.json") in err
    assert f"sparsebench regress --update --suite {toy} --tier smoke" in err
    assert not store.exists()  # nothing trained, no store opened
    assert main(["regress", "--suite", str(toy), "--tier", "smoke", "--no-progress"]) == 2
    assert not (tmp_path / ".sparsebench").exists()  # no fresh store made either


@pytest.mark.parametrize("command", [["report"], ["forget", "--yes"]])
def test_a_missing_store_is_an_error_and_is_not_created(command: list[str], toy: Path,
                                                        tmp_path: Path, capsys):
    store = tmp_path / "nowhere" / "store.sqlite"
    code = main([command[0], "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 *command[1:]])
    err = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert f"{store}: no such store" in err
    assert f"sparsebench run --suite {toy} --tier smoke --store {store}" in err
    assert not store.parent.exists()


# ------------------------------------------------------------------ a closed pipe


def test_a_closed_stdout_pipe_stops_quietly(toy: Path, tmp_path: Path):
    """`sparsebench run ... | head -1` with the reader gone: a real pipe whose read end is
    closed before anything is written, so every write fails (no race with the reader)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", "--suite", str(toy), "--tier", "smoke",
             "--store", str(tmp_path / "store.sqlite"), "--no-progress"],
            cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert proc.returncode == PIPE_CLOSED == 141
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert noise not in proc.stderr, proc.stderr


# ------------------------------------------------------------------ failed cells, rc 3


def test_failed_cells_are_counted_listed_and_exit_3(toy: Path, tmp_path: Path, capsys):
    edit(toy / "suite.toml", 'fail_arm = ""', 'fail_arm = "c"')  # arm c diverges
    store = str(tmp_path / "store.sqlite")
    argv = ["run", "--suite", str(toy), "--tier", "smoke", "--store", store, "--no-progress"]
    assert main(argv) == CELLS_FAILED == 3
    out = capsys.readouterr().out
    # arms a and b: 3 trials + 3 seeds each; arm c: 3 trials fail, so it gets no main cells
    assert f"toy: 12 cells and trials trained, 0 read from {store}, 3 failed," in out
    lines = [line for line in out.splitlines() if line.startswith("  failed: ")]
    assert len(lines) == 3
    assert all(line.startswith("  failed: tune arm=c seed=0 lr=") for line in lines)
    assert all(line.endswith(": diverged: non-finite loss nan at step 1") for line in lines)
    hint = f"sparsebench run --suite {toy} --tier smoke --store {store} --no-progress " \
           "--retry-failed"
    assert hint in out

    # failed cells read back from the store still count, and still exit 3
    assert main(argv) == CELLS_FAILED
    out = capsys.readouterr().out
    assert "0 cells and trials trained, 12 read from" in out
    assert "3 failed (3 of them read back)" in out and hint in out

    # the hint works: with the cause fixed, --retry-failed trains them and the run is clean
    edit(toy / "suite.toml", 'fail_arm = "c"', 'fail_arm = ""')
    assert main([*argv, "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert ", 0 failed," in out and "--retry-failed" not in out


def test_regress_with_failed_cells_exits_3(toy: Path, tmp_path: Path, capsys):
    edit(toy / "suite.toml", 'fail_arm = ""', 'fail_arm = "c"')
    code = main(["regress", "--suite", str(toy), "--tier", "smoke", "--update",
                 "--store", str(tmp_path / "s.sqlite"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == CELLS_FAILED and "3 failed" in out and "--retry-failed" in out


# ------------------------------------------------------------------ regress trains afresh


def test_regress_trains_afresh_and_a_stale_store_does_not_fool_it(toy: Path, tmp_path: Path,
                                                                   capsys, monkeypatch):
    """A store and expected numbers written by an older state agree with each other, but
    not with what the code gives now: regress must train and see the difference."""
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / "stale.sqlite"
    base = ["--suite", str(toy), "--tier", "smoke", "--no-progress"]
    assert main(["run", *base, "--store", str(stale)]) == 0
    with sqlite3.connect(stale) as db:  # numbers the current code does not give
        db.execute("UPDATE metrics SET value = value + 1 WHERE name = 'score'")
    assert main(["regress", *base, "--store", str(stale), "--update"]) == 0
    capsys.readouterr()

    monkeypatch.setenv("SPARSEBENCH_STORE", str(stale))  # not a re-read either
    assert main(["regress", *base]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("regress: training afresh in ") and "deleted afterwards" in first
    fresh = Path(first.split(" in ", 1)[1].split(" (", 1)[0])
    assert "18 cells and trials trained, 0 read from" in out
    assert "toy: 9 numbers moved" in out and "arm=a seed=0 score" in out
    assert not fresh.exists() and list((tmp_path / ".sparsebench").iterdir()) == []

    # --store on the command line reuses a store on purpose
    assert main(["regress", *base, "--store", str(stale)]) == 0
    out = capsys.readouterr().out
    assert "0 cells and trials trained, 18 read from" in out and "metrics match" in out


# ------------------------------------------------------------------ forget


def test_forget_counts_then_removes_only_what_was_asked(toy: Path, tmp_path: Path, capsys):
    store = tmp_path / "store.sqlite"
    assert main(["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress"]) == 0
    with sqlite3.connect(store) as db:  # a stale cell of older code, and another suite's
        for cell_id, suite in [("stale0000000000", "toy"), ("other0000000000", "other")]:
            db.execute("INSERT INTO cells VALUES (?, ?, 'main', ?, 'done', NULL, 1.0, "
                       "'2024-01-01', '{}')", (cell_id, suite, json.dumps({"arm": "a"})))
    capsys.readouterr()
    forget = ["forget", "--suite", str(toy), "--store", str(store)]

    assert main([*forget, "--tier", "smoke"]) == 0
    out = capsys.readouterr().out
    assert out == (f"would remove 18 cells (9 main, 9 tuning trials) of toy tier smoke from "
                   f"{store}; add --yes to remove them\n")
    assert count_cells(store) == 20  # nothing removed without --yes

    assert main([*forget, "--where", "arm=b", "--yes"]) == 0
    assert capsys.readouterr().out == \
        f"removed 6 cells (3 main, 3 tuning trials) from {store}\n"
    assert main([*forget, "--tier", "smoke", "--yes"]) == 0
    assert "removed 12 cells (6 main, 6 tuning trials)" in capsys.readouterr().out
    with sqlite3.connect(store) as db:
        left = sorted(db.execute("SELECT id FROM cells").fetchall())
        metric_rows = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    assert left == [("other0000000000",), ("stale0000000000",)] and metric_rows == 0

    assert main(forget) == 0  # without --tier: every cell of the suite, stale ones too
    assert "would remove 1 cells (1 main, 0 tuning trials) of toy (every tier)" in \
        capsys.readouterr().out
    assert main([*forget, "--yes"]) == 0
    assert count_cells(store) == 1  # the other suite's cell stays


def test_forget_tier_and_where_takes_every_trial_of_the_kept_groups(toy: Path, tmp_path: Path,
                                                                   capsys):
    """Tuning is per arm: --where arm=a keeps arm a's 3 main cells and its group's 3
    trials; the help says that the trials go with the groups the kept cells need."""
    store = tmp_path / "store.sqlite"
    assert main(["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["forget", "--suite", str(toy), "--store", str(store), "--tier", "smoke",
                 "--where", "arm=a"]) == 0
    assert "would remove 6 cells (3 main, 3 tuning trials)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["forget", "--help"])
    assert "every tuning trial of the groups the kept cells need" in \
        " ".join(capsys.readouterr().out.split())


def test_forget_seeds_takes_only_those_seeds_of_the_tier(toy: Path, tmp_path: Path, capsys):
    """--seeds cuts the tier's plan like run's: the other seeds' cells stay and a run
    trains only the forgotten ones again."""
    store = tmp_path / "store.sqlite"
    run = ["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store), "--no-progress"]
    assert main(run) == 0
    capsys.readouterr()
    before = count_cells(store)
    assert main(["forget", "--suite", str(toy), "--store", str(store), "--tier", "smoke",
                 "--where", "arm=a", "--seeds", "1", "--yes"]) == 0
    assert "removed 4 cells (1 main, 3 tuning trials)" in capsys.readouterr().out
    assert count_cells(store) == before - 4
    assert main(run) == 0
    assert "4 cells and trials trained" in capsys.readouterr().out
    assert main(["forget", "--suite", str(toy), "--store", str(store), "--seeds", "1"]) == 2
    assert "--seeds needs --tier" in one_error_line(capsys.readouterr().err)


def test_forget_needs_a_suite_and_known_where_keys(toy: Path, tmp_path: Path, capsys):
    store = tmp_path / "store.sqlite"
    assert main(["forget", "--store", str(store)]) == 2
    assert "--suite" in one_error_line(capsys.readouterr().err)
    assert main(["forget", "--suite", str(toy), "--where", "colour=red",
                 "--store", str(store)]) == 2
    assert "--where colour=red" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ --version, --help, list


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"sparsebench {version('sparsebench')}\n"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["--version"]])
def test_help_imports_no_heavy_module(argv: list[str]):
    heavy = ["torch", "pandas", "optuna", "matplotlib", "numpy", "scipy"]
    code = ("import sys\nfrom harness.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as stop:\n    assert stop.code == 0\n"
            f"print([m for m in {heavy!r} if m in sys.modules], file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "[]"
    assert "usage: sparsebench" in proc.stdout or proc.stdout.startswith("sparsebench ")


def test_list_still_works(toy: Path, capsys):
    assert main(["list", "--suite", str(toy)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:4] == ["suite", "tier", "cells", "tuning"]
    words = [" ".join(r.split()) for r in rows[2:]]
    assert len(words) == 3
    for row, start in zip(words, ["toy smoke 9 9", "toy quick (default) 12 12", "toy full 24 12"],
                          strict=True):
        assert row.startswith(start), row


def test_a_device_for_remote_workers_is_checked_by_name_only_and_by_the_worker(toy: Path):
    from harness.determinism import resolve_device
    from harness.errors import SparsebenchError
    from harness.run.executors import Job, run_job
    from harness.spec.plan import resolve
    from harness.spec.suite import load_suite

    assert resolve_device("cuda", here=False) == torch.device("cuda")
    with pytest.raises(SparsebenchError, match="not a device name"):
        resolve_device("gpu", here=False)
    if torch.cuda.is_available():
        return
    suite = load_suite(str(toy))
    cell = resolve(suite, "smoke").trial_cell({"arm": "a"}, 0.3)
    [record] = run_job(Job(str(toy), suite.code.digest, (cell,), "cuda", None))
    assert record.status == "failed" and "on this worker: --device cuda" in record.error
