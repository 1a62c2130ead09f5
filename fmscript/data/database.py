"""A FileMaker file on SQLite: the connection, and the one object that joins the data layer's parts.

:class:`Database` is composed of one mixin per concern, each in its own module:

* :mod:`.schema`: tables, fields, occurrences, layouts, and the DDL that changes them;
* :mod:`.window`: the window (layout, mode) and each occurrence's found set, current record and sort;
* :mod:`.store`: reading and writing fields, the record transaction, record operations;
* :mod:`.fielddefs`: field options (auto-enter, calculation and summary fields, value lists), checked by
  :mod:`.validation` at commit; :mod:`.transactions`: Open/Commit/Revert Transaction;
* :mod:`.queries`: finds and sorts as SQL; :mod:`.stored`: stored finds and sort orders;
* :mod:`.sqlerrors`: SQLite failures as FileMaker errors;
* :mod:`.graph`: the relationship graph and portals; :mod:`.related`: following it (related records).

:class:`fmscript.data.protocol.DataLayer` is what the rest of fmscript may use of it.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .. import limits
from ..errors import E_EXECUTE_SQL, DataError
from .fielddefs import FieldDefinitions
from .graph import Graph
from .queries import Queries, register_functions
from .related import Related
from .schema import INTERNAL_PREFIX, METADATA_SQL, SCHEMA_VERSION, FieldInfo, Schema, TableInfo, qident
from .sqlerrors import busy_error, sqlite_error
from .store import Store
from .stored import StoredQueries
from .transactions import Transactions
from .values import num_collate, sql_parameter, text_collate
from .window import Context, Window, Windows

__all__ = ["Database", "Context", "Window", "FieldInfo", "TableInfo", "qident", "sqlite_error", "busy_error",
           "METADATA_SQL", "SCHEMA_VERSION", "INTERNAL_PREFIX"]


class Database(Related, Graph, Windows, Store, Transactions, FieldDefinitions, Queries, StoredQueries, Schema):
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
        register_functions(self.conn)
        self.conn.create_collation("fmnum", num_collate)
        self.conn.create_collation("fmtext", text_collate)
        self._tables = self._occurrences = self._layouts = None
        self.contexts: dict[str, Context] = {}
        self.window = Window()
        self.original_layout: str | None = None  # the layout before the first Go to Layout
        self._read_conn: sqlite3.Connection | None = None
        self._init_store()
        self._init_graph()
        self._init_related()

    # -- file ---------------------------------------------------------------------------------------------
    def path(self) -> str | None:
        return self._path

    def opened(self) -> "Database":
        return self

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._release_exit_hook()
            if self._read_conn is not None:
                self._read_conn.close()
                self._read_conn = None
            self.conn.close()

    def solution_script_paths(self) -> list[tuple[str, str]]:
        """The scripts folder's files as ``fmscript import-xml`` listed them (``fmscript_import_scripts``), so a
        script of the solution can find the others it performs."""
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                             "'fmscript_import_scripts'").fetchone() is None:
            return []
        return [(path.replace("\\", "/"), name) for path, name in
                self.conn.execute("SELECT path, name FROM fmscript_import_scripts ORDER BY rowid")]

    def change_stamp(self) -> tuple:
        """Changes whenever the file's data may have changed: by this connection (its change count) or by
        another one (SQLite's ``data_version``). What a cache of values read from the file is checked with."""
        return (self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes)

    def select(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """Rows of a query that only reads (ExecuteSQL): SQLite's authorizer refuses anything else, extra
        table occurrences are visible under their names, and values are passed as their fields store them.
        A query SQLite refuses is :class:`DataError` 8310.

        As in FileMaker, it sees committed data only: a file is read through a second connection, which WAL
        shows the last committed state (an in-memory database has no second connection and sees the open
        record's changes)."""
        conn = self.conn if self._path is None else self._reader()
        try:
            self.occurrence_views(conn)
        except sqlite3.Error:
            pass

        def authorizer(action, *rest):
            allowed = (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                       getattr(sqlite3, "SQLITE_RECURSIVE", 33))
            return sqlite3.SQLITE_OK if action in allowed else sqlite3.SQLITE_DENY

        limit = limits.SQL_TIME_LIMIT
        deadline = time.monotonic() + limit
        conn.set_authorizer(authorizer)
        # SQLite calls this every few thousand instructions; a true answer interrupts the query (an endless
        # recursive CTE, a cross join of big tables).
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            return conn.execute(sql, [sql_parameter(p) for p in params]).fetchall()
        except sqlite3.OperationalError as e:
            if time.monotonic() > deadline:
                raise DataError(f"ExecuteSQL: the query ran longer than {limit:g} seconds and was stopped",
                                code=E_EXECUTE_SQL) from None
            raise DataError(f"ExecuteSQL: {e}", code=E_EXECUTE_SQL) from None
        except (sqlite3.Error, ValueError, OverflowError) as e:
            raise DataError(f"ExecuteSQL: {e}", code=E_EXECUTE_SQL) from None
        finally:
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)

    def _reader(self) -> sqlite3.Connection:
        """The read-only connection ExecuteSQL uses (opened on first use, closed with the file)."""
        if self._read_conn is None:
            conn = sqlite3.connect(Path(self._path).as_uri() + "?mode=ro", uri=True, timeout=5.0,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            register_functions(conn)
            conn.create_collation("fmnum", num_collate)
            conn.create_collation("fmtext", text_collate)
            self._read_conn = conn
        return self._read_conn
