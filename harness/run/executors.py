"""Where cells run: in this process, on a Dask cluster, or as SLURM jobs via submitit.

An executor takes jobs (one cell, or a batch of cells the task trains together) and
yields their records in any order. Workers only compute; the driver is the only writer
of the store. Every job carries the driver's torch thread count, since the bits of a
result depend on it, so a cell gives the same numbers whichever executor ran it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import torch

from ..determinism import fingerprint, resolve_device
from ..errors import SparsebenchError
from ..spec.identity import CodeIdentity
from ..spec.plan import Cell
from ..spec.suite import Suite, load_suite
from .cell_timeout import limit as time_limit
from .execute import execute_batch, execute_cell
from .store import CellRecord

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Job:
    suite_folder: str
    code: str  # the digest of the code the driver's cell ids name (identity.py)
    cells: tuple[Cell, ...]
    device: str
    data_dir: str | None
    threads: int = field(default_factory=torch.get_num_threads)
    artifacts: str | None = None  # the folder of artifacts its cells share (artifacts.py)


@lru_cache(maxsize=32)
def _suite(folder: str, code: str) -> Suite:
    """The suite as loaded for this code digest: an edit to its code loads it anew."""
    return load_suite(folder)


def run_job(job: Job, progress: Progress = lambda f: None) -> list[CellRecord]:
    """Run one job wherever this is called (a worker process or the driver). A worker
    whose copy of the suite's code differs from the driver's stores the cells as failed
    rather than results under ids that name other code."""
    torch.set_num_threads(job.threads)
    suite = _suite(job.suite_folder, job.code)
    if suite.code.digest != job.code:
        _suite.cache_clear()
        return failed_records(job, f"the suite's code here hashes to {suite.code.digest}, "
                              f"the driver's to {job.code} (files: "
                              f"{', '.join(suite.code.files)}); give every worker the same "
                              "files")
    stale = stale_modules(suite.code)
    if stale:
        return failed_records(job, f"{', '.join(stale)} changed after this process imported "
                              "it; the code that would run is not the code the cell ids "
                              "name: restart the process (or the Dask workers)")
    try:
        device = resolve_device(job.device)
    except SparsebenchError as err:  # a worker without the device the driver asked for
        return failed_records(job, f"on this worker: {err}")
    data_dir = Path(job.data_dir) if job.data_dir else None
    artifacts = Path(job.artifacts) if job.artifacts else None
    if len(job.cells) == 1:
        return [execute_cell(suite, job.cells[0], device, data_dir, progress, artifacts)]
    return execute_batch(suite, list(job.cells), device, data_dir, progress, artifacts)


_FIRST_SEEN: dict[str, str] = {}  # project file -> its content hash when first run here


def stale_modules(code: CodeIdentity) -> list[str]:
    """Project files (outside the suite folder) whose content changed since this process
    first ran them: Python does not import a module twice, so the process still runs the
    old code (the suite folder's own modules are imported anew, see suite_imports.py)."""
    stale = []
    for label, content in zip(code.files, code.hashes, strict=True):
        if not label.startswith("suite:") and _FIRST_SEEN.setdefault(label, content) != content:
            stale.append(label)
    return stale


def failed_records(job: Job, reason: str) -> list[CellRecord]:
    """What the driver stores when a job's worker died or its result never came."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return [CellRecord(c.id, c.suite, c.stage, c.params, "failed", reason, None, now,
                       {**fingerprint(torch.device("cpu")), "device": job.device}, {})
            for c in job.cells]


class LocalExecutor:
    """In this process, one job after another (the default; progress inside a job). A
    cell that runs longer than ``cell_timeout`` seconds (``--cell-timeout``; None: no
    limit) is stopped and stored as failed (harness/run/cell_timeout.py)."""

    name = "local"

    def __init__(self, cell_timeout: float | None = None):
        self.cell_timeout = cell_timeout

    def map(self, jobs: list[Job], progress: Callable[[Job], Progress]
            ) -> Iterator[list[CellRecord]]:
        for job in jobs:
            with time_limit(self.cell_timeout):
                records = run_job(job, progress(job))
            yield records

    def close(self) -> None:
        pass


# How long the cluster may have no worker before the jobs still out are failed: a nanny
# replaces a dead worker in seconds (a process start and torch's import, 5-20 s on a loaded
# 2-core machine), so a minute with none means none is coming back.
NO_WORKER_GRACE_S = 60.0
# distributed.scheduler.worker-ttl: a worker whose heartbeat is this late is restarted by
# its nanny, or removed. Heartbeats come from the worker's event loop, not the thread that
# trains, every 0.5 s; only a step that holds the GIL (or a machine that swaps) delays them.
# Two minutes leaves any busy training step room; Dask's 5 min default let a worker that
# stopped answering hold its job for up to 10 min (the scheduler checks once per TTL).
WORKER_TTL = "120s"
POLL_S = 1.0  # seconds between looks at the cluster while no result comes


@dataclass(frozen=True)
class ClusterState:
    """What the scheduler knows: its workers, their threads, and which jobs run where."""

    workers: int
    threads: int
    running: dict[str, tuple[str, float]]  # future key -> (worker address, seconds running)


class DaskExecutor:
    """Dask distributed: a LocalCluster of ``workers`` processes, or a scheduler address.

    A job whose worker dies is retried on another worker up to ``retries`` times, then
    its cells are stored as failed with the reason. Results are awaited in polls of
    ``POLL_S``, never without end: once the cluster has had no worker for
    ``no_worker_grace`` seconds, every job still out is stored as failed; a job that runs
    longer than ``cell_timeout`` seconds per cell (``--cell-timeout``; None: no limit) is
    stored as failed and its worker restarted, since a Python thread cannot be stopped.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 2, retries: int = 1,
                 cell_timeout: float | None = None,
                 no_worker_grace: float = NO_WORKER_GRACE_S):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise SparsebenchError("the dask executor needs: pip install 'sparsebench[dist]' "
                                   "(dask[distributed])") from None
        dask.config.set({
            "distributed.scheduler.allowed-failures": retries,
            # One job per worker thread at a time, the rest queued on the scheduler: a
            # worker that dies then charges only the job it was running, not the ones
            # queued behind it (each death counts against every job on the worker). Dask
            # queues only large groups so; map() submits no more jobs than threads.
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.scheduler.worker-ttl": WORKER_TTL,
            # Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off
            # glibc's adaptive mmap threshold: every tensor over 128 KiB is then mmapped
            # and unmapped anew, and a batched training step ran 1.9x slower (measured,
            # 28.1 vs 14.8 ms). None unsets it for the workers this cluster starts.
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
        })
        self.cluster = None
        if address:
            self.client = Client(address)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        self.retries = retries
        self.cell_timeout = cell_timeout
        self.no_worker_grace = no_worker_grace
        self._workerless_since: float | None = None  # kept across map calls

    def map(self, jobs: list[Job], progress: Callable[[Job], Progress]
            ) -> Iterator[list[CellRecord]]:
        waiting = list(reversed(jobs))  # not submitted yet (popped from the end: in order)
        futures: dict = {}  # submitted, not finished -> its job
        while waiting or futures:
            for future in self._finished(set(futures)):
                yield self._records(future, futures.pop(future))
            state = self._state()
            lost = self._no_worker_reason(state)
            if lost:
                self.client.cancel(list(futures))
                for job in [*futures.values(), *reversed(waiting)]:
                    yield failed_records(job, lost)
                return
            overran = self._overran(futures, state)
            for future, reason in overran:
                yield failed_records(futures.pop(future), reason)
            if not overran:  # else the restarted workers are not counted yet: look again
                self._submit(waiting, futures, state.threads)
            if waiting and not futures:
                time.sleep(POLL_S)  # no free worker thread yet

    def _submit(self, waiting: list[Job], futures: dict, threads: int) -> None:
        """Submit jobs while a worker thread is free. A job is never queued on a worker
        behind another: a worker that dies, or is restarted for a job past its time limit,
        then charges only the job it ran, not the ones queued on it (each death counts
        towards every such job's ``retries``, KilledWorker once they are spent)."""
        while waiting and len(futures) < threads:
            job = waiting.pop()
            futures[self.client.submit(run_job, job, pure=False)] = job

    def _finished(self, pending: set) -> set:
        """The futures in ``pending`` done now or within one poll (maybe none)."""
        from distributed import wait

        if not pending:
            return set()
        try:
            with self.client.as_current():  # wait() uses the current client
                return set(wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED").done)
        except TimeoutError:
            return set()
        except Exception:  # a future cancelled elsewhere: it is done, with that error
            done = {f for f in pending if f.done()}
            if not done:
                time.sleep(POLL_S)  # whatever it was, do not spin on it
            return done

    @staticmethod
    def _records(future, job: Job) -> list[CellRecord]:
        try:
            return future.result()
        except Exception as err:  # KilledWorker and friends: keep the reason
            return failed_records(job, f"worker failed: {type(err).__name__}: {err}")

    def _state(self) -> ClusterState:
        """The scheduler's workers and running jobs; an unreachable scheduler has none."""

        def probe(dask_scheduler) -> tuple[int, int, dict[str, tuple[str, float]]]:
            # ws.executing: the durations the workers report with each heartbeat
            running = {str(ts.key): (address, float(seconds))
                       for address, ws in dask_scheduler.workers.items()
                       for ts, seconds in getattr(ws, "executing", {}).items()}
            workers = dask_scheduler.workers.values()
            return len(workers), sum(ws.nthreads for ws in workers), running

        try:
            return ClusterState(*self.client.run_on_scheduler(probe))
        except Exception:
            return ClusterState(0, 0, {})

    def _no_worker_reason(self, state: ClusterState) -> str | None:
        """Why the jobs still out will never finish, once the cluster has had no worker
        for ``no_worker_grace`` seconds; None while it has one, or is within the grace."""
        now = time.monotonic()
        if state.workers:
            self._workerless_since = None
            return None
        if self._workerless_since is None:
            self._workerless_since = now
        waited = now - self._workerless_since
        if waited < self.no_worker_grace:
            return None
        return (f"no Dask worker left for {waited:.0f} s (all died or stopped answering, and "
                "none came back); the job's cells were not run to the end")

    def _overran(self, futures: dict, state: ClusterState) -> list[tuple[object, str]]:
        """The running jobs past ``cell_timeout`` x their cells, each with its reason; they
        are cancelled and their workers restarted (the only way to stop a Python thread),
        all at once."""
        if self.cell_timeout is None:
            return []
        over = {}  # future -> (worker address, seconds run, its limit)
        for future, job in futures.items():
            address, seconds = state.running.get(str(future.key), ("", 0.0))
            limit = self.cell_timeout * len(job.cells)
            if address and seconds > limit:
                over[future] = (address, seconds, limit)
        if not over:
            return []
        self.client.cancel(list(over))
        restarted = self._restart({address for address, _, _ in over.values()})
        return [(future, f"ran past --cell-timeout {self.cell_timeout:g} s per cell "
                         f"({limit:g} s for this job): stopped after {seconds:.0f} s by "
                         f"restarting Dask worker {address} ({restarted.get(address, '?')})")
                for future, (address, seconds, limit) in over.items()]

    def _restart(self, addresses: set[str]) -> dict[str, str]:
        """Restart these workers (a worker without a nanny is removed); {address: "OK",
        "removed", "timed out", ...}. Only their shutdown is awaited, bounded by the grace
        period: their nannies start new ones, and while none is back the grace applies."""
        workers, timeout = sorted(addresses), self.no_worker_grace

        async def restart(dask_scheduler) -> dict[str, str]:
            # Client.restart_workers also waits until the scheduler counts as many workers
            # as before, which a worker that left but is not yet removed can delay for the
            # whole timeout (seen: 60 s)
            return await dask_scheduler.restart_workers(
                workers, timeout=timeout, wait_for_workers=False, on_error="return",
                stimulus_id=f"sparsebench-cell-timeout-{time.time()}")

        try:
            return self.client.run_on_scheduler(restart)
        except Exception as err:
            return dict.fromkeys(addresses, f"{type(err).__name__}: {err}")

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def run_job_limited(job: Job, cell_timeout: float | None) -> list[CellRecord]:
    """``run_job`` under ``--cell-timeout`` (a cell past it is stored as failed, as the
    local executor does), for a job that runs in a process of its own (submitit)."""
    with time_limit(cell_timeout):
        return run_job(job)


class SubmititExecutor:
    """SLURM job arrays through submitit ("slurm"), or its "local" / "debug" executors
    for a machine without a cluster. Logs and pickles go to ``folder``. A cell past
    ``cell_timeout`` seconds is stored as failed inside its job; the job's own SLURM limit
    (``timeout_min``) stays the outer bound."""

    name = "submitit"

    def __init__(self, folder: Path, cluster: str | None = None, timeout_min: int = 60,
                 slurm: dict | None = None, cell_timeout: float | None = None):
        self.cell_timeout = cell_timeout
        try:
            import submitit
        except ImportError:
            raise SparsebenchError("the submitit executor needs: pip install "
                                   "'sparsebench[dist]' (submitit)") from None
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        self.executor.update_parameters(timeout_min=timeout_min, **(slurm or {}))

    def map(self, jobs: list[Job], progress: Callable[[Job], Progress]
            ) -> Iterator[list[CellRecord]]:
        with self.executor.batch():  # one SLURM job array
            handles = [self.executor.submit(run_job_limited, job, self.cell_timeout)
                       for job in jobs]
        for handle, job in zip(handles, jobs, strict=True):
            try:
                yield handle.result()
            except Exception as err:
                yield failed_records(job, f"job failed: {type(err).__name__}: "
                                          f"{str(err).strip().splitlines()[-1][:300]}")

    def close(self) -> None:
        pass


def make_executor(name: str, address: str | None = None, workers: int = 2,
                  folder: Path | None = None, cluster: str | None = None,
                  cell_timeout: float | None = None):
    if name == "local":
        return LocalExecutor(cell_timeout)
    if name == "dask":
        return DaskExecutor(address, workers, cell_timeout=cell_timeout)
    if name == "submitit":
        return SubmititExecutor(folder or Path(".sparsebench") / "submitit", cluster,
                                cell_timeout=cell_timeout)
    raise SparsebenchError(f"unknown executor {name!r}; choose local, dask or submitit")

