"""Import a suite's task as a module of a package private to its folder.

Each suite folder becomes a package of its own, ``sparsebench_suite_<folder>_<hash of
its resolved path>``, whose ``__path__`` is the folder. So ``task.py`` and the modules
beside it import one another relatively (``from . import helpers``, ``from .helpers
import f``), and two suites that each have a ``helpers.py`` never share a ``sys.modules``
entry, not even a suite and its copy elsewhere. A plain ``import helpers`` is not
resolved to the folder: it would be one global name for every suite (the first suite
loaded would win); the error says to import it relatively. A Dask or submitit worker
loads the suite from its folder the same way.

The package is made again when a ``.py`` file of the folder changed since it was made,
so a long-lived process (a notebook, a test) runs the code whose digest names the cells.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

PREFIX = "sparsebench_suite_"


def package_name(folder: Path) -> str:
    resolved = folder.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    safe = re.sub(r"\W", "_", resolved.name)
    return f"{PREFIX}{safe}_{digest}"


def import_suite_module(folder: Path, module_name: str) -> ModuleType:
    """``folder/<module_name>.py`` as ``<package>.<module_name>``; errors propagate."""
    return importlib.import_module(f"{_package(folder)}.{module_name}")


def _sources_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _package(folder: Path) -> str:
    folder = folder.resolve()
    name = package_name(folder)
    digest = _sources_digest(folder)
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__sparsebench_sources__", None) == digest:
        return name
    if existing is not None:  # an older version of this folder's code
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        for source in folder.rglob("*.py"):
            # Bytecode is checked against the source's size and whole-second mtime: an
            # edit of the same size within a second would load the old code.
            Path(importlib.util.cache_from_source(str(source))).unlink(missing_ok=True)
    importlib.invalidate_caches()
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(folder)])
    else:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    package = importlib.util.module_from_spec(spec)
    package.__sparsebench_sources__ = digest
    sys.modules[name] = package
    if spec.loader is not None:
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[name]
            raise
    return name


def import_failure(ref: str, err: BaseException, folder: Path) -> str:
    """One line: what failed, in which file and line of the suite, and how to fix a
    sibling module imported by its plain name."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    message = f"cannot import {ref!r}: {text}"
    where = _where(err, folder.resolve())
    if where:
        message += f" (at {where})"
    if isinstance(err, ModuleNotFoundError) and err.name:
        top = err.name.split(".")[0]
        if (folder / f"{top}.py").is_file() or (folder / top).is_dir():
            message += (f"; {top} is in the suite folder: import it relatively, "
                        f"'from . import {top}' or 'from .{top} import ...'")
    return message


def _where(err: BaseException, folder: Path) -> str | None:
    """The suite file and line where the import failed, if it failed in the suite."""
    places = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(err.__traceback__)]
    if isinstance(err, SyntaxError) and err.filename:
        places.append((err.filename, err.lineno))
    for filename, lineno in reversed(places):
        path = Path(filename).resolve()
        if path.is_relative_to(folder):
            return f"{path.relative_to(folder).as_posix()} line {lineno}"
    return None
