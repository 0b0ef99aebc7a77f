"""Part of a tier: ``--where KEY=VALUE`` (repeatable) and ``--seeds 0,1``.

The options are checked against each plan before anything trains: an unknown key, a
value the factor does not take at this tier or a malformed seed list is a one-line
error naming the option. Values are matched in the factor's own type, so
``--where lr=0.010`` keeps the cells whose factor ``lr`` is ``0.01``. The cut itself is
``Plan.narrowed``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SparsebenchError
from .plan import Plan, resolve, value_text

if TYPE_CHECKING:
    from .suite import Suite


def parse_where(items: list[str] | None) -> dict[str, list[str]]:
    """``["model=fsb", "model=dsb", "seq_len=64"]`` -> ``{"model": ["fsb", "dsb"], ...}``."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SparsebenchError(f"--where {item}: expected KEY=VALUE, e.g. --where model=fsb")
        if value not in out.setdefault(key, []):
            out[key].append(value)
    return out


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1"`` -> ``[0, 1]`` (duplicates dropped, order kept); None when not given."""
    if text is None:
        return None
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise SparsebenchError(f"--seeds {text}: expected a comma list of non-negative "
                                   "integers, e.g. --seeds 0,1")
        if int(part) not in seeds:
            seeds.append(int(part))
    return seeds


def matches(value: object, text: str) -> bool:
    """Whether the command-line ``text`` names the factor value ``value``."""
    if text in (value_text(value), str(value)):
        return True
    if isinstance(value, bool):
        return text.lower() == value_text(value)
    if isinstance(value, int | float):
        try:
            return float(text) == value
        except ValueError:
            return False
    return False


def _require_factor(key: str, text: str, known: Collection[str], suite: str) -> None:
    """A one-line error when ``--where key=text`` names no factor in ``known``."""
    if key not in known:
        valid = ", ".join(known) or "none (this suite has no factors)"
        raise SparsebenchError(f"--where {key}={text}: suite {suite} has no factor {key!r}; "
                               f"valid keys: {valid}")


def typed_where(plan: Plan, where: dict[str, list[str]]) -> dict[str, list]:
    """The ``--where`` texts as the factor values they name at ``plan``'s tier."""
    known = plan.factor_values()
    out: dict[str, list] = {}
    for key, texts in where.items():
        _require_factor(key, texts[0], known, plan.suite.name)
        values = known[key]
        out[key] = []
        for text in texts:
            found = [v for v in values if matches(v, text)]
            if not found:
                listed = ", ".join(value_text(v) for v in values) or "none"
                raise SparsebenchError(f"--where {key}={text}: not a value of {key} at tier "
                                       f"{plan.tier} of suite {plan.suite.name}; its values: "
                                       f"{listed}")
            out[key] += [v for v in found if v not in out[key]]
    return out


def stored_filter(suite: Suite, where_items: list[str] | None) -> Callable[[dict], bool]:
    """A test of a stored cell's parameters against ``--where``, for cells of any tier
    (stale ones included): keys are checked against the suite's factors at every tier,
    values matched as ``run`` matches them."""
    where = parse_where(where_items)
    known: set[str] = set()
    for tier in suite.tiers:
        known |= set(resolve(suite, tier).factor_values())
    for key, texts in where.items():
        _require_factor(key, texts[0], sorted(known), suite.name)

    def wanted(params: dict) -> bool:
        return all(key in params and any(matches(params[key], t) for t in texts)
                   for key, texts in where.items())
    return wanted


def narrow(plan: Plan, where_items: list[str] | None, seeds_text: str | None,
           set_items: list[str] | None = None, config: Path | None = None) -> Plan:
    """``plan`` cut by the command line's ``--where`` and ``--seeds`` and changed by its
    ``--set`` (overrides.py), each over the ``--config`` file's (checked here)."""
    from .overrides import apply, parse_sets, read_config

    sets: dict = {}
    if config is not None:
        run_config = read_config(config)
        sets = dict(run_config.set)
        if where_items is None and run_config.where:
            where_items = run_config.where_items()
        if seeds_text is None and run_config.seeds is not None:
            seeds_text = ",".join(map(str, run_config.seeds))
    sets.update(parse_sets(set_items))
    seeds = parse_seeds(seeds_text)
    where = typed_where(plan, parse_where(where_items))
    return apply(plan.narrowed(where, seeds), sets)
