"""``sparsebench compare``: two result sets of the toy suite side by side (stores, committed
references, one store's machine classes), the test each row gets, and bad input."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.refs import compare
from harness.run.store import Store
from harness.spec.suite import load_suite
from tests.test_cli import one_error_line


def run_toy(toy: Path, store: Path, *extra: str, tier: str = "smoke") -> None:
    assert main(["run", "--suite", str(toy), "--tier", tier, "--store", str(store),
                 "--no-progress", *extra]) == 0


def copy_store(toy: Path, source: Path, target: Path, change=None) -> None:
    """Every cell of ``source`` written to ``target``, each record passed through
    ``change(record) -> record`` first."""
    name = load_suite(str(toy)).name
    with Store(source, readonly=True) as a, Store(target) as b:
        for record in a.records([cid for cid, _, _ in a.suite_cells(name)]):
            b.put(change(record) if change else record)


def rows_of(out: str, metric: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("arm=")
            and line.split()[1] == metric]


@pytest.fixture
def smoke(toy: Path, tmp_path: Path) -> Path:
    """The toy suite's smoke tier (3 configurations x seeds 0-2) in a store."""
    store = tmp_path / "a.sqlite"
    run_toy(toy, store)
    return store


def test_identical_stores_give_identical_rows(toy: Path, smoke: Path, tmp_path: Path, capsys):
    twin = tmp_path / "b.sqlite"
    copy_store(toy, smoke, twin)
    capsys.readouterr()
    assert main(["compare", str(smoke), f"store:{twin}", "--suite", str(toy),
                 "--tier", "smoke"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("arm=")]
    assert len(rows) == 3 * 7  # score, val_score, layers[0], layers[1], size, curve, wall
    for line in rows:
        assert ("timing" if line.split()[1] == "wall" else "identical") in line, line
    assert "Holm over 0 tests" in out


def test_a_shifted_metric_is_changed_by_the_paired_test(toy: Path, smoke: Path,
                                                        tmp_path: Path, capsys):
    shifted = tmp_path / "b.sqlite"
    copy_store(toy, smoke, shifted, shift_score)
    capsys.readouterr()
    assert main(["compare", str(smoke), str(shifted), "--suite", str(toy), "--tier", "smoke",
                 "--metric", "score", "--metric", "val_score"]) == 1  # a number moved
    out = capsys.readouterr().out
    for line in rows_of(out, "score"):
        assert "paired t, 3 seeds" in line and "changed" in line and "+2.01" in line, line
    for line in rows_of(out, "val_score"):
        assert "identical" in line, line
    assert "3 changed, 3 identical; Holm over 3 tests" in out


def test_disjoint_seeds_are_compared_by_welch(toy: Path, smoke: Path, tmp_path: Path, capsys):
    other = tmp_path / "b.sqlite"
    run_toy(toy, other, "--seeds", "5,6,7")
    capsys.readouterr()
    main(["compare", str(smoke), str(other), "--suite", str(toy), "--tier", "smoke",
          "--metric", "score"])
    out = capsys.readouterr().out
    rows = rows_of(out, "score")
    assert len(rows) == 3 and all("Welch" in line for line in rows), out
    assert "seed sets differ" not in out  # no seed on both sides


def test_a_configuration_on_one_side_is_listed(toy: Path, smoke: Path, tmp_path: Path, capsys):
    part = tmp_path / "b.sqlite"
    run_toy(toy, part, "--where", "arm=a")
    capsys.readouterr()
    assert main(["compare", str(part), str(smoke), "--suite", str(toy), "--tier", "smoke",
                 "--metric", "score"]) == 0
    out = capsys.readouterr().out
    assert "only in B: arm=b (3 finished seeds)" in out
    assert "only in B: arm=c (3 finished seeds)" in out
    assert [line.split()[0] for line in rows_of(out, "score")] == ["arm=a"]
    assert "2 configurations on one side only" in out


def shift_score(record):
    bump = 2.0 + 0.01 * record.params["seed"]  # the twins' differences vary a little
    return dataclasses.replace(record, metrics={**record.metrics,
                                                "score": record.metrics["score"] + bump})


def test_where_only_changed_and_out_files(toy: Path, smoke: Path, tmp_path: Path, capsys):
    shifted = tmp_path / "b.sqlite"
    copy_store(toy, smoke, shifted, shift_score)
    for suffix in (".md", ".html"):
        out_file = tmp_path / "out" / f"cmp{suffix}"
        assert main(["compare", str(smoke), str(shifted), "--suite", str(toy), "--tier",
                     "smoke", "--where", "arm=b", "--only-changed", "--out",
                     str(out_file)]) == 1
        text = out_file.read_text()
        assert "arm=b" in text and "paired t, 3 seeds" in text
        assert "7 rows (1 shown: --only-changed): 1 changed, 5 identical, 1 timing; Holm over 1 " \
               "test" in text
        assert "arm=a" not in text and "val_score" not in text  # only the changed row
    printed = capsys.readouterr().out
    assert "(arm=b)" in printed and f"wrote {tmp_path / 'out' / 'cmp.html'}" in printed
    assert "| arm=b" in (tmp_path / "out" / "cmp.md").read_text()
    assert '<span class="v changed">changed</span>' in (tmp_path / "out" / "cmp.html").read_text()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                   check=True, capture_output=True)


def test_committed_references_now_and_at_a_revision(toy: Path, smoke: Path, capsys):
    if shutil.which("git") is None:
        pytest.fail("git is needed to read a reference at a revision")
    assert main(["regress", "--suite", str(toy), "--tier", "smoke", "--update", "--store",
                 str(smoke), "--no-progress"]) == 0
    _git(toy, "init", "-q")
    _git(toy, "add", ".")
    _git(toy, "commit", "-q", "-m", "reference")
    capsys.readouterr()
    assert main(["compare", "ref@HEAD", "ref", "--suite", str(toy), "--tier", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "at HEAD: 9 cells of 3 configurations" in out
    assert "identical" in out and "changed" not in out
    assert main(["compare", "ref@nosuchrev", "ref", "--suite", str(toy), "--tier",
                 "smoke"]) == 2
    assert "ref@nosuchrev: git show" in one_error_line(capsys.readouterr().err)


def test_by_machine_splits_one_store(toy: Path, tmp_path: Path, capsys):
    store, split = tmp_path / "a.sqlite", tmp_path / "split.sqlite"
    run_toy(toy, store, tier="quick")  # seeds 0-3

    def move(record):
        where = "Intel X" if record.params["seed"] < 2 else "AMD Y"
        return dataclasses.replace(record, fingerprint={**record.fingerprint,
                                                        "machine_class": where})

    copy_store(toy, store, split, move)
    capsys.readouterr()
    main(["compare", str(split), "--by", "machine", "--suite", str(toy), "--metric", "score"])
    out = capsys.readouterr().out
    assert "the cells of AMD Y" in out and "the cells of Intel X" in out
    assert all("Welch" in line for line in rows_of(out, "score")), out
    assert main(["compare", str(store), "--by", "machine", "--suite", str(toy)]) == 2
    assert "exactly two machine classes" in one_error_line(capsys.readouterr().err)


def test_a_store_of_other_code_is_read_and_said(toy: Path, smoke: Path, tmp_path: Path,
                                                capsys):
    (toy / "task.py").write_text((toy / "task.py").read_text() + "\n# edited\n")
    capsys.readouterr()
    main(["compare", str(smoke), str(smoke), "--suite", str(toy), "--tier", "smoke",
          "--metric", "score"])
    out = capsys.readouterr().out
    assert "made by other code than the suite's today" in out
    assert len(rows_of(out, "score")) == 3


@pytest.mark.parametrize("case", ["missing store", "unknown suite", "unknown metric",
                                  "one side", "bad out", "no reference"])
def test_bad_input_is_one_line_exit_2(case: str, toy: Path, smoke: Path, tmp_path: Path,
                                      capsys):
    missing = tmp_path / "nowhere.sqlite"
    args, words = {
        "missing store": ([str(smoke), str(missing)], f"{missing}: no such store"),
        "unknown suite": ([str(smoke), str(smoke), "--suite", "no_such_suite"], "no_such"),
        "unknown metric": ([str(smoke), str(smoke), "--metric", "acc"],
                           "--metric acc: suite"),
        "one side": ([str(smoke)], "give two sides"),
        "bad out": ([str(smoke), str(smoke), "--out", str(tmp_path / "x.txt")],
                    "ending in .md or .html"),
        "no reference": (["ref", str(smoke)], "no committed reference of tier smoke"),
    }[case]
    if "--suite" not in args:
        args += ["--suite", str(toy)]
    capsys.readouterr()
    assert main(["compare", *args, "--tier", "smoke"]) == 2
    assert words in one_error_line(capsys.readouterr().err)
    assert not missing.exists()


# ------------------------------------------------------------------ the rows' tests


def row(a: dict, b: dict, kind: compare.Kind = "measurement") -> compare.Row:
    r = compare.compare_samples("c", "m", a, b, kind)
    compare.correct([r])
    return r


def test_indicators_use_exact_tests():
    paired = row({0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0}, {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1},
                 "indicator")
    assert paired.test == "exact McNemar, 6 seeds" and paired.p == pytest.approx(2 * 0.5**6)
    assert paired.marker == compare.CHANGED
    apart = row({0: 1, 1: 1, 2: 0}, {5: 0, 6: 0, 7: 0}, "indicator")
    assert apart.test == "Fisher exact" and apart.marker == compare.SAME
    assert -1 <= apart.low < apart.diff < apart.high <= 1


def test_zero_spread_deterministic_and_choices():
    flat = row({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.5, 1: 2.5, 2: 3.5})
    assert flat.marker == compare.NOT_COMPARABLE and "zero spread" in flat.note
    exact = row({0: 100.0, 1: 100.0}, {0: 120.0, 1: 120.0}, "deterministic")
    assert (exact.marker, exact.test, exact.diff) == (compare.CHANGED, "exact", 20.0)
    pick = row({0: 0.09, 1: 0.27}, {0: 0.27, 1: 0.27}, "choice")
    assert pick.marker == compare.NOT_COMPARABLE and "0.09 in seed 0" in pick.note
    one = row({0: 1.0}, {1: 2.0})
    assert one.marker == compare.NOT_COMPARABLE and one.p is None
    timing = row({0: 1.0, 1: 1.2}, {0: 2.0, 1: 2.1}, "timing")
    assert timing.marker == compare.TIMING and timing.p is None and not math.isnan(timing.low)


def test_holm_runs_over_the_whole_table():
    rows = [compare.compare_samples("c", f"m{i}", {0: 0.0, 1: 1.0, 2: 2.0},
                                    {0: 0.9, 1: 2.1, 2: 2.95}, "measurement") for i in range(3)]
    rows[0].p = 0.01
    rows[1].p, rows[2].p = 0.02, 0.5
    assert compare.correct(rows) == 3
    assert [r.p_holm for r in rows] == pytest.approx([0.03, 0.04, 0.5])
    assert [r.marker for r in rows] == [compare.CHANGED, compare.CHANGED, compare.SAME]


def test_a_difference_within_the_declared_tolerance_is_same_and_untested():
    """A consistent shift smaller than the metric's tolerance (the paired test alone calls
    it changed) is same, and the row leaves the Holm family; beyond it the test decides."""
    a = {s: 90.0 + 0.1 * s for s in range(6)}
    shifted = {s: x + 0.05 + 0.001 * (s % 2) for s, x in a.items()}
    alone = row(a, shifted)
    assert alone.marker == compare.CHANGED and alone.p < 1e-6
    within = compare.compare_samples("c", "m", a, shifted, "measurement", tolerance=0.1)
    assert compare.correct([within]) == 0
    assert within.marker == compare.SAME and within.p is None
    assert "declared tolerance ±0.1" in within.note
    beyond = compare.compare_samples("c", "m", a, shifted, "measurement", tolerance=0.01)
    assert compare.correct([beyond]) == 1 and beyond.marker == compare.CHANGED
    roundoff = row(a, {s: x * (1 + 1e-13) for s, x in a.items()})
    assert roundoff.marker == compare.SAME and "float round-off" in roundoff.note


def test_metric_keys_carry_the_declared_tolerance(toy: Path):
    metrics = load_suite(str(toy)).spec.metrics
    name = next(n for n, m in metrics.items() if m.kind == "scalar" and not m.timing)
    spec = metrics[name].model_copy(update={"tolerance": 0.5})
    [key] = compare.metric_keys({name: spec}, [], {})
    assert key.tolerance == 0.5
