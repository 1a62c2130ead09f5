"""What the steps on the data layer share: the session's database, options that name a table or field,
stored finds and sort orders, and the guard that turns SQLite failures into FileMaker errors.

The window context (layout, mode, found sets, current records, sort orders) lives in the session's
database (:mod:`fmscript.data`), so Perform Script keeps it unless a script changes it.  Stored find
requests and sort orders (``Perform Find [ Restore ]``, ``Sort Records [ Restore ]``) come from the step's own
text option, else from ``fmscript_finds``/``fmscript_sorts`` for the layout (and script): see ``docs/data.md``.
This module registers no step.
"""
from __future__ import annotations

from ...calc import ast as C
from ...errors import E_FIELD_MISSING, E_FIND_CRITERIA_EMPTY, FMScriptError, StepError
from .. import ast as S
from ..run import KEEP_ERROR

DIALOG = ("With dialog",)


def data_errors(run):
    """A step's guard: SQLite failures become FileMaker errors, never a traceback."""
    def guarded(f):
        try:
            return run(f)
        except FMScriptError:
            raise
        except Exception as e:
            if type(e).__module__ != "sqlite3":
                raise
            from ...data.database import sqlite_error
            raise sqlite_error(e) from None
    return guarded


def database(f):
    """The session's database, attached to the session (so a record left open is committed at exit)."""
    db = f.session.data
    db.attach(f.session)
    return db


def committed(f):
    """The session's database and the current layout's context, after committing the open record: FileMaker
    commits before it finds, sorts, omits, or moves to another record or layout."""
    db = database(f)
    ctx = db.context()
    db.commit()
    return db, ctx


def silent_error(f, code: int, detail: str):
    """FileMaker sets an error without stopping the script (e.g. Go to Record past the last record)."""
    f.session.last_error = code
    f.session.last_error_detail = detail
    return KEEP_ERROR


def name_of(c, opt):
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


def calc_options(st: S.Step) -> list[S.Option]:
    return [o for o in st.unlabelled() if isinstance(o.value, (S.Calc, S.Raw))]


def stored_text(st: S.Step, c, labels: tuple[str, ...]):
    """Requests or sort order written in the step: a labelled option or the first unlabelled text."""
    for lab in labels:
        opt = st.get(lab)
        if opt is not None and opt.value is not None:
            if isinstance(opt.value, S.Raw):
                t = opt.value.text
                return lambda f: t
            return c.text(opt)
    opts = calc_options(st)
    if opts:
        o = opts[0]
        if isinstance(o.value, S.Raw):
            t = o.value.text
            return lambda f: t
        return c.text(o)
    return None


FIND_REQUESTS = ("Find Requests", "Specified Find Requests")


def restore_option(st: S.Step, c, labels: tuple[str, ...] = FIND_REQUESTS):
    """What a step that may restore stored find requests (or a sort order) was given: ``(restore, inline,
    line)``, the Restore word, the text written in the step (``None``: none) and the step's script line."""
    return "Restore" in st.words(), stored_text(st, c, labels), step_line(c)


def field_option(st: S.Step, c, usage: str):
    """The closure naming the step's field (``T::F`` as written); a step saved without it (FileMaker then uses
    the active field, which a headless run has not) fails with error 102 when it runs."""
    opts = calc_options(st)
    if not opts:
        raise c.incomplete(usage, E_FIELD_MISSING)
    return name_of(c, opts[0])


def step_line(c) -> int:
    """The script line of the step being compiled (stored finds and sorts may be kept per step)."""
    return c.source.line_col(c.step.pos)[0] if c.step is not None else 0


def stored_requests(f, ctx, inline, restore: bool, step_name: str, line: int = 0):
    db = database(f)
    if inline is not None:
        return db.requests_from_text(ctx, inline(f))
    if restore:
        text = db.stored("finds", db.window.layout or ctx.occurrence, f.script_name, line)
        if text is None:
            raise StepError(f"{step_name} [ Restore ] has no stored find requests for the layout "
                            f"“{db.window.layout}”: write them in the step (Perform Find [ Restore ; "
                            f"\"{ctx.occurrence}::Field: criterion\" ]) or store them with "
                            f"“fmscript db find {db.window.layout} …”", code=E_FIND_CRITERIA_EMPTY)
        return db.requests_from_text(ctx, text)
    return None
