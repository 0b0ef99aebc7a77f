"""The summary at the top of a report: a few sentences generated from its verdicts, never
written by hand (docs/verdicts.md, "What a report shows first").

Per family (the claims, the sizes they imply, each table) how many verdicts are
supported, contradicted and inconclusive, and how many of the write-up's checks against
itself hold; for each table column with contradicted numbers the range of reproduced −
reported over them, with its direction; the contradicted claims by id; and how many
verdicts this suite cannot test or leaves to another tier; and how many inconclusive
verdicts no number of seeds could settle (the write-up's number is too uncertain, by its
own spread or, for runs that print none, by ours), which more runs of this suite would
not change; and how many verdicts a settle run decided with added seeds; and which
configurations' seeds mix regimes (a per-seed choice, such as a calibrated lambda, that
not all seeds made alike); and the inconclusive claims the fewest added seeds could settle.
"""

from __future__ import annotations

from collections import Counter

from ..stats.questions import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from .verdict import NOT_COMPARABLE, NOT_RUN, NOT_TESTABLE, TableResult, Verdict, fmt


def _tally(verdicts: list[Verdict]) -> str:
    counts = Counter(v.verdict for v in verdicts)
    judged = [f"{counts[k]} {k}" for k in (SUPPORTED, CONTRADICTED, INCONCLUSIVE)]
    rest = [f"{counts[k]} {k}" for k in (NOT_TESTABLE, NOT_COMPARABLE, NOT_RUN) if counts[k]]
    return ", ".join(judged) + (f" ({', '.join(rest)})" if rest else "")


def column_gaps(result: TableResult) -> list[str]:
    """One phrase per column with contradicted numbers: how far and which way."""
    out = []
    for col in result.spec.columns:
        effects = [cell.verdict.evidence["effect"]
                   for (_, key), cell in result.cells.items()
                   if key == col.key and cell.verdict is not None
                   and cell.verdict.verdict == CONTRADICTED
                   and "effect" in cell.verdict.evidence]
        if not effects:
            continue
        total = sum(1 for (_, key), cell in result.cells.items()
                    if key == col.key and cell.verdict is not None)
        low, high = min(effects), max(effects)
        way = ("below" if high < 0 else "above" if low > 0 else "off")
        span = fmt(abs(low), ".3g") if low == high else (
            f"{fmt(min(abs(low), abs(high)), '.3g')} to {fmt(max(abs(low), abs(high)), '.3g')}"
            if way != "off" else f"{fmt(low, '+.3g')} to {fmt(high, '+.3g')}")
        where = f"{span} {way} the write-up" if way != "off" else f"{span} from the write-up"
        out.append(f"{col.label}: {len(effects)} of {total} reproduced numbers contradict "
                   f"the write-up's, {where}")
    return out


def _undecidable(verdicts: list[Verdict]) -> str:
    kinds = Counter(v.evidence["undecidable"] for v in verdicts
                    if v.verdict == INCONCLUSIVE and v.evidence.get("undecidable"))
    n = sum(kinds.values())
    if not n:
        return ""
    own, imputed = kinds.get("reported", 0), n - kinds.get("reported", 0)
    why = ("the write-up's own spread is too wide" if not imputed else
           "the write-up's runs print no spread, and ours, imputed to them, is too wide"
           if not own else
           f"{own} by the write-up's own spread, {imputed} by ours imputed to runs that "
           "print none")
    return f" ({n} of the inconclusive ones no number of our seeds can settle: {why})"


# seeds per configuration beyond which the summary does not offer a claim as cheap to
# settle: settle's own default ceiling (sparsebench settle --max-seeds)
CHEAP_SEEDS = 30


def cheapest(claims: list[Verdict], settle: str | None, most: int = 3) -> str | None:
    """The inconclusive claims (and sizes) that the fewest added seeds could settle, if
    their observed effects are the truth, and the command that adds them."""
    open_ = sorted((v.seeds_needed, v.id) for v in claims
                   if v.verdict == INCONCLUSIVE and v.kind != "internal"
                   and v.seeds_needed is not None and v.seeds_needed <= CHEAP_SEEDS)
    if not open_:
        return None
    listed = ", ".join(f"{vid} ({n})" for n, vid in open_[:most])
    run = (f" (adds them where they decide most and judges again at a corrected level: "
           f"{settle})" if settle else "")
    return (f"Fewest seeds to settle (seeds per configuration in all, for 80 % power, or all "
            f"agreeing for a share of seeds, at this report's corrected level, if the observed "
            f"effect is the truth; settle asks at its own, stricter level): {listed}{run}.")


def summary(claims: list[Verdict], tables: list[TableResult],
            settle: str | None = None) -> list[str]:
    """The report's summary sentences, most telling first. ``settle`` is the command that
    adds seeds to this tier's committed reference, where there is one."""
    lines = []
    # three families a reader takes apart: the claims tested on our runs, the sizes they
    # imply (their own Holm family), and the write-up checked against itself (no test)
    tested = [v for v in claims if v.kind not in ("size", "internal")]
    sizes = [v for v in claims if v.kind == "size"]
    internal = [v for v in claims if v.kind == "internal"]
    if tested:
        lines.append(f"Claims: {_tally(tested)}{_undecidable(tested)}.")
        against = [v.id for v in tested if v.verdict == CONTRADICTED]
        if against:
            lines.append(f"Contradicted claims: {', '.join(against)}.")
    if sizes:
        lines.append(f"Sizes the claims imply (ours against the write-up's difference): "
                     f"{_tally(sizes)}{_undecidable(sizes)}.")
        wrong = [f"{v.id.rsplit('/', 1)[0]} ({v.evidence.get('compared', '')})"
                 for v in sizes if v.verdict == CONTRADICTED]
        if wrong:
            lines.append(f"Contradicted sizes: {', '.join(wrong)}.")
    if internal:
        holds = sum(v.verdict == SUPPORTED for v in internal)
        fails = sum(v.verdict == CONTRADICTED for v in internal)
        lines.append(f"The write-up against itself: {holds} of {len(internal)} checks hold"
                     + (f", {fails} do not." if fails else "."))
    odd = [v.id for v in claims if v.writeup_ok is False]
    if odd:
        lines.append(f"The write-up's own numbers do not support: {', '.join(odd)}.")
    cheap = cheapest(claims, settle)
    if cheap:
        lines.append(cheap)
    for result in tables:
        verdicts = [c.verdict for c in result.cells.values() if c.verdict is not None]
        if not verdicts:
            continue
        gaps = column_gaps(result)
        lines.append(f"Table '{result.spec.title}': {_tally(verdicts)}{_undecidable(verdicts)}"
                     + (f"; {'; '.join(gaps)}." if gaps else "."))
    mixtures: dict[str, int] = {}
    for v in [*claims, *(v for r in tables for c in r.cells.values() for v in c.verdicts)]:
        for text in v.evidence.get("mixture", []):
            mixtures[text] = mixtures.get(text, 0) + 1
    for text, count in mixtures.items():
        lines.append(f"Mixed regimes: {text}; {count} verdicts rest on these seeds.")
    settled = [v for v in [*claims, *(v for r in tables for c in r.cells.values()
                                      for v in c.verdicts)] if "settled" in v.evidence]
    if settled:
        decided = sum(v.evidence["settled"]["decided"] for v in settled)
        looks = settled[0].evidence["settled"]["looks"]
        lines.append(f"Settled with added seeds: {decided} of the {len(settled)} verdicts a "
                     f"settle run targeted (inconclusive on the tier's own seeds) decided; "
                     f"each look at alpha/{looks}, family-wise up to 2 alpha with the first "
                     "read (see Provenance).")
    return lines
