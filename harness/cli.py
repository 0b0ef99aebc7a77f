"""The ``sparsebench`` command: list, run, report, reproduce, regress, export, forget."""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

# Only the standard library at the top: `--help` and `--version` must not wait for torch.
# Each command imports the harness modules it needs.
from . import compare_cli, init_suite, merge_cli, recipe_cli, settle_cli, validate_cli
from .errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    from .plan import Plan
    from .report import ReportModel
    from .runner import Runner, RunResult
    from .store import CellRecord, Store
    from .suite import Suite

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


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="sparsebench",
        description="Re-run research claims about sparsity, aggregate seeds, judge claims.")
    top.add_argument("--version", action="version", version=f"sparsebench {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="suites, tiers and cell counts")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH")

    p = sub.add_parser("run", help="run suites (resuming from the store) and print a summary")
    _common(p)
    _execution(p)
    _selection(p)
    p.add_argument("--sensitivity", action="store_true",
                   help="also train the suite's [[sensitivity]] sweeps at this tier (the "
                        "report shows where the open choices land)")

    p = sub.add_parser("report", help="render reports from the store (no training)")
    _common(p)
    _out(p)
    _selection(p)

    p = sub.add_parser("reproduce", help="run every suite, then write reports/out/")
    _common(p)
    _execution(p)
    _out(p)
    _selection(p)

    p = sub.add_parser("regress", help="rerun a tier and compare with suites/*/expected/")
    _common(p)
    _execution(p)
    p.add_argument("--save-run", type=Path, default=None, metavar="DIR",
                   help="also write this run's numbers to DIR/<suite>-<tier>.json (the "
                        "format of expected/; e.g. to measure regress's error rates with "
                        "benchmarks/regress_error_rates.py)")
    p.add_argument("--update", action="store_true",
                   help="write the new numbers to suites/<name>/expected/<tier>.json")
    p.set_defaults(tier="quick")

    p = sub.add_parser("verify", help="re-run a random sample of a committed reference's "
                                      "cells and compare with suites/*/expected/<tier>.json")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH", required=True,
                   help="the suite (a name under suites/ or a path to a suite folder)")
    p.add_argument("--tier", help="the reference's tier (default: the suite's reference tier)")
    _store_option(p)
    _execution(p)
    p.add_argument("--sample", type=int, required=True, metavar="K",
                   help="how many of the reference's main cells to re-run")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random choice (default: %(default)s)")
    p.add_argument("--max-cell-seconds", type=_positive_seconds, default=None, metavar="N",
                   help="choose only among cells that took at most N s in the reference")

    settle_cli.add_parser(sub)
    p = sub.choices["settle"]
    _store_option(p)
    _execution(p)
    p = recipe_cli.add_parser(sub)
    _store_option(p)
    _execution(p)

    validate_cli.add_parser(sub)
    merge_cli.add_parser(sub)
    compare_cli.add_parser(sub)

    p = sub.add_parser("new", help="a new suite folder (suite.toml, claims.toml, task.py) "
                                   "that runs at once, to edit into a write-up's")
    p.add_argument("folder", type=Path, help="the folder to create, e.g. suites/my_suite")
    p.add_argument("--writeup", help="the write-up's file name (default: <folder name>.txt)")
    init_suite.add_parser(sub)

    p = sub.add_parser("forget", help="remove a suite's cells from the store")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH",
                   help="the suite whose cells to remove (required; repeatable)")
    p.add_argument("--tier", help="only the cells and tuning trials of this tier "
                                  "(default: every cell of the suite, stale ones included)")
    p.add_argument("--where", action="append", metavar="KEY=VALUE",
                   help="only the cells whose factor KEY (or grid) is VALUE (repeatable, "
                        "as for run); with --tier, every tuning trial of the groups the "
                        "kept cells need goes too (every trial of the tier when "
                        "[tuning] per is empty)")
    _store_option(p)
    p.add_argument("--yes", action="store_true",
                   help="remove them (without it: only say how many would go)")

    p = sub.add_parser("coverage", help="every number in a write-up and where the suite "
                                        "uses it (a table cell, a claim, a setting) or why "
                                        "it is left out; the share covered")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH",
                   help="a suite (repeatable; default: every suite)")
    p.add_argument("--writeup", metavar="PATH", help="the write-up's text (default: <file> "
                   "in the suite folder, $SPARSEBENCH_WRITEUPS or ../shared/seeds/; one suite "
                   "only)")
    p.add_argument("--all", action="store_true", help="list every number (default: the "
                   "uncovered ones and the counts)")

    p = sub.add_parser("export", help="write a tier's stored results as CSV or Parquet "
                                      "(one row per cell and metric)")
    _common(p)
    _selection(p)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv",
                   help="file format (default: %(default)s; parquet needs pyarrow)")
    p.add_argument("--out", type=_file, default=None, metavar="FILE",
                   help=f"one file for every suite named (default: one per suite, "
                        f"{DEFAULT_OUT}/<suite>-<tier>.<format>)")
    return top


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparsebench")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _suites(args: argparse.Namespace) -> list[Suite]:
    from .suite import available_suites, load_suites

    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    return load_suites(names)


def _plans(args: argparse.Namespace, suites: list[Suite]) -> list[Plan]:
    """Each suite's plan at --tier, cut by --where/--seeds: every tier and every cut is
    checked before anything trains."""
    from .plan import resolve
    from .selection import narrow

    return [narrow(resolve(s, args.tier), getattr(args, "where", None),
                   getattr(args, "seeds", None), getattr(args, "set_params", None),
                   getattr(args, "config", None)) for s in suites]


def _runner(args: argparse.Namespace, store: Store, execute: bool = True) -> Runner:
    import torch

    from .determinism import resolve_device
    from .executors import make_executor
    from .runner import Runner

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


def cmd_list(args: argparse.Namespace) -> int:
    """Every suite that loads, with its tiers. A suite that does not load is a row of its
    own and one error line on stderr; the others are listed all the same, and the exit
    code is then 2, so a script sees that something is wrong."""
    from tabulate import tabulate

    from .plan import resolve
    from .suite import available_suites, load_suite

    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    rows, errors = [], []
    for name in names:
        try:
            suite = load_suite(name)
            tiers = [(tier, *resolve(suite, tier).cell_count()) for tier in suite.tiers]
        except SparsebenchError as err:
            rows.append([name, "-", "", "", "does not load: see the error below"])
            errors.append(f"sparsebench: error: {err}")
            continue
        for tier, main, trials in tiers:
            default = " (default)" if tier == suite.spec.default_tier else ""
            rows.append([suite.name, tier + default, main, trials,
                         suite.spec.tiers[tier].description])
    print(tabulate(rows, headers=["suite", "tier", "cells", "tuning trials", "what"]))
    sys.stdout.flush()  # the table first, then the errors, also when both go to a terminal
    for line in errors:
        print(line, file=sys.stderr)
    return 2 if errors else 0


def _from_reference(plan: Plan, stored: RunResult) -> tuple[RunResult, str]:
    """The run of ``plan`` read from the suite's committed reference (a scratch store
    filled from expected/<tier>.json, then with the cells the store holds, which win),
    with the line the report opens with; ``stored`` and "" when the suite ships none, or
    one made by other code (said on stdout)."""
    import torch

    from . import reference
    from .runner import Runner
    from .store import Store

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
        reader = Runner(scratch, torch.device("cpu"), None, execute=False, progress=False)
        result = reader.run(plan)
    heading = reference.heading(ref)
    if stored.all_records:
        heading += (f" {len(stored.all_records)} cells and trials come from the store "
                    "instead, where it holds them.")
    return result, heading


def _load_reference(suite: Suite, tier: str) -> dict | None:
    """The committed reference of ``tier`` (reference.load): a truncated, hand-broken or
    hand-edited file is a one-line error naming the command that rewrites it, not a
    traceback, and a JSON list is not skipped in silence."""
    from . import reference

    return reference.load(suite, tier)


def _reference_plans(args: argparse.Namespace, suites: list[Suite]) -> list[Plan]:
    """`reproduce` without --tier also renders each suite's reference tier: from the store
    when it holds it, else from the committed reference."""
    from .plan import resolve

    if args.command != "reproduce" or args.tier is not None or getattr(args, "where", None) \
            or getattr(args, "seeds", None) or getattr(args, "set_params", None) \
            or getattr(args, "config", None):
        return []
    from .reference import path_for

    plans = []
    for s in suites:
        if not s.spec.reference or s.spec.reference == s.spec.default_tier:
            continue
        if not path_for(s, s.spec.reference).is_file():
            print(f"{s.name}: no committed reference of tier {s.spec.reference} yet "
                  f"(write it with: sparsebench regress --update --suite {s.cli_name} "
                  f"--tier {s.spec.reference})")
            continue
        plans.append(resolve(s, s.spec.reference))
    return plans


def _run_all(args: argparse.Namespace, render: bool) -> int:
    from .render import write_index
    from .runner import store_lock
    from .store import Store

    suites = _suites(args)
    plans = _plans(args, suites)  # every tier checked before training
    report_only = args.command == "report"
    if report_only and not args.store.is_file():
        _require_store_or_references(args, plans)
    models = []
    with store_lock(args.store, reader=report_only), \
            Store(args.store, readonly=report_only) as store:
        runner = _runner(args, store, execute=not report_only)
        try:
            models, failed = _run_plans(args, runner, plans, render)
        finally:
            runner.executor.close()
        references = _reference_plans(args, suites)
        if references:
            reader = _runner(args, store, execute=False)
            models += _run_plans(args, reader, references, render)[0]
    if render:
        print(f"wrote {write_index(models, args.out)}")
    _retry_hint(args, failed)
    return CELLS_FAILED if failed else 0


def _require_store_or_references(args: argparse.Namespace, plans: list[Plan]) -> None:
    """`report` without a store renders committed references: an empty scratch store
    stands in (deleted at exit) when every plan has one; otherwise the missing store is
    an error."""
    import atexit

    from . import reference
    from .store import Store

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


def _summarise_run(args: argparse.Namespace, plan: Plan, result: RunResult,
                   seconds: float) -> int:
    """Print what a run trained, read back and lost, one line per failed cell (its
    parameters and its error's first line); return how many failed."""
    failed = result.failed
    earlier = len(failed) - result.executed_failed
    print(f"\n{plan.suite.name}: {result.executed - result.executed_failed} cells and trials "
          f"trained, {result.read_back - earlier} read from {args.store}, {len(failed)} failed"
          + (f" ({earlier} of them read back)" if earlier else "") + f", {seconds:.1f} s")
    for record in failed:
        print(f"  failed: {_cell_label(plan, record)}: {_first_line(record.error)}")
    return len(failed)


def _cell_label(plan: Plan, record: CellRecord) -> str:
    keys = [*plan.factor_names, "seed"]
    if record.stage == "tune" and plan.tuning is not None:
        keys.append(plan.tuning.param)
    shown = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
             for k in keys if (v := record.params.get(k)) is not None]
    return " ".join([record.stage, *shown])


def _first_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0] if lines else "no reason recorded"


def _retry_hint(args: argparse.Namespace, failed: int) -> None:
    if not failed:
        return
    if getattr(args, "temporary_store", False):
        print(f"{failed} cells or trials failed (reasons above)")
        return
    again = [a for a in args.argv if a != "--retry-failed"] + ["--retry-failed"]
    print(f"{failed} cells or trials failed (reasons above); once the cause is fixed, run "
          f"them again with: sparsebench {shlex.join(again)}")


def _run_plans(args: argparse.Namespace, runner: Runner, plans: list[Plan],
               render: bool) -> tuple[list[ReportModel], int]:
    from .command import command_for
    from .render import terminal_summary, write_suite_report
    from .report import build

    models, failed = [], 0
    for plan in plans:
        start = time.perf_counter()
        result = runner.run(plan)
        heading = ""
        if not runner.execute and len(result.records) < plan.cell_count()[0]:
            result, heading = _from_reference(plan, result)  # the store lacks cells
        model = build(result, command_for(result, runner))
        if heading:
            from .reference import verify_command

            model.reference = heading
            model.verify = verify_command(plan.suite.cli_name, plan.tier)
        models.append(model)
        paths = write_suite_report(model, args.out) if render else {}  # before any output
        print(terminal_summary(model))
        if runner.execute:
            failed += _summarise_run(args, plan, result, time.perf_counter() - start)
        if render:
            print(f"wrote {paths['md']} and {paths['html']}")
    return models, failed


def cmd_regress(args: argparse.Namespace) -> int:
    from . import reference
    from . import regress as regress_mod
    from .plan import resolve
    from .runner import store_lock
    from .store import Store

    suites = _suites(args)
    plans = [resolve(s, args.tier) for s in suites]
    paths = [plan.suite.folder / "expected" / f"{plan.tier}.json" for plan in plans]
    missing = [(plan, path) for plan, path in zip(plans, paths, strict=True)
               if not path.is_file()]
    if missing and not args.update:  # before anything trains
        raise SparsebenchError("; ".join(
            f"{path}: no stored numbers for tier {plan.tier}; write them with: "
            f"{_update_command(plan)}" for plan, path in missing))
    if not args.update:  # a broken file, too, is said before anything trains
        for plan, path in zip(plans, paths, strict=True):
            _stored_numbers(plan, path)
    moved = failed = 0
    with _fresh_store(args), store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store)
        try:
            for plan, path in zip(plans, paths, strict=True):
                start = time.perf_counter()
                result = runner.run(plan)
                failed += _summarise_run(args, plan, result, time.perf_counter() - start)
                if args.update:  # with every record and where the run came from
                    _drop_if_broken(path, plan)
                    made = reference.make(result, _update_command(plan))
                    regress_mod.write(made, path)
                    wall = reference.duration(made["provenance"]["wall_s"])
                    print(f"{plan.suite.name}: wrote {path} ({len(made['records'])} records, "
                          f"{wall} of wall time)")
                    continue
                moved += _regress_one(args, runner, plan, result, path)
        finally:
            runner.executor.close()
    _retry_hint(args, failed)
    return 1 if moved else CELLS_FAILED if failed else 0


def _regress_one(args: argparse.Namespace, runner, plan: Plan, result, path: Path) -> int:
    """Compare one suite's fresh run with its stored numbers and print the outcome: 1 when
    numbers moved, else 0. Across machine classes a tuning group that picked another
    value has its main cells rerun with the stored pick (a noisy argmax is not a
    regression; the configuration it feeds is what a user relies on)."""
    from . import reference
    from . import regress as regress_mod

    stored = _stored_numbers(plan, path)
    spec = plan.suite.spec.metrics
    floors = {k: m.tolerance for k, m in spec.items()}
    deterministic = {k for k, m in spec.items() if m.deterministic}
    curves = {k for k, m in spec.items() if m.kind == "curve"}
    snap = regress_mod.snapshot(result, _update_command(plan))
    how, diffs = regress_mod.compare(stored, snap, floors, deterministic, curves)
    name = plan.suite.name
    changes = regress_mod.tuned_changes(stored, snap) if not how.exact else {}
    if changes:
        picks = "; ".join(f"[{g}] stored {a!r}, here {b!r}" for g, (a, b) in changes.items())
        print(f"{name}: tuning picked otherwise on this machine class ({picks}); the main "
              "cells are rerun with the stored picks")
        start = time.perf_counter()
        rerun = runner.run(plan, pinned=stored["tuned"])
        _summarise_run(args, plan, rerun, time.perf_counter() - start)
        result = rerun
        snap = regress_mod.snapshot(result, _update_command(plan))
        how, diffs = regress_mod.compare(stored, snap, floors, deterministic, curves)
    if args.save_run is not None:
        saved = args.save_run / f"{plan.suite.name}-{plan.tier}.json"
        regress_mod.write(reference.make(result, _update_command(plan)), saved)
        print(f"{name}: this run's numbers written to {saved}")
    print(f"{name}: {how.line()}")
    if not how.exact:
        same, total = regress_mod.identical(stored, snap)
        print(f"{name}: {same} of {total} numbers bit-identical; the rest judged by "
              f"distribution (family-wise false-alarm rate {regress_mod.drift.ALPHA:g})")
    if diffs:
        print(f"{name}: {len(diffs)} numbers moved ({how.mode} comparison against {path}):\n"
              f"{regress_mod.diff_table(diffs)}")
        note = regress_mod.code_note(stored, snap)
        if note:
            print(f"{name}: {note}; if the change was meant to move them, store the new "
                  f"numbers with: {_update_command(plan)}")
        return 1
    n = sum(len(c["metrics"]) for c in snap["cells"].values())
    print(f"{name}: {len(snap['cells'])} cells, {n} metrics match {path} ({how.mode} "
          "comparison)")
    return 0


def _stored_numbers(plan: Plan, path: Path) -> dict:
    """expected/<tier>.json as regress compares it; a file that does not read is a
    one-line error naming the command that rewrites it (harness/reference_file.py)."""
    from .reference_file import read_json

    return read_json(path, _update_command(plan), keys=("cells", "configs", "tuned"))


def _drop_if_broken(path: Path, plan: Plan) -> None:
    """``regress --update`` writes the file anew: one that does not read (truncated, not
    an object) has no provenance to carry over, so it goes, said on one line."""
    if not path.is_file():
        return
    try:
        _stored_numbers(plan, path)
    except SparsebenchError as err:
        print(f"{plan.suite.name}: replacing a file that does not read: {err}")
        path.unlink()


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


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run a random sample of a committed reference's cells (harness/verify.py)
    with their stored parameters, tuned values included, and compare every number."""
    from . import machine, reference, verify
    from .plan import make_cell, resolve
    from .runner import RunResult, store_lock
    from .store import Store

    if len(args.suite) != 1:
        raise SparsebenchError("verify: name one suite with --suite")
    if args.sample < 1:
        raise SparsebenchError(f"--sample {args.sample}: re-run at least 1 cell")
    suite = _suites(args)[0]
    tier = args.tier or suite.spec.reference
    if tier is None:
        raise SparsebenchError(f"{suite.folder / 'suite.toml'}: reference: the suite names no "
                               "reference tier; give one with --tier")
    plan = resolve(suite, tier)
    path, update = reference.path_for(suite, tier), _update_command(plan)
    ref = _load_reference(suite, tier)
    if ref is None:
        what = "holds no records (a regress snapshot)" if path.is_file() else "does not exist"
        raise SparsebenchError(f"{path}: no reference of tier {tier} to verify: the file "
                               f"{what}; write it with: {update}")
    why = reference.stale(ref, suite)
    if why:
        raise SparsebenchError(f"{path}: code: {why}, with: {update}")
    how, here = _verify_mode(args, suite, ref["records"])
    factors = verify.config_keys(plan)
    # exactly: only the cells made on this machine class; else every cell, by distribution
    pool = [r for r in ref["records"] if machine.comparison(r["fingerprint"], here).exact] \
        if how.exact else ref["records"]
    sample = verify.choose(pool, args.sample, args.seed, args.max_cell_seconds,
                           None if how.exact else factors)
    if not sample.chosen:
        if not sample.finished:
            raise SparsebenchError(f"{path}: records: no main cell of the reference finished")
        fastest = min(r["wall_s"] or 0 for r in verify.eligible(ref["records"]))
        what = ("finished cell of {} took that little (the fastest took" if how.exact
                else "configuration of {} took that little in every seed (the fastest cell "
                "took")
        raise SparsebenchError(f"--max-cell-seconds {args.max_cell_seconds:g}: no "
                               f"{what.format(path)} {fastest:.3g} s)")
    configs = None if how.exact else len(
        {verify.label(r["params"], factors) for r in sample.chosen})
    chosen = verify.describe(sample, args.sample, args.seed, args.max_cell_seconds, configs)
    print(f"{suite.name}: {chosen}")
    keys = [*factors, "seed"]
    cells = [make_cell(suite, r["stage"], r["params"]) for r in sample.chosen]
    for cell, stored in zip(cells, sample.chosen, strict=True):
        if cell.id != stored["id"]:
            raise SparsebenchError(
                f"{path}: records: cell {stored['id']} ({verify.label(stored['params'], keys)}) "
                f"has id {cell.id} today: what makes a cell's id (TASK_VERSION, the suite's "
                f"name, the id's recipe) changed since the reference was made; regenerate "
                f"it with: {update}")
    with _fresh_store(args), store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store)
        start = time.perf_counter()
        try:
            new = verify.rerun(runner, plan, cells)
        finally:
            runner.executor.close()
        result = RunResult(plan, [], new, runner.executed, runner.executed_failed)
        failed = _summarise_run(args, plan, result, time.perf_counter() - start)
    floors = verify.compared_metrics(suite)
    deterministic = {k for k, m in suite.spec.metrics.items() if m.deterministic}
    exact = [machine.comparison(s["fingerprint"], r.fingerprint).exact
             for s, r in zip(sample.chosen, new, strict=True)]
    if how.exact and not all(exact):
        ran = next(r.fingerprint for r, same in zip(new, exact, strict=True) if not same)
        raise SparsebenchError(
            f"the re-run cells ran on {machine.where(ran)}, another machine class than this "
            "process, which chose single cells for an exact "
            "comparison; run verify with --executor local, or with workers of this "
            "machine's class")
    print(f"{suite.name}: {how.line()}")
    rows = []
    if all(exact):
        for stored, record in zip(sample.chosen, new, strict=True):
            rows += verify.compare_cell(stored, record, floors,
                                        verify.label(stored["params"], keys))
    else:
        curves = {k for k, m in suite.spec.metrics.items() if m.kind == "curve"}
        rows = verify.compare_configs(sample.chosen, new, floors, deterministic, keys,
                                      factors, curves)
    modes = ["exact" if all(exact) else "statistical"] * len(new)
    print(verify.table(rows))
    print(f"{suite.name}: {verify.summary(rows, len(cells), modes)} against {path}")
    _retry_hint(args, failed)
    moved = any(r.verdict == verify.MOVED for r in rows)
    return 1 if moved else CELLS_FAILED if failed else 0


def _verify_mode(args: argparse.Namespace, suite, records: list[dict]):
    """How a re-run here would compare with the reference's records (harness/machine.py),
    known before anything runs: it decides whether cells or whole configurations are
    sampled."""
    import torch

    from . import machine
    from .determinism import fingerprint, resolve_device
    from .execute import pinned_threads

    device = resolve_device(getattr(args, "device", "cpu"), _devices_here(args))
    if args.threads:
        torch.set_num_threads(args.threads)
    here = {**fingerprint(device), "machine_class": machine.machine_class(device),
            "cpu": machine.cpu_model()}
    here["threads"] = pinned_threads(suite, device) or here["threads"]
    # a reference extended later (settle, recipe) may hold cells of several machine
    # classes: an exact comparison is possible when any was made on this one
    same = next((r["fingerprint"] for r in records
                 if machine.comparison(r["fingerprint"], here).exact), None)
    stored = same or next((r["fingerprint"] for r in records if r["stage"] == "main"), {})
    return machine.comparison(stored, here), here


def cmd_forget(args: argparse.Namespace) -> int:
    """Remove a suite's cells from the store: with --tier, the main cells and tuning trials
    of that tier (cut by --where) found in the store, what `report` would read; without,
    every cell stored under the suite's name whose parameters match --where, stale ones
    from older code included."""
    from .runner import Runner, store_lock
    from .selection import stored_filter
    from .store import Store

    if not args.suite:
        raise SparsebenchError("forget: name the suite with --suite (forget never removes "
                               "every suite at once)")
    suites = _suites(args)
    plans = _plans(args, suites) if args.tier else []
    wanted = [] if args.tier else [stored_filter(suite, args.where) for suite in suites]
    _require_store(args)
    with store_lock(args.store), Store(args.store) as store:
        chosen: dict[str, str] = {}  # cell id -> stage
        if args.tier:
            import torch

            reader = Runner(store, torch.device("cpu"), None, execute=False, progress=False)
            for plan in plans:
                chosen.update((r.id, r.stage) for r in reader.run(plan).all_records)
        else:
            for suite, test in zip(suites, wanted, strict=True):
                chosen.update((cell_id, stage) for cell_id, stage, params
                              in store.suite_cells(suite.name) if test(params))
        trials = sum(stage == "tune" for stage in chosen.values())
        what = (f"{len(chosen)} cells ({len(chosen) - trials} main, {trials} tuning trials) of "
                f"{', '.join(s.name for s in suites)}"
                + (f" tier {args.tier}" if args.tier else " (every tier)"))
        if not args.yes:
            print(f"would remove {what} from {args.store}; add --yes to remove them")
            return 0
        removed = store.delete(chosen)
    print(f"removed {removed} cells ({len(chosen) - trials} main, {trials} tuning trials) "
          f"from {args.store}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """One row per stored cell and metric of each suite's tier (harness/export.py)."""
    import pandas as pd
    import torch

    from .export import frame, require_engine, write
    from .runner import Runner
    from .store import Store

    require_engine(args.format)  # a missing pyarrow fails before the store is read
    suites = _suites(args)
    plans = _plans(args, suites)
    _require_store(args)
    with Store(args.store, readonly=True) as store:
        reader = Runner(store, torch.device("cpu"), None, execute=False, progress=False)
        tables = [frame(reader.run(plan)) for plan in plans]
    if args.out is not None:
        outputs = [(args.out, pd.concat(tables, ignore_index=True))]
    else:
        outputs = [(DEFAULT_OUT / f"{plan.suite.name}-{plan.tier}.{args.format}", t)
                   for plan, t in zip(plans, tables, strict=True)]
    for path, table in outputs:
        write(table, path, args.format)
        print(f"wrote {path}: {len(table)} rows, {table['cell_id'].nunique()} cells")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    """Per suite: the numbers of its write-up and what uses each. Exit 1 when a number is
    uncovered, so that a test or a CI step can hold a suite at 100 %."""
    from tabulate import tabulate

    from .coverage import coverage, find_writeup, share_covered

    suites = _suites(args)
    if args.writeup and len(suites) != 1:
        raise SparsebenchError("--writeup goes with one --suite")
    uncovered = 0
    for suite in suites:
        path = find_writeup(suite, args.writeup)
        found = coverage(suite, path)
        rows = [[o.line, o.text, o.context, o.used_by or "UNCOVERED"] for o in found
                if args.all or not o.used_by]
        covered = sum(bool(o.used_by) for o in found)
        uncovered += len(found) - covered
        print(f"{suite.cli_name}: {path}: {covered} of {len(found)} numbers covered "
              f"({100 * share_covered(found):.1f} %)")
        if rows:
            print(tabulate(rows, headers=["line", "number", "context", "used by"],
                           disable_numparse=True))
    return 1 if uncovered else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv  # for the --retry-failed hint
    if hasattr(args, "store") and args.store is None and args.command not in ("regress",
                                                                              "verify"):
        args.store = Path(os.environ.get("SPARSEBENCH_STORE") or DEFAULT_STORE)
    try:
        if hasattr(args, "device"):  # bad input, before any store opens or anything trains
            from .determinism import resolve_device
            resolve_device(args.device, _devices_here(args))
        if getattr(args, "store", None) is not None:
            from .store import check_store_path
            check_store_path(args.store)
        with _stdout_for(args.command) as out:
            code = _command(args)
            sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return PIPE_CLOSED if out.pipe_closed else code
    except SparsebenchError as err:
        print(f"sparsebench: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `sparsebench run ... | head`: the reader left; stop quietly like other tools.
        _discard_stdout()
        return PIPE_CLOSED
    except KeyboardInterrupt:
        if getattr(args, "temporary_store", False):
            print(f"\nsparsebench: interrupted; the fresh {args.command} store was deleted",
                  file=sys.stderr)
        elif getattr(args, "store", None) is None:  # list; regress before its store
            print("\nsparsebench: interrupted", file=sys.stderr)
        else:
            print(f"\nsparsebench: interrupted; finished cells are kept in {args.store}; run "
                  "the same command again to resume", file=sys.stderr)
        return 130


def _devices_here(args: argparse.Namespace) -> bool:
    """Whether cells run on this machine's devices (not on Dask workers or SLURM jobs,
    which may have a GPU that this machine lacks)."""
    return getattr(args, "executor", "local") == "local"


def _command(args: argparse.Namespace) -> int:
    if args.command == "list":
        return cmd_list(args)
    if args.command == "regress":
        return cmd_regress(args)
    if args.command == "verify":
        return cmd_verify(args)
    if args.command == "forget":
        return cmd_forget(args)
    if args.command == "new":
        from .scaffold import create

        for path in create(args.folder, args.writeup):
            print(f"wrote {path}")
        print(f"next: sparsebench reproduce --suite {args.folder} --tier smoke "
              "(then edit the three files; docs/writing-a-suite.md)")
        return 0
    if args.command == "init":
        return init_suite.cmd_init(args)
    if args.command == "settle":
        return settle_cli.cmd_settle(args, _runner, _update_command)
    if args.command == "recipe":
        return recipe_cli.cmd_recipe(args, _runner, _update_command)
    if args.command == "compare":
        return compare_cli.cmd_compare(args)
    if args.command == "export":
        return cmd_export(args)
    if args.command in ("validate", "merge"):
        return args.handler(args)
    if args.command == "coverage":
        return cmd_coverage(args)
    return _run_all(args, render=args.command in ("reproduce", "report"))


class _KeepWriting:
    """stdout of a command that writes files (WRITING): the reader leaving (`| head`)
    must not stop the files. Each write is flushed at once, so that a closed pipe shows
    here; from then on stdout goes to /dev/null, as CPython's documentation advises, and
    the command ends with PIPE_CLOSED once its files are written."""

    def __init__(self, stream: TextIO | None):
        self.stream = stream
        self.pipe_closed = False

    def write(self, text: str) -> int:
        if self.stream is not None and not self.pipe_closed:
            try:
                self.stream.write(text)
                self.stream.flush()
            except BrokenPipeError:
                self.pipe_closed = True
                _discard_stdout()
        return len(text)

    def flush(self) -> None:
        self.write("")

    def __getattr__(self, name: str):  # isatty, fileno, encoding, ...: the stream's
        return getattr(self.stream, name)


@contextmanager
def _stdout_for(command: str) -> Iterator[_KeepWriting]:
    """sys.stdout as a _KeepWriting for the commands that write files; for the others
    (``run ... | head`` stops quietly) stdout as it is."""
    if command not in WRITING:
        yield _KeepWriting(None)
        return
    out = _KeepWriting(sys.stdout)
    sys.stdout = out  # type: ignore[assignment]
    try:
        yield out
    finally:
        sys.stdout = out.stream


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what is still
    buffered raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
