"""Found-set steps (FileMaker's Found Sets category): finds, omits, sorts.
"""
from __future__ import annotations

import re

from decimal import Decimal

from ...calc import ast as C
from ...calc.values import to_text
from ...errors import (E_FIELD_MISSING, E_FIND_CRITERIA_EMPTY, E_INVALID_PARAMETER, E_NO_RECORDS_MATCH,
                       E_RECORD_MISSING, StepError)
from .. import ast as S
from . import step
from .data_access import (DIALOG, calc_options, committed, data_errors, database, field_option, restore_option,
                          silent_error, step_line, stored_requests, stored_text)

def _find_step(name: str, combine: str):
    def compile_find(st: S.Step, c):
        restore, inline, line = restore_option(st, c)

        def run(f):
            db, ctx = committed(f)
            w = db.window
            if w.mode == "find" and not restore and inline is None:
                requests = w.requests
            elif restore or inline is not None:
                requests = stored_requests(f, ctx, inline, True, name, line)
            else:  # browse mode, nothing stored: FileMaker finds again with the last requests
                requests = ctx.last_requests or []
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
                raise StepError("no records match this find criteria", code=E_NO_RECORDS_MATCH)
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


_FIND_LABELS = ("Find Requests",) + DIALOG  # "Find Requests": proposed for stdlib/labels.tsv (docs/data.md)
step("Perform Find", labels=_FIND_LABELS, guard=data_errors,
     note="Stored requests are written in the step in a readable form (see docs/data.md).")(_find_step("Perform Find", "find"))
step("Constrain Found Set", labels=_FIND_LABELS,
     guard=data_errors)(_find_step("Constrain Found Set", "constrain"))
step("Extend Found Set", labels=_FIND_LABELS, guard=data_errors)(_find_step("Extend Found Set", "extend"))


@step("Find Matching Records", guard=data_errors)
def find_matching_records(st: S.Step, c):
    """Finds the records whose field equals the current record's value (Replace, Constrain or Extend)."""
    words = st.words()
    mode = "constrain" if "Constrain" in words else "extend" if "Extend" in words else "find"
    name = field_option(st, c, "Find Matching Records has no field, and there is no active field to use")

    def run(f):
        from ...data.finds import Request
        db, ctx = committed(f)
        occ, sep, fname = name(f).rpartition("::")
        value = db.read_field(f, occ if sep else None, fname, 1)
        ti = db.tables()[ctx.table.casefold()]
        fi = ti.field(fname)
        if fi is None:
            raise StepError(f"the field “{name(f)}” is missing", code=E_FIELD_MISSING)
        text = to_text(value)
        crit = "=" if text == "" else "==" + "".join("\\" + ch if ch in "*@#\\" else ch for ch in text)
        req = Request({(None, fi.name.casefold()): (fi.name, crit)})
        _apply_found(db, ctx, db.run_requests(ctx, [req]), mode)
    return run


@step("Perform Quick Find", guard=data_errors)
def perform_quick_find(st: S.Step, c):
    """Finds records where every word of the search text starts a word in some field of the layout's table."""
    opts = calc_options(st)
    text = c.text(opts[0]) if opts else (lambda f: "")

    def run(f):
        from ...data.finds import matches
        db, ctx = committed(f)
        words = to_text(text(f)).split()
        if not words:
            raise StepError("Perform Quick Find needs search text", code=E_FIND_CRITERIA_EMPTY)
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
        raise StepError("no records match this find criteria", code=E_NO_RECORDS_MATCH)


@step("Show All Records", guard=data_errors)
def show_all_records(st: S.Step, c):
    """Makes every record of the layout's table the found set (unsorted)."""
    def run(f):
        db, ctx = committed(f)
        db.window.mode = "browse"
        ctx.found, ctx.index, ctx.sort = db.all_ids(ctx.table), 0, None
    return run


@step("Show Omitted Only", guard=data_errors)
def show_omitted_only(st: S.Step, c):
    """Swaps the found set with the records left out of it."""
    def run(f):
        db, ctx = committed(f)
        found = set(ctx.found)
        ctx.found = [r for r in db.all_ids(ctx.table) if r not in found]
        ctx.index, ctx.sort = 0, None
    return run


@step("Omit Record", guard=data_errors)
def omit_record(st: S.Step, c):
    """Takes the current record out of the found set (in find mode: makes the request an omit request)."""
    def run(f):
        db = database(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                req = w.requests[w.request_index]
                req.omit = not req.omit
            return None
        ctx = db.context()
        if not ctx.found:
            return silent_error(f, E_RECORD_MISSING, "the found set is empty")
        db.commit()
        del ctx.found[ctx.index]
        if ctx.index >= len(ctx.found):
            ctx.index = max(len(ctx.found) - 1, 0)
        return None
    return run


@step("Omit Multiple Records", labels=DIALOG, guard=data_errors)
def omit_multiple(st: S.Step, c):
    """Omits n records starting with the current one."""
    opts = calc_options(st)
    count = c.number(opts[0]) if opts else (lambda f: Decimal(1))

    def run(f):
        db, ctx = committed(f)
        n = max(int(count(f)), 0)
        del ctx.found[ctx.index:ctx.index + n]
        if ctx.index >= len(ctx.found):
            ctx.index = max(len(ctx.found) - 1, 0)
    return run


@step("Sort Records", labels=("Sort Order", "Keep records in sorted order", "Override language") + DIALOG,
      calc_labels=(), guard=data_errors,
      note="The stored sort order is written in the step (see docs/data.md), one field a line as FileMaker "
           "prints it; `override language: “Swedish”` sorts text in that language's alphabet (å ä ö after z; "
           "the other languages put accented letters with their base letter). An entry whose field was deleted "
           "(FileMaker prints only `ascending`) is skipped, as FileMaker skips it.")
def sort_records(st: S.Step, c):
    """Sorts the found set by the stored sort order (written in the step, or kept for the layout)."""
    inline = stored_text(st, c, ("Sort Order", "Specified Sort Order"))
    opt = st.get("Sort Order")
    if opt is not None and isinstance(opt.value, S.Calc) and isinstance(opt.value.node, (C.Field, C.Name)):
        printed = opt.value.text  # FileMaker's printed order (``T::Name ascending``), not a field to read
        inline = lambda f: printed  # noqa: E731
    line = step_line(c)
    lang_opt = st.get("Override language")
    language = None
    if lang_opt is not None and lang_opt.value is not None:
        v = lang_opt.value
        language = (v.text if isinstance(v, (S.Raw, S.Calc)) else getattr(v, "name", "")).strip().strip('"“”')

    def run(f):
        db, ctx = committed(f)
        text = inline(f) if inline is not None else db.stored("sorts", db.window.layout or ctx.occurrence,
                                                              f.script_name, line)
        if text is None and ctx.sort:
            db.sort(ctx, ctx.sort)  # no stored order: FileMaker uses the last sort order
            return
        if text is None:
            raise StepError(f"Sort Records has no stored sort order for the layout “{db.window.layout}”: write "
                            f"it in the step (Sort Records [ Restore ; With dialog: Off ; \"{ctx.occurrence}::Field "
                            f"ascending\" ]) or store it with “fmscript db sort {db.window.layout} …”",
                            code=E_INVALID_PARAMETER)
        spec = _without_deleted_fields(text)
        if spec is None:
            return  # every field of the order was deleted: nothing to sort by
        db.sort(ctx, db.sort_spec_from_text(ctx, spec), language)
    return run


def _without_deleted_fields(text: str) -> str | None:
    """The sort order without the entries FileMaker prints for a deleted field (a bare ``ascending`` line where
    the entry before has its direction, or first); None when no field is left."""
    out: list[str] = []
    for item in re.split(r"[;\n\r]", text):
        word = item.strip().casefold()
        if not word:
            continue
        if word in _DIRECTION_WORDS and (not out or out[-1].rsplit(None, 1)[-1].casefold() in _DIRECTION_WORDS):
            continue  # the entry before has its direction already: this one's field was deleted
        out.append(item.strip())
    while out and out[0].casefold() in _DIRECTION_WORDS:
        out.pop(0)
    return "\n".join(out) if out else None


_DIRECTION_WORDS = {"ascending", "descending", "升序", "降序"}


@step("Sort Records by Field", guard=data_errors)
def sort_records_by_field(st: S.Step, c):
    """Sorts the found set by one field, ascending or descending."""
    asc = "Descending" not in st.words()
    name = field_option(st, c, "Sort Records by Field has no field, and there is no active field to use")

    def run(f):
        db, ctx = committed(f)
        occ, _, fname = name(f).rpartition("::")
        db.sort(ctx, db.sort_spec_from_text(ctx, f"{occ + '::' if occ else ''}{fname} "
                                                 f"{'ascending' if asc else 'descending'}"))
    return run


@step("Unsort Records", guard=data_errors)
def unsort_records(st: S.Step, c):
    """Puts the found set back in creation order."""
    def run(f):
        db = database(f)
        ctx = db.context()
        cur = ctx.current()
        ctx.found.sort()
        ctx.sort = None
        ctx.index = ctx.found.index(cur) if cur is not None else 0
    return run


@step("Modify Last Find", guard=data_errors)
def modify_last_find(st: S.Step, c):
    """Find mode with the requests of the last find of this layout's table."""
    def run(f):
        from ...data.finds import Request
        db, ctx = committed(f)
        last = ctx.last_requests
        db.window.mode = "find"
        db.window.requests = [r.copy() for r in last] if last else [Request()]
        db.window.request_index = 0
    return run
