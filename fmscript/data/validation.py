"""Field validation when a record is committed, with FileMaker's error numbers.

Each record changed since the last commit is checked field by field, in field order; the first failure
stops the commit with its error, and the record stays open with its changes (as FileMaker leaves it), so
that a script can fix the value or revert the record.

* ``"when": "always"`` validates at every commit, including the commits fmscript makes on its own (going to
  another record, the end of a script);
* ``"when": "entry"`` ("only during data entry") validates only at an explicit commit, Commit
  Records/Requests or Commit Transaction, unless it says ``Skip data entry validation``: a script is
  fmscript's only data entry.

Errors: not empty 509, unique 504, member of a value list 506, range 503, calculation 507.
"""
from __future__ import annotations

from ..calc.values import compare, to_bool, to_text
from ..errors import (E_VALID_VALUE_REQUIRED, E_VALUE_FAILED_CALC, E_VALUE_NOT_IN_LIST, E_VALUE_NOT_IN_RANGE,
                      E_VALUE_NOT_UNIQUE, DataError)
from .schema import FieldInfo, TableInfo, qident
from .values import from_storage, to_storage


def _fail(ti: TableInfo, fi: FieldInfo, rule: dict, sentence: str, code: int) -> DataError:
    custom = rule.get("message")
    msg = custom if custom else f"{ti.name}::{fi.name} {sentence}"
    return DataError(msg, code=code)


def validate_record(db, ti: TableInfo, rid: int, data_entry: bool) -> None:
    """Raise the first validation failure of record ``rid`` (nothing when every field passes)."""
    defs = db.all_field_options().get(ti.name.casefold())
    if not defs:
        return
    row = db.row(ti.name, rid)
    if row is None:
        return  # deleted meanwhile
    for fi in ti.record_fields:
        opts = defs.get(fi.name.casefold())
        rule = opts.validate if opts is not None else None
        if not rule:
            continue
        if rule.get("when", "always") == "entry" and not data_entry:
            continue
        raw = row.get(fi.name.casefold())
        value = from_storage(raw, fi.type)
        empty = raw is None or raw == ""
        if rule.get("not_empty") and empty:
            raise _fail(ti, fi, rule, "must not be empty", E_VALID_VALUE_REQUIRED)
        if empty:
            continue  # the other rules check values; an empty field passes them (FileMaker's "allow empty")
        if rule.get("unique"):
            text = to_text(value)
            col = qident(fi.name)
            if fi.type == "text":
                dup = db.conn.execute(f"SELECT 1 FROM {qident(ti.name)} WHERE lower({col}) = lower(?) AND "
                                      f"rowid <> ? LIMIT 1", (text, rid)).fetchone()
            else:
                dup = db.conn.execute(f"SELECT 1 FROM {qident(ti.name)} WHERE {col} = ? AND rowid <> ? LIMIT 1",
                                      (raw, rid)).fetchone()
            if dup:
                raise _fail(ti, fi, rule, f"must be unique, and “{text}” is already in another record",
                            E_VALUE_NOT_UNIQUE)
        vl = rule.get("value_list")
        if vl:
            items = db.value_list_items(vl)
            if to_text(value).casefold() not in {i.casefold() for i in items}:
                raise _fail(ti, fi, rule, f"must be a value of the value list “{vl}”, not “{to_text(value)}”",
                            E_VALUE_NOT_IN_LIST)
        rng = rule.get("range")
        if rng:
            lo = from_storage(to_storage(rng[0], fi.type), fi.type)
            hi = from_storage(to_storage(rng[1], fi.type), fi.type)
            if compare(value, lo) < 0 or compare(value, hi) > 0:
                raise _fail(ti, fi, rule, f"must be from {to_text(lo)} to {to_text(hi)}, not {to_text(value)}",
                            E_VALUE_NOT_IN_RANGE)
        calc = rule.get("calc")
        if calc and not to_bool(db.evaluate_for_record(ti, rid, calc, rule.get("context"))):
            raise _fail(ti, fi, rule, f"failed its validation calculation “{calc}”", E_VALUE_FAILED_CALC)


def validate_records(db, records, data_entry: bool) -> None:
    """Validate each changed record (``(table, rid)``, in the order they were changed)."""
    seen = set()
    for table, rid in records:
        if (table, rid) in seen:
            continue
        seen.add((table, rid))
        ti = db.tables().get(table.casefold())
        if ti is not None:
            validate_record(db, ti, rid, data_entry)
