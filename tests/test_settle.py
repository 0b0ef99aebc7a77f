"""`sparsebench settle` (issue 25): seeds added where a verdict is inconclusive and more
seeds could decide it, judged at alpha / K per look, stored so that a run that dies
resumes and a reference carries them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness.settle.run
from harness.cli import main
from harness.run.store import Store
from harness.settle import design as settle
from harness.settle.design import Design, Round
from tests.test_reference import report, write_reference
from tests.test_suite_validation import edit


@pytest.fixture
def noisy_toy(toy: Path) -> Path:
    """The toy with three times the spread: A ~ C is not decided at the smoke tier's 3
    seeds, and a few more decide it."""
    edit(toy / "suite.toml", "spread = 0.5", "spread = 1.5")
    return toy


def settle_cli(toy: Path, store: Path, *extra: str) -> int:
    return main(["settle", "--suite", str(toy), "--tier", "smoke", "--store", str(store),
                 "--no-progress", *extra])


def stored_design(store: Path) -> Design:
    with Store(store) as s:
        return Design.from_dict(json.loads(s.get_meta("settle:toy:smoke")))


def test_settle_adds_seeds_to_the_cells_of_undecided_verdicts_only(
        noisy_toy: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref_store, store = tmp_path / "ref.sqlite", tmp_path / "settle.sqlite"
    write_reference(noisy_toy, ref_store, capsys)
    before, _ = report(noisy_toy, ref_store, tmp_path / "before", capsys, monkeypatch)
    undecided = {v.id for v in [*before.claims, *before.table_verdicts]
                 if v.verdict == "inconclusive"}
    assert "a-equals-c" in undecided  # the premise: the smoke tier leaves it open

    assert settle_cli(noisy_toy, store, "--budget", "10m") == 0
    out = capsys.readouterr().out
    design = stored_design(store)
    assert design.looks == 3 and design.per_look == pytest.approx(0.05 / 3)
    assert design.rounds and all(r.done for r in design.rounds)
    targets = {t for r in design.rounds for t in r.targets}
    assert targets <= undecided and "a-equals-c" in targets
    with Store(store) as s:
        added = s.records(sorted(design.cell_ids()))
    assert added and {r.stage for r in added} == {"settle"}
    # new seeds only, after the tier's 0-2, and the same seeds in the arms a claim pairs
    seeds = {r.params["arm"]: set() for r in added}
    for r in added:
        seeds[r.params["arm"]].add(r.params["seed"])
    assert min(min(s) for s in seeds.values()) == 3
    assert seeds.get("a") and seeds["a"] == seeds.get("c")
    assert "targeted verdicts decided" in out

    after, _ = report(noisy_toy, store, tmp_path / "after", capsys, monkeypatch)
    old = {v.id: v for v in [*before.claims, *before.table_verdicts]}
    for v in [*after.claims, *after.table_verdicts]:
        if v.id in targets:
            assert "Settle look" in v.reason and v.alpha == pytest.approx(0.05 / 3)
            assert v.evidence["settled"]["looks"] == 3
        else:  # untouched: as the tier's own seeds judged it
            assert (v.verdict, v.reason) == (old[v.id].verdict, old[v.id].reason)
    assert any(line.startswith("Settled with added seeds: ") for line in after.summary)
    assert after.provenance["settle"].startswith(f"{len(design.rounds)} of 3 looks")


def test_settle_resumes_and_updates_the_reference(noisy_toy: Path, tmp_path: Path, capsys,
                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "settle.sqlite"
    write_reference(noisy_toy, tmp_path / "ref.sqlite", capsys)
    assert settle_cli(noisy_toy, store, "--budget", "10m") == 0
    first = stored_design(store)
    capsys.readouterr()
    # again, with --update: nothing more to add, the extended reference is written
    assert settle_cli(noisy_toy, store, "--budget", "10m", "--update") == 0
    out = capsys.readouterr().out
    assert stored_design(store).rounds == first.rounds
    ref = json.loads((noisy_toy / "expected" / "smoke.json").read_text())
    assert ref["settle"]["rounds"] == json.loads(first.to_json())["rounds"]
    assert sum(r["stage"] == "settle" for r in ref["records"]) == len(first.cell_ids())
    assert f"{len(first.cell_ids())} of them added by settle" in out
    # a report from the reference alone shows the same settled verdicts as the store
    from_store, _ = report(noisy_toy, store, tmp_path / "a", capsys, monkeypatch)
    from_ref, _ = report(noisy_toy, tmp_path / "none.sqlite", tmp_path / "b", capsys,
                         monkeypatch)
    assert [(v.id, v.verdict, v.reason) for v in from_ref.claims] == \
        [(v.id, v.verdict, v.reason) for v in from_store.claims]


def test_settle_within_no_budget_adds_nothing_and_says_why(noisy_toy: Path, tmp_path: Path,
                                                           capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "settle.sqlite"
    edit(noisy_toy / "suite.toml", "sleep = 0.0", "sleep = 0.05")  # cells of 50 ms
    write_reference(noisy_toy, tmp_path / "ref.sqlite", capsys)
    assert settle_cli(noisy_toy, store, "--budget", "0.01s") == 0
    out = capsys.readouterr().out
    assert "does not fit" in out and "no seeds added" in out
    assert stored_design(store).rounds == []


def test_a_round_slower_than_planned_stops_at_the_budget(noisy_toy: Path, tmp_path: Path,
                                                         capsys, monkeypatch):
    """Stored cell times may come from a faster machine: once the budget's wall time is
    spent no further configuration starts, and the look keeps the seeds that ran."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "settle.sqlite"
    write_reference(noisy_toy, tmp_path / "ref.sqlite", capsys)
    monkeypatch.setattr(settle, "cell_seconds", lambda results: lambda config: 1e-6)
    ticks = iter(range(10**6))  # a clock on which every configuration takes 1 s
    monkeypatch.setattr(harness.settle.run.time, "monotonic", lambda: float(next(ticks)))
    assert settle_cli(noisy_toy, store, "--budget", "0.5s") == 0
    out = capsys.readouterr().out
    assert "budget is spent" in out and "planned cells are not run" in out
    design = stored_design(store)
    [first] = design.rounds
    with Store(store) as s:
        ran = s.records(sorted(first.cells))
    assert first.done and ran and len(ran) == len(first.cells)
    assert len({r.params["arm"] for r in ran}) == 1  # one configuration, then the stop


def test_settle_needs_a_committed_reference(toy: Path, tmp_path: Path, capsys):
    assert settle_cli(toy, tmp_path / "s.sqlite") == 2
    err = capsys.readouterr().err
    assert "no committed reference to settle" in err and "regress --update" in err


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("2h", 7200), ("90s", 90),
                                           ("45", 45)])
def test_budget_seconds(text: str, seconds: float):
    assert settle.budget_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "-5m", "0"])
def test_a_bad_budget_is_refused(text: str):
    with pytest.raises(ValueError, match="--budget"):
        settle.budget_seconds(text)


def test_next_seeds_continue_after_the_tier_and_keep_configurations_paired():
    assert settle.next_seeds([0, 1, 2], [0, 1, 2], 6) == [3, 4, 5]
    # a configuration that already got seeds 3-4 for another verdict gets only 5
    assert settle.next_seeds([0, 1, 2, 3, 4], [0, 1, 2], 6) == [5]
    assert settle.next_seeds([0, 1, 2], [0, 1, 2], 2) == []
    assert settle.next_seeds([], [4, 7], 3) == [4, 7, 8]


def test_a_design_round_trips_through_json():
    d = Design(3, 0.05, 600.0, 30, "sparsebench settle ...",
               [Round(1, ["x"], ["c1", "c2"], {"arm=a": [3, 4]}, 12.5, 11.0, True)])
    assert Design.from_dict(json.loads(d.to_json())) == d
    assert d.cell_ids(0) == set() and d.cell_ids(1) == {"c1", "c2"}


def test_verify_samples_the_seeds_settle_added(noisy_toy: Path, tmp_path: Path, capsys,
                                               monkeypatch):
    """A reference extended by settle is verified over its added cells too (they are
    numbers its report reads)."""
    monkeypatch.chdir(tmp_path)
    write_reference(noisy_toy, tmp_path / "ref.sqlite", capsys)
    assert settle_cli(noisy_toy, tmp_path / "s.sqlite", "--budget", "10m", "--update") == 0
    ref = json.loads((noisy_toy / "expected" / "smoke.json").read_text())
    added = sum(r["stage"] == "settle" for r in ref["records"])
    capsys.readouterr()
    assert main(["verify", "--suite", str(noisy_toy), "--tier", "smoke", "--sample", "1000",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"verifying all {9 + added}" in out, out
