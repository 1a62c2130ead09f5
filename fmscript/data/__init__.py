"""The data layer: a FileMaker file on SQLite (tables, layouts, found sets, finds, import and export).

``open_database(path)`` opens a SQLite file (created when missing) or, with ``None``, a fresh in-memory
database.  See ``docs/data.md`` for how a SQLite file maps to FileMaker; :class:`DataLayer`
(:mod:`.protocol`) is what the rest of fmscript uses of it.  The package loads sqlite3 only when a database
is opened, so that importing :mod:`.protocol` or :mod:`.paths` stays cheap.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only
    from .database import Context, Database, FieldInfo, TableInfo

__all__ = ["open_database", "Database", "Context", "FieldInfo", "TableInfo", "DataLayer"]


def open_database(path: str | Path | None = None) -> "Database":
    """The FileMaker file for a run: the SQLite database at ``path`` (``None``: in memory)."""
    from ..errors import UsageError
    from .database import Database

    if path is not None:
        p = Path(path)
        if p.is_dir():
            raise UsageError(f"{path} is a folder, not a database file")
        if not p.parent.exists():
            raise UsageError(f"cannot create {path}: the folder {p.parent} does not exist")
    return Database(path)


def __getattr__(name: str):
    if name in ("Database", "Context", "FieldInfo", "TableInfo"):
        from . import database
        return getattr(database, name)
    if name == "DataLayer":
        from .protocol import DataLayer
        return DataLayer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
