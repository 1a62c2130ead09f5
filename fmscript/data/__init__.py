"""The data layer: a FileMaker file on SQLite (tables, layouts, found sets, finds, import and export).

``open_database(path)`` opens a SQLite file (created when missing) or, with ``None``, a fresh in-memory
database.  See ``docs/data.md`` for how a SQLite file maps to FileMaker.
"""
from __future__ import annotations

from pathlib import Path

from .database import Context, Database, FieldInfo, TableInfo

__all__ = ["open_database", "Database", "Context", "FieldInfo", "TableInfo"]


def open_database(path: str | Path | None = None) -> Database:
    """The FileMaker file for a run: the SQLite database at ``path`` (``None``: in memory)."""
    if path is not None:
        p = Path(path)
        if p.is_dir():
            from ..errors import UsageError
            raise UsageError(f"{path} is a folder, not a database file")
        if not p.parent.exists():
            from ..errors import UsageError
            raise UsageError(f"cannot create {path}: the folder {p.parent} does not exist")
    return Database(path)
