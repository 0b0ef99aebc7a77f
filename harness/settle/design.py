"""Settle: add seeds to the cells of inconclusive verdicts, and judge again validly.

A reference is judged once, on the tier's seeds, at claims.toml's alpha (look 0). Some
verdicts stay inconclusive where more seeds would decide them ("about 12 pairs of seeds
would settle it"). Adding seeds *because* a verdict was inconclusive and testing again
at alpha is the optional-stopping error: with enough looks any null is rejected. Settle
uses a group-sequential design with Bonferroni boundaries:

* ``looks`` (K) is fixed when a settle run starts, before any seed is added;
* each look k = 1..K judges every verdict on all seeds so far at ``alpha / K`` (the
  whole engine, Holm families included, at that level): by the union bound the chance
  that any of the K looks decides a true null wrongly is at most ``alpha`` for seed
  counts fixed before each look; settle's come from the previous look's power figure,
  so the bound is measured (benchmarks/settle_error_rates.py), not proven;
* a verdict settle set out to decide takes its first decisive look, or its last look
  when none decided it; every other verdict stays as look 0 judged it.

Look 0 was read at alpha before settle began, so for a verdict settle decides the worst
case over both reads is 2 alpha; docs/verdicts.md says so, and each settled verdict
names its look, its seeds and its level. Bonferroni rather than an alpha-spending
function with correlated boundaries (Pocock, O'Brien-Fleming) because the engine's
tests are of several kinds (t, Welch, TOST, exact binomial, propagated errors) whose
joint distribution across looks nobody models here; rather than confidence sequences
because at 3-30 seeds an anytime-valid t interval is wider than Bonferroni over 2-4
looks (docs/verdicts.md gives the numbers).

Seeds are planned from each inconclusive verdict's own power figure (``Verdict.need``,
80 % power at the look's corrected level), cheapest first, within a wall-time budget
estimated from the cells' stored times. A round's cells are fixed and written to the
store before they run, so a run that dies resumes the same round.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..judge.aggregate import Results
from ..judge.verdict import JUDGED, Verdict
from ..run.store import CellRecord, Store
from ..spec.plan import Plan
from ..stats.questions import INCONCLUSIVE

if TYPE_CHECKING:
    from ..judge.judged import Judged

STAGE = "settle"  # the stage of the cells settle adds: apart from the tier's own cells


@dataclass
class Round:
    """One look's added seeds: which verdicts they were for and which cells ran."""

    look: int
    targets: list[str]  # verdict ids
    cells: list[str]  # ids of the cells added
    seeds: dict[str, list[int]]  # configuration label -> seeds added
    estimate_s: float  # planned wall time (stored cell times / workers)
    wall_s: float = 0.0  # measured, once done
    done: bool = False


@dataclass
class Design:
    """A settle run of one tier: fixed before its first seed, extended round by round."""

    looks: int  # K: the looks settle may take after the reference's own
    alpha: float  # the report's alpha; each look is judged at alpha / looks
    budget_s: float
    max_seeds: int
    command: str
    rounds: list[Round] = field(default_factory=list)

    @property
    def per_look(self) -> float:
        return self.alpha / self.looks

    def cell_ids(self, upto: int | None = None) -> set[str]:
        """The cells added by the rounds up to look ``upto`` (all when None)."""
        return {c for r in self.rounds if upto is None or r.look <= upto for c in r.cells}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Design:
        rounds = [Round(**r) for r in data.get("rounds", [])]
        return cls(**{**data, "rounds": rounds})


def meta_key(plan: Plan) -> str:
    return meta_key_for(plan.suite.name, plan.tier)


def meta_key_for(suite: str, tier: str) -> str:
    return f"settle:{suite}:{tier}"


def read(store: Store, plan: Plan) -> Design | None:
    text = store.get_meta(meta_key(plan))
    return None if text is None else Design.from_dict(json.loads(text))


def write(store: Store, plan: Plan, design: Design) -> None:
    store.set_meta(meta_key(plan), design.to_json())


# ---------------------------------------------------------------- judging the looks


def look_records(records: list[CellRecord], added: list[CellRecord], design: Design,
                 look: int) -> list[CellRecord]:
    """The tier's records and the cells added by rounds up to ``look``."""
    ids = design.cell_ids(look)
    return [*records, *(r for r in added if r.id in ids)]


def settle_note(v: Verdict, look: int, looks: int, level: float, n: int | None) -> None:
    """Say on a verdict which look decided it (or did not) and at what level."""
    seeds = f" with {n} seeds per configuration" if n else ""
    decided = v.verdict in JUDGED and v.verdict != INCONCLUSIVE
    v.evidence["settled"] = {"look": look, "looks": looks, "level": level,
                             "decided": decided}
    v.reason += (f" Settle look {look} of {looks}{seeds}, every look at "
                 f"alpha/{looks} = {level:.3g} (Bonferroni over the settle run's looks; "
                 "family-wise up to 2 alpha with the first read, docs/verdicts.md): "
                 f"{'decided' if decided else 'still undecided'}.")


def merge(base: Judged, looks: list[Judged], design: Design) -> list[str]:
    """Replace, in ``base`` (the look-0 ``Judged``), each verdict a round targeted and look
    0 left inconclusive by the same verdict at the first look that decides it, or at its
    last look; a table cell's reproduced numbers come with it. ``looks[k - 1]`` is look
    k's ``Judged``. Returns the ids replaced."""
    replaced: list[str] = []
    base_ids = base.by_id()
    targeted: dict[str, int] = {}
    for r in design.rounds:
        if r.done:
            for vid in r.targets:
                targeted[vid] = r.look  # its last look
    for vid, last in targeted.items():
        first = min(r.look for r in design.rounds if r.done and vid in r.targets)
        if vid not in base_ids or base_ids[vid].verdict != INCONCLUSIVE:
            continue
        chosen = None
        for look in range(first, last + 1):
            found = looks[look - 1].by_id().get(vid)
            if found is None:
                continue
            chosen = (look, found)
            if found.verdict in JUDGED and found.verdict != INCONCLUSIVE:
                break
        if chosen is None:
            continue
        look, v = chosen
        # the write-up against itself does not change with our seeds: as look 0 read it
        v.writeup, v.writeup_ok = base_ids[vid].writeup, base_ids[vid].writeup_ok
        results = looks[look - 1].judge.results
        counts = [len(seeds_of(results, c)) for c in v.evidence.get("configs") or []]
        settle_note(v, look, design.looks, design.per_look, min(counts) if counts else None)
        _replace(base, looks[look - 1], vid, v)
        replaced.append(vid)
    return replaced


def _replace(base: Judged, later: Judged, vid: str, v: Verdict) -> None:
    for i, old in enumerate(base.claims):
        if old.id == vid:
            base.claims[i] = v
            return
    for i, old in enumerate(base.sizes):
        if old.id == vid:
            base.sizes[i] = v
            return
    found, now = base.cell_of(vid), later.cell_of(vid)
    if found is None or now is None:
        return
    _, _, cell = found
    cell.reproduced = now[2].reproduced
    if cell.verdict is not None and cell.verdict.id == vid:
        cell.verdict = v
    elif cell.chance is not None and cell.chance.id == vid:
        cell.chance = v


def provenance_text(design: Design, cells: int, settled: list[str]) -> str:
    """One line for a report's provenance: what the settle run added and decided."""
    done = [r for r in design.rounds if r.done]
    wall = sum(r.wall_s for r in done)
    return (f"{len(done)} of {design.looks} looks, each at alpha/{design.looks} = "
            f"{design.per_look:.3g}; {cells} cells added ({wall / 60:.1f} min); "
            f"{len(settled)} verdicts re-judged on them; command: {design.command}")


# ---------------------------------------------------------------- planning a round


@dataclass
class Target:
    verdict: str
    seeds: int  # seeds per configuration the verdict's power figure asks for
    configs: list[dict]
    cost_s: float  # cell time of the seeds it adds (before sharing with other targets)


def config_label(config: dict) -> str:
    return " ".join(f"{k}={config[k]}" for k in sorted(config))


def candidates(verdicts: list[Verdict], design: Design, results: Results,
               seconds: Callable[[dict], float]) -> list[Target]:
    """Inconclusive verdicts that read seeds, that more seeds could decide, at the next
    look's corrected level, within ``max_seeds`` per configuration; cheapest first."""
    out = []
    for v in verdicts:
        configs = v.evidence.get("configs") or []
        if v.verdict != INCONCLUSIVE or v.need is None or not configs:
            continue
        level = design.per_look / (v.family or 1)
        n, _ = v.need(level)
        if v.evidence.get("undecidable") or n is None or n > design.max_seeds:
            continue
        have = {config_label(c): seeds_of(results, c) for c in configs}
        cost = sum(max(n - len(s), 0) * seconds(c) for c, s in zip(configs, have.values(),
                                                                   strict=True))
        if cost > 0:
            out.append(Target(v.id, n, configs, cost))
    return sorted(out, key=lambda t: (t.cost_s, t.verdict))


def seeds_of(results: Results, config: dict) -> list[int]:
    """Seeds stored for ``config`` (finished or failed)."""
    return sorted({int(r.params["seed"]) for r in results.records_of(config)})


def choose(targets: list[Target], results: Results, seconds: Callable[[dict], float],
           budget_s: float, workers: int) -> tuple[list[Target], dict[str, tuple[dict, int]]]:
    """The targets that fit ``budget_s`` of wall time on ``workers``, cheapest first,
    and {config label: (config, seeds wanted)}; a configuration two targets share is
    paid once."""
    chosen: list[Target] = []
    wanted: dict[str, tuple[dict, int]] = {}
    for t in targets:
        trial = dict(wanted)
        for c in t.configs:
            key = config_label(c)
            trial[key] = (c, max(trial.get(key, (c, 0))[1], t.seeds))
        cost = sum(max(n - len(seeds_of(results, c)), 0) * seconds(c)
                   for c, n in trial.values()) / max(workers, 1)
        if cost <= budget_s:
            chosen.append(t)
            wanted = trial
    return chosen, wanted


def next_seeds(have: list[int], tier_seeds: list[int], n: int) -> list[int]:
    """The seeds to add so that a configuration has ``n``: the tier's, then the integers
    after its largest, in order, skipping those it has (so that configurations stay
    paired by seed)."""
    sequence = list(tier_seeds)
    start = max(tier_seeds, default=-1) + 1
    while len(sequence) < n:
        sequence.append(start)
        start += 1
    return [s for s in sequence[:n] if s not in have]


def cell_seconds(results: Results) -> Callable[[dict], float]:
    """Seconds one more seed of a configuration may take: the longest of its stored
    cells (the longest over every cell where it has none). The longest, not a typical
    one: a cell that reuses a cached calibration takes seconds where one that computes
    it takes minutes, and a budget is better kept than overrun."""
    every = [r.wall_s for r in results.records if r.wall_s]
    fallback = max(every) if every else 60.0

    def seconds(config: dict) -> float:
        own = [r.wall_s for r in results.records_of(config) if r.wall_s]
        return max(own) if own else fallback

    return seconds


def budget_seconds(text: str) -> float:
    """'30m', '2h', '90s' or a number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units \
            else float(text)
    except ValueError:
        raise ValueError(f"--budget {text!r}: give a time such as 30m, 2h or 900s") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"--budget {text!r}: must be a positive time")
    return value
