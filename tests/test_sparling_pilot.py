"""The SPARLING pilot driver (pilots/sparling_pilot.py) on the suite's smoke tier: its log,
its resumption, the --hold-at schedule, its errors, and the summary table."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from baselines.sparling import DensityAnnealer
from pilots import sparling_pilot, summarize

REPO = Path(__file__).resolve().parents[1]
# the smoke tier (32 px, 3 digits, tiny network): a step takes milliseconds
BASE = ["--tier", "smoke", "--val-every", "10", "--attend-active", "--polar", "3",
        "--log-values"]
SMOKE_MINIMUM = 3 / (10 * 32 * 32)  # task.motif_minimum of the smoke tier's canvas


@pytest.fixture(autouse=True)
def _threads():
    """The driver sets torch's thread count; give the next test back what it had."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def pilot(out: Path, *extra: str) -> list[dict]:
    assert sparling_pilot.main([*BASE, "--out", str(out), *extra]) == 0
    with out.open(newline="") as f:
        return list(csv.DictReader(f))


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "ms_per_step"} for r in rows]


def test_a_run_logs_every_validation_then_the_test_set(tmp_path, capsys):
    out = tmp_path / "run.csv"
    rows = pilot(out, "--steps", "30")
    with out.open() as f:
        assert next(csv.reader(f)) == list(sparling_pilot.COLUMNS)
    assert [(r["step"], r["split"], r["action"]) for r in rows] == [
        ("10", "val", "reduce"), ("20", "val", "reduce"), ("30", "val", "end"),
        ("30", "test", "final")]
    # the smoke tier's bar is always beaten: 0.5 -> 0.375 -> the target 0.28125
    assert [float(r["density"]) for r in rows[:3]] == [0.5, 0.375, 0.28125]
    assert float(rows[0]["density_over_min"]) == pytest.approx(0.5 / SMOKE_MINIMUM, rel=1e-5)
    for r in rows:
        assert 0 <= float(r["exact"]) <= float(r["multiset"]) <= 100
    assert rows[-1]["motif_acc"] and not rows[-1]["train_loss"]
    assert "[pilot] step 20/30" in capsys.readouterr().err
    assert (tmp_path / "run.json").is_file()

    assert summarize.main([str(out)]) == 0
    line = capsys.readouterr().out.splitlines()[1].split()
    assert line[:2] == ["run", "30"]


def test_an_interrupted_run_resumes_to_the_same_rows(tmp_path):
    common = ["--steps", "60", "--set", "target_density=0.01", "--anneal-on", "exact",
              "--bar-decay-near-target", "0.5", "--near", "10", "--ckpt-every", "20"]
    whole = pilot(tmp_path / "whole.csv", *common)
    out, ckpt = tmp_path / "cut.csv", tmp_path / "cut.pt"
    cut = pilot(out, *common, "--checkpoint", str(ckpt), "--stop-after", "50")
    assert [r["step"] for r in cut] == ["10", "20", "30", "40", "50"]  # 50: after the save
    resumed = pilot(out, *common, "--checkpoint", str(ckpt))
    assert without_timing(resumed) == without_timing(whole)
    assert len({r["density"] for r in whole}) > 4  # the schedule did act

    # a checkpoint refuses other settings
    assert sparling_pilot.main([*BASE, "--out", str(out), *common, "--checkpoint",
                                str(ckpt), "--set", "lr=0.01"]) == 2


def test_hold_at_stops_annealing_at_that_multiple_and_trains_on(tmp_path):
    rows = pilot(tmp_path / "hold.csv", "--steps", "60", "--val-every", "5",
                 "--set", "target_density=0.01", "--hold-at", "300")
    val = [r for r in rows if r["split"] == "val"]
    held = 0.5 * 0.75**6  # the last density of the ladder at or above 300 x the minimum
    assert 300 <= held / SMOKE_MINIMUM < 300 / 0.75
    assert min(float(r["density"]) for r in val) == pytest.approx(held)
    first = next(i for i, r in enumerate(val) if r["action"] == "held")
    assert [r["action"] for r in val[first:]] == ["held"] * (len(val) - first - 1) + ["end"]
    assert all(float(r["density"]) == pytest.approx(held) for r in val[first:])
    assert val[-1]["step"] == "60" and rows[-1]["split"] == "test"


def holds_before_a_reduction(near: int, after: int = 0) -> list[str]:
    """Actions up to the second reduction: a first validation at accuracy 0.9 beats the
    bar (0.5 - 0.1) and raises it to 0.9, then 0.53 waits for the bar to decay, by 0.1
    per validation, or by 0.05 once the target is within ``near`` reductions (three
    reductions from the start, two after the first)."""
    annealer = DensityAnnealer(0.5, 0.5 * 0.75**3, 0.75, 0.5, 0.1, 0.0)
    schedule = sparling_pilot.Schedule(annealer, "edit", after, 0.05, near)
    actions = [schedule.step(10 * i, 0.0, acc) for i, acc in enumerate([0.9] + [0.53] * 12)]
    return actions[: actions.index("reduce", actions.index("reduce") + 1) + 1]


def test_the_bar_decays_slower_near_the_target_and_waits_for_anneal_after():
    assert holds_before_a_reduction(near=1) == ["reduce"] + ["hold"] * 3 + ["reduce"]
    assert holds_before_a_reduction(near=2) == ["reduce"] + ["hold"] * 7 + ["reduce"]
    # before --anneal-after nothing moves, not even the bar: 0.53 then beats 0.5 - 0.1
    assert holds_before_a_reduction(near=1, after=30)[:4] == ["wait"] * 3 + ["reduce"]


def test_train_on_keeps_training_at_the_target(tmp_path):
    rows = pilot(tmp_path / "on.csv", "--steps", "50", "--train-on")
    assert [r["action"] for r in rows] == ["reduce", "reduce", "held", "held", "end", "final"]
    assert pilot(tmp_path / "off.csv", "--steps", "50")[2]["action"] == "done"


def test_hold_below_the_target_is_refused(tmp_path, capsys):
    assert sparling_pilot.main([*BASE, "--out", str(tmp_path / "x.csv"),
                                "--hold-at", "2"]) == 2
    assert "--hold-at 2" in capsys.readouterr().err


def test_a_bad_set_key_is_a_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "pilots" / "sparling_pilot.py"), *BASE, "--out",
         str(tmp_path / "x.csv"), "--set", "no_such_key=3"],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_key" in lines[0], proc.stderr
    assert not (tmp_path / "x.csv").exists()
