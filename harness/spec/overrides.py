"""Parameters set for one run: ``--set KEY=VALUE`` (repeatable) and ``--config FILE``.

A researcher trying "the same tier with 5 epochs" should not have to edit suite.toml. An
override replaces a ``[params]`` value at the tier (and in any extra grid that sets the
same key) before any cell is planned, so it is part of every cell's parameters and
therefore of its id: overridden cells never mix with the tier's own in the store, and
tuning runs again under the override, since its trials' parameters change too. The
report says which values were set and its "Reproduce with" line repeats them.

A run-config file (TOML) holds the same options for a run that is repeated:

    set = { epochs = 5, batch_size = 64 }
    where = { model = ["fsb"] }
    seeds = [0, 1]

Options given on the command line win over the file's. Keys are checked against the
tier before anything trains: a factor (use ``--where``), the tuned parameter, a key
[params] does not have, or a value of the wrong type is a one-line error naming it.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SparsebenchError
from .plan import Plan, value_text
from .schemas import Scalar


class RunConfig(BaseModel):
    """A run-config file: the options that cut or change a tier for one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    set: dict[str, Scalar] = {}
    where: dict[str, Annotated[list[Scalar], Field(min_length=1)] | Scalar] = {}
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None

    def where_items(self) -> list[str]:
        """``--where`` items, as the command line would give them."""
        out = []
        for key, values in self.where.items():
            for value in values if isinstance(values, list) else [values]:
                out.append(f"{key}={value_text(value)}")
        return out


def read_config(path: Path) -> RunConfig:
    """The run-config file at ``path``; an unreadable one is an error naming the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SparsebenchError(f"--config {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SparsebenchError(f"{path}: not valid TOML ({err})") from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SparsebenchError(f"{path}: {field}: {first['msg']} (keys: set, where, seeds)"
                               ) from None


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``["epochs=5"]`` -> ``{"epochs": "5"}``; the last of a repeated key wins."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SparsebenchError(f"--set {item}: expected KEY=VALUE, e.g. --set epochs=5")
        out[key] = value
    return out


def typed(key: str, text: str | Scalar, default: Scalar) -> Scalar:
    """``text`` in the type of the parameter's ``default`` (the rule suite.toml follows:
    param_types.py)."""
    if not isinstance(text, str):
        value = text
    elif isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise SparsebenchError(f"--set {key}={text}: {key} is a boolean; use true or false")
        value = text.lower() == "true"
    elif isinstance(default, int | float):
        parse, kind = (int, "an integer") if isinstance(default, int) else (float, "a number")
        try:
            value = parse(text)
        except ValueError:
            raise SparsebenchError(f"--set {key}={text}: {key} is {kind} (the tier's is "
                                   f"{default!r})") from None
    else:
        value = text
    same = isinstance(value, type(default)) or (isinstance(default, float)
                                                 and isinstance(value, int)
                                                 and not isinstance(value, bool))
    if not same:
        raise SparsebenchError(f"--set {key}={value!r}: {key} takes the type of the tier's "
                               f"value {default!r}")
    return float(value) if isinstance(default, float) else value


def apply(plan: Plan, sets: dict[str, str | Scalar]) -> Plan:
    """``plan`` with ``sets`` replacing its parameters (checked against the tier)."""
    if not sets:
        return plan
    factors = plan.factor_values()
    tuned = plan.tuning.param if plan.tuning else None
    done: dict[str, Scalar] = {}
    for key, text in sets.items():
        if key in factors:
            raise SparsebenchError(f"--set {key}={text}: {key} is a factor of suite "
                                   f"{plan.suite.name}; choose its values with --where")
        if key == tuned:
            raise SparsebenchError(f"--set {key}={text}: {key} is tuned at tier {plan.tier}; "
                                   "a set value would bypass the tuning")
        if key not in plan.params:
            known = ", ".join(sorted(plan.params)) or "none"
            raise SparsebenchError(f"--set {key}={text}: suite {plan.suite.name} has no "
                                   f"parameter {key!r} at tier {plan.tier}; its parameters: "
                                   f"{known}")
        done[key] = typed(key, text, plan.params[key])
    grids = tuple(replace(g, params={**g.params, **{k: v for k, v in done.items()
                                                     if k in g.params}})
                  for g in plan.grids)
    return replace(plan, params={**plan.params, **done}, grids=grids,
                   overrides={**plan.overrides, **done}, whole=plan.whole or plan)
