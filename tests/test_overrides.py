"""--set and --config: parameters set for one run, part of each cell's id, named in the
report's Reproduce line; bad keys and values are one-line errors (toy suite: ``spread``
scales every seed's noise)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.cli import main
from harness.spec.overrides import apply
from harness.spec.plan import resolve
from harness.spec.suite import load_suite
from tests.test_cli import one_error_line


def params_in(store: Path) -> list[dict]:
    import json

    with sqlite3.connect(store) as db:
        return [json.loads(p) for (p,) in db.execute("SELECT params FROM cells")]


def test_a_set_value_reaches_every_cell_and_keeps_them_apart(toy: Path, tmp_path: Path,
                                                              capsys):
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    base = ["reproduce", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
            "--out", str(out), "--no-progress"]
    assert main(base) == 0
    plain = len(params_in(store))
    assert main([*base, "--set", "spread=0", "--set", "sleep=0.0"]) == 0
    cells = [p for p in params_in(store) if "arm" in p]
    assert {p["spread"] for p in cells} == {0.5, 0.0}  # both runs kept, apart
    assert len(params_in(store)) > plain
    md = next(out.glob("*.md")).read_text()
    assert "--set spread=0.0" in md and "--set sleep=0.0" in md  # the Reproduce line
    assert "spread set to 0.0 (the tier's: 0.5)" in md


def test_a_config_file_and_the_command_line(toy: Path, tmp_path: Path):
    config = tmp_path / "run.toml"
    config.write_text('set = { spread = 0.25 }\nwhere = { arm = ["a", "b"] }\nseeds = [1]\n')
    store = tmp_path / "s.sqlite"
    argv = ["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
            "--no-progress", "--config", str(config)]
    assert main([*argv, "--set", "spread=0.75"]) == 0  # the command line wins
    cells = [p for p in params_in(store) if "arm" in p and "seed" in p and p.get("spread")]
    main_cells = [p for p in cells if p["seed"] == 1]
    assert {p["arm"] for p in main_cells} == {"a", "b"}
    assert {p["spread"] for p in main_cells} == {0.75}


@pytest.mark.parametrize("item, message", [
    ("arm=a", "arm is a factor of suite toy; choose its values with --where"),
    ("lr=0.1", "lr is tuned at tier smoke"),
    ("sprad=1", "suite toy has no parameter 'sprad'"),
    ("spread=wide", "spread is a number"),
    ("spread", "expected KEY=VALUE"),
])
def test_a_bad_set_is_one_line_before_anything_trains(toy: Path, tmp_path: Path, capsys,
                                                       item: str, message: str):
    store = tmp_path / "s.sqlite"
    code = main(["run", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress", "--set", item])
    assert code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not store.exists() or not params_in(store)


def test_a_bad_config_names_the_file_and_field(toy: Path, tmp_path: Path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('sets = { spread = 0.25 }\n')
    code = main(["run", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--no-progress", "--config", str(config)])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(config) in line and "sets" in line


def test_an_integer_for_a_float_and_a_boolean_typed():
    from harness.spec.overrides import typed

    assert typed("x", "5", 0.5) == 5.0 and isinstance(typed("x", "5", 0.5), float)
    assert typed("x", "TRUE", False) is True
    assert typed("x", "3", 2) == 3


def test_apply_leaves_the_tier_plan_alone(toy: Path):
    plan = resolve(load_suite(str(toy)), "smoke")
    changed = apply(plan, {"spread": "0.0"})
    assert plan.params["spread"] == 0.5 and changed.params["spread"] == 0.0
    assert changed.whole is plan and "spread set to 0.0" in changed.subset
