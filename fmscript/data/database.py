"""A FileMaker file on SQLite: tables, fields, layouts, the window context, records and transactions.

* Each SQLite table is a FileMaker table and, unless ``fmscript_layouts`` says otherwise, a table occurrence
  and a layout of the same name.  Columns are fields, in column order; columns named ``fmscript_…`` are
  fmscript's own and never shown.
* fmscript's metadata lives in ``fmscript_*`` tables of the same file (see :data:`METADATA_SQL`).
* The *window* holds the current layout and mode (browse/find); each table occurrence has its own found
  set, current record and sort order (:class:`Context`).  A field of another occurrence than the current
  layout's reads that occurrence's current record (fmscript has no relationships).
* Edits go to SQLite inside a transaction that stays open while a record is being edited; committing the
  record (Commit Records, going to another record or layout, a find, the end of the script…) commits it.
  Revert Record, or a script that fails, rolls it back.  Files use WAL, so other processes keep reading.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..calc.values import to_text
from ..errors import StepError
from . import finds as F
from .values import DECLARED, FIELD_TYPES, from_storage, num_collate, text_collate, to_storage, type_from_declared

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


@dataclass
class Context:
    """Found set, current record and sort order of one table occurrence in the window."""

    occurrence: str
    table: str
    found: list[int] | None = None   # record ids in found-set order; None until first used
    index: int = 0
    sort: list | None = None          # [(FieldInfo, ascending)]
    last_requests: list | None = None # the requests of the last find (Modify Last Find)

    def current(self) -> int | None:
        if not self.found:
            return None
        if self.index >= len(self.found):
            self.index = len(self.found) - 1
        return self.found[self.index]


@dataclass
class Window:
    layout: str | None = None
    occurrence: str | None = None
    mode: str = "browse"              # browse | find | preview
    requests: list = field(default_factory=list)
    request_index: int = 0


class Database:
    """One FileMaker file: a SQLite database (``path`` None: in memory)."""

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        self._path = str(Path(path).resolve()) if path is not None else None
        try:
            if read_only and self._path:
                self.conn = sqlite3.connect(Path(self._path).as_uri() + "?mode=ro", uri=True, timeout=5.0,
                                            isolation_level=None, check_same_thread=False)
            else:
                self.conn = sqlite3.connect(self._path or ":memory:", timeout=5.0, isolation_level=None,
                                            check_same_thread=False)
            if self._path and not read_only:
                self.conn.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL never corrupts the file; a power cut may lose the last commits only.
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as e:
            from ..errors import UsageError
            raise UsageError(f"cannot open {path} as a SQLite database: {e}") from None
        self.conn.create_function("fm_match", 3, _fm_match, deterministic=True)
        self.conn.create_function("fm_dupkey", 2, F.duplicate_key, deterministic=True)
        self.conn.create_collation("fmnum", num_collate)
        self.conn.create_collation("fmtext", text_collate)
        self._tables: dict[str, TableInfo] | None = None
        self._occurrences: dict[str, tuple[str, str]] | None = None  # key → (occurrence, table)
        self._layouts: dict[str, tuple[str, str]] | None = None      # key → (layout, occurrence)
        self.contexts: dict[str, Context] = {}
        self.window = Window()
        self._in_tx = False
        self._new_records: list[tuple[str, int]] = []
        self._globals: dict[tuple[str, str, int], object] | None = None
        self._globals_dirty: set = set()
        self._row_cache: dict[tuple[str, int], dict] = {}
        self._ended = False
        self.original_layout: str | None = None  # the layout before the first Go to Layout

    # -- file ---------------------------------------------------------------------------------------------
    def path(self) -> str | None:
        return self._path

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self.conn.close()

    # -- schema ---------------------------------------------------------------------------------------------
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

    def occurrence_views(self) -> None:
        """Temporary views named after extra table occurrences, so that ExecuteSQL can use their names as
        FileMaker's does (temporary: the file is not changed)."""
        for key, (occ, table) in self.occurrences().items():
            if key != table.casefold() and key not in self.tables():
                self.conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS {qident(occ)} AS SELECT * FROM "
                                  f"main.{qident(table)}")

    def table_of(self, occurrence: str) -> TableInfo | None:
        o = self.occurrences().get(occurrence.casefold())
        return self.tables().get(o[1].casefold()) if o else None

    def occurrence_name(self, occurrence: str) -> str | None:
        o = self.occurrences().get(occurrence.casefold())
        return o[0] if o else None

    # -- window and contexts ------------------------------------------------------------------------------
    def current_occurrence(self) -> str | None:
        if self.window.occurrence is None:
            lay = self.layouts()
            if lay:
                name, occ = next(iter(lay.values()))
                self.window.layout, self.window.occurrence = name, occ
        return self.window.occurrence

    def context(self, occurrence: str | None = None) -> Context:
        occ = occurrence or self.current_occurrence()
        if occ is None:
            raise StepError("the file has no tables, so there is no layout to work on (FileMaker error 105)",
                            code=105)
        key = occ.casefold()
        ctx = self.contexts.get(key)
        if ctx is None:
            ti = self.table_of(occ)
            if ti is None:
                raise StepError(f"there is no table occurrence named “{occ}” (FileMaker error 106)", code=106)
            ctx = self.contexts[key] = Context(self.occurrence_name(occ) or occ, ti.name)
        if ctx.found is None:
            ctx.found = self.all_ids(ctx.table)
            ctx.index = 0
        return ctx

    def go_to_layout(self, name: str) -> None:
        lay = self.layouts().get(name.casefold())
        if lay is None:
            raise StepError(f"there is no layout named “{name}” (FileMaker error 105)", code=105)
        self.commit()
        if self.original_layout is None:
            self.current_occurrence()
            self.original_layout = self.window.layout
        if self.window.mode == "find" and (self.window.occurrence or "").casefold() != lay[1].casefold():
            from .finds import Request
            self.window.requests, self.window.request_index = [Request()], 0  # requests belong to a table
        self.window.layout, self.window.occurrence = lay
        self.context()

    def layout_names(self) -> list[str]:
        return [n for n, _ in self.layouts().values()]

    # -- records ------------------------------------------------------------------------------------------
    def all_ids(self, table: str) -> list[int]:
        return [r for (r,) in self.conn.execute(f"SELECT rowid FROM {qident(table)} ORDER BY rowid")]

    def total_count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {qident(table)}").fetchone()[0]

    def row(self, table: str, rid: int) -> dict | None:
        key = (table, rid)
        r = self._row_cache.get(key)
        if r is None:
            cur = self.conn.execute(f"SELECT * FROM {qident(table)} WHERE rowid = ?", (rid,))
            values = cur.fetchone()
            if values is None:
                return None
            r = {d[0].casefold(): v for d, v in zip(cur.description, values)}
            if len(self._row_cache) > 256:
                self._row_cache.clear()
            self._row_cache[key] = r
        return r

    def _globals_map(self) -> dict:
        if self._globals is None:
            self._globals = {}
            if self.has_metadata():
                for t, fname, rep, v in self.conn.execute(
                        "SELECT table_name, field_name, rep, value FROM fmscript_globals"):
                    self._globals[(t.casefold(), fname.casefold(), rep)] = v
        return self._globals

    def _resolve(self, table: str | None, name: str, error_cls):
        occ = table or self.current_occurrence()
        if occ is None:
            raise error_cls(f"the field “{name}” is missing: the file has no tables", code=102)
        ti = self.table_of(occ)
        label = f"{table}::{name}" if table else name
        if ti is None:
            raise error_cls(f"the field “{label}” is missing: there is no table occurrence “{occ}”", code=102)
        fi = ti.field(name)
        if fi is None:
            raise error_cls(f"the field “{label}” is missing (table “{ti.name}” has no such field)", code=102)
        return occ, ti, fi

    def read_field(self, f, table: str | None, name: str, rep: int = 1):
        """Value of ``table::name[rep]`` in the current record of that occurrence (calculation access)."""
        try:
            return self._read_field(table, name, rep)
        except sqlite3.Error as e:
            from ..calc.functions import CalcError
            raise CalcError(f"the field “{name}” cannot be read: {e}", code=sqlite_error(e).code) from None

    def _read_field(self, table: str | None, name: str, rep: int):
        from ..calc.functions import CalcError
        occ, ti, fi = self._resolve(table, name, CalcError)
        w = self.window
        if w.mode == "find" and occ.casefold() == (w.occurrence or "").casefold():
            req = w.requests[w.request_index] if w.requests else None
            return req.criteria.get((None, fi.name.casefold()), ("", ""))[1] if req else ""
        if fi.is_global:
            return from_storage(self._globals_map().get((ti.name.casefold(), fi.name.casefold(), rep)), fi.type)
        ctx = self.context(occ)
        rid = ctx.current()
        if rid is None:
            return ""
        if rep > 1:
            r = self.conn.execute("SELECT value FROM fmscript_repetitions WHERE table_name=? AND field_name=? "
                                  "AND record_id=? AND rep=?", (ti.name, fi.name, rid, rep)).fetchone() \
                if self.has_metadata() else None
            return from_storage(r[0] if r else None, fi.type)
        row = self.row(ti.name, rid)
        return from_storage(row.get(fi.name.casefold()) if row else None, fi.type)

    def record_values(self, table: TableInfo, rid: int) -> dict:
        """The raw column values of a record, by field name."""
        row = self.row(table.name, rid) or {}
        return {fi.name: row.get(fi.name.casefold()) for fi in table.fields}

    def set_field(self, f, table: str | None, name: str, rep: int, value) -> None:
        """Set Field: in find mode the current request's criterion, else the current record's field."""
        occ, ti, fi = self._resolve(table, name, StepError)
        self.attach(f.session)
        w = self.window
        if w.mode == "find" and occ.casefold() == (w.occurrence or "").casefold():
            if not w.requests:
                w.requests.append(F.Request())
            w.requests[w.request_index].criteria[(None, fi.name.casefold())] = (fi.name, to_text(value))
            return
        if fi.is_global:
            self._globals_map()[(ti.name.casefold(), fi.name.casefold(), rep)] = to_storage(value, fi.type)
            self._globals_dirty.add((ti.name, fi.name, rep))
            if not self._in_tx:
                self._flush_globals()
            return
        ctx = self.context(occ)
        rid = ctx.current()
        if rid is None:
            raise StepError(f"there is no current record in “{ctx.occurrence}” to set "
                            f"{ctx.occurrence}::{fi.name} in (FileMaker error 101)", code=101)
        self.write(ti, rid, fi, to_storage(value, fi.type), rep)

    def write(self, ti: TableInfo, rid: int, fi: FieldInfo, stored, rep: int = 1) -> None:
        self.begin()
        try:
            if rep > 1:
                self.ensure_metadata()
                self.conn.execute("INSERT OR REPLACE INTO fmscript_repetitions VALUES (?, ?, ?, ?, ?)",
                                  (ti.name, fi.name, rid, rep, stored))
            else:
                self.conn.execute(f"UPDATE {qident(ti.name)} SET {qident(fi.name)} = ? WHERE rowid = ?",
                                  (stored, rid))
        except sqlite3.IntegrityError as e:
            raise StepError(f"{ti.name}::{fi.name} cannot take this value: {e} (FileMaker error 504)",
                            code=504) from None
        except sqlite3.OperationalError as e:
            raise _busy(e) from None
        self._row_cache.pop((ti.name, rid), None)

    # -- transactions -------------------------------------------------------------------------------------
    def begin(self) -> None:
        self._ended = False
        if not self._in_tx:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise _busy(e) from None
            self._in_tx = True

    def _flush_globals(self) -> None:
        if not self._globals_dirty:
            return
        self.ensure_metadata()
        g = self._globals_map()
        for t, fname, rep in sorted(self._globals_dirty):
            self.conn.execute("INSERT OR REPLACE INTO fmscript_globals VALUES (?, ?, ?, ?)",
                              (t, fname, rep, g.get((t.casefold(), fname.casefold(), rep))))
        self._globals_dirty.clear()

    def commit(self) -> None:
        """Commit the open record (and any other pending edit) in one transaction."""
        if self._in_tx:
            try:
                self._flush_globals()
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                raise _busy(e) from None
            self._in_tx = False
            self._new_records.clear()
        elif self._globals_dirty:
            self._flush_globals()

    def revert(self) -> None:
        """Throw away uncommitted edits; records created since the last commit disappear."""
        if self._in_tx:
            self.conn.execute("ROLLBACK")
            self._in_tx = False
        self._row_cache.clear()
        gone = set(self._new_records)
        self._new_records.clear()
        if gone:
            for ctx in self.contexts.values():
                if ctx.found:
                    ctx.found = [r for r in ctx.found if (ctx.table, r) not in gone]

    def end_run(self, ok: bool = True) -> None:
        """The top-level script ended: commit (``ok``) or revert what is still uncommitted."""
        self._ended = True
        if ok:
            self.commit()
        else:
            self.revert()
            self._flush_globals()

    def attach(self, session) -> None:
        """Make the end of the process commit a record left open by a script that ended normally.

        fmscript's front end calls :meth:`end_run` when a top-level script ends (commit when it succeeded,
        revert when it failed).  Where nobody does, this fallback runs at interpreter exit: it commits
        when the last step succeeded (``Get ( LastError )`` is 0) and otherwise leaves the open
        transaction to SQLite, which rolls it back, as it does for a killed process.
        """
        if getattr(session, "_data_attached", None) is self:
            return
        session._data_attached = self
        import atexit

        def at_exit(d=self, s=session):  # strong references: the session is gone by now otherwise
            if not d._in_tx or d._ended:
                return
            try:
                if s is not None and s.last_error == 0:
                    d.commit()
                else:
                    d.revert()
            except Exception:  # the process is ending: never a traceback here
                pass
        atexit.register(at_exit)

    @property
    def has_uncommitted(self) -> bool:
        return self._in_tx

    # -- record operations --------------------------------------------------------------------------------
    def new_record(self, ctx: Context) -> int:
        self.commit()
        self.begin()
        try:
            cur = self.conn.execute(f"INSERT INTO {qident(ctx.table)} DEFAULT VALUES")
        except sqlite3.IntegrityError as e:
            raise StepError(f"a new record in “{ctx.table}” needs a value for a required column: {e} "
                            "(FileMaker error 509)", code=509) from None
        rid = cur.lastrowid
        self._new_records.append((ctx.table, rid))
        ctx.found.append(rid)
        ctx.index = len(ctx.found) - 1
        return rid

    def duplicate_record(self, ctx: Context) -> int:
        rid = ctx.current()
        if rid is None:
            raise StepError("there is no record to duplicate (FileMaker error 101)", code=101)
        ti = self.tables()[ctx.table.casefold()]
        self.commit()
        cols = [fi.name for fi in ti.record_fields]
        pk = self._rowid_alias(ti.name)
        cols = [c for c in cols if c.casefold() != (pk or "").casefold()]
        self.begin()
        if cols:
            names = ", ".join(qident(c) for c in cols)
            cur = self.conn.execute(f"INSERT INTO {qident(ti.name)} ({names}) SELECT {names} FROM "
                                    f"{qident(ti.name)} WHERE rowid = ?", (rid,))
        else:
            cur = self.conn.execute(f"INSERT INTO {qident(ti.name)} DEFAULT VALUES")
        new = cur.lastrowid
        if self.has_metadata():
            self.conn.execute("INSERT INTO fmscript_repetitions SELECT table_name, field_name, ?, rep, value "
                              "FROM fmscript_repetitions WHERE table_name = ? AND record_id = ?",
                              (new, ti.name, rid))
        self._new_records.append((ti.name, new))
        ctx.found.append(new)
        ctx.index = len(ctx.found) - 1
        return new

    def _rowid_alias(self, table: str) -> str | None:
        pks = [(col, decl) for _, col, decl, _, _, pk in self.conn.execute(f"PRAGMA table_info({qident(table)})")
               if pk]
        if len(pks) == 1 and pks[0][1].upper() == "INTEGER":
            return pks[0][0]
        return None

    def delete_ids(self, table: str, ids: list[int]) -> None:
        """Delete records now (deleting is not undoable in FileMaker either)."""
        self.commit()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                self.conn.execute(f"DELETE FROM {qident(table)} WHERE rowid IN ({marks})", chunk)
                if self.has_metadata():
                    self.conn.execute(f"DELETE FROM fmscript_repetitions WHERE table_name = ? AND record_id IN "
                                      f"({marks})", [table, *chunk])
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise _busy(e) from None
        gone = set(ids)
        self._row_cache.clear()
        for ctx in self.contexts.values():
            if ctx.table == table and ctx.found:
                keep_before = sum(1 for r in ctx.found[:ctx.index] if r not in gone)
                ctx.found = [r for r in ctx.found if r not in gone]
                ctx.index = min(keep_before, max(len(ctx.found) - 1, 0))

    def truncate(self, table: str) -> None:
        self.commit()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(f"DELETE FROM {qident(table)}")
            if self.has_metadata():
                self.conn.execute("DELETE FROM fmscript_repetitions WHERE table_name = ?", (table,))
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise _busy(e) from None
        self._row_cache.clear()
        for ctx in self.contexts.values():
            if ctx.table == table:
                ctx.found, ctx.index = [], 0

    # -- finds --------------------------------------------------------------------------------------------
    def request_ids(self, ctx: Context, criteria: list[tuple[FieldInfo, str]]) -> set[int]:
        """Record ids matching every criterion of one request (a parameterised query)."""
        ti = self.tables()[ctx.table.casefold()]
        where, params, dup_fields = [], [], []
        for fi, text in criteria:
            t = text.strip()
            if not t:
                continue
            if fi.is_global:
                ok = F.matches(self._globals_map().get((ti.name.casefold(), fi.name.casefold(), 1)), fi.type, t)
                where.append("1" if ok else "0")
                continue
            if t == "!":
                dup_fields.append(fi)
                continue
            where.append(f"fm_match({qident(fi.name)}, ?, ?)")
            params += [fi.type, t]
        for fi in dup_fields:
            col = qident(fi.name)
            where.append(f"fm_dupkey({col}, ?) IN (SELECT fm_dupkey({col}, ?) FROM {qident(ti.name)} "
                         f"GROUP BY 1 HAVING count(*) > 1 AND fm_dupkey({col}, ?) IS NOT NULL)")
            params += [fi.type, fi.type, fi.type]
        sql = f"SELECT rowid FROM {qident(ti.name)}" + (" WHERE " + " AND ".join(where) if where else "")
        return {r for (r,) in self.conn.execute(sql, params)}

    def run_requests(self, ctx: Context, requests: list) -> list[int]:
        """FileMaker's find: requests in order; find requests add records, omit requests take them away."""
        ti = self.tables()[ctx.table.casefold()]
        result: set[int] | None = None
        usable = [r for r in requests if not r.is_empty()]
        if not usable:
            raise StepError("the find requests are empty: give at least one criterion (FileMaker error 400)",
                            code=400)
        for req in usable:
            crit = []
            for (_, key), (name, text) in req.criteria.items():
                fi = ti.field(name)
                if fi is None:
                    raise StepError(f"the field “{name}” is missing from “{ti.name}” (FileMaker error 102)",
                                    code=102)
                crit.append((fi, text))
            ids = self.request_ids(ctx, crit)
            if req.omit:
                if result is None:
                    result = set(self.all_ids(ti.name))
                result -= ids
            else:
                result = ids if result is None else result | ids
        return sorted(result or ())

    def requests_from_text(self, ctx: Context, text: str) -> list:
        """Stored find text (see :func:`finds.parse_requests`) → requests on ``ctx``'s table."""
        try:
            parsed = F.parse_requests(text)
        except F.RequestSyntaxError as e:
            raise StepError(f"the stored find requests cannot be read: {e}", code=1708) from None
        out = []
        ti = self.tables()[ctx.table.casefold()]
        for omit, crit in parsed:
            req = F.Request(omit=omit)
            for occ, name, value in crit:
                if occ and self.table_of(occ) is not ti:
                    raise StepError(f"the stored find uses “{occ}::{name}”, but the layout shows “{ctx.occurrence}”"
                                    " (FileMaker error 102)", code=102)
                fi = ti.field(name)
                if fi is None:
                    raise StepError(f"the stored find uses the field “{name}”, which “{ti.name}” does not have "
                                    "(FileMaker error 102)", code=102)
                req.criteria[(None, fi.name.casefold())] = (fi.name, value)
            out.append(req)
        return out

    def stored(self, kind: str, layout: str, script: str, line: int | None = None) -> str | None:
        """A stored find (``kind`` "finds") or sort order ("sorts") for a layout: the one of this step
        (``script:line``) first, then the script's, then the layout's."""
        if not self.has_metadata():
            return None
        col = "requests" if kind == "finds" else "sort_order"
        keys = ([f"{script}:{line}"] if line else []) + [script, ""]
        for s in keys:
            r = self.conn.execute(f"SELECT {col} FROM fmscript_{kind} WHERE layout = ? COLLATE NOCASE AND "
                                  "script = ? COLLATE NOCASE", (layout, s)).fetchone()
            if r:
                return r[0]
        return None

    def store(self, kind: str, layout: str, text: str, script: str = "") -> None:
        col = "requests" if kind == "finds" else "sort_order"
        self.commit()
        self.ensure_metadata()
        self.conn.execute(f"DELETE FROM fmscript_{kind} WHERE layout = ? COLLATE NOCASE AND script = ? "
                          "COLLATE NOCASE", (layout, script))
        self.conn.execute(f"INSERT INTO fmscript_{kind} (layout, script, {col}) VALUES (?, ?, ?)",
                          (layout, script, text))

    # -- sorting ------------------------------------------------------------------------------------------
    def sort_spec_from_text(self, ctx: Context, text: str) -> list:
        try:
            parsed = F.parse_sort_order(text)
        except F.RequestSyntaxError as e:
            raise StepError(f"the stored sort order cannot be read: {e}", code=1708) from None
        ti = self.tables()[ctx.table.casefold()]
        spec = []
        for occ, name, asc in parsed:
            fi = ti.field(name)
            if fi is None or (occ and self.table_of(occ) is not ti):
                raise StepError(f"the sort order uses the field “{occ + '::' if occ else ''}{name}”, which "
                                f"“{ctx.occurrence}” does not have (FileMaker error 102)", code=102)
            spec.append((fi, asc))
        return spec

    def sort(self, ctx: Context, spec: list) -> None:
        """Sort the found set: text case-insensitively, numbers by value, empty values first."""
        if not ctx.found:
            ctx.sort = spec
            return
        order = []
        for fi, asc in spec:
            coll = {"number": " COLLATE fmnum", "text": " COLLATE fmtext"}.get(fi.type, "")
            order.append(f"{qident(fi.name)}{coll} {'ASC' if asc else 'DESC'}"
                         + ("" if asc else " NULLS LAST") if not fi.is_global else "1")
        sql = f"SELECT rowid FROM {qident(ctx.table)} ORDER BY {', '.join(order)}, rowid"
        members = set(ctx.found)
        ctx.found = [r for (r,) in self.conn.execute(sql) if r in members]
        ctx.sort = spec
        ctx.index = 0  # FileMaker shows the first record of the sorted set

    # -- DDL (fmscript db, Import Records into a new table) -----------------------------------------------
    def create_table(self, name: str, fields: list[tuple[str, str, bool]]) -> TableInfo:
        """Create a table with ``[(field, type, is_global)]``; every column has TEXT affinity."""
        if name.casefold() in self.tables():
            raise StepError(f"a table named “{name}” already exists (FileMaker error 504)", code=504)
        if name.startswith(INTERNAL_PREFIX) or name.startswith("sqlite_"):
            raise StepError(f"“{name}” is reserved for fmscript's metadata", code=504)
        cols = []
        for fname, ftype, _ in fields:
            if ftype not in FIELD_TYPES:
                raise StepError(f"unknown field type “{ftype}”; use one of {', '.join(FIELD_TYPES)}", code=1708)
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
            raise StepError(f"cannot create the table “{name}”: {e}", code=504) from None
        self.invalidate_schema()
        return self.tables()[name.casefold()]

    def add_field(self, table: str, fname: str, ftype: str = "text", is_global: bool = False,
                  repetitions: int = 1) -> None:
        ti = self.tables().get(table.casefold())
        if ti is None:
            raise StepError(f"there is no table named “{table}” (FileMaker error 106)", code=106)
        if ftype not in FIELD_TYPES:
            raise StepError(f"unknown field type “{ftype}”; use one of {', '.join(FIELD_TYPES)}", code=1708)
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
                raise StepError(f"there is no table named “{table}” (FileMaker error 106)", code=106)
            if occurrence.casefold() != ti.name.casefold():
                self.conn.execute("INSERT OR REPLACE INTO fmscript_occurrences VALUES (?, ?)", (occurrence, ti.name))
        self.invalidate_schema()
        if occurrence.casefold() not in self.occurrences():
            raise StepError(f"there is no table occurrence named “{occurrence}” (FileMaker error 106)", code=106)
        n = self.conn.execute("SELECT count(*) FROM fmscript_layouts").fetchone()[0]
        self.conn.execute("INSERT OR REPLACE INTO fmscript_layouts VALUES (?, ?, ?)", (layout, occurrence, n + 1))
        self.invalidate_schema()


def _fm_match(value, ftype, criterion):
    try:
        return 1 if F.matches(value, ftype, criterion) else 0
    except Exception:  # a criterion that cannot apply to this value matches nothing
        return 0


def sqlite_error(e: Exception) -> StepError:
    """Any SQLite failure as a FileMaker error (301 for a lock, 802 for a file SQLite cannot use)."""
    msg = str(e)
    if isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg):
        return _busy(e)
    if isinstance(e, sqlite3.IntegrityError):
        return StepError(f"the database refused the change: {msg} (FileMaker error 504)", code=504)
    if isinstance(e, (sqlite3.DatabaseError,)) and ("not a database" in msg or "malformed" in msg
                                                    or "readonly" in msg or "disk" in msg):
        return StepError(f"the database file cannot be used: {msg} (FileMaker error 802)", code=802)
    return StepError(f"the database refused the request: {msg}", code=1)


def _busy(e: sqlite3.OperationalError) -> StepError:
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return StepError("the record is in use by another process: the database is locked (FileMaker error 301)",
                         code=301)
    return StepError(f"the database refused the change: {msg}", code=1)
