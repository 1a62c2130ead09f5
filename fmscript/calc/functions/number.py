"""Number functions: rounding, Mod/Div, logarithms, statistics, financial functions and trigonometry.

FileMaker's empty-value rule for these: a function whose number argument is empty returns empty
(``Abs ( "" )`` is empty, not 0).  The precise functions (Exp, Ln, Sqrt, Pi…) compute with the 400-digit
context and round their inexact results to 16 decimal places, or to the digits ``SetPrecision`` asks for.
Trigonometric functions (Degrees and Radians included) compute in binary floating point, as FileMaker
does, and keep the 15 significant digits a double holds faithfully (see :func:`from_double`).
"""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation, Overflow
from functools import wraps

from .. import values as V
from ..values import CONTEXT, ONE, ZERO, to_number
from . import CalcError, function
from ...errors import E_CALC_SYNTAX, E_DIVIDE_BY_ZERO
from .logic import aggregate


def _round_inexact(q):
    from ..compile import round_inexact
    return round_inexact(q)


def numeric(fn):
    """FileMaker's rule for a function of one number (and maybe more): empty in, empty out."""

    @wraps(fn)
    def wrapper(x, *rest):
        if type(x) is not Decimal:
            x = to_number(x)
            if x is None:
                return ""
        return fn(x, *rest)

    return wrapper


def _int_arg(v, default: int = 0) -> int:
    n = to_number(v)
    if n is None:
        return default
    try:
        return int(n)
    except (ValueError, OverflowError):
        raise CalcError("the number is out of range") from None


@function("Abs ( number )")
@numeric
def abs_(x):
    """The absolute value."""
    return CONTEXT.abs(x)


@function("Ceiling ( number )")
@numeric
def ceiling(x):
    """The smallest integer not below the number."""
    return x.to_integral_value(rounding=ROUND_CEILING)


@function("Floor ( number )")
@numeric
def floor(x):
    """The largest integer not above the number."""
    return x.to_integral_value(rounding=ROUND_FLOOR)


@function("Int ( number )")
@numeric
def int_(x):
    """The integer part (toward zero)."""
    return x.to_integral_value(rounding=ROUND_DOWN)


def _quantize(x: Decimal, places, rounding) -> Decimal:
    p = _int_arg(places)
    try:
        q = Decimal(1).scaleb(-p, context=CONTEXT)
        r = x.quantize(q, rounding=rounding, context=CONTEXT)
    except InvalidOperation:  # more places than the number has digits, or a quantum out of range
        return x
    return r


@function("Round ( number ; precision )")
@numeric
def round_(x, places):
    """Rounds to a number of decimal places (negative: to tens, hundreds…); halves away from zero."""
    return _quantize(x, places, ROUND_HALF_UP)


@function("Truncate ( number ; precision )")
@numeric
def truncate(x, places):
    """Cuts the number to a number of decimal places without rounding."""
    return _quantize(x, places, ROUND_DOWN)


@function("Mod ( number ; divisor )")
@numeric
def mod(x, d):
    """The remainder of number ÷ divisor, with the divisor's sign (``Mod ( -7 ; 3 )`` is 2)."""
    y = to_number(d)
    if y is None:
        return ""
    if y == 0:
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    return CONTEXT.subtract(x, CONTEXT.multiply(y, CONTEXT.divide(x, y).to_integral_value(rounding=ROUND_FLOOR)))


@function("Div ( number ; divisor )")
@numeric
def div(x, d):
    """The integer quotient, rounded down (``Div ( -2.5 ; 2 )`` is -2)."""
    y = to_number(d)
    if y is None:
        return ""
    if y == 0:
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    return CONTEXT.divide(x, y).to_integral_value(rounding=ROUND_FLOOR)


@function("Sign ( number )")
@numeric
def sign(x):
    """-1, 0 or 1 for a negative, zero or positive number."""
    return Decimal((x > 0) - (x < 0))


@function("Sqrt ( number )")
@numeric
def sqrt(x):
    """The square root; ``?`` for a negative number."""
    if x < 0:
        raise CalcError("the square root of a negative number", code=E_CALC_SYNTAX)
    return _round_inexact(x.sqrt(CONTEXT))


@function("Exp ( number )")
@numeric
def exp(x):
    """e raised to the power of the number."""
    try:
        return _round_inexact(x.exp(CONTEXT))
    except Overflow:
        raise CalcError("the number is out of range") from None


def _log_arg(x: Decimal) -> Decimal:
    if x <= 0:
        raise CalcError("the logarithm of a number that is not positive", code=E_CALC_SYNTAX)
    return x


@function("Ln ( number )")
@numeric
def ln(x):
    """The natural (base e) logarithm."""
    return _round_inexact(_log_arg(x).ln(CONTEXT))


@function("Log ( number )")
@numeric
def log(x):
    """The common (base 10) logarithm."""
    return _round_inexact(_log_arg(x).log10(CONTEXT))


@function("Lg ( number )")
@numeric
def lg(x):
    """The binary (base 2) logarithm."""
    r = CONTEXT.divide(_log_arg(x).ln(CONTEXT), Decimal(2).ln(CONTEXT))
    return _round_inexact(r)


_PI = Decimal(
    "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214"
    "80865132823066470938446095505822317253594081284811174502841027019385211055596446229489549303819644288109756"
    "65933446128475648233786783165271201909145648566923460348610454326648213393607260249141273724587006606315588"
    "17488152092096282925409171536436789259036001133053054882046652138414695194151160943305727036575959195309218"
    "61173819326117931051185480744623799627495673518857527248912279381830119491")


@function("Pi", bare=True)
def pi():
    """The ratio of a circle's circumference to its diameter (3.1415926535897932…)."""
    return _round_inexact(_PI)


@function("Random", bare=True, volatile=True)
def random_():
    """A pseudo-random number from 0 up to (not including) 1."""
    import random as _random

    return Decimal(repr(_random.random()))


@function("SetPrecision ( expression ; precision )", mode="lazy")
def set_precision(f, expr, precision):
    """Evaluates the expression with 16 to 400 decimal places of precision for the precise functions."""
    from .. import compile as C

    p = _int_arg(precision(f), 16)
    p = min(max(p, 16), 400)
    saved = C.precision()
    C.set_precision(p)
    try:
        result = expr(f)
    finally:
        C.set_precision(saved)
    return result


@function("Combination ( setSize ; numberOfChoices )")
@numeric
def combination(n, k):
    """The number of ways to choose numberOfChoices items from setSize items."""
    kk = to_number(k)
    if kk is None:
        return ""
    if n < 0 or kk < 0 or n != n.to_integral_value() or kk != kk.to_integral_value():
        raise CalcError("Combination needs non-negative integers")
    if kk > n:
        return ZERO
    ni, ki = int(n), int(kk)
    k = min(ki, ni - ki)
    # C(n, k) ≥ (n/k)^k: a lower bound that needs no lgamma (whose difference cancels to noise for a huge set,
    # which let Combination ( 5e49 ; 1111111111 ) try to multiply a billion factors: found by fuzzing).
    if k and k * (math.log10(ni) - math.log10(k)) > _MAX_DIGITS:  # log10 of the ints: ni / k overflows a float
        raise CalcError("the number is out of range")
    return _in_range(math.comb(ni, ki))


@function("Factorial ( number {; numberOfFactors} )")
@numeric
def factorial(n, count=None):
    """n! or, with numberOfFactors, the product of that many factors counting down from n."""
    if n < 0 or n != n.to_integral_value():
        raise CalcError("Factorial needs a non-negative integer")
    k = int(n)
    if k > 10000:
        raise CalcError("the number is out of range")
    if count is None or to_number(count) is None:
        return _in_range(math.factorial(k))
    c = max(_int_arg(count), 0)
    result = 1
    for i in range(k, max(k - c, 0), -1):
        result *= i
    return _in_range(result)


# An integer result with more digits than a number may have (CONTEXT's exponents stop at 10^999).
_MAX_DIGITS = 1000


def _in_range(i: int) -> Decimal:
    if i.bit_length() > _MAX_DIGITS * 3.33:  # log2(10) bits per digit: surely past 10^1000
        raise CalcError("the number is out of range")
    return CONTEXT.plus(Decimal(i))


# -- aggregates -------------------------------------------------------------------------------------------

def _total(nums) -> Decimal:
    """A sum in the 400-digit context (Python's sum() would round to 28 digits)."""
    total = ZERO
    for n in nums:
        total = CONTEXT.add(total, n)
    return total


def _numbers(args) -> list[Decimal]:
    """The non-empty numbers among the arguments (a list argument counts each of its values)."""
    out = []
    for a in args:
        items = a if isinstance(a, tuple) else (a,)
        for v in items:
            if type(v) is Decimal:
                out.append(v)
                continue
            n = to_number(v)
            if n is not None:
                out.append(n)
    return out


@aggregate("Sum ( field {; field...} )", sql="sum")
def sum_(*args):
    """The total of the non-empty values."""
    return _total(_numbers(args))


@aggregate("Average ( field {; field...} )")
def average(*args):
    """The mean of the non-empty values."""
    nums = _numbers(args)
    if not nums:
        return ""
    return _round_inexact(CONTEXT.divide(_total(nums), Decimal(len(nums))))


@aggregate("Count ( field {; field...} )", sql="count")
def count(*args):
    """How many of the values are not empty."""
    n = 0
    for a in args:
        items = a if isinstance(a, tuple) else (a,)
        n += sum(1 for v in items if not V.is_empty(v))
    return Decimal(n)


def _extreme(args, pick):
    best = None
    for a in args:
        items = a if isinstance(a, tuple) else (a,)
        for v in items:
            if V.is_empty(v):
                continue
            if isinstance(v, str):
                n = to_number(v)
                if n is None:
                    continue
                v = n
            if best is None or pick(V.compare(v, best)):
                best = v
    return "" if best is None else best


@aggregate("Max ( field {; field...} )")
def max_(*args):
    """The largest of the non-empty values."""
    return _extreme(args, lambda c: c > 0)


@aggregate("Min ( field {; field...} )")
def min_(*args):
    """The smallest of the non-empty values."""
    return _extreme(args, lambda c: c < 0)


def _variance(args, population: bool):
    nums = _numbers(args)
    n = len(nums)
    if n == 0:
        return None
    if n == 1 and not population:
        # Claris's StDev page: "StDev(Field4) returns an error because the standard deviation of a single
        # number is not defined" (https://help.claris.com/en/pro-help/content/stdev.html); the sample
        # variance divides by the same n - 1.  StDevP and VarianceP of one number are 0.
        raise CalcError("the sample standard deviation and variance of a single number are not defined")
    mean = CONTEXT.divide(_total(nums), Decimal(n))
    ss = _total(CONTEXT.power(CONTEXT.subtract(x, mean), 2) for x in nums)
    return CONTEXT.divide(ss, Decimal(n if population else n - 1))


@aggregate("Variance ( field {; field...} )")
def variance(*args):
    """The sample variance of the non-empty values."""
    v = _variance(args, False)
    return "" if v is None else _round_inexact(v)


@aggregate("VarianceP ( field {; field...} )")
def variance_p(*args):
    """The population variance of the non-empty values."""
    v = _variance(args, True)
    return "" if v is None else _round_inexact(v)


@aggregate("StDev ( field {; field...} )")
def stdev(*args):
    """The sample standard deviation of the non-empty values."""
    v = _variance(args, False)
    return "" if v is None else _round_inexact(v.sqrt(CONTEXT))


@aggregate("StDevP ( field {; field...} )")
def stdev_p(*args):
    """The population standard deviation of the non-empty values."""
    v = _variance(args, True)
    return "" if v is None else _round_inexact(v.sqrt(CONTEXT))


# -- financial --------------------------------------------------------------------------------------------

def _growth(rate: Decimal, periods: Decimal) -> Decimal:
    from ..compile import power
    return power(CONTEXT.add(ONE, rate), periods)


def _fin_args(*vals):
    out = []
    for v in vals:
        n = to_number(v)
        if n is None:
            return None
        out.append(n)
    return out


@function("FV ( payment ; interestRate ; periods )")
def fv(payment, rate, periods):
    """The future value of equal payments at a fixed interest rate per period."""
    a = _fin_args(payment, rate, periods)
    if a is None:
        return ""
    p, r, n = a
    if r == 0:
        return CONTEXT.multiply(p, n)
    return _round_inexact(CONTEXT.divide(CONTEXT.multiply(p, CONTEXT.subtract(_growth(r, n), ONE)), r))


@function("PV ( payment ; interestRate ; periods )")
def pv(payment, rate, periods):
    """The present value of equal payments at a fixed interest rate per period."""
    a = _fin_args(payment, rate, periods)
    if a is None:
        return ""
    p, r, n = a
    if r == 0:
        return CONTEXT.multiply(p, n)
    return _round_inexact(CONTEXT.divide(CONTEXT.multiply(p, CONTEXT.subtract(ONE, CONTEXT.divide(ONE, _growth(r, n)))), r))


@function("PMT ( principal ; interestRate ; term )")
def pmt(principal, rate, term):
    """The payment per period for a loan of principal at a fixed interest rate over term periods."""
    a = _fin_args(principal, rate, term)
    if a is None:
        return ""
    p, r, n = a
    if n == 0:
        raise CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    if r == 0:
        return _round_inexact(CONTEXT.divide(p, n))
    return _round_inexact(CONTEXT.divide(CONTEXT.multiply(p, r), CONTEXT.subtract(ONE, CONTEXT.divide(ONE, _growth(r, n)))))


@aggregate("NPV ( payment ; interestRate )")
def npv(payment, rate):
    """The net present value of unequal payments (a repeating field or a list of values) at a fixed rate."""
    r = to_number(rate)
    if r is None:
        return ""
    items = payment if isinstance(payment, tuple) else V.to_text(payment).replace("\n", "\r").split("\r")
    nums = _numbers(items)
    base = CONTEXT.add(ONE, r)
    if base == 0 and nums:  # an interest rate of -1 divides every payment by zero (0 / 0 found by fuzzing)
        raise CalcError("division by zero: NPV's interest rate is -1", code=E_DIVIDE_BY_ZERO)
    total = ZERO
    factor = ONE
    for x in nums:
        factor = CONTEXT.multiply(factor, base)
        total = CONTEXT.add(total, CONTEXT.divide(x, factor))
    return _round_inexact(total)


# -- trigonometry (binary floating point, as FileMaker) ---------------------------------------------------
# Claris's SetPrecision page: "All functions except trigonometric functions support extended precision"
# (https://help.claris.com/en/pro-help/content/setprecision.html).  The trigonometric family (Sin, Cos,
# Tan, Asin, Acos, Atan, Degrees, Radians) is computed in IEEE double, and a double carries 15 significant
# decimal digits faithfully (DBL_DIG): the digits after those are binary noise, so the result shows 15
# (and keeps the double for the next trigonometric function: see values.Double).
# That is the rule behind the help's own examples: Degrees ( Atan ( 1 ) ) returns 45
# (https://help.claris.com/en/pro-help/content/degrees.html), Cos ( Radians ( 60 ) ) returns .5
# (https://help.claris.com/en/pro-help/content/cos.html).

def from_double(v: float, name: str) -> Decimal:
    """A double result as a FileMaker number (:class:`~fmscript.calc.values.Double`)."""
    if not math.isfinite(v):
        raise CalcError(f"the result of {name} is out of range", code=E_CALC_SYNTAX)
    return V.Double(v)


def _to_double(x: Decimal, name: str) -> float:
    """The double a trigonometric function computes from: a Double's own, or the nearest one."""
    v = x.exact if type(x) is V.Double else float(x)
    if not math.isfinite(v):
        raise CalcError(f"{name} is not defined for a number this large", code=E_CALC_SYNTAX)
    return v


def _float_fn(name: str, fn, doc: str, domain=None):
    @function(f"{name} ( angleInRadians )" if name in ("Sin", "Cos", "Tan") else f"{name} ( number )")
    @numeric
    def impl(x):
        v = _to_double(x, name)
        if domain is not None and not domain(v):
            raise CalcError(f"{name} is not defined for {V.format_number(x)}", code=E_CALC_SYNTAX)
        return from_double(fn(v), name)

    impl.__doc__ = doc
    FUNCTION_IMPLS[name] = impl
    return impl


FUNCTION_IMPLS: dict[str, object] = {}


def _register_trig():
    from . import FUNCTIONS
    for name, fn, doc, dom in (
            ("Sin", math.sin, "The sine of an angle in radians.", None),
            ("Cos", math.cos, "The cosine of an angle in radians.", None),
            ("Tan", math.tan, "The tangent of an angle in radians.", None),
            ("Asin", math.asin, "The arc sine, in radians, of a number from -1 to 1.", lambda v: -1 <= v <= 1),
            ("Acos", math.acos, "The arc cosine, in radians, of a number from -1 to 1.", lambda v: -1 <= v <= 1),
            ("Atan", math.atan, "The arc tangent, in radians.", None)):
        _float_fn(name, fn, doc, dom)
        FUNCTIONS[name.casefold()].doc = doc


_register_trig()


@function("Degrees ( angleInRadians )")
@numeric
def degrees(x):
    """Radians converted to degrees."""
    return from_double(math.degrees(_to_double(x, "Degrees")), "Degrees")


@function("Radians ( angleInDegrees )")
@numeric
def radians(x):
    """Degrees converted to radians."""
    return from_double(math.radians(_to_double(x, "Radians")), "Radians")
