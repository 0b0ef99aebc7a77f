"""`sparsebench new` (issue 28): a new suite folder that loads and runs at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.spec.suite import load_suite


def test_a_new_suite_loads_runs_and_reports(tmp_path: Path, capsys):
    folder = tmp_path / "my_suite"
    assert main(["new", str(folder)]) == 0
    assert f"wrote {folder / 'task.py'}" in capsys.readouterr().out
    suite = load_suite(str(folder))
    assert suite.spec.writeup == "my_suite.txt" and set(suite.spec.tiers) == {"smoke", "quick"}
    assert main(["reproduce", "--suite", str(folder), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"), "--threads", "1",
                 "--no-progress"]) == 0
    md = (tmp_path / "out" / "my_suite-smoke.md").read_text()
    assert "Main results" in md and "sparse-is-sparser" in md


@pytest.mark.parametrize("name, words", [("my-suite", "Python identifier"),
                                         ("taken", "not empty")])
def test_new_refuses_a_bad_name_or_a_used_folder(tmp_path: Path, capsys, name: str,
                                                 words: str):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["new", str(tmp_path / name)]) == 2
    assert words in capsys.readouterr().err
