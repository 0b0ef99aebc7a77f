"""Reference results: a tier run to completion and shipped as
``suites/<name>/expected/<tier>.json``, so that the answer at a write-up's own settings
reaches a user without the hours of compute behind it.

A reference file is regress's snapshot (what ``regress`` and ``verify`` compare) plus every
record of the run (main cells, tuning trials and any [[sensitivity]] cells, image metrics
left out: they are pictures) and where it came from: the commit, the date, the machine and
the wall time (of the main run; the sweeps' apart; a run resumed later counts the time
cells ran, not its pauses). A report renders from it when the store lacks the tier
(``fill``), and only while the suite's code is the code that made it (its digest,
harness/spec/identity.py).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..errors import SparsebenchError
from ..recipe import search as recipe
from ..run.runner import RunResult
from ..run.store import CellRecord, Store
from ..settle import design as settle
from ..spec.suite import Suite
from .reference_file import read_json
from .regress import snapshot


def path_for(suite: Suite, tier: str) -> Path:
    return suite.folder / "expected" / f"{tier}.json"


def make(run: RunResult, command: str) -> dict:
    """The snapshot of ``run`` with its records and provenance."""
    snap = snapshot(run, command)
    images = {n for n, m in run.plan.suite.spec.metrics.items() if m.kind == "image"}
    records = run.all_records
    swept = [r for _, r in run.sensitivity]  # [[sensitivity]] cells, when they were run
    snap["records"] = [_record_dict(r, images) for r in [*records, *swept]]
    snap["provenance"] = provenance(records)
    try:
        before = load(run.plan.suite, run.plan.tier)
    except SparsebenchError:
        before = None  # a broken file is written anew, its provenance with it
    if before is not None and _same_run(before["records"], snap["records"][:len(records)]):
        snap["provenance"] = before["provenance"]  # the run that made them, as first told
    if swept:
        snap["sensitivity_provenance"] = provenance(swept)
    if run.settle is not None and run.settle_records:
        # the cells a settle run added (stage "settle") and its design (settle.py)
        snap["records"] += [_record_dict(r, images) for r in run.settle_records]
        snap["settle"] = json.loads(run.settle.to_json())
        snap["settle_provenance"] = provenance(run.settle_records)
    if run.recipe is not None and run.recipe_records:
        # the cells a recipe search ran (stage "recipe") and its log (recipe.py)
        snap["records"] += [_record_dict(r, images) for r in run.recipe_records]
        snap["recipe"] = json.loads(run.recipe.to_json())
        snap["recipe_provenance"] = provenance(run.recipe_records)
    return snap


def _same_run(before: list[dict], now: list[dict]) -> bool:
    """The main cells and trials of a reference written again are the ones it had."""
    main = [r for r in before if r["stage"] != "sens"]
    return [(r["id"], r["finished_at"]) for r in main] == \
        [(r["id"], r["finished_at"]) for r in now]


# A gap this long with no cell running is a pause between sittings (a run stopped and
# resumed from its store later): within one invocation the next cell starts within
# seconds of the last one's end (process start, data), so any gap up to a minute is
# the run's own overhead and counts as wall time.
PAUSE_S = 60.0


def provenance(records: list[CellRecord]) -> dict:
    """Commit, date, machine and time of the run that made ``records``.

    The wall time is the time some cell was running, a gap of up to ``PAUSE_S`` between
    cells included: a run resumed later does not count its pause. ``sittings`` is how
    many stretches that time falls in, ``span_s`` the first start to the last end, and
    the cell time the sum of every cell's own."""
    spans = sorted((_time(r.finished_at) - dt.timedelta(seconds=r.wall_s or 0),
                    _time(r.finished_at)) for r in records)
    sittings: list[list[dt.datetime]] = []
    for start, end in spans:
        if sittings and (start - sittings[-1][1]).total_seconds() <= PAUSE_S:
            sittings[-1][1] = max(sittings[-1][1], end)
        else:
            sittings.append([start, end])
    commits = sorted({r.fingerprint.get("git_commit", "unknown") for r in records})
    fp = records[0].fingerprint if records else {}
    # sorted by start and merged, the first sitting starts first and the last ends last
    first, last = (sittings[0][0], sittings[-1][1]) if sittings else (None, None)
    return {
        "git_commits": commits,
        "date": last.date().isoformat() if last else None,
        "machine": machine(fp),
        "wall_s": round(sum((e - s).total_seconds() for s, e in sittings), 1),
        "sittings": len(sittings),
        "span_s": round((last - first).total_seconds(), 1) if sittings else 0.0,
        "cell_s": round(sum(r.wall_s or 0 for r in records), 1),
        "cells": len(records),
    }


def machine(fp: dict) -> str:
    """Where the cells ran, in words, from their fingerprint: the CPU (model and cores)
    or the GPU, the platform, torch and threads per cell."""
    device = fp.get("device", "cpu")
    where = fp.get("cpu", "an unrecorded CPU") if device == "cpu" else device
    return (f"{where}, {fp.get('platform', 'unknown platform')}, torch {fp.get('torch')}, "
            f"{fp.get('threads')} thread(s) per cell")


def _time(text: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _record_dict(r: CellRecord, images: set[str]) -> dict:
    return {"id": r.id, "stage": r.stage, "params": r.params, "status": r.status,
            "error": r.error, "wall_s": r.wall_s, "finished_at": r.finished_at,
            "fingerprint": r.fingerprint,
            "metrics": {k: v for k, v in r.metrics.items() if k not in images}}


def load(suite: Suite, tier: str) -> dict | None:
    """The committed reference of ``tier``, or None when the suite ships none (or only a
    regress snapshot without records). A file that does not read, or whose copies of a
    number disagree, is a SparsebenchError naming it (harness/refs/reference_file.py)."""
    path = path_for(suite, tier)
    if not path.is_file():
        return None
    ref = read_json(path)
    return ref if "records" in ref else None


def extendable(suite: Suite, tier: str, command: str, what: str) -> dict:
    """The committed reference of ``tier`` that a settle run or a recipe search extends;
    a missing or stale one is an error naming ``command``, the one that writes it
    (``what`` says what was to be done: "settle", "search from")."""
    ref = load(suite, tier)
    if ref is None:
        raise SparsebenchError(f"{path_for(suite, tier)}: no committed reference to {what}; "
                               f"write it with: {command}")
    why = stale(ref, suite)
    if why:
        raise SparsebenchError(f"{path_for(suite, tier)}: {why}")
    return ref


def stale(ref: dict, suite: Suite) -> str | None:
    """Why the reference cannot stand for the suite's code, or None when it can."""
    made = (ref.get("code") or {}).get("digest")
    if made == suite.code.digest:
        return None
    return (f"the suite's code changed since the reference was made (code digest {made} -> "
            f"{suite.code.digest}); run the tier again and regenerate it")


def records(ref: dict, suite: Suite) -> list[CellRecord]:
    return [CellRecord(id=r["id"], suite=suite.name, stage=r["stage"], params=r["params"],
                       status=r["status"], error=r["error"], wall_s=r["wall_s"],
                       finished_at=r["finished_at"], fingerprint=r["fingerprint"],
                       metrics=r["metrics"]) for r in ref["records"]]


def fill(store: Store, ref: dict, suite: Suite) -> int:
    """Write the reference's records into ``store`` (a scratch store a report reads)."""
    found = records(ref, suite)
    for record in found:
        store.put(record)
    if "recipe" in ref:
        store.set_meta(recipe.meta_key(suite.name, ref["tier"]),
                       json.dumps(ref["recipe"], sort_keys=True))
    if "settle" in ref:
        store.set_meta(settle.meta_key_for(suite.name, ref["tier"]),
                       json.dumps(ref["settle"], sort_keys=True))
    return len(found)


def heading(ref: dict) -> str:
    """The line a report from a reference opens with."""
    p = ref["provenance"]
    commits = ", ".join(c[:12] + ("+dirty" if c.endswith("+dirty") else "")
                        for c in p["git_commits"])
    return (f"Reference run of {p['date']} at commit {commits} on {p['machine']}: "
            f"{p['cells']} cells in {duration(p['wall_s'])} of wall time{_sittings(p)}.")


def _sittings(p: dict) -> str:
    """How a run resumed from its store was spread out (an older reference has no count:
    its wall time is the span)."""
    n = p.get("sittings", 1)
    if n < 2:
        return ""
    return (f" in {n} sittings, resumed from the store "
            f"({duration(p['span_s'])} from the first start to the last end)")


def verify_command(cli_name: str, tier: str) -> str:
    return f"sparsebench verify --suite {cli_name} --tier {tier} --sample 3"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
