"""``sparsebench compare A B``: two result sets of one suite's tier side by side, per
configuration and metric, each row with the test its data call for (compare.py) and
one Holm family over the table; printed, and written as Markdown or HTML with ``--out``.
The sides are stores or committed references (compare_sources.py)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from ..errors import SparsebenchError

CHANGED_EXIT = 1  # as regress: a number moved
SUFFIXES = (".md", ".html")
HEADERS = ["configuration", "metric", "A", "B", "B − A [95 % CI]", "test", "p", "Holm p",
           "marker", "note"]


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="two result sets side by side per configuration and "
                                       "metric, with a paired or Welch test and Holm")
    p.add_argument("a", metavar="A", help="store:PATH (or a store's PATH), ref (the committed "
                                          "expected/<tier>.json) or ref@REV (that file at a "
                                          "git revision)")
    p.add_argument("b", metavar="B", nargs="?",
                   help="the same forms; left out with --by machine")
    p.add_argument("--suite", required=True, metavar="NAME_OR_PATH",
                   help="the suite (a name under suites/ or a path to a suite folder)")
    p.add_argument("--tier", help="the tier (default: the suite's default tier)")
    p.add_argument("--where", action="append", metavar="KEY=VALUE",
                   help="only these configurations (repeatable, as for run)")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="only this metric (repeatable; default: every metric but images)")
    p.add_argument("--only-changed", action="store_true",
                   help="show only the changed rows (the correction still counts every test)")
    p.add_argument("--by", choices=["machine"],
                   help="machine: compare A's cells of two machine classes with each other")
    p.add_argument("--out", type=Path, metavar="FILE.md|FILE.html",
                   help="also write the table to this file (Markdown or self-contained HTML)")
    return p


def cmd_compare(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ..refs import compare
    from ..refs import compare_sources as sources
    from ..spec.plan import resolve
    from ..spec.selection import narrow
    from ..spec.suite import load_suite

    _check_options(args)
    suite = load_suite(args.suite)
    plan = narrow(resolve(suite, args.tier), args.where, None)
    shown = [n for n, m in suite.spec.metrics.items() if m.kind != "image"]
    unknown = [m for m in args.metric or [] if m not in shown]
    if unknown:
        raise SparsebenchError(f"--metric {unknown[0]}: suite {suite.name} has no such metric "
                               f"to compare; its metrics: {', '.join(shown)}")
    a = sources.read(sources.parse(args.a), "A", plan)
    if args.by == "machine":
        a, b = sources.by_machine(a)
    else:
        b = sources.read(sources.parse(args.b), "B", plan)
    lengths: dict[str, int] = {}
    for c in [*a.cells, *b.cells]:
        for name, value in c.metrics.items():
            if isinstance(value, list):
                lengths[name] = max(lengths.get(name, 0), len(value))
    keys = compare.metric_keys(suite.spec.metrics, args.metric or [], lengths)
    result = compare.table(sources.configurations(plan), keys, a.finished(), b.finished())
    rows = [r for r in result.rows if r.marker == compare.CHANGED or not args.only_changed]
    heading = f"{suite.name}, tier {plan.tier}" + (f" ({plan.subset})" if plan.subset else "")
    lines = [a.line(), b.line()]
    summary = _summary(result, len(rows) if args.only_changed else None)
    if args.out is not None:  # the file first: a closed pipe must not stop it
        _write(args.out, heading, _command(args), lines, rows, result, summary)
    print(f"compare {heading}")
    print("\n".join(lines))
    print(tabulate([_cells(r) for r in rows], headers=HEADERS, disable_numparse=True,
                   maxcolwidths=[None, None, None, None, None, None, None, None, None, 48]))
    for line in _one_side(result):
        print(line)
    print(summary)
    if args.out is not None:
        print(f"wrote {args.out}")
    return CHANGED_EXIT if any(r.marker == compare.CHANGED for r in result.rows) else 0


def _check_options(args: argparse.Namespace) -> None:
    if args.by == "machine" and args.b is not None:
        raise SparsebenchError("compare --by machine: give one side (A), whose cells are split "
                               "by machine class")
    if args.by is None and args.b is None:
        raise SparsebenchError("compare: give two sides, A and B (store:PATH, ref or ref@REV), "
                               "or one with --by machine")
    out = args.out
    if out is not None and (out.suffix not in SUFFIXES or out.is_dir()):
        raise SparsebenchError(f"--out {out}: give a file ending in .md or .html")


def _cells(row) -> list[str]:
    from ..refs.compare import p_cell

    return [row.config, row.metric, row.a.text(), row.b.text(), row.diff_text(), row.test or "—",
            p_cell(row.p), p_cell(row.p_holm), row.marker, row.note]


def _one_side(result) -> list[str]:
    from ..refs.compare import count

    return [f"only in {side}: {config} ({count(n, 'finished seed')})"
            for side, found in (("A", result.only_a), ("B", result.only_b))
            for config, n in found]


def _summary(result, shown: int | None) -> str:
    """'7 rows: 1 changed, 5 identical, 1 timing; Holm over 1 test at alpha 0.05'; with
    ``shown`` (--only-changed) how many of them the table shows."""
    from ..refs.compare import ALPHA, count

    counts = ", ".join(f"{n} {marker}" for marker, n in result.counts().items()) or "none"
    one_side = len(result.only_a) + len(result.only_b)
    only = f" ({shown} shown: --only-changed)" if shown is not None else ""
    return (f"{count(len(result.rows), 'row')}{only}: {counts}; Holm over "
            f"{count(result.family, 'test')} at alpha {ALPHA:g}"
            + (f"; {count(one_side, 'configuration')} on one side only" if one_side else ""))


def _command(args: argparse.Namespace) -> str:
    argv = getattr(args, "argv", None)
    return shlex.join(["sparsebench", *argv]) if argv else "sparsebench compare"


def _write(path: Path, heading: str, command: str, lines: list[str], rows, result,
           summary: str) -> None:
    """The table as Markdown or self-contained HTML (reports/templates/compare.*.j2)."""
    import jinja2

    from ..refs.compare import METHOD
    from ..report.md_text import md_code, md_escape
    from ..report.render import TEMPLATES, md_table
    from ..run import atomic

    html = path.suffix == ".html"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=html,
                             undefined=jinja2.StrictUndefined, trim_blocks=html,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(md=md_escape, code=md_code)
    body = [_cells(r) for r in rows]
    text = env.get_template(f"compare{path.suffix}.j2").render(
        heading=heading, command=command, sides=lines, headers=HEADERS,
        rows=body, marker_at=HEADERS.index("marker"), one_side=_one_side(result),
        summary=summary, method=METHOD, table=md_table)
    if not html:
        text = re.sub(r"\n{3,}", "\n\n", text)  # the blank lines a skipped block leaves
    try:
        atomic.write_text(path, text)
    except OSError as err:
        raise SparsebenchError(f"--out {path}: cannot be written ({err.strerror})") from None
