"""The two sides of ``sparsebench compare``: what each names and the tier's cells it holds.

A side is written as one of

* ``store:PATH``, or any other ``PATH``: a result store, read, never created or locked;
* ``ref``: the suite's committed reference of the tier, ``expected/<tier>.json``;
* ``ref@REV``: that file as git holds it at revision REV (a commit, a tag, ``HEAD~3``),
  read with ``git show``, so a result can be compared with the numbers of older code.

Both are cut to the tier's configurations (and ``--where``), matched by parameters, not by
cell id: a cell's id hashes the code, and comparing the numbers of two versions of the
code is what the command is for. From a store, the main cells of the tier are those whose
parameters are the tier's (a tuned parameter aside); where the store holds cells of
today's code those alone are read, as ``report`` reads them, else those of other code,
the newest of each seed (said in a note). A reference is one tier's run: its main cells
are matched by factor values alone (a regress snapshot without records, by its labels).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SparsebenchError
from ..run import machine
from ..run.store import CellRecord, Store
from ..spec.plan import Plan, cell_id
from .compare import count
from .reference import path_for
from .reference_file import read_json

REF = "ref"
STORE_PREFIX = "store:"


@dataclass(frozen=True)
class Source:
    """One side as given on the command line."""

    text: str
    path: Path | None = None  # a store
    rev: str | None = None  # ref@REV; None for the working tree's reference

    @property
    def is_ref(self) -> bool:
        return self.path is None


def parse(text: str) -> Source:
    """``store:PATH`` or ``PATH`` -> a store; ``ref`` or ``ref@REV`` -> a reference."""
    if text == REF:
        return Source(text)
    if text.startswith(REF + "@"):
        rev = text.removeprefix(REF + "@")
        if not rev or rev.startswith("-") or any(c.isspace() for c in rev):
            raise SparsebenchError(f"compare: {text!r}: give a git revision after ref@, e.g. "
                                   "ref@HEAD~1 or ref@3f2a1c9")
        return Source(text, rev=rev)
    path = text.removeprefix(STORE_PREFIX)
    if not path:
        raise SparsebenchError(f"compare: {text!r}: give the store's path, e.g. "
                               "store:runs.sqlite")
    return Source(text, path=Path(path))


@dataclass(frozen=True)
class Cell:
    config: str  # 'arm=a': the configuration's factors in the suite's order
    seed: int
    status: str  # done or failed
    metrics: dict
    machine: str  # the machine class in words (harness/run/machine.py)


@dataclass
class Side:
    name: str  # "A" or "B"
    what: str  # where the cells come from, in words
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)

    def finished(self) -> dict[str, dict[int, dict]]:
        """{config: {seed: metrics}} of the finished cells; a configuration whose cells all
        failed maps to {} (it is on this side, without a value)."""
        out: dict[str, dict[int, dict]] = {}
        for c in self.cells:
            seeds = out.setdefault(c.config, {})
            if c.status == "done":
                seeds[c.seed] = c.metrics
        return out

    def line(self) -> str:
        failed = sum(c.status != "done" for c in self.cells)
        configs = len({c.config for c in self.cells})
        text = (f"{self.name}: {self.what}: {count(len(self.cells), 'cell')} of "
                f"{count(configs, 'configuration')}" + (f" ({failed} failed)" if failed else ""))
        return "; ".join([text, *self.notes])


def label(values: dict, names: list[str]) -> str:
    """'arm=a grid=width': as regress labels a configuration (str of each value)."""
    return " ".join(f"{k}={values[k]}" for k in names if k in values)


class _Tier:
    """The configurations of a plan's tier, to match cells against: each with its label
    and the parameters its cells run with, and which of them ``--where`` keeps."""

    def __init__(self, plan: Plan):
        whole = plan.whole or plan
        self.plan = plan
        self.names = plan.factor_names
        tuned = {plan.tuning.param} if plan.tuning else set()
        self.configs = [(label(whole.config_params(c), self.names), c,
                         {k: v for k, v in whole.config_params(c).items() if k not in tuned})
                        for c in whole.configs()]
        self.kept = {label(plan.config_params(c), self.names) for c in plan.configs()}
        self.order = [name for name, _, _ in self.configs if name in self.kept]

    def by_params(self, params: dict, whole_params: bool) -> str | None:
        """The label of the configuration a cell with ``params`` belongs to: by factor
        values (and its grid), and with ``whole_params`` by every parameter of the tier
        but the tuned one; None when none."""
        for name, config, required in self.configs:
            wanted = required if whole_params else config
            if params.get("grid") == config.get("grid") and \
                    all(params.get(k) == v for k, v in wanted.items()):
                return name
        return None

    def by_label(self, text: str) -> tuple[str | None, int | None]:
        """(configuration, seed) of a regress snapshot's cell label 'arm=a seed=0'."""
        pairs = dict(p.partition("=")[::2] for p in text.split())
        seed = pairs.pop("seed", None)
        name = label(pairs, self.names)
        known = name in {n for n, _, _ in self.configs}
        return (name if known else None), (int(seed) if seed and seed.isdigit() else None)


def configurations(plan: Plan) -> list[str]:
    """The labels of the plan's configurations (``--where`` applied), in suite order."""
    return _Tier(plan).order


def read(source: Source, name: str, plan: Plan) -> Side:
    """Side ``name`` ("A" or "B") of the comparison: the tier's cells ``source`` holds, cut
    by the plan's ``--where``."""
    tier = _Tier(plan)
    side = _from_store(source.path, name, tier) if source.path is not None else \
        _from_reference(source, name, tier)
    side.cells = [c for c in side.cells if c.config in tier.kept]
    if not side.cells:
        cut = f" with {plan.subset}" if plan.subset else ""
        raise SparsebenchError(f"{source.text}: holds no main cell of suite {plan.suite.name} "
                               f"tier {plan.tier}{cut}; "
                               + (f"fill it with: {_run_command(plan, source.path)}"
                                  if source.path is not None else
                                  "compare another tier with --tier"))
    return side


def _run_command(plan: Plan, path: Path) -> str:
    return shlex.join(["sparsebench", "run", "--suite", plan.suite.cli_name, "--tier",
                       plan.tier, "--store", str(path)])


def _from_store(path: Path, name: str, tier: _Tier) -> Side:
    suite = tier.plan.suite
    if not path.is_file():
        raise SparsebenchError(f"{path}: no such store; fill it with: "
                               f"{_run_command(tier.plan, path)}")
    with Store(path, readonly=True) as store:
        found = {cid: config for cid, stage, params in store.suite_cells(suite.name)
                 if stage == "main" and (config := tier.by_params(params, True)) is not None}
        records = store.records(list(found))
    today = [r for r in records if cell_id(suite, "main", r.params) == r.id]
    notes = []
    if today:
        chosen = today
    else:
        chosen = _newest(records, found)
        if chosen:
            notes.append("every cell was made by other code than the suite's today (the "
                         "newest of each seed is read)")
    cells = [_cell(found[r.id], r.params, r.status, r.metrics, machine.where(r.fingerprint))
             for r in chosen]
    return Side(name, f"store {path}", cells, notes)


def _newest(records: list[CellRecord], config_of: dict[str, str]) -> list[CellRecord]:
    """One record per configuration and seed: the latest finished."""
    best: dict[tuple[str, object], CellRecord] = {}
    for r in sorted(records, key=lambda r: r.finished_at):
        best[(config_of[r.id], r.params.get("seed"))] = r
    return list(best.values())


def _cell(config: str, params: dict, status: str, metrics: dict | None, where: str) -> Cell:
    return Cell(config, int(params["seed"]), status, metrics or {}, where)


def _from_reference(source: Source, name: str, tier: _Tier) -> Side:
    suite, plan = tier.plan.suite, tier.plan
    path = path_for(suite, plan.tier)
    if source.rev is None:
        if not path.is_file():
            raise SparsebenchError(f"{path}: no committed reference of tier {plan.tier}; write "
                                   "it with: " + shlex.join(
                                       ["sparsebench", "regress", "--update", "--suite",
                                        suite.cli_name, "--tier", plan.tier]))
        data, what = read_json(path, keys=("cells",)), f"the committed reference {_shown(path)}"
    else:
        data, what = _at_revision(path, source.rev), f"{_shown(path)} at {source.rev}"
    notes = []
    made = (data.get("code") or {}).get("digest")
    if made != suite.code.digest:
        notes.append(f"made by other code than the suite's today (code digest {made}; today "
                     f"{suite.code.digest})")
    cells, unknown = [], 0
    if isinstance(data.get("records"), list):
        for r in data["records"]:
            if not isinstance(r, dict) or r.get("stage") != "main":
                continue
            config = tier.by_params(r.get("params") or {}, False)
            if config is None:
                unknown += 1
                continue
            cells.append(_cell(config, r["params"], r.get("status", "done"), r.get("metrics"),
                               machine.where(r.get("fingerprint") or {})))
    else:  # a regress snapshot: cells by label, one environment for all
        where = machine.where(data.get("environment") or {})
        for text, cell in (data.get("cells") or {}).items():
            config, seed = tier.by_label(text)
            if config is None or seed is None:
                unknown += 1
                continue
            cells.append(Cell(config, seed, cell.get("status", "done"),
                              cell.get("metrics") or {}, where))
    if unknown:
        notes.append(f"{unknown} cells of configurations tier {plan.tier} no longer has, left "
                     "out")
    return Side(name, what, cells, notes)


def _shown(path: Path) -> Path:
    """``path`` relative to the working folder where it lies below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _at_revision(path: Path, rev: str) -> dict:
    """``expected/<tier>.json`` as git holds it at ``rev``."""
    spec = f"{rev}:./{path.parent.name}/{path.name}"
    try:
        done = subprocess.run(["git", "-C", str(path.parent.parent), "show", spec],
                              capture_output=True, text=True, check=False)
    except OSError as err:
        raise SparsebenchError(f"ref@{rev}: cannot run git ({err.strerror}); compare with "
                               "ref or a store instead") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["git show failed"])[0]
        raise SparsebenchError(f"ref@{rev}: git show {spec} (in {path.parent.parent}): {why}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as err:
        raise SparsebenchError(f"ref@{rev}: {path} at {rev} is not JSON at line {err.lineno} "
                               f"({err.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), dict):
        raise SparsebenchError(f"ref@{rev}: {path} at {rev} holds no cells (not a reference "
                               "or regress snapshot)")
    return data


def by_machine(side: Side) -> tuple[Side, Side]:
    """One side's cells split by machine class into two sides: the class with more cells
    is A. A store made on one class, or on more than two, is an error."""
    classes = Counter(c.machine for c in side.cells)
    ranked = sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) != 2:
        listed = "; ".join(f"{m} ({n} cells)" for m, n in ranked)
        raise SparsebenchError(f"{side.what}: --by machine needs cells of exactly two machine "
                               f"classes; this holds {len(ranked)}: {listed}")
    return tuple(Side(name, f"{side.what}, the cells of {m}",  # type: ignore[return-value]
                      [c for c in side.cells if c.machine == m], list(side.notes))
                 for name, (m, _) in zip("AB", ranked, strict=True))
