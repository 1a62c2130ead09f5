"""FileMaker's value model and coercion rules.

Values are plain Python objects so that calculations stay fast:
text ``str``; number ``Decimal`` (decimal arithmetic, so ``0.1 + 0.2 = 0.3``); date ``datetime.date``
(FileMaker's day number is exactly Python's ordinal: 1/1/0001 is day 1); time :class:`Time` and timestamp
:class:`Timestamp`, both counting seconds as ``Decimal``.  Booleans are the numbers 1 and 0.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation, Overflow, localcontext, Context, ROUND_HALF_EVEN

from ..errors import E_CALC_SYNTAX, CalcError

# FileMaker computes with up to 400 significant digits and shows results rounded to 16 decimal places
# for inexact operations (SetPrecision widens that).  The context below is used for every operation.
# Its exponents stop at 10^±999 (FileMaker documents 10^±400; a little room keeps 400-digit results exact):
# a number past that is out of range, so no number's text or integer value is ever more than 1,000 digits
# (a million-digit number took minutes to turn into an int, docs/limits.md).
CONTEXT = Context(prec=400, rounding=ROUND_HALF_EVEN, Emax=999, Emin=-999)
DEFAULT_PRECISION = 16

# Seconds a Time may count (as many as a number may: 10^400), and the end of the last day a Timestamp may
# fall on (12/31/9999, Python's last date; FileMaker's own calendar ends on 12/31/4000).
TIME_RANGE = Decimal("1e400")
TIMESTAMP_END = Decimal(_dt.date.max.toordinal()) * 86400

ZERO = Decimal(0)
ONE = Decimal(1)
TRUE = ONE
FALSE = ZERO
EMPTY = ""


class Container:
    """Container data: bytes and a file name (``GetAsText`` of a container is its file name). It lives with the
    value rules so that the data layer can store it in container fields."""

    __slots__ = ("data", "name")

    def __init__(self, data: bytes, name: str = "Untitled.dat"):
        self.data = data
        self.name = name

    def __str__(self):
        return self.name

    def __eq__(self, other):
        return isinstance(other, Container) and other.data == self.data and other.name == self.name

    def __hash__(self):
        return hash(self.data)

    def __repr__(self):
        return f"Container({self.name!r}, {len(self.data)} bytes)"


class Time:
    """A time of day or a duration, in seconds (may exceed 24 hours or be negative, as in FileMaker)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: Decimal):
        if not -TIME_RANGE < seconds < TIME_RANGE:
            raise CalcError("the time is out of range", code=E_CALC_SYNTAX)
        self.seconds = seconds

    def __eq__(self, other):
        return isinstance(other, Time) and other.seconds == self.seconds

    def __hash__(self):
        return hash(("t", self.seconds))

    def __repr__(self):
        return f"Time({format_time(self)})"


class Timestamp:
    """A moment: seconds since 1/1/0001 00:00:00 (FileMaker's timestamp number)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: Decimal):
        if not 0 <= seconds < TIMESTAMP_END:
            raise CalcError("the timestamp is out of range (1/1/0001 to 12/31/9999)", code=E_CALC_SYNTAX)
        self.seconds = seconds

    def __eq__(self, other):
        return isinstance(other, Timestamp) and other.seconds == self.seconds

    def __hash__(self):
        return hash(("ts", self.seconds))

    def __repr__(self):
        return f"Timestamp({format_timestamp(self)})"

    @property
    def date(self) -> _dt.date:
        return _dt.date.fromordinal(int(self.seconds // 86400) + 1)

    @property
    def time(self) -> Time:
        return Time(self.seconds % 86400)


class Double(Decimal):
    """A number computed in IEEE double (the trigonometric functions, which FileMaker computes in binary
    floating point).  Its value is the 15 significant digits a double holds faithfully (DBL_DIG), so the
    binary noise after them never shows; ``exact`` keeps the double itself, so that a trigonometric
    function given this result (``Cos ( Radians ( 60 ) )``) computes from the same double."""

    __slots__ = ("exact",)
    DIGITS = 15

    def __new__(cls, v):
        v = float(v) or 0.0  # -0.0 → 0.0
        self = super().__new__(cls, format(v, f".{cls.DIGITS}g"))
        self.exact = v
        return self

    def __reduce__(self):
        return (Double, (self.exact,))


Date = _dt.date
Value = str | Decimal | _dt.date | Time | Timestamp


def num(x) -> Decimal:
    """A Python int/float/str literal as a FileMaker number."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(x)


# ---------------------------------------------------------------------------------------------- to number

_NUM_CHARS = re.compile(r"[0-9.]")


def text_to_number(s: str) -> Decimal | None:
    """GetAsNumber on text: FileMaker keeps the digits, the first decimal point and a leading sign,
    and ignores everything else (``"FY2024"`` → 2024, ``"(42)"`` → -42, ``".(22)"`` → .22).
    No digits → ``None`` (empty).  https://help.claris.com/en/pro-help/content/getasnumber.html"""
    if not s:
        return None
    # Fast path: plain numbers.
    try:
        if s[0] in "0123456789.-+" and s.strip() == s and "_" not in s:
            d = Decimal(s)
            if d.is_finite():
                return CONTEXT.add(d, ZERO)  # -0 → 0; the 400-digit context keeps every digit
    except InvalidOperation:
        pass
    except Overflow:  # "1e5000", or 50,000 digits: past the context's exponents
        raise CalcError("the number is out of range", code=E_CALC_SYNTAX) from None
    digits = []
    seen_point = False
    negative = False
    seen_digit = False
    exp_part = ""
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch.isdigit() and ch.isascii():
            digits.append(ch)
            seen_digit = True
        elif ch == "." and not seen_point:
            digits.append(".")
            seen_point = True
        elif ch in "-(" and not seen_digit and not seen_point:
            # Claris's GetAsNumber page: negative when the first numbers follow "-" or sit inside "( )",
            # "unless a period or a number precedes the minus sign or left parenthesis" (".(22)" is .22).
            negative = True
        elif ch in "eE" and seen_digit and i + 1 < n and (s[i + 1].isdigit() or
                                                          (s[i + 1] in "+-" and i + 2 < n and s[i + 2].isdigit())):
            j = i + 1
            if s[j] in "+-":
                j += 1
            while j < n and s[j].isdigit():
                j += 1
            exp_part = s[i:j]
            i = j
            continue
        i += 1
    if not seen_digit:
        return None
    text = "".join(digits)
    if text.endswith("."):
        text = text[:-1]
    if text.startswith("."):
        text = "0" + text
    try:
        d = Decimal(text + exp_part)
    except InvalidOperation:
        d = Decimal(text)
    try:
        return CONTEXT.minus(d) if negative else CONTEXT.plus(d)
    except Overflow:
        raise CalcError("the number is out of range", code=E_CALC_SYNTAX) from None


def to_number(v) -> Decimal | None:
    """The number a value stands for; ``None`` for empty (and text without digits)."""
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        return text_to_number(v)
    if isinstance(v, _dt.date):
        return Decimal(v.toordinal())
    if isinstance(v, (Time, Timestamp)):
        return v.seconds
    if isinstance(v, bool):
        return ONE if v else ZERO
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(repr(v))
    if v is None:
        return None
    return text_to_number(to_text(v))


def to_num0(v) -> Decimal:
    """Number for arithmetic: empty counts as 0, as in FileMaker's ``"" + 1``."""
    if isinstance(v, Decimal):
        return v
    n = to_number(v)
    return ZERO if n is None else n


def to_bool(v) -> bool:
    if isinstance(v, Decimal):
        return v != 0
    n = to_number(v)
    return n is not None and n != 0


def to_int(v) -> int:
    n = to_num0(v)
    try:
        return int(n)
    except (ValueError, OverflowError):
        return 0


def from_bool(b: bool) -> Decimal:
    return ONE if b else ZERO


# ---------------------------------------------------------------------------------------------- to text


def format_number(d: Decimal) -> str:
    """FileMaker's display of a number: no exponent, no trailing zeros, no leading zero before the point."""
    if not d.is_finite():
        return "?"
    if d == d.to_integral_value():
        s = format(d.to_integral_value(), "f")  # quantize would need more than the context's 400 digits
        if s == "-0":
            s = "0"
        return s
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s.startswith("0."):
        s = s[1:]
    elif s.startswith("-0."):
        s = "-" + s[2:]
    return s


def format_date(d: _dt.date) -> str:
    return f"{d.month}/{d.day}/{d.year:04d}"


def format_time(t: Time) -> str:
    """A time in the default en-US display: a time of day as ``h:mm:ss AM/PM``; a duration (negative, or
    24 hours and more) as ``h:mm:ss`` with the hours counted on."""
    if 0 <= t.seconds < 86400:
        return format_time_of_day(t)
    neg, h, m, s, frac = clock_parts(t.seconds)
    text = f"{h}:{m:02d}:{s:02d}"
    if frac:
        text += format_number(frac)
    return ("-" if neg else "") + text


def clock_parts(seconds: Decimal) -> tuple[bool, int, int, int, Decimal]:
    """A time's seconds as ``(negative, hours, minutes, seconds, fraction)``, the hours counted on past 24:
    what the display and the storage text of a time are written from."""
    neg = seconds < 0
    seconds = -seconds if neg else seconds
    whole = int(seconds)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return neg, h, m, s, seconds - whole


def format_timestamp(ts: Timestamp) -> str:
    t = ts.time
    return f"{format_date(ts.date)} {format_time_of_day(t)}"


def format_time_of_day(t: Time) -> str:
    """Time of day in the default en-US display, ``h:mm:ss AM/PM``."""
    _, h, m, s, frac = clock_parts(t.seconds % 86400)
    suffix = "AM" if h < 12 else "PM"
    h12 = h % 12 or 12
    text = f"{h12}:{m:02d}:{s:02d}"
    if frac:
        text += format_number(frac)
    return f"{text} {suffix}"


def to_text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, Decimal):
        return format_number(v)
    if isinstance(v, _dt.date):
        return format_date(v)
    if isinstance(v, Time):
        return format_time(v)
    if isinstance(v, Timestamp):
        return format_timestamp(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return format_number(num(v))
    return str(v)


def is_empty(v) -> bool:
    return v is None or v == ""


# ---------------------------------------------------------------------------------------------- compare


def _is_numeric_kind(v) -> bool:
    return isinstance(v, (Decimal, _dt.date, Time, Timestamp))


def compare(a, b) -> int:
    """-1/0/1 with FileMaker's rules: numbers (and dates, times) by value; text case-insensitively;
    a number against text compares as numbers when the text holds a number, else as text."""
    if _is_numeric_kind(a) and _is_numeric_kind(b):
        x, y = to_num0(a), to_num0(b)
        return (x > y) - (x < y)
    if _is_numeric_kind(a) or _is_numeric_kind(b):
        other = b if _is_numeric_kind(a) else a
        if isinstance(other, str) and other != "":
            n = text_to_number(other)
            if n is not None and _looks_numeric(other):
                x = to_num0(a) if _is_numeric_kind(a) else n
                y = to_num0(b) if _is_numeric_kind(b) else n
                return (x > y) - (x < y)
        elif other == "":
            x = to_number(a) if a != "" else None
            y = to_number(b) if b != "" else None
            if x is None and y is None:
                return 0
            if x is None:
                return -1
            if y is None:
                return 1
    sa, sb = to_text(a).casefold(), to_text(b).casefold()
    return (sa > sb) - (sa < sb)


_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _looks_numeric(s: str) -> bool:
    return bool(_NUMERIC_TEXT.match(s))


def equals(a, b) -> bool:
    if type(a) is str and type(b) is str:
        return a.casefold() == b.casefold()
    if type(a) is Decimal and type(b) is Decimal:
        return a == b
    return compare(a, b) == 0
