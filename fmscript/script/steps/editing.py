"""Editing steps (FileMaker's Editing category): Set Field and the other steps that change field contents.
"""
from __future__ import annotations

from ...calc import ast as C
from ...calc.values import to_text
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
                                        "Replace with calculation", "Replace with serial numbers", "Initial value",
                                        "Increment value", "Update Entry Options") + DIALOG, guard=data_errors,
      note="`Current contents` puts the current record's value in every record of the found set; serial numbers "
           "count from the field's auto-enter serial (`Entry option values`, which then continues after the last "
           "one given) or from `Initial value` by `Increment value` (`Custom values`; `Update Entry Options` sets "
           "the field's next serial after them), incrementing the last number of the text as FileMaker does.")
def replace_field_contents(st: S.Step, c):
    """Sets a field in every record of the found set to a calculation (evaluated for each record), serial
    numbers or the current record's value."""
    opts = calc_options(st)
    serial_opt = st.get("Replace with serial numbers")
    current = "Current contents" in st.words() or any(
        isinstance(o.value, S.Calc) and isinstance(o.value.node, C.Name) and o.value.node.name == "Current contents"
        for o in opts[1:])
    calc_opt = st.get("Replace with calculation") or (opts[1] if len(opts) > 1 and not current else None)
    if not opts or opts[0].value is None:
        raise no_field(c, "Replace Field Contents")
    if calc_opt is None and serial_opt is None and not current:
        raise no_calculation(c, "Replace Field Contents", "calculation, serial numbers or current contents to "
                             "replace with")
    setter = c.target(opts[0], "a field")
    field_name = name_of(c, opts[0])
    value = c.calc(calc_opt) if calc_opt is not None and serial_opt is None and not current else None
    entry_options = serial_opt is not None and "entry option" in (getattr(serial_opt.value, "text", "") or "").casefold()
    initial_opt = st.get("Initial value")
    if initial_opt is not None and isinstance(initial_opt.value, (S.Calc, S.Raw)) and \
            not isinstance(getattr(initial_opt.value, "node", None), (C.Str, C.Num, C.Var)):
        printed = initial_opt.value.text.strip()  # FileMaker prints the serial's text bare: INV0098
        initial = lambda f: printed  # noqa: E731
    else:
        initial = c.text(initial_opt) if initial_opt is not None else (lambda f: "1")
    increment = c.number(st.get("Increment value")) if st.get("Increment value") is not None else None
    update = entry_options or "Update Entry Options" in st.words()

    def run(f):
        from ...data.fielddefs import next_serial_text
        db, ctx = committed(f)
        occ, sep, fname = field_name(f).rpartition("::")
        table = occ if sep else None
        saved = ctx.index
        if serial_opt is not None:
            settings = db.serial_settings(table, fname) if entry_options else None
            serial = settings[0] if settings else to_text(initial(f))
            step_by = int(increment(f)) if increment is not None and not entry_options else \
                (settings[1] if settings else 1)
        elif current:
            here = db.read_field(f, table, fname, 1)
        try:
            for i in range(len(ctx.found)):
                ctx.index = i
                if serial_opt is not None:
                    setter(f, serial)
                    serial = next_serial_text(serial, step_by)
                else:
                    setter(f, here if current else value(f))
            db.commit()
            if serial_opt is not None and update:
                db.set_next_serial(table, fname, serial)
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
