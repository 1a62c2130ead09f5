"""Editing steps (FileMaker's Editing category): Set Field and the other steps that change field contents.
"""
from __future__ import annotations

from ...errors import E_FIELD_MISSING, StepError
from .. import ast as S
from . import step
from .data_access import DIALOG, calc_options, committed, data_errors, database, name_of

def _field_and_value(st: S.Step, c, step_name: str):
    opts = calc_options(st)
    if len(opts) < 2:
        raise c.error(f"{step_name} needs a field and a value: {step_name} [ Table::Field ; calculation ]")
    return c.target(opts[0], "a field"), c.calc(opts[1])


@step("Set Field", labels=(), guard=data_errors)
def set_field(st: S.Step, c):
    """Sets a field (``Table::Field[n]`` for a repetition) of the current record to a calculation's value."""
    setter, value = _field_and_value(st, c, "Set Field")

    def run(f):
        setter(f, value(f))
    return run


@step("Insert Calculated Result", labels=("Select",), guard=data_errors)
def insert_calculated_result(st: S.Step, c):
    """Puts a calculation's result into a field of the current record (as Set Field)."""
    setter, value = _field_and_value(st, c, "Insert Calculated Result")

    def run(f):
        setter(f, value(f))
    return run


@step("Set Field By Name", labels=(), guard=data_errors)
def set_field_by_name(st: S.Step, c):
    """Sets the field whose name a calculation gives (``"Table::Field"``, optionally ``[n]``)."""
    opts = calc_options(st)
    if len(opts) < 2:
        raise c.error("Set Field By Name needs a name and a value: Set Field By Name [ \"Table::Field\" ; value ]")
    name, value = c.text(opts[0]), c.calc(opts[1])

    def run(f):
        import re
        text = name(f).strip()
        m = re.match(r"^(.*?)\s*\[\s*(\d+)\s*\]$", text)
        rep = 1
        if m:
            text, rep = m.group(1), int(m.group(2))
        occ, sep, fname = text.rpartition("::")
        if not fname:
            raise StepError("Set Field By Name got an empty field name", code=E_FIELD_MISSING)
        database(f).set_field(f, occ if sep else None, fname, max(rep, 1), value(f))
    return run


@step("Replace Field Contents", labels=("Perform auto-enter options for fields", "Skip data entry validation",
                                        "Replace with calculation") + DIALOG, guard=data_errors)
def replace_field_contents(st: S.Step, c):
    """Sets a field in every record of the found set to a calculation (evaluated for each record)."""
    opts = calc_options(st)
    calc_opt = st.get("Replace with calculation") or (opts[1] if len(opts) > 1 else None)
    if not opts or calc_opt is None:
        raise c.error("Replace Field Contents needs a field and a calculation: Replace Field Contents "
                      "[ With dialog: Off ; Table::Field ; calculation ]")
    setter, value = c.target(opts[0], "a field"), c.calc(calc_opt)

    def run(f):
        db, ctx = committed(f)
        saved = ctx.index
        try:
            for i in range(len(ctx.found)):
                ctx.index = i
                setter(f, value(f))
            db.commit()
        except BaseException:
            db.revert()
            raise
        finally:
            ctx.index = min(saved, max(len(ctx.found) - 1, 0))
    return run


@step("Set Next Serial Value", labels=(), guard=data_errors)
def set_next_serial_value(st: S.Step, c):
    """Sets the serial number the next new record of the table gets (the field's auto-enter serial)."""
    opts = calc_options(st)
    if len(opts) < 2:
        raise c.error("Set Next Serial Value needs a field and a value: Set Next Serial Value "
                      "[ Table::Field ; value ]")
    field_name, value = name_of(c, opts[0]), c.calc(opts[1])

    def run(f):
        occ, sep, fname = field_name(f).rpartition("::")
        database(f).set_next_serial(occ if sep else None, fname, value(f))
    return run


@step("Relookup Field Contents", labels=DIALOG, guard=data_errors)
def relookup_field_contents(st: S.Step, c):
    """Copies the looked-up values again into every record of the found set, for the lookups whose match
    field is the field named (the records are committed)."""
    opts = calc_options(st)
    if not opts:
        raise c.error("Relookup Field Contents needs the match field: Relookup Field Contents "
                      "[ With dialog: Off ; Table::Field ]")
    field_name = name_of(c, opts[0])

    def run(f):
        occ, sep, fname = field_name(f).rpartition("::")
        database(f).relookup(occ if sep else None, fname)
    return run
