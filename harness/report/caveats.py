"""Caveats: a choice of the suite that a verdict could rest on, named wherever it could.

Some of what a suite chooses where the write-up is silent is not neutral: a prior built
into a model (e.g. position features that encode the data's geometry) can decide whether
a claim about something else reproduces. suite.toml declares each such choice once::

    [[caveat]]
    choice = "decoder_readout"          # a key of [choices]
    label = "a prior in the decoder"    # a few words, beside each verdict it touches
    metrics = ["e2e_acc", "e2e_err"]    # what it could move
    text = "one sentence a reader needs beside the verdict"

and the report states it in full once, under Caveats, and its label beside every claim
and every table that reads one of those metrics. Which claims and tables those are is
derived here from claims.toml, never listed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.schemas import ClaimsSpec, NotTestableClaim, SuiteSpec


@dataclass(frozen=True)
class Caveat:
    choice: str
    label: str
    text: str
    metrics: tuple[str, ...]
    claims: tuple[str, ...]  # ids of the claims that read one of the metrics
    tables: tuple[str, ...]  # ids of the tables with a column that reads one


def claim_metrics(claim: object) -> set[str]:
    """The metrics a claim reads (a not-testable claim: those of what it becomes when run)."""
    if isinstance(claim, NotTestableClaim):
        return claim_metrics(claim.when_run) if claim.when_run is not None else set()
    metric = getattr(claim, "metric", None)
    return {metric} if metric else set()


def caveats(spec: SuiteSpec, claims: ClaimsSpec) -> list[Caveat]:
    """Every declared caveat with the claims and tables it touches, in declaration order."""
    out = []
    for c in spec.caveat:
        touched = set(c.metrics)
        out.append(Caveat(
            choice=c.choice, label=c.label, text=c.text, metrics=tuple(c.metrics),
            claims=tuple(cl.id for cl in claims.claim if claim_metrics(cl) & touched),
            tables=tuple(t.id for t in claims.table
                         if any(col.metric in touched for col in t.columns))))
    return out


def for_claim(found: list[Caveat], verdict_id: str) -> list[Caveat]:
    """The caveats of a claim's verdict (a size verdict ``<claim>/size`` shares its claim's)."""
    claim = verdict_id.split("/", 1)[0]
    return [c for c in found if claim in c.claims]


def for_table(found: list[Caveat], table_id: str) -> list[Caveat]:
    return [c for c in found if table_id in c.tables]
