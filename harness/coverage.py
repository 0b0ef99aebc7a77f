"""Coverage of a write-up: every number in its text, and where the suite uses it.

A number (``81.22``, ``1e-3``, ``2,236``, ``99.995%``) is covered when, in this order:

1. a reported table cell of claims.toml prints it (its mean or its spread): the cell is
   judged, and checked by the write-up checks (write_up_checks.py);
2. a claim quotes it (the number as printed, in the claim's quote);
3. a claim, a margin or a forensics entry takes its value (``value = 90.0``, ``by``,
   ``right = "79"``);
4. suite.toml states it: the write-up's settings (``[scale]``) or the text of ``[choices]``
   (what the suite chose where the write-up left it open, beside the write-up's figure);
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

from .errors import SpecError
from .specs import Strict, reported_str
from .suite import REPO_ROOT, Suite, _validated

NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
                    r"(?:[eE][-+]?\d+)?%?|(?<![\w.\d])\.\d+")


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
    clean = text.replace(",", "").replace("\u2212", "-").rstrip("%").lstrip("+")
    try:
        return Decimal(clean).normalize()
    except InvalidOperation:
        return None


# Markdown structure, not content: an ordered list's "3." and a heading's "### 4.2 ..."
STRUCTURE = re.compile(r"^\s*(?:#+\s*(?:\*\*)?)?(?:\d+\.)+\d*\s")


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


def find_writeup(suite: Suite, path: str | None = None) -> Path:
    """The write-up's text: ``path``, else ``$SPARSEBENCH_WRITEUPS/<file>``, else
    ``../shared/seeds/<file>`` beside the repository."""
    name = suite.claims.source.file
    candidates = [Path(path)] if path else [
        *([Path(os.environ["SPARSEBENCH_WRITEUPS"]) / name]
          if os.environ.get("SPARSEBENCH_WRITEUPS") else []),
        REPO_ROOT.parent / "shared" / "seeds" / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecError(suite.folder / "claims.toml", "source.file",
                    f"write-up {name!r} not found (looked in: "
                    f"{', '.join(str(c) for c in candidates)}); give --writeup PATH")


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
                values = {v for v in map(value_of, NUMBER.findall(text)) if v is not None}
                uses.append(("table", f"table {table.id} / {row.label} / {key}", values, ""))
    for claim in claims.claim:
        uses.append(("quote", f"claim {claim.id}", set(), claim.quote))
    for claim in claims.claim:
        fields = [getattr(claim, k, None) for k in ("value", "by", "margin", "left", "right",
                                                    "tol")]
        text = " ".join(str(f) for f in fields if f is not None)
        values = {v for v in map(value_of, NUMBER.findall(text)) if v is not None}
        uses.append(("value", f"claim {claim.id} (its numbers)", values, ""))
    for metric, entry in claims.forensics.items():
        text = " ".join(str(x) for x in (entry.step, entry.low, entry.high) if x is not None)
        values = {v for v in map(value_of, NUMBER.findall(text)) if v is not None}
        uses.append(("value", f"forensics.{metric}", values, ""))
    scale = " ".join(str(v) for v in (spec.scale.params.values() if spec.scale else ()))
    uses.append(("scale", "suite.toml [scale]", {v for v in map(value_of, NUMBER.findall(
        scale)) if v is not None}, ""))
    for key, text in spec.choices.items():
        uses.append(("value", f"suite.toml [choices] {key}",
                     {v for v in map(value_of, NUMBER.findall(text)) if v is not None}, ""))
    return uses


def coverage(suite: Suite, writeup: Path) -> list[Occurrence]:
    """Every number of the write-up with what uses it ('' when nothing does)."""
    uses = _uses(suite)
    excuses = load_excuses(suite).excuse
    out = []
    for line, text, context, whole in numbers_in(writeup.read_text(encoding="utf-8")):
        value = value_of(text)
        used = next((where for kind, where, values, quote in uses
                     if (kind == "quote" and _quoted(text, quote))
                     or (kind == "table" and _rounds_to(value, text, values))
                     or (kind == "scale" and value in values)
                     or (kind == "value" and value in values and not _small(text))), "")
        if not used:
            used = next((f"excused: {e.why}" for e in excuses if e.covers(value, whole)), "")
        out.append(Occurrence(line, text, context, used))
    return out


def _quoted(number: str, quote: str) -> bool:
    """The number's value stands in the quote as a number of its own ('99.9950%' is the
    quote's '99.995%'; signs aside)."""
    value = value_of(number.lstrip("+-\u2212"))
    return any(value_of(m.group().lstrip("+-\u2212")) == value
               for m in NUMBER.finditer(quote))


def _rounds_to(value: Decimal | None, text: str, values: set[Decimal]) -> bool:
    """A number printed with decimals is a table value rounded to its digits ('8.404' is
    the table's 8.403860); whole numbers must match exactly (a '3' is no rounded 2.7)."""
    if value is None:
        return False
    if value in values:
        return True
    digits = text.rstrip("%").partition(".")[2]
    if not digits.isdigit():
        return False
    half = Decimal(5) * Decimal(10) ** -(len(digits) + 1)
    return any(abs(v - value) <= half for v in values)


def _small(text: str) -> bool:
    """A whole number below 10: found in a claim's numbers or the choices' text by
    coincidence as often as not, so only a quote, a table cell, [scale] or an excuse
    covers it."""
    value = value_of(text)
    return "." not in text and value is not None and abs(value) < 10


def share_covered(found: list[Occurrence]) -> float:
    return sum(bool(o.used_by) for o in found) / len(found) if found else 1.0
