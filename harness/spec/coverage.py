"""Coverage of a write-up: every number in its text, and where the suite uses it.

A number (``81.22``, ``1e-3``, ``2,236``, ``99.995%``) is covered when, in this order:

1. a reported table cell of claims.toml prints it (its mean or its spread, or a number
   with more digits that it rounds): the cell is judged, and checked by the write-up
   checks (write_up_checks.py);
2. a claim quotes it (by value; a whole number below 10 with the word after it);
3. a claim or a margin takes its value (``value = 90.0``, ``by``, ``right = "79"``);
4. the suite states it: the write-up's settings (``[scale]``, its tuning trials, the runs
   behind its spreads) or the text of ``[choices]`` (what the suite chose where the
   write-up left it open, beside the write-up's figure);
5. ``coverage.toml`` beside claims.toml excuses it, with a reason: its value, or every
   number on a line a pattern matches (a heading, a reference list, an arXiv id).

Anything else is uncovered: a number of the write-up that no part of the suite looks at.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import Field, model_validator

from ..errors import SpecError
from .schemas import Strict, reported_str
from .suite import REPO_ROOT, Suite, _validated

# a number on its own: not part of a word ("MNIST-1D", "60k", "x2"), thousands grouped
# only from a non-zero lead ("2,236", never "0,100,200" as one number), and not the
# digits of a name ("LeNet-5", "Top-5", "GPT-2"), though a range's ("3-5") are
NUMBER = re.compile(r"(?<![\w.])(?<![A-Za-z]-)[-+\u2212]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?"
                    r"(?:[eE][-+]?\d+)?(?:%|[kMB](?![a-zA-Z]))?(?![\w]|\.\d)"
                    r"|(?<![\w.\d])\.\d+(?![\w])")


class Excuse(Strict):
    """Numbers of the write-up the suite leaves out on purpose: these values, or every
    number on a line that ``pattern`` matches (a heading, a reference list), or both."""

    numbers: list[str] = []  # as printed in the write-up
    pattern: str | None = None  # a regular expression searched in the number's line
    why: str = Field(min_length=1)

    @model_validator(mode="after")
    def _something(self) -> Excuse:
        if not self.numbers and self.pattern is None:
            raise ValueError("an excuse names numbers, a pattern, or both")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"pattern is not a regular expression: {err}") from None
        return self

    def covers(self, value: Decimal | None, line: str) -> bool:
        return ((not self.numbers or value in {value_of(n) for n in self.numbers})
                and (self.pattern is None or re.search(self.pattern, line) is not None))


class CoverageSpec(Strict):
    excuse: list[Excuse] = []


@dataclass(frozen=True)
class Occurrence:
    line: int
    text: str  # the number as printed
    context: str  # the words around it
    used_by: str  # "" when uncovered


def value_of(text: str) -> Decimal | None:
    """'2,236' -> 2236, '99.995%' -> 99.995, '−0.06' -> -0.06, '1e-3' -> 0.001."""
    clean = text.replace(",", "").replace("\u2212", "-").rstrip("%kMB").lstrip("+")
    try:
        return Decimal(clean).normalize()
    except InvalidOperation:
        return None


# Markdown structure, not content: an ordered list's "3." and a heading's "### 4.2 ..."
STRUCTURE = re.compile(r"^\s*(?:\d+\.\s|#+\s*(?:\*\*)?(?:\d+\.)*\d+\.?\s)")


def numbers_in(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, number as printed, context, the whole line) of every number, leaving
    out the numbering of headings and ordered lists."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        skip = STRUCTURE.match(line)
        for m in NUMBER.finditer(line):
            if skip and m.end() <= skip.end():
                continue
            start, end = max(m.start() - 40, 0), min(m.end() + 40, len(line))
            out.append((lineno, m.group(), line[start:end].strip(), line))
    return out


def _values(text: str) -> set[Decimal]:
    """The values of every number in ``text``."""
    return {v for v in map(value_of, NUMBER.findall(text)) if v is not None}


def writeup_places(name: str, folder: Path | None = None) -> list[Path]:
    """Where a write-up named ``name`` is looked for, in order: the suite ``folder``
    (where ``sparsebench init`` copies it), ``$SPARSEBENCH_WRITEUPS``, then
    ``../shared/seeds/`` beside the repository (`sparsebench validate` looks there too)."""
    return [*([folder / name] if folder is not None else []),
            *([Path(os.environ["SPARSEBENCH_WRITEUPS"]) / name]
              if os.environ.get("SPARSEBENCH_WRITEUPS") else []),
            REPO_ROOT.parent / "shared" / "seeds" / name]


def find_writeup(suite: Suite, path: str | None = None) -> Path:
    """The write-up's text: ``path``, else ``<file>`` in the suite folder (where
    ``sparsebench init`` copies it), else ``$SPARSEBENCH_WRITEUPS/<file>``, else
    ``../shared/seeds/<file>`` beside the repository."""
    name = suite.claims.source.file
    candidates = [Path(path)] if path else writeup_places(name, suite.folder)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecError(suite.folder / "claims.toml", "source.file",
                    f"write-up {name!r} not found (looked in: "
                    f"{', '.join(str(c) for c in candidates)}); copy it into the suite "
                    "folder or give --writeup PATH")


def load_excuses(suite: Suite) -> CoverageSpec:
    path = suite.folder / "coverage.toml"
    if not path.is_file():
        return CoverageSpec()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(path, "", f"not valid TOML: {err}") from None
    return _validated(path, CoverageSpec, data)


def _uses(suite: Suite) -> list[tuple[str, str, set[Decimal], str]]:
    """(kind, where, values, text) of every place the suite states numbers, in the order
    the module docstring gives."""
    claims, spec = suite.claims, suite.spec
    uses = []
    for table in claims.table:
        for row in table.row:
            for key, reported in row.reported.items():
                text = reported_str(reported)
                uses.append(("table", f"table {table.id} / {row.label} / {key}", set(), text))
            label = value_of(row.label) if NUMBER.fullmatch(row.label.strip()) else None
            if label is not None:
                uses.append(("label", f"table {table.id} / row {row.label}", {label}, ""))
    for claim in claims.claim:
        uses.append(("quote", f"claim {claim.id}", set(), claim.quote))
    for claim in claims.claim:
        fields = [getattr(claim, k, None) for k in ("value", "by", "margin", "left", "right",
                                                    "tol")]
        text = " ".join(str(f) for f in fields if f is not None)
        values = _values(text)
        uses.append(("value", f"claim {claim.id} (its numbers)", values, ""))
    scale = " ".join(str(v) for v in (spec.scale.params.values() if spec.scale else ()))
    uses.append(("scale", "suite.toml [scale]", _values(scale), ""))
    # run counts cover a number only where the write-up says what it counts
    counts = {"claims.toml [source] reported_n": (claims.source.reported_n,
                                                   r"(different |random )?(seeds|runs)"),
              "suite.toml [scale] tuning_trials": (spec.scale.tuning_trials if spec.scale
                                                   else None, r"trials")}
    for where, (count, words) in counts.items():
        if count is not None:
            uses.append(("count", where, {Decimal(count)}, words))
    grids = {"[factors]": spec.factors, **{f"[[grid]] {g.name}": g.factors for g in spec.grid}}
    for name, factors in grids.items():
        values = {value_of(str(v)) for vs in factors.values() for v in vs
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        uses.append(("value", f"suite.toml {name}", {v for v in values if v is not None}, ""))
    for key, text in spec.choices.items():
        uses.append(("value", f"suite.toml [choices] {key}",
                     _values(text), ""))
    return uses


def coverage(suite: Suite, writeup: Path) -> list[Occurrence]:
    """Every number of the write-up with what uses it ('' when nothing does)."""
    uses = _uses(suite)
    excuses = load_excuses(suite).excuse
    out = []
    for line, text, context, whole in numbers_in(writeup.read_text(encoding="utf-8")):
        value = value_of(text)
        used = next((where for kind, where, values, quote in uses
                     if (kind == "quote" and _quoted(text, quote, whole))
                     or (kind == "table" and _rounds_to(value, text, quote)
                         and not (_small(text) and "." not in text
                                  and not whole.lstrip().startswith("|")))
                     or (kind == "scale" and value in values)
                     or (kind == "count" and value in values
                         and re.search(re.escape(text) + r"\s+" + quote, whole) is not None)
                     or (kind == "label" and value in values and whole.lstrip().startswith("|"))
                     or (kind == "value" and value in values and not _small(text))), "")
        if not used:
            used = next((f"excused: {e.why}" for e in excuses if e.covers(value, whole)), "")
        out.append(Occurrence(line, text, context, used))
    return out


def _quoted(number: str, quote: str, line: str) -> bool:
    """The number's value stands in the quote as a number of its own ('99.9950%' is the
    quote's '99.995%'; signs aside). A whole number below 10 also needs the word after it
    in the write-up ('3 seeds', not the '3' of 'layer 3')."""
    value = value_of(number.lstrip("+-\u2212"))
    if not any(value_of(m.group().lstrip("+-\u2212")) == value
               for m in NUMBER.finditer(quote)):
        return False
    if not _small(number):
        return True
    after = re.search(re.escape(number) + r"[\s\u00d7x]*([^\s\d.,;:)]+)", line)
    return after is not None and re.search(
        re.escape(number) + r"[\s\u00d7x]*" + re.escape(after.group(1)), quote,
        re.IGNORECASE) is not None


def _decimals(text: str) -> int:
    digits = text.rstrip("%").partition(".")[2]
    return len(digits) if digits.isdigit() else 0


def _rounds_to(value: Decimal | None, text: str, cell: str) -> bool:
    """The number is one a table cell prints: the same value, or, printed with decimals,
    a rounding of a cell number printed with more ('8.404' of the cell's 8.403860; a
    one-decimal '0.5' is no rounding of a cell's '0.5' spread elsewhere unless equal)."""
    if value is None:
        return False
    found = [(value_of(t), _decimals(t)) for t in NUMBER.findall(cell)]
    if any(v == value for v, _ in found):
        return True
    places = _decimals(text)
    if not places:
        return False
    half = Decimal(5) * Decimal(10) ** -(places + 1)
    return any(v is not None and d > places and abs(v - value) <= half for v, d in found)


def _small(text: str) -> bool:
    """A whole number below 10: found in a claim's numbers or the choices' text by
    coincidence as often as not, so only a quote, a table cell, [scale] or an excuse
    covers it (a table cell only from a table's line, or where it is printed with
    decimals: the '8' of '8 heads' is not the spread of a cell's '2,236 ± 8')."""
    value = value_of(text)
    return value is not None and value == value.to_integral_value() and abs(value) < 10


def share_covered(found: list[Occurrence]) -> float:
    return sum(bool(o.used_by) for o in found) / len(found) if found else 1.0
