"""What a verdict is: an outcome, the quote it answers and one sentence of reason.

Outcomes: supported, contradicted and inconclusive come from a test (or an exact
comparison); "not comparable" is a scale-dependent verdict at a tier below the
write-up's settings (scale.py); "not testable" and "not run" say why there is no test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..spec.schemas import TableSpec
from ..stats import core as stats
from ..stats.questions import CONTRADICTED, INCONCLUSIVE, SUPPORTED

NOT_TESTABLE, NOT_RUN = "not testable", "not run"
NOT_COMPARABLE = "not comparable"  # the tier differs from the write-up's settings (scale.py)
JUDGED = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)

# Seeds that would settle an inconclusive test at a given level: (count or None, sentence)
Need = Callable[[float], tuple[int | None, str]]
# The interval of a verdict's effect at a level, from the same test as its p (dual to it)
IntervalAt = Callable[[float], tuple[float, float]]


@dataclass
class Verdict:
    id: str
    kind: str
    quote: str
    verdict: str
    reason: str
    section: str = ""
    seeds_needed: int | None = None
    writeup: str | None = None  # the check on the write-up's own numbers, when there is one
    writeup_ok: bool | None = None
    # The test behind a judged verdict: the p of the outcome it reached (or of the nearer
    # one when inconclusive), before and after the report's Holm correction (correction.py)
    p: float | None = None
    p_holm: float | None = None
    alpha: float | None = None  # the level the corrected p was held to
    family: int | None = None  # the size of the Holm family it was corrected in
    need: Need | None = field(default=None, repr=False)
    interval_at: IntervalAt | None = field(default=None, repr=False)
    evidence: dict = field(default_factory=dict)

    # The level the Holm correction holds the tests of this one's family to: alpha / (m - r)
    # with r of its m tests rejected (alpha when all are), set by correction.py
    held: float | None = None

    @property
    def held_at(self) -> float | None:
        """The per-test level of this verdict's Holm family when it is below alpha: the
        one level at which every test of the family is decided as Holm decided it (the
        rejected ones have p below alpha / (m - r), the others not; Strassburger and
        Bretz's Holm-compatible level). None outside a family, or where it is alpha."""
        if self.held is None or self.alpha is None or not self.held < self.alpha:
            return None
        return self.held

    @property
    def flagged(self) -> bool:
        """Listed among the claims the numbers do not support: contradicted or
        inconclusive, or a write-up at odds with itself. Verdicts without a test here (not
        run, not testable, not comparable) are listed apart."""
        return self.verdict in (CONTRADICTED, INCONCLUSIVE) or self.writeup_ok is False

    @property
    def label(self) -> str:
        """The verdict as a reader sees it: "supported (conceptual replication)" for a
        relative claim judged on the suite's own data (scale.py), "contradicted (from the
        recipe search)" for a claim judged from runs outside the tier (when_run.py)."""
        if self.evidence.get("conceptual"):
            return f"{self.verdict} (conceptual replication)"
        if self.evidence.get("from_runs"):
            return f"{self.verdict} (from {self.evidence['from_runs']})"
        return self.verdict

    @property
    def compared(self) -> str:
        """What was compared, in a few words: "66.9 vs 81.22 ± 0.32"."""
        return self.evidence.get("compared", "")

    def interval(self) -> tuple[float, float, float] | None:
        """(level, low, high) of the interval that decides the verdict, or would decide the
        nearer outcome: for a margin question the (1 - 2 alpha) one of "inside" while the
        estimate lies within the margin, else the (1 - alpha) one of "outside"; for a
        directional question its (1 - alpha) one (docs/verdicts.md, "Intervals"). After a
        Holm correction, alpha is the family's Holm-compatible level (``held_at``), so the
        interval and the verdict beside it agree."""
        found = self.evidence.get("intervals")
        if not found:
            return None
        levels = sorted(found)
        margin, effect = self.evidence.get("margin"), self.evidence.get("effect")
        inside = margin is not None and effect is not None and abs(effect) <= margin
        tost = inside and self.verdict != CONTRADICTED and len(levels) > 1
        level = levels[0] if tost else levels[-1]
        held = self.held_at
        if held is None or self.interval_at is None:
            return (level, *found[level])
        level = 1 - 2 * held if tost else 1 - held
        return (level, *self.interval_at(level))

    def held_interval(self) -> tuple[float, float, float] | None:
        """(level, low, high) at the family's Holm-compatible level, for an effect or a
        share of seeds; None where the correction left the level at alpha."""
        held = self.held_at
        if held is None or self.interval_at is None:
            return None
        if "share" in self.evidence:
            return (1 - held, *self.interval_at(1 - held))
        return self.interval() if self.evidence.get("intervals") else None

    def effect_text(self) -> str:
        """The effect with the interval that decided it: "-14.3 [-17.1, -11.5] (90 %)"."""
        share = self.evidence.get("share")
        held = self.held_interval()
        holm = "" if held is None else ", Holm"
        if share is not None:  # a count of seeds (judge._k_of_n)
            level, low, high = held or (1 - (self.alpha or 0.05), *share[1:])
            return f"share {share[0]:.2f} [{low:.2f}, {high:.2f}] ({level_text(level)}{holm})"
        effect = self.evidence.get("effect")
        if effect is None:
            return ""
        found = self.interval()
        if found is None or any(math.isnan(x) for x in found[1:]):
            return fmt(effect, "+.3g")
        level, low, high = found
        return (f"{fmt(effect, '+.3g')} [{fmt(low, '+.3g')}, {fmt(high, '+.3g')}] "
                f"({level_text(level)}{holm})")

    def decided_by(self) -> str:
        """The one reason that decided the verdict, in a few words."""
        alpha = self.alpha or 0.05
        undecidable = self.evidence.get("undecidable")
        if self.verdict == INCONCLUSIVE and undecidable:
            return ("no seed count settles it: the write-up's number, with our spread "
                    "imputed, is too uncertain" if undecidable == "imputed" else
                    "no seed count settles it: the write-up's own spread is too wide")
        if self.p is not None and self.p < alpha and self.p_holm is not None \
                and self.p_holm >= alpha:
            return f"p = {p_text(self.p, alpha)} alone, {p_text(self.p_holm, alpha)} after Holm"
        margin = self.evidence.get("margin")
        if margin is not None and self.p is not None:
            where = {SUPPORTED: "inside", CONTRADICTED: "outside"}.get(
                self.verdict, "neither inside nor outside")
            return f"{where} the ±{margin:.3g} margin"
        if self.p is not None:
            return {SUPPORTED: "on the claimed side", CONTRADICTED: "the opposite side holds"
                    }.get(self.verdict, "not significant")
        if self.writeup_ok is False and self.verdict not in (CONTRADICTED, INCONCLUSIVE):
            return "the write-up's own numbers disagree"
        return _last_clause(self.reason)

    @property
    def unjudged(self) -> bool:
        """No test here: not run, not testable by this suite, or left to another tier."""
        return self.verdict in (NOT_RUN, NOT_TESTABLE, NOT_COMPARABLE)


@dataclass
class TableCell:
    reported: stats.Reported | None
    reported_text: str | None
    reproduced: stats.Summary | None
    param_value: object | None
    verdict: Verdict | None  # reproduced within the margin of the reported number
    failed: int = 0
    chance: Verdict | None = None  # the reported and reproduced numbers against chance
    # What its verdicts test: the seeds, the metric entry, the reported number and the
    # question asked of them (tables.py); two cells with one question are one number
    question: tuple | None = field(default=None, repr=False, compare=False)
    # The earlier cell that asks the same question of the same number (tables.py): the
    # two get one verdict, counted once (correction.one_verdict_per_number)
    repeat_of: TableCell | None = field(default=None, repr=False, compare=False)

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for v in (self.verdict, self.chance) if v is not None]


@dataclass
class TableResult:
    spec: TableSpec
    cells: dict[tuple[int, str], TableCell]  # (row index, column key) -> cell


def fmt(x: float | None, spec: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def level_text(level: float) -> str:
    """A confidence level in percent, to as many digits as keep it below 100 % (a
    Holm-held 99.96 % is not printed "100 %")."""
    for digits in range(3, 8):
        text = format(100 * level, f".{digits}g")
        if float(text) < 100 or level >= 1:
            return f"{text} %"
    return f"{100 * level:.8g} %"


def p_text(p: float, alpha: float) -> str:
    """``p`` to two significant digits, or as many more as keep it on its side of
    ``alpha`` (0.0497 is not printed "0.05" beside a decisive verdict)."""
    for digits in range(2, 8):
        text = fmt(p, f".{digits}g")
        if (float(text) < alpha) == (p < alpha):
            return text
    return fmt(p, ".8g")


def _last_clause(text: str) -> str:
    """The reason's closing words, where a test-less verdict says why ("zero spread gives
    no test", "one seed gives no interval")."""
    tail = text.rstrip(". ").rsplit("; ", 1)[-1]
    tail = tail.rsplit(": ", 1)[-1] if len(tail) > 80 else tail
    return tail[:80] + ("…" if len(tail) > 80 else "")


def about(n: int | None) -> str:
    """A seed count from a power calculation, rounded: it rests on an effect observed with
    few seeds, so its digits beyond the first carry nothing."""
    if n is None or n > 1000:
        return "more than 1000"
    if n <= 10:
        return f"about {n}"
    step = 10 if n <= 100 else 100
    return f"about {max(step, round(n / step) * step)}"
