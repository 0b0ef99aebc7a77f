"""sparsebench merge: stores from several machines into one, refused whole on a conflict."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.merge import timing_metrics
from harness.run.store import CellRecord, Store

SUITE = "sparling"  # a shipped suite with timing metrics: a merge leaves those out
TIMING = sorted(timing_metrics(SUITE))[0]


def record(n: int, status: str = "done", score: float = 1.0, stage: str = "main",
           machine: str = "a", speed: float = 1.0) -> CellRecord:
    """A cell as a run on ``machine`` would store it: where, when and how fast it ran
    (and its timing metric) differ between machines, what it found does not."""
    done = status == "done"
    return CellRecord(
        f"cell{n:02d}", SUITE, stage, {"seed": n, "method": "sparling", "lr": 0.1}, status,
        None if done else "RuntimeError: diverged", 10.0 * speed, f"2025-01-0{n % 9 + 1}",
        {"git_commit": machine, "device": "cpu"},
        {"test_acc": score, "curve": [1.0, math.nan], TIMING: 5.0 * speed} if done else {})


def make(path: Path, *records: CellRecord, meta: dict[str, str] | None = None) -> Path:
    with Store(path) as store:
        for r in records:
            store.put(r)
        for key, value in (meta or {}).items():
            store.set_meta(key, value)
    return path


def snapshot(path: Path) -> tuple[list, list, list]:
    """Every row of the store's three tables: what "nothing was written" compares."""
    with sqlite3.connect(path) as db:
        return tuple(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                     for t in ("cells", "metrics", "meta"))


def stored(path: Path) -> dict[str, CellRecord]:
    with Store(path, readonly=True) as store:
        return {r.id: r for r in store.records([row[0] for row in store.cell_index()])}


def same(a: CellRecord, b: CellRecord) -> bool:
    """Every field equal, NaN included (JSON writes it as NaN, so it compares)."""
    return json.dumps(asdict(a), sort_keys=True) == json.dumps(asdict(b), sort_keys=True)


def test_disjoint_stores_merge_into_a_new_one(tmp_path: Path, capsys):
    a = make(tmp_path / "a.sqlite", record(1), record(2, stage="tune"),
             meta={"settle:sparling:cpu": '{"looks": 3}'})
    b = make(tmp_path / "b.sqlite", record(3, machine="b"), record(4, "failed", machine="b"),
             meta={"recipe:sparling:cpu": '{"trials": []}'})
    into = tmp_path / "merged" / "all.sqlite"
    assert main(["merge", "--into", str(into), str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "wrote 4 cells and 2 meta entries" in out
    rows = {tuple(line.split()[:5]) for line in out.splitlines()}
    assert ("sparling", "main", "3", "0", "0") in rows
    assert ("sparling", "tune", "1", "0", "0") in rows
    merged = stored(into)
    assert set(merged) == {"cell01", "cell02", "cell03", "cell04"}
    for source in (a, b):
        for cell_id, r in stored(source).items():
            assert same(merged[cell_id], r)
    with Store(into, readonly=True) as store:
        assert store.get_meta("settle:sparling:cpu") == '{"looks": 3}'
        assert store.get_meta("recipe:sparling:cpu") == '{"trials": []}'


def test_identical_cells_are_skipped_whatever_machine_ran_them(tmp_path: Path, capsys):
    """The same cell from another machine: other wall time, finish time, fingerprint and
    timing metric, the same findings: skipped, the store's copy kept."""
    into = make(tmp_path / "into.sqlite", record(1), meta={"settle:sparling:cpu": '{"a": 1}'})
    src = make(tmp_path / "src.sqlite", record(1, machine="b", speed=3.0), record(2),
               meta={"settle:sparling:cpu": '{ "a": 1 }'})  # the same JSON, spaced
    before = stored(into)["cell01"]
    assert main(["merge", "--into", str(into), str(src)]) == 0
    out = capsys.readouterr().out
    assert ("sparling", "main", "1", "0", "1") in {tuple(x.split()[:5]) for x in out.splitlines()}
    assert "wrote 1 cell and 0 meta entries" in out
    assert same(stored(into)["cell01"], before) and "cell02" in stored(into)


def test_a_conflict_refuses_the_whole_merge_and_writes_nothing(tmp_path: Path, capsys):
    into = make(tmp_path / "into.sqlite", record(1), record(2))
    src = make(tmp_path / "src.sqlite", record(1, score=0.5), record(2, "failed"), record(3))
    before = snapshot(into)
    assert main(["merge", "--into", str(into), str(src)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err
    assert err[0].startswith("sparsebench: error: merge: conflict: cell01 (sparling main "
                             "seed=1 method=sparling): metric test_acc 1 vs 0.5 ")
    assert "cell02" in err[1] and "status done vs failed" in err[1]
    assert str(into) in err[0] and str(src) in err[0]
    assert err[2].startswith("sparsebench: error: merge refused: 2 conflicts") \
        and "nothing was written" in err[2] and "--prefer finished" in err[2]
    assert snapshot(into) == before  # cell03 was not added either
    fresh = tmp_path / "new.sqlite"
    assert main(["merge", "--into", str(fresh), str(into), str(src)]) == 2  # source vs source
    assert not fresh.exists() and not Path(f"{fresh}.lock").exists()


def test_prefer_finished_takes_the_finished_copy_only(tmp_path: Path, capsys):
    into = make(tmp_path / "into.sqlite", record(1, "failed"), record(2))
    src = make(tmp_path / "src.sqlite", record(1, machine="b"), record(2, "failed"),
               record(3, "failed"))
    later = make(tmp_path / "later.sqlite", record(3, machine="c"))
    assert main(["merge", "--into", str(into), "--prefer", "finished", str(src),
                 str(later)]) == 0
    out = capsys.readouterr().out
    # cell01 replaced; cell02's failed copy and src's failed cell03 left out; cell03 added
    assert ("sparling", "main", "1", "1", "0", "2") in {tuple(x.split()[:6])
                                                        for x in out.splitlines()}
    merged = stored(into)
    assert same(merged["cell01"], record(1, machine="b"))
    assert merged["cell02"].status == "done"
    assert same(merged["cell03"], record(3, machine="c"))
    other = make(tmp_path / "other.sqlite", record(2, score=9.0))
    before = snapshot(into)
    assert main(["merge", "--into", str(into), "--prefer", "finished", str(other)]) == 2
    err = capsys.readouterr().err
    assert "cell02" in err and "metric test_acc 1 vs 9" in err and "--prefer" not in \
        err.splitlines()[-1]
    assert snapshot(into) == before


def test_a_meta_conflict_refuses_the_merge(tmp_path: Path, capsys):
    into = make(tmp_path / "into.sqlite", record(1),
                meta={"settle:sparling:cpu": '{"looks": 3, "budget_s": 60}'})
    src = make(tmp_path / "src.sqlite", record(2),
               meta={"settle:sparling:cpu": '{"looks": 4, "budget_s": 60}'})
    before = snapshot(into)
    assert main(["merge", "--into", str(into), "--prefer", "finished", str(src)]) == 2
    err = capsys.readouterr().err
    assert "conflict: meta settle:sparling:cpu: differs in looks" in err
    assert snapshot(into) == before


def test_dry_run_reports_and_writes_nothing(tmp_path: Path, capsys):
    into = make(tmp_path / "into.sqlite", record(1))
    src = make(tmp_path / "src.sqlite", record(2), meta={"recipe:sparling:cpu": "{}"})
    before = snapshot(into)
    assert main(["merge", "--into", str(into), "--dry-run", str(src)]) == 0
    out = capsys.readouterr().out
    assert "would write 1 cell and 1 meta entry; nothing written" in out
    assert snapshot(into) == before
    fresh = tmp_path / "fresh.sqlite"
    assert main(["merge", "--into", str(fresh), "--dry-run", str(src)]) == 0
    assert not fresh.exists()


@pytest.mark.parametrize("which", ["into", "twice", "missing"])
def test_bad_sources_are_one_line(tmp_path: Path, capsys, which: str):
    a = make(tmp_path / "a.sqlite", record(1))
    argv = {"into": [str(a), str(a)], "twice": [str(tmp_path / "n.sqlite"), str(a), str(a)],
            "missing": [str(tmp_path / "n.sqlite"), str(tmp_path / "nope.sqlite")]}[which]
    assert main(["merge", "--into", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sparsebench: error: "), err
