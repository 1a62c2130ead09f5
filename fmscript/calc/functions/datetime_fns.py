"""Date and time functions.

FileMaker's model: a date is a day number (1/1/0001 is day 1, Python's ordinal), a time is a number of
seconds (it may pass 24 hours or be negative: a duration), a timestamp is seconds since 1/1/0001 0:00.
So ``date + 1`` is the next day, ``date - date`` a number of days, ``timestamp - timestamp`` a time.

Text is read and dates are shown in the file's locale.  fmscript's files use en-US, FileMaker's default:
dates ``M/D/YYYY`` (``YYYY-MM-DD`` is also read), times ``h:mm:ss AM/PM`` (a 24-hour ``21:45`` is also read),
English day and month names.  Text is read by :mod:`fmscript.calc.datetime_text`, the reader the data
layer uses too.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation

from ..datetime_text import parse_date, parse_time, parse_timestamp
from ..values import CONTEXT, ZERO, Time, Timestamp, to_number
from . import CalcError, function
from ...errors import E_CALC_SYNTAX, E_INVALID_DATE, E_INVALID_NUMBER, E_INVALID_TIME

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")

_MAX_ORDINAL = _dt.date(4000, 12, 31).toordinal()


def date_from_number(n: int) -> _dt.date:
    if 1 <= n <= _MAX_ORDINAL:
        return _dt.date.fromordinal(n)
    raise CalcError("the date is out of range (1/1/0001 to 12/31/4000)", code=E_CALC_SYNTAX)


def to_date(v) -> _dt.date | None:
    """The date a value stands for; None for empty.  Numbers are day numbers."""
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, Timestamp):
        return v.date
    if isinstance(v, str):
        if v == "":
            return None
        d = parse_date(v)
        if d is not None:
            return d
        ts = parse_timestamp(v)
        if ts is not None:
            return ts.date
        raise CalcError(f"“{v}” is not a date (dates are written M/D/YYYY)", code=E_INVALID_DATE)
    if isinstance(v, Time):
        return None
    n = to_number(v)
    return None if n is None else date_from_number(int(n))


def to_time(v) -> Time | None:
    """The time a value stands for; None for empty.  Numbers are seconds."""
    if isinstance(v, Time):
        return v
    if isinstance(v, Timestamp):
        return v.time
    if isinstance(v, str):
        if v == "":
            return None
        t = parse_time(v)
        if t is not None:
            return t
        ts = parse_timestamp(v)
        if ts is not None:
            return ts.time
        n = to_number(v)
        if n is not None and re.fullmatch(r"\s*-?[\d.]+\s*", v):
            return Time(n)
        raise CalcError(f"“{v}” is not a time (times are written h:mm:ss)", code=E_INVALID_TIME)
    if isinstance(v, _dt.date):
        return Time(ZERO)
    n = to_number(v)
    return None if n is None else Time(n)


def to_timestamp(v) -> Timestamp | None:
    """The timestamp a value stands for; None for empty.  Numbers are seconds since 1/1/0001."""
    if isinstance(v, Timestamp):
        return v
    if isinstance(v, _dt.date):
        return Timestamp(Decimal(v.toordinal() - 1) * 86400)
    if isinstance(v, Time):
        return Timestamp(v.seconds)
    if isinstance(v, str):
        if v == "":
            return None
        ts = parse_timestamp(v)
        if ts is not None:
            return ts
        n = to_number(v)
        if n is not None and re.fullmatch(r"\s*-?[\d.]+\s*", v):
            return Timestamp(n)
        raise CalcError(f"“{v}” is not a timestamp", code=E_INVALID_NUMBER)
    n = to_number(v)
    return None if n is None else Timestamp(n)


def _int(v) -> int:
    n = to_number(v)
    if n is None:
        return 0
    try:
        return int(n)
    except (ValueError, OverflowError, InvalidOperation):
        raise CalcError("the number is out of range") from None


# -- construction ----------------------------------------------------------------------------------------

@function("Date ( month ; day ; year )")
def date_(month, day, year):
    """The date for a month, day and year; months and days out of range roll over (month 13 is next January)."""
    if to_number(month) is None and to_number(day) is None and to_number(year) is None:
        return ""
    m, d, y = _int(month), _int(day), _int(year)
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    if not 1 <= y <= 4000:
        raise CalcError("the date is out of range (1/1/0001 to 12/31/4000)", code=E_CALC_SYNTAX)
    return date_from_number(_dt.date(y, m, 1).toordinal() + d - 1)


@function("Time ( hours ; minutes ; seconds )")
def time_(hours, minutes, seconds):
    """The time for hours, minutes and seconds (each may be fractional or out of range: they add up)."""
    h, m, s = to_number(hours), to_number(minutes), to_number(seconds)
    if h is None and m is None and s is None:
        return ""
    total = CONTEXT.add(CONTEXT.add(CONTEXT.multiply(h or ZERO, 3600), CONTEXT.multiply(m or ZERO, 60)), s or ZERO)
    return Time(total)


@function("Timestamp ( date ; time )")
def timestamp_(date, time):
    """The timestamp of a date and a time of day."""
    d = to_date(date)
    t = to_time(time)
    if d is None and t is None:
        return ""
    days = Decimal((d.toordinal() if d else 1) - 1)
    return Timestamp(CONTEXT.add(days * 86400, t.seconds if t else ZERO))


@function("GetAsDate ( text )")
def get_as_date(v):
    """The value as a date: text in the file's date format, or a day number."""
    d = to_date(v)
    return "" if d is None else d


@function("GetAsTime ( text )")
def get_as_time(v):
    """The value as a time: text like ``21:45`` or ``9:45 PM``, or a number of seconds."""
    t = to_time(v)
    return "" if t is None else t


@function("GetAsTimestamp ( text )")
def get_as_timestamp(v):
    """The value as a timestamp: text like ``10/21/2019 9:10:30 AM``, or seconds since 1/1/0001."""
    t = to_timestamp(v)
    return "" if t is None else t


# -- parts of a date -------------------------------------------------------------------------------------

def _date_fn(fn):
    def wrapper(v):
        d = to_date(v)
        return "" if d is None else fn(d)
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@function("Day ( date )")
@_date_fn
def day(d):
    """The day of the month, 1 to 31."""
    return Decimal(d.day)


@function("Month ( date )")
@_date_fn
def month(d):
    """The month number, 1 to 12."""
    return Decimal(d.month)


@function("Year ( date )")
@_date_fn
def year(d):
    """The year."""
    return Decimal(d.year)


def day_of_week(d: _dt.date) -> int:
    """1 for Sunday … 7 for Saturday."""
    return d.toordinal() % 7 + 1


@function("DayOfWeek ( date )")
@_date_fn
def day_of_week_(d):
    """The weekday number: 1 Sunday, 2 Monday … 7 Saturday."""
    return Decimal(day_of_week(d))


@function("DayOfYear ( date )")
@_date_fn
def day_of_year(d):
    """The day number within its year, 1 to 366."""
    return Decimal(d.timetuple().tm_yday)


@function("DayName ( date )")
@_date_fn
def day_name(d):
    """The weekday's name in English (Monday …)."""
    return DAY_NAMES[day_of_week(d) - 1]


@function("MonthName ( date )")
@_date_fn
def month_name(d):
    """The month's name in English (January …)."""
    return MONTH_NAMES[d.month - 1]


@function("WeekOfYear ( date )")
@_date_fn
def week_of_year(d):
    """The week number: week 1 holds January 1 and weeks start on Sunday."""
    jan1 = _dt.date(d.year, 1, 1)
    return Decimal((d.timetuple().tm_yday + day_of_week(jan1) - 2) // 7 + 1)


@function("WeekOfYearFiscal ( date ; startingDay )")
def week_of_year_fiscal(date, starting_day):
    """The week number (1 to 53) for weeks starting on startingDay (1 Sunday … 7 Saturday).

    Week 1 is the first week with at least four days in the new year."""
    d = to_date(date)
    if d is None:
        return ""
    start = _int(starting_day)
    if not 1 <= start <= 7:
        raise CalcError("startingDay is 1 (Sunday) to 7 (Saturday)", code=E_CALC_SYNTAX)
    week_start = d.toordinal() - (day_of_week(d) - start) % 7
    year = _dt.date.fromordinal(week_start + 3).year
    jan4 = _dt.date(year, 1, 4)
    first = jan4.toordinal() - (day_of_week(jan4) - start) % 7
    return Decimal((week_start - first) // 7 + 1)


# -- parts of a time -------------------------------------------------------------------------------------

def _time_fn(fn):
    def wrapper(v):
        t = to_time(v)
        return "" if t is None else fn(t.seconds)
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@function("Hour ( time )")
@_time_fn
def hour(s):
    """The hours of a time; a duration may have more than 24 (``Hour ( Time ( 25 ; 0 ; 0 ) )`` is 25)."""
    return Decimal(int(s / 3600))


@function("Minute ( time )")
@_time_fn
def minute(s):
    """The minutes, 0 to 59."""
    return Decimal(int(abs(s) / 60) % 60)


@function("Seconds ( time )")
@_time_fn
def seconds(s):
    """The seconds, 0 to 59 (with any fraction)."""
    return CONTEXT.remainder(CONTEXT.abs(s), Decimal(60))
