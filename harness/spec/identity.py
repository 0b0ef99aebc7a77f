"""The code a suite's cells run, found from its task's imports and hashed.

A cell's id hashes this digest with the suite's name, ``TASK_VERSION`` and the cell's
parameters, so editing the task or a project module it imports makes new cells instead
of reading stale ones back. The imports are followed statically (``ast``), from the task
file (and ``harness/task_api.py`` and the suite folder's ``__init__.py``, which every
cell runs) through every module it reaches, at any depth and inside functions too: the
suite folder's modules by relative import (``from . import helpers``; namespace
subfolders included), and this project's packages (``harness``, ``baselines``,
``suites``). Third-party packages are not hashed (torch's version is recorded with every
cell instead), nor are imports made by strings at run time
(``importlib.import_module(name)``), nor data files.

Files are named relative to the suite folder or to the project root, and hashed by
content (line endings normalised), so the same code gives the same digest in any clone,
at any path, on any machine.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The project's own top-level packages (pyproject.toml's packages.find): an import of
# anything else is a third-party package, even where it lies beside them (site-packages).
PROJECT_PACKAGES = ("harness", "baselines", "suites")
ALWAYS = ("harness/task_api.py",)  # what every task runs with, imported or not


@dataclass(frozen=True)
class CodeIdentity:
    digest: str  # 16 hex digits over every file below
    files: tuple[str, ...]  # "suite:task.py", "baselines/sae.py", ... in hashing order
    hashes: tuple[str, ...] = ()  # each file's own content hash, in the order of files


def code_identity(task_file: Path, suite_folder: Path,
                  project_root: Path = PROJECT_ROOT) -> CodeIdentity:
    """The digest of ``task_file`` and of every suite or project module it imports."""
    folder, root = suite_folder.resolve(), project_root.resolve()
    start = [task_file.resolve(), *_existing([folder / "__init__.py"]),
             *_existing([root / name for name in ALWAYS])]
    found = _Walker(folder, root).walk(start)
    labelled = sorted((_label(path, folder, root), path) for path in found)
    h = hashlib.sha256()
    hashes = []
    for label, path in labelled:
        content = path.read_bytes().replace(b"\r\n", b"\n")
        h.update(f"{label}\0{len(content)}\0".encode())
        h.update(content)
        hashes.append(hashlib.sha256(content).hexdigest()[:16])
    return CodeIdentity(h.hexdigest()[:16], tuple(label for label, _ in labelled),
                        tuple(hashes))


def _label(path: Path, suite_folder: Path, project_root: Path) -> str:
    if path.is_relative_to(suite_folder):
        return "suite:" + path.relative_to(suite_folder).as_posix()
    if path.is_relative_to(project_root):
        return path.relative_to(project_root).as_posix()
    return "external:" + path.name


class _Walker:
    """Follows imports from one file to the project's and the suite's own modules."""

    def __init__(self, suite_folder: Path, project_root: Path):
        self.suite_folder = suite_folder
        self.project_root = project_root
        self.seen: set[Path] = set()

    def walk(self, start: list[Path]) -> set[Path]:
        todo = list(start)
        while todo:
            path = todo.pop()
            if path in self.seen:
                continue
            self.seen.add(path)
            try:
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except SyntaxError:
                continue  # hashed as bytes all the same; importing it will name the error
            todo += [p for p in self._imported(tree, path) if p not in self.seen]
        return self.seen

    def _imported(self, tree: ast.AST, path: Path) -> list[Path]:
        out: list[Path] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    out += self._absolute(alias.name)
            elif isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names if a.name != "*"]
                if node.level:
                    base = path.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                    out += self._relative(base, node.module, names)
                elif node.module:
                    out += self._absolute(node.module)
                    out += [p for n in names for p in self._absolute(f"{node.module}.{n}")]
        return out

    def _absolute(self, dotted: str) -> list[Path]:
        """A module of the project's packages; a package's ``__init__.py`` files come
        along, since importing runs them. (The suite folder's modules are reached by
        relative imports only, as harness/spec/suite_imports.py loads them.)"""
        parts = dotted.split(".")
        if parts[0] not in PROJECT_PACKAGES:
            return []
        return self._chain(self.project_root, parts)

    def _relative(self, base: Path, module: str | None, names: list[str]) -> list[Path]:
        parts = module.split(".") if module else []
        out = self._chain(base, parts) if parts else _existing([base / "__init__.py"])
        return out + [p for n in names for p in self._chain(base, [*parts, n])]

    def _chain(self, base: Path, parts: list[str]) -> list[Path]:
        """The files that importing ``base/parts[0]/.../parts[-1]`` runs: a module, or a
        package's ``__init__.py``, at each level; a folder without one (a namespace
        package) adds no file and the walk goes on into it."""
        out = []
        for i in range(1, len(parts) + 1):
            stem = base.joinpath(*parts[:i])
            module = _existing([stem.with_name(stem.name + ".py"), stem / "__init__.py"])
            if not module and not stem.is_dir():
                break
            out += [m for m in module[:1] if m.is_relative_to(self.suite_folder)
                    or m.is_relative_to(self.project_root)]
        return out


def _existing(paths: list[Path]) -> list[Path]:
    return [p.resolve() for p in paths if p.is_file()]
