"""Find criteria that SQLite can test itself: a number criterion (``>100``, ``≤5``, ``100...199``, ``==42``)
on a column with numeric affinity (an ``INTEGER`` or ``REAL`` column of an existing file) becomes a plain SQL
comparison instead of a call of ``fm_match`` per row, so a find over a large table runs at SQLite's speed.

Only criteria whose meaning is the same either way are translated: integral operands (exact for SQLite's
integers and reals alike) and values SQLite holds as numbers (``typeof`` integer or real; text and empty
values match no comparison, as in :func:`.finds.matches`).  Everything else keeps ``fm_match``.
"""
from __future__ import annotations

import re
import sqlite3
from decimal import Decimal, InvalidOperation

from .schema import qident

_OPS = (("<=", "<="), (">=", ">="), ("≤", "<="), ("≥", ">="), ("<", "<"), (">", ">"), ("==", "="))
_RANGE = re.compile(r"^\s*([^.…]+?)\s*(?:\.\.\.|…|\.\.)\s*([^.…]+?)\s*$")


def numeric_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """Casefolded names of the columns with INTEGER, REAL or NUMERIC affinity (SQLite's rules for a declared
    type: ``INT`` → integer; ``CHAR``, ``CLOB``, ``TEXT`` → text; ``BLOB`` or none → blob; ``REAL``, ``FLOA``,
    ``DOUB`` → real; anything else numeric)."""
    out = set()
    for _, col, decl, *_ in conn.execute(f"PRAGMA table_info({qident(table)})"):
        d = (decl or "").upper()
        if "INT" in d or (d and not any(k in d for k in ("CHAR", "CLOB", "TEXT", "BLOB"))):
            out.add(col.casefold())
    return out


def _integral(text: str) -> int | None:
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite() or d != d.to_integral_value() or abs(d) >= 2 ** 53:
        return None
    return int(d)


def sql_criterion(column: str, criterion: str) -> tuple[str, list] | None:
    """``(SQL, parameters)`` testing a number criterion on a numeric column, or ``None`` to use fm_match."""
    c = criterion.strip()
    col = qident(column)
    guard = f"typeof({col}) IN ('integer', 'real')"
    for op, sql_op in _OPS:
        if c.startswith(op):
            n = _integral(c[len(op):])
            return None if n is None else (f"({guard} AND {col} {sql_op} ?)", [n])
    m = _RANGE.match(c)
    if m:
        lo, hi = _integral(m.group(1)), _integral(m.group(2))
        if lo is not None and hi is not None:
            return f"({guard} AND {col} BETWEEN ? AND ?)", [lo, hi]
    return None
