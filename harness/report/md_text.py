"""Text into Markdown so that it reads back as the same text, and stays readable.

A backslash goes only before what CommonMark (and GitHub's tables and strikethrough)
would otherwise read as markup: ``<`` before a tag or autolink, ``&`` that would form an
entity, backticks, ``*``, ``~`` and ``_`` that could open or close emphasis, ``]`` that
would close a link, ``|`` in a table cell, a trailing `` #`` and a leading ``#``, ``>``,
``=``, list marker or reference definition. Everything else, such as ``<=``, ``->``,
``R&D``, ``a * b`` and ``sparsity_mean``, is left as it is. HTML entities are never
used: a Markdown file is also read in a terminal.
"""

from __future__ import annotations

import re
import string
import unicodedata

_NEWLINE = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_PUNCT = frozenset(string.punctuation)  # what a backslash escapes in CommonMark
# a line that starts with these is a heading, quote, setext underline, list or thematic break
_BLOCK_START = re.compile(r"[#>=]|[-+](?=[ \t-]|$)|\d{1,9}(?=[.)](?:[ \t]|$))")
_CLOSING_HASHES = re.compile(r"[ \t](#+)$")  # a heading's optional closing sequence


def one_line(text: object) -> str:
    """The text on one line, as Markdown would show it: line breaks become spaces, and
    the whitespace around it (which Markdown drops) goes."""
    return _NEWLINE.sub(" ", str(text)).strip()


def _space(ch: str) -> bool:
    """CommonMark's Unicode whitespace (the ends of the text count as neither)."""
    return ch != "" and (ch in " \t\n\x0c\r" or unicodedata.category(ch) == "Zs")


def _escaped(s: str, i: int, table: bool, link_text: bool) -> bool:
    ch, prev = s[i], s[i - 1] if i else ""
    nxt = s[i + 1] if i + 1 < len(s) else ""
    if ch == "`" or (ch == "|" and table):
        return True
    if ch in "*~_":  # emphasis, strikethrough: only a delimiter flanked by space on both
        # sides, or "_" inside a word, can neither open nor close
        return not ((_space(prev) and _space(nxt))
                    or (ch == "_" and prev.isalnum() and nxt.isalnum()))
    if ch == "\\":  # before punctuation (or the end, where a template may add some)
        return nxt == "" or nxt in _PUNCT
    if ch == "<":  # an HTML tag, comment, declaration, processing instruction or autolink
        return nxt != "" and ((nxt.isascii() and nxt.isalpha()) or nxt in "/!?")
    if ch == "&":
        return _ENTITY.match(s, i) is not None
    if ch in "[]" and link_text:
        return True
    if ch == "]":  # "](" and "][" would close the text of a link
        return nxt != "" and nxt in "(["
    return False


def md_escape(text: object, *, table: bool = False, link_text: bool = False) -> str:
    """Make text inert in Markdown, on one line, rendering as ``one_line(text)``.
    ``table``: for a table cell (``|`` escaped too); ``link_text``: for the inside of
    ``[...]`` (an image's alt text), where every bracket is escaped."""
    s = one_line(text)
    out = ["\\" + ch if _escaped(s, i, table, link_text) else ch for i, ch in enumerate(s)]
    start = _BLOCK_START.match(s)
    if start:
        end = start.end()  # escape the marker's last character: "\#", "\-", "1\."
        at = end - 1 if not s[end - 1].isdigit() else end
        if not out[at].startswith("\\"):
            out[at] = "\\" + out[at]
    elif s.startswith("[") and "]:" in s and not out[0].startswith("\\"):
        out[0] = "\\["  # a reference definition "[label]: url" at the start of a line
    closing = _CLOSING_HASHES.search(s)
    if closing:  # in a heading, "title #" would lose its "#"
        out[closing.start(1)] = "\\#"
    return "".join(out)


def md_code(text: object) -> str:
    """Text as one inline code span, whatever backticks it holds."""
    s = _NEWLINE.sub(" ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s[:1] == "`" or s[-1:] == "`" or (s[:1] == s[-1:] == " " and s.strip()) \
        else ""
    return f"{fence}{pad}{s}{pad}{fence}"
