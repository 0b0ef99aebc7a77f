"""`sparsebench init` (issue 28): a suite folder whose claims.toml holds the write-up's own
tables, loading and running at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SpecError
from harness.newsuite.init_suite import reading, slug
from harness.newsuite.writeup_tables import demojibake, find_tables, split_row
from harness.spec.coverage import find_writeup
from harness.spec.suite import load_suite
from tests.conftest import REPO

SEEDS = REPO.parent / "shared" / "seeds"

WRITEUP = """# A synthetic write-up

## Main results

**Accuracy on the test split:**

| Model | Accuracy (%) | Params | Note |
|-------|--------------|-------:|------|
| Dense | 81.22 Â± 0.32 | 1,024 | baseline |
| **Sparse** | **83.10 ± 0.41** | 512 | ours |

```
| not | a table |
|-----|---------|
| 1   | 2       |
```

### Sparsity per length

| Length | Model | Sparsity | Loss change |
|---|---|---|---|
| 64 | Sparse | 73.4% | -10.9% (worse) |
| | | | |
| 128 | Sparse | 72.7% | — |
"""


@pytest.fixture
def writeup(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.md"
    path.write_text(WRITEUP, encoding="utf-8")
    return path


def test_init_writes_the_writeups_tables_and_the_folder_runs(tmp_path: Path, writeup: Path,
                                                             capsys):
    folder = tmp_path / "my_suite"
    assert main(["init", str(folder), "--writeup", str(writeup)]) == 0
    out = capsys.readouterr().out
    assert "2 tables found, 2 written" in out and "lines 7-10: main_results" in out
    claims = (folder / "claims.toml").read_text(encoding="utf-8")
    assert "# write-up lines 7-10; left out, no number: Note" in claims
    suite = load_suite(str(folder))
    main_t, lengths = suite.claims.table
    assert (main_t.id, main_t.title, main_t.row_header) == (
        "main_results", "Main results: Accuracy on the test split", "Model")
    assert [(c.key, c.label, c.metric) for c in main_t.columns] == [
        ("accuracy", "Accuracy (%)", "accuracy"), ("params", "Params", "params")]
    assert [(r.label, r.reported) for r in main_t.row] == [
        ("Dense", {"accuracy": "81.22 ± 0.32", "params": "1,024"}),
        ("Sparse", {"accuracy": "83.10 ± 0.41", "params": "512"})]
    assert main_t.columns[1].format == ",.0f"
    # the text columns after the first make the label; the spacer row is gone; a remark
    # after a number is cut (and quoted in a comment); a cell with no number is left out
    assert lengths.row_header == "Length / Model"
    assert [(r.label, r.reported) for r in lengths.row] == [
        ("64 / Sparse", {"sparsity": "73.4%", "loss_change": "-10.9%"}),
        ("128 / Sparse", {"sparsity": "72.7%"})]
    assert "loss_change = '-10.9% (worse)'" in claims
    assert suite.spec.factors["model"] == ["dense", "sparse", "row_64_sparse", "row_128_sparse"]
    assert suite.spec.metrics["sparsity"].unit == "%"
    # the write-up travels with the suite, and coverage finds it there
    assert (folder / "synthetic.md").read_text(encoding="utf-8") == WRITEUP
    assert find_writeup(suite) == folder / "synthetic.md"
    assert main(["reproduce", "--suite", str(folder), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"), "--threads", "1",
                 "--no-progress"]) == 0
    md = (tmp_path / "out" / "my_suite-smoke.md").read_text(encoding="utf-8")
    assert "Main results: Accuracy on the test split" in md and "83.10 ± 0.41" in md


def test_init_refuses_a_missing_writeup_and_a_used_folder(tmp_path: Path, writeup: Path,
                                                          capsys):
    folder = tmp_path / "new_suite"
    assert main(["init", str(folder), "--writeup", str(tmp_path / "nowhere.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere.txt: the write-up does not exist" in err
    assert not folder.exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["init", str(tmp_path / "taken"), "--writeup", str(writeup)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not empty; choose a new folder" in err
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["x"]


def test_a_writeup_without_a_number_table_gets_the_example_suite(tmp_path: Path, capsys):
    path = tmp_path / "prose.txt"
    path.write_text("# Prose\n\n| Method | Why |\n|---|---|\n| L1 | simple |\n")
    folder = tmp_path / "prose_suite"
    assert main(["init", str(folder), "--writeup", str(path)]) == 0
    assert "1 tables found, 0 written" in capsys.readouterr().out
    suite = load_suite(str(folder))
    assert suite.claims.source.file == "prose.txt" and suite.claims.table[0].id == "main"
    assert "left out, no column reads as a number" in (folder / "claims.toml").read_text()


def test_cells_headings_and_rows_are_read_as_printed():
    assert demojibake("6.924 Â± 0.003, â€” and Œª; a real ± and Δ") == \
        "6.924 ± 0.003, — and λ; a real ± and Δ"
    assert split_row("| a | `x|y` | $|z|$ | b \\| c |") == [" a ", " `x|y` ", " $|z|$ ",
                                                              " b | c "]
    assert split_row("| cost | $5 | $10 |") == [" cost ", " $5 ", " $10 "]
    assert reading("81.22 ± 0.73 (SE)") == "81.22 ± 0.73 (SE)"
    assert reading("+0.0% (equivalent)") == "+0.0%"
    assert reading("k=17 (73.4% sparse)") is None and reading("—") is None
    assert slug("ΔCE", "col") == "delta_ce" and slug("64 / Dense", "row") == "row_64_dense"
    assert slug("1.2 Sparse vs. Bottleneck", "table", heading=True) == "sparse_vs_bottleneck"
    assert [t.first_line for t in find_tables(WRITEUP)] == [7, 20]  # none in the code fence


# tables found, tables written to claims.toml: the other tables hold no number column, and
# 004 (a paper summary) has no table at all
SEED_TABLES = {"000": (2, 2), "001": (3, 3), "002": (3, 2), "003": (6, 0), "004": (0, 0)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not here")
@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else [],
                         ids=lambda p: p.name[:3])
def test_init_reads_each_real_writeup(tmp_path: Path, path: Path, capsys):
    folder = tmp_path / f"s_{path.name[:3]}"
    assert main(["init", str(folder), "--writeup", str(path)]) == 0
    out = capsys.readouterr().out
    suite = load_suite(str(folder))
    found, written = SEED_TABLES.get(path.name[:3], (None, None))
    if found is not None:
        assert len(find_tables(path.read_text(encoding="utf-8"))) == found
        assert len(suite.claims.table) == max(written, 1), out  # else new's example
        if written:
            assert f"{found} tables found, {written} written" in out
    for table in suite.claims.table[:written]:
        for row in table.row:  # every reported text is in the write-up's (mended) line
            for text in row.reported.values():
                assert text in demojibake(path.read_text(encoding="utf-8")), (table.id, text)


def test_coverage_names_every_place_it_looked(tmp_path: Path, writeup: Path, capsys):
    folder = tmp_path / "my_suite"
    assert main(["init", str(folder), "--writeup", str(writeup)]) == 0
    (folder / "synthetic.md").unlink()
    with pytest.raises(SpecError) as err:
        find_writeup(load_suite(str(folder)))
    message = str(err.value)
    assert "\n" not in message and f"looked in: {folder / 'synthetic.md'}, " in message
