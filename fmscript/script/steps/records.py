"""Record, navigation, found-set, field, import/export and JSONL steps, on the SQLite data layer.

The window context (layout, mode, found sets, current records, sort orders) lives in the session's
database (:mod:`fmscript.data.database`), so Perform Script keeps it unless a script changes it.
Stored find requests and sort orders (``Perform Find [ Restore ]``, ``Sort Records [ Restore ]``) come from
the step's own text option, else from ``fmscript_finds``/``fmscript_sorts`` for the layout (and script):
see ``docs/data.md``.
"""
from __future__ import annotations

from decimal import Decimal

from ..calc import ast as C
from ..calc.values import to_num0, to_text
from ..script import ast as S
from ..errors import FMScriptError
from ..script.compile import KEEP_ERROR
from . import StepError
from . import step as _register


def step(name: str, **kw):
    """Register a records step whose SQLite failures become FileMaker errors, never a traceback."""
    def deco(fn):
        def compile_guarded(st, c):
            run = fn(st, c)

            def guarded(f):
                try:
                    return run(f)
                except FMScriptError:
                    raise
                except Exception as e:
                    if type(e).__module__ != "sqlite3":
                        raise
                    from ..data.database import sqlite_error
                    raise sqlite_error(e) from None
            return guarded
        compile_guarded.__doc__ = fn.__doc__
        compile_guarded.__name__ = fn.__name__
        _register(name, **kw)(compile_guarded)
        return fn
    return deco

_DIALOG = ("With dialog",)


# -- helpers ------------------------------------------------------------------------------------------------

def _db(f):
    db = f.session.data
    db.attach(f.session)
    return db


def _silent_error(f, code: int, detail: str):
    """FileMaker sets an error without stopping the script (e.g. Go to Record past the last record)."""
    f.session.last_error = code
    f.session.last_error_detail = detail
    return KEEP_ERROR


def _name_of(c, opt):
    """A closure giving a table/field/layout *name*: ``T::F`` and bare names are names, not field reads."""
    if opt is None or opt.value is None:
        return lambda f: ""
    v = opt.value
    if isinstance(v, S.LayoutRef):
        n = v.occurrence or v.name
        return lambda f: n
    if isinstance(v, S.Word):
        n = v.name
        return lambda f: n
    if isinstance(v, S.Raw):
        t = v.text.strip().strip('"“”')
        return lambda f: t
    node = v.node
    if isinstance(node, C.Field) and node.rep is None:
        n = f"{node.table}::{node.name}" if node.table else node.name
        return lambda f: n
    if isinstance(node, C.Name):
        n = node.name
        return lambda f: n
    return c.text(opt)


def _calc_options(st: S.Step) -> list[S.Option]:
    return [o for o in st.unlabelled() if isinstance(o.value, (S.Calc, S.Raw))]


def _loop_exit_cell(c):
    """The jump cell that leaves the innermost Loop (None outside a loop)."""
    return c.loop_exit_cell()


def _stored_text(st: S.Step, c, labels: tuple[str, ...]):
    """Requests or sort order written in the step: a labelled option or the first unlabelled text."""
    for lab in labels:
        opt = st.get(lab)
        if opt is not None and opt.value is not None:
            if isinstance(opt.value, S.Raw):
                t = opt.value.text
                return lambda f: t
            return c.text(opt)
    opts = _calc_options(st)
    if opts:
        o = opts[0]
        if isinstance(o.value, S.Raw):
            t = o.value.text
            return lambda f: t
        return c.text(o)
    return None


def _line(c) -> int:
    """The script line of the step being compiled (stored finds and sorts may be kept per step)."""
    return c.source.line_col(c.step.pos)[0] if c.step is not None else 0


def _stored_requests(f, ctx, inline, restore: bool, step_name: str, line: int = 0):
    db = _db(f)
    if inline is not None:
        return db.requests_from_text(ctx, inline(f))
    if restore:
        text = db.stored("finds", db.window.layout or ctx.occurrence, f.script_name, line)
        if text is None:
            raise StepError(f"{step_name} [ Restore ] has no stored find requests for the layout "
                            f"“{db.window.layout}”: write them in the step (Perform Find [ Restore ; "
                            f"\"{ctx.occurrence}::Field: criterion\" ]) or store them with "
                            f"“fmscript db find {db.window.layout} …” (FileMaker error 400)", code=400)
        return db.requests_from_text(ctx, text)
    return None


# -- navigation ---------------------------------------------------------------------------------------------

@step("Go to Layout", labels=("Animation",))
def go_to_layout(st: S.Step, c):
    """Switches the window to a layout, by name (“Name” (Occurrence)), number, calculation or original layout."""
    words = st.words()
    refs = [o for o in st.options if isinstance(o.value, S.LayoutRef) and o.label is None]
    if refs:
        name = refs[0].value.name

        def run(f):
            _db(f).go_to_layout(name)
        return run
    if "Original layout" in words:
        def run_original(f):
            db = _db(f)
            original = getattr(db, "original_layout", None) or (db.layout_names() or [None])[0]
            if original is None:
                raise StepError("the file has no layouts (FileMaker error 105)", code=105)
            db.go_to_layout(original)
        return run_original
    opts = _calc_options(st)
    if not opts:
        raise c.error("Go to Layout needs a layout: Go to Layout [ “Name” (Occurrence) ] or [ calculation ]")
    value = c.calc(opts[0])
    by_number = "Layout number" in words

    def run_calc(f):
        db = _db(f)
        v = value(f)
        if by_number or isinstance(v, Decimal):
            names = db.layout_names()
            n = int(to_num0(v))
            if not 1 <= n <= len(names):
                raise StepError(f"there is no layout number {n}; the file has {len(names)} (FileMaker error 105)",
                                code=105)
            db.go_to_layout(names[n - 1])
        else:
            db.go_to_layout(to_text(v))
    return run_calc


@step("Go to Record/Request/Page", labels=("Exit after last", "By Calculation") + _DIALOG)
def go_to_record(st: S.Step, c):
    """Moves to the first, last, previous or next record (or find request), or to a record number."""
    words = st.words()
    exit_opt = st.get("Exit after last")
    exit_after = ("Exit after last" in words) or (exit_opt is not None and c.on_off(exit_opt, True))
    how = next((w for w in ("First", "Last", "Previous", "Next") if w in words), None)
    by_calc = None
    if how is None:
        opt = st.get("By Calculation") or (_calc_options(st)[0] if _calc_options(st) else None)
        if opt is None:
            raise c.error("Go to Record/Request/Page needs First, Last, Previous, Next or By Calculation: n")
        by_calc = c.number(opt)
    cell = _loop_exit_cell(c) if exit_after and how in ("Next", "Previous") else None

    def run(f):
        db = _db(f)
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
                raise StepError(f"there is no record number {target + 1}; the found set has {n} "
                                "(FileMaker error 101)", code=101)
        elif how == "First":
            target = 0
        elif how == "Last":
            target = n - 1
        elif how == "Next":
            target = cur + 1
            if target >= n:
                if cell is not None:
                    return cell[0]
                return _silent_error(f, 101, "there is no next record")
        else:
            target = cur - 1
            if target < 0:
                if cell is not None:
                    return cell[0]
                return _silent_error(f, 101, "there is no previous record")
        if n == 0:
            return _silent_error(f, 101, "the found set is empty")
        if w.mode == "find":
            w.request_index = target
        else:
            ctx.index = target
        return None
    return run


@step("Enter Browse Mode", labels=("Pause",))
def enter_browse_mode(st: S.Step, c):
    """Leaves find mode (the requests are dropped) for browse mode."""
    def run(f):
        w = _db(f).window
        w.mode, w.requests, w.request_index = "browse", [], 0
    return run


@step("Enter Find Mode", labels=("Pause", "Find Requests"))
def enter_find_mode(st: S.Step, c):
    """Find mode with one empty request, or with the stored requests (Restore); Set Field then sets criteria."""
    restore = "Restore" in st.words()
    inline = _stored_text(st, c, ("Find Requests", "Specified Find Requests"))
    line = _line(c)

    def run(f):
        from ..data.finds import Request
        db = _db(f)
        ctx = db.context()
        db.commit()
        reqs = _stored_requests(f, ctx, inline, restore, "Enter Find Mode", line) if (restore or inline) else None
        db.window.mode = "find"
        db.window.requests = reqs or [Request()]
        db.window.request_index = 0
    return run


# -- found sets ---------------------------------------------------------------------------------------------

def _find_step(name: str, combine: str):
    def compile_find(st: S.Step, c):
        restore = "Restore" in st.words()
        inline = _stored_text(st, c, ("Find Requests", "Specified Find Requests"))
        line = _line(c)

        def run(f):
            db = _db(f)
            ctx = db.context()
            db.commit()
            w = db.window
            if w.mode == "find" and not restore and inline is None:
                requests = w.requests
            elif restore or inline is not None:
                requests = _stored_requests(f, ctx, inline, True, name, line)
            else:  # browse mode, nothing stored: FileMaker finds again with the last requests
                requests = getattr(ctx, "last_requests", None) or []
            ids = db.run_requests(ctx, requests)
            ctx.last_requests = [r.copy() for r in requests]
            w.mode, w.requests, w.request_index = "browse", [], 0
            if combine == "constrain":
                keep = set(ids)
                ids = [r for r in ctx.found if r in keep]
            elif combine == "extend":
                ids = sorted(set(ctx.found) | set(ids))
            if not ids:
                ctx.found, ctx.index = [], 0
                raise StepError("no records match this find criteria (FileMaker error 401)", code=401)
            ctx.found, ctx.index = ids, 0
            if combine == "find":
                ctx.sort = None
            elif ctx.sort:
                db.sort(ctx, ctx.sort)
        return run
    compile_find.__doc__ = {
        "find": "Finds the records matching the find requests (made in find mode, or stored: Restore).",
        "constrain": "Narrows the found set to the records that also match the requests.",
        "extend": "Adds the records matching the requests to the found set.",
    }[combine]
    return compile_find


_FIND_LABELS = ("Find Requests",) + _DIALOG  # "Find Requests": proposed for stdlib/labels.tsv (docs/data.md)
step("Perform Find", labels=_FIND_LABELS)(_find_step("Perform Find", "find"))
step("Constrain Found Set", labels=_FIND_LABELS)(_find_step("Constrain Found Set", "constrain"))
step("Extend Found Set", labels=_FIND_LABELS)(_find_step("Extend Found Set", "extend"))


@step("Find Matching Records")
def find_matching_records(st: S.Step, c):
    """Finds the records whose field equals the current record's value (Replace, Constrain or Extend)."""
    words = st.words()
    mode = "constrain" if "Constrain" in words else "extend" if "Extend" in words else "find"
    opts = _calc_options(st)
    if not opts:
        raise c.error("Find Matching Records needs a field: Find Matching Records [ Replace ; Table::Field ]")
    name = _name_of(c, opts[0])

    def run(f):
        from ..data.finds import Request
        db = _db(f)
        ctx = db.context()
        db.commit()
        occ, sep, fname = name(f).rpartition("::")
        value = db.read_field(f, occ if sep else None, fname, 1)
        ti = db.tables()[ctx.table.casefold()]
        fi = ti.field(fname)
        if fi is None:
            raise StepError(f"the field “{name(f)}” is missing (FileMaker error 102)", code=102)
        text = to_text(value)
        crit = "=" if text == "" else "==" + "".join("\\" + ch if ch in "*@#\\" else ch for ch in text)
        req = Request({(None, fi.name.casefold()): (fi.name, crit)})
        _apply_found(db, ctx, db.run_requests(ctx, [req]), mode)
    return run


@step("Perform Quick Find")
def perform_quick_find(st: S.Step, c):
    """Finds records where every word of the search text starts a word in some field of the layout's table."""
    opts = _calc_options(st)
    text = c.text(opts[0]) if opts else (lambda f: "")

    def run(f):
        from ..data.finds import matches
        db = _db(f)
        ctx = db.context()
        db.commit()
        words = to_text(text(f)).split()
        if not words:
            raise StepError("Perform Quick Find needs search text (FileMaker error 400)", code=400)
        ti = db.tables()[ctx.table.casefold()]
        fields = ti.record_fields
        ids = []
        for rid in db.all_ids(ti.name):
            vals = db.record_values(ti, rid)
            if all(any(matches(vals.get(fi.name), "text", w) for fi in fields) for w in words):
                ids.append(rid)
        _apply_found(db, ctx, ids, "find")
    return run


def _apply_found(db, ctx, ids, mode):
    """Make ``ids`` the found set (or constrain/extend it); no records is error 401, as for Perform Find."""
    db.window.mode, db.window.requests, db.window.request_index = "browse", [], 0
    if mode == "constrain":
        keep = set(ids)
        ids = [r for r in ctx.found if r in keep]
    elif mode == "extend":
        ids = sorted(set(ctx.found) | set(ids))
    ctx.found, ctx.index = list(ids), 0
    if mode == "find":
        ctx.sort = None
    elif ctx.sort:
        db.sort(ctx, ctx.sort)
    if not ids:
        raise StepError("no records match this find criteria (FileMaker error 401)", code=401)


@step("Show All Records")
def show_all_records(st: S.Step, c):
    """Makes every record of the layout's table the found set (unsorted)."""
    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
        db.window.mode = "browse"
        ctx.found, ctx.index, ctx.sort = db.all_ids(ctx.table), 0, None
    return run


@step("Show Omitted Only")
def show_omitted_only(st: S.Step, c):
    """Swaps the found set with the records left out of it."""
    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
        found = set(ctx.found)
        ctx.found = [r for r in db.all_ids(ctx.table) if r not in found]
        ctx.index, ctx.sort = 0, None
    return run


@step("Omit Record")
def omit_record(st: S.Step, c):
    """Takes the current record out of the found set (in find mode: makes the request an omit request)."""
    def run(f):
        db = _db(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                req = w.requests[w.request_index]
                req.omit = not req.omit
            return None
        ctx = db.context()
        if not ctx.found:
            return _silent_error(f, 101, "the found set is empty")
        db.commit()
        del ctx.found[ctx.index]
        if ctx.index >= len(ctx.found):
            ctx.index = max(len(ctx.found) - 1, 0)
        return None
    return run


@step("Omit Multiple Records", labels=_DIALOG)
def omit_multiple(st: S.Step, c):
    """Omits n records starting with the current one."""
    opts = _calc_options(st)
    count = c.number(opts[0]) if opts else (lambda f: Decimal(1))

    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
        n = max(int(count(f)), 0)
        del ctx.found[ctx.index:ctx.index + n]
        if ctx.index >= len(ctx.found):
            ctx.index = max(len(ctx.found) - 1, 0)
    return run


@step("Sort Records", labels=("Sort Order", "Keep records in sorted order") + _DIALOG)
def sort_records(st: S.Step, c):
    """Sorts the found set by the stored sort order (written in the step, or kept for the layout)."""
    inline = _stored_text(st, c, ("Sort Order", "Specified Sort Order"))
    line = _line(c)

    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
        text = inline(f) if inline is not None else db.stored("sorts", db.window.layout or ctx.occurrence,
                                                              f.script_name, line)
        if text is None and ctx.sort:
            db.sort(ctx, ctx.sort)  # no stored order: FileMaker uses the last sort order
            return
        if text is None:
            raise StepError(f"Sort Records has no stored sort order for the layout “{db.window.layout}”: write "
                            f"it in the step (Sort Records [ Restore ; With dialog: Off ; \"{ctx.occurrence}::Field "
                            f"ascending\" ]) or store it with “fmscript db sort {db.window.layout} …” "
                            "(FileMaker error 1708)", code=1708)
        db.sort(ctx, db.sort_spec_from_text(ctx, text))
    return run


@step("Sort Records by Field")
def sort_records_by_field(st: S.Step, c):
    """Sorts the found set by one field, ascending or descending."""
    asc = "Descending" not in st.words()
    opts = _calc_options(st)
    if not opts:
        raise c.error("Sort Records by Field needs a field: Sort Records by Field [ Ascending ; Table::Field ]")
    name = _name_of(c, opts[0])

    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
        occ, _, fname = name(f).rpartition("::")
        db.sort(ctx, db.sort_spec_from_text(ctx, f"{occ + '::' if occ else ''}{fname} "
                                                 f"{'ascending' if asc else 'descending'}"))
    return run


@step("Unsort Records")
def unsort_records(st: S.Step, c):
    """Puts the found set back in creation order."""
    def run(f):
        db = _db(f)
        ctx = db.context()
        cur = ctx.current()
        ctx.found.sort()
        ctx.sort = None
        ctx.index = ctx.found.index(cur) if cur is not None else 0
    return run


# -- records ------------------------------------------------------------------------------------------------

@step("New Record/Request")
def new_record(st: S.Step, c):
    """Adds a record (in find mode: a find request) and makes it current; Commit Records saves it."""
    def run(f):
        from ..data.finds import Request
        db = _db(f)
        w = db.window
        if w.mode == "find":
            w.requests.append(Request())
            w.request_index = len(w.requests) - 1
            return
        db.new_record(db.context())
    return run


@step("Duplicate Record/Request")
def duplicate_record(st: S.Step, c):
    """Copies the current record (or find request) and makes the copy current."""
    def run(f):
        db = _db(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                w.requests.append(w.requests[w.request_index].copy())
                w.request_index = len(w.requests) - 1
            return
        db.duplicate_record(db.context())
    return run


@step("Delete Record/Request", labels=_DIALOG)
def delete_record(st: S.Step, c):
    """Deletes the current record (in find mode: the current request); the next record becomes current."""
    def run(f):
        db = _db(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                del w.requests[w.request_index]
                w.request_index = min(w.request_index, max(len(w.requests) - 1, 0))
            return None
        ctx = db.context()
        rid = ctx.current()
        if rid is None:
            raise StepError("there is no record to delete (FileMaker error 101)", code=101)
        db.delete_ids(ctx.table, [rid])
        return None
    return run


@step("Delete All Records", labels=_DIALOG)
def delete_all_records(st: S.Step, c):
    """Deletes every record of the found set."""
    def run(f):
        db = _db(f)
        ctx = db.context()
        db.delete_ids(ctx.table, list(ctx.found))
    return run


@step("Truncate Table", labels=("Table",) + _DIALOG)
def truncate_table(st: S.Step, c):
    """Deletes every record of a table at once (Table: Current Table or a table occurrence)."""
    opt = st.get("Table")
    current = opt is None or (isinstance(opt.value, S.Word) and opt.value.name == "Current Table")
    name = None if current else _name_of(c, opt)

    def run(f):
        db = _db(f)
        if name is None:
            ctx = db.context()
            db.truncate(ctx.table)
            return
        occ = name(f)
        ti = db.table_of(occ)
        if ti is None:
            raise StepError(f"there is no table named “{occ}” (FileMaker error 106)", code=106)
        db.truncate(ti.name)
    return run


@step("Commit Records/Requests", labels=("Skip data entry validation", "Force commit") + _DIALOG)
def commit_records(st: S.Step, c):
    """Saves the open record's changes to the file (one SQLite transaction)."""
    def run(f):
        _db(f).commit()
    return run


@step("Revert Record/Request", labels=_DIALOG)
def revert_record(st: S.Step, c):
    """Throws away the open record's uncommitted changes (a new record disappears)."""
    def run(f):
        _db(f).revert()
    return run


@step("Modify Last Find")
def modify_last_find(st: S.Step, c):
    """Find mode with the requests of the last find of this layout's table."""
    def run(f):
        from ..data.finds import Request
        db = _db(f)
        ctx = db.context()
        db.commit()
        last = getattr(ctx, "last_requests", None)
        db.window.mode = "find"
        db.window.requests = [r.copy() for r in last] if last else [Request()]
        db.window.request_index = 0
    return run


@step("Open Record/Request")
def open_record(st: S.Step, c):
    """Opens the current record for editing (fmscript opens records when a field is set)."""
    def run(f):
        db = _db(f)
        if db.window.mode != "find" and db.context().current() is None:
            raise StepError("there is no record to open (FileMaker error 101)", code=101)
    return run


# -- fields -------------------------------------------------------------------------------------------------

def _field_and_value(st: S.Step, c, step_name: str):
    opts = _calc_options(st)
    if len(opts) < 2:
        raise c.error(f"{step_name} needs a field and a value: {step_name} [ Table::Field ; calculation ]")
    return c.target(opts[0], "a field"), c.calc(opts[1])


@step("Set Field", labels=())
def set_field(st: S.Step, c):
    """Sets a field (``Table::Field[n]`` for a repetition) of the current record to a calculation's value."""
    setter, value = _field_and_value(st, c, "Set Field")

    def run(f):
        setter(f, value(f))
    return run


@step("Insert Calculated Result", labels=("Select",))
def insert_calculated_result(st: S.Step, c):
    """Puts a calculation's result into a field of the current record (as Set Field)."""
    setter, value = _field_and_value(st, c, "Insert Calculated Result")

    def run(f):
        setter(f, value(f))
    return run


@step("Set Field By Name", labels=())
def set_field_by_name(st: S.Step, c):
    """Sets the field whose name a calculation gives (``"Table::Field"``, optionally ``[n]``)."""
    opts = _calc_options(st)
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
            raise StepError("Set Field By Name got an empty field name (FileMaker error 102)", code=102)
        _db(f).set_field(f, occ if sep else None, fname, max(rep, 1), value(f))
    return run


@step("Replace Field Contents", labels=("Perform auto-enter options for fields", "Skip data entry validation",
                                        "Replace with calculation") + _DIALOG)
def replace_field_contents(st: S.Step, c):
    """Sets a field in every record of the found set to a calculation (evaluated for each record)."""
    opts = _calc_options(st)
    calc_opt = st.get("Replace with calculation") or (opts[1] if len(opts) > 1 else None)
    if not opts or calc_opt is None:
        raise c.error("Replace Field Contents needs a field and a calculation: Replace Field Contents "
                      "[ With dialog: Off ; Table::Field ; calculation ]")
    setter, value = c.target(opts[0], "a field"), c.calc(calc_opt)

    def run(f):
        db = _db(f)
        ctx = db.context()
        db.commit()
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


# -- import and export --------------------------------------------------------------------------------------

@step("Import Records", labels=("Data source", "Source file", "Source", "Target", "Table") + _DIALOG)
def import_records(st: S.Step, c):
    """Adds the rows of a CSV, TSV or JSONL file to a table (fields matched by name), creating it if needed."""
    src_opt = st.get("Data source") or st.get("Source file") or st.get("Source")
    calc_opts = _calc_options(st)
    if src_opt is None:
        src_opt = next((o for o in calc_opts if not isinstance(o.value, S.Calc)
                        or not isinstance(o.value.node, (C.Name, C.Field))), None)
    if src_opt is None:
        raise c.error("Import Records needs a file: Import Records [ With dialog: Off ; Data source: \"file.csv\" ; "
                      "Target: \"Table\" ]")
    source = c.text(src_opt) if not isinstance(src_opt.value, S.Raw) else _name_of(c, src_opt)
    tgt_opt = st.get("Target") or st.get("Table")
    target = _name_of(c, tgt_opt) if tgt_opt is not None else None

    def run(f):
        from ..data import transfer
        db = _db(f)
        path = transfer.input_path(f, source(f))
        if target is not None:
            table = target(f)
        else:
            table = db.context().table
        ti, ids = transfer.import_rows(db, table, path)
        occ = db.occurrence_name(table) or ti.name
        ctx = db.context(occ)
        ctx.found, ctx.index, ctx.sort = ids, 0, None
    return run


@step("Export Records", labels=("Create folders",) + _DIALOG)
def export_records(st: S.Step, c):
    """Writes the found set's fields to a CSV, TSV or JSONL file (by its extension)."""
    opts = [o for o in _calc_options(st) if not (isinstance(o.value, S.Calc) and isinstance(o.value.node, C.Name))]
    if not opts:
        raise c.error("Export Records needs an output file: Export Records [ With dialog: Off ; \"out.csv\" ]")
    dest = c.text(opts[0])
    create = c.on_off(st.get("Create folders"), False) or "Create folders" in st.words()

    def run(f):
        from ..data import transfer
        db = _db(f)
        ctx = db.context()
        db.commit()
        path = transfer.output_path(f, dest(f), create)
        ti = db.tables()[ctx.table.casefold()]
        transfer.write_text(path, transfer.export_text(db, ti, list(ctx.found), transfer.format_of(path)))
    return run


@step("Save Records as JSONL", labels=("Format for fine-tuning", "Table", "System Prompt", "User Prompt",
                                       "Assistant Prompt", "Completion Field", "Create folders") + _DIALOG,
      calc_labels=("System Prompt", "User Prompt", "Assistant Prompt"))
def save_records_as_jsonl(st: S.Step, c):
    """Writes the found set as JSON Lines: chat examples for fine-tuning, or one object per record."""
    fmt = st.get("Format for fine-tuning")
    fine_tuning = c.on_off(fmt, False) if fmt is not None else ("Format for fine-tuning" in st.words())
    table_opt = st.get("Table")
    table = _name_of(c, table_opt) if table_opt is not None else None
    comp_opt = st.get("Completion Field")
    completion = _name_of(c, comp_opt) if comp_opt is not None else None
    system = c.calc(st.get("System Prompt")) if st.get("System Prompt") else None
    user = c.calc(st.get("User Prompt")) if st.get("User Prompt") else None
    assistant = c.calc(st.get("Assistant Prompt")) if st.get("Assistant Prompt") else None
    outs = _calc_options(st)
    if not outs:
        raise c.error("Save Records as JSONL needs an output file: Save Records as JSONL [ Table: T ; "
                      "Completion Field: T::Answer ; \"out.jsonl\" ]")
    dest = c.text(outs[0])
    create = c.on_off(st.get("Create folders"), False) or "Create folders" in st.words()
    if fine_tuning and user is None:
        raise c.error("with Format for fine-tuning: On, Save Records as JSONL needs a User Prompt calculation")

    def run(f):
        from ..data import prompt, transfer
        db = _db(f)
        occ = table(f) if table is not None else db.context().occurrence
        rows = prompt.save_records_as_jsonl(f, occ, fine_tuning=fine_tuning,
                                            completion_field=completion(f) if completion else None,
                                            system=system, user=user, assistant=assistant)
        path = transfer.output_path(f, dest(f), create)
        transfer.write_text(path, prompt.rows_to_jsonl(rows))
    return run
