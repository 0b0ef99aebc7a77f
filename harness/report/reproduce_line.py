"""The report's "Reproduce with" line: a command naming every option that changes numbers.

Device and CPU thread count change a cell's bits; the batch size and the data folder
are named too, and so are ``--where``/``--seeds`` when the report shows part of a tier
and ``--set`` for parameters set for the run (a ``--config`` file is written out as them).
A run states what it ran with; ``sparsebench report`` (no training) reads device and
threads from the stored cells' fingerprints, where they agree. Arguments are quoted
with ``shlex``, so the line can be pasted into a shell.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import torch

from ..run.execute import pinned_threads
from ..run.runner import Runner, RunResult
from ..run.store import CellRecord
from ..spec.plan import Plan, value_text


def run_threads(plan: Plan, device: torch.device) -> int:
    """The torch CPU threads a cell of this suite runs with on ``device`` (the suite's
    pinned count on a CPU, else the process's setting), as its fingerprint records."""
    return pinned_threads(plan.suite, device) or torch.get_num_threads()


def stored_device_threads(records: list[CellRecord]) -> tuple[str | None, int | None]:
    """(device, threads) the stored cells agree on; None for either where they differ
    or nothing is stored. A GPU's fingerprint names the card; the option is ``cuda``."""
    devices = {r.fingerprint.get("device") for r in records}
    threads = {r.fingerprint.get("threads") for r in records}
    device = next(iter(devices)) if len(devices) == 1 else None
    thread = next(iter(threads)) if len(threads) == 1 else None
    if device is not None and device != "cpu":
        device = "cuda"
    return device, thread if isinstance(thread, int) else None


def suite_argument(plan: Plan) -> str:
    """The suite's name when it is a shipped suite, else its folder."""
    return plan.suite.cli_name


def reproduce_command(plan: Plan, device: str | None, threads: int | None,
                      batch: int | None, data_dir: Path | None) -> str:
    """``sparsebench reproduce`` with every option that changes this plan's numbers;
    an option that is None is left out (the run did not say it)."""
    args = ["sparsebench", "reproduce", "--suite", suite_argument(plan), "--tier", plan.tier]
    if device is not None:
        args += ["--device", device]
    if threads is not None:
        args += ["--threads", str(threads)]
    if batch is not None:
        args += ["--batch", str(batch)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    for key, values in plan.where.items():
        for value in values:
            args += ["--where", f"{key}={value_text(value)}"]
    if plan.whole is not None and plan.seeds != plan.whole.seeds:
        args += ["--seeds", ",".join(map(str, plan.seeds))]
    for key, value in plan.overrides.items():
        args += ["--set", f"{key}={value_text(value)}"]
    return shlex.join(args)


def command_for(run: RunResult, runner: Runner) -> str:
    """The "Reproduce with" command of a run: what a training run ran with, or, for a
    report from the store, the device and threads its cells' fingerprints agree on (the
    batch size is not stored, so it is left out)."""
    plan = run.plan
    if runner.execute:
        return reproduce_command(plan, str(runner.device), run_threads(plan, runner.device),
                                 runner.batch_size, runner.data_dir)
    device, threads = stored_device_threads(run.all_records)
    return reproduce_command(plan, device, threads, None, runner.data_dir)
