"""Schemas of the two files a suite is made of, validated with pydantic.

``suite.toml`` says how to run the experiment (task, factors, parameters, seeds,
tiers, tuning); ``claims.toml`` says what the write-up reports (its tables as data
and its claims as checkable statements). Cross-file checks live in ``suite.py``.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = bool | int | float | str
Where = dict[str, Scalar]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]



def narrow(factors: dict[str, list], keep: dict[str, list]) -> dict[str, list]:
    """A grid's factors with a tier's values kept: each factor the tier names keeps only
    the values the tier lists (in the grid's order); the others keep all of theirs."""
    return {k: [v for v in values if v in keep[k]] if k in keep else list(values)
            for k, values in factors.items()}


def product_of(factors: dict[str, list]) -> list[dict]:
    """Every combination of the factors' values, the first factor slowest."""
    names = list(factors)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(factors[n] for n in names))]

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
    # Across machine classes regress and verify compare seeds by distribution
    # (harness/stats/drift.py); a difference of means within this never counts (a metric whose
    # resolution is coarse: accuracies of small test sets, counts).
    tolerance: Annotated[float, Field(ge=0)] = 0.0
    # The same for every seed by construction (a parameter count, FLOPs): equal seeds are
    # compared exactly. Otherwise equal seeds give no test (zero spread is not no noise).
    deterministic: bool = False
    # Which of the write-up's settings ([scale]) this metric's value depends on; None: all
    # of them (a trained number); [] for one no setting changes.
    depends_on: list[Name] | None = None
    higher_is_better: bool | None = None  # which way is better, for chance and non-inferiority
    chance: float | None = None  # what a model that learned nothing scores
    # The values the metric can take, [low, high] (an accuracy in % : [0, 100]): intervals
    # are cut to them and the margin rule measures from the nearer one (docs/verdicts.md)
    bounds: tuple[float, float] | None = None
    # What one seed's value is: a measurement (the default: seeds are tested by their
    # mean), a 0/1 ``indicator`` (reached the target: yes or no) or a ``choice`` picked
    # from a grid (the lambda a calibration chose). An indicator or a choice is judged by
    # how many seeds reproduce the claim, with an exact binomial test, never by a t test
    # of its mean (docs/verdicts.md)
    per_seed: Literal["measurement", "indicator", "choice"] = "measurement"
    # Settings of [scale] whose own values this metric's number is tied to (a density on a
    # canvas of a given size): a tier that stands for the write-up's scale with other
    # values of them still cannot compare it (harness/judge/scale.py)
    bound_to: list[Name] = []

    @model_validator(mode="after")
    def _bounds_ordered(self) -> MetricSpec:
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise ValueError(f"bounds = {list(self.bounds)}: the first must be the lower")
        return self

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


Comparison = Literal["<", "<=", ">", ">="]


class LearnedSpec(Strict):
    """What a configuration's seed mean of a scalar metric must reach to count as having
    learned the task."""

    metric: Name
    op: Comparison
    value: float


class RegimeCondition(LearnedSpec):
    """A measured condition, on one configuration's seed mean."""

    where: Where = {}
    index: Annotated[int, Field(ge=0)] | None = None  # an entry of a vector metric


class StandsForScale(Strict):
    """A tier that runs other settings than the write-up's but reproduces the regime its
    claims are about (a smaller canvas annealed to the same activity per motif, say).
    Its run must show that it did (``requires``); then verdicts are judged there, except
    on metrics bound to a setting it changes (``MetricSpec.bound_to``) and on
    configurations that did not learn the task at its budget (``learned``)."""

    why: Annotated[str, Field(min_length=1)]
    requires: Annotated[list[RegimeCondition], Field(min_length=1)]
    learned: LearnedSpec | None = None


class TierSpec(Strict):
    description: str = ""
    seeds: Seeds | None = None
    grids: list[Name] | None = None  # which extra grids run at this tier (default: all)
    params: dict[Name, Scalar] = {}
    factors: dict[Name, Annotated[list[Scalar], Field(min_length=1)]] = {}
    tuning: TuningOverride | None = None
    stands_for_scale: StandsForScale | None = None


class ScaleGridSpec(Strict):
    params: dict[Name, Scalar] = {}


class ScaleSpec(Strict):
    """The write-up's own settings, as it states them (epochs, steps, rows, sizes,
    targets). A tier whose cells run other values is not the write-up's experiment:
    verdicts that depend on these settings are "not comparable" there (harness/judge/scale.py).
    """

    params: dict[Name, Scalar] = {}  # for the main grid's cells
    tuning_trials: Annotated[int, Field(ge=1)] | None = None
    grids: dict[Name, ScaleGridSpec] = {}  # an extra [[grid]]'s settings, instead of params
    # what the write-up used that no tier reproduces (e.g. its data): name -> what we use
    unmatched: dict[Name, str] = {}
    note: str = ""  # where the write-up states them, or what it leaves unstated


class SensitivitySpec(Strict):
    """An open choice tried at other values: the configurations of a tier's main grid
    that ``where`` keeps, run again with ``param`` at each of ``values`` (cells of stage
    "sens", each seed as in the tier), so the report can say whether any tried choice
    reproduces a reported number (harness/judge/sensitivity.py)."""

    choice: str  # the [choices] key this explores
    param: Name  # the [params] key it varies
    values: Annotated[list[Scalar], Field(min_length=1)]
    where: Where = {}
    why: Annotated[str, Field(min_length=1)]  # why this choice could move the numbers


class RecipeChoice(Strict):
    """One choice the write-up leaves unstated, as a search space: ``values`` (a list of
    candidates) or a range ``low``..``high`` (``log`` scale, ``integer``); ``why`` says
    where the candidates come from (the field's conventions, a library's default, the
    data set's standard split, the write-up's forensics)."""

    values: list[Scalar] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    why: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _one_form(self) -> RecipeChoice:
        ranged = self.low is not None or self.high is not None
        if (self.values is None) == (not ranged):
            raise ValueError("give either values = [...] or low and high")
        if ranged and (self.low is None or self.high is None or not self.high > self.low):
            raise ValueError("a range needs low < high")
        if ranged and self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.values is not None and not self.values:
            raise ValueError("values must not be empty")
        return self


class RecipeSpec(Strict):
    """The recipe search (``sparsebench recipe``, harness/recipe/search.py): the open choices as
    a space, the tables whose reported numbers it fits and those it holds out."""

    space: Annotated[dict[Name, RecipeChoice], Field(min_length=1)]
    fit: Annotated[list[Name], Field(min_length=1)]  # table ids the distance is taken on
    check: list[Name] = []  # table ids held out (the claims are always checked)
    where: Where = {}  # the main configurations searched (default: all)
    trials: Annotated[int, Field(ge=1, le=10_000)] = 40
    best: Annotated[int, Field(ge=1, le=20)] = 3  # closest recipes re-run with every seed
    seed: int = 0  # the sampler's
    # trials asked before any is told (one round runs together); fixed here, not by the
    # machine's workers, so that the same search asks the same recipes everywhere
    parallel: Annotated[int, Field(ge=1, le=64)] = 4


class CaveatSpec(Strict):
    """A choice a verdict could rest on (harness/report/caveats.py): named beside every claim and
    table that reads one of ``metrics``."""

    choice: Annotated[str, Field(min_length=1)]  # a key of [choices]
    label: Annotated[str, Field(min_length=1)]  # a few words, shown beside each verdict
    metrics: Annotated[list[Name], Field(min_length=1)]
    text: Annotated[str, Field(min_length=1)]


class SuiteSpec(Strict):
    title: str
    writeup: str
    task: str  # "module:function"; module relative to the suite folder or importable
    default_tier: str = "quick"
    # The tier that is the write-up's experiment, or the largest that fits a 2-core CPU
    # when the write-up's does not; its results ship as expected/<tier>.json.
    reference: str | None = None
    seeds: Seeds
    metrics: Annotated[dict[Name, MetricSpec], Field(min_length=1)]
    factors: dict[Name, Annotated[list[Scalar], Field(min_length=1)]] = {}
    params: dict[Name, Scalar] = {}
    tuning: TuningSpec | None = None
    grid: list[GridSpec] = []
    tiers: Annotated[dict[Name, TierSpec], Field(min_length=1)]
    choices: dict[str, str] = {}  # the write-up was silent; what we chose and why
    sensitivity: list[SensitivitySpec] = []  # some of the choices, tried at other values
    recipe: RecipeSpec | None = None  # the open choices searched for the reported numbers
    caveat: list[CaveatSpec] = []  # choices a verdict could rest on (caveats.py)
    scale: ScaleSpec | None = None  # the write-up's own settings
    # Factors whose values train twins: cells that differ only in these share seed, data
    # order and initialisation (the task guarantees it), so claims across them are paired.
    paired: list[Name] = []
    # CPU threads every cell runs with (recorded in its fingerprint); None: the process's
    # setting (--threads). Small models often run faster, and always the same, on one.
    threads: Annotated[int, Field(ge=1, le=1024)] | None = None

    def tier_configs(self, tier: str) -> list[dict]:
        """Every configuration (factor values, no seed) a tier runs, main grid first, as
        a plan of that tier lists them."""
        t = self.tiers[tier]
        out = product_of(narrow(self.factors, t.factors))
        for g in self.grid:
            kept = narrow(g.factors, t.factors)
            if (t.grids is None or g.name in t.grids) and all(kept.values()):
                out += [{"grid": g.name, **c} for c in product_of(kept)]
        return out

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


Reported = str | int | float  # the write-up's text ("86.50 ± 0.32", "73.4%") or a bare number


class MarginSpec(Strict):
    """A margin other than the default rule (``judge.default_margin``) says why."""

    margin: Annotated[float, Field(ge=0)] | None = None
    margin_reason: str = ""

    @model_validator(mode="after")
    def _margin_reason(self):
        if self.margin is not None and not self.margin_reason.strip():
            raise ValueError("a margin other than the default rule needs margin_reason: "
                             "one line on why")
        if self.margin is None and self.margin_reason:
            raise ValueError("margin_reason without a margin")
        return self


class ColumnSpec(MarginSpec):
    """One column of a write-up table. Its reported cells get a value verdict (reproduced
    within the margin) unless ``no_verdict`` says why not; with ``chance`` every reported
    cell, the write-up's number and ours, is also tested against chance in the better
    direction."""

    key: Name
    label: str
    metric: Name | None = None  # a metric the task produces ...
    param: Name | None = None  # ... or a parameter of the cell (e.g. the tuned LR)
    where: Where = {}
    index: Annotated[int, Field(ge=0)] | None = None
    format: str = ".2f"
    no_verdict: str = ""  # why the reported cells are shown without a verdict
    higher_is_better: bool | None = None  # default: the metric's
    chance: float | None = None  # default: the metric's
    # how the write-up computed this column from other cells, once for every row that
    # reports it: an expression with {row} (the row's label) and {<factor>} (its where)
    derived: str | None = None

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

    @model_validator(mode="after")
    def _verdict_or_reason(self) -> ColumnSpec:
        if self.no_verdict and self.margin is not None:
            raise ValueError("a column with no_verdict takes no margin")
        return self


class RowSpec(Strict):
    label: str
    where: Where = {}
    # why the suite runs no configuration for this row (another paper's method quoted
    # for comparison, a model it does not build): its reported numbers are shown and
    # checked against themselves, and its cells read "not testable" with this reason
    not_run: str = ""
    index: Annotated[int, Field(ge=0)] | None = None
    reported: dict[Name, Reported] = {}  # column key -> the write-up's number
    # column key -> how the write-up computed that number from other cells, e.g.
    # "100 * (rep('perf', '64 / Fixed', 'loss') - rep('perf', '64 / Ada', 'loss'))
    #  / rep('perf', '64 / Fixed', 'loss')": the cell carries its inputs' uncertainty
    derived: dict[Name, str] = {}


class TableSpec(Strict):
    id: Name
    title: str
    row_header: str
    columns: Annotated[list[ColumnSpec], Field(min_length=1)]
    row: Annotated[list[RowSpec], Field(min_length=1)]
    reported_n: Annotated[int, Field(ge=1)] | None = None
    note: str = ""
    plot: bool = True

    @model_validator(mode="after")
    def _derived_columns(self) -> TableSpec:
        """A column's ``derived`` becomes each reporting row's, its placeholders filled."""
        for col in self.columns:
            if col.derived is None:
                continue
            for row in self.row:
                if col.key not in row.reported or col.key in row.derived:
                    continue
                names = {**{k: str(v) for k, v in row.where.items()}, "row": row.label}

                def fill(m: re.Match, names=names, col=col, row=row) -> str:
                    if m.group(1) not in names:
                        raise ValueError(f"column {col.key!r}: derived names {{{m.group(1)}}}"
                                         f", which row {row.label!r} does not give; it "
                                         f"gives {sorted(names)}")
                    return names[m.group(1)]

                row.derived[col.key] = re.sub(r"\{(\w+)\}", fill, col.derived)
        return self


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


class CurvesSpec(Strict):
    """Curve metrics (one value per evaluation during training) against training progress:
    a panel per metric, a colour per configuration, a line per seed. No verdict: the
    picture shows how a run got where its numbers are (or why it did not)."""

    id: Name
    title: str
    metrics: Annotated[list[Name], Field(min_length=1, max_length=4)]
    row: Annotated[list[FigureRowSpec], Field(min_length=1, max_length=10)]
    # the k-th point (from 1) lies at k x this parameter (e.g. val_every steps); None: at k
    x_param: Name | None = None
    x_label: str = "evaluation"
    log_y: list[Name] = []  # panels drawn on a log scale (a density annealed geometrically)
    note: str = ""


ClaimId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]


class ClaimBase(Strict):
    id: ClaimId
    quote: str
    section: str = ""
    headline: bool = False  # one of the write-up's headline claims: on the landing page


class OneArm(ClaimBase):
    metric: Name
    index: Annotated[int, Field(ge=0)] | None = None
    a: Where


class TwoArms(OneArm):
    """a against b. Both sides paired by seed when the plan makes them twins (the same
    configuration, or configurations that differ only in a suite's ``paired`` factors)."""

    b: Where
    index_b: Annotated[int, Field(ge=0)] | None = None  # b's entry, when it differs from a's


class GreaterClaim(TwoArms):
    """a's mean exceeds b's (by more than ``by``, for "by a wide margin")."""

    kind: Literal["greater"]
    by: Annotated[float, Field(ge=0)] = 0.0
    significant: bool = False  # the write-up calls the difference significant


class StatedMargin(MarginSpec):
    """Two arms have no reported number to scale a default margin by, so a claim between
    them states its margin and why."""

    noun: ClassVar[str] = "a claim between two arms"

    @model_validator(mode="after")
    def _needs_margin(self):
        if self.margin is None:
            raise ValueError(f"{self.noun} states its margin and margin_reason")
        return self


class EquivalentClaim(TwoArms, StatedMargin):
    """a and b within ±margin of each other (TOST)."""

    noun: ClassVar[str] = "an equivalence claim"
    kind: Literal["equivalent"]


class NonInferiorClaim(TwoArms, StatedMargin):
    """a no worse than b by more than the margin ("equivalent or better", "without
    sacrificing"); better is the metric's ``higher_is_better`` unless the claim says."""

    noun: ClassVar[str] = "a non-inferiority claim"
    kind: Literal["non_inferior"]
    higher_is_better: bool | None = None


class ValueClaim(OneArm, MarginSpec):
    """a's mean within ±margin of a number. ``of = "target"``: a setting the write-up
    chose (exact); ``of = "measurement"``: a number it measured, one draw of its own
    process (or the mean of ``reported_n`` runs)."""

    kind: Literal["value"]
    value: float
    of: Literal["target", "measurement"]
    reported_n: Annotated[int, Field(ge=1)] | None = None


class ThresholdClaim(OneArm):
    kind: Literal["threshold"]
    op: Literal[">", ">=", "<", "<="]
    value: float


class InternalClaim(ClaimBase):
    """The write-up against itself: two expressions over its numbers (expressions.py)."""

    kind: Literal["internal"]
    left: str
    op: Literal[">", ">=", "<", "<=", "=="]
    right: str
    tol: Annotated[float, Field(ge=0)] = 0.0
    # The sides are estimates, not printed arithmetic: the write-up's spreads of the cells
    # they cite are propagated (delta method) and the comparison is a test at alpha
    # ('==' then reads tol as an equivalence margin).
    statistical: bool = False


WhenRun = Annotated[
    GreaterClaim | EquivalentClaim | NonInferiorClaim | ValueClaim | ThresholdClaim,
    Field(discriminator="kind"),
]


class NotTestableClaim(ClaimBase):
    kind: Literal["not_testable"]
    reason: Annotated[str, Field(min_length=1)]
    # the claim it becomes once a sweep or the recipe search ran what it needs
    # (harness/judge/when_run.py); it shares the claim's id, quote and section
    when_run: WhenRun | None = None

    @model_validator(mode="before")
    @classmethod
    def _share_identity(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("when_run"), dict):
            shared = {k: data[k] for k in ("id", "quote", "section", "headline") if k in data}
            data = {**data, "when_run": {**data["when_run"], **shared}}
        return data


ClaimSpec = Annotated[
    GreaterClaim | EquivalentClaim | NonInferiorClaim | ValueClaim | ThresholdClaim
    | InternalClaim | NotTestableClaim,
    Field(discriminator="kind"),
]
CLAIM_KINDS = ("greater", "equivalent", "non_inferior", "value", "threshold", "internal",
               "not_testable")
TwoArmClaim = GreaterClaim | EquivalentClaim | NonInferiorClaim


class ForensicsSpec(Strict):
    """What one run's value of a metric can be in the write-up, for the checks of its
    printed numbers against themselves (harness/judge/write_up_checks.py)."""

    # the grid a single run's value lies on: "1" for a count, "100/1000" for an accuracy
    # in % over 1000 examples; none when the values are continuous (losses)
    step: Annotated[str, Field(pattern=r"^\s*\d+(\.\d+)?\s*(/\s*\d+\s*)?$")] | None = None
    low: float | None = None  # bounds of one run's value (a percentage: 0 and 100)
    high: float | None = None
    why: Annotated[str, Field(min_length=1)]  # where the grid and the bounds come from
    # what the grid takes that the write-up does not state (e.g. "N = 1000 test examples,
    # accuracy = correct / N"): shown in every finding that rests on it
    assumed: str = ""
    # chance level of one run's value (10 classes: 10 %), for the below-chance check of the
    # write-up's numbers where neither the column nor the metric declares one (a chance
    # there also gives our runs a chance verdict; here it checks the write-up alone)
    chance: float | None = None

    @property
    def step_value(self):
        """The step as an exact rational, or None."""
        from fractions import Fraction

        if self.step is None:
            return None
        top, _, bottom = self.step.partition("/")
        return Fraction(top.strip()) / Fraction(bottom.strip() or "1")

    @property
    def examples(self) -> int | None:
        """N of a step written "100/N" (an accuracy over N examples), else None."""
        top, _, bottom = (self.step or "").partition("/")
        return int(bottom) if top.strip() == "100" and bottom.strip() else None


class ClaimsSpec(Strict):
    source: SourceSpec
    forensics: dict[Name, ForensicsSpec] = {}  # metric -> its grid and bounds
    table: list[TableSpec] = []
    figure: list[FigureSpec] = []
    curves: list[CurvesSpec] = []
    claim: list[ClaimSpec] = []

    @model_validator(mode="before")
    @classmethod
    def _rows_of(cls, data: object) -> object:
        """A table, figure or curves block with ``rows_of = "<table id>"`` in place of
        ``row`` takes that table's rows (label, where and, for a table, index; never the
        reported numbers): the configurations are declared once per claims file."""
        if not isinstance(data, dict):
            return data
        tables = {t.get("id"): t for t in data.get("table", []) if isinstance(t, dict)}
        out = dict(data)
        for kind in ("table", "figure", "curves"):
            blocks = []
            for block in data.get(kind, []):
                if isinstance(block, dict) and "rows_of" in block:
                    block = dict(block)
                    source = block.pop("rows_of")
                    if "row" in block:
                        raise ValueError(f"{kind} {block.get('id')!r}: give row or rows_of, "
                                         "not both")
                    rows = tables.get(source, {}).get("row")
                    if not isinstance(rows, list):
                        raise ValueError(f"{kind} {block.get('id')!r}: rows_of names "
                                         f"{source!r}, which is no table with rows here; "
                                         f"tables: {sorted(k for k in tables if k)}")
                    keep = ("label", "where", "index", "not_run") if kind == "table" \
                        else ("label", "where")
                    # a row the suite does not run has nothing for a figure to draw
                    block["row"] = [{k: r[k] for k in keep if k in r} for r in rows
                                    if kind == "table" or not r.get("not_run")]
                blocks.append(block)
            if kind in data:
                out[kind] = blocks
        return out

    @model_validator(mode="before")
    @classmethod
    def _expand_for_each(cls, data: object) -> object:
        """A claim with ``for_each = { factor = [v1, v2] }`` is one claim per value: the
        value joins ``a`` (and ``b``), the id gains ``-<value>`` (without dots: 0.01 ->
        ``-001``) and the quote
        ``[factor = value]``. The write-up says it once; it is checked at every value."""
        if not isinstance(data, dict) or not isinstance(data.get("claim"), list):
            return data
        return {**data, "claim": [c for claim in data["claim"] for c in expand(claim)]}

    def reported_text(self, table_id: str, row_label: str, col_key: str) -> str:
        """The write-up's text in one table cell; ValueError if the tables have none."""
        for table in self.table:
            if table.id == table_id:
                for row in table.row:
                    if row.label == row_label and col_key in row.reported:
                        return reported_str(row.reported[col_key])
        raise ValueError(f"the write-up tables have no cell {table_id}/{row_label}/{col_key}")


def reported_str(value: Reported) -> str:
    """A reported number as text for ``stats.parse_reported`` (a bare number as written)."""
    return value if isinstance(value, str) else repr(value)


def expand(claim: object) -> list:
    """One claim dict per combination of its ``for_each`` values (see ClaimsSpec)."""
    if not isinstance(claim, dict) or "for_each" not in claim:
        return [claim]
    rest = {k: v for k, v in claim.items() if k != "for_each"}
    grid = claim["for_each"]
    if not isinstance(grid, dict) or not grid or not all(
            isinstance(v, list) and v for v in grid.values()):
        raise ValueError(f"claim {claim.get('id')!r}: for_each takes factors with lists of "
                         "values, e.g. for_each = { seq_len = [64, 128] }")
    out = []
    for values in itertools.product(*grid.values()):
        chosen = dict(zip(grid, values, strict=True))
        one = dict(rest)
        for side in ("a", "b"):
            if isinstance(one.get(side), dict):
                clash = set(chosen) & set(one[side])
                if clash:
                    raise ValueError(f"claim {claim.get('id')!r}: for_each and {side} both "
                                     f"set {sorted(clash)}")
                one[side] = {**one[side], **chosen}
        one["id"] = "-".join([str(claim.get("id")), *(_id_part(v) for v in values)])
        one["quote"] = f"{claim.get('quote', '')} [" + ", ".join(
            f"{k} = {v}" for k, v in chosen.items()) + "]"
        out.append(one)
    return out


def _id_part(value: object) -> str:
    """A factor value as part of a claim id: 0.01 -> '001', 'Fixed 50' -> 'fixed_50'."""
    return re.sub(r"[^a-z0-9_-]", "_", str(value).lower().replace(".", ""))
