"""Logic and evaluation: If, Case, Choose, Let (compiled specially), Evaluate, EvaluationError…"""
from __future__ import annotations

from decimal import Decimal

from ..values import ONE, ZERO, is_empty, to_bool, to_int, to_num0, to_text, text_to_number
from ...errors import DataError
from . import LIMIT_ERRORS, CalcError, as_calc_error, function


@function("If ( test ; resultOne ; resultTwo )", mode="lazy", args=(2, 3))
def if_(f, test, one, two=None):
    """``resultOne`` when the test is true, else ``resultTwo`` (empty when omitted)."""
    if to_bool(test(f)):
        return one(f)
    return two(f) if two is not None else ""


@function("Case ( test1 ; result1 {; test2 ; result2 ; ... ; defaultResult} )", mode="lazy")
def case(f, *args):
    """The result of the first true test; an odd last argument is the default."""
    n = len(args)
    for i in range(0, n - 1, 2):
        if to_bool(args[i](f)):
            return args[i + 1](f)
    if n % 2 == 1:
        return args[-1](f)
    return ""


@function("Choose ( test ; result0 {; result1 ; result2...} )", mode="lazy")
def choose(f, test, *results):
    """The result whose 0-based position is the test's integer value."""
    n = to_num0(test(f))
    i = int(n) if n >= 0 else -1
    if 0 <= i < len(results):
        return results[i](f)
    return ""


@function("IsEmpty ( field )", mode="lazy")
def is_empty_(f, field):
    """1 when the value is empty, or when the field is missing or cannot be read; else 0."""
    try:
        v = field(f)
    except (CalcError, DataError):  # DataError 102: the field is missing
        return ONE
    return ONE if is_empty(v) else ZERO


@function("True", bare=True)
def true_():
    """The Boolean value 1."""
    return ONE


@function("False", bare=True)
def false_():
    """The Boolean value 0."""
    return ZERO


@function("GetAsText ( data )")
def get_as_text(v):
    """The value as text, in the file's display format."""
    return to_text(v)


@function("GetAsNumber ( text )")
def get_as_number(v):
    """The number in a value: digits, the first decimal point and a leading sign; empty without digits."""
    if isinstance(v, Decimal):
        return v
    n = text_to_number(v) if isinstance(v, str) else to_num0(v)
    return "" if n is None else n


@function("GetAsBoolean ( data )")
def get_as_boolean(v):
    """1 for a non-zero number (text is read as a number first) or container data, else 0."""
    if to_bool(v):
        return ONE
    if not isinstance(v, (str, Decimal)):
        from .extra import Container
        if isinstance(v, Container):
            return ONE if v.data else ZERO
    return ZERO


@function("Evaluate ( expression {; [ field1 ; field2 ;...]} )", mode="lazy", lists=True)
def evaluate(f, expr, *_triggers):
    """Evaluates text as a calculation (Let names in scope stay visible)."""
    text = to_text(expr(f))
    calc = f.session.compile_runtime_calc(text, frozenset(f.let))
    try:
        return calc.raw(f)
    except DataError as e:  # a field the text names is missing: like its syntax errors, ? (EvaluationError: 102)
        raise CalcError(e.message, code=e.code) from None


@function("EvaluationError ( expression )", mode="lazy")
def evaluation_error(f, expr):
    """The error number the expression gives (0 when none), instead of its result."""
    try:
        expr(f)
    except (CalcError, DataError) as e:  # DataError: e.g. 102, a missing field
        return Decimal(e.code)
    except LIMIT_ERRORS as e:
        return Decimal(as_calc_error(e).code)
    return ZERO


def _aggregate(signature):
    from .logic import aggregate
    return aggregate(signature)


@_aggregate("List ( field {; field...} )")
def list_(*values):
    """The non-empty values, one per line."""
    out = []
    for v in values:
        if isinstance(v, tuple):
            out += [to_text(x) for x in v if not is_empty(x)]
        elif not is_empty(v):
            out.append(to_text(v))
    return "\r".join(out)


@function("Get ( name )")
def get_(_name):  # compiled specially: the argument is a name, resolved once (see CalcCompiler._get)
    """A value of the session, the script or the system, by name (English or zh-Hans)."""
    raise CalcError("Get needs a name")
