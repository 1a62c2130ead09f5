"""Editing steps (FileMaker's Editing category): Set Field and the other steps that change field contents.
"""
from __future__ import annotations

from ...errors import E_COMMAND_INVALID, E_FIELD_MISSING, StepError
from .. import ast as S
from . import step
from .data_access import DIALOG, calc_options, committed, data_errors, database, name_of

def _given(opts: list, i: int):
    """The ``i``-th unlabelled option when the text gives it a value (FileMaker prints an unset one empty)."""
    return opts[i] if len(opts) > i and opts[i].value is not None else None


def no_field(c, step_name: str, what: str = "target field"):
    """FileMaker saves a field step without its field and then uses the active field; headless there is none."""
    return c.incomplete(f"{step_name} has no {what}, and there is no active field to use", E_FIELD_MISSING)


def no_calculation(c, step_name: str, what: str = "calculation"):
    """A step saved without its calculation: FileMaker's “command is invalid”."""
    return c.incomplete(f"{step_name} has no {what}", E_COMMAND_INVALID)


def _field_and_value(st: S.Step, c, step_name: str):
    opts = st.unlabelled()
    field, value = _given(opts, 0), _given(opts, 1)
    if field is None:
        raise no_field(c, step_name)
    if value is None:
        raise no_calculation(c, step_name)
    return c.target(field, "a field"), c.calc(value)


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
    opts = st.unlabelled()
    if _given(opts, 0) is None:
        raise no_field(c, "Set Field By Name", "target field name")
    if _given(opts, 1) is None:
        raise no_calculation(c, "Set Field By Name")
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
    if not opts or opts[0].value is None:
        raise no_field(c, "Replace Field Contents")
    if calc_opt is None:
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
    opts = st.unlabelled()
    if _given(opts, 0) is None:
        raise c.incomplete("Set Next Serial Value has no field", E_FIELD_MISSING)
    if _given(opts, 1) is None:
        raise no_calculation(c, "Set Next Serial Value", "next value")
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
        raise no_field(c, "Relookup Field Contents", "match field")
    field_name = name_of(c, opts[0])

    def run(f):
        occ, sep, fname = field_name(f).rpartition("::")
        database(f).relookup(occ if sep else None, fname)
    return run
