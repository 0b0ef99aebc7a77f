"""`sparsebench verify`: re-run a random sample of a committed reference's cells and
compare each number with the stored one (harness/refs/verify.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.refs import verify
from harness.run.store import CellRecord
from tests.conftest import FIXTURES, restate
from tests.test_suite_validation import edit

SMOKE = Path("expected") / "smoke.json"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The toy's smoke reference, written once by `regress --update` (in its own store)."""
    root = tmp_path_factory.mktemp("reference")
    shutil.copytree(FIXTURES / "toy", root / "toy")
    assert main(["regress", "--update", "--suite", str(root / "toy"), "--tier", "smoke",
                 "--store", str(root / "store.sqlite"), "--no-progress"]) == 0
    return root / "toy" / SMOKE


@pytest.fixture
def suite(toy: Path, made: Path, tmp_path: Path, monkeypatch) -> Path:
    """An editable toy with its committed reference; the fresh verify stores go under
    tmp_path."""
    (toy / "expected").mkdir()
    shutil.copy(made, toy / SMOKE)
    monkeypatch.chdir(tmp_path)
    return toy


def load(toy: Path) -> dict:
    return json.loads((toy / SMOKE).read_text())


def save(toy: Path, ref: dict) -> None:
    """The edited reference, its cells and configs restated from its records."""
    (toy / SMOKE).write_text(json.dumps(restate(ref, "records")))


def run(toy: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["verify", "--suite", str(toy), "--tier", "smoke", "--no-progress", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def table_cells(out: str) -> set[str]:
    """The cells named in the printed table's rows."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("cell ")) + 2
    return {" ".join(line.split()[:2]) for line in lines[start:] if line.startswith("arm=")}


def label(record: dict) -> str:
    return f"arm={record['params']['arm']} seed={record['params']['seed']}"


# ------------------------------------------------------------------ choosing the sample


def test_the_same_seed_chooses_the_same_cells_and_another_seed_others(suite: Path, capsys):
    records = load(suite)["records"]
    first = verify.choose(records, 3, seed=0)
    assert [r["id"] for r in first.chosen] == [r["id"] for r in verify.choose(records, 3).chosen]
    assert (first.eligible, first.finished) == (9, 9)
    assert all(r["stage"] == "main" for r in first.chosen) and len(first.chosen) == 3
    other = verify.choose(records, 3, seed=1)
    assert {r["id"] for r in other.chosen} != {r["id"] for r in first.chosen}

    # the command re-runs exactly the cells chosen
    code, out, _ = run(suite, capsys, "--sample", "3")
    assert code == 0 and "3 cells chosen at random (seed 0) from the 9 finished cells" in out
    assert table_cells(out) == {label(r) for r in first.chosen}
    assert table_cells(run(suite, capsys, "--sample", "3", "--seed", "0")[1]) == \
        table_cells(out)
    code, out, _ = run(suite, capsys, "--sample", "3", "--seed", "1")
    assert code == 0 and table_cells(out) == {label(r) for r in other.chosen}


def test_max_cell_seconds_chooses_among_the_cells_that_were_that_fast(suite: Path, capsys):
    ref = load(suite)
    for record in ref["records"]:
        record["wall_s"] = 100.0 if record["params"]["arm"] == "a" else 0.5
    save(suite, ref)
    sample = verify.choose(ref["records"], 9, seed=0, max_seconds=1.0)
    assert (sample.eligible, sample.finished) == (6, 9)
    assert {r["params"]["arm"] for r in sample.chosen} == {"b", "c"}

    code, out, _ = run(suite, capsys, "--sample", "9", "--max-cell-seconds", "1")
    assert code == 0
    assert ("--sample 9 is more than the 6 finished cells that took at most 1 s in the "
            "reference (of 9 finished): verifying all 6") in out
    assert table_cells(out) == {f"arm={a} seed={s}" for a in "bc" for s in range(3)}

    code, _, err = run(suite, capsys, "--sample", "2", "--max-cell-seconds", "0.1")
    assert code == 2 and "--max-cell-seconds 0.1: no finished cell" in err
    assert "the fastest took 0.5 s" in err


# ------------------------------------------------------------------ comparing


def test_an_unchanged_suite_verifies(suite: Path, tmp_path: Path, capsys):
    code, out, err = run(suite, capsys, "--sample", "4")
    assert code == 0, err
    assert "cell" in out and "re-run" in out and "tolerance" in out and "verdict" in out
    assert "moved" not in out
    assert f"toy: 4 cells, 20 metrics (32 numbers): all match (exact) against " \
           f"{suite / SMOKE}" in out
    assert out.splitlines()[1].startswith("verify: training afresh in ")
    assert list((tmp_path / ".sparsebench").iterdir()) == []  # the fresh store is gone


def test_an_edited_stored_number_moves_and_is_named(suite: Path, capsys):
    ref = load(suite)
    chosen = verify.choose(ref["records"], 3, seed=0).chosen[1]
    record = next(r for r in ref["records"] if r["id"] == chosen["id"])
    record["metrics"]["score"] += 0.001
    save(suite, ref)
    code, out, _ = run(suite, capsys, "--sample", "3")
    assert code == 1
    moved = [line for line in out.splitlines() if line.endswith("moved")]
    assert len(moved) == 1
    assert moved[0].startswith(f"{label(record)}  score ")
    assert f"{record['metrics']['score']:.10g}" in moved[0]
    assert out.splitlines()[-1].startswith("toy: 3 cells, 15 metrics (24 numbers): "
                                           "1 numbers moved (exact)")


def test_a_reference_from_another_platform_is_compared_statistically(suite: Path, capsys):
    """Another platform: whole configurations are drawn (every seed) and their seeds
    compared with the reference's by distribution."""
    ref = load(suite)
    for record in ref["records"]:
        record["fingerprint"]["torch"] = "1.0.0"
    chosen = verify.choose(ref["records"], 1, seed=0, configs=["arm"]).chosen
    assert len(chosen) == 3 and len({r["params"]["arm"] for r in chosen}) == 1
    arm = chosen[0]["params"]["arm"]
    record = next(r for r in ref["records"] if r["id"] == chosen[1]["id"])
    record["metrics"]["score"] += 0.001  # beyond exact, well inside the seeds' spread
    save(suite, ref)
    code, out, _ = run(suite, capsys, "--sample", "1")
    assert code == 0, out
    assert "1 whole configuration(s), 3 cells (every seed" in out
    assert "statistical: " in out and "torch" in out
    assert out.splitlines()[-1].startswith("toy: 3 cells, ") and \
        "all match (statistical)" in out.splitlines()[-1]

    # every seed of the configuration far from what the code gives: moved
    for r in ref["records"]:
        if r["stage"] == "main" and r["params"]["arm"] == arm:
            r["metrics"]["score"] += 1000.0
    save(suite, ref)
    code, out, _ = run(suite, capsys, "--sample", "1")
    assert code == 1
    moved = [line for line in out.splitlines() if line.endswith("moved")]
    assert len(moved) == 1 and moved[0].split()[:2] == [f"arm={arm}", "score"], moved
    assert "Holm p" in moved[0] and "numbers moved (statistical)" in out


def test_compare_cell_exactly_and_a_failed_cell():
    """Within a machine class every stored number of a compared metric must come back to
    float round-off; metrics outside ``floors`` (timings) are not compared."""
    stored = {"status": "done", "metrics": {"m": 10.0, "v": [1.0, 2.0], "t": 5.0}}

    def rows(metrics: dict) -> list[verify.Row]:
        new = CellRecord("x", "s", "main", {}, "done", None, 1.0, "", {}, metrics)
        return verify.compare_cell(stored, new, {"m": 0.0, "v": 0.5}, "c")

    got = rows({"m": 10.0 * (1 + 1e-12), "v": [1.0, 2.0], "t": 9.0})
    assert [(r.metric, r.verdict) for r in got] == [("m", "match"), ("v[0]", "match"),
                                                    ("v[1]", "match")]  # "t" not compared
    got = rows({"m": 10.0 + 1e-6, "v": [1.0]})
    assert [(r.metric, r.verdict, r.new) for r in got] == [
        ("m", "moved", "10.000001"), ("v[0]", "match", "1"), ("v[1]", "moved", "missing")]

    failed = CellRecord("x", "s", "main", {}, "failed", "NaN loss at step 3\nmore", 1.0, "",
                        {}, {})
    [row] = verify.compare_cell(stored, failed, {"m": 0.0}, "c")
    assert (row.verdict, row.new) == ("failed", "failed: NaN loss at step 3")
    assert verify.summary([row], 1, ["exact"]) == \
        "1 cells, 0 metrics (0 numbers): 1 cells failed (exact)"


# ------------------------------------------------------------------ bad input, rc 2


def test_a_changed_task_makes_the_reference_stale(suite: Path, capsys):
    edit(suite / "task.py", '"b": 5.0', '"b": 6.0')
    code, out, err = run(suite, capsys, "--sample", "2")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"sparsebench: error: {suite / SMOKE}: code: the suite's code "
                          "changed since the reference was made")
    assert f"sparsebench regress --update --suite {suite} --tier smoke" in err
    assert "training afresh" not in out  # nothing ran


def test_a_record_whose_id_no_longer_matches_is_refused(suite: Path, capsys):
    ref = load(suite)
    for record in ref["records"]:
        record["params"]["spread"] = 0.25  # not what made these ids
    save(suite, ref)
    code, _, err = run(suite, capsys, "--sample", "1")
    assert code == 2 and err.count("\n") == 1
    assert f"{suite / SMOKE}: records: cell " in err and "has id" in err


def test_a_missing_reference_is_bad_input(toy: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(toy, capsys, "--sample", "2")
    assert code == 2 and err.count("\n") == 1
    assert f"{toy / SMOKE}: no reference of tier smoke to verify: the file does not " \
           "exist" in err
    assert f"write it with: sparsebench regress --update --suite {toy} --tier smoke" in err
    assert not (tmp_path / ".sparsebench").exists()  # checked before any store

    (toy / "expected").mkdir()
    (toy / SMOKE).write_text(json.dumps({"cells": {}, "configs": {}}))  # a bare snapshot
    code, _, err = run(toy, capsys, "--sample", "2")
    assert code == 2 and "holds no records" in err


def test_this_class_s_cells_all_above_the_cap_fall_back_to_the_others(suite: Path, capsys):
    """A reference made elsewhere and extended here with slow cells only (a recipe search
    run on this machine): --max-cell-seconds keeps none of this class's, so the
    reference's other cells are compared by distribution rather than refused."""
    ref = load(suite)
    here = [r for r in ref["records"] if r["params"]["arm"] == "a"]
    for record in ref["records"]:
        if record in here:
            record["wall_s"] = 100.0  # this class's: too slow for the cap
        else:
            record["fingerprint"]["torch"] = "1.0.0"  # another machine class
            record["wall_s"] = 0.01
    save(suite, ref)
    code, out, err = run(suite, capsys, "--sample", "1", "--max-cell-seconds", "1")
    assert code == 0, (out, err)
    assert "all match (statistical)" in out.splitlines()[-1]
    assert "arm=a" not in " ".join(table_cells(out))
