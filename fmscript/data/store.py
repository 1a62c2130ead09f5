"""Records in SQLite: reading fields (with a small row cache), writing them, the record transaction, and
record operations (new, duplicate, delete, delete all).

Edits go to SQLite inside a transaction that stays open while a record is being edited; committing the
record (Commit Records, going to another record or layout, a find, the end of the script…) commits it.
Revert Record, or a script that fails, rolls it back.  Files use WAL, so other processes keep reading.
Global fields live in ``fmscript_globals``, repetitions after the first in ``fmscript_repetitions``.
"""
from __future__ import annotations

import sqlite3

from ..calc.values import to_text
from ..errors import (E_FIELD_CANNOT_BE_MODIFIED, E_FIELD_MISSING, E_RECORD_MISSING, E_VALID_VALUE_REQUIRED,
                      E_VALUE_NOT_UNIQUE, DataError)
from . import finds as F
from .related import UNRELATED
from .schema import FieldInfo, TableInfo, field_missing_message, qident
from .sqlerrors import busy_error, sqlite_error
from .validation import validate_records
from .values import from_storage, to_storage
from .window import Context


#: Per-record modification counts (absent: 0), made on the first commit that changes a record.
MODCOUNT_SQL = ("CREATE TABLE IF NOT EXISTS fmscript_modcounts (table_name TEXT NOT NULL, record_id INTEGER NOT NULL, "
                "count INTEGER NOT NULL, PRIMARY KEY (table_name, record_id)) WITHOUT ROWID")


#: Files with an open transaction and an attached session: what the end of the process settles.  Held here only
#: while the transaction is open, so that a file nobody closed is still freed (with its descriptors) once it is
#: committed; a hook per file holding it for the whole process kept every file a long-lived program opened.
_OPEN: set = set()
_hook_registered = False


def _register_exit_hook() -> None:
    global _hook_registered
    if _hook_registered:
        return
    _hook_registered = True
    import atexit
    atexit.register(_settle_at_exit)


def _settle_at_exit() -> None:
    for d in list(_OPEN):
        if not d._in_tx or d._ended:
            continue
        try:
            s = d._session
            if s is not None and s.last_error == 0:
                d.commit()
            else:
                d.revert()
        except Exception:  # the process is ending: never a traceback here
            pass


class Store:
    """Reads, writes and transactions.  A mixin of :class:`~fmscript.data.database.Database`."""

    conn: sqlite3.Connection
    contexts: dict[str, Context]

    def _init_store(self) -> None:
        self._in_tx = False
        self._new_records: list[tuple[str, int]] = []
        self._globals: dict[tuple[str, str, int], object] | None = None
        self._globals_dirty: set = set()
        self._row_cache: dict[tuple[str, int], dict] = {}
        self._ended = False
        self._session = None          # the session whose last error decides the end of the process
        self._dirty: list[tuple[str, int]] = []  # records changed since the last record commit
        self._init_fielddefs()
        self._init_transactions()

    # -- reading ------------------------------------------------------------------------------------------
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

    def global_value(self, table: str, field: str, rep: int = 1):
        """The stored value of a global field (``None`` when it was never set)."""
        return self._globals_map().get((table.casefold(), field.casefold(), rep))

    def _globals_map(self) -> dict:
        if self._globals is None:
            self._globals = {}
            if self.has_metadata():
                for t, fname, rep, v in self.conn.execute(
                        "SELECT table_name, field_name, rep, value FROM fmscript_globals"):
                    self._globals[(t.casefold(), fname.casefold(), rep)] = v
        return self._globals

    def read_field(self, f, table: str | None, name: str, rep: int = 1):
        """Value of ``table::name[rep]`` in the current record of that occurrence (calculation access).

        A missing field raises :class:`DataError` 102: the step evaluating the calculation fails with it
        (``IsValid``, ``IsEmpty`` and ``EvaluationError`` see it instead)."""
        try:
            return self._read_field(table, name, rep)
        except sqlite3.Error as e:
            from ..errors import CalcError
            raise CalcError(f"the field “{name}” cannot be read: {e}", code=sqlite_error(e).code) from None

    def _read_field(self, table: str | None, name: str, rep: int):
        scoped = self.scoped_record(table) if self._calc_scope else None
        if scoped is not None:  # a field calculation reads its own record
            sti, srid = scoped
            fi = sti.field(name)
            if fi is None:
                raise DataError(field_missing_message(name, sti), code=E_FIELD_MISSING)
            if fi.is_global:
                return from_storage(self.global_value(sti.name, fi.name, rep), fi.type)
            opts = self.field_options(sti.name, fi.name) if self._field_options != {} else None
            if opts is not None and opts.computed_on_read:
                return self.computed_value(table or sti.name, sti, fi, opts, srid)
            if rep > 1:
                return from_storage(self.repetition_value(sti.name, fi.name, srid, rep), fi.type)
            row = self.row(sti.name, srid)
            return from_storage(row.get(fi.name.casefold()) if row else None, fi.type)
        occ, ti, fi = self.resolve_field(table, name)
        if self._field_options != {}:
            opts = self.field_options(ti.name, fi.name)
            if opts is not None and opts.computed_on_read and (self.window.mode != "find" or self._calc_scope):
                return self.computed_value(occ, ti, fi, opts, None, related=True)
        w = self.window
        if w.mode == "find" and not self._calc_scope and (key := self.criterion_key(occ)) is not False:
            req = w.requests[w.request_index] if w.requests else None
            return req.criteria.get((key, fi.name.casefold()), ("", ""))[1] if req else ""
        if fi.is_global:
            return from_storage(self.global_value(ti.name, fi.name, rep), fi.type)
        if rep == 1 and (raw := self.related_value(occ, fi.name)) is not UNRELATED:  # fmscript.data.related
            return from_storage(raw, fi.type)
        rid = self.record_for(occ)  # the current record, or the related one
        if rid is None:
            return ""
        if rep > 1:
            return from_storage(self.repetition_value(ti.name, fi.name, rid, rep), fi.type)
        row = self.row(ti.name, rid)
        return from_storage(row.get(fi.name.casefold()) if row else None, fi.type)

    def repetition_value(self, table: str, fname: str, rid: int, rep: int):
        """The stored value of repetition ``rep`` (2 or more) of a record's field."""
        if not self.has_metadata():
            return None
        r = self.conn.execute("SELECT value FROM fmscript_repetitions WHERE table_name=? AND field_name=? "
                              "AND record_id=? AND rep=?", (table, fname, rid, rep)).fetchone()
        return r[0] if r else None

    def forget_cached_row(self, table: str, rid: int) -> None:
        """A record written outside :meth:`write` (Import Records' updates) is read again from the file."""
        self._row_cache.pop((table, rid), None)

    def record_values(self, table: TableInfo, rid: int) -> dict:
        """The raw column values of a record, by field name."""
        row = self.row(table.name, rid) or {}
        return {fi.name: row.get(fi.name.casefold()) for fi in table.fields}

    # -- writing ------------------------------------------------------------------------------------------
    def set_field(self, f, table: str | None, name: str, rep: int, value) -> None:
        """Set Field: in find mode the current request's criterion, else the current record's field."""
        occ, ti, fi = self.resolve_field(table, name)
        self.attach(f.session)
        w = self.window
        if w.mode == "find" and (key := self.criterion_key(occ)) is not False:  # a related field: a related criterion
            if self._field_options != {}:
                self.computed_field(ti, fi)  # a summary field takes no criterion (201)
            if not w.requests:
                w.requests.append(F.Request())
            w.requests[w.request_index].criteria[(key, fi.name.casefold())] = (fi.name, to_text(value))
            return
        if fi.is_global:
            self._globals_map()[(ti.name.casefold(), fi.name.casefold(), rep)] = to_storage(value, fi.type)
            self._globals_dirty.add((ti.name, fi.name, rep))
            if not self._in_tx:
                self._flush_globals()
            return
        opts = self.field_options(ti.name, fi.name) if self._field_options != {} else None
        if opts is not None and opts.kind != "normal":
            raise DataError(f"{ti.name}::{fi.name} is a {opts.kind} field: its value cannot be set",
                            code=E_FIELD_CANNOT_BE_MODIFIED)
        rid = self.record_for(occ, create=True)  # a related record is created when the relationship allows
        if rid is None:
            name = self.occurrence_name(occ) or occ
            base = self.current_occurrence()
            if base is not None and name.casefold() != base.casefold() and self.graph_path(base, name) is None:
                raise DataError(f"“{name}” is not related to “{base}”, the current layout's table occurrence, so "
                                f"there is no record to set {name}::{fi.name} in (relate them with fmscript db "
                                "relate, or go to a layout of it)", code=E_RECORD_MISSING)
            raise DataError(f"there is no current record in “{name}” to set {name}::{fi.name} in",
                            code=E_RECORD_MISSING)
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
            raise DataError(f"{ti.name}::{fi.name} cannot take this value: {e}",
                            code=E_VALUE_NOT_UNIQUE) from None
        except sqlite3.OperationalError as e:
            raise busy_error(e) from None
        self._row_cache.pop((ti.name, rid), None)
        self._dirty.append((ti.name, rid))
        if self._field_options != {} and rep == 1:
            self.after_write(ti, rid, fi)

    # -- transactions -------------------------------------------------------------------------------------
    def begin(self) -> None:
        self._ended = False
        if not self._in_tx:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise busy_error(e) from None
            self._in_tx = True
            if self._session is not None:
                _OPEN.add(self)

    def _flush_globals(self) -> None:
        if not self._globals_dirty:
            return
        self.ensure_metadata()
        g = self._globals_map()
        for t, fname, rep in sorted(self._globals_dirty):
            self.conn.execute("INSERT OR REPLACE INTO fmscript_globals VALUES (?, ?, ?, ?)",
                              (t, fname, rep, g.get((t.casefold(), fname.casefold(), rep))))
        self._globals_dirty.clear()

    def commit(self, data_entry: bool = False) -> None:
        """Commit the open record (and any other pending edit) in one transaction.  Validation runs first;
        a failure leaves the record open with its changes.  Inside Open Transaction the record is committed
        into the transaction, not to the file."""
        if self._dirty and self._field_options != {}:
            self.before_commit(list(self._dirty))
            validate_records(self, list(self._dirty), data_entry)
        if self._dirty:
            self._count_modifications()
        self._dirty.clear()
        if self.transaction_depth:
            self.record_committed_in_transaction()
            self._new_records.clear()
            return
        if self._in_tx:
            try:
                self._flush_globals()
                self.flush_serials()
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                raise busy_error(e) from None
            self._in_tx = False
            _OPEN.discard(self)
            self._new_records.clear()
        else:
            if self._globals_dirty:
                self._flush_globals()
            self.flush_serials()

    # -- Get ( RecordModificationCount ) ------------------------------------------------------------------
    def _count_modifications(self) -> None:
        """Each record this commit changes counts one more modification; the commit that creates a record
        leaves it at 0 (FileMaker: "Returns 0 if the record has not been modified since it was created").
        The counts live in ``fmscript_modcounts`` in the same transaction, so a revert takes them back too."""
        new = set(self._new_records)
        changed = sorted({k for k in self._dirty if k not in new})
        if not changed:
            return
        self.conn.execute(MODCOUNT_SQL)
        self.conn.executemany("INSERT INTO fmscript_modcounts VALUES (?, ?, 1) ON CONFLICT (table_name, record_id) "
                              "DO UPDATE SET count = count + 1", changed)

    def _has_modcounts(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='fmscript_modcounts'"
                                 ).fetchone() is not None

    def record_modification_count(self, table: str, rid: int) -> int:
        """How many commits have changed the record since it was created (``Get ( RecordModificationCount )``,
        the Data API's ``modId``); changes not yet committed do not count."""
        if not self._has_modcounts():
            return 0
        r = self.conn.execute("SELECT count FROM fmscript_modcounts WHERE table_name = ? AND record_id = ?",
                              (table, rid)).fetchone()
        return r[0] if r else 0

    def _forget_modcounts(self, table: str, ids: list[int] | None) -> None:
        """Deleted records take their counts with them (a later record may reuse the rowid)."""
        if not self._has_modcounts():
            return
        if ids is None:
            self.conn.execute("DELETE FROM fmscript_modcounts WHERE table_name = ?", (table,))
        else:
            self.conn.execute(f"DELETE FROM fmscript_modcounts WHERE table_name = ? AND record_id IN "
                              f"({','.join('?' * len(ids))})", [table, *ids])

    def revert(self) -> None:
        """Throw away uncommitted edits; records created since the last commit disappear.  Inside Open
        Transaction only the open record's changes are thrown away."""
        self._dirty.clear()
        if self.transaction_depth:
            self.revert_record_in_transaction()
        elif self._in_tx:
            self.conn.execute("ROLLBACK")
            self._in_tx = False
            _OPEN.discard(self)
        gone = list(self._new_records)
        self.forget_uncommitted(gone)

    def new_records_pending(self) -> list[tuple[str, int]]:
        """Records created since the last record commit."""
        return list(self._new_records)

    def forget_uncommitted(self, records: list[tuple[str, int]]) -> None:
        """After a rollback: the records rolled back leave the found sets; cached rows are dropped."""
        if not self.conn.in_transaction:
            self._in_tx = False
            _OPEN.discard(self)
            self.flush_serials()  # serial numbers used are not given back
        self._dirty.clear()
        self._row_cache.clear()
        gone = set(records)
        self._new_records.clear()
        if gone:
            for ctx in self.contexts.values():
                if ctx.found:
                    ctx.found = [r for r in ctx.found if (ctx.table, r) not in gone]

    def end_run(self, ok: bool = True) -> None:
        """The top-level script ended: commit (``ok``) or revert what is still uncommitted."""
        self._ended = True
        if self.transaction_depth:
            self.revert_transaction()  # a transaction never committed is reverted
        self.transaction_skip, self.transaction_error = 0, None
        if ok:
            try:
                self.commit()
            except DataError:  # a record that fails validation is not committed
                self.revert()
                raise
        else:
            self.revert()
            self._flush_globals()

    def attach(self, session) -> None:
        """Make the end of the process commit a record left open by a script that ended normally.

        fmscript's front end calls :meth:`end_run` when a top-level script ends (commit when it succeeded,
        revert when it failed).  Where nobody does, this fallback runs at interpreter exit: it commits
        when the last step of the session attached last succeeded (``Get ( LastError )`` is 0) and otherwise
        leaves the open transaction to SQLite, which rolls it back, as it does for a killed process.
        """
        self._session = session
        if self._in_tx:
            _OPEN.add(self)
        _register_exit_hook()

    def _release_exit_hook(self) -> None:
        """A closed file needs no fallback."""
        _OPEN.discard(self)

    @property
    def has_uncommitted(self) -> bool:
        return self._in_tx

    def record_open_state(self) -> int:
        """``Get ( RecordOpenState )``: 0 closed, 1 a new record not yet committed, 2 a modified one."""
        if not self._in_tx or (self.transaction_depth and not self._dirty):
            return 0  # inside a transaction: nothing changed since the record was committed into it
        occ = self.current_occurrence()
        ctx = self.context(occ) if occ is not None else None
        rid = ctx.current() if ctx else None
        return 1 if rid is not None and (ctx.table, rid) in self._new_records else 2

    # -- record operations --------------------------------------------------------------------------------
    def new_record(self, ctx: Context) -> int:
        self.commit()
        self.begin()
        try:
            cur = self.conn.execute(f"INSERT INTO {qident(ctx.table)} DEFAULT VALUES")
        except sqlite3.IntegrityError as e:
            raise DataError(f"a new record in “{ctx.table}” needs a value for a required column: {e}",
                            code=E_VALID_VALUE_REQUIRED) from None
        rid = cur.lastrowid
        self._new_records.append((ctx.table, rid))
        self._dirty.append((ctx.table, rid))
        ctx.found.append(rid)
        ctx.index = len(ctx.found) - 1
        if self._field_options != {}:
            self.after_create(ctx.table, rid)
        return rid

    def duplicate_record(self, ctx: Context) -> int:
        rid = ctx.current()
        if rid is None:
            raise DataError("there is no record to duplicate", code=E_RECORD_MISSING)
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
        self._dirty.append((ti.name, new))
        ctx.found.append(new)
        ctx.index = len(ctx.found) - 1
        if self._field_options != {}:
            self.after_create(ti.name, new, duplicate=True)
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
            self._begin_unit()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                self.conn.execute(f"DELETE FROM {qident(table)} WHERE rowid IN ({marks})", chunk)
                if self.has_metadata():
                    self.conn.execute(f"DELETE FROM fmscript_repetitions WHERE table_name = ? AND record_id IN "
                                      f"({marks})", [table, *chunk])
                self._forget_modcounts(table, chunk)
            self._end_unit()
        except sqlite3.OperationalError as e:
            if self.conn.in_transaction and not self.transaction_depth:
                self.conn.execute("ROLLBACK")
            raise busy_error(e) from None
        gone = set(ids)
        self._row_cache.clear()
        if self.transaction_depth:
            self.note_deleted_in_transaction(table)
        for ctx in self.contexts.values():
            if ctx.table == table and ctx.found:
                keep_before = sum(1 for r in ctx.found[:ctx.index] if r not in gone)
                ctx.found = [r for r in ctx.found if r not in gone]
                ctx.index = min(keep_before, max(len(ctx.found) - 1, 0))

    def truncate(self, table: str) -> None:
        self.commit()
        try:
            self._begin_unit()
            self.conn.execute(f"DELETE FROM {qident(table)}")
            if self.has_metadata():
                self.conn.execute("DELETE FROM fmscript_repetitions WHERE table_name = ?", (table,))
            self._forget_modcounts(table, None)
            self._end_unit()
        except sqlite3.OperationalError as e:
            if self.conn.in_transaction and not self.transaction_depth:
                self.conn.execute("ROLLBACK")
            raise busy_error(e) from None
        self._row_cache.clear()
        if self.transaction_depth:
            self.note_deleted_in_transaction(table)
        for ctx in self.contexts.values():
            if ctx.table == table:
                ctx.found, ctx.index = [], 0

    def _begin_unit(self) -> None:
        """Deletes take effect at once, or, inside Open Transaction, with the transaction."""
        if not self.transaction_depth:
            self.conn.execute("BEGIN IMMEDIATE")

    def _end_unit(self) -> None:
        if not self.transaction_depth:
            self.conn.execute("COMMIT")
