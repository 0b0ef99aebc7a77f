"""Seeds grouped by configuration: selection by factor values, per-config summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..run.store import CellRecord
from ..spec.plan import Plan
from ..stats.core import Summary, summarize


class Ambiguous(SpecError):
    pass


@dataclass
class Selection:
    """The seeds of one configuration for one metric entry."""

    config: dict | None  # None when the tier has no such configuration
    values: np.ndarray  # one per finished seed
    failed: int = 0  # seeds of this config stored as failed
    seeds: list | None = None  # the seed of each value, in order
    valueless: int = 0  # finished seeds without a value of this entry (a NaN, never measured)

    @property
    def n(self) -> int:
        return len(self.values)


class Results:
    """Main-stage records of a plan, addressable by ``where`` (factor values)."""

    def __init__(self, plan: Plan, records: list[CellRecord]):
        self.plan = plan
        self.records = records
        self.configs = plan.configs()

    def config_for(self, where: dict, source: str) -> dict | None:
        matches = [c for c in self.configs if all(c.get(k) == v for k, v in where.items())]
        if not matches:
            return None
        if len(matches) > 1:
            free = sorted({k for k in self.plan.factor_names if k not in where
                           and len({str(c.get(k)) for c in matches}) > 1})
            raise Ambiguous(source, "where", f"{where} matches {len(matches)} configurations "
                            f"at tier {self.plan.tier!r}; also give {free}")
        return matches[0]

    def ran(self, config: dict) -> bool:
        """Whether this configuration has any stored cell (finished or failed)."""
        return bool(self._records(config))

    def records_of(self, config: dict) -> list[CellRecord]:
        """Every record of ``config`` (whatever its seed or stage)."""
        return self._records(config)

    def _records(self, config: dict) -> list[CellRecord]:
        return [r for r in self.records if all(r.params.get(k) == v for k, v in config.items())]

    def select(self, where: dict, metric: str, index: int | None, source: str) -> Selection:
        config = self.config_for(where, source)
        if config is None:
            return Selection(None, np.array([]))
        return selection(config, self._records(config), metric, index)

    def param(self, where: dict, name: str, source: str) -> object | None:
        """A parameter shared by the config's cells (e.g. the tuned learning rate)."""
        config = self.config_for(where, source)
        if config is None:
            return None
        values = {repr(r.params.get(name)): r.params.get(name) for r in self._records(config)}
        if len(values) != 1:
            return None
        return next(iter(values.values()))

    def tiles(self, where: dict, metric: str, shape: list[int], count: int,
              seed: int | None, source: str) -> tuple[int, np.ndarray] | None:
        """(seed, the first ``count`` tiles of an image metric) of one configuration:
        the given seed's, else the lowest finished seed's; None when none finished."""
        config = self.config_for(where, source)
        if config is None:
            return None
        done = sorted((r for r in self._records(config) if r.status == "done"
                       and metric in r.metrics), key=lambda r: r.params["seed"])
        if seed is not None:
            done = [r for r in done if r.params["seed"] == seed]
        if not done:
            return None
        flat = np.asarray(done[0].metrics[metric], dtype=float)
        size = shape[0] * shape[1]
        if flat.size % size:
            raise SpecError(source, "metric", f"{metric!r} has {flat.size} values, not a whole "
                            f"number of {shape[0]} x {shape[1]} tiles")
        return done[0].params["seed"], flat.reshape(-1, *shape)[:count]

    def curves(self, where: dict, metrics: list[str], source: str
               ) -> list[tuple[int, dict[str, list[float]]]]:
        """(seed, {metric: its points}) of every finished seed of one configuration that
        returned the curves, in seed order; [] when the tier has no such configuration."""
        config = self.config_for(where, source)
        if config is None:
            return []
        done = sorted((r for r in self._records(config) if r.status == "done"),
                      key=lambda r: r.params["seed"])
        return [(r.params["seed"], {m: [float(v) for v in r.metrics[m]] for m in metrics
                                    if isinstance(r.metrics.get(m), list)})
                for r in done]

    def summaries(self) -> list[tuple[dict, str, Summary]]:
        """(config, metric label, summary) for every scalar and vector entry, grid order;
        wall-clock (timing) metrics are left out: they never repeat exactly."""
        out = []
        for config in self.configs:
            records = [r for r in self._records(config) if r.status == "done"]
            if not records:
                continue
            for name, spec in self.plan.suite.spec.metrics.items():
                if spec.kind in ("curve", "image") or spec.timing:
                    continue
                first = records[0].metrics.get(name)
                if first is None:
                    continue
                indices = [None] if spec.kind == "scalar" else range(len(first))
                for i in indices:
                    values = [entry(r.metrics.get(name), i) for r in records]
                    values = [v for v in values if v is not None]
                    label = name if i is None else f"{name}[{i}]"
                    out.append((config, label, summarize(values)))
        return out


def selection(config: dict, records: list[CellRecord], metric: str, index: int | None
              ) -> Selection:
    """One metric entry of a configuration's records: the finished seeds' values, the
    failed seeds, and the finished ones without a value."""
    found = [(r.params.get("seed"), entry(r.metrics.get(metric), index))
             for r in records if r.status == "done"]
    valueless = sum(v is None for _, v in found)
    found = [(seed, v) for seed, v in found if v is not None]
    failed = sum(r.status == "failed" for r in records)
    return Selection(config, np.array([v for _, v in found], dtype=float), failed,
                     [seed for seed, _ in found], valueless)


def entry(value: object, index: int | None) -> float | None:
    """A scalar, one entry of a vector, or the last point of a curve."""
    if value is None:
        return None
    if isinstance(value, list):
        if index is None:
            return float(value[-1]) if value else None
        return float(value[index]) if index < len(value) else None
    return None if index is not None else float(value)


def is_constant(values: np.ndarray) -> bool:
    return len(values) >= 2 and bool(np.all(values == values[0]))


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
