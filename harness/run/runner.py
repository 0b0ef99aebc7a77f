"""Drive a plan: tuning stage, then the main grid; resume from the store.

The driver is the only writer of the store. Tuning trials are cells of stage
``tune``: Optuna's sampler is seeded and its ask/tell sequence is replayed from the
store on resume, so a rerun suggests the same values and trains nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import torch
from tqdm import tqdm

from ..artifacts import folder_for
from ..errors import SparsebenchError
from ..recipe import search as recipe
from ..recipe.search import Search
from ..settle import design as settle
from ..settle.design import Design
from ..spec.plan import Cell, Plan, group_key
from ..spec.suite import Suite
from .executors import Job, LocalExecutor
from .store import CellRecord, Store, check_writable

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class TuningResult:
    group: dict
    param: str
    best_value: float | None
    best_objective: float | None
    trials: list[CellRecord] = field(default_factory=list)
    missing: int = 0  # trials not in the store (report-only mode)


@dataclass
class RunResult:
    plan: Plan
    tuning: list[TuningResult]
    records: list[CellRecord]  # main-stage records present in the store, in grid order
    executed: int = 0  # cells and trials trained by this call (not read from the store)
    executed_failed: int = 0  # of those, the ones that failed
    # (sweep index, record) of the [[sensitivity]] cells present in the store
    sensitivity: list[tuple[int, CellRecord]] = field(default_factory=list)
    # a settle run of this tier (settle.py): its design and the cells it added
    settle: Design | None = None
    settle_records: list[CellRecord] = field(default_factory=list)
    # a recipe search of this tier (recipe.py): its log and the cells it ran
    recipe: Search | None = None
    recipe_records: list[CellRecord] = field(default_factory=list)

    @property
    def read_back(self) -> int:
        return (len(self.records) + sum(len(t.trials) for t in self.tuning)
                + len(self.sensitivity) - self.executed)

    @property
    def all_records(self) -> list[CellRecord]:
        """Tuning trials (group by group, in the order they were asked), then the main
        records in grid order."""
        return [*(r for t in self.tuning for r in t.trials), *self.records]

    @property
    def failed(self) -> list[CellRecord]:
        """Failed tuning trials, then failed main cells: trained by this call or read back."""
        return [r for r in self.all_records if r.status == "failed"]


class Progress:
    """One tqdm bar per stage with elapsed time and an estimate. On a terminal it moves
    while a cell trains; in a log (CI) it prints a line every 30 s at most."""

    def __init__(self, label: str, total: int, enabled: bool):
        self.live = sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=label, unit="cell", disable=not enabled,
                        dynamic_ncols=True, file=sys.stderr,
                        mininterval=0.1 if self.live else 30.0,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} "
                                   "[{elapsed}<{remaining}] {postfix}")
        self.done = 0

    def fraction(self, f: float, cells: int = 1) -> None:
        """Progress inside the ``cells`` cells now training (a batch trains together)."""
        if self.live:
            self.bar.n = self.done + cells * min(max(f, 0.0), 1.0)
            self.bar.refresh()

    def finished(self, note: str = "") -> None:
        self.done += 1
        if note:
            self.bar.set_postfix_str(note, refresh=False)
        self.bar.update(self.done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _in_use(store_path: Path, holder: str) -> SparsebenchError:
    return SparsebenchError(f"{store_path} is in use by {holder}; wait for it to finish or "
                            "use --store to write elsewhere")


@contextmanager
def store_lock(store_path: Path, reader: bool = False) -> Iterator[None]:
    """Refuse a second writer on the same store rather than interleave two runs. A
    ``reader`` (report) takes the same lock where it can; in a folder it may not write, it
    waits for no writer of its own and only refuses one that holds an existing lock."""
    lock_path = Path(str(store_path) + ".lock")
    if not reader:
        check_writable(store_path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # noqa: SIM115 (closed by the with below)
    except OSError as err:
        if not reader:
            raise SparsebenchError(f"{lock_path.parent}: folder is not writable "
                                   f"({err.strerror}), so the store's lock {lock_path.name} "
                                   "cannot be made; give --store a path in a writable "
                                   "folder") from None
        with _shared_lock(store_path, lock_path):
            yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise _in_use(store_path, handle.read().strip() or "another process") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _shared_lock(store_path: Path, lock_path: Path) -> Iterator[None]:
    """A reader's lock on a store in a folder it may not write: the existing lock file
    read-only, shared (refused while a writer holds it); no lock when there is none."""
    try:
        handle = open(lock_path)  # noqa: SIM115 (closed by the with below)
    except OSError:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _in_use(store_path, handle.read().strip() or "another process") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(store: Store, plan: Plan) -> RunResult:
    """``plan``'s results as ``store`` holds them, training nothing: what report, export
    and forget read (a cell the store lacks is missing from the result)."""
    return Runner(store, torch.device("cpu"), None, execute=False, progress=False).run(plan)


class Runner:
    def __init__(self, store: Store, device: torch.device, data_dir: Path | None,
                 execute: bool = True, progress: bool = True, retry_failed: bool = False,
                 batch_size: int = 16, executor=None, sensitivity: bool = False,
                 cell_timeout: float | None = None):
        self.sensitivity = sensitivity  # train the [[sensitivity]] cells (else: read them)
        self.store = store
        self.device = device
        self.data_dir = data_dir
        self.execute = execute
        self.progress = progress
        self.retry_failed = retry_failed
        self.batch_size = batch_size
        self.cell_timeout = cell_timeout  # seconds per cell (--cell-timeout); None: none
        self.executor = executor or LocalExecutor(cell_timeout)
        self.executed = 0
        self.executed_failed = 0

    # ----------------------------------------------------------- one cell

    def _obtain(self, cells: list[Cell], bar: Progress,
                note: Callable[[Cell, CellRecord], str]) -> list[CellRecord | None]:
        """Records for ``cells`` (None where missing in report-only mode), in order.

        Stored cells are read back; the rest run, in batches when the task has a batched
        form (cells that differ only in the task's BATCH_VARYING parameters), and each is
        stored as soon as its run or batch ends. The bar advances as each record arrives,
        with ``note(cell, record)`` beside it.
        """
        out: list[CellRecord | None] = []
        for cell in cells:
            record = self.store.get(cell.id)
            if record is not None and self.retry_failed and record.status == "failed":
                record = None
            if record is not None:
                bar.finished(note(cell, record))
            out.append(record)
        todo = [i for i, r in enumerate(out) if r is None]
        if not self.execute or not todo:
            return out
        position = {c.id: i for i, c in enumerate(cells)}
        artifacts = folder_for(Path(self.store.path).resolve(), self._suite.name,
                               self._suite.code.digest)
        jobs = [Job(str(self._suite.folder), self._suite.code.digest, tuple(chunk),
                    str(self.device), str(self.data_dir) if self.data_dir else None,
                    artifacts=str(artifacts))
                for chunk in self._batches([cells[i] for i in todo])]

        def progress(job: Job) -> Callable[[float], None]:
            size = len(job.cells)
            return lambda f: bar.fraction(f, size)

        for records in self.executor.map(jobs, progress):
            for record in records:
                self.store.put(record)
                self.executed += 1
                self.executed_failed += record.status == "failed"
                out[position[record.id]] = record
                bar.finished(note(cells[position[record.id]], record))
        return out

    def _batches(self, cells: list[Cell]) -> list[list[Cell]]:
        suite = self._suite
        if suite.task_batch is None or self.batch_size <= 1:
            return [[c] for c in cells]
        groups: dict[str, list[Cell]] = {}
        for cell in cells:
            fixed = {k: v for k, v in cell.params.items() if k not in suite.batch_varying}
            groups.setdefault(json.dumps(fixed, sort_keys=True), []).append(cell)
        return [group[i:i + self.batch_size] for group in groups.values()
                for i in range(0, len(group), self.batch_size)]

    # ----------------------------------------------------------- stages

    def tune(self, plan: Plan) -> list[TuningResult]:
        """One seeded Optuna study per tuning group. The groups' studies are independent,
        so each round asks every group's trials first and obtains them together: an
        executor with several workers trains the groups side by side, and each study
        still sees the same asks and tells as if it ran alone."""
        tuning = plan.tuning
        if tuning is None:
            return []
        self._suite = plan.suite
        groups = plan.tuning_groups()
        bar = Progress(f"{plan.suite.name} tuning", len(groups) * tuning.trials,
                       self.progress and self.execute)
        distribution = optuna.distributions.FloatDistribution(tuning.low, tuning.high,
                                                              log=tuning.log)
        configs = [plan.tuning_config(g) for g in groups]
        studies = [optuna.create_study(direction=tuning.direction,
                                       sampler=optuna.samplers.TPESampler(seed=tuning.seed))
                   for _ in groups]
        results = [TuningResult(g, tuning.param, None, None) for g in groups]

        def note(cell: Cell, record: CellRecord) -> str:
            group = {k: cell.params[k] for k in tuning.per}
            return f"{_label(group)} {tuning.param}={cell.params[tuning.param]:.3g} " \
                   f"{_status(record)}"

        try:
            for start in range(0, tuning.trials, plan.tuning_round):
                # A round of trials is asked before any is told, so a round can train
                # as one batch; the one-cell path asks in the same rounds.
                size = min(plan.tuning_round, tuning.trials - start)
                asked = [[study.ask({tuning.param: distribution}) for _ in range(size)]
                         for study in studies]
                cells = [plan.trial_cell(config, t.params[tuning.param])
                         for config, trials in zip(configs, asked, strict=True) for t in trials]
                obtained = iter(self._obtain(cells, bar, note))
                for study, result, trials in zip(studies, results, asked, strict=True):
                    for trial in trials:
                        self._tell(study, trial, next(obtained), result, tuning.objective)
        finally:
            bar.close()
        for study, result in zip(studies, results, strict=True):
            if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
                result.best_value = study.best_trial.params[tuning.param]
                result.best_objective = study.best_value
        return results

    @staticmethod
    def _tell(study: optuna.Study, trial: optuna.Trial, record: CellRecord | None,
              result: TuningResult, objective: str) -> None:
        if record is None:
            result.missing += 1
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        result.trials.append(record)
        value = record.metrics.get(objective)
        if record.status == "done" and value is not None and math.isfinite(value):
            study.tell(trial, value)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def run(self, plan: Plan, pinned: dict[str, float] | None = None) -> RunResult:
        """Tune, then obtain the main cells (and read or train the sweeps). ``pinned``
        ({group label: value}, as a snapshot's ``tuned``) replaces the tuned value of
        those groups in the main cells: regress across machine classes reruns a tier
        with the stored picks, since a noisy argmax may pick otherwise on other bits."""
        self.executed = self.executed_failed = 0
        tuning = self.tune(plan)
        pinned = pinned or {}
        # A group whose trials all failed gets no main cells; the report shows its errors.
        tuned = {group_key(t.group): {t.param: pinned.get(tuning_label(t.group), t.best_value)}
                 for t in tuning if t.best_value is not None}
        self._suite = plan.suite
        cells = plan.main_cells(tuned)
        bar = Progress(f"{plan.suite.name} cells", len(cells), self.progress and self.execute)
        try:
            obtained = self._obtain(cells, bar, lambda c, r: f"{_label(c.params, plan)} "
                                    f"{_status(r)}")
            records = [r for r in obtained if r is not None]
        finally:
            bar.close()
        swept = self._sweeps(plan, tuned)
        design = settle.read(self.store, plan) if plan.whole is None else None
        added = self.store.records(sorted(design.cell_ids())) if design else []
        search = None
        text = self.store.get_meta(recipe.meta_key(plan.suite.name, plan.tier)) \
            if plan.whole is None else None
        if text:
            search = Search.from_dict(json.loads(text))
        tried = self.store.records(sorted(search.cell_ids())) if search else []
        return RunResult(plan, tuning, records, self.executed, self.executed_failed, swept,
                         design, added, search, tried)

    def obtain(self, suite: Suite, cells: list[Cell], label: str) -> list[CellRecord]:
        """Records of ``cells`` outside a tier's grid (settle's added seeds): read from
        the store or run, with a progress bar."""
        self._suite = suite
        bar = Progress(label, len(cells), self.progress and self.execute)
        try:
            got = self._obtain(cells, bar, lambda c, r: f"seed={c.seed} {_status(r)}")
        finally:
            bar.close()
        return [r for r in got if r is not None]

    def _sweeps(self, plan: Plan, tuned: dict) -> list[tuple[int, CellRecord]]:
        """The [[sensitivity]] cells: trained when this runner was asked to, else read
        from the store where they are."""
        sweeps = plan.sensitivity_cells(tuned)
        if not sweeps:
            return []
        cells = [c for _, c in sweeps]
        execute, self.execute = self.execute, self.execute and self.sensitivity
        bar = Progress(f"{plan.suite.name} sensitivity", len(cells),
                       self.progress and self.execute)
        try:
            obtained = self._obtain(cells, bar, lambda c, r: f"{_label(c.params, plan)} "
                                    f"{_status(r)}")
        finally:
            bar.close()
            self.execute = execute
        return [(i, r) for (i, _), r in zip(sweeps, obtained, strict=True) if r is not None]


def tuning_label(group: dict) -> str:
    """'model=fsb': a tuning group as snapshots key their tuned values."""
    return " ".join(f"{k}={v}" for k, v in group.items())


def _status(record: CellRecord) -> str:
    return "failed" if record.status == "failed" else "ok"


def _label(params: dict, plan: Plan | None = None) -> str:
    keys = [*plan.factor_names, "seed"] if plan else list(params)
    return " ".join(f"{k}={params[k]}" for k in keys if k in params)
