"""``fmscript check FILE -f DB``: the layout and field names a script file uses, checked against a database.

The walk follows the layout each script is on as far as it can without running it (``Go to Layout`` with a
literal name); the database side, and the wording shared with ``fmscript run``, is :mod:`fmscript.data.check`.
"""
from __future__ import annotations

from ..calc import ast as C
from ..errors import E_FIELD_MISSING, E_LAYOUT_MISSING, CheckWarning, FMScriptError
from . import ast as S


def calc_fields(node):
    """Every ``C.Field`` node in a calculation tree."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, C.Field):
            yield n
        if isinstance(n, C.Node):
            for name in n._fields:
                v = getattr(n, name)
                if isinstance(v, C.Node):
                    stack.append(v)
                elif isinstance(v, tuple):
                    stack.extend(x for x in v if isinstance(x, C.Node))


def solution_script_names(script_path: str, db_path) -> list[str]:
    """The scripts of the imported solution (``fmscript import-xml``) that the file at ``script_path`` belongs
    to, found as a run finds them (:mod:`fmscript.script.solution`): what its Perform Script steps may name."""
    from pathlib import Path

    from ..data.check import open_read_only
    from .solution import Solution

    if script_path.startswith("<") or not Path(script_path).is_file():
        return []
    db = open_read_only(db_path)
    try:
        solution = Solution.find(script_path, db.solution_script_paths())
    finally:
        db.close()
    return solution.names() if solution is not None else []


def _placeholder(name: str) -> bool:
    """``<unknown>``, ``<Layout Missing>``, or nothing (a calculation FileMaker commented out): what FileMaker prints
    for a layout reference it cannot resolve any more."""
    t = name.strip()
    return not t or (t.startswith("<") and t.endswith(">"))


def check_names(script_file: S.ScriptFile, db_path) -> list[FMScriptError]:
    """Problems with the names a script file uses, checked against the database at ``db_path``."""
    from ..data.check import field_problem, layout_problem, open_read_only

    db = open_read_only(db_path)
    src = script_file.source
    errors: list[FMScriptError] = []
    try:
        layouts = db.layouts()
        first = next(iter(layouts.values()), None)
        for script in script_file.scripts:
            occ = first[1] if first else None
            for st in script.steps:
                if st.disabled:
                    continue
                for opt in st.options:
                    v = opt.value
                    name = v.name if isinstance(v, S.LayoutRef) else \
                        v.node.value if isinstance(v, S.Calc) and isinstance(v.node, C.Str) else None
                    if name is not None and st.name == "Go to Layout" and opt.label is None:
                        problem = layout_problem(db, name)
                        if problem and _placeholder(name):
                            # FileMaker printed the layout so because it is gone: it keeps the step, which fails
                            # with 105 when it runs
                            errors.append(CheckWarning(f"{problem}; FileMaker printed the layout as “{name}” because "
                                                       "it is gone, and running the step fails",
                                                       code=E_LAYOUT_MISSING, span=src.span(opt.pos), step=st.name))
                        elif problem:
                            errors.append(FMScriptError(problem, code=E_LAYOUT_MISSING, span=src.span(opt.pos),
                                                        step=st.name))
                        else:
                            occ = layouts[name.casefold()][1]
                    if isinstance(v, S.Calc) and not (st.name == "Go to Layout" and name is not None):
                        for fnode in calc_fields(v.node):
                            problem = field_problem(db, fnode.table, fnode.name, occ)
                            if problem:
                                errors.append(FMScriptError(problem, code=E_FIELD_MISSING,
                                                            span=src.span(fnode.pos), step=st.name))
    finally:
        db.close()
    errors.sort(key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
    return errors
