"""``fmscript check FILE -f DB``: table, field and layout names of a script file against a database.

Layouts named in ``Go to Layout [ “Name” ]`` must exist (FileMaker error 105).  ``Table::Field``
references must name an existing table occurrence and field (102); an unqualified field is checked against
the layout the script is on at that point, as far as it can be followed without running the script.
The database is opened read-only and never changed.
"""
from __future__ import annotations

from pathlib import Path

from ..calc import ast as C
from ..errors import FMScriptError, UsageError
from ..script import ast as S


def _fields(node):
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


def check_names(script_file: S.ScriptFile, db_path) -> list[FMScriptError]:
    """Problems with the names a script file uses, checked against the database at ``db_path``."""
    from .database import Database

    if not Path(db_path).is_file():
        raise UsageError(f"no such database file: {db_path}")
    db = Database(db_path, read_only=True)
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
                    pos = opt.pos
                    name = v.name if isinstance(v, S.LayoutRef) else \
                        v.node.value if isinstance(v, S.Calc) and isinstance(v.node, C.Str) else None
                    if name is not None and st.name == "Go to Layout" and opt.label is None:
                        lay = layouts.get(name.casefold())
                        if lay is None:
                            known = ", ".join(n for n, _ in layouts.values()) or "none"
                            errors.append(FMScriptError(f"there is no layout named “{name}” (layouts: {known})",
                                                        code=105, span=src.span(pos), step=st.name))
                        else:
                            occ = lay[1]
                    if isinstance(v, S.Calc) and not (st.name == "Go to Layout" and name is not None):
                        for fnode in _fields(v.node):
                            e = _check_field(db, fnode, occ)
                            if e:
                                errors.append(FMScriptError(e[1], code=e[0], span=src.span(fnode.pos),
                                                            step=st.name))
    finally:
        db.conn.close()
    errors.sort(key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
    return errors


def _check_field(db, node: C.Field, occ: str | None):
    table = node.table or occ
    label = f"{node.table}::{node.name}" if node.table else node.name
    if table is None:
        return None
    ti = db.table_of(table)
    if ti is None:
        if node.table is None:
            return None
        return 102, f"the field “{label}” is missing: there is no table occurrence “{node.table}”"
    if ti.field(node.name) is None:
        return 102, f"the field “{label}” is missing (table “{ti.name}” has no such field)"
    return None
