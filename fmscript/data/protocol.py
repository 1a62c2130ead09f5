"""What a session's data layer offers the rest of fmscript: steps, calculation functions, the interpreter
and the REPL use these members and nothing else, so they never probe the object with ``hasattr``.

:class:`~fmscript.data.database.Database` is the implementation; ``runtime.NoData`` (the placeholder that
opens an in-memory database on first use) offers the same members.  Importing this module is cheap: it
does not load sqlite3 or the rest of the data layer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - types only
    from .schema import FieldInfo, TableInfo
    from .window import Context, Window


@runtime_checkable
class DataLayer(Protocol):
    """A FileMaker file as a script sees it: schema, the window and its found sets, fields, records, finds."""

    window: "Window"
    original_layout: str | None

    # -- the file -----------------------------------------------------------------------------------------
    def path(self) -> str | None:
        """The file's path (``None``: in memory)."""

    def opened(self) -> "DataLayer | None":
        """The database itself once it is open: a placeholder (:class:`DeferredDataLayer`) answers ``None``
        until something uses it, so a caller can tell "no data yet" without probing the object's type."""

    def close(self) -> None:
        """Commit what is open and close the file."""

    def end_run(self, ok: bool = True) -> None:
        """A top-level script ended: commit (``ok``) or revert what is still uncommitted."""

    def attach(self, session: Any) -> None:
        """Tie the file to a session, so that the end of the process commits a record a script left open."""

    def solution_script_paths(self) -> list[tuple[str, str]]:
        """``(path, name)`` of every script ``fmscript import-xml`` wrote for this file, in FileMaker's order
        (``path`` relative to the scripts folder, with ``/``); empty when the file was not imported."""

    # -- schema -------------------------------------------------------------------------------------------
    def tables(self) -> dict[str, "TableInfo"]: ...
    def occurrences(self) -> dict[str, tuple[str, str]]: ...
    def layouts(self) -> dict[str, tuple[str, str]]: ...
    def layout_names(self) -> list[str]: ...
    def table_of(self, occurrence: str) -> "TableInfo | None": ...
    def occurrence_name(self, occurrence: str) -> str | None: ...
    def resolve_field(self, table: str | None, name: str, on: str | None = None
                      ) -> tuple[str, "TableInfo", "FieldInfo"]: ...
    def repetitions_of(self, table: str | None, name: str) -> int: ...

    # -- the window ---------------------------------------------------------------------------------------
    def current_occurrence(self) -> str | None: ...
    def context(self, occurrence: str | None = None) -> "Context": ...
    def go_to_layout(self, name: str) -> None: ...

    # -- fields and records -------------------------------------------------------------------------------
    def read_field(self, f: Any, table: str | None, name: str, rep: int = 1) -> Any: ...
    def set_field(self, f: Any, table: str | None, name: str, rep: int, value: Any) -> None: ...
    def record_values(self, table: "TableInfo", rid: int) -> dict: ...
    def all_ids(self, table: str) -> list[int]: ...
    def total_count(self, table: str) -> int: ...
    def record_open_state(self) -> int: ...
    def record_modification_count(self, table: str, rid: int) -> int: ...
    def new_record(self, ctx: "Context") -> int: ...
    def duplicate_record(self, ctx: "Context") -> int: ...
    def delete_ids(self, table: str, ids: list[int]) -> None: ...
    def truncate(self, table: str) -> None: ...
    def commit(self, data_entry: bool = False) -> None: ...
    def revert(self) -> None: ...

    # -- field options and transactions (fielddefs.py, transactions.py) -----------------------------------
    def set_next_serial(self, table: str | None, fname: str, value: Any) -> None: ...
    def serial_settings(self, table: str | None, fname: str) -> tuple[str, int] | None: ...
    def relookup(self, occurrence: str | None, fname: str) -> int: ...
    def value_list_items(self, name: str) -> list[str]: ...
    def value_list_names(self) -> list[str]: ...
    def get_summary(self, occurrence: str | None, summary: str, break_field: str) -> Any: ...
    def open_transaction(self) -> None: ...
    def commit_transaction(self, skip_validation: bool = False) -> None: ...
    def revert_transaction(self, skip: int | None = None) -> None: ...
    def passed_commit_transaction(self) -> bool: ...

    # -- finds, sorts, queries ----------------------------------------------------------------------------
    def run_requests(self, ctx: "Context", requests: list) -> list[int]: ...
    def requests_from_text(self, ctx: "Context", text: str) -> list: ...
    def sort_spec_from_text(self, ctx: "Context", text: str) -> list: ...
    def sort(self, ctx: "Context", spec: list, language: str | None = None) -> None: ...
    def stored(self, kind: str, layout: str, script: str, line: int | None = None) -> str | None: ...
    def select(self, sql: str, params: list | tuple = ()) -> list[tuple]: ...
    def change_stamp(self) -> tuple: ...

    # -- the relationship graph (fmscript.data.graph, fmscript.data.related) ------------------------------
    def related_records(self, occurrence: str) -> list[int] | None: ...
    def related_values(self, f: Any, table: str | None, name: str) -> tuple | None: ...
    def related_aggregate(self, f: Any, table: str | None, name: str, kind: str) -> Any: ...
    def lookup_next(self, f: Any, table: str, name: str, higher: bool) -> Any: ...
    def go_to_related(self, occurrence: str, layout: str | None, show_only: bool, all_found: bool) -> int: ...
    def go_to_portal_row(self, how: str, n: int | None = None, portal: str | None = None) -> bool: ...
    def delete_portal_row(self) -> bool: ...
    def portal_row_number(self) -> int: ...
    def go_to_object(self, name: str) -> None: ...
    def active_object_name(self) -> str: ...
    def related_row(self, occurrence: str, rid: int) -> Any: ...

    # -- import (Import Records into a new table) ---------------------------------------------------------
    def create_table(self, name: str, fields: list[tuple[str, str, bool]]) -> "TableInfo": ...


#: The members of :class:`DataLayer`, for :class:`DeferredDataLayer` and the tests.
MEMBERS: tuple[str, ...] = tuple(sorted(
    n for n in set(DataLayer.__dict__) | set(DataLayer.__annotations__) if not n.startswith("_")))


class DeferredDataLayer:
    """A :class:`DataLayer` that opens the real one on first use (``runtime.NoData`` is one).

    A subclass says where the database is (:meth:`opened`, ``None`` until then) and how to open it
    (:meth:`open`).  ``path``, ``end_run``, ``close`` and ``solution_script_paths`` open nothing while no
    database is open (a script that never touched data has nothing to commit, and an in-memory file lists
    no imported scripts); every other member opens it and forwards.  (Before Python 3.12, ``isinstance``
    against the protocol reads ``window``, and so opens it.)
    """

    __slots__ = ()

    def opened(self) -> DataLayer | None:  # pragma: no cover - each subclass says
        raise NotImplementedError

    def open(self) -> DataLayer:  # pragma: no cover - each subclass says
        raise NotImplementedError

    def path(self) -> str | None:
        db = self.opened()
        return db.path() if db is not None else None

    def end_run(self, ok: bool = True) -> None:
        db = self.opened()
        if db is not None:
            db.end_run(ok)

    def close(self) -> None:
        db = self.opened()
        if db is not None:
            db.close()

    def solution_script_paths(self) -> list[tuple[str, str]]:
        # No file is open yet: an in-memory file created now would list no scripts either.
        db = self.opened()
        return db.solution_script_paths() if db is not None else []

    @property
    def window(self) -> "Window":
        return self.open().window

    @property
    def original_layout(self) -> str | None:
        return self.open().original_layout

    @original_layout.setter
    def original_layout(self, value: str | None) -> None:
        self.open().original_layout = value


def _forward(name: str):
    def member(self, *args, **kwargs):
        return getattr(self.open(), name)(*args, **kwargs)
    member.__name__ = member.__qualname__ = name
    member.__doc__ = f"Opens the database and calls its ``{name}``."
    return member


for _name in MEMBERS:
    if _name not in DeferredDataLayer.__dict__:
        setattr(DeferredDataLayer, _name, _forward(_name))
del _name
