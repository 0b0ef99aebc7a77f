"""Compact table of SPARLING pilot logs (pilots/sparling_pilot.py CSVs), one row per run.

A pilot's question is usually "did it learn the order, and did it keep it once the
density fell?", so per run: the best validation exact accuracy and its step (when it
learned), the last validation row (what is left), the final density over the motif
minimum (how far annealing got), and the test scores. A run still going, or killed,
has no test row: its density is the layer's at its last validation, marked ``*``.

    python pilots/summarize.py runs/*.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HEADER = ("run", "steps", "best val exact @ step", "last val exact/edit/multiset",
          "density/min", "test exact/edit/multiset")


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _triple(row: dict | None) -> str:
    if row is None:
        return "-"
    return "/".join(f"{float(row[k]):.1f}" for k in ("exact", "edit", "multiset"))


def summarize(path: Path) -> tuple[str, ...]:
    """One table row for one pilot log."""
    rows = read_rows(path)
    val = [r for r in rows if r["split"] == "val"]
    test = next((r for r in rows if r["split"] == "test"), None)
    if not val:
        return (path.stem, "0", "-", "-", "-", _triple(test))
    best = max(val, key=lambda r: (float(r["exact"]), -int(r["step"])))
    last = val[-1]
    ratio = (f"{float(test['density_over_min']):.2f}" if test
             else f"{float(last['density_over_min']):.2f}*")
    return (path.stem, last["step"], f"{float(best['exact']):.1f} @ {best['step']}",
            _triple(last), ratio, _triple(test))


def table(rows: list[tuple[str, ...]]) -> str:
    """Aligned plain-text columns (the first left-aligned, the rest right)."""
    everything = [HEADER, *rows]
    widths = [max(len(r[i]) for r in everything) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in everything]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="summarize", description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, nargs="+")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.csv if not p.is_file()]
    if missing:
        print(f"summarize: error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(table([summarize(p) for p in args.csv]))
    print("density/min: measured on the test set; * the layer's, at the last validation "
          "(no test row yet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
