"""``sparsebench validate``: every problem of each suite folder in one pass, without
importing torch or running anything (the checks are in validate.py)."""

from __future__ import annotations

import argparse

from ..errors import SparsebenchError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="check suite folders (suite.toml, claims.toml, the "
                                        "task module, the write-up) without running anything")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH",
                   help="a suite under suites/ or a path to a suite folder (repeatable; "
                        "default: every suite)")
    p.set_defaults(handler=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    """Per suite, "<name>: ok", or "<name>: N problems" and one indented line per problem
    (file: key: message). Exit 2 when any suite has a problem, so that a commit hook or a
    CI step stops on it; the problems are the command's output, so they go to stdout."""
    from ..spec.suite import available_suites
    from ..spec.validate import suite_problems

    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    invalid = 0
    for name in names:
        label, problems = suite_problems(name)
        if not problems:
            print(f"{label}: ok")
            continue
        invalid += 1
        print(f"{label}: {len(problems)} problem{'s' if len(problems) > 1 else ''}")
        for file, key, message in problems:
            print(f"  {file}: {key}: {message}" if key else f"  {file}: {message}")
    if invalid:
        print(f"{invalid} of {len(names)} suites have problems")
    return 2 if invalid else 0
