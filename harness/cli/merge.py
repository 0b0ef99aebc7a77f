"""``sparsebench merge --into DB SRC [SRC ...]``: one store from stores written on several
machines or clusters (the rules are in merge.py)."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from ..errors import SparsebenchError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("merge", help="merge result stores from several machines into one "
                                     "(refused whole when two copies of a cell differ)")
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC",
                   help="stores to read (never written)")
    p.add_argument("--into", type=Path, required=True, metavar="DB",
                   help="the store to merge into (made when missing)")
    p.add_argument("--prefer", choices=["finished"], default=None,
                   help="finished: where one copy of a cell finished and the other failed, "
                        "keep the finished one (two finished copies that differ still "
                        "refuse the merge)")
    p.add_argument("--dry-run", action="store_true",
                   help="say what would be merged and write nothing")
    p.set_defaults(handler=cmd_merge)
    return p


def cmd_merge(args: argparse.Namespace) -> int:
    from ..run.runner import store_lock
    from ..run.store import Store, check_store_path

    into = args.into
    check_store_path(into)
    _check_paths(into, args.sources)
    with ExitStack() as stack:
        sources = [stack.enter_context(Store(path, readonly=True)) for path in args.sources]
        locked = False
        if not args.dry_run and into.is_file():
            stack.enter_context(store_lock(into))
            locked = True
        merge = _plan(into, sources, args.prefer == "finished")
        if not args.dry_run and not locked:  # a new store: made only now nothing conflicts
            stack.enter_context(store_lock(into))
            if into.is_file():  # made by another process meanwhile: plan against it
                merge = _plan(into, sources, args.prefer == "finished")
        _print_plan(merge, into, args.dry_run)
        if args.dry_run:
            return 0
        from ..run import merge as merging

        with Store(into) as target:
            written = merging.apply(merge, target, sources)
    print(f"wrote {_what(written, len(merge.meta))} to {into} (one transaction)")
    return 0


def _check_paths(into: Path, sources: list[Path]) -> None:
    """Each source once, none of them the store merged into."""
    seen: dict[Path, Path] = {}
    target = into.resolve()
    for path in sources:
        resolved = path.resolve()
        if resolved == target:
            raise SparsebenchError(f"{path}: is the store merged into (--into {into}); give "
                                   "only the other stores as sources")
        if resolved in seen:
            raise SparsebenchError(f"{path}: given twice as a source (also as {seen[resolved]})")
        seen[resolved] = path


def _plan(into: Path, sources: list, prefer_finished: bool):
    """The merge plan against the store at ``into`` (read-only, or none yet); conflicts
    refuse the merge here, before anything is written."""
    from ..run import merge as merging
    from ..run.store import Store

    with ExitStack() as stack:
        target = stack.enter_context(Store(into, readonly=True)) if into.is_file() else None
        merge = merging.plan(target, sources, prefer_finished)
    if merge.conflicts:
        for conflict in merge.conflicts:
            print(f"sparsebench: error: merge: conflict: {conflict.line()}", file=sys.stderr)
        hint = "" if prefer_finished else (
            "; where a finished copy should win over a failed one, add --prefer finished")
        raise SparsebenchError(
            f"merge refused: {_count(len(merge.conflicts), 'conflict', 'conflicts')} (cells "
            f"or meta entries whose copies differ, listed above); nothing was written to "
            f"{into}{hint}")
    return merge


def _print_plan(merge, into: Path, dry_run: bool) -> None:
    from tabulate import tabulate

    rows = merge.summary()
    sources = ", ".join(str(p) for p in merge.sources)
    print(f"{'would merge' if dry_run else 'merging'} {sources} into {into}:")
    if rows:
        print(tabulate(rows, headers=["suite", "stage", "added", "replaced (failed by "
                                      "finished)", "identical", "failed left out"]))
    else:
        print("no cells in the sources")
    if merge.meta or merge.meta_same:
        added = ", ".join(merge.meta) or "none"
        print(f"meta entries added: {added}; identical: {merge.meta_same}")
    if dry_run:
        print(f"dry run: would write {_what(len(merge.write), len(merge.meta))}; nothing "
              "written")


def _what(cells: int, meta: int) -> str:
    return f"{_count(cells, 'cell', 'cells')} and {_count(meta, 'meta entry', 'meta entries')}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
