"""dsb_mnist1d end to end at the smoke tier: determinism, CLI, reports, resume, regress."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.run.execute import execute_cell
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite
from tests.conftest import SMOKE_ENV, SmokeRun, restate

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The CLI with the environment of the shared smoke run (its data folder is part of
    the report's "Reproduce with" line, which the byte-for-byte comparisons include)."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=SMOKE_ENV)


def test_one_cell_twice_gives_identical_metrics_and_a_fingerprint():
    suite = load_suite("dsb_mnist1d")
    plan = resolve(suite, "smoke")
    cell = make_cell(suite, "main", {**plan.params, "model": "dsb", "lr": 3e-3, "seed": 1})
    first = execute_cell(suite, cell, torch.device("cpu"), None)
    second = execute_cell(suite, cell, torch.device("cpu"), None)
    assert first.status == "done", first.error
    assert first.metrics == second.metrics
    other = execute_cell(suite, make_cell(suite, "main", {**cell.params, "seed": 2}),
                         torch.device("cpu"), None)
    assert other.metrics["test_acc"] != first.metrics["test_acc"] or \
        other.metrics["train_loss"] != first.metrics["train_loss"]
    fp = first.fingerprint
    # the suite pins one thread per cell; the fingerprint records what the cell ran with
    assert fp["torch"] == torch.__version__ and fp["threads"] == suite.spec.threads == 1
    assert fp["device"] == "cpu" and "git_commit" in fp


def test_a_diverging_cell_is_stored_as_failed_not_raised():
    suite = load_suite("dsb_mnist1d")
    plan = resolve(suite, "smoke")
    cell = make_cell(suite, "main", {**plan.params, "model": "baseline", "lr": 1e36, "seed": 0})
    record = execute_cell(suite, cell, torch.device("cpu"), None)
    assert record.status == "failed" and record.error.startswith("diverged: non-finite loss")
    assert record.metrics == {}


@pytest.fixture(scope="module")
def uninterrupted(smoke_run) -> SmokeRun:
    """One uninterrupted smoke-tier reproduce (shared with test_every_suite_smoke.py)."""
    run = smoke_run("dsb_mnist1d")
    assert run.returncode == 0, run.stderr
    return run


def test_reproduce_writes_reports_and_plots(uninterrupted: SmokeRun):
    out = uninterrupted.out
    for name in ["index.html", "dsb_mnist1d-smoke.md", "dsb_mnist1d-smoke.html",
                 "dsb_mnist1d-smoke/accuracy.png", "dsb_mnist1d-smoke/sparsity.png"]:
        assert (out / name).is_file(), name
    md = (out / "dsb_mnist1d-smoke.md").read_text()
    assert md.startswith("# Dynamic vs Fixed Sparse Bottleneck on MNIST-1D — tier `smoke`")
    assert "| Baseline | 81.22% ± 0.73%" in md and "## Sparsity Analysis" in md
    assert "## Flagged" in md and "## Tuning (Optuna)" in md
    assert "dsb_mnist1d" in (out / "index.html").read_text()


def test_rerun_trains_nothing_and_report_is_identical(uninterrupted: SmokeRun,
                                                      tmp_path: Path):
    before = (uninterrupted.out / "dsb_mnist1d-smoke.html").read_bytes()
    proc = cli("reproduce", "--suite", "dsb_mnist1d", "--tier", "smoke",
               "--store", str(uninterrupted.store), "--out", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr
    assert "0 cells and trials trained, 12 read from" in proc.stdout
    assert (tmp_path / "again" / "dsb_mnist1d-smoke.html").read_bytes() == before


def _finished(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize("kill_after", [2, 7])
def test_kill_9_then_resume_gives_the_same_report(uninterrupted: SmokeRun, tmp_path: Path,
                                                  kill_after: int):
    store = tmp_path / "store.sqlite"
    args = [sys.executable, "-m", "harness.cli", "reproduce", "--suite", "dsb_mnist1d",
            "--tier", "smoke", "--store", str(store), "--out", str(tmp_path / "out"),
            "--no-progress"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=SMOKE_ENV)
    deadline = time.time() + 120
    while _finished(store) < kill_after and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _finished(store)
    assert kept >= kill_after
    resumed = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300,
                             env=SMOKE_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert f"read from {store}" in resumed.stdout
    trained = int(resumed.stdout.split(" cells and trials trained")[0].rsplit(" ", 1)[-1])
    assert trained == 12 - kept, "finished cells must not run again"
    for name in ["dsb_mnist1d-smoke.md", "dsb_mnist1d-smoke.html"]:
        assert (tmp_path / "out" / name).read_bytes() == \
            (uninterrupted.out / name).read_bytes(), name


def test_regress_passes_then_fails_with_a_diff_table(tmp_path: Path):
    suite = tmp_path / "dsb_copy"
    shutil.copytree(REPO / "suites" / "dsb_mnist1d", suite,
                    ignore=shutil.ignore_patterns("expected", "__pycache__"))
    store = str(tmp_path / "store.sqlite")
    base = ["regress", "--suite", str(suite), "--tier", "smoke", "--store", store]
    update = cli(*base, "--update")
    assert update.returncode == 0, update.stderr
    stored = suite / "expected" / "smoke.json"
    assert json.loads(stored.read_text())["tier"] == "smoke"
    same = cli(*base)
    assert same.returncode == 0 and "(exact comparison)" in same.stdout, same.stdout
    snap = json.loads(stored.read_text())
    label = "model=fsb seed=1"
    snap["cells"][label]["metrics"]["test_acc"] += 0.5
    stored.write_text(json.dumps(restate(snap, "cells")))
    moved = cli(*base)
    assert moved.returncode == 1
    assert "metric" in moved.stdout and "stored" in moved.stdout and "tolerance" in moved.stdout
    assert f"{label} test_acc" in moved.stdout


def test_batched_path_equals_one_cell_path(tmp_path: Path):
    """Seeds (and tuning trials) trained as one stacked model give the very same numbers."""
    from harness.run.runner import Runner
    from harness.run.store import Store

    plan = resolve(load_suite("dsb_mnist1d"), "smoke")
    runs = {}
    for batch in (1, 16):
        with Store(tmp_path / f"b{batch}.sqlite") as store:
            runner = Runner(store, torch.device("cpu"), None, progress=False, batch_size=batch)
            result = runner.run(plan)
            trials = [r for t in result.tuning for r in t.trials]
            runs[batch] = {r.id: r.metrics for r in [*result.records, *trials]}
    assert len(runs[1]) == 12 and runs[1].keys() == runs[16].keys()
    assert runs[1] == runs[16]
