"""Calculation AST → Python closures, resolved once.

Each node becomes a function of the running frame ``f``.  Names are resolved here, not at run time: a
Let-bound name reads the frame's Let bindings, ``True``/``Pi``/``JSONString`` call their functions,
anything else reads a field of the current layout's table.  Script text never becomes Python source,
so a calculation cannot run Python.
"""
from __future__ import annotations

import contextlib
import difflib
from decimal import Decimal, DivisionByZero, InvalidOperation, Overflow
from collections.abc import Callable

from ..errors import (E_CALC_FIELD_MISSING, E_CALC_NAME_MISSING, E_CALC_SYNTAX, E_DIVIDE_BY_ZERO,
                      E_NOT_ENOUGH_MEMORY, DataError, ParseError)
from ..limits import MAX_TEXT_LENGTH
from ..source import Source
from . import ast as A
from .functions import LIMIT_ERRORS, CalcError, FunctionDef, as_calc_error, lookup, registry
from .values import (CONTEXT, ONE, ZERO, Time, Timestamp, compare, equals, to_bool, to_num0, to_text)
import datetime as _dt

Closure = Callable[[object], object]
_MISSING = object()


def var_key(name: str, rep: int = 1) -> str:
    """Dictionary key of a variable repetition; names are case-insensitive as in FileMaker."""
    key = name.casefold()
    return key if rep == 1 else f"{key}[{rep}]"


class CalcCompiler:
    def __init__(self, source: Source | None = None, let_names: frozenset[str] = frozenset(),
                 functions: dict[str, FunctionDef] | None = None):
        self.source = source
        self.let_scope: list[set[str]] = [set(let_names)] if let_names else []
        # The function table handed in (an interpreter's copy), else the built-ins.
        self.functions = functions if functions is not None else registry()

    def function(self, name: str) -> FunctionDef | None:
        """The function a calculation names, from this compiler's table."""
        return self.functions.get(name.casefold())

    # -- errors -----------------------------------------------------------------------------------------
    def error(self, msg: str, node: A.Node, code: int = E_CALC_SYNTAX) -> ParseError:
        span = self.source.span(node.pos) if self.source else None
        return ParseError(msg, code=code, span=span)

    # -- dispatch ---------------------------------------------------------------------------------------
    def compile(self, node: A.Node) -> Closure:
        meth = getattr(self, "c_" + type(node).__name__)
        return meth(node)

    def c_Num(self, n: A.Num):
        v = CONTEXT.plus(n.value)  # FileMaker's 400 digits, not Python's default 28
        return lambda f: v

    def c_Str(self, n: A.Str):
        v = n.value
        return lambda f: v

    def c_Var(self, n: A.Var):
        name = n.name
        if len(name.lstrip("$")) == 0:
            raise self.error("a variable needs a name after “$”", n)
        is_global = name.startswith("$$")
        if n.rep is None:
            key = var_key(name)
            if is_global:
                return lambda f: f.session.globals.get(key, "")
            return lambda f: f.locals.get(key, "")
        rep = self.compile(n.rep)

        def read(f):
            r = rep_number(rep(f))
            scope = f.session.globals if is_global else f.locals
            return scope.get(var_key(name, r), "")

        return read

    def c_Field(self, n: A.Field):
        table, fname = n.table, n.name
        rep = self.compile(n.rep) if n.rep is not None else None
        source, pos = self.source, n.pos

        def read(f):
            try:
                return f.session.data.read_field(f, table, fname, 1 if rep is None else rep_number(rep(f)))
            except DataError as e:  # a missing field (102) points at the reference, not only at the step
                raise e.with_span(source.span(pos) if source else None) from None
        return read

    def c_Name(self, n: A.Name):
        key = n.name.casefold()
        for scope in reversed(self.let_scope):
            if key in scope:
                def read_let(f, key=key, name=n.name):
                    v = f.let.get(key, _MISSING)
                    if v is _MISSING:
                        raise CalcError(f"“{name}” is not defined", code=E_CALC_FIELD_MISSING)
                    return v
                return read_let
        d = self.function(n.name)
        if d is not None and d.bare:
            return self._call(d, (), n)
        return self.c_Field(A.Field(None, n.name, pos=n.pos))

    def c_GetName(self, n: A.GetName):
        raise self.error("Get ( … ) names are only valid inside Get", n)

    def c_ListLit(self, n: A.ListLit):
        items = [self.compile(i) for i in n.items]
        return lambda f: tuple(c(f) for c in items)

    def c_Unary(self, n: A.Unary):
        x = self.compile(n.operand)
        if n.op == "-":
            def neg(f):
                v = x(f)
                if type(v) is Decimal:
                    return CONTEXT.minus(v)
                return _negate(v)
            return neg
        if n.op == "+":
            return lambda f: to_num0(x(f))
        return lambda f: ZERO if to_bool(x(f)) else ONE

    def c_Binary(self, n: A.Binary):
        op = n.op
        a, b = self.compile(n.left), self.compile(n.right)
        if op == "and":
            return lambda f: ONE if (to_bool(a(f)) and to_bool(b(f))) else ZERO
        if op == "or":
            return lambda f: ONE if (to_bool(a(f)) or to_bool(b(f))) else ZERO
        if op == "xor":
            return lambda f: ONE if (to_bool(a(f)) != to_bool(b(f))) else ZERO
        if op == "&":
            def cat(f):
                x, y = a(f), b(f)
                x = x if type(x) is str else to_text(x)
                y = y if type(y) is str else to_text(y)
                if len(x) + len(y) > MAX_TEXT_LENGTH:
                    raise CalcError(f"the text would be longer than {MAX_TEXT_LENGTH:,} characters",
                                    code=E_NOT_ENOUGH_MEMORY)
                return x + y
            return cat
        if op == "=":
            return lambda f: ONE if equals(a(f), b(f)) else ZERO
        if op == "≠":
            return lambda f: ZERO if equals(a(f), b(f)) else ONE
        if op in ("<", ">", "≤", "≥"):
            test = {"<": lambda c: c < 0, ">": lambda c: c > 0, "≤": lambda c: c <= 0, "≥": lambda c: c >= 0}[op]
            return lambda f: ONE if test(compare(a(f), b(f))) else ZERO
        if op == "+":
            add = CONTEXT.add

            def plus(f):
                x, y = a(f), b(f)
                if type(x) is Decimal and type(y) is Decimal:
                    return add(x, y)
                return _add(x, y)
            return plus
        if op == "-":
            sub = CONTEXT.subtract

            def minus(f):
                x, y = a(f), b(f)
                if type(x) is Decimal and type(y) is Decimal:
                    return sub(x, y)
                return _subtract(x, y)
            return minus
        if op == "*":
            mul = CONTEXT.multiply

            def times(f):
                x, y = a(f), b(f)
                if type(x) is Decimal and type(y) is Decimal:
                    return mul(x, y)
                return _scale(x, to_num0(y)) if isinstance(x, (Time,)) else mul(to_num0(x), to_num0(y))
            return times
        if op == "/":
            return lambda f: divide(to_num0(a(f)), to_num0(b(f)))
        if op == "^":
            return lambda f: power(to_num0(a(f)), to_num0(b(f)))
        raise self.error(f"unknown operator {op}", n)

    # -- calls ------------------------------------------------------------------------------------------
    def c_Call(self, n: A.Call):
        if n.name.casefold() == "let":
            return self._let(n)
        d = self.function(n.name)
        if d is None:
            known = sorted({fd.name for fd in self.functions.values()})
            close = difflib.get_close_matches(n.name, known, n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.error(f"unknown function “{n.name}”{hint}", n, code=E_CALC_NAME_MISSING)
        nargs = len(n.args)
        if nargs < d.min_args or (d.max_args is not None and nargs > d.max_args):
            want = (f"{d.min_args}" if d.max_args == d.min_args else
                    f"at least {d.min_args}" if d.max_args is None else f"{d.min_args} to {d.max_args}")
            raise self.error(f"{d.name} takes {want} argument{'s' if want != '1' else ''}, "
                             f"{nargs} given: {d.signature}", n)
        if not d.lists:
            for arg in n.args:
                if isinstance(arg, A.ListLit):
                    raise self.error(f"a “[ … ]” list is not valid here: {d.signature}", arg)
        if d.name == "Get":
            return self._get(n)
        if d.mode == "compile":  # the function compiles its own arguments (While's Let-style bindings)
            return d.impl(self, n)
        return self._call(d, n.args, n)

    def _call(self, d: FunctionDef, args, n: A.Node) -> Closure:
        impl = d.impl
        cargs = [self.compile(a) for a in args]
        if d.mode == "lazy":
            return lambda f: impl(f, *cargs)
        if d.mode == "context":
            if len(cargs) == 1:
                c0 = cargs[0]
                return lambda f: impl(f, c0(f))
            return lambda f: impl(f, *[c(f) for c in cargs])
        if len(cargs) == 0:
            return lambda f: impl()
        if len(cargs) == 1:
            c0 = cargs[0]
            return lambda f: impl(c0(f))
        if len(cargs) == 2:
            c0, c1 = cargs
            return lambda f: impl(c0(f), c1(f))
        if len(cargs) == 3:
            c0, c1, c2 = cargs
            return lambda f: impl(c0(f), c1(f), c2(f))
        return lambda f: impl(*[c(f) for c in cargs])

    def _get(self, n: A.Call) -> Closure:
        from .functions import GET_NAMES

        arg = n.args[0]
        if not isinstance(arg, A.GetName):
            raise self.error("Get needs the name of a value, e.g. Get ( CurrentDate )", n)
        impl = GET_NAMES.get(arg.name.casefold())
        if impl is None:
            close = difflib.get_close_matches(arg.name, [k for k in _get_display()], n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.error(f"unknown Get name “{arg.name}”{hint}", arg, code=E_CALC_NAME_MISSING)
        return impl

    def _let(self, n: A.Call) -> Closure:
        if len(n.args) != 2:
            raise self.error("Let takes 2 arguments: Let ( [ var1 = expression1 ; var2 = expression2 … ] ; "
                             "calculation )", n)
        first, body = n.args
        with self.let_block() as scope:
            bindings = self.bindings(first, scope, "each Let binding is “name = expression”")
            cbody = self.compile(body)

        def run_let(f):
            assign(f, bindings)
            return cbody(f)

        return restoring_let(bindings, run_let)

    # -- Let and While bindings -------------------------------------------------------------------------
    @contextlib.contextmanager
    def let_block(self):
        """The names a Let or While binds (the set it yields) are variables, not fields, inside the block."""
        scope: set[str] = set()
        self.let_scope.append(scope)
        try:
            yield scope
        finally:
            self.let_scope.pop()

    def bindings(self, node: A.Node, scope: set[str], error: str) -> list["Binding"]:
        """Compile ``[ a = 1 ; $b[2] = 2 ]`` (or one ``a = 1``): the one binder of Let and While.

        A Let-style name joins ``scope`` as it is bound, so later bindings and the body read it; a ``$``
        or ``$$`` variable may name a repetition (``$a[2] = …``), as in Set Variable."""
        out = []
        for item in (node.items if isinstance(node, A.ListLit) else (node,)):
            target, value = split_binding(item)
            if target is None:
                raise self.error(error, item)
            closure = self.compile(value)
            if isinstance(target, A.Var):
                rep = self.compile(target.rep) if target.rep is not None else None
                scope_kind = "$$" if target.name.startswith("$$") else "$"
                out.append(Binding(scope_kind, var_key(target.name), closure, rep, target.name))
            else:
                key = target.name.casefold()
                scope.add(key)
                out.append(Binding("let", key, closure, None, target.name))
        return out


class Binding:
    """One compiled binding: ``kind`` "let" (a Let-style name), "$" or "$$" (a variable, maybe with a
    repetition closure ``rep``); ``key`` is the name's key, ``value`` the closure giving its value."""

    __slots__ = ("kind", "key", "value", "rep", "name")

    def __init__(self, kind: str, key: str, value: Closure, rep: Closure | None, name: str):
        self.kind, self.key, self.value, self.rep, self.name = kind, key, value, rep, name


def assign(f, bindings: list[Binding]) -> None:
    """Evaluate the bindings in order and store each value (Let names in ``f.let``, variables in their scope)."""
    let = f.let
    for b in bindings:
        v = b.value(f)
        if b.kind == "let":
            let[b.key] = v
            continue
        scope = f.locals if b.kind == "$" else f.session.globals
        scope[b.key if b.rep is None else var_key(b.name, rep_number(b.rep(f)))] = v


def restoring_let(bindings: list[Binding], run: Closure) -> Closure:
    """``run`` with the Let names the bindings set given back their earlier values afterwards."""
    keys = sorted({b.key for b in bindings if b.kind == "let"})
    if not keys:
        return run

    def scoped(f):
        let = f.let
        saved = [(k, let.get(k, _MISSING)) for k in keys]
        try:
            return run(f)
        finally:
            for k, v in saved:
                if v is _MISSING:
                    let.pop(k, None)
                else:
                    let[k] = v

    return scoped


def binding_names(node: A.Node) -> set[str]:
    """The Let-style names a binding list defines (While's logic names, visible to its condition)."""
    names = set()
    for item in (node.items if isinstance(node, A.ListLit) else (node,)):
        target, _ = split_binding(item)
        if isinstance(target, A.Name):
            names.add(target.name.casefold())
    return names


def _get_display():
    from .functions import GET_DOCS

    return list(GET_DOCS)


def split_binding(item: A.Node):
    """``a = 1 = 1`` parses as ``(a = 1) = 1``; a Let binding means ``a = (1 = 1)``: re-associate."""
    if not (isinstance(item, A.Binary) and item.op == "="):
        return None, None
    chain = []
    node = item
    while isinstance(node, A.Binary) and node.op == "=":
        chain.append(node)
        node = node.left
    if not isinstance(node, (A.Name, A.Var, A.Field)) or (isinstance(node, A.Field) and node.table):
        return None, None
    target = node if not isinstance(node, A.Field) else A.Name(node.name, pos=node.pos)
    # Rebuild the value: innermost right side first.
    chain.reverse()
    value = chain[0].right
    for link in chain[1:]:
        value = A.Binary("=", value, link.right, pos=link.pos)
    return target, value


def rep_number(v) -> int:
    """A repetition number: the value as a whole number, at least 1."""
    n = to_num0(v)
    try:
        return max(int(n), 1)
    except (ValueError, OverflowError):
        return 1


# -- arithmetic helpers with FileMaker's date/time rules ------------------------------------------------

def divide(x: Decimal, y: Decimal) -> Decimal:
    if y == 0:
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    try:
        q = CONTEXT.divide(x, y)
    except (DivisionByZero, InvalidOperation):
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO) from None
    return round_inexact(q)


# SetPrecision's current number of decimal places and the matching quantum (one process-wide setting:
# SetPrecision restores it when its expression is done).
_PRECISION = [16, Decimal(1).scaleb(-16)]


def precision() -> int:
    """The decimal places inexact results are rounded to (16 unless SetPrecision asks for more)."""
    return _PRECISION[0]


def set_precision(p: int) -> None:
    _PRECISION[0] = p
    _PRECISION[1] = Decimal(1).scaleb(-p)


def round_inexact(q: Decimal) -> Decimal:
    """FileMaker shows inexact results to 16 decimal places unless SetPrecision asks for more."""
    if not q.is_finite():
        return q
    t = q.as_tuple()
    p, quant = _PRECISION
    if t.exponent < -p and len(t.digits) > 20:
        if abs(q) < Decimal("1e380"):
            return q.quantize(quant, context=CONTEXT).normalize(CONTEXT)
    return q


def power(x: Decimal, y: Decimal) -> Decimal:
    if x == 0 and y < 0:
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    try:
        if y == y.to_integral_value() and abs(y) <= 10000:
            r = CONTEXT.power(x, int(y))
            return round_inexact(r)
        if x < 0:
            raise CalcError("a negative number has no real root", code=E_CALC_SYNTAX)
        r = CONTEXT.power(x, y)
        return round_inexact(r)
    except (InvalidOperation, Overflow, OverflowError):
        raise CalcError("the power is out of range") from None


def _negate(v):
    if isinstance(v, Time):
        return Time(-v.seconds)
    return -to_num0(v)


def _scale(t: Time, k: Decimal) -> Time:
    return Time(CONTEXT.multiply(t.seconds, k))


def _add(x, y):
    if isinstance(y, (_dt.date, Time, Timestamp)) and not isinstance(x, (_dt.date, Time, Timestamp)):
        x, y = y, x
    if isinstance(x, Timestamp):
        return Timestamp(x.seconds + (to_num0(y) if not isinstance(y, Time) else y.seconds))
    if isinstance(x, _dt.date):
        if isinstance(y, Time):
            return Timestamp(Decimal(x.toordinal() - 1) * 86400 + y.seconds)
        return _date_from_number(x.toordinal() + int(to_num0(y)))
    if isinstance(x, Time):
        return Time(x.seconds + to_num0(y))
    return CONTEXT.add(to_num0(x), to_num0(y))


def _subtract(x, y):
    if isinstance(x, _dt.date):
        if isinstance(y, _dt.date):
            return Decimal(x.toordinal() - y.toordinal())
        return _date_from_number(x.toordinal() - int(to_num0(y)))
    if isinstance(x, Timestamp):
        if isinstance(y, Timestamp):
            return Time(x.seconds - y.seconds)
        return Timestamp(x.seconds - to_num0(y))
    if isinstance(x, Time):
        return Time(x.seconds - to_num0(y))
    return CONTEXT.subtract(to_num0(x), to_num0(y))


def _date_from_number(n: int):
    if 1 <= n <= _dt.date.max.toordinal():
        return _dt.date.fromordinal(n)
    raise CalcError("the date is out of range (1/1/0001 to 12/31/4000)")


# -- public entry points --------------------------------------------------------------------------------

class Calculation:
    """A compiled calculation: call :meth:`evaluate` with a frame; errors give ``?`` as in FileMaker."""

    __slots__ = ("text", "fn", "node")

    def __init__(self, text: str, fn: Closure, node: A.Node):
        self.text, self.fn, self.node = text, fn, node

    def evaluate(self, f):
        """The result, or ``?`` for FileMaker's own calculation errors (CalcError and the limits in
        LIMIT_ERRORS).  Any other exception is a bug in fmscript and propagates: it must never read as ``?``."""
        try:
            return self.fn(f)
        except CalcError as e:
            f.session.note_calc_error(e.code, e.detail)
            return "?"
        except LIMIT_ERRORS as e:
            err = as_calc_error(e)
            f.session.note_calc_error(err.code, err.detail)
            return "?"

    def raw(self, f):
        """Evaluate and let a CalcError through (EvaluationError and error-checking steps want it)."""
        try:
            return self.fn(f)
        except LIMIT_ERRORS as e:
            raise as_calc_error(e) from None


def compile_calc(text: str, source: Source | None = None, offset: int = 0,
                 let_names: frozenset[str] = frozenset(), functions: dict | None = None) -> Calculation:
    from .parse import parse_calc

    node = parse_calc(text, source, offset)
    return compile_node(node, text, source, let_names, functions)


def compile_node(node: A.Node, text: str = "", source: Source | None = None,
                 let_names: frozenset[str] = frozenset(), functions: dict | None = None) -> Calculation:
    """Compile a calculation AST; functions are looked up in ``functions`` (default: the built-ins)."""
    fn = CalcCompiler(source, let_names, functions).compile(node)
    return Calculation(text, fn, node)
