"""Reference results (issue 15): a tier's run shipped as ``expected/<tier>.json`` with
every record and where it came from, and reports rendered from it without training."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

import harness.report.render
from harness.cli import main
from harness.refs import reference
from harness.run.store import CellRecord, Store
from tests.conftest import restate
from tests.test_suite_validation import edit

HEADING = re.compile(r"Reference run of (\d{4}-\d\d-\d\d) at commit ([0-9a-f]{12}(\+dirty)?|"
                     r"unknown) on (.+): 18 cells in (\d+ s|\d+ min \d\d s) of wall time\.")


def write_reference(toy: Path, store: Path, capsys) -> dict:
    """`regress --update` of the toy's smoke tier into ``store``; the file it wrote."""
    assert main(["regress", "--update", "--suite", str(toy), "--tier", "smoke",
                 "--store", str(store), "--no-progress"]) == 0
    path = toy / "expected" / "smoke.json"
    assert f"toy: wrote {path} (18 records, " in capsys.readouterr().out
    return json.loads(path.read_text(encoding="utf-8"))


def report(toy: Path, store: Path, out: Path, capsys, monkeypatch) -> tuple[object, str]:
    """`report --tier smoke`: the model it rendered and what it printed."""
    models = []
    render = harness.report.render.write_suite_report

    def keep(model, out_dir):
        models.append(model)
        return render(model, out_dir)

    monkeypatch.setattr(harness.report.render, "write_suite_report", keep)
    assert main(["report", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--out", str(out)]) == 0
    [model] = models
    return model, capsys.readouterr().out


def judged(model) -> dict:
    """What a report concludes: every verdict with its reason, the tables, the counts."""
    verdicts = [(v.id, v.verdict, v.reason) for v in [*model.claims, *model.table_verdicts]]
    return {"verdicts": verdicts, "tables": [t.rows for t in model.tables],
            "counts": model.total_counts, "seed_stats": model.seed_stats,
            "tuning": model.tuning, "missing": model.missing}


def test_regress_update_writes_records_and_provenance(toy: Path, tmp_path: Path, capsys,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.sqlite"
    ref = write_reference(toy, store, capsys)
    with sqlite3.connect(store) as db:
        stored = dict(db.execute("SELECT id, stage FROM cells").fetchall())
    records = ref["records"]
    assert {r["id"]: r["stage"] for r in records} == stored  # every main cell and trial
    assert sorted(r["stage"] for r in records) == ["main"] * 9 + ["tune"] * 9
    for r in records:
        assert r["status"] == "done" and r["fingerprint"]["device"] == "cpu"
        assert "score" in r["metrics"] and "layers" in r["metrics"]
        assert "tiles" not in r["metrics"]  # an image metric: a picture, not shipped
    p = ref["provenance"]
    assert p["cells"] == 18 and p["git_commits"] and all(p["git_commits"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", p["date"])
    assert "torch" in p["machine"] and "thread(s) per cell" in p["machine"]
    assert p["wall_s"] >= 0
    assert p["cell_s"] == pytest.approx(sum(r["wall_s"] for r in records), abs=0.051)
    # still regress's snapshot: the same tier re-read compares clean against it
    assert {"cells", "configs", "code", "environment"} <= set(ref)
    assert main(["regress", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress"]) == 0
    assert "toy: 9 cells," in capsys.readouterr().out


def test_report_without_a_store_renders_the_reference_without_training(
        toy: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.sqlite"
    ref = write_reference(toy, store, capsys)
    from_store, _ = report(toy, store, tmp_path / "from-store", capsys, monkeypatch)

    missing = tmp_path / "nowhere" / "store.sqlite"
    from_ref, printed = report(toy, missing, tmp_path / "from-ref", capsys, monkeypatch)
    assert not missing.parent.exists() and not (tmp_path / ".sparsebench").exists()
    assert "cells and trials trained" not in printed  # read, not run
    assert judged(from_ref) == judged(from_store)
    assert judged(from_ref)["missing"] == 0 and judged(from_ref)["counts"]["supported"] > 0

    line = HEADING.fullmatch(from_ref.reference)
    assert line, from_ref.reference
    p = ref["provenance"]
    assert line.group(1) == p["date"] and line.group(4) == p["machine"]
    verify = f"sparsebench verify --suite {toy} --tier smoke --sample 3"
    assert from_ref.verify == verify
    md = (tmp_path / "from-ref" / "toy-smoke.md").read_text(encoding="utf-8")
    assert f"**{from_ref.reference}** Verify a sample with `{verify}`." in md
    html = (tmp_path / "from-ref" / "toy-smoke.html").read_text(encoding="utf-8")
    assert '<p class="reference"><strong>Reference run of ' in html and verify in html


def test_a_store_that_holds_the_tier_wins_over_the_reference(toy: Path, tmp_path: Path,
                                                             capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.sqlite"
    write_reference(toy, store, capsys)
    path = toy / "expected" / "smoke.json"
    ref = json.loads(path.read_text(encoding="utf-8"))
    for r in ref["records"]:  # the reference now says something the store does not
        r["metrics"]["score"] += 100
    path.write_text(json.dumps(restate(ref, "records")), encoding="utf-8")

    model, _ = report(toy, store, tmp_path / "store-out", capsys, monkeypatch)
    md = (tmp_path / "store-out" / "toy-smoke.md").read_text(encoding="utf-8")
    assert model.reference == "" and "Reference run of" not in md
    assert "| 10.40 ± 0.30" in md and "110.40" not in md  # the store's numbers
    # the same report from no store reads the (edited) reference: the check above can fail
    model, _ = report(toy, tmp_path / "none.sqlite", tmp_path / "ref-out", capsys,
                      monkeypatch)
    md = (tmp_path / "ref-out" / "toy-smoke.md").read_text(encoding="utf-8")
    assert model.reference and "| 110.40 ± 0.30" in md


def test_a_reference_made_by_other_code_is_not_used_and_stdout_says_why(
        toy: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = write_reference(toy, tmp_path / "store.sqlite", capsys)
    (toy / "task.py").write_text((toy / "task.py").read_text() + "\n# changed\n")
    empty = tmp_path / "empty.sqlite"
    Store(empty).close()  # a store without the tier
    model, printed = report(toy, empty, tmp_path / "out", capsys, monkeypatch)
    old = ref["code"]["digest"]
    assert (f"toy: the committed reference of tier smoke is not used: the suite's code "
            f"changed since the reference was made (code digest {old} -> ") in printed
    md = (tmp_path / "out" / "toy-smoke.md").read_text(encoding="utf-8")
    assert model.reference == "" and "Reference run of" not in md
    assert "9 missing of 9 main cells" in md


def test_reproduce_renders_the_default_and_the_reference_tier(toy: Path, tmp_path: Path,
                                                              capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\nreference = "smoke"')
    # quick's cells differ from smoke's (otherwise its seeds 0-2 are smoke's cells, and the
    # store then holds the smoke tier after the quick run)
    edit(toy / "suite.toml", "[tiers.quick]\n", "[tiers.quick]\nparams = { spread = 0.6 }\n")
    out, both = tmp_path / "out", tmp_path / "both"
    argv = ["reproduce", "--suite", str(toy), "--store", str(tmp_path / "run.sqlite"),
            "--no-progress"]
    # no committed reference yet: only the default tier, and the command that writes it
    assert main([*argv, "--out", str(out)]) == 0
    assert (f"toy: no committed reference of tier smoke yet (write it with: sparsebench "
            f"regress --update --suite {toy} --tier smoke)") in capsys.readouterr().out
    assert (out / "toy-quick.md").is_file() and not (out / "toy-smoke.md").exists()

    write_reference(toy, tmp_path / "reference.sqlite", capsys)
    assert main([*argv, "--out", str(both)]) == 0
    quick = (both / "toy-quick.md").read_text(encoding="utf-8")
    smoke = (both / "toy-smoke.md").read_text(encoding="utf-8")
    assert "tier `quick`" in quick and "Reference run of" not in quick
    assert "tier `smoke`" in smoke and HEADING.search(smoke)
    assert "0 failed, 0 missing of 9 main cells" in smoke
    index = (both / "index.html").read_text(encoding="utf-8")
    for stem in ("toy-quick", "toy-smoke"):
        assert f'href="{stem}.html"' in index and f'href="{stem}.md"' in index


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (0.4, "0 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (76, "1 min 16 s"),
    (3599.4, "59 min 59 s"), (3600, "1 h 00 min"), (8340, "2 h 19 min"),
    (13800, "3 h 50 min")])
def test_duration(seconds: float, text: str):
    assert reference.duration(seconds) == text


def test_heading_names_each_commit_short_and_dirty():
    ref = {"provenance": {"git_commits": ["0123456789abcdef0123+dirty", "fedcba9876543210aa"],
                          "date": "2025-01-02", "machine": "a CPU", "wall_s": 4560,
                          "cells": 7}}
    assert reference.heading(ref) == (
        "Reference run of 2025-01-02 at commit 0123456789ab+dirty, fedcba987654 on a CPU: "
        "7 cells in 1 h 16 min of wall time.")


def _record(finished_at: str, wall_s: float | None, commit: str = "c1") -> CellRecord:
    return CellRecord(id=finished_at, suite="toy", stage="main", params={}, status="done",
                      error=None, wall_s=wall_s, finished_at=finished_at,
                      fingerprint={"device": "cpu", "torch": "2.0", "threads": 1,
                                   "platform": "Linux-x86_64", "git_commit": commit},
                      metrics={})


def test_provenance_wall_time_counts_the_time_cells_ran_not_the_pauses():
    records = [
        _record("2025-03-01T10:00:10+00:00", 10),  # 10:00:00 - 10:00:10
        _record("2025-03-01T10:05:00+00:00", 30, "c2"),  # 10:04:30 - 10:05:00, the last end
        _record("2025-03-01T10:01:00", 100),  # 09:59:20 - 10:01:00, the first start (naive)
        _record("2025-03-01T10:02:00+00:00", None),  # no wall time recorded: an instant
    ]
    p = reference.provenance(records)
    # 09:59:20 - 10:02:00 (the 60 s gap to the instant is the run's overhead), then
    # 10:04:30 - 10:05:00 after a 150 s pause: two sittings
    assert p["wall_s"] == 160 + 30 and p["sittings"] == 2 and p["span_s"] == 340.0
    assert p["cell_s"] == 140.0 and p["cells"] == 4
    assert p["git_commits"] == ["c1", "c2"] and p["date"] == "2025-03-01"
    assert "torch 2.0" in p["machine"] and "1 thread(s) per cell" in p["machine"]
    # a run resumed the next day adds its cell's minute, not the night
    later = reference.provenance([*records, _record("2025-03-02T10:00:00+00:00", 60)])
    assert later["wall_s"] == 190 + 60 and later["sittings"] == 3
    assert later["span_s"] == 24 * 3600 + 40 and later["date"] == "2025-03-02"
    ref = {"provenance": later}
    assert reference.heading(ref).endswith(
        "5 cells in 4 min 10 s of wall time in 3 sittings, resumed from the store "
        "(24 h 00 min from the first start to the last end).")
    # one sitting says nothing more; an older reference (no count) reads as before
    one = reference.provenance(records[:1])
    assert reference.heading({"provenance": one}).endswith("1 cells in 10 s of wall time.")
    del later["sittings"]
    assert reference.heading(ref).endswith("5 cells in 4 min 10 s of wall time.")
