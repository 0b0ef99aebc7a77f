"""Where cells run: in this process, on a Dask cluster, or as SLURM jobs via submitit.

An executor takes jobs (one cell, or a batch of cells the task trains together) and
yields their records in any order. Workers only compute; the driver is the only writer
of the store. Every job carries the driver's torch thread count, since the bits of a
result depend on it, so a cell gives the same numbers whichever executor ran it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import torch

from .determinism import fingerprint, resolve_device
from .errors import SparsebenchError
from .execute import execute_batch, execute_cell
from .identity import CodeIdentity
from .plan import Cell
from .store import CellRecord
from .suite import Suite, load_suite

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
    """In this process, one job after another (the default; progress inside a job)."""

    name = "local"

    def map(self, jobs: list[Job], progress: Callable[[Job], Progress]
            ) -> Iterator[list[CellRecord]]:
        for job in jobs:
            yield run_job(job, progress(job))

    def close(self) -> None:
        pass


class DaskExecutor:
    """Dask distributed: a LocalCluster of ``workers`` processes, or a scheduler address.

    A job whose worker dies is retried on another worker up to ``retries`` times, then
    its cells are stored as failed with the reason.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 2, retries: int = 1):
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
            # queued behind it (each death counts against every job on the worker).
            "distributed.scheduler.worker-saturation": 1.0,
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

    def map(self, jobs: list[Job], progress: Callable[[Job], Progress]
            ) -> Iterator[list[CellRecord]]:
        from distributed import as_completed

        futures = {self.client.submit(run_job, job, pure=False): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as err:  # KilledWorker and friends: keep the reason
                yield failed_records(job, f"worker failed: {type(err).__name__}: {err}")

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class SubmititExecutor:
    """SLURM job arrays through submitit ("slurm"), or its "local" / "debug" executors
    for a machine without a cluster. Logs and pickles go to ``folder``."""

    name = "submitit"

    def __init__(self, folder: Path, cluster: str | None = None, timeout_min: int = 60,
                 slurm: dict | None = None):
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
            handles = [self.executor.submit(run_job, job) for job in jobs]
        for handle, job in zip(handles, jobs, strict=True):
            try:
                yield handle.result()
            except Exception as err:
                yield failed_records(job, f"job failed: {type(err).__name__}: "
                                          f"{str(err).strip().splitlines()[-1][:300]}")

    def close(self) -> None:
        pass


def make_executor(name: str, address: str | None = None, workers: int = 2,
                  folder: Path | None = None, cluster: str | None = None):
    if name == "local":
        return LocalExecutor()
    if name == "dask":
        return DaskExecutor(address, workers)
    if name == "submitit":
        return SubmititExecutor(folder or Path(".sparsebench") / "submitit", cluster)
    raise SparsebenchError(f"unknown executor {name!r}; choose local, dask or submitit")

