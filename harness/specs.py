"""Schemas of the two files a suite is made of, validated with pydantic.

``suite.toml`` says how to run the experiment (task, factors, parameters, seeds,
tiers, tuning); ``claims.toml`` says what the write-up reports (its tables as data
and its claims as checkable statements). Cross-file checks live in ``suite.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = bool | int | float | str
Where = dict[str, Scalar]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- suite.toml


class MetricSpec(Strict):
    description: str = ""
    unit: str = ""
    # image: a stack of equally shaped tiles (e.g. decoder filters), drawn by a claims.toml
    # [[figure]]; stored with the cell, never summarised, compared or tested
    kind: Literal["scalar", "vector", "curve", "image"] = "scalar"
    labels: list[str] | None = None  # names of a vector's entries, e.g. layers
    shape: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)] \
        | None = None  # an image metric's tile, [height, width]
    timing: bool = False  # a wall-clock measurement: reported, never compared by regress
    # Cross-platform regress compares means within 4 standard errors; this is the floor
    # for metrics whose seeds can tie (accuracies of small test sets, counts).
    tolerance: Annotated[float, Field(ge=0)] = 0.0
    # The same for every seed by construction (a parameter count, FLOPs): equal seeds are
    # compared exactly. Otherwise equal seeds give no test (zero spread is not no noise).
    deterministic: bool = False
    # Which of the write-up's settings ([scale]) this metric's value depends on; None: all
    # of them (a trained number); [] for one no setting changes.
    depends_on: list[Name] | None = None

    @model_validator(mode="after")
    def _image_shape(self) -> MetricSpec:
        if (self.shape is not None) != (self.kind == "image"):
            raise ValueError("an image metric needs shape = [height, width]; other kinds "
                             "take none")
        return self


class TuningSpec(Strict):
    """An Optuna search for one parameter, run separately for each value of ``per``."""

    param: Name
    per: list[Name] = []
    low: float
    high: float
    log: bool = False
    trials: Annotated[int, Field(ge=1, le=10_000)]
    objective: Name
    direction: Literal["maximize", "minimize"]
    seed: int = 0
    params: dict[Name, Scalar] = {}  # overrides for the trial runs (e.g. a validation holdout)
    # Trials asked before results are told (a round trains as one batch); default: all
    # trials up to TPE's 10 random start-up trials, so rounds do not change what is sampled.
    parallel: Annotated[int, Field(ge=1, le=10_000)] | None = None

    @field_validator("high")
    @classmethod
    def _range(cls, high: float, info) -> float:
        low = info.data.get("low")
        if low is not None and not high > low:
            raise ValueError(f"must be greater than low ({low})")
        if info.data.get("log") and low is not None and low <= 0:
            raise ValueError("log scale needs low > 0")
        return high


class TuningOverride(Strict):
    trials: Annotated[int, Field(ge=1, le=10_000)] | None = None
    params: dict[Name, Scalar] = {}


Seeds = Annotated[int, Field(ge=1, le=10_000)] | Annotated[list[int], Field(min_length=1)]


class GridSpec(Strict):
    """An extra grid beside the main ``[factors]`` grid, e.g. a hyper-parameter sweep.

    Its cells get ``grid = <name>`` among their parameters; its factors and params
    override the suite's ``[params]``. Tuning applies to the main grid only.
    """

    name: Name
    factors: Annotated[dict[Name, Annotated[list[Scalar], Field(min_length=1)]],
                       Field(min_length=1)]
    params: dict[Name, Scalar] = {}


class TierSpec(Strict):
    description: str = ""
    seeds: Seeds | None = None
    grids: list[Name] | None = None  # which extra grids run at this tier (default: all)
    params: dict[Name, Scalar] = {}
    factors: dict[Name, Annotated[list[Scalar], Field(min_length=1)]] = {}
    tuning: TuningOverride | None = None


class ScaleGridSpec(Strict):
    params: dict[Name, Scalar] = {}


class ScaleSpec(Strict):
    """The write-up's own settings, as it states them (epochs, steps, rows, sizes,
    targets). A tier whose cells run other values is not the write-up's experiment:
    verdicts that depend on these settings are "not comparable" there (harness/scale.py).
    """

    params: dict[Name, Scalar] = {}  # for the main grid's cells
    tuning_trials: Annotated[int, Field(ge=1)] | None = None
    grids: dict[Name, ScaleGridSpec] = {}  # an extra [[grid]]'s settings, instead of params
    # what the write-up used that no tier reproduces (e.g. its data): name -> what we use
    unmatched: dict[Name, str] = {}
    note: str = ""  # where the write-up states them, or what it leaves unstated


class SuiteSpec(Strict):
    title: str
    writeup: str
    task: str  # "module:function"; module relative to the suite folder or importable
    default_tier: str = "quick"
    seeds: Seeds
    metrics: Annotated[dict[Name, MetricSpec], Field(min_length=1)]
    factors: dict[Name, Annotated[list[Scalar], Field(min_length=1)]] = {}
    params: dict[Name, Scalar] = {}
    tuning: TuningSpec | None = None
    grid: list[GridSpec] = []
    tiers: Annotated[dict[Name, TierSpec], Field(min_length=1)]
    choices: dict[str, str] = {}  # the write-up was silent; what we chose and why
    scale: ScaleSpec | None = None  # the write-up's own settings
    # CPU threads every cell runs with (recorded in its fingerprint); None: the process's
    # setting (--threads). Small models often run faster, and always the same, on one.
    threads: Annotated[int, Field(ge=1, le=1024)] | None = None

    def factor_values(self) -> dict[str, list]:
        """Every factor of every grid (and ``grid`` itself) with all its values."""
        out: dict[str, list] = {k: list(v) for k, v in self.factors.items()}
        for g in self.grid:
            for k, values in g.factors.items():
                out.setdefault(k, [])
                out[k] += [v for v in values if v not in out[k]]
        if self.grid:
            out["grid"] = [g.name for g in self.grid]
        return out

    @field_validator("task")
    @classmethod
    def _task_ref(cls, task: str) -> str:
        module, sep, func = task.partition(":")
        if not sep or not module or not func.isidentifier():
            raise ValueError("expected 'module:function', e.g. 'task:run'")
        return task


# --------------------------------------------------------------- claims.toml


class SourceSpec(Strict):
    file: str
    reported_n: Annotated[int, Field(ge=1)] | None = None  # seeds behind the write-up's +/-
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    n_note: str = ""  # why reported_n is what it is, when the write-up does not say


class ColumnSpec(Strict):
    key: Name
    label: str
    metric: Name | None = None  # a metric the task produces ...
    param: Name | None = None  # ... or a parameter of the cell (e.g. the tuned LR)
    where: Where = {}
    index: Annotated[int, Field(ge=0)] | None = None
    format: str = ".2f"
    margin: Annotated[float, Field(ge=0)] | None = None  # reproduced within +/- margin

    @field_validator("param")
    @classmethod
    def _one_source(cls, param: str | None, info) -> str | None:
        if (param is None) == (info.data.get("metric") is None):
            raise ValueError("a column takes exactly one of 'metric' or 'param'")
        return param

    @field_validator("format")
    @classmethod
    def _format(cls, spec: str) -> str:
        try:
            format(1.5, spec)
        except ValueError as err:
            raise ValueError(f"not a Python format spec: {err}") from None
        return spec


class RowSpec(Strict):
    label: str
    where: Where = {}
    index: Annotated[int, Field(ge=0)] | None = None
    reported: dict[Name, str] = {}  # column key -> the write-up's text, e.g. "86.50 +/- 0.32"


class TableSpec(Strict):
    id: Name
    title: str
    row_header: str
    columns: Annotated[list[ColumnSpec], Field(min_length=1)]
    row: Annotated[list[RowSpec], Field(min_length=1)]
    reported_n: Annotated[int, Field(ge=1)] | None = None
    note: str = ""
    plot: bool = True


class FigureRowSpec(Strict):
    label: str
    where: Where = {}


class FigureSpec(Strict):
    """Tiles of an image metric: one row per configuration, from the first finished seed."""

    id: Name
    title: str
    metric: Name
    row: Annotated[list[FigureRowSpec], Field(min_length=1)]
    tiles: Annotated[int, Field(ge=1, le=256)] = 16  # the first n tiles of each row
    seed: int | None = None  # which seed's tiles (default: the lowest finished)
    note: str = ""


ClaimKind = Literal[
    "greater", "equivalent", "value", "threshold", "above_chance", "internal", "not_testable"
]


class ClaimSpec(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
    quote: str
    kind: ClaimKind
    section: str = ""
    metric: Name | None = None
    index: Annotated[int, Field(ge=0)] | None = None
    index_b: Annotated[int, Field(ge=0)] | None = None  # b's entry, when it differs from a's
    a: Where | None = None
    b: Where | None = None
    significant: bool = False  # the write-up calls the difference significant
    family: str | None = None  # Holm correction across 'greater' claims of one family
    value: float | None = None  # for value / threshold
    margin: Annotated[float, Field(ge=0)] | None = None  # for value / equivalent
    op: Literal[">", ">=", "<", "<=", "=="] | None = None  # threshold / internal
    chance: float | None = None  # above_chance
    direction: Literal["above", "below"] = "above"  # above_chance: better is above or below
    reported: str | None = None  # above_chance: the write-up's own figure, checked too
    left: str | None = None  # internal: expressions over the write-up's numbers
    right: str | None = None
    tol: Annotated[float, Field(ge=0)] = 0.0
    reason: str | None = None  # not_testable: why


class ClaimsSpec(Strict):
    source: SourceSpec
    table: list[TableSpec] = []
    figure: list[FigureSpec] = []
    claim: list[ClaimSpec] = []

    def reported_text(self, table_id: str, row_label: str, col_key: str) -> str:
        """The write-up's text in one table cell; ValueError if the tables have none."""
        for table in self.table:
            if table.id == table_id:
                for row in table.row:
                    if row.label == row_label and col_key in row.reported:
                        return row.reported[col_key]
        raise ValueError(f"the write-up tables have no cell {table_id}/{row_label}/{col_key}")
