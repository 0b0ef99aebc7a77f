"""Every problem of a suite folder at once, found without importing its task.

``load_suite`` stops at the first stage that fails (the schema, then suite.toml against
itself, then claims.toml against suite.toml, then the task's import), and importing the
task pulls in torch and the suite's models: seconds before the first word. Checking a
folder before a commit, or a suite written by hand, needs neither. So this module runs
the same schema and cross-file checks (harness/spec/suite.py) on whatever holds together, and
looks at the task module and the write-up on disk instead of importing them:

* the task module of ``task = "module:function"`` exists (in the suite folder, as
  ``load_suite`` finds it, or as an installed module, located without importing it), it
  parses, and it binds the function and ``TASK_VERSION`` at its top level;
* the write-up named by claims.toml's ``source.file`` is where ``sparsebench coverage``
  looks for it, and suite.toml's ``writeup`` names the same file.

What only running the task can show (an import inside it that fails, a metric it does
not return) is left to ``run``; a folder that passes here can still fail there, but not
for a reason written in its two TOML files.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
from pathlib import Path

from ..errors import SpecError
from .problems import problems_of

Problem = tuple[str, str, str]  # (file, key, message), as problems.problems_of gives


def suite_problems(name_or_path: str) -> tuple[str, list[Problem]]:
    """The suite's name (or what was given, when no folder is found) and every problem
    of its folder; an empty list when it is valid."""
    from .suite import find_suite_folder, unique_name

    try:
        folder = find_suite_folder(name_or_path)
    except SpecError as err:
        return name_or_path, problems_of(err)
    found: list[Problem] = []
    raw_suite, raw_claims, spec, claims = _schemas(folder, found)
    if spec is not None:
        _collect(found, _check_suite_of(folder, spec))
        if claims is not None:
            _collect(found, _check_claims_of(folder, claims, spec))
    suite_file = str(folder / "suite.toml")
    task = raw_suite.get("task") if raw_suite else None
    if isinstance(task, str) and ":" in task:  # else the schema has said what is wrong
        found += [(suite_file, "task", m) for m in task_problems(folder, task)]
    found += _writeup_problems(folder, raw_suite, raw_claims)
    return unique_name(folder), _unique(found)


def _schemas(folder: Path, found: list[Problem]):
    """Both files read and validated, each on its own: a broken suite.toml does not hide
    the problems of claims.toml's schema."""
    from .schemas import ClaimsSpec, SuiteSpec
    from .suite import _read_toml, _validated

    out: list = []
    for name, model in (("suite.toml", SuiteSpec), ("claims.toml", ClaimsSpec)):
        path = folder / name
        raw = spec = None
        try:
            raw = _read_toml(path)
            spec = _validated(path, model, raw)
        except SpecError as err:
            found += problems_of(err)
        out.append((raw, spec))
    (raw_suite, spec), (raw_claims, claims) = out
    return raw_suite, raw_claims, spec, claims


def _check_suite_of(folder: Path, spec) -> SpecError | None:
    from .suite import _check_suite

    try:
        _check_suite(folder / "suite.toml", spec)
    except SpecError as err:
        return err
    return None


def _check_claims_of(folder: Path, claims, spec) -> SpecError | None:
    from .suite import _check_claims

    try:
        _check_claims(folder / "claims.toml", claims, spec)
    except SpecError as err:
        return err
    return None


def _collect(found: list[Problem], err: SpecError | None) -> None:
    if err is not None:
        found += problems_of(err)


def _unique(found: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------ the task module


def task_problems(folder: Path, ref: str) -> list[str]:
    """What is wrong with ``task = ref`` as far as the files show, without importing:
    the module is missing, does not parse, or binds neither the function nor
    TASK_VERSION at its top level."""
    module, _, func = ref.partition(":")
    local = folder / (module.replace(".", "/") + ".py")
    source = local if local.is_file() else _installed_source(module)
    if source is None:
        return [f"{ref!r}: no module {module!r}: neither {local} nor an importable module; "
                "put the task in the suite folder or fix the module's name"]
    if source.suffix != ".py":  # a compiled or built-in module: nothing to read
        return []
    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except SyntaxError as err:
        return [f"{ref!r}: {source} line {err.lineno}: invalid syntax ({err.msg})"]
    except OSError as err:
        return [f"{ref!r}: {source} cannot be read ({err.strerror})"]
    names = _top_level_names(tree)
    if names is None:  # a star import may bind anything: only an import can tell
        return []
    problems = []
    if func not in names:
        problems.append(f"{ref!r}: module has no function {func!r} ({source})")
    version = names.get("TASK_VERSION", _ABSENT)
    if version is _ABSENT:
        problems.append(f"the task module must define TASK_VERSION = '<str>' ({source})")
    elif version is not _UNKNOWN and not isinstance(version, str):
        problems.append(f"TASK_VERSION is {version!r}; it must be a string, e.g. "
                        f"TASK_VERSION = '1' ({source})")
    return problems


_ABSENT, _UNKNOWN = object(), object()


def _installed_source(module: str) -> Path | None:
    """The file of an importable module, found the way ``import`` finds it but without
    running any package's ``__init__`` (``importlib.util.find_spec`` on a dotted name
    would import its parents, which for a model package means torch)."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[:i + 1]), list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.has_location:
        return Path(spec.origin)
    return Path(f"<{spec.origin or 'namespace'}>")  # built in, frozen or a bare folder


def _top_level_names(tree: ast.Module) -> dict[str, object] | None:
    """The names a module binds at its top level (inside if/try/with blocks too), each
    with its value when it is a literal (else _UNKNOWN); None after a star import."""
    names: dict[str, object] = {}
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = _UNKNOWN
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names[alias.asname or alias.name.split(".")[0]] = _UNKNOWN
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = _literal(node.value) if node.value is not None else _UNKNOWN
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = value if isinstance(target, ast.Name) else _UNKNOWN
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                todo += getattr(node, field, [])
            for handler in getattr(node, "handlers", []):
                todo += handler.body
    return names


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


# ------------------------------------------------------------------ the write-up


def _writeup_problems(folder: Path, raw_suite: dict | None,
                      raw_claims: dict | None) -> list[Problem]:
    """The write-up is where `coverage` and the reports look for it, and both files name
    the same one."""
    from .coverage import writeup_places

    source = raw_claims.get("source") if raw_claims else None
    name = source.get("file") if isinstance(source, dict) else None
    stated = raw_suite.get("writeup") if raw_suite else None
    problems: list[Problem] = []
    if isinstance(name, str) and isinstance(stated, str) and name != stated:
        problems.append((str(folder / "suite.toml"), "writeup",
                         f"{stated!r}, but claims.toml's source.file is {name!r}; name the "
                         "same write-up in both"))
    if isinstance(name, str) and name:
        places = writeup_places(name, folder)
        if not any(p.is_file() for p in places):
            problems.append((str(folder / "claims.toml"), "source.file",
                             f"write-up {name!r} not found (looked in: "
                             f"{', '.join(str(p) for p in places)}); copy it into the "
                             "suite folder or set $SPARSEBENCH_WRITEUPS to its folder"))
    return problems
