"""`sparsebench recipe` (issue 27): a search over the choices a write-up leaves unstated
finds a recipe that reproduces its numbers when one exists in the space, says so when
none does, and re-runs the closest with every seed for the verdict engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.recipe import search as recipe
from harness.refs.reference import duration
from harness.run.store import Store
from harness.spec.schemas import RecipeChoice
from tests.test_reference import report, write_reference
from tests.test_suite_validation import edit

SPACE = """
[recipe]
fit = ["main"]
trials = 16
best = 2

[recipe.space.shift]
low = -3.0
high = 3.0
why = "an offset the toy write-up never states"
"""


def toy_with_recipe(toy: Path, a: str, b: str) -> Path:
    """The toy whose write-up reports A and B as given; ``shift`` (every arm's mean moves
    by it) is the unstated choice the search explores. The tier runs shift 0."""
    edit(toy / "suite.toml", "lr = 0.3", "lr = 0.3\nshift = 0.0")
    with open(toy / "suite.toml", "a") as f:
        f.write(SPACE)
    for old, new in (("10.0 ± 0.5", a), ("9.0 ± 0.5", b)):
        edit(toy / "claims.toml", f'reported = {{ score = "{old}" }}',
             f'reported = {{ score = "{new}" }}')
    return toy


def search(toy: Path, tmp_path: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["recipe", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "recipe.sqlite"), "--no-progress", *extra])
    return code, capsys.readouterr().out


def test_the_search_finds_the_hidden_recipe(toy: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the write-up's numbers came from shift = +2 (A 10 + 2, B 5 + 2); seeds spread by 0.1
    # so that the one seed a trial runs places the recipe to within a few tenths
    toy_with_recipe(toy, "12.0 ± 0.5", "7.0 ± 0.5")
    edit(toy / "suite.toml", "spread = 0.5", "spread = 0.1")
    write_reference(toy, tmp_path / "ref.sqlite", capsys)
    code, out = search(toy, tmp_path, capsys, "--update")
    assert code == 0, out
    assert "Consistent with recipe" in out and "16 recipes tried" in out
    ref = json.loads((toy / "expected" / "smoke.json").read_text())
    best = min(ref["recipe"]["best"], key=lambda t: t["distance"])
    assert best["values"]["shift"] == pytest.approx(2.0, abs=0.4)
    assert best["distance"] <= recipe.MATCH
    assert len(ref["recipe"]["trials"]) == 16
    assert {r["stage"] for r in ref["records"]} >= {"recipe"}
    # the report from the reference shows the section and names the closest recipe's
    # verdict beside each table verdict
    model, _ = report(toy, tmp_path / "none.sqlite", tmp_path / "out", capsys, monkeypatch)
    assert model.recipe is not None and model.recipe.conclusion.startswith("Consistent with")
    assert model.recipe.trials == 16 and len(model.recipe.closest) == 2
    cell = next(v for v in model.table_verdicts if v.id == "main/A/score")
    assert "Closest recipe of the search (shift = " in cell.reason
    md = (tmp_path / "out" / "toy-smoke.md").read_text()
    assert "## Where the write-up's numbers could come from: a recipe search" in md
    assert (tmp_path / "out" / "toy-smoke" / "recipe.png").is_file()


def test_numbers_no_recipe_in_the_space_produces_are_reported_so(toy: Path, tmp_path: Path,
                                                                 capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A and B equal: a shift moves both arms alike and keeps their 5-point gap
    toy_with_recipe(toy, "12.0 ± 0.5", "12.0 ± 0.5")
    write_reference(toy, tmp_path / "ref.sqlite", capsys)
    code, out = search(toy, tmp_path, capsys)
    assert code == 0, out
    assert "No recipe among 16 tried within the space comes within RMS z 2 of main" in out


def test_a_search_resumes_from_its_store_without_training_again(toy: Path, tmp_path: Path,
                                                                capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toy_with_recipe(toy, "12.0 ± 0.5", "7.0 ± 0.5")
    write_reference(toy, tmp_path / "ref.sqlite", capsys)
    assert search(toy, tmp_path, capsys)[0] == 0
    with Store(tmp_path / "recipe.sqlite") as s:
        first = json.loads(s.get_meta("recipe:toy:smoke"))
        cells = len(s.suite_cells("toy"))
    assert search(toy, tmp_path, capsys)[0] == 0  # the same recipes asked, read back
    with Store(tmp_path / "recipe.sqlite") as s:
        again = json.loads(s.get_meta("recipe:toy:smoke"))
        assert len(s.suite_cells("toy")) == cells
    assert [t["values"] for t in again["trials"]] == [t["values"] for t in first["trials"]]
    # what the search cost is its cells' training, not the re-reading invocation's wall time
    model, _ = report(toy, tmp_path / "recipe.sqlite", tmp_path / "out", capsys, monkeypatch)
    with Store(tmp_path / "recipe.sqlite") as s:
        ids = {c for t in [*again["trials"], *again["best"]] for c in t["cells"]}
        trained = sum(r.wall_s for r in s.records(sorted(ids)))
    assert model.recipe.wall.startswith(f"{duration(trained)} of training over {len(ids)} cells")
    assert model.recipe.wall.endswith(f"the last invocation {duration(again['wall_s'])} of "
                                      "wall time")


def test_distance_is_the_rms_of_the_z_scores():
    assert recipe.distance({"a": 3.0, "b": -4.0}) == pytest.approx((12.5) ** 0.5)
    assert recipe.distance({}) == float("inf")


@pytest.mark.parametrize("fields, words", [
    ({"why": "x"}, "either values"),
    ({"low": 1.0, "why": "x"}, "low < high"),
    ({"low": 0.0, "high": 1.0, "log": True, "why": "x"}, "low > 0"),
    ({"values": [1], "low": 0.0, "high": 1.0, "why": "x"}, "either values"),
])
def test_a_choice_is_values_or_a_range(fields: dict, words: str):
    with pytest.raises(ValueError, match=words):
        RecipeChoice(**fields)


def test_a_space_names_parameters_and_tables_that_exist(toy: Path):
    from harness.errors import SpecError
    from harness.spec.suite import load_suite

    toy_with_recipe(toy, "12.0 ± 0.5", "7.0 ± 0.5")
    edit(toy / "suite.toml", "[recipe.space.shift]", "[recipe.space.nosuch]")
    with pytest.raises(SpecError, match="recipe.space.nosuch"):
        load_suite(str(toy))
