"""A suite folder is self-contained: its task imports the modules beside it, the docs list
every key the schema has, and one broken folder does not hide the others from `list`."""

from __future__ import annotations

import re
import shutil
import tomllib
import typing
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel

from harness.cli import main
from harness.errors import SpecError
from harness.run.execute import execute_cell
from harness.spec import suite as suite_mod
from harness.spec.plan import resolve
from harness.spec.schemas import ClaimsSpec, SuiteSpec
from harness.spec.suite import _check_claims, _check_suite, load_suite
from tests.conftest import require
from tests.test_suite_validation import edit

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "writing-a-suite.md"
CPU = torch.device("cpu")


# ------------------------------------------------------------ modules beside task.py


def with_helpers(toy: Path, size: float = 7.0) -> Path:
    """The toy suite, its task reading a constant from helpers.py, which reads one from
    consts.py: both import forms, and a sibling importing a sibling."""
    (toy / "consts.py").write_text(f"SIZE = {size}\n")
    (toy / "helpers.py").write_text("from .consts import SIZE\n\n\ndef size():\n"
                                    "    return SIZE\n")
    edit(toy / "task.py", "TASK_VERSION", "from . import helpers\nfrom .helpers import size\n\n"
         "TASK_VERSION")
    edit(toy / "task.py", '"size": 100.0 if', '"size": helpers.size() + size() if')
    return toy


def first_cell_metrics(folder: Path) -> dict:
    suite = load_suite(str(folder))
    cell = resolve(suite, "smoke").main_cells({'{"arm": "a"}': {"lr": 0.3}})[0]
    record = execute_cell(suite, cell, CPU, None)
    assert record.status == "done", record.error
    return record.metrics


def test_task_imports_modules_beside_it_relatively(toy: Path):
    assert first_cell_metrics(with_helpers(toy))["size"] == 14.0


def test_two_suites_with_the_same_folder_and_module_names_stay_apart(tmp_path: Path):
    fixture = REPO / "tests" / "fixtures" / "toy"
    folders = [tmp_path / side / "toy" for side in ("left", "right")]
    for folder, size in zip(folders, (1.0, 2.0), strict=True):
        shutil.copytree(fixture, folder)
        with_helpers(folder, size)
    left, right = (load_suite(str(f)) for f in folders)
    assert left.task.__module__ != right.task.__module__
    assert [first_cell_metrics(f)["size"] for f in folders] == [2.0, 4.0]


def test_two_folders_of_one_name_keep_their_own_task(tmp_path: Path):
    fixture = REPO / "tests" / "fixtures" / "toy"
    folders = [tmp_path / side / "toy" for side in ("left", "right")]
    for folder in folders:
        shutil.copytree(fixture, folder)
    edit(folders[1] / "task.py", '"size": 100.0 if', '"size": 300.0 if')
    assert [first_cell_metrics(f)["size"] for f in folders] == [100.0, 300.0]


def test_an_edited_module_is_imported_again(toy: Path):
    with_helpers(toy)
    assert first_cell_metrics(toy)["size"] == 14.0
    (toy / "consts.py").write_text("SIZE = 8.0\n")
    assert first_cell_metrics(toy)["size"] == 16.0


def test_a_plain_sibling_import_names_the_file_and_the_relative_form(toy: Path):
    (toy / "helpers.py").write_text("X = 1\n")
    edit(toy / "task.py", "TASK_VERSION", "import helpers  # noqa\n\nTASK_VERSION")
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    message = str(err.value)
    assert message.startswith(f"{toy / 'suite.toml'}: task: cannot import 'task:run'")
    assert "No module named 'helpers'" in message and "(at task.py line " in message
    assert "import it relatively, 'from . import helpers'" in message
    assert "\n" not in message


def test_an_error_inside_a_sibling_names_its_file_and_line(toy: Path):
    (toy / "helpers.py").write_text("X = 1\nY = 1 / 0\n")
    edit(toy / "task.py", "TASK_VERSION", "from . import helpers  # noqa\n\nTASK_VERSION")
    with pytest.raises(SpecError, match=r"task: cannot import 'task:run': ZeroDivisionError: "
                                        r"division by zero \(at helpers.py line 2\)"):
        load_suite(str(toy))


def test_dask_workers_import_the_modules_beside_the_task(toy: Path, tmp_path: Path):
    require("distributed")
    from harness.run.executors import DaskExecutor
    from harness.run.runner import Runner
    from harness.run.store import Store

    with_helpers(toy)
    edit(toy / "suite.toml", 'arm = ["a", "b", "c"]', 'arm = ["a"]')
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")
    plan = resolve(load_suite(str(toy)), "smoke")
    with Store(tmp_path / "store.sqlite") as store:
        runner = Runner(store, CPU, None, progress=False, executor=DaskExecutor(workers=1))
        try:
            result = runner.run(plan)
        finally:
            runner.executor.close()
    assert len(result.records) == 3
    assert all(r.status == "done" and r.metrics["size"] == 14.0 for r in result.records), \
        [r.error for r in result.records]


# ------------------------------------------------------------ `sparsebench list`


def test_list_shows_every_good_suite_and_the_bad_one_with_its_error(
        tmp_path: Path, monkeypatch, capsys):
    fixture = REPO / "tests" / "fixtures" / "toy"
    for name in ("a_good", "b_bad", "c_good"):
        shutil.copytree(fixture, tmp_path / name)
    edit(tmp_path / "b_bad" / "claims.toml", 'metric = "size"', 'metric = "sise"')
    monkeypatch.setattr(suite_mod, "SUITES_DIR", tmp_path)
    assert main(["list"]) == 2
    out, err = capsys.readouterr()
    assert re.search(r"^a_good +smoke +9 +9", out, re.M), out
    assert re.search(r"^c_good +full +24 +12", out, re.M), out
    assert re.search(r"^b_bad +- .*does not load", out, re.M), out
    assert err == (f"sparsebench: error: {tmp_path / 'b_bad' / 'claims.toml'}: "
                   "claim[3] (id \"size-deterministic\").metric: no task metric 'sise'; "
                   "the suite's metrics are "
                   "['curve', 'layers', 'score', 'size', 'tiles', 'val_score', 'wall']\n")
    assert main(["list", "--suite", "a_good", "--suite", "c_good"]) == 0


# ------------------------------------------------------------ the docs and the schema


def _models(annotation) -> list[tuple[type[BaseModel], bool]]:
    """The models inside a field's type, each with whether it sits in a dict by name."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    if origin is typing.Annotated:
        return _models(args[0])
    if origin is dict:
        return [(m, True) for m, _ in _models(args[1])]
    return [found for arg in args for found in _models(arg)]


def schema_keys(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every key path of a model: 'tuning.seed', 'tiers.*.description', 'table.columns.key',
    each mapped to 'leaf', 'model' or 'by_name' (a table of models keyed by any name)."""
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        path = prefix + name
        nested = _models(field.annotation)
        out[path] = "leaf" if not nested else "by_name" if nested[0][1] else "model"
        for sub, by_name in nested:
            out.update(schema_keys(sub, path + (".*." if by_name else ".")))
    return out


def doc_keys(data: dict, schema: dict[str, str], prefix: str = "") -> set[str]:
    """The key paths an example uses, in schema_keys' terms."""
    out: set[str] = set()
    for key, value in data.items():
        path = prefix + key
        out.add(path)
        kind = schema.get(path, "leaf")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if kind == "model" and isinstance(item, dict):
                out |= doc_keys(item, schema, path + ".")
            elif kind == "by_name" and isinstance(item, dict):
                for sub in item.values():
                    out |= doc_keys(sub, schema, path + ".*.")
    return out


def doc_examples(section: str) -> dict:
    """Every ```toml block under a '## <section>' heading of the docs, merged."""
    text = DOCS.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    merged = "\n".join(re.findall(r"```toml\n(.*?)```", body, re.S))
    return tomllib.loads(merged)


def test_the_docs_show_every_key_of_the_schema_and_no_other():
    for section, model in (("suite.toml", SuiteSpec), ("claims.toml", ClaimsSpec)):
        schema = schema_keys(model)
        if model is ClaimsSpec:  # expanded before validation (specs.expand, specs._rows_of)
            schema["claim.for_each"] = "leaf"
            schema.update(dict.fromkeys(("table.rows_of", "figure.rows_of",
                                         "curves.rows_of"), "leaf"))
        shown = doc_keys(doc_examples(section), schema)
        if model is ClaimsSpec:  # a when_run claim takes a claim's own keys, shown above it
            # (its id, quote and section are the enclosing claim's)
            assert {"claim.when_run", "claim.when_run.kind"} <= shown
            schema = {k: v for k, v in schema.items() if not k.startswith("claim.when_run.")}
            shown = {k for k in shown if not k.startswith("claim.when_run.")}
        optional = {"figure.rows_of", "curves.rows_of"}  # shown for a table; the text says
        assert not set(schema) - shown - optional, f"{section}: keys the docs do not show"
        assert not shown - set(schema), f"{section}: keys the docs show that do not exist"


def test_the_docs_examples_are_a_valid_suite():
    path = DOCS
    spec = SuiteSpec.model_validate(doc_examples("suite.toml"))
    _check_suite(path, spec)
    _check_claims(path, ClaimsSpec.model_validate(doc_examples("claims.toml")), spec)


def test_the_docs_name_every_task_attribute_the_harness_reads():
    source = Path(suite_mod.__file__).read_text(encoding="utf-8")
    names = set(re.findall(r'getattr\(module, "([A-Z_]+)"', source)) | {"run_batch"}
    assert {"TASK_VERSION", "BATCH_VARYING"} <= names
    text = DOCS.read_text(encoding="utf-8")
    assert all(f"`{name}" in text or f"{name} =" in text for name in names), names


def installed_extras(text: str) -> set[str]:
    """The extras an install line names: '.[test,dist]', 'sparsebench[dist]'."""
    return {extra for group in re.findall(r"(?:\.|sparsebench)\[([a-z,]+)\]", text)
            for extra in group.split(",")}


def test_the_install_lines_name_the_real_extras():
    with open(REPO / "pyproject.toml", "rb") as f:
        extras = set(tomllib.load(f)["project"]["optional-dependencies"])
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    files = [REPO / "noxfile.py", DOCS, *REPO.glob("harness/*.py"), *REPO.glob("tests/*.py")]
    for text in [readme, *(p.read_text(encoding="utf-8") for p in files)]:
        assert installed_extras(text) <= extras, installed_extras(text) - extras
    assert installed_extras(readme) == extras, "the README's install lines name every extra"
