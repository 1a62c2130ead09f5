"""SQLite failures as FileMaker errors: a user sees FileMaker's number and a sentence, never sqlite3's class."""
from __future__ import annotations

import sqlite3

from ..errors import E_CANNOT_OPEN_FILE, E_RECORD_IN_USE, E_USER_CANCELED, E_VALUE_NOT_UNIQUE, DataError


def sqlite_error(e: Exception) -> DataError:
    """Any SQLite failure as a FileMaker error (301 for a lock, 802 for a file SQLite cannot use)."""
    msg = str(e)
    if isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg):
        return busy_error(e)
    if isinstance(e, sqlite3.IntegrityError):
        return DataError(f"the database refused the change: {msg}", code=E_VALUE_NOT_UNIQUE)
    if isinstance(e, (sqlite3.DatabaseError,)) and ("not a database" in msg or "malformed" in msg
                                                    or "readonly" in msg or "disk" in msg):
        return DataError(f"the database file cannot be used: {msg}", code=E_CANNOT_OPEN_FILE)
    return DataError(f"the database refused the request: {msg}", code=E_USER_CANCELED)


def busy_error(e: sqlite3.OperationalError) -> DataError:
    """A failed write: 301 when another process holds the lock, else a general refusal."""
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return DataError("the record is in use by another process: the database is locked",
                         code=E_RECORD_IN_USE)
    return DataError(f"the database refused the change: {msg}", code=E_USER_CANCELED)
