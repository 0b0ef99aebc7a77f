"""Load a suite folder, validate it against its schema and itself, import its task.

Every problem is a :class:`SpecError` naming the file and the key, raised before any
training starts.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import SpecError
from .identity import CodeIdentity, code_identity
from .param_types import check_param_types
from .problems import SpecErrors, problems_of
from .schemas import CLAIM_KINDS, ClaimSpec, ClaimsSpec, RowSpec, SuiteSpec
from .suite_imports import import_failure, import_suite_module

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = REPO_ROOT / "suites"
@dataclass(frozen=True)
class Suite:
    name: str
    folder: Path
    spec: SuiteSpec
    claims: ClaimsSpec
    task: Callable[[dict, Any], dict]
    task_batch: Callable[[list[dict], list[Any]], list[dict | Exception]] | None
    task_version: str
    code: CodeIdentity  # the code its cells run, hashed into their ids (identity.py)
    batch_varying: tuple[str, ...] = ("seed",)

    @property
    def tiers(self) -> list[str]:
        return list(self.spec.tiers)

    @property
    def cli_name(self) -> str:
        """How a command names it: the name of a shipped suite, else its folder's path."""
        shipped = (SUITES_DIR / self.folder.name).resolve() == self.folder.resolve()
        return self.folder.name if shipped else str(self.folder)


def find_suite_folder(name_or_path: str) -> Path:
    """A suite is named by its folder under ``suites/`` or by a path to any folder."""
    path = Path(name_or_path)
    if (path / "suite.toml").is_file():
        return path.resolve()
    candidate = SUITES_DIR / name_or_path
    if (candidate / "suite.toml").is_file():
        return candidate
    known = ", ".join(available_suites()) or "none"
    local = Path("suites") / name_or_path
    hint = (f"; ./{local} is a suite folder: name it by its path (--suite {local}), since a "
            f"bare name reads {SUITES_DIR}") if (local / "suite.toml").is_file() else ""
    raise SpecError(name_or_path, "", f"no suite of that name or path (suites in "
                    f"{SUITES_DIR}: {known}){hint}")


def available_suites() -> list[str]:
    if not SUITES_DIR.is_dir():
        return []
    return sorted(p.name for p in SUITES_DIR.iterdir() if (p / "suite.toml").is_file())


def _read_toml(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(path, "", "file is missing") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise SpecError(path, "", f"not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(path, "", f"not valid TOML: {err}") from None


def _validated(path: Path, model: type[BaseModel], data: dict) -> Any:
    """The file's data as ``model``, or a SpecErrors with every problem pydantic found:
    one per key (a union's alternatives, e.g. "a string or a number", are one)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        by_key: dict[str, list[str]] = {}
        for error in err.errors():
            key, message = _schema_problem(data, error)
            messages = by_key.setdefault(key, [])
            if message not in messages:
                messages.append(message)
        problems = []
        for key, messages in by_key.items():
            either = [m for m in messages if m.startswith(_EXPECTED)]
            if either:  # a value fits none of a union's types: one line lists them all
                alternatives = [m.removeprefix(_EXPECTED) for m in either]
                problems.append((path, key, _EXPECTED + "; or ".join(alternatives)))
            problems += [(path, key, m) for m in messages if not m.startswith(_EXPECTED)]
        raise SpecErrors(problems) from None


_EXPECTED = "Input should be "  # how pydantic begins a type error's message


def _schema_problem(data: dict, error: dict) -> tuple[str, str]:
    """The key and message of one pydantic error; a claim's key names its id, and a
    message about a claim's keys names its kind."""
    key, kind = _key_path(data, error["loc"], missing=error["type"] == "missing")
    of_kind = f" for kind {kind!r}" if kind else ""
    if error["type"] == "extra_forbidden":
        return key, f"unknown key{of_kind}"
    if error["type"] == "missing":
        return key, f"required for kind {kind!r}" if kind else "required key is missing"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # a claim's kind
        kinds = ", ".join(repr(k) for k in CLAIM_KINDS)
        if error["type"] == "union_tag_not_found":
            return f"{key}.kind", f"required key is missing; kinds are {kinds}"
        return f"{key}.kind", f"unknown kind {error['ctx']['tag']!r}; kinds are {kinds}"
    return key, error["msg"].removeprefix("Value error, ")


def _key_path(data: Any, loc: tuple, missing: bool = False) -> tuple[str, str | None]:
    """'claim[2] (id "x").op' from pydantic's location, and the kind of the claim (the
    discriminated union's member) the error is in, if any.

    Pydantic puts union-member tags in a location: a claim's kind right after its index
    ('claim', 2, 'threshold', 'op'), a type ('str', 'list[int]'), '[key]': skipped. A
    missing key (``missing``) is the location's last part."""
    out, kind = "", None
    after_item = False
    for i, part in enumerate(loc):
        if after_item and isinstance(data, dict) and part == data.get("kind"):
            kind = part  # the tag, before any key: a "value" claim also has a key "value"
        elif isinstance(data, dict) and part in data:
            out += ("." if out else "") + str(part)
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            item = data[part]
            claim = out == "claim" and isinstance(item, dict)
            out = _claim_key(part, item.get("id")) if claim else f"{out}[{part}]"
            data = item
            after_item = True
            continue
        elif missing and i == len(loc) - 1 and isinstance(data, dict):
            out += ("." if out else "") + str(part)
        after_item = False
    return out or "(top level)", kind


def _claim_key(index: int, claim_id: Any) -> str:
    """'claim[2] (id "a-beats-b")': a claim by its place and, when it has one, its id."""
    if isinstance(claim_id, str):
        return f"claim[{index}] (id {json.dumps(claim_id, ensure_ascii=False)})"
    return f"claim[{index}]"


def _import_task(folder: Path, ref: str, suite_file: Path) -> ModuleType:
    """The task module: ``folder/<module>.py`` as a module of the folder's own package
    (suite_imports.py: modules beside it import relatively), else an importable module."""
    module_name, _, _ = ref.partition(":")
    local = folder / (module_name.replace(".", "/") + ".py")
    try:
        if local.is_file():
            return import_suite_module(folder, module_name)
        return importlib.import_module(module_name)
    except Exception as err:  # any import failure is the user's to fix
        raise SpecError(suite_file, "task", import_failure(ref, err, folder)) from None


def load_suite(name_or_path: str) -> Suite:
    folder = find_suite_folder(name_or_path)
    suite_file, claims_file = folder / "suite.toml", folder / "claims.toml"
    # the schema problems of both files at once; what claims.toml refers to in suite.toml
    # once suite.toml holds together (else its problems would show again, as the claims')
    spec, claims = _all_of(lambda: _validated(suite_file, SuiteSpec, _read_toml(suite_file)),
                           lambda: _validated(claims_file, ClaimsSpec, _read_toml(claims_file)))
    _check_suite(suite_file, spec)
    _check_claims(claims_file, claims, spec)

    module = _import_task(folder, spec.task, suite_file)
    func_name = spec.task.partition(":")[2]
    task = getattr(module, func_name, None)
    if not callable(task):
        raise SpecError(suite_file, "task", f"{spec.task!r}: module has no function {func_name!r}")
    version = getattr(module, "TASK_VERSION", None)
    if not isinstance(version, str):
        raise SpecError(suite_file, "task", "the task module must define TASK_VERSION = '<str>'")
    batch = getattr(module, func_name + "_batch", None)
    varying = tuple(getattr(module, "BATCH_VARYING", ("seed",)))
    return Suite(unique_name(folder), folder, spec, claims, task,
                 batch if callable(batch) else None, version,
                 code_identity(_task_file(folder, spec.task, module), folder), varying)


def _task_file(folder: Path, ref: str, module: ModuleType) -> Path:
    """The task's source: the module file in the suite folder, else wherever it imported
    from."""
    local = folder / (ref.partition(":")[0].replace(".", "/") + ".py")
    return local if local.is_file() else Path(module.__file__)


def unique_name(folder: Path) -> str:
    """The folder's name; a folder elsewhere that shares a shipped suite's name gets a
    suffix from its path, so the two never share cells or report files."""
    shipped = SUITES_DIR / folder.name
    if folder.resolve() == shipped.resolve() or not (shipped / "suite.toml").is_file():
        return folder.name
    return f"{folder.name}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:6]}"


def load_suites(names_or_paths: list[str]) -> list[Suite]:
    """Several suites, refusing two that would share a name (cells and report files)."""
    suites = [load_suite(n) for n in names_or_paths]
    by_name: dict[str, Suite] = {}
    for suite in suites:
        other = by_name.setdefault(suite.name, suite)
        if other is not suite and other.folder != suite.folder:
            raise SpecError(suite.folder, "", f"another suite is also named {suite.name!r} "
                            f"({other.folder}); rename one folder")
    return list({s.folder: s for s in suites}.values())


# ------------------------------------------------------------------ checks


def _check_suite(path: Path, spec: SuiteSpec) -> None:
    """Every problem of suite.toml against itself, all reported at once."""
    problems = _Problems(path)
    overlap = set(spec.factors) & set(spec.params)
    if overlap:
        problems.add(f"params.{sorted(overlap)[0]}", "is also a factor; name it once")
    for key in ("default_tier", "reference"):
        tier = getattr(spec, key)
        if tier is not None and tier not in spec.tiers:
            problems.add(key, f"{tier!r} is not one of the tiers {sorted(spec.tiers)}")
    known = set(spec.factors) | set(spec.params)
    for i, factor in enumerate(spec.paired):
        if factor not in spec.factor_values():
            problems.add(f"paired[{i}]", f"unknown factor {factor!r}; factors are "
                            f"{sorted(spec.factor_values())}")
    if spec.tuning:
        t = spec.tuning
        if t.param in spec.factors:
            problems.add("tuning.param", f"{t.param!r} is a factor; it cannot be tuned")
        for i, factor in enumerate(t.per):
            if factor not in spec.factors:
                problems.add(f"tuning.per[{i}]", f"unknown factor {factor!r}; factors "
                                f"are {sorted(spec.factors)}")
        if t.objective not in spec.metrics:
            problems.add("tuning.objective", f"unknown metric {t.objective!r}; "
                            f"metrics are {sorted(spec.metrics)}")
        for key in t.params:
            if key not in known:
                problems.add(f"tuning.params.{key}", "unknown parameter")
    for i, caveat in enumerate(spec.caveat):
        if caveat.choice not in spec.choices:
            problems.add(f"caveat[{i}].choice", f"{caveat.choice!r} is not a key of "
                            f"[choices]: {sorted(spec.choices)}")
        for j, metric in enumerate(caveat.metrics):
            if metric not in spec.metrics:
                problems.add(f"caveat[{i}].metrics[{j}]", f"unknown metric {metric!r}; "
                                f"metrics are {sorted(spec.metrics)}")
    for i, sweep in enumerate(spec.sensitivity):
        key = f"sensitivity[{i}]"
        if sweep.choice not in spec.choices:
            problems.add(f"{key}.choice", f"{sweep.choice!r} is not a key of "
                            f"[choices]: {sorted(spec.choices)}")
        if sweep.param not in spec.params:
            problems.add(f"{key}.param", f"{sweep.param!r} is not a key of [params]"
                            " (a factor or the tuned parameter cannot be swept)")
            continue
        default = spec.params[sweep.param]
        for j, value in enumerate(sweep.values):
            if not _same_type(value, default):
                problems.add(f"{key}.values[{j}]", f"{value!r} is not of the type "
                                f"of params.{sweep.param} ({default!r})")
        for factor, value in sweep.where.items():
            if factor not in spec.factors or value not in spec.factors[factor]:
                problems.add(f"{key}.where.{factor}", f"not a value of the main "
                                f"grid's factors {dict(spec.factors)}")
    if spec.recipe:
        for name, choice in spec.recipe.space.items():
            if name not in spec.params:
                problems.add(f"recipe.space.{name}", "not a key of [params] (a "
                                "factor or the tuned parameter cannot be searched)")
                continue
            for j, value in enumerate(choice.values or []):
                if not _same_type(value, spec.params[name]):
                    problems.add(f"recipe.space.{name}.values[{j}]", f"{value!r} is "
                                    f"not of the type of params.{name} "
                                    f"({spec.params[name]!r})")
        for factor, value in spec.recipe.where.items():
            if factor not in spec.factors or value not in spec.factors[factor]:
                problems.add(f"recipe.where.{factor}", f"not a value of the main "
                                f"grid's factors {dict(spec.factors)}")
    all_factors = spec.factor_values()
    names = [g.name for g in spec.grid]
    for i, grid in enumerate(spec.grid):
        if names.count(grid.name) > 1 or grid.name == "main":
            problems.add(f"grid[{i}].name", f"{grid.name!r} is used twice or reserved")
        for key in grid.params:
            if key not in spec.params:
                problems.add(f"grid[{i}].params.{key}", "unknown parameter; give its "
                                "default in [params]")
    for tier_name, tier in spec.tiers.items():
        for i, name in enumerate(tier.grids or []):
            if name not in names:
                problems.add(f"tiers.{tier_name}.grids[{i}]", f"no grid {name!r}; "
                                f"grids are {names}")
        for key in tier.params:
            if key not in spec.params:
                hint = " (it is a factor: use tiers.<tier>.factors)" if key in spec.factors else ""
                problems.add(f"tiers.{tier_name}.params.{key}",
                                f"unknown parameter{hint}")
        for key, values in tier.factors.items():
            if key not in all_factors or key == "grid":
                problems.add(f"tiers.{tier_name}.factors.{key}",
                                f"unknown factor; factors are {sorted(all_factors)}")
                continue
            for i, value in enumerate(values):
                if value not in all_factors[key]:
                    problems.add(f"tiers.{tier_name}.factors.{key}[{i}]",
                                    f"{value!r} is not one of the factor's values "
                                    f"{all_factors[key]} (a tier narrows a grid, never adds)")
        if tier.tuning and not spec.tuning:
            problems.add(f"tiers.{tier_name}.tuning", "the suite has no [tuning]")
        if tier.tuning:
            for key in tier.tuning.params:
                if key not in known:
                    problems.add(f"tiers.{tier_name}.tuning.params.{key}",
                                    "unknown parameter")
    for check in (_check_scale, check_param_types):
        try:
            check(path, spec)
        except SpecError as err:
            for _, key, message in problems_of(err):
                problems.add(key, message)
    problems.raise_any()


def _check_scale(path: Path, spec: SuiteSpec) -> None:
    """[scale] names parameters, grids and (per metric) settings that exist."""
    stated = {"tuning_trials"} if spec.scale and spec.scale.tuning_trials else set()
    if spec.scale:
        if spec.scale.tuning_trials and not spec.tuning:
            raise SpecError(path, "scale.tuning_trials", "the suite has no [tuning]")
        grids = [g.name for g in spec.grid]
        blocks = [("scale.params", spec.scale.params)]
        for name, grid in spec.scale.grids.items():
            if name not in grids:
                raise SpecError(path, f"scale.grids.{name}", f"no grid {name!r}; grids are "
                                f"{grids}")
            blocks.append((f"scale.grids.{name}.params", grid.params))
        for key, params in blocks:
            for name in params:
                if name not in spec.params:
                    raise SpecError(path, f"{key}.{name}", "unknown parameter; give its "
                                    "default in [params]")
                stated.add(name)
        stated |= set(spec.scale.unmatched)
    for metric, m in spec.metrics.items():
        for field in ("depends_on", "bound_to"):
            for i, name in enumerate(getattr(m, field) or []):
                if name not in stated:
                    raise SpecError(path, f"metrics.{metric}.{field}[{i}]", f"{name!r} is not "
                                    f"one of the write-up's settings in [scale]: "
                                    f"{sorted(stated)}")
        if m.depends_on is not None:
            for i, name in enumerate(m.bound_to):
                if name not in m.depends_on:
                    raise SpecError(path, f"metrics.{metric}.bound_to[{i}]", f"{name!r} is not "
                                    f"in depends_on {m.depends_on}: a number bound to a "
                                    "setting depends on it")
    for tier_name, tier in spec.tiers.items():
        if tier.stands_for_scale is not None:
            _check_stands_for_scale(path, spec, f"tiers.{tier_name}.stands_for_scale",
                                    tier.stands_for_scale)


def _check_stands_for_scale(path: Path, spec: SuiteSpec, key: str, stand) -> None:
    """The conditions name metrics the task returns and factors of the suite."""
    if spec.scale is None:
        raise SpecError(path, key, "the suite declares no [scale] for the tier to stand for")
    factors = spec.factor_values()
    conditions = [(f"{key}.requires[{i}]", c) for i, c in enumerate(stand.requires)]
    if stand.learned is not None:
        conditions.append((f"{key}.learned", stand.learned))
    for where_key, condition in conditions:
        metric = spec.metrics.get(condition.metric)
        if metric is None or metric.kind not in ("scalar", "vector"):
            raise SpecError(path, f"{where_key}.metric", f"{condition.metric!r} is not a scalar "
                            f"or vector metric of [metrics]")
        index = getattr(condition, "index", None)
        if (index is not None) != (metric.kind == "vector"):
            raise SpecError(path, f"{where_key}.index" if index is not None else where_key,
                            "a vector metric needs index (learned takes scalars only), a "
                            "scalar takes none")
        for name, value in getattr(condition, "where", {}).items():
            if name not in factors or value not in factors[name]:
                raise SpecError(path, f"{where_key}.where.{name}", f"{name} = {value!r} is not "
                                f"a factor value of the suite: {factors}")


class _Problems:
    """The problems found in one file: each check adds its own and goes on, so that the
    user sees all of them at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[Path, str, str]] = []

    def add(self, key: str, message: str) -> None:
        if (self.path, key, message) not in self.found:
            self.found.append((self.path, key, message))

    def raise_any(self) -> None:
        if self.found:
            raise SpecErrors(self.found)


def _all_of(*checks: Callable[[], Any]) -> list:
    """Run every check; raise the problems of all of them together, else their results."""
    results, problems = [], []
    for check in checks:
        try:
            results.append(check())
        except SpecError as err:
            problems += problems_of(err)
    if problems:
        raise SpecErrors(problems)
    return results


def _same_type(value: object, default: object) -> bool:
    """An override fits a parameter: the same type, or an int for a float."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return type(value) is type(default)


def _check_where(problems: _Problems, key: str, where: dict, spec: SuiteSpec) -> None:
    factors = spec.factor_values()
    for factor, value in where.items():
        if factor not in factors:
            problems.add(f"{key}.{factor}", f"unknown factor; factors are {sorted(factors)}")
        elif value not in factors[factor]:
            problems.add(f"{key}.{factor}", f"{value!r} is not one of {factors[factor]}")


def _check_one_config(problems: _Problems, key: str, where: dict, spec: SuiteSpec,
                      row_hint: bool = False) -> bool:
    """A ``where`` that a verdict reads names one configuration at every tier (or none:
    a configuration a tier leaves out reads "not in this tier"). Whether it found one
    that names several."""
    for tier in spec.tiers:
        matches = [c for c in spec.tier_configs(tier)
                   if all(c.get(k) == v for k, v in where.items())]
        if len(matches) < 2:
            continue
        free = sorted({k for c in matches for k in c if k not in where
                       and len({str(m.get(k)) for m in matches}) > 1})
        hint = ("; or, for a row the suite does not run (another paper's method), "
                'not_run = "why"') if row_hint else ""
        problems.add(key, f"{where} matches {len(matches)} configurations at tier "
                     f"{tier!r}; also give {free}{hint}")
        return True
    return False


def _metric_problem(metric: str, index: int | None, spec: SuiteSpec) -> str | None:
    """What keeps ``metric`` (at ``index``) from being one a claim or column can test."""
    if metric not in spec.metrics:
        return f"no task metric {metric!r}; the suite's metrics are {sorted(spec.metrics)}"
    kind = spec.metrics[metric].kind
    if kind == "image":
        return f"metric {metric!r} is an image: only a [[figure]] shows it"
    if index is not None and kind == "scalar":
        return f"metric {metric!r} is a scalar; it takes no index"
    if index is None and kind == "vector":
        return f"metric {metric!r} is a vector; give an index"
    return None


def _check_metric(problems: _Problems, key: str, metric: str, index: int | None,
                  spec: SuiteSpec) -> bool:
    """Whether ``metric`` (at ``index``) is one a claim or column can test."""
    problem = _metric_problem(metric, index, spec)
    if problem:
        problems.add(key, problem)
    return problem is None


def _check_column_metric(problems: _Problems, t: int, ckey: str, rows: list[RowSpec],
                         metric: str, col_index: int | None, spec: SuiteSpec) -> None:
    """A column's metric as each row it reads asks for it: one problem per kind of
    mistake, naming every row that makes it (not only the first)."""
    failing: dict[str, list[int]] = {}
    for r, row in enumerate(rows):
        if row.not_run:  # no metric of ours is read for it
            continue
        problem = _metric_problem(metric, row.index if row.index is not None else col_index,
                                  spec)
        if problem:
            failing.setdefault(problem, []).append(r)
    for problem, bad in failing.items():
        if len(bad) > 1 and problem.endswith("give an index"):
            problem += " (on each of these rows, or once as the column's index)"
        which = ", ".join(f"row[{r}]" for r in bad)
        problems.add(f"table[{t}].{which} x {ckey}.metric", problem)


def _check_claims(path: Path, claims: ClaimsSpec, spec: SuiteSpec) -> None:
    """Every reference of claims.toml to the suite and to itself; raises SpecErrors with
    all the problems found."""
    problems = _Problems(path)
    params = set(spec.params) | set(spec.factor_values()) | \
        ({spec.tuning.param} if spec.tuning else set())
    for metric in claims.forensics:
        if metric not in spec.metrics:
            problems.add(f"forensics.{metric}", f"no task metric {metric!r}; the suite's "
                         f"metrics are {sorted(spec.metrics)}")
    every_table = {table.id for table in claims.table}
    for side in ("fit", "check"):
        for i, tid in enumerate(getattr(spec.recipe, side) if spec.recipe else []):
            if tid not in every_table:
                problems.add(f"suite.toml recipe.{side}[{i}]", f"no table {tid!r} in "
                             f"claims.toml; its tables are {sorted(every_table)}")
    table_ids: set[str] = set()
    for t, table in enumerate(claims.table):
        if table.id in table_ids:
            problems.add(f"table[{t}].id", f"duplicate table id {table.id!r}")
        table_ids.add(table.id)
        keys = [c.key for c in table.columns]
        for c, col in enumerate(table.columns):
            ckey = f"table[{t}].columns[{c}]"
            if keys.count(col.key) > 1:
                problems.add(f"{ckey}.key", f"duplicate column key {col.key!r}")
            if col.metric:
                _check_column_metric(problems, t, ckey, table.row, col.metric, col.index, spec)
            elif col.param not in params:
                problems.add(f"{ckey}.param", f"unknown parameter {col.param!r}")
            _check_where(problems, f"{ckey}.where", col.where, spec)
        for r, row in enumerate(table.row):
            _check_where(problems, f"table[{t}].row[{r}].where", row.where, spec)
            if not row.not_run:
                for col in table.columns:
                    if _check_one_config(problems, f"table[{t}].row[{r}].where",
                                         {**row.where, **col.where}, spec, row_hint=True):
                        break
            for key in row.reported:
                if key not in keys:
                    problems.add(f"table[{t}].row[{r}].reported.{key}",
                                 f"no column {key!r} in this table; columns are {keys}")
                _parse_or_fail(problems, f"table[{t}].row[{r}].reported.{key}",
                               row.reported[key])
            for key, expr in row.derived.items():
                if key not in row.reported:
                    problems.add(f"table[{t}].row[{r}].derived.{key}",
                                 "derives a cell the row does not report")
                _check_expression(problems, f"table[{t}].row[{r}].derived.{key}", expr, claims)
        for c, col in enumerate(table.columns):
            if col.param is not None:
                if col.chance is not None:
                    problems.add(f"table[{t}].columns[{c}].chance", "only a metric column is "
                                 "tested against chance")
                continue
            metric = spec.metrics.get(col.metric)
            if metric is None or (col.chance is None and metric.chance is None):
                continue  # an unknown metric is reported above
            if col.higher_is_better is None and metric.higher_is_better is None:
                problems.add(f"table[{t}].columns[{c}].higher_is_better",
                             "a column tested against chance needs a better direction: set "
                             f"it here or on metric {col.metric!r} in suite.toml")
    for f, figure in enumerate(claims.figure):
        fkey = f"figure[{f}]"
        if figure.id in table_ids:
            problems.add(f"{fkey}.id", f"duplicate table or figure id {figure.id!r}")
        table_ids.add(figure.id)
        if figure.metric not in spec.metrics or spec.metrics[figure.metric].kind != "image":
            images = sorted(n for n, m in spec.metrics.items() if m.kind == "image")
            problems.add(f"{fkey}.metric", f"{figure.metric!r} is not an image metric of the "
                         f"suite; its image metrics are {images}")
        for r, row in enumerate(figure.row):
            _check_where(problems, f"{fkey}.row[{r}].where", row.where, spec)
    for f, curves in enumerate(claims.curves):
        fkey = f"curves[{f}]"
        if curves.id in table_ids:
            problems.add(f"{fkey}.id", f"duplicate table or figure id {curves.id!r}")
        table_ids.add(curves.id)
        for m, metric in enumerate(curves.metrics):
            if metric not in spec.metrics or spec.metrics[metric].kind != "curve":
                known = sorted(n for n, s in spec.metrics.items() if s.kind == "curve")
                problems.add(f"{fkey}.metrics[{m}]", f"{metric!r} is not a curve metric of the "
                             f"suite; its curve metrics are {known}")
        for m, metric in enumerate(curves.log_y):
            if metric not in curves.metrics:
                problems.add(f"{fkey}.log_y[{m}]", f"{metric!r} is not one of this figure's "
                             f"metrics {curves.metrics}")
        if curves.x_param is not None and curves.x_param not in spec.params:
            problems.add(f"{fkey}.x_param", f"{curves.x_param!r} is not a parameter of "
                         "[params]")
        for r, row in enumerate(curves.row):
            _check_where(problems, f"{fkey}.row[{r}].where", row.where, spec)
    ids: set[str] = set()
    for i, claim in enumerate(claims.claim):
        key = _claim_key(i, claim.id)
        if claim.id in ids:
            problems.add(f"{key}.id", f"duplicate claim id {claim.id!r}")
        ids.add(claim.id)
        _check_claim(problems, key, claim, spec, claims)
    problems.raise_any()


def _check_claim(problems: _Problems, key: str, claim: ClaimSpec, spec: SuiteSpec,
                 claims: ClaimsSpec) -> None:
    metric = getattr(claim, "metric", None)
    known = metric is not None and _check_metric(problems, f"{key}.metric", metric,
                                                 claim.index, spec)
    if known and getattr(claim, "index_b", None) is not None:
        _check_metric(problems, f"{key}.index_b", metric, claim.index_b, spec)
    for side in ("a", "b"):
        where = getattr(claim, side, None)
        if where:
            _check_where(problems, f"{key}.{side}", where, spec)
            _check_one_config(problems, f"{key}.{side}", where, spec)
    if known and claim.kind == "non_inferior" and claim.higher_is_better is None \
            and spec.metrics[metric].higher_is_better is None:
        problems.add(f"{key}.higher_is_better", "which way is better? set it here or on "
                     f"metric {metric!r} in suite.toml")
    if claim.kind == "internal":
        for side in ("left", "right"):
            _check_expression(problems, f"{key}.{side}", getattr(claim, side), claims)
    if claim.kind == "not_testable" and claim.when_run is not None:
        inner = claim.when_run
        _check_metric(problems, f"{key}.when_run.metric", inner.metric, inner.index, spec)
        for side in ("a", "b"):
            where = getattr(inner, side, None)
            if where:
                _check_run_where(problems, f"{key}.when_run.{side}", where, spec)


def _check_run_where(problems: _Problems, key: str, where: dict, spec: SuiteSpec) -> None:
    """A when_run arm: factors, plus swept values or ``recipe = "closest"``."""
    swept: dict[str, list] = {}
    for sweep in spec.sensitivity:
        swept.setdefault(sweep.param, []).extend(sweep.values)
    factors = {k: v for k, v in where.items() if k not in swept and k != "recipe"}
    _check_where(problems, key, factors, spec)
    for name, value in where.items():
        if name == "recipe":
            if spec.recipe is None:
                problems.add(f"{key}.recipe", "the suite declares no [recipe] search")
            elif value != "closest":
                problems.add(f"{key}.recipe", f"{value!r}: the only recipe a claim can "
                             "name is \"closest\" (the search's closest, re-run with every seed)")
        elif name in swept and value not in swept[name]:
            problems.add(f"{key}.{name}", f"{value!r} is not a value the [[sensitivity]] "
                         f"sweep of {name} tries ({swept[name]})")


def _check_expression(problems: _Problems, key: str, expr: str, claims: ClaimsSpec) -> None:
    from ..stats.core import parse_reported
    from ..stats.expressions import evaluate

    class UnreadableCell(Exception):
        """A cited cell whose text does not parse: its own problem, reported at the cell."""

    def lookup(table: str, row: str, col: str) -> tuple[float, float | None]:
        text = claims.reported_text(table, row, col)
        try:
            reported = parse_reported(text)
        except ValueError:
            raise UnreadableCell from None
        return reported.mean, reported.spread

    try:
        evaluate(expr, lookup)
    except (ValueError, ArithmeticError) as err:
        problems.add(key, str(err))
    except UnreadableCell:
        pass


def _parse_or_fail(problems: _Problems, key: str, text: str | float) -> None:
    from ..stats.core import parse_reported
    from .schemas import reported_str

    try:
        parse_reported(reported_str(text))
    except ValueError as err:
        problems.add(key, str(err))


__all__ = ["Suite", "load_suite", "available_suites", "find_suite_folder", "ClaimSpec"]
