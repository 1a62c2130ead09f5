"""Dates, times and timestamps in text: the one reader (and storage writer) that calculations and the data
layer share, so that a date field and ``GetAsDate`` read ``1/2/30`` as the same day.

The reader takes fmscript's en-US text, FileMaker's default: ``M/D/YYYY`` (``/``, ``.`` or ``-`` between the
parts), ``YYYY-MM-DD``, times ``h:mm:ss`` with an optional ``AM``/``PM`` (``9:45 PM``, ``21:45``, ``9 PM``),
timestamps as a date, a space (or ``T``) and a time.

Two-digit years follow Claris's "Entering dates with two-digit years"
(https://help.claris.com/en/pro-help/content/dates-with-two-digit-years.html): FileMaker converts them
"based on the year in which the date is entered, always assuming that the four-digit year date should be
in either the next 30 years, or the preceding 70 years" — a window that slides with the current year.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal

from .values import CONTEXT, ZERO, Time, Timestamp, clock_parts

_DATE_US = re.compile(r"^\s*(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\2\s*(\d{1,4})\s*$")
_DATE_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_TIME = re.compile(r"^\s*(-?\d+)(?::(\d+))?(?::(\d+(?:\.\d*)?))?\s*([AaPp]\.?[Mm]?\.?)?\s*$")

FUTURE_YEARS = 30  # a two-digit year is at most this many years after the current one …
# … and otherwise in the 70 years up to and including the current year.


def four_digit_year(yy: int, today: _dt.date | None = None) -> int:
    """The year a two-digit year stands for: within the next 30 years, else within the preceding 70."""
    current = (today or _dt.date.today()).year
    year = current - current % 100 + yy
    if year > current + FUTURE_YEARS:
        year -= 100
    elif year <= current + FUTURE_YEARS - 100:
        year += 100
    return year


def parse_date(s: str, today: _dt.date | None = None) -> _dt.date | None:
    """An en-US date in text (``10/7/2019``, ``1/2/30``, ``2019-10-07``); None when the text is no date."""
    try:
        m = _DATE_US.match(s)
        if m:
            mo, d, text_year = int(m.group(1)), int(m.group(3)), m.group(4)
            y = int(text_year)
            if len(text_year) <= 2:
                y = four_digit_year(y, today)
            return _dt.date(y, mo, d)
        m = _DATE_ISO.match(s)
        if m:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:  # no such day (2/30/2020, year 0)
        return None
    return None


def parse_time(s: str) -> Time | None:
    """A time in text (``9:30``, ``21:45:10.5``, ``9:45 PM``, ``9 PM``); None when the text is no time."""
    m = _TIME.match(s)
    if not m or (m.group(2) is None and m.group(4) is None):
        return None
    h = int(m.group(1))
    mi = int(m.group(2) or 0)
    sec = Decimal(m.group(3)) if m.group(3) else ZERO
    ampm = (m.group(4) or "").lower()
    if ampm.startswith("p") and h < 12:
        h += 12
    elif ampm.startswith("a") and h == 12:
        h = 0
    sign = -1 if m.group(1).startswith("-") else 1
    return Time(Decimal(h * 3600 + sign * mi * 60) + sign * sec)


def parse_timestamp(s: str, today: _dt.date | None = None) -> Timestamp | None:
    """``10/21/2019 9:10:30 AM`` or ``2019-10-21T09:10:30`` → a timestamp (a date alone is its midnight);
    None when the text is no timestamp."""
    parts = s.strip().split(None, 1)
    if len(parts) == 1 and "T" in parts[0]:
        parts = parts[0].split("T", 1)
    if not parts:
        return None
    d = parse_date(parts[0], today)
    if d is None:
        return None
    t = parse_time(parts[1]) if len(parts) > 1 else Time(ZERO)
    if t is None:
        return None
    return Timestamp(CONTEXT.add(Decimal((d.toordinal() - 1) * 86400), t.seconds))


# -- storage text (what the data layer writes into SQLite) ----------------------------------------------

def storage_time(seconds: Decimal) -> str:
    """Seconds as ``HH:MM:SS[.fff]`` (negative and 24 hours and more allowed, as FileMaker's times)."""
    neg, h, m, s, frac = clock_parts(seconds)
    text = f"{h:02d}:{m:02d}:{s:02d}"
    if frac:
        text += format(frac.normalize(), "f")[1:]
    return ("-" if neg else "") + text


def storage_timestamp(ts: Timestamp) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS[.fff]``."""
    return f"{ts.date.isoformat()} {storage_time(ts.seconds % 86400)}"
