"""``sparsebench init FOLDER --writeup FILE``: a suite folder whose claims.toml already
holds the write-up's own tables, so that a newcomer writes the model and the factors, not
the numbers.

Each table of the write-up (writeup_tables.py) becomes a ``[[table]]``: a column per
column that holds numbers, a row per body row with every cell's text as printed in
``reported``. What the write-up does not say, init cannot know, so it picks placeholders
that keep the folder loading and running at once, as ``sparsebench new`` does: one metric
per column (named after its header), one factor ``model`` with a value per row label, and
a task.py that returns a random number for each metric until it is replaced. The
write-up is copied into the folder, where ``sparsebench coverage`` looks first.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SparsebenchError
from .scaffold import TEMPLATES, check_folder, create
from .writeup_tables import HEADING, Table, clean, find_tables

MAX_SLUG = 40


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="a new suite folder whose claims.toml holds the "
                                    "write-up's tables, to fill in with the model")
    p.add_argument("folder", type=Path, help="the folder to create, e.g. suites/my_suite")
    p.add_argument("--writeup", type=Path, required=True, metavar="FILE",
                   help="the write-up's text (Markdown); copied into the folder")


def cmd_init(args: argparse.Namespace) -> int:
    made = init(args.folder, args.writeup)
    for path in made.files:
        print(f"wrote {path}")
    print(made.summary())
    todo = ("make task.py train the write-up's model (it returns random numbers until then) "
            "and replace the factor model with the write-up's factors" if made.tables else
            "write the write-up's numbers into claims.toml in the example's shape, and its "
            "experiment into task.py")
    print(f"next: sparsebench reproduce --suite {args.folder} --tier smoke; then {todo} "
          "(docs/writing-a-suite.md)")
    return 0


# ---------------------------------------------------------------- names


def slug(text: str, fallback: str, heading: bool = False) -> str:
    """A TOML key and Python identifier from a header or heading: 'Accuracy (%)' ->
    'accuracy', 'ΔCE' -> 'delta_ce', '64 / Dense' -> 'row_64_dense', and for a heading
    '1.2 Sparse vs. Bottleneck' -> 'sparse_vs_bottleneck' (its numbering dropped)."""
    if heading:
        text = re.sub(r"^\s*(\d+\.)*\d+\.?\s+", "", text)
    words = []
    for ch in text:
        if ch.isascii():
            words.append(ch)
        elif unicodedata.category(ch).startswith("L"):
            name = unicodedata.name(ch, "")
            words.append(f" {name.split()[-1].lower()} " if "GREEK" in name else
                         unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    out = re.sub(r"[^a-z0-9]+", "_", "".join(words).lower()).strip("_")
    if len(out) > MAX_SLUG:
        out = out[:MAX_SLUG].rsplit("_", 1)[0] or out[:MAX_SLUG]
    if not out:
        return fallback
    return out if out[0].isalpha() else f"{fallback}_{out}"


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    taken.add(out)
    return out


def toml_str(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------- reading cells


def reading(cell: str) -> str | None:
    """The cell as claims.toml's ``reported`` takes it: the printed text when it parses
    ("81.22% ± 0.73%", "2,236 ± 8", "−0.0684"), else the number before a trailing remark
    ("-10.9%" of "-10.9% (adaptive worse)"); None for a cell with no number ("—")."""
    from ..stats.core import parse_reported

    for text in (cell, re.sub(r"\s*\((?!\s*(SD|SE|SEM|S\.E\.)\s*\))[^()]*\)\s*$", "", cell)):
        try:
            parse_reported(text)
            return text
        except ValueError:
            continue
    return None


def _format(texts: list[str]) -> str:
    """A column's format spec from how the write-up prints it: its most decimals, with
    thousands separators if it uses them ('2,236' -> ',.0f'), '.3g' for '1e-4'."""
    if any(re.search(r"\d[eE][-+]?\d", t) for t in texts):
        return ".3g"
    decimals = max((len(m) for t in texts for m in re.findall(r"\.(\d+)", t)), default=0)
    grouped = any(re.search(r"\d,\d{3}", t) for t in texts)
    return f"{',' if grouped else ''}.{decimals}f"


# ---------------------------------------------------------------- tables to specs


@dataclass
class Column:
    key: str
    label: str
    metric: str
    format: str
    percent: bool


@dataclass
class Row:
    line: int
    label: str
    model: str  # the placeholder factor's value
    reported: dict[str, str]
    printed: dict[str, str]  # column key -> the printed cell, where reported differs


@dataclass
class Planned:
    source: Table
    id: str
    row_header: str
    columns: list[Column]
    rows: list[Row]
    left_out: list[str]  # headers of columns without a number


@dataclass
class Plan:
    writeup: Path
    title: str
    tables: list[Planned] = field(default_factory=list)
    skipped: list[tuple[Table, str]] = field(default_factory=list)  # (table, why)
    metrics: dict[str, str] = field(default_factory=dict)  # name -> description
    percent: set[str] = field(default_factory=set)  # metrics printed in %
    models: dict[str, str] = field(default_factory=dict)  # row label -> factor value
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        found = len(self.tables) + len(self.skipped)
        if not found:
            return (f"{self.writeup}: no Markdown table found; claims.toml holds the example "
                    "table of `sparsebench new`")
        lines = [f"{self.writeup}: {found} tables found, {len(self.tables)} written to "
                 "claims.toml" + ("" if self.tables else ", which holds the example table "
                                  "of `sparsebench new` instead")]
        lines += [f"  lines {t.source.first_line}-{t.source.last_line}: {t.id} "
                  f"({len(t.columns)} columns, {len(t.rows)} rows)" for t in self.tables]
        lines += [f"  lines {t.first_line}-{t.last_line}: left out ({why})"
                  for t, why in self.skipped]
        return "\n".join(lines)


def plan(writeup: Path, text: str, fallback_title: str) -> Plan:
    """What init writes for the write-up ``text``."""
    heading = next((clean(m.group(2)) for line in text.splitlines()
                    if (m := HEADING.match(line)) and m.group(1) == "#"), "")
    out = Plan(writeup, heading or fallback_title)
    ids: set[str] = set()
    for table in find_tables(text):
        planned = _plan_table(table, ids, out)
        if isinstance(planned, str):
            out.skipped.append((table, planned))
        else:
            out.tables.append(planned)
    return out


def _label_columns(numeric: list[bool]) -> int:
    """How many leading columns make a row's label: the first, and the text columns right
    after it ('64' and 'Dense' -> '64 / Dense')."""
    n = 1
    while n < len(numeric) and not numeric[n]:
        n += 1
    return n


def _plan_table(table: Table, ids: set[str], out: Plan) -> Planned | str:
    """The table as claims.toml holds it, or why it is left out (no column of numbers);
    records its metrics and row labels in ``out``."""
    width = len(table.header)
    read = [[reading(cells[c]) if cells[c] else None for c in range(width)]
            for _, cells in table.rows]
    numeric = [any(r[c] is not None for r in read) for c in range(width)]
    n_label = _label_columns(numeric)
    data = [c for c in range(n_label, width) if numeric[c]]
    if not data:
        example = next((cells[c] for _, cells in table.rows for c in range(1, width)
                        if cells[c]), "")
        return f"no column reads as a number, e.g. {example[:40]!r}" if example else \
            "no column reads as a number"
    table_id = _unique(slug(table.heading, "table", heading=True), ids)
    keys: set[str] = set()
    columns = []
    for c in data:
        key = _unique(slug(table.header[c], "col"), keys)
        texts = [r[c] for r in read if r[c] is not None]
        percent = all(t.rstrip().endswith("%") for t in texts) or "%" in table.header[c]
        columns.append(Column(key, table.header[c] or key, key, _format(texts), percent))
    for col in columns:  # the same header in two tables is taken as one metric
        out.metrics.setdefault(col.metric, f"TODO: what the write-up's {col.label!r} "
                                           f"measures (table {table_id})")
        if col.percent:
            out.percent.add(col.metric)
    rows, labels = [], set()
    for (line, cells), values in zip(table.rows, read, strict=True):
        label = " / ".join(c for c in cells[:n_label] if c) or f"row at line {line}"
        label = _unique(label, labels)
        if label not in out.models:  # one factor value per distinct label
            out.models[label] = _unique(slug(label, "row"), set(out.models.values()))
        model = out.models[label]
        reported, printed = {}, {}
        for col, c in zip(columns, data, strict=True):
            if values[c] is not None:
                reported[col.key] = values[c]
            if cells[c] and values[c] != cells[c]:
                printed[col.key] = cells[c]
        rows.append(Row(line, label, model, reported, printed))
    header = " / ".join(h for h in table.header[:n_label] if h) or "Row"
    left_out = [table.header[c] or f"column {c + 1}" for c in range(n_label, width)
                if not numeric[c]]
    return Planned(table, table_id, header, columns, rows, left_out)


# ---------------------------------------------------------------- files


def claims_toml(p: Plan) -> str:
    out = [f"# What the write-up {p.writeup.name} reports, its tables read by `sparsebench "
           "init`",
           "# (docs/writing-a-suite.md, \"claims.toml\"). Each cell's text is the write-up's;",
           "# TODO: check each table against the write-up, give each row the factor values "
           "of",
           "# its configuration (where), and add the write-up's claims at the end.",
           "",
           "[source]",
           f"file = {toml_str(p.writeup.name)}   # copied beside this file",
           "# reported_n = 3   # TODO: the runs behind each \"±\", if the write-up says",
           "# n_note = \"why reported_n is what it is, when the write-up does not say\"",
           ""]
    for t in p.tables:
        src = t.source
        out += [f"# write-up lines {src.first_line}-{src.last_line}"
                + (f"; left out, no number: {', '.join(t.left_out)}" if t.left_out else ""),
                "[[table]]",
                f"id = {toml_str(t.id)}",
                f"title = {toml_str(src.title)}",
                f"row_header = {toml_str(t.row_header)}",
                "columns = ["]
        out += [f"  {{ key = {toml_str(c.key)}, label = {toml_str(c.label)}, "
                f"metric = {toml_str(c.metric)}, format = {toml_str(c.format)} }},"
                for c in t.columns]
        out.append("]")
        for row in t.rows:
            cells = ", ".join(f"{k} = {toml_str(v)}" for k, v in row.reported.items())
            out += ["", "[[table.row]]", f"label = {toml_str(row.label)}",
                    f"where = {{ model = {toml_str(row.model)} }}   # TODO: the row's factors",
                    f"reported = {{ {cells} }}"]
            if row.printed:
                out.append("# as printed (line {}): {}".format(row.line, "; ".join(
                    f"{k} = {v!r}" for k, v in row.printed.items())))
        out.append("")
    for table, why in p.skipped:
        out.append(f"# write-up lines {table.first_line}-{table.last_line} "
                   f"({table.title!r}): left out, {why}; encode it by hand if it holds "
                   "results")
    first = p.tables[0]
    out += ["",
            "# The write-up's claims, one [[claim]] each (docs/writing-a-suite.md, "
            "\"Claims\"), e.g.:",
            "# [[claim]]",
            "# id = \"a-beats-b\"",
            "# quote = \"the write-up's own words\"",
            "# kind = \"greater\"",
            f"# metric = {toml_str(first.columns[0].metric)}",
            f"# a = {{ model = {toml_str(first.rows[0].model)} }}",
            f"# b = {{ model = {toml_str(first.rows[-1].model)} }}",
            ""]
    return "\n".join(out)


def suite_toml(p: Plan, name: str, folder: Path) -> str:
    out = [f"# {name}: a suite made by `sparsebench init` from {p.writeup.name} "
           "(docs/writing-a-suite.md",
           "# explains every key). TODO: make task.py train the write-up's model, replace "
           "the factor",
           "# model with the write-up's own factors, describe the metrics; then:",
           f"# sparsebench reproduce --suite {folder} --tier smoke",
           f"title = {toml_str(p.title)}",
           f"writeup = {toml_str(p.writeup.name)}   # the write-up, copied beside this file",
           "task = \"task:run\"",
           "default_tier = \"quick\"",
           "seeds = 3",
           "",
           "[choices]",
           "# What the write-up leaves unstated, what this suite chose, and why "
           "(rendered in the report)",
           "",
           "[metrics]",
           "# One per number column of the write-up's tables. TODO: say what each "
           "measures; add",
           "# higher_is_better, bounds and chance where they hold",
           ]
    for metric, description in p.metrics.items():
        unit = ", unit = \"%\"" if metric in p.percent else ""
        out.append(f"{metric} = {{ description = {toml_str(description)}{unit} }}")
    out += ["",
            "[factors]",
            "# A placeholder: one value per row of the write-up's tables. TODO: the "
            "write-up's own",
            "# factors (model, seq_len, ...), and each row's where in claims.toml to match",
            "model = [" + ", ".join(toml_str(m) for m in p.models.values()) + "]",
            "",
            "[params]",
            "# the write-up's fixed settings (epochs, lr, ...), read by task.py",
            "",
            "[tiers.smoke]",
            "description = \"seconds: wiring only\"",
            "seeds = 2",
            "",
            "[tiers.quick]",
            "description = \"a minute on a laptop\"",
            "",
            "# [scale]   # TODO: the write-up's own settings, e.g. params = { epochs = 50 }",
            ""]
    return "\n".join(out)


def task_py(p: Plan, folder: Path) -> str:
    template = (TEMPLATES / "init_task.py.tmpl").read_text(encoding="utf-8")
    names = "".join(f"    {json.dumps(m)},\n" for m in p.metrics)
    return template.format(title=p.title.replace('"', "'"), writeup=p.writeup.name,
                           folder=folder, metrics=names)


def init(folder: Path, writeup: Path) -> Plan:
    """Write the suite folder for ``writeup`` (which must exist; ``folder`` must not, or
    be empty) and return what was read and written."""
    if not writeup.is_file():
        what = "is a folder" if writeup.is_dir() else "does not exist"
        raise SparsebenchError(f"{writeup}: the write-up {what}; give the path of its text "
                               "file, e.g. --writeup ../shared/seeds/000_....txt")
    try:
        text = writeup.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SparsebenchError(f"{writeup}: not UTF-8 text (byte {err.start}); save the "
                               "write-up as UTF-8") from None
    check_folder(folder)
    if writeup.name in ("suite.toml", "claims.toml", "task.py", "coverage.toml"):
        raise SparsebenchError(f"{writeup}: a write-up named {writeup.name} would overwrite "
                               "a suite file; rename it (e.g. writeup.txt)")
    p = plan(writeup, text, folder.name.replace("_", " ").capitalize())
    if p.tables:
        folder.mkdir(parents=True, exist_ok=True)
        files = {"suite.toml": suite_toml(p, folder.name, folder), "claims.toml":
                 claims_toml(p), "task.py": task_py(p, folder)}
        for file, content in files.items():
            (folder / file).write_text(content, encoding="utf-8")
            p.files.append(folder / file)
    else:  # nothing to read: the example suite of `sparsebench new`, naming the write-up
        p.files += create(folder, writeup.name)
        skipped = "".join(f"# write-up lines {t.first_line}-{t.last_line} ({t.title!r}): "
                          f"left out, {why}\n" for t, why in p.skipped)
        if skipped:
            with (folder / "claims.toml").open("a", encoding="utf-8") as f:
                f.write("\n" + skipped)
    copy = folder / writeup.name
    shutil.copyfile(writeup, copy)
    p.files.append(copy)
    return p
