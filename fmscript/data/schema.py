"""The file's schema: tables and fields (from SQLite and ``fmscript_fields``), table occurrences, layouts,
and the DDL that changes them (``fmscript db``, Import Records into a new table).

* Each SQLite table is a FileMaker table and, unless ``fmscript_layouts`` says otherwise, a table occurrence
  and a layout of the same name.  Columns are fields, in column order; columns named ``fmscript_…`` are
  fmscript's own and never shown.
* fmscript's metadata lives in ``fmscript_*`` tables of the same file (see :data:`METADATA_SQL`).
"""
from __future__ import annotations

import difflib
import sqlite3
from dataclasses import dataclass

from ..errors import E_INVALID_PARAMETER, E_TABLE_MISSING, E_VALUE_NOT_UNIQUE, DataError
from .values import DECLARED, FIELD_TYPES, type_from_declared

SCHEMA_VERSION = 1

METADATA_SQL = """
CREATE TABLE IF NOT EXISTS fmscript_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS fmscript_fields (
    table_name TEXT NOT NULL, field_name TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'text',
    global INTEGER NOT NULL DEFAULT 0, repetitions INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (table_name, field_name));
CREATE TABLE IF NOT EXISTS fmscript_occurrences (occurrence TEXT PRIMARY KEY, table_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fmscript_layouts (layout TEXT PRIMARY KEY, occurrence TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS fmscript_finds (layout TEXT NOT NULL, script TEXT NOT NULL DEFAULT '',
    requests TEXT NOT NULL, PRIMARY KEY (layout, script));
CREATE TABLE IF NOT EXISTS fmscript_sorts (layout TEXT NOT NULL, script TEXT NOT NULL DEFAULT '',
    sort_order TEXT NOT NULL, PRIMARY KEY (layout, script));
CREATE TABLE IF NOT EXISTS fmscript_globals (table_name TEXT NOT NULL, field_name TEXT NOT NULL,
    rep INTEGER NOT NULL DEFAULT 1, value, PRIMARY KEY (table_name, field_name, rep));
CREATE TABLE IF NOT EXISTS fmscript_repetitions (table_name TEXT NOT NULL, field_name TEXT NOT NULL,
    record_id INTEGER NOT NULL, rep INTEGER NOT NULL, value,
    PRIMARY KEY (table_name, field_name, record_id, rep));
"""

INTERNAL_PREFIX = "fmscript_"


def qident(name: str) -> str:
    """A SQL identifier, double-quoted (names come from the schema, never from values)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class FieldInfo:
    name: str
    type: str = "text"
    is_global: bool = False
    repetitions: int = 1


@dataclass
class TableInfo:
    name: str
    fields: list[FieldInfo]

    def __post_init__(self):
        self.by_key = {f.name.casefold(): f for f in self.fields}

    def field(self, name: str) -> FieldInfo | None:
        return self.by_key.get(name.casefold())

    @property
    def record_fields(self) -> list[FieldInfo]:
        """Fields stored in the records (not global)."""
        return [f for f in self.fields if not f.is_global]


def did_you_mean(name: str, candidates: list[str]) -> str:
    """``; did you mean “X”?`` for the closest name (case-insensitive), or nothing: the hint every
    "missing" message of fmscript gives."""
    by_key = {c.casefold(): c for c in candidates}
    close = difflib.get_close_matches(name.casefold(), list(by_key), n=1)
    return f"; did you mean “{by_key[close[0]]}”?" if close else ""


def field_missing_message(label: str, ti: TableInfo) -> str:
    """FileMaker's error 102 for a field ``ti`` lacks, with the closest field name when one is near."""
    return (f"the field “{label}” is missing (table “{ti.name}” has no such field)"
            + did_you_mean(label.rpartition("::")[2], [f.name for f in ti.fields]))


class Schema:
    """Tables, fields, occurrences and layouts of the file, read once and kept until the DDL changes them.

    A mixin of :class:`~fmscript.data.database.Database`: it needs ``self.conn`` and ``self.commit()``."""

    conn: sqlite3.Connection
    _tables: dict[str, TableInfo] | None
    _occurrences: dict[str, tuple[str, str]] | None  # key → (occurrence, table)
    _layouts: dict[str, tuple[str, str]] | None      # key → (layout, occurrence)

    def has_metadata(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='fmscript_fields'"
                                 ).fetchone() is not None

    def ensure_metadata(self) -> None:
        if not self.has_metadata():
            # One statement at a time: executescript() would commit an open record first.
            for stmt in METADATA_SQL.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute("INSERT OR REPLACE INTO fmscript_meta VALUES ('schema_version', ?)",
                              (str(SCHEMA_VERSION),))

    def invalidate_schema(self) -> None:
        self._tables = self._occurrences = self._layouts = None

    def tables(self) -> dict[str, TableInfo]:
        """User tables by casefolded name."""
        if self._tables is None:
            meta: dict[tuple[str, str], tuple] = {}
            if self.has_metadata():
                for t, fname, ftype, glob, reps in self.conn.execute(
                        "SELECT table_name, field_name, type, global, repetitions FROM fmscript_fields"):
                    meta[(t.casefold(), fname.casefold())] = (ftype, bool(glob), reps)
            out = {}
            for name, sql in self.conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type='table' ORDER BY rowid").fetchall():
                if name.startswith(INTERNAL_PREFIX) or name.startswith("sqlite_"):
                    continue
                if "WITHOUT ROWID" in (sql or "").upper().replace("\n", " "):
                    continue  # records need a rowid (Get ( RecordID )); such tables are not shown
                fields = []
                for cid, col, decl, *_ in self.conn.execute(f"PRAGMA table_info({qident(name)})"):
                    if col.startswith(INTERNAL_PREFIX):
                        continue
                    m = meta.get((name.casefold(), col.casefold()))
                    if m:
                        fields.append(FieldInfo(col, m[0] if m[0] in FIELD_TYPES else "text", m[1], max(m[2], 1)))
                    else:
                        fields.append(FieldInfo(col, type_from_declared(decl)))
                out[name.casefold()] = TableInfo(name, fields)
            self._tables = out
        return self._tables

    def occurrences(self) -> dict[str, tuple[str, str]]:
        if self._occurrences is None:
            occ = {k: (t.name, t.name) for k, t in self.tables().items()}
            if self.has_metadata():
                for o, t in self.conn.execute("SELECT occurrence, table_name FROM fmscript_occurrences"):
                    ti = self.tables().get(t.casefold())
                    if ti:
                        occ[o.casefold()] = (o, ti.name)
            self._occurrences = occ
        return self._occurrences

    def layouts(self) -> dict[str, tuple[str, str]]:
        """Layouts by casefolded name → (layout name, occurrence), in layout order."""
        if self._layouts is None:
            lay = {k: (t.name, t.name) for k, t in self.tables().items()}
            if self.has_metadata():
                for name, o in self.conn.execute(
                        "SELECT layout, occurrence FROM fmscript_layouts ORDER BY position, rowid"):
                    if o.casefold() in self.occurrences():
                        lay[name.casefold()] = (name, self.occurrences()[o.casefold()][0])
            self._layouts = lay
        return self._layouts

    def layout_names(self) -> list[str]:
        return [n for n, _ in self.layouts().values()]

    def occurrence_views(self, conn: sqlite3.Connection | None = None) -> None:
        """Temporary views named after extra table occurrences, so that ExecuteSQL can use their names as
        FileMaker's does (temporary: the file is not changed)."""
        for key, (occ, table) in self.occurrences().items():
            if key != table.casefold() and key not in self.tables():
                (conn or self.conn).execute(f"CREATE TEMP VIEW IF NOT EXISTS {qident(occ)} AS SELECT * FROM "
                                  f"main.{qident(table)}")

    def table_of(self, occurrence: str) -> TableInfo | None:
        o = self.occurrences().get(occurrence.casefold())
        return self.tables().get(o[1].casefold()) if o else None

    def occurrence_name(self, occurrence: str) -> str | None:
        o = self.occurrences().get(occurrence.casefold())
        return o[0] if o else None

    # -- DDL (fmscript db, Import Records into a new table) -----------------------------------------------
    def create_table(self, name: str, fields: list[tuple[str, str, bool]]) -> TableInfo:
        """Create a table with ``[(field, type, is_global)]``; every column has TEXT affinity."""
        if name.casefold() in self.tables():
            raise DataError(f"a table named “{name}” already exists", code=E_VALUE_NOT_UNIQUE)
        if name.startswith(INTERNAL_PREFIX) or name.startswith("sqlite_"):
            raise DataError(f"“{name}” is reserved for fmscript's metadata", code=E_VALUE_NOT_UNIQUE)
        cols = []
        for fname, ftype, _ in fields:
            if ftype not in FIELD_TYPES:
                raise DataError(f"unknown field type “{ftype}”; use one of {', '.join(FIELD_TYPES)}",
                                code=E_INVALID_PARAMETER)
            cols.append(f"{qident(fname)} {DECLARED[ftype]}")
        self.commit()
        self.ensure_metadata()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(f"CREATE TABLE {qident(name)} ({', '.join(cols) or 'fmscript_empty TEXT'})")
            for fname, ftype, glob in fields:
                self.conn.execute("INSERT OR REPLACE INTO fmscript_fields VALUES (?, ?, ?, ?, 1)",
                                  (name, fname, ftype, int(glob)))
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            self.conn.execute("ROLLBACK")
            raise DataError(f"cannot create the table “{name}”: {e}", code=E_VALUE_NOT_UNIQUE) from None
        self.invalidate_schema()
        return self.tables()[name.casefold()]

    def add_field(self, table: str, fname: str, ftype: str = "text", is_global: bool = False,
                  repetitions: int = 1) -> None:
        ti = self.tables().get(table.casefold())
        if ti is None:
            raise DataError(f"there is no table named “{table}”", code=E_TABLE_MISSING)
        if ftype not in FIELD_TYPES:
            raise DataError(f"unknown field type “{ftype}”; use one of {', '.join(FIELD_TYPES)}",
                            code=E_INVALID_PARAMETER)
        self.commit()
        self.ensure_metadata()
        if ti.field(fname) is None:
            self.conn.execute(f"ALTER TABLE {qident(ti.name)} ADD COLUMN {qident(fname)} {DECLARED[ftype]}")
        else:
            fname = ti.field(fname).name
        self.conn.execute("INSERT OR REPLACE INTO fmscript_fields VALUES (?, ?, ?, ?, ?)",
                          (ti.name, fname, ftype, int(is_global), max(repetitions, 1)))
        self.invalidate_schema()

    def add_layout(self, layout: str, occurrence: str, table: str | None = None) -> None:
        """A layout showing ``occurrence`` (created as an occurrence of ``table`` when given)."""
        self.commit()
        self.ensure_metadata()
        if table is not None:
            ti = self.tables().get(table.casefold())
            if ti is None:
                raise DataError(f"there is no table named “{table}”", code=E_TABLE_MISSING)
            if occurrence.casefold() != ti.name.casefold():
                self.conn.execute("INSERT OR REPLACE INTO fmscript_occurrences VALUES (?, ?)", (occurrence, ti.name))
        self.invalidate_schema()
        if occurrence.casefold() not in self.occurrences():
            raise DataError(f"there is no table occurrence named “{occurrence}”",
                            code=E_TABLE_MISSING)
        n = self.conn.execute("SELECT count(*) FROM fmscript_layouts").fetchone()[0]
        self.conn.execute("INSERT OR REPLACE INTO fmscript_layouts VALUES (?, ?, ?)", (layout, occurrence, n + 1))
        self.invalidate_schema()
