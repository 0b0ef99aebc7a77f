"""What every command shares: the options, the plans a command line names, the runner and
the store it opens, the committed reference a report falls back on.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    from ..run.runner import Runner, RunResult
    from ..run.store import Store
    from ..spec.plan import Plan
    from ..spec.suite import Suite


DEFAULT_STORE = Path(".sparsebench") / "store.sqlite"


DEFAULT_OUT = Path("reports") / "out"


CELLS_FAILED = 3  # exit code: the command finished, but some cells or trials failed


PIPE_CLOSED = 141  # exit code: stdout was closed early (`| head`), 128 + SIGPIPE as in shells


WRITING = ("report", "reproduce", "export")  # commands whose files a closed stdout must not stop


class _Parser(argparse.ArgumentParser):
    """Bad options are one line, as every other error: 'sparsebench: error: run: argument
    --threads: ...' (argparse's own error prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("sparsebench").strip()
        self.exit(2, f"sparsebench: error: {command + ': ' if command else ''}{message} "
                     f"(see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    """An option's count (threads, batch, workers): a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one of at "
                                         "least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not positive; give a whole number of at "
                                         "least 1")
    return value


def _positive_seconds(text: str) -> float:
    """A time in seconds: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text}: give a number of seconds above 0")
    return value


def _blocking_file(path: Path) -> Path | None:
    """The first of ``path`` and its parents that exists, when it is not a folder."""
    for part in [path, *path.parents]:
        if part.exists():
            return None if part.is_dir() else part
    return None


def _folder(text: str) -> Path:
    """--out of report and reproduce: a folder, or none yet (it is made)."""
    path = Path(text)
    blocking = _blocking_file(path)
    if blocking is not None:
        raise argparse.ArgumentTypeError(f"{blocking} is a file; give a folder for the reports "
                                         "(it is made when missing)")
    return path


def _file(text: str) -> Path:
    """--out of export: a file path, not a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file path such as "
                                         f"{path / 'results.csv'}")
    blocking = _blocking_file(path.parent)
    if blocking is not None:
        raise argparse.ArgumentTypeError(f"{blocking} is a file, not a folder to write {text} in")
    return path


def _common(p: argparse.ArgumentParser, many: bool = True) -> None:
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH",
                   help="a suite under suites/ or a path to a suite folder "
                        + ("(repeatable; default: every suite)" if many else ""))
    p.add_argument("--tier", help="a tier of the suite: smoke, quick, full or one of its own "
                   "(cpu, gpu, ...; `sparsebench list` shows them; default: the suite's default "
                   "tier, quick unless suite.toml says otherwise)")
    _store_option(p)


def _store_option(p: argparse.ArgumentParser) -> None:
    # None = not given on the command line: main() fills in $SPARSEBENCH_STORE or the
    # default, except for regress and verify, which then train in a fresh temporary store.
    p.add_argument("--store", type=Path, default=None,
                   help=f"SQLite result store (default: $SPARSEBENCH_STORE or {DEFAULT_STORE}; "
                        "regress, verify: a fresh temporary store unless --store is given)")


def _execution(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data folder (default: $SPARSEBENCH_DATA)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (recorded with every cell; bits depend on it)")
    p.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    p.add_argument("--batch", type=_positive_int, default=16, metavar="N",
                   help="train up to N cells as one batched model when the task allows it "
                        "(same numbers as one at a time; 1 turns batching off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--executor", choices=["local", "dask", "submitit"], default="local",
                   help="where cells run (default: in this process)")
    p.add_argument("--address", help="dask: scheduler address, e.g. tcp://host:8786 "
                                     "(default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=_positive_int, default=2,
                   help="dask LocalCluster worker processes")
    p.add_argument("--cell-timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help="store a cell that runs longer as failed and go on (default: no "
                        "limit)")
    p.add_argument("--cluster", choices=["slurm", "local", "debug"], default=None,
                   help="submitit: slurm (default when sbatch is found), local or debug")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=_folder, default=DEFAULT_OUT,
                   help="report folder (default: %(default)s)")


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--where", action="append", metavar="KEY=VALUE",
                   help="only the cells whose factor KEY (or grid) is VALUE (repeatable: "
                        "the same KEY twice is either value, different keys both)")
    p.add_argument("--seeds", metavar="LIST",
                   help="these seeds instead of the tier's, e.g. 0,1")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", dest="set_params",
                   help="run with parameter KEY (of [params]) at VALUE (repeatable); part of "
                        "each cell's identity and of the report's Reproduce line")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="a run-config TOML with set = {...}, where = {...}, seeds = [...]; "
                        "the command line's options win")


def _suites(args: argparse.Namespace) -> list[Suite]:
    from ..spec.suite import available_suites, load_suites

    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    return load_suites(names)


def _plans(args: argparse.Namespace, suites: list[Suite]) -> list[Plan]:
    """Each suite's plan at --tier, cut by --where/--seeds: every tier and every cut is
    checked before anything trains."""
    from ..spec.plan import resolve
    from ..spec.selection import narrow

    return [narrow(resolve(s, args.tier), getattr(args, "where", None),
                   getattr(args, "seeds", None), getattr(args, "set_params", None),
                   getattr(args, "config", None)) for s in suites]


def _runner(args: argparse.Namespace, store: Store, execute: bool = True) -> Runner:
    import torch

    from ..determinism import resolve_device
    from ..run.executors import make_executor
    from ..run.runner import Runner

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    executor = None
    if execute and getattr(args, "executor", "local") != "local":
        executor = make_executor(args.executor, args.address, args.workers,
                                 args.store.parent / "submitit", args.cluster,
                                 cell_timeout=getattr(args, "cell_timeout", None))
    data_dir = getattr(args, "data_dir", None) or (
        Path(os.environ["SPARSEBENCH_DATA"]) if os.environ.get("SPARSEBENCH_DATA") else None)
    return Runner(store, resolve_device(getattr(args, "device", "cpu"), _devices_here(args)),
                  data_dir,
                  execute=execute,
                  progress=execute and not getattr(args, "no_progress", False),
                  retry_failed=getattr(args, "retry_failed", False),
                  batch_size=getattr(args, "batch", 1), executor=executor,
                  sensitivity=getattr(args, "sensitivity", False),
                  cell_timeout=getattr(args, "cell_timeout", None))


def _require_store_or_references(args: argparse.Namespace, plans: list[Plan]) -> None:
    """`report` without a store renders committed references: an empty scratch store
    stands in (deleted at exit) when every plan has one; otherwise the missing store is
    an error."""
    import atexit

    from ..refs import reference
    from ..run.store import Store

    refs = [_load_reference(p.suite, p.tier) for p in plans]
    if not plans or not all(ref is not None and reference.stale(ref, p.suite) is None
                            for ref, p in zip(refs, plans, strict=True)):
        _require_store(args)
    folder = Path(tempfile.mkdtemp(prefix="sparsebench-empty-"))
    atexit.register(shutil.rmtree, folder, True)
    args.store = folder / "store.sqlite"
    Store(args.store).close()


def _require_store(args: argparse.Namespace) -> None:
    """Commands that read a store (report, forget, export) never create one: a missing
    store is bad input, named with the command that fills it."""
    if not args.store.is_file():
        fill = ["sparsebench", "run", *(a for s in args.suite or [] for a in ("--suite", s))]
        if getattr(args, "tier", None):
            fill += ["--tier", args.tier]
        raise SparsebenchError(f"{args.store}: no such store; fill it with: "
                               f"{shlex.join([*fill, '--store', str(args.store)])}")


def _update_command(plan: Plan) -> str:
    return shlex.join(["sparsebench", "regress", "--update", "--suite", plan.suite.cli_name,
                       "--tier", plan.tier])


@contextmanager
def _fresh_store(args: argparse.Namespace) -> Iterator[None]:
    """A regression check (regress, verify) trains afresh: without --store on the command
    line it writes to a new store in a temporary folder under .sparsebench/, deleted
    afterwards. $SPARSEBENCH_STORE is not used here, since a store that already holds the
    cells would turn the check into a re-read of old numbers."""
    if args.store is not None:
        yield
        return
    DEFAULT_STORE.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{args.command}-", dir=DEFAULT_STORE.parent))
    args.store, args.temporary_store = folder / "store.sqlite", True
    print(f"{args.command}: training afresh in {folder} (deleted afterwards; --store PATH "
          "reuses a store)")
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _from_reference(plan: Plan, stored: RunResult) -> tuple[RunResult, str]:
    """The run of ``plan`` read from the suite's committed reference (a scratch store
    filled from expected/<tier>.json, then with the cells the store holds, which win),
    with the line the report opens with; ``stored`` and "" when the suite ships none, or
    one made by other code (said on stdout)."""
    from ..refs import reference
    from ..run.runner import read
    from ..run.store import Store

    ref = _load_reference(plan.suite, plan.tier)
    if ref is None:
        return stored, ""
    why = reference.stale(ref, plan.suite)
    if why:
        print(f"{plan.suite.name}: the committed reference of tier {plan.tier} is not used: "
              f"{why} (sparsebench regress --update --suite {plan.suite.cli_name} --tier "
              f"{plan.tier} --store <a store that holds the tier>)")
        return stored, ""
    with tempfile.TemporaryDirectory(prefix="sparsebench-reference-") as folder, \
            Store(Path(folder) / "store.sqlite") as scratch:
        reference.fill(scratch, ref, plan.suite)
        for record in stored.all_records:
            scratch.put(record)
        result = read(scratch, plan)
    heading = reference.heading(ref)
    if stored.all_records:
        heading += (f" {len(stored.all_records)} cells and trials come from the store "
                    "instead, where it holds them.")
    return result, heading


def _load_reference(suite: Suite, tier: str) -> dict | None:
    """The committed reference of ``tier`` (reference.load): a truncated, hand-broken or
    hand-edited file is a one-line error naming the command that rewrites it, not a
    traceback, and a JSON list is not skipped in silence."""
    from ..refs import reference

    return reference.load(suite, tier)


def _devices_here(args: argparse.Namespace) -> bool:
    """Whether cells run on this machine's devices (not on Dask workers or SLURM jobs,
    which may have a GPU that this machine lacks)."""
    return getattr(args, "executor", "local") == "local"
