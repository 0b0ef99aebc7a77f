"""The result store: one SQLite file; each finished cell is one transaction.

Cells are written only when they end (done or failed), so a killed process loses
at most the cells it was running. pandas reads the metrics table in long form.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import StoreError

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    stage TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    wall_s REAL,
    finished_at TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    cell_id TEXT NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    idx INTEGER NOT NULL,          -- -1 for a scalar, else the position in a vector/curve
    value REAL,
    PRIMARY KEY (cell_id, name, idx)
);
"""


@dataclass
class CellRecord:
    id: str
    suite: str
    stage: str
    params: dict
    status: str
    error: str | None
    wall_s: float | None
    finished_at: str
    fingerprint: dict
    metrics: dict  # name -> float | list[float]


def check_store_path(path: Path) -> None:
    """A directory where a store file belongs is bad input, said before anything opens."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory; give a file path such as "
                         f"{path / 'store.sqlite'}")


def check_writable(path: Path) -> None:
    """The store's folder must take new files (the store, its journal and its lock): say
    so before anything trains, naming the folder."""
    check_store_path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"{folder}: cannot make the store's folder ({err.strerror}); give "
                         "--store a path in a writable folder") from None
    if not os.access(folder, os.W_OK):
        raise StoreError(f"{folder}: folder is not writable, so the store {path.name} cannot "
                         "be written there; make it writable or give --store a path in a "
                         "writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(f"{path}: the store file is not writable; make it writable or give "
                         "--store another path")


def failure(path: Path, err: sqlite3.DatabaseError) -> StoreError:
    """The one-line error for an SQLite error on the store at ``path``: a full disk, a
    store that may not be written, one in use, or a damaged file, each in its own words
    (only a damaged file is worth recovering)."""
    text = str(err)
    if "full" in text:  # "database or disk is full"
        return StoreError(f"{path}: the disk is full ({text}); the cells already stored are "
                          "kept: free space, then run the same command again and it resumes "
                          "from the store")
    if "readonly" in text or "read-only" in text:  # "attempt to write a readonly database"
        return StoreError(f"{path}: the store cannot be written ({text}); make the file and "
                          f"its folder {path.parent} writable or give --store another path")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: the store is in use by another process ({text}); wait "
                          "for it to finish or give --store another path")
    if isinstance(err, sqlite3.OperationalError):  # "unable to open", "disk I/O error"
        return StoreError(f"{path}: the store cannot be opened, read or written ({text}); "
                          f"check the file and its folder {path.parent}")
    return StoreError(f"{path}: damaged or not a readable sparsebench store ({text}); "
                      f"recover what it holds with: sqlite3 {path} \".recover\" | sqlite3 "
                      "recovered.sqlite, or give --store a new path")


class Store:
    """The store at ``path``. ``readonly=True`` opens an existing store for reading only:
    a missing file is an error rather than a new, empty store (``report`` must not make
    one), and nothing is written, not even the schema. Every SQLite error on the file is
    a one-line StoreError (``failure``)."""

    def __init__(self, path: Path | str, readonly: bool = False):
        self.path = Path(path)
        check_store_path(self.path)
        if readonly and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store")
        if not readonly:
            check_writable(self.path)
        try:
            if readonly:
                self.db = self._open_readonly()
                version = self._schema_version()
            else:
                self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.executescript(SCHEMA)
                version = self._schema_version()
                if version is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    version = SCHEMA_VERSION
            if version != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: store schema {version}, this sparsebench "
                                 f"reads {SCHEMA_VERSION}; use a new --store path")
        except sqlite3.DatabaseError as err:
            raise failure(self.path, err) from None

    def _open_readonly(self) -> sqlite3.Connection:
        """A read-only connection. A store in WAL mode needs its shared-memory file beside
        it even to read; in a folder this process may not write, the store is opened as
        immutable instead, which is safe when no journal holds unmerged writes (nothing
        can write there while the folder stays read-only)."""
        uri = self.path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
        if os.access(self.path.parent, os.W_OK):
            return db
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return db
        except sqlite3.OperationalError:
            db.close()
        wal = Path(f"{self.path}-wal")
        if wal.is_file() and wal.stat().st_size:
            raise StoreError(f"{wal}: the store has writes not yet merged into {self.path} and "
                             f"its folder {self.path.parent} is not writable; copy both files "
                             "to a writable folder and give --store the copy")
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30,
                               isolation_level=None)

    @contextmanager
    def _sql(self) -> Iterator[None]:
        """SQLite errors on the store as one-line StoreErrors."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            raise failure(self.path, err) from None

    def _json(self, text: object, cell_id: str, column: str) -> dict:
        """A cell's JSON column, which must hold an object (a hand-edited row may not)."""
        try:
            value = json.loads(text)  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            problem = f"is not valid JSON ({err})"
        else:
            if isinstance(value, dict):
                return value
            problem = f"holds a JSON {type(value).__name__}, not an object"
        raise StoreError(f"{self.path}: cell {cell_id}: column {column} {problem}; fix the row, "
                         f"or remove the cell (it then runs again) with: sqlite3 {self.path} "
                         f"\"PRAGMA foreign_keys=ON; DELETE FROM cells WHERE id='{cell_id}'\"")

    def _schema_version(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- writing

    def put(self, record: CellRecord) -> None:
        """Write one finished cell and its metrics atomically (replacing a previous try)."""
        rows = list(_metric_rows(record.id, record.metrics))
        with self._sql():
            self._write(record, rows)

    def _write(self, record: CellRecord, rows: list[tuple]) -> None:
        with self.db:  # one transaction
            self.db.execute("BEGIN IMMEDIATE")
            self._insert(record, rows)

    def put_many(self, records: Iterable[CellRecord], meta: dict[str, str] | None = None) -> int:
        """Write many finished cells (each replacing a stored one of the same id) and meta
        entries in one transaction, so that a merge lands whole or not at all; returns
        how many cells were written."""
        written = 0
        with self._sql(), self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for record in records:
                self._insert(record, list(_metric_rows(record.id, record.metrics)))
                written += 1
            for key, value in (meta or {}).items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        return written

    def _insert(self, record: CellRecord, rows: list[tuple]) -> None:
        """The statements of one cell's write, inside a transaction the caller holds."""
        self.db.execute("DELETE FROM cells WHERE id = ?", (record.id,))
        self.db.execute(
            "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.suite, record.stage, json.dumps(record.params, sort_keys=True),
             record.status, record.error, record.wall_s, record.finished_at,
             json.dumps(record.fingerprint, sort_keys=True)),
        )
        self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", rows)

    def set_meta(self, key: str, value: str) -> None:
        """Keep a text under ``key`` beside the cells (e.g. a settle run's design)."""
        with self._sql(), self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        with self._sql():
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def delete(self, ids: Iterable[str]) -> int:
        """Remove these cells and their metrics in one transaction; returns how many."""
        ids = list(ids)
        removed = 0
        with self._sql(), self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                removed += self.db.execute(
                    f"DELETE FROM cells WHERE id IN ({marks})", chunk).rowcount
        return removed

    # -------------------------------------------------------------- reading

    def cell_index(self) -> list[tuple[str, str, str, str]]:
        """(id, suite, stage, status) of every stored cell, by id: what a merge needs to
        see which cells two stores share before it reads any of them whole."""
        with self._sql():
            return self.db.execute("SELECT id, suite, stage, status FROM cells "
                                   "ORDER BY id").fetchall()

    def meta_items(self) -> dict[str, str]:
        """Every meta entry (the schema version, settle designs, recipe searches)."""
        with self._sql():
            return dict(self.db.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    def suite_cells(self, suite: str) -> list[tuple[str, str, dict]]:
        """(id, stage, params) of every cell stored for ``suite``, stale ones included."""
        with self._sql():
            rows = self.db.execute("SELECT id, stage, params FROM cells WHERE suite = ? "
                                   "ORDER BY id", (suite,)).fetchall()
        return [(cid, stage, self._json(params, cid, "params")) for cid, stage, params in rows]

    def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        out: dict[str, str] = {}
        with self._sql():
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                out.update(self.db.execute(
                    f"SELECT id, status FROM cells WHERE id IN ({marks})", chunk).fetchall())
        return out

    def get(self, cell_id: str) -> CellRecord | None:
        records = self.records([cell_id])
        return records[0] if records else None

    def records(self, ids: Iterable[str]) -> list[CellRecord]:
        """Records for the given ids that exist, in the order given."""
        ids = list(ids)
        found: dict[str, CellRecord] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            with self._sql():
                rows = self.db.execute(f"SELECT * FROM cells WHERE id IN ({marks})",
                                       chunk).fetchall()
                metric_rows = self.db.execute(
                    f"SELECT cell_id, name, idx, value FROM metrics WHERE cell_id IN ({marks}) "
                    "ORDER BY cell_id, name, idx", chunk).fetchall()
            for row in rows:
                found[row[0]] = CellRecord(row[0], row[1], row[2],
                                           self._json(row[3], row[0], "params"), row[4], row[5],
                                           row[6], row[7], self._json(row[8], row[0],
                                                                      "fingerprint"), {})
            for cid, name, idx, value in metric_rows:
                if cid not in found:  # rows a hand-deleted cell left behind
                    continue
                value = math.nan if value is None else value
                metrics = found[cid].metrics
                if idx < 0:
                    metrics[name] = value
                else:
                    metrics.setdefault(name, []).append(value)
        return [found[i] for i in ids if i in found]

    def metrics_frame(self, ids: Iterable[str]) -> pd.DataFrame:
        """The metrics table's rows for the given cells, as stored: columns cell_id, name,
        idx (-1 for a scalar, else the position in a vector, curve or image) and value
        (NaN where the metric was NaN); a failed cell has no rows. For one table with
        parameters, status, errors, tuning trials and environment, see ``harness.refs.export``
        (``sparsebench export``)."""
        ids = list(ids)
        frames = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            frames.append(pd.read_sql_query(
                f"SELECT * FROM metrics WHERE cell_id IN ({marks})", self.db, params=chunk))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _metric_rows(cell_id: str, metrics: dict):
    for name, value in metrics.items():
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield cell_id, name, i, _real(v)
        else:
            yield cell_id, name, -1, _real(value)


def _real(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
