"""The ``sparsebench`` command line: the parser of every subcommand and the dispatch to
the module that runs it (one module per command group in this package).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import SparsebenchError
from ..newsuite import init_suite
from . import compare, merge, recipe, settle, validate

if TYPE_CHECKING:  # for type hints only
    pass
from .common import (
    DEFAULT_OUT,
    DEFAULT_STORE,
    PIPE_CLOSED,
    WRITING,
    _common,
    _devices_here,
    _execution,
    _file,
    _out,
    _Parser,
    _positive_seconds,
    _runner,
    _selection,
    _store_option,
    _update_command,
)
from .manage import cmd_coverage, cmd_export, cmd_forget
from .regress import cmd_regress
from .run import _run_all, cmd_list
from .verify import cmd_verify


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

    settle.add_parser(sub)
    p = sub.choices["settle"]
    _store_option(p)
    _execution(p)
    p = recipe.add_parser(sub)
    _store_option(p)
    _execution(p)

    validate.add_parser(sub)
    merge.add_parser(sub)
    compare.add_parser(sub)

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
    p.add_argument("--seeds", metavar="LIST",
                   help="with --tier: only the cells of these seeds, e.g. 0,2 (to train a "
                        "few seeds again, say after a timing taken beside other work)")
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv  # for the --retry-failed hint
    if hasattr(args, "store") and args.store is None and args.command not in ("regress",
                                                                              "verify"):
        args.store = Path(os.environ.get("SPARSEBENCH_STORE") or DEFAULT_STORE)
    try:
        if hasattr(args, "device"):  # bad input, before any store opens or anything trains
            from ..determinism import resolve_device
            resolve_device(args.device, _devices_here(args))
        if getattr(args, "store", None) is not None:
            from ..run.store import check_store_path
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
        from ..newsuite.scaffold import create

        for path in create(args.folder, args.writeup):
            print(f"wrote {path}")
        print(f"next: sparsebench reproduce --suite {args.folder} --tier smoke "
              "(then edit the three files; docs/writing-a-suite.md)")
        return 0
    if args.command == "init":
        return init_suite.cmd_init(args)
    if args.command == "settle":
        return settle.cmd_settle(args, _runner, _update_command)
    if args.command == "recipe":
        return recipe.cmd_recipe(args, _runner, _update_command)
    if args.command == "compare":
        return compare.cmd_compare(args)
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
