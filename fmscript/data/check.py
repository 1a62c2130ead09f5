"""The database side of ``fmscript check FILE -f DB``: which layout and field names a database has.

Layouts named in ``Go to Layout [ “Name” ]`` must exist (FileMaker error 105).  ``Table::Field``
references must name an existing table occurrence and field (102); an unqualified field is checked against
the layout the script is on at that point.  The messages are the ones ``fmscript run`` gives for the same
mistake, "did you mean" included.  The walk over a script file is the script layer's
(:mod:`fmscript.script.names`); the database is opened read-only and never changed.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError, UsageError
from .database import Database
from .schema import did_you_mean


def open_read_only(db_path) -> Database:
    """The database at ``db_path`` for reading names (a usage error when there is no such file)."""
    if not Path(db_path).is_file():
        raise UsageError(f"no such database file: {db_path}")
    return Database(db_path, read_only=True)


def layout_problem(db: Database, name: str) -> str | None:
    """Error 105's message when the file has no layout ``name``."""
    if name.casefold() in db.layouts():
        return None
    names = db.layout_names()
    return f"there is no layout named “{name}” (layouts: {', '.join(names) or 'none'})" + did_you_mean(name, names)


def field_problem(db: Database, table: str | None, name: str, occ: str | None) -> str | None:
    """Error 102's message when ``table::name`` (or ``name`` on occurrence ``occ``) is not a field; None when
    it is, or when it cannot be told without running the script (no layout known yet)."""
    where = table or occ
    if where is None or (table is None and db.table_of(where) is None):
        return None
    try:
        db.resolve_field(table, name, on=occ)
    except DataError as e:
        return e.message
    return None
