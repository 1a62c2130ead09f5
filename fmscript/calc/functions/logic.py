"""Logic and evaluation beyond core.py: While and SetRecursion, IsValid, GetField, GetFieldName,
GetRepetition and Self.

While is compiled by itself (mode ``compile``): its variables are Let-style names that its condition,
logic and result read, so they must be known while those are compiled.
"""
from __future__ import annotations

from .. import ast as A
from ..compile import assign, binding_names, restoring_let, rep_number, var_key
from ..values import ONE, ZERO, to_bool, to_int, to_text
from ...errors import E_CALC_SYNTAX, E_FIELD_MISSING, E_RECORD_MISSING, DataError
from ...limits import DEFAULT_ITERATION_LIMIT  # FileMaker's limit for While and recursive custom functions
from . import LIMIT_ERRORS, CalcError, function

_LIMIT_KEY = "calc.iteration_limit"
_MISSING = object()


def iteration_limit(session) -> int:
    """The While iteration limit in force (SetRecursion changes it for its expression)."""
    return session.extensions.get(_LIMIT_KEY, DEFAULT_ITERATION_LIMIT)


@function("While ( [ initialVariable ] ; condition ; [ logic ] ; result )", mode="compile", lists=True,
          args=(4, 4))
def while_(comp, n):
    """Repeats the logic while the condition is true, then returns the result.

    At most 50,000 iterations unless SetRecursion allows more; beyond that the result is ``?``."""
    init, cond, logic, result = n.args
    with comp.let_block() as scope:
        init_b = comp.bindings(init, scope, "each initial variable of While is “name = expression”")
        scope |= binding_names(logic)
        ccond = comp.compile(cond)
        logic_b = comp.bindings(logic, scope, "each logic step of While is “name = expression”")
        cresult = comp.compile(result)

    def run_while(f):
        assign(f, init_b)
        limit = iteration_limit(f.session)
        count = 0
        while to_bool(ccond(f)):
            count += 1
            if count > limit:
                raise CalcError(f"While stopped after {limit} iterations (SetRecursion sets the limit)",
                                code=E_CALC_SYNTAX)
            assign(f, logic_b)
        return cresult(f)

    return restoring_let(init_b + logic_b, run_while)


def repetition_count(data, table, name) -> int:
    """How many repetitions a field has (1 for a missing field: reading it reports that)."""
    return data.repetitions_of(table, name)


def all_repetitions(comp, node):
    """Compile an argument of an aggregate: a field named without ``[n]`` gives all its repetitions
    (a tuple) when it repeats; anything else gives its value."""
    plain = comp.compile(node)
    if isinstance(node, A.Field) and node.rep is None:
        table, name = node.table, node.name
    elif isinstance(node, A.Name) and not any(node.name.casefold() in s for s in comp.let_scope) \
            and not (comp.function(node.name) and comp.function(node.name).bare):
        table, name = None, node.name
    else:
        return plain

    def read(f):
        data = f.session.data
        if table:  # a related field: its values in every related record (FileMaker's Sum ( Rel::Field ))
            related = data.related_values(f, table, name)
            if related is not None:
                return related
        n = repetition_count(data, table, name)
        if n <= 1:
            return plain(f)
        return tuple(data.read_field(f, table, name, r) for r in range(1, n + 1))
    return read


def aggregate(signature: str, sql: str | None = None):
    """Register a function whose field arguments stand for all their repetitions (Sum, List, Last…).

    The decorated function takes the values as usual; a repeating field arrives as a tuple, a related field
    as the tuple of its values in the related records.  ``sql`` ("sum", "count"): one related field alone
    may be computed by the data layer's query instead, where that gives the same answer."""

    def deco(fn):
        def compile_aggregate(comp, n):
            closures = [all_repetitions(comp, a) for a in n.args]
            if sql and len(n.args) == 1 and isinstance(n.args[0], A.Field) and n.args[0].table \
                    and n.args[0].rep is None:
                table, name, c0 = n.args[0].table, n.args[0].name, closures[0]

                def run_related(f):
                    v = f.session.data.related_aggregate(f, table, name, sql)
                    return fn(c0(f)) if v is None else v
                return run_related
            if len(closures) == 1:
                c0 = closures[0]
                return lambda f: fn(c0(f))
            if len(closures) == 2:
                c0, c1 = closures
                return lambda f: fn(c0(f), c1(f))
            return lambda f: fn(*[c(f) for c in closures])

        compile_aggregate.__doc__ = fn.__doc__
        compile_aggregate.__module__ = fn.__module__
        compile_aggregate.__name__ = fn.__name__
        function(signature, mode="compile")(compile_aggregate)
        return fn

    return deco


@aggregate("Last ( field )")
def last(v):
    """The last non-empty repetition of a repeating field (or the value itself)."""
    items = v if isinstance(v, tuple) else (v,)
    for x in reversed(items):
        if x != "" and x is not None:
            return x
    return ""


@function("SetRecursion ( expression ; maxIterations )", mode="lazy")
def set_recursion(f, expr, max_iterations):
    """Evaluates the expression with a different iteration limit for While and recursion.

    The result is ``?`` when the expression goes past the limit."""
    limit = max(to_int(max_iterations(f)), 0)
    ext = f.session.extensions
    saved = ext.get(_LIMIT_KEY, _MISSING)
    ext[_LIMIT_KEY] = limit
    try:
        return expr(f)
    finally:
        if saved is _MISSING:
            ext.pop(_LIMIT_KEY, None)
        else:
            ext[_LIMIT_KEY] = saved


def _split_field_name(name: str):
    name = name.strip()
    rep = 1
    if name.endswith("]") and "[" in name:
        name, _, r = name[:-1].rpartition("[")
        try:
            rep = max(int(r.strip()), 1)
        except ValueError:
            rep = 1
    table, sep, fname = name.partition("::")
    if not sep:
        return None, name.strip(), rep
    return table.strip(), fname.strip(), rep


@function("GetField ( fieldName )", mode="context")
def get_field(f, name):
    """The contents of the field whose name (``Table::Field`` or ``Field``) is the text given."""
    text = to_text(name)
    if not text.strip():
        raise CalcError("GetField needs a field name", code=E_FIELD_MISSING)
    table, fname, rep = _split_field_name(text)
    try:
        return f.session.data.read_field(f, table, fname, rep)
    except DataError as e:  # a name made at run time: ? with error 102, as Evaluate's text
        raise CalcError(e.message, code=e.code) from None


@function("GetFieldName ( field )", mode="compile", args=(1, 1))
def get_field_name(comp, n):
    """The name of a field as ``Table::Field`` (the field itself, not its contents)."""
    arg = n.args[0]
    if isinstance(arg, A.Field):
        text = f"{arg.table}::{arg.name}" if arg.table else arg.name
        return lambda f: text
    if isinstance(arg, A.Name):
        text = arg.name
        return lambda f: text
    inner = comp.compile(arg)  # e.g. GetFieldName ( Evaluate ( "Table::Field" ) ): the text names the field
    return lambda f: to_text(inner(f))


@function("GetRepetition ( repeatingField ; number )", mode="compile", args=(2, 2))
def get_repetition(comp, n):
    """The contents of one repetition of a repeating field or variable."""
    arg, num = n.args
    cnum = comp.compile(num)
    if isinstance(arg, (A.Field, A.Var)) and arg.rep is None:
        table = arg.table if isinstance(arg, A.Field) else None
        if isinstance(arg, A.Var):
            name, is_global = arg.name, arg.name.startswith("$$")

            def read_var(f):
                scope = f.session.globals if is_global else f.locals
                return scope.get(var_key(name, rep_number(cnum(f))), "")
            return read_var
        fname = arg.name
        return lambda f: f.session.data.read_field(f, table, fname, rep_number(cnum(f)))
    if isinstance(arg, A.Name) and not any(arg.name.casefold() in s for s in comp.let_scope):
        fname = arg.name
        return lambda f: f.session.data.read_field(f, None, fname, rep_number(cnum(f)))
    inner = comp.compile(arg)
    return lambda f: inner(f) if rep_number(cnum(f)) == 1 else ""


@function("IsValid ( expression )", mode="lazy")
def is_valid(f, expr):
    """0 when the field is missing or holds data of the wrong type (or the expression fails), else 1."""
    try:
        expr(f)
    except (CalcError, DataError, *LIMIT_ERRORS):  # DataError 102: the field is missing
        return ZERO
    return ONE


@function("IsValidExpression ( expression )", mode="context")
def is_valid_expression(f, text):
    """1 when the text is a calculation that compiles (its syntax and names are valid), else 0."""
    from ...errors import FMScriptError
    from ..compile import compile_calc

    try:
        compile_calc(to_text(text), let_names=frozenset(f.let), functions=f.session.functions)
    except FMScriptError:
        return ZERO
    return ONE


@function("Self", mode="context", bare=True, args=(0, 0))
def self_(f):
    """The value of the field or layout object the calculation belongs to.

    ``?`` where the calculation belongs to no object.  An embedder (a field's validation or auto-enter
    calculation) puts the value, or a function of the frame, in ``session.extensions["calc.self"]``."""
    getter = f.session.extensions.get("calc.self")
    if getter is None:
        raise CalcError("Self is only meaningful in a calculation that belongs to a field or layout object",
                        code=E_CALC_SYNTAX)
    return getter(f) if callable(getter) else getter


@function("GetLayoutObjectAttribute ( objectName ; attributeName {; repetitionNumber ; portalRowNumber} )",
          mode="context")
def get_layout_object_attribute(f, name, attr, *_rest):
    """An attribute of a named layout object; fmscript has no layouts, so the result is empty."""
    return ""


@function("GetNthRecord ( fieldName ; recordNumber )", mode="compile", args=(2, 2))
def get_nth_record(comp, n):
    """The field's contents in the nth record of the found set (of the related records for a related field).

    ``?`` when there is no such record."""
    arg, num = n.args
    cnum = comp.compile(num)
    table = arg.table if isinstance(arg, A.Field) else None
    fname = arg.name if isinstance(arg, (A.Field, A.Name)) else None
    if fname is None:
        raise comp.error("GetNthRecord needs a field", arg)

    def read(f):
        data = f.session.data
        n = rep_number(cnum(f))
        related = data.related_values(f, table, fname) if table else None
        if related is not None:  # a related field: the nth related record
            if not 1 <= n <= len(related):
                raise CalcError(f"there is no related record {n} in “{table}”", code=E_RECORD_MISSING)
            return related[n - 1]
        ctx = data.context(table) if table else data.context()
        found = ctx.found or []
        if not 1 <= n <= len(found):
            raise CalcError(f"the found set has no record {n}", code=E_RECORD_MISSING)
        saved = ctx.index
        ctx.index = n - 1
        try:
            return data.read_field(f, table, fname, 1)
        finally:
            ctx.index = saved
    return read
