"""The tables of a write-up, read from its Markdown text (for ``sparsebench init``).

A write-up's tables are the numbers a suite must reproduce first, and typing them into
claims.toml by hand is where copying errors creep in. This module finds every Markdown
pipe table (a header row, a ``|---|`` separator, body rows) outside fenced code, with the
heading it stands under and its line range, and cleans each cell: ``**bold**`` markers
off, UTF-8 read as cp1252 or Mac Roman ("Â±" for "±") mended, empty spacer rows
(``| | | |``) dropped. What a cell means is left to the caller (init_suite.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SEPARATOR_CELL = re.compile(r"^\s*:?-{3,}:?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
BOLD_LINE = re.compile(r"^\s*\*\*(.+?)\*\*\s*:?\s*$")  # "**Top-3 (by Val CE):**"
FENCE = re.compile(r"^\s*(```|~~~)")
NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True)
class Table:
    """One pipe table: the cleaned heading above it (with a bold caption line between, if
    any), its 1-based line range, its header cells and its body rows (line, cells)."""

    heading: str
    caption: str
    first_line: int
    last_line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]

    @property
    def title(self) -> str:
        return ": ".join(t for t in (self.heading, self.caption) if t) or \
            f"Table at line {self.first_line}"


def demojibake(text: str) -> str:
    """Mend UTF-8 that was decoded as cp1252 or Mac Roman ("Â±" -> "±", "â€”" -> "—",
    "Œª" -> "λ"), one run of non-ASCII characters at a time, so that a mended run
    beside a genuine "±" or "Δ" leaves the genuine one alone."""
    def mend(m: re.Match) -> str:
        run = m.group()
        for encoding in ("cp1252", "mac_roman"):
            try:
                return run.encode(encoding).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        return run
    return NON_ASCII_RUN.sub(mend, text)


def clean(text: str) -> str:
    """A cell or heading as a reader sees it: mojibake mended, bold markers and emoji off,
    spaces collapsed."""
    text = demojibake(text).replace("**", "").replace("__", "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Cf", "Cs"))
    return re.sub(r"\s+", " ", text).strip()


def split_row(line: str) -> list[str]:
    """The raw cells of a pipe row; a ``|`` inside backticks or ``$...$`` maths, or
    escaped as ``\\|``, stays in its cell ("$5" is a price, not maths)."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells, cell, quote = [], [], ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cell.append(body[i:i + 2])
            i += 2
            continue
        if ch == quote:
            quote = ""
        elif not quote and (ch == "`" or (ch == "$" and _opens_maths(body, i))):
            quote = ch
        if ch == "|" and not quote:
            cells.append("".join(cell))
            cell = []
        else:
            cell.append(ch)
        i += 1
    cells.append("".join(cell))
    return [c.replace("\\|", "|") for c in cells]


def _opens_maths(body: str, i: int) -> bool:
    """Whether the ``$`` at ``i`` opens inline maths: a closing ``$`` follows, and the
    next character is neither a space nor a digit (a price: "$5 | $10")."""
    nxt = body[i + 1:i + 2]
    return bool(nxt) and not nxt.isspace() and not nxt.isdigit() and "$" in body[i + 1:]


def _is_separator(line: str) -> bool:
    if "-" not in line:
        return False
    cells = split_row(line)
    return all(SEPARATOR_CELL.match(c) for c in cells) and len(cells) >= 1


def _fit(cells: list[str], width: int) -> list[str]:
    """A row cut or padded to the header's width (a stray pipe joins the last cell)."""
    if len(cells) > width:
        return [*cells[:width - 1], "|".join(cells[width - 1:])]
    return cells + [""] * (width - len(cells))


def _caption(lines: list[str], header: int) -> str:
    """A bold line just above a table ("**Top-3 (by Val CE):**"): the table's own title
    within its section."""
    k = header - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    m = BOLD_LINE.match(lines[k]) if k >= 0 else None
    return clean(m.group(1)).rstrip(":").strip() if m else ""


def find_tables(text: str) -> list[Table]:
    """Every pipe table of ``text``, in order."""
    lines = text.splitlines()
    tables: list[Table] = []
    heading, fenced = "", False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            heading = clean(m.group(2))
        elif (not fenced and "|" in line and i + 1 < len(lines)
              and "|" in lines[i + 1] and _is_separator(lines[i + 1])):
            header = [clean(c) for c in split_row(line)]
            width = len(header)
            rows, j = [], i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                if not _is_separator(lines[j]):
                    cells = [clean(c) for c in _fit(split_row(lines[j]), width)]
                    if any(cells):
                        rows.append((j + 1, cells))
                j += 1
            if width >= 2 and rows:
                tables.append(Table(heading, _caption(lines, i), i + 1, j, header, rows))
            i = j
            continue
        i += 1
    return tables
