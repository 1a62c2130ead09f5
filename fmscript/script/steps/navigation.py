"""Navigation steps (FileMaker's Navigation category): layouts, records and requests, browse and find modes.
"""
from __future__ import annotations

from decimal import Decimal

from ...calc.values import to_num0, to_text
from ...errors import E_LAYOUT_MISSING, E_LAYOUT_OBJECT_MISSING, E_RECORD_MISSING, StepError
from .. import ast as S
from . import step
from .data_access import (DIALOG, calc_options, committed, data_errors, database, name_of, restore_option,
                          silent_error, stored_requests)

@step("Go to Layout", labels=("Animation",), guard=data_errors)
def go_to_layout(st: S.Step, c):
    """Switches the window to a layout, by name (“Name” (Occurrence)), number, calculation or original layout."""
    words = st.words()
    refs = [o for o in st.options if isinstance(o.value, S.LayoutRef) and o.label is None]
    if refs:
        name = refs[0].value.name

        def run(f):
            database(f).go_to_layout(name)
        return run
    if "Original layout" in words:
        def run_original(f):
            db = database(f)
            original = db.original_layout or (db.layout_names() or [None])[0]
            if original is None:
                raise StepError("the file has no layouts", code=E_LAYOUT_MISSING)
            db.go_to_layout(original)
        return run_original
    opts = calc_options(st)
    if not opts:
        raise c.incomplete("Go to Layout has no layout", E_LAYOUT_MISSING)
    value = c.calc(opts[0])
    by_number = "Layout number" in words

    def run_calc(f):
        db = database(f)
        v = value(f)
        if by_number or isinstance(v, Decimal):
            names = db.layout_names()
            n = int(to_num0(v))
            if not 1 <= n <= len(names):
                raise StepError(f"there is no layout number {n}; the file has {len(names)}",
                                code=E_LAYOUT_MISSING)
            db.go_to_layout(names[n - 1])
        else:
            db.go_to_layout(to_text(v))
    return run_calc


@step("Go to Record/Request/Page", labels=("Exit after last", "By Calculation") + DIALOG, guard=data_errors)
def go_to_record(st: S.Step, c):
    """Moves to the first, last, previous or next record (or find request), or to a record number."""
    words = st.words()
    exit_opt = st.get("Exit after last")
    exit_after = ("Exit after last" in words) or (exit_opt is not None and c.on_off(exit_opt, True))
    how = next((w for w in ("First", "Last", "Previous", "Next") if w in words), None)
    by_calc = None
    if how is None:
        opt = st.get("By Calculation") or (calc_options(st)[0] if calc_options(st) else None)
        if opt is None:
            raise c.error("Go to Record/Request/Page needs First, Last, Previous, Next or By Calculation: n")
        by_calc = c.number(opt)
    cell = c.loop_exit_cell() if exit_after and how in ("Next", "Previous") else None

    def run(f):
        db = database(f)
        w = db.window
        if w.mode == "find":
            n, cur = len(w.requests), w.request_index
        else:
            ctx = db.context()
            db.commit()
            n, cur = len(ctx.found), ctx.index
        if by_calc is not None:
            target = int(by_calc(f)) - 1
            if not 0 <= target < n:
                raise StepError(f"there is no record number {target + 1}; the found set has {n}",
                                code=E_RECORD_MISSING)
        elif how == "First":
            target = 0
        elif how == "Last":
            target = n - 1
        elif how == "Next":
            target = cur + 1
            if target >= n:
                if cell is not None:
                    return cell[0]
                return silent_error(f, E_RECORD_MISSING, "there is no next record")
        else:
            target = cur - 1
            if target < 0:
                if cell is not None:
                    return cell[0]
                return silent_error(f, E_RECORD_MISSING, "there is no previous record")
        if n == 0:
            return silent_error(f, E_RECORD_MISSING, "the found set is empty")
        if w.mode == "find":
            w.request_index = target
        else:
            ctx.index = target
        return None
    return run


@step("Enter Browse Mode", labels=("Pause",), guard=data_errors)
def enter_browse_mode(st: S.Step, c):
    """Leaves find mode (the requests are dropped) for browse mode."""
    def run(f):
        w = database(f).window
        w.mode, w.requests, w.request_index = "browse", [], 0
    return run


@step("Enter Find Mode", labels=("Pause", "Find Requests"), guard=data_errors)
def enter_find_mode(st: S.Step, c):
    """Find mode with one empty request, or with the stored requests (Restore); Set Field then sets criteria."""
    restore, inline, line = restore_option(st, c)

    def run(f):
        from ...data.finds import Request
        db, ctx = committed(f)
        reqs = stored_requests(f, ctx, inline, restore, "Enter Find Mode", line) if (restore or inline) else None
        db.window.mode = "find"
        db.window.requests = reqs or [Request()]
        db.window.request_index = 0
    return run


@step("Go to Related Record", labels=("Show only related records", "Match current record only",
                                      "Match all records in current found set", "From table", "Using layout",
                                      "New window"), guard=data_errors,
      note="New window is accepted and ignored (one headless window); without Using layout the current layout "
           "is used when it shows the related table, else the first layout of the related occurrence.")
def go_to_related_record(st: S.Step, c):
    """Goes to the records related to the current record (or to the whole found set) on a layout of their table.

    With no related records nothing changes and Get ( LastError ) is 101, as in FileMaker."""
    words = st.words()
    show_only = "Show only related records" in words
    all_found = "Match all records in current found set" in words
    table_opt = st.get("From table")
    if table_opt is None or table_opt.value is None:
        raise c.error("Go to Related Record needs the related table: Go to Related Record [ From table: \"Occurrence\" ]")
    table = name_of(c, table_opt)
    lay_opt = st.get("Using layout")
    if lay_opt is None or lay_opt.value is None:
        layout = None
    elif isinstance(lay_opt.value, S.LayoutRef):
        lname = lay_opt.value.name
        layout = lambda f: lname  # noqa: E731
    else:
        layout = c.text(lay_opt)

    def run(f):
        db = database(f)
        lname = to_text(layout(f)) if layout is not None else None
        if db.go_to_related(to_text(table(f)), lname or None, show_only, all_found) == 0:
            return silent_error(f, E_RECORD_MISSING, f"there are no related records in “{to_text(table(f))}”")
        return None
    return run


@step("Go to Object", labels=("Object Name", "Repetition"), calc_labels=("Object Name", "Repetition"),
      guard=data_errors,
      note="The layout objects fmscript knows are portals, named with fmscript db portal --name; Repetition is "
           "ignored (it applies to fields).")
def go_to_object(st: S.Step, c):
    """Makes a named object of the current layout active (a portal, which Go to Portal Row then works on); an
    object the layout does not have is error 116."""
    opt = st.get("Object Name") or (st.unlabelled()[0] if st.unlabelled() else None)
    if opt is None or opt.value is None:
        raise c.incomplete("Go to Object has no object name", E_LAYOUT_OBJECT_MISSING)
    name = c.text(opt)

    def run(f):
        database(f).go_to_object(to_text(name(f)))
    return run


@step("Go to Portal Row", labels=("Select", "Exit after last", "By Calculation") + DIALOG, guard=data_errors,
      note="The portal is the active one, else the layout's first (portals are defined with fmscript db portal); "
           "Select is accepted and ignored.")
def go_to_portal_row(st: S.Step, c):
    """Makes a row of the layout's portal active: First, Last, Previous or Next (among its records: a loop with
    Exit after last ends after the last one) or By Calculation: n.

    Last is the empty row at the end when the relationship allows creating related records: Set Field into a
    field of the portal's occurrence there creates one."""
    words = st.words()
    exit_opt = st.get("Exit after last")
    exit_after = ("Exit after last" in words) or (exit_opt is not None and c.on_off(exit_opt, True))
    how = next((w for w in ("First", "Last", "Previous", "Next") if w in words), None)
    by_calc = None
    if how is None:
        opt = st.get("By Calculation") or (calc_options(st)[0] if calc_options(st) else None)
        if opt is None:
            raise c.error("Go to Portal Row needs First, Last, Previous, Next or By Calculation: n")
        by_calc = c.number(opt)
    cell = c.loop_exit_cell() if exit_after and how in ("Next", "Previous") else None

    def run(f):
        db = database(f)
        n = int(by_calc(f)) if by_calc is not None else None
        if db.go_to_portal_row(how or "", n):
            return None
        if cell is not None:
            return cell[0]
        return silent_error(f, E_RECORD_MISSING, "the portal has no such row")
    return run
