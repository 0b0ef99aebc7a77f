"""What the landing page (``index.html``) shows, one card per suite: the reference tier
with its scale and provenance, every verdict counted, the write-up's headline claims
(``headline = true`` in claims.toml) with one line of evidence each, and the other tiers
rendered beside it (the quick re-run).

The page is built from the report models of the command that writes it, grouped by
suite, and lists the other suite reports found in the output folder (an earlier
command's) from their summaries on disk (``SUMMARY``), so that none is left unlinked.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..judge.verdict import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_COMPARABLE,
    NOT_RUN,
    NOT_TESTABLE,
    SUPPORTED,
    Verdict,
    p_text,
)
from .headlines import HeadlineClaim
from .model import VERDICT_ORDER, ReportModel

# One sentence per outcome, in the words of docs/writing-a-suite.md ("Verdicts").
LEGEND = {
    SUPPORTED: "The numbers bear the claim out: its test is decisive in the claim's favour "
               "at a Holm-adjusted p below alpha (a table number: the 90 % interval of "
               "reproduced − reported lies inside ±margin).",
    CONTRADICTED: "The numbers go against the claim: its test is decisive the other way (a "
                  "table number: the 95 % interval of reproduced − reported lies entirely "
                  "outside ±margin).",
    INCONCLUSIVE: "Decisive neither way at the corrected level; the reason says about how "
                  "many of our seeds would settle it, or that none can.",
    NOT_COMPARABLE: "The tier runs other settings than the write-up states (its suite's "
                    "[scale]) and the verdict depends on them: counted on its own, never as "
                    "supported or contradicted, its reason names the differences and the "
                    "tiers that would test it.",
    NOT_TESTABLE: "Nothing this suite measures can check the statement (an explanation, an "
                  "opinion, a setting out of reach); it is listed with its reason.",
    NOT_RUN: "The cells the claim or number needs have no result: not run yet, every "
             "seed failed, or no run measured it.",
}
assert list(LEGEND) == VERDICT_ORDER  # every outcome explained, in the report's order

EVIDENCE_CHARS = 180  # the evidence line's length before "…" (the page ellipsises too)
SUMMARY = "summary.json"  # in a report's own folder <suite>-<tier>/: what the index lists
_TITLE = re.compile(r"<title>(.*?) — tier (.*?)</title>", re.S)


@dataclass
class Headline:
    """One verdict of a headline claim as the landing page lists it: a claim with
    ``for_each`` gives a row per value, its quote shown once, on the first."""

    id: str
    quote: str  # the write-up's words; "" on a for_each claim's later rows
    label: str  # "seq_len = 64" for a for_each claim's row, else ""
    verdict: str
    evidence: str  # one line: a short form of the reason
    reason: str  # the whole reason (the line's tooltip)


@dataclass
class SuiteCard:
    suite: str
    title: str
    writeup: str
    reference_tier: str | None  # suite.toml's `reference`
    reference: ReportModel | None  # the report of that tier, when the index has it
    runs: list[ReportModel] = field(default_factory=list)  # the other tiers (the quick re-run)
    headline: list[Headline] = field(default_factory=list)
    headline_tier: str | None = None  # the tier the headline verdicts are from
    headline_note: str = ""  # why there are none, when there are none
    missing_reference: str = ""  # why the card has no reference ...
    missing_command: str = ""  # ... and the command that writes it

    @property
    def rendered(self) -> list[ReportModel]:
        """Its reports: the reference first."""
        return ([self.reference] if self.reference else []) + self.runs


def suite_cards(models: list[ReportModel]) -> list[SuiteCard]:
    """The models grouped by suite, in the order the suites first appear."""
    groups: dict[str, list[ReportModel]] = {}
    for m in models:
        groups.setdefault(m.suite, []).append(m)
    return [_card(group) for group in groups.values()]


def _card(models: list[ReportModel]) -> SuiteCard:
    first = models[0]
    tier = first.reference_tier
    reference = next((m for m in models if tier is not None and m.tier == tier), None)
    runs = [m for m in models if m is not reference]
    card = SuiteCard(first.suite, first.title, first.writeup, tier, reference, runs)
    if reference is None:
        card.missing_reference, card.missing_command = _missing_reference(first)
    shown = reference or runs[0]
    card.headline_tier = shown.tier
    claims = shown.headlines
    if claims is None:
        card.headline_note = "The suite's claims.toml could not be read for its headline claims."
    elif not claims:
        card.headline_note = ("No headline claims are marked yet (headline = true in "
                              "claims.toml).")
    card.headline = headline_rows(claims or [], shown.claims)
    return card


def _missing_reference(model: ReportModel) -> tuple[str, str]:
    """Why a suite's card has no reference, and the command that makes one."""
    name = model.cli_name or model.suite
    tier = model.reference_tier
    if tier is None:
        return ("No reference tier yet: name the tier that is the write-up's experiment "
                "(reference = \"<tier>\" in suite.toml) and write its results with",
                f"sparsebench regress --update --suite {shlex.quote(name)} --tier <tier>")
    if model.reference_committed:
        return (f"The reference of tier {tier} is committed but not rendered in this index; "
                "render it with", f"sparsebench reproduce --suite {shlex.quote(name)}")
    return (f"No reference run of tier {tier} yet: write it with",
            f"sparsebench regress --update --suite {shlex.quote(name)} --tier {tier}")


def headline_rows(claims: list[HeadlineClaim], verdicts: list[Verdict]) -> list[Headline]:
    """A row per verdict of each headline claim that the report judged."""
    by_id = {v.id: v for v in verdicts}
    rows = []
    for claim in claims:
        found = [(by_id[vid], label) for vid, label in claim.members if vid in by_id]
        for i, (v, label) in enumerate(found):
            rows.append(Headline(v.id, "" if i else claim.quote, label, v.verdict,
                                 short_evidence(v), v.reason))
    return rows


_NOT_COMPARABLE = re.compile(
    r"^Not comparable at tier \S+, which runs .*?: (?P<test>the tiers? [^.]*? would test it|"
    r"no tier of this suite runs the write-up's settings)\. At this tier \((?P<here>[^)]*)\)")


def short_evidence(v: Verdict, limit: int = EVIDENCE_CHARS) -> str:
    """One line of a verdict's reason: the numbers compared (reproduced vs reported, a vs
    b) and the corrected p of a judged test; for a verdict left to another tier, that
    tier and what this one showed; cut at ``limit`` characters with "…"."""
    if v.verdict == NOT_COMPARABLE:
        found = _NOT_COMPARABLE.match(v.reason)
        text = (f"Not comparable at this tier: {found['test']} (here: {found['here']})"
                if found else "Not comparable at this tier")
    else:
        text = first_clause(v.reason)
        if v.p_holm is not None:
            text += f"; adjusted p = {p_text(v.p_holm, v.alpha or 0.05)}"
    return ellipsis(text, limit)


def first_clause(text: str) -> str:
    """The text up to its first "; " or end of sentence outside brackets."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in ";." and text[i + 1:i + 2] in (" ", ""):
            return text[:i]
    return text


def ellipsis(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


@dataclass
class ReportFile:
    """A suite report in the output folder that the index's command did not render: its
    summary as written beside it, or (a report without one) its page's title alone."""

    stem: str  # <suite>-<tier>: the file names <stem>.html and <stem>.md
    suite: str
    title: str
    tier: str
    counts: dict[str, int] | None = None  # None: not known (no summary on disk)
    table_counts: dict[str, int] | None = None
    subset: str = ""

    @property
    def total_counts(self) -> dict[str, int]:
        counts, table = self.counts or {}, self.table_counts or {}
        return {k: counts.get(k, 0) + table.get(k, 0) for k in VERDICT_ORDER}


def summary(model: ReportModel) -> dict:
    """What a later index needs to list the report of ``model``."""
    return {"suite": model.suite, "title": model.title, "tier": model.tier,
            "counts": model.counts, "table_counts": model.table_counts,
            "subset": model.subset}


def earlier_reports(out_dir: Path, shown: set[str]) -> list[ReportFile]:
    """Every suite report in ``out_dir`` whose stem is not in ``shown``, by stem: a
    ``<stem>.html`` beside its ``<stem>.md`` (so no other page counts)."""
    found = []
    for page in sorted(out_dir.glob("*.html")):
        stem = page.stem
        if stem in shown or not (out_dir / f"{stem}.md").is_file():
            continue
        entry = _from_summary(out_dir / stem / SUMMARY, stem) or _from_title(page, stem)
        if entry is not None:
            found.append(entry)
    return found


def _from_summary(path: Path, stem: str) -> ReportFile | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReportFile(stem, str(data["suite"]), str(data["title"]), str(data["tier"]),
                          dict(data["counts"]), dict(data["table_counts"]),
                          str(data.get("subset", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, or unreadable: the page's title still names it


def _from_title(page: Path, stem: str) -> ReportFile | None:
    try:
        head = page.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    found = _TITLE.search(head)
    if found is None:
        return None
    tier = html.unescape(found.group(2))
    suite = stem.removesuffix(f"-{tier}")
    return ReportFile(stem, suite, html.unescape(found.group(1)), tier)
