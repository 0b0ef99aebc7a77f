"""The same cells through the local, Dask and submitit executors; a worker that dies, every
worker gone, a job past its time limit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from harness.run.executors import NO_WORKER_GRACE_S, DaskExecutor, SubmititExecutor
from harness.run.runner import Runner
from harness.run.store import Store
from harness.spec.plan import resolve
from harness.spec.suite import load_suite
from tests.conftest import require

require("distributed", "submitit")
CPU = torch.device("cpu")


def run(plan, store_path: Path, executor=None) -> dict:
    with Store(store_path) as store:
        runner = Runner(store, CPU, None, progress=False, executor=executor)
        try:
            result = runner.run(plan)
        finally:
            runner.executor.close()
    records = [*result.records, *(r for t in result.tuning for r in t.trials)]
    # "wall" is the toy's timing metric: the one value allowed to differ
    return {r.id: (r.status, r.error, {k: v for k, v in r.metrics.items() if k != "wall"})
            for r in records}


def test_three_executors_give_the_same_metrics(tmp_path: Path):
    plan = resolve(load_suite("dsb_mnist1d"), "smoke")
    local = run(plan, tmp_path / "local.sqlite")
    dask = run(plan, tmp_path / "dask.sqlite", DaskExecutor(workers=2))
    debug = run(plan, tmp_path / "submitit.sqlite",
                SubmititExecutor(tmp_path / "submitit", cluster="debug"))
    assert len(local) == 12 and all(status == "done" for status, _, _ in local.values())
    assert dask == local
    assert debug == local


def test_submitit_local_processes(toy: Path, tmp_path: Path):
    text = (toy / "suite.toml").read_text().replace('arm = ["a", "b", "c"]', 'arm = ["a"]')
    (toy / "suite.toml").write_text(text)
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")
    plan = resolve(load_suite(str(toy)), "smoke")
    local = run(plan, tmp_path / "local.sqlite")
    spawned = run(plan, tmp_path / "spawned.sqlite",
                  SubmititExecutor(tmp_path / "jobs", cluster="local"))
    assert len(local) == 6 and spawned == local


def only_arm(toy: Path, arm: str) -> Path:
    text = (toy / "suite.toml").read_text().replace('arm = ["a", "b", "c"]', f'arm = ["{arm}"]')
    (toy / "suite.toml").write_text(text)
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # its claims name a, b
    return toy


async def _cannot_start() -> None:
    raise RuntimeError("no new worker (as on a machine too loaded to start one)")


@pytest.mark.timeout(300)  # 18 s here; a nanny that cannot restart ends it ~60 s later
def test_a_dying_worker_fails_its_cells_and_the_suite_finishes(toy: Path, tmp_path: Path,
                                                                 monkeypatch):
    """It once hung for 19 min: the nannies of a loaded machine did not bring a worker
    back, and the driver waited for ever. Now the executor gives up on a cluster with no
    worker after NO_WORKER_GRACE_S, and pytest-timeout bounds the rest."""
    monkeypatch.setenv("SPARSEBENCH_TOY_DIE", "c")
    plan = resolve(load_suite(str(toy)), "smoke")
    executor = DaskExecutor(workers=2, retries=1)
    assert executor.no_worker_grace == NO_WORKER_GRACE_S
    results = run(plan, tmp_path / "store.sqlite", executor)
    died = [(s, e) for cid, (s, e, _) in results.items() if s == "failed"]
    assert len(died) == 3  # arm c's three tuning trials; its main cells never get an lr
    assert all("worker failed" in e and "KilledWorker" in e for _, e in died)
    done = [s for s, _, _ in results.values() if s == "done"]
    assert len(done) == 6 + 6  # arms a and b: 3 trials + 3 seeds each


def test_dask_workers_keep_the_adaptive_malloc_threshold():
    """Dask's default MALLOC_TRIM_THRESHOLD_ made batched steps 1.9x slower in its workers;
    the cluster sparsebench starts leaves it unset, and still pins BLAS to one thread."""
    executor = DaskExecutor(workers=1)
    try:
        env = executor.client.submit(lambda: dict(os.environ), pure=False).result()
    finally:
        executor.close()
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert env.get("OMP_NUM_THREADS") == "1"


@pytest.mark.timeout(300)
def test_with_every_worker_dead_the_jobs_fail_and_the_run_ends(toy: Path, tmp_path: Path,
                                                              monkeypatch):
    """Both workers die on arm c's trials and their nannies cannot start new ones: the
    jobs then wait for no worker, so after the grace period their cells are stored as
    failed with the reason, instead of the run waiting for ever."""
    monkeypatch.setenv("SPARSEBENCH_TOY_DIE", "c")
    plan = resolve(load_suite(str(only_arm(toy, "c"))), "smoke")
    # retries: no job gives up on its own (KilledWorker) before the workers are all gone
    executor = DaskExecutor(workers=2, retries=10, no_worker_grace=3.0)
    for nanny in executor.cluster.workers.values():
        nanny.instantiate = _cannot_start  # the nanny's restart of a dead worker fails
    start = time.monotonic()
    results = run(plan, tmp_path / "store.sqlite", executor)
    took = time.monotonic() - start
    assert len(results) == 3  # arm c's three tuning trials; no main cell gets an lr
    for status, error, _ in results.values():
        assert status == "failed"
        assert error.startswith("no Dask worker left for ") and "not run to the end" in error
    assert took < 120, took  # 16 s here: the workers' start, their death, 3 s of grace


@pytest.mark.timeout(400)
def test_a_job_past_its_cell_timeout_fails_and_frees_its_worker(toy: Path, tmp_path: Path):
    """A Dask worker runs a job in a thread, which nothing can stop: the driver fails a
    job past ``cell_timeout`` x its cells and restarts its worker, so that the job queued
    behind it runs (and here, sleeping too, times out as well)."""
    toy = only_arm(toy, "a")
    text = (toy / "suite.toml").read_text().replace("sleep = 0.0", "sleep = 600.0")
    (toy / "suite.toml").write_text(text)
    plan = resolve(load_suite(str(toy)), "smoke")
    start = time.monotonic()
    results = run(plan, tmp_path / "store.sqlite", DaskExecutor(workers=2, cell_timeout=2.0))
    took = time.monotonic() - start
    assert len(results) == 3  # three trials on two workers: one waited for a restart
    for status, error, _ in results.values():
        assert status == "failed"
        assert error.startswith("ran past --cell-timeout 2 s per cell"), error
    assert took < 300, took  # 20-30 s here; uncut, the first job alone sleeps 600 s


def test_a_cell_time_limit_leaves_an_outer_timer_running():
    """pytest-timeout (and any caller) arms SIGALRM for itself: a cell's limit hands the
    timer back with its time still counting, rather than switching it off."""
    import signal
    import time

    from harness.run.cell_timeout import CellTimeout, alarm

    rang: list[float] = []
    before = signal.signal(signal.SIGALRM, lambda *_: rang.append(time.monotonic()))
    start = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with alarm(5.0):
            time.sleep(0.2)
        with pytest.raises(CellTimeout), alarm(0.05):
            time.sleep(1.0)
        time.sleep(0.8)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert len(rang) == 1 and 0.55 <= rang[0] - start < 1.2, [r - start for r in rang]


@pytest.mark.timeout(300)
def test_submitit_holds_the_cell_timeout_too(toy: Path, tmp_path: Path):
    """--cell-timeout reaches a submitit job: a cell past it is stored as failed and the
    tier finishes (it once ran under SLURM's job limit only)."""
    toy = only_arm(toy, "a")
    text = (toy / "suite.toml").read_text().replace("sleep = 0.0", "sleep = 600.0")
    (toy / "suite.toml").write_text(text)
    plan = resolve(load_suite(str(toy)), "smoke")
    start = time.monotonic()
    results = run(plan, tmp_path / "store.sqlite",
                  SubmititExecutor(tmp_path / "jobs", cluster="local", cell_timeout=2.0))
    assert results and all(status == "failed" and "2 s" in error
                           for status, error, _ in results.values()), results
    assert time.monotonic() - start < 240  # uncut, one cell alone sleeps 600 s
