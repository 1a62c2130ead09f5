"""Record and found-set ``Get`` values, and ``ExecuteSQL`` on the file's SQLite database."""
from __future__ import annotations

from decimal import Decimal

from ..values import to_text
from . import CalcError, function
from ...errors import E_EXECUTE_SQL
from . import get_value as get


def _db(f):
    return f.session.data


def _ctx(f):
    db = _db(f)
    if db.current_occurrence() is None:
        return None
    return db.context()


@get("FoundCount")
def found_count(f):
    """The number of records in the found set of the current layout's table."""
    ctx = _ctx(f)
    return Decimal(len(ctx.found) if ctx else 0)


@get("RecordNumber")
def record_number(f):
    """The current record's position in the found set (in find mode: the current request's)."""
    db = _db(f)
    if db.current_occurrence() is None:
        return Decimal(0)
    if db.window.mode == "find":
        return Decimal(db.window.request_index + 1 if db.window.requests else 0)
    ctx = db.context()
    return Decimal(ctx.index + 1 if ctx.found else 0)


@get("TotalRecordCount")
def total_record_count(f):
    """The number of records in the current layout's table."""
    ctx = _ctx(f)
    return Decimal(_db(f).total_count(ctx.table) if ctx else 0)


@get("RecordID")
def record_id(f):
    """The current record's unique id (SQLite's rowid)."""
    ctx = _ctx(f)
    rid = ctx.current() if ctx else None
    return Decimal(rid) if rid is not None else ""


@get("LayoutName")
def layout_name(f):
    """The current layout's name."""
    db = _db(f)
    db.current_occurrence()
    return db.window.layout or ""


@get("LayoutTableName")
def layout_table_name(f):
    """The table occurrence of the current layout."""
    return _db(f).current_occurrence() or ""


@get("LayoutNumber")
def layout_number(f):
    """The current layout's number in layout order."""
    db = _db(f)
    db.current_occurrence()
    names = [n.casefold() for n in db.layout_names()]
    lay = (db.window.layout or "").casefold()
    return Decimal(names.index(lay) + 1 if lay in names else 0)


@get("LayoutCount")
def layout_count(f):
    """The number of layouts in the file."""
    return Decimal(len(_db(f).layout_names()))


@get("WindowMode")
def window_mode(f):
    """0 browse, 1 find, 2 preview."""
    return Decimal({"browse": 0, "find": 1, "preview": 2}.get(_db(f).window.mode, 0))


@get("RecordOpenState")
def record_open_state(f):
    """0 closed, 1 new record not yet committed, 2 modified record not yet committed."""
    return Decimal(_db(f).record_open_state())


@get("RecordModificationCount")
def record_modification_count(f):
    """How many commits have changed the current record (0 when it is unchanged since its creation)."""
    ctx = _ctx(f)
    rid = ctx.current() if ctx else None
    return Decimal(_db(f).record_modification_count(ctx.table, rid)) if rid is not None else ""


@get("SortState")
def sort_state(f):
    """0 unsorted, 1 sorted."""
    ctx = _ctx(f)
    return Decimal(1 if ctx and ctx.sort else 0)


# -- ExecuteSQL ------------------------------------------------------------------------------------------------

def _sql_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        d = Decimal(repr(v))
        return to_text(d + 0)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


@function("ExecuteSQL ( sqlQuery ; fieldSeparator ; rowSeparator { ; arguments... } )", mode="context",
          volatile=True)
def execute_sql(f, query, field_sep, row_sep, *args):
    """Runs a SELECT on the file's SQLite database; values given as ``?`` arguments are SQL parameters.

    Defaults: fields separated by ``,`` and rows by ``¶``.  Anything but a query, or an SQL error, gives ``?``.
    """
    from ...errors import DataError

    fs = to_text(field_sep) or ","
    rs = to_text(row_sep) or "\r"
    sql = to_text(query).strip()
    head = sql.lstrip("(").split(None, 1)[0].upper() if sql else ""
    if head not in ("SELECT", "WITH", "VALUES"):
        raise CalcError("ExecuteSQL runs SELECT queries only", code=E_EXECUTE_SQL)
    try:
        rows = _db(f).select(sql, args)
    except DataError as e:
        raise CalcError(e.message, code=e.code) from None
    return rs.join(fs.join(_sql_text(v) for v in row) for row in rows)
