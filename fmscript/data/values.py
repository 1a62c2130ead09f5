"""How FileMaker values are stored in SQLite columns and read back.

Storage, chosen so that other SQLite tools read the data as it is:
text as text; number as canonical decimal text (``12.5``, ``-3``, never an exponent); date ``YYYY-MM-DD``;
time ``HH:MM:SS[.fff]``; timestamp ``YYYY-MM-DD HH:MM:SS[.fff]``; container data as a BLOB of its bytes; an empty
value is ``NULL``.
Columns of plain SQLite files may hold integers and reals: they read as numbers.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation

from ..calc.datetime_text import (parse_date, parse_time, parse_timestamp,  # noqa: F401 - the data layer's readers
                                  storage_time, storage_timestamp)
from ..calc.values import Container, Time, Timestamp, to_number, to_text

FIELD_TYPES = ("text", "number", "date", "time", "timestamp", "container")

# Declared column types used by ``fmscript db create-table``: every one has TEXT affinity, so SQLite never
# turns ``0.10`` into a binary float; number columns carry the ``fmnum`` collation, so that ``Age > ?`` and
# ``ORDER BY Age`` compare by value.  The FileMaker type is also kept in ``fmscript_fields``.
DECLARED = {"text": "TEXT", "number": "NUMBER_TEXT COLLATE fmnum", "date": "DATE_TEXT", "time": "TIME_TEXT",
            "timestamp": "TIMESTAMP_TEXT", "container": "BLOB"}
#: The name a container's data reads back with (a column holds the bytes only, so other tools read them as
#: they are: an embedding vector's float32 bytes, for instance).
CONTAINER_READ_NAME = "Untitled.dat"


def type_from_declared(decl: str) -> str:
    """The FileMaker type a column's declared SQLite type suggests (when fmscript has no metadata for it)."""
    d = (decl or "").upper()
    if d.startswith("NUMBER_TEXT"):
        return "number"
    if d == "BLOB":
        return "container"
    if d.startswith("TIMESTAMP") or "DATETIME" in d:
        return "timestamp"
    if d.startswith("DATE"):
        return "date"
    if d.startswith("TIME"):
        return "time"
    if any(k in d for k in ("INT", "REAL", "FLOA", "DOUB", "NUM", "DEC")):
        return "number"
    return "text"


def canonical_number(d: Decimal) -> str:
    """``Decimal`` → canonical text: no exponent, no trailing zeros, a leading ``0`` before the point."""
    if d == d.to_integral_value():
        s = format(d.quantize(Decimal(1)), "f")
        return "0" if s == "-0" else s
    s = format(d.normalize(), "f")
    return s


_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def is_number_text(s: str) -> bool:
    """Whether text is a plain decimal number (how Import Records decides a new column is a number field)."""
    return bool(_NUMERIC.match(s))


# Text → date/time is read by the one reader calculations use too (two-digit years included); the storage
# text of times and timestamps is written by the same module.
time_text = storage_time


def to_storage(value, ftype: str):
    """A calculation value → what goes into the column (``None`` for empty)."""
    if value is None or value == "":
        return None
    if ftype == "container":
        if isinstance(value, Container):
            return value.data
        return to_text(value).encode("utf-8")
    if isinstance(value, Container):
        value = value.name  # a container put into a text field is its file name, as in FileMaker
    if ftype == "text":
        return to_text(value)
    if ftype == "number":
        if isinstance(value, Decimal):
            return canonical_number(value)
        if isinstance(value, str):
            if _NUMERIC.match(value):
                try:
                    return canonical_number(Decimal(value.strip()))
                except InvalidOperation:
                    pass
            return value  # FileMaker keeps text typed into a number field
        n = to_number(value)
        return canonical_number(n) if n is not None else None
    if ftype == "date":
        if isinstance(value, Timestamp):
            value = value.date
        if isinstance(value, _dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            try:
                return _dt.date.fromordinal(int(value)).isoformat()
            except (ValueError, OverflowError):
                return canonical_number(value)
        d = parse_date(to_text(value))
        return d.isoformat() if d else to_text(value)
    if ftype == "time":
        if isinstance(value, Time):
            return time_text(value.seconds)
        if isinstance(value, Timestamp):
            return time_text(value.seconds % 86400)
        if isinstance(value, Decimal):
            return time_text(value)
        t = parse_time(to_text(value))
        return time_text(t.seconds) if t else to_text(value)
    if ftype == "timestamp":
        if isinstance(value, _dt.date):
            value = Timestamp(Decimal((value.toordinal() - 1) * 86400))
        if isinstance(value, str):
            ts = parse_timestamp(value)
            if ts is None:
                return value
            value = ts
        if isinstance(value, Decimal):
            value = Timestamp(value)
        if isinstance(value, Timestamp):
            return storage_timestamp(value)
        return to_text(value)
    return to_text(value)


def from_storage(raw, ftype: str):
    """A column value → a calculation value (``""`` for ``NULL``)."""
    if raw is None:
        return ""
    if ftype == "container":
        return Container(bytes(raw) if not isinstance(raw, str) else raw.encode("utf-8"), CONTAINER_READ_NAME)
    if ftype == "text":
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)):
            return to_text(Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw))
        if isinstance(raw, bytes):
            return raw.decode("utf-8", "replace")
        return str(raw)
    if ftype == "number":
        if isinstance(raw, int):
            return Decimal(raw)
        if isinstance(raw, float):
            return Decimal(repr(raw)) + 0
        if isinstance(raw, str):
            try:
                return Decimal(raw) + 0 if _NUMERIC.match(raw) else raw
            except InvalidOperation:
                return raw
        return str(raw)
    s = raw if isinstance(raw, str) else str(raw)
    if ftype == "date":
        return parse_date(s) or s
    if ftype == "time":
        return parse_time(s) or s
    if ftype == "timestamp":
        return parse_timestamp(s) or s
    return s


def index_key(raw, src: str, dst: str):
    """What a stored value of a ``src`` field matches in the index of a ``dst`` field (FileMaker matches a
    relationship's fields "based on their indexing"): the value converted as FileMaker converts between types,
    in ``dst``'s stored form; ``None`` when it has no index value there (text without a number for a number
    field, text that is not a date for a date field), which matches nothing.  The same types: ``raw`` itself."""
    if raw is None or raw == "":
        return None
    if src == dst:
        return raw
    v = from_storage(raw, src)
    if dst == "number":
        n = to_number(v)  # text "007" → 7, "abc12" → 12 (GetAsNumber), a date → its day number
        return canonical_number(n) if n is not None else None
    if dst == "text":
        return to_text(v)  # 7.50 → "7.5", a date → "2/29/2024"
    if dst in ("date", "time", "timestamp"):
        if isinstance(v, str) and not v.strip():
            return None
        stored = to_storage(v, dst)
        return stored if not isinstance(from_storage(stored, dst), str) else None
    return None


def sql_index_key(raw, src: str, dst: str):
    """SQL ``fm_key(value, src, dst)``: :func:`index_key` for a joined relationship criterion."""
    try:
        return index_key(raw, src, dst)
    except Exception:  # a value that cannot convert has no index value there: it matches nothing
        return None


def export_value(raw, ftype: str):
    """A column value for JSON/CSV output: numbers stay numbers, the rest is FileMaker's text."""
    v = from_storage(raw, ftype)
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2 ** 63 else float(v)
    if ftype in ("date", "timestamp", "time") and raw is not None:
        return raw if isinstance(raw, str) else str(raw)
    return to_text(v)


def num_collate(a: str, b: str) -> int:
    """The ``fmnum`` collation: numbers by value, then text (case-insensitively)."""
    x, y = _as_num(a), _as_num(b)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    if x is not None:
        return -1
    if y is not None:
        return 1
    return text_collate(a, b)


def text_collate(a: str, b: str) -> int:
    """The ``fmtext`` collation: case-insensitive (casefold), as FileMaker sorts text."""
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y)


def sort_number(v) -> tuple:
    """A number field's value as a sort key: numbers by value, then text (the ``fmnum`` order)."""
    n = _as_num(str(v))
    return (0, n, "") if n is not None else (1, Decimal(0), str(v).casefold())


#: Letters a language sorts after "z", in its order (FileMaker's sort languages, as ICU's collations order them);
#: every other language sorts accented letters with their base letter (é with e, ä with a).
_AFTER_Z = {"swedish": "åäæöø", "finnish": "åäæöø", "danish": "æäøöå", "norwegian": "æäøöå",
            "icelandic": "æö", "estonian": "õäöü"}
#: Letters a language sorts right after a base letter (Spanish ñ after n, Polish ł after l …).
_AFTER_LETTER = {"spanish": {"ñ": "n"}, "polish": {"ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o",
                                                  "ś": "s", "ź": "z", "ż": "z"},
                 "czech": {"č": "c", "ř": "r", "š": "s", "ž": "z"}, "turkish": {"ç": "c", "ğ": "g", "ı": "h",
                                                                                "ö": "o", "ş": "s", "ü": "u"}}


def language_sort_key(language: str):
    """The text sort key of one of FileMaker's sort languages (``override language: “German”``): letters
    compared without case, accents second, with the language's own letters where it puts them."""
    import unicodedata
    lang = language.strip().strip('"“”').split("(")[0].strip().casefold()
    after_z = _AFTER_Z.get(lang, "")
    after_letter = _AFTER_LETTER.get(lang, {})

    def key(text: str) -> tuple:
        primary, secondary = [], []
        for ch in text.casefold():
            if ch in after_z:
                primary.append((ord("z"), 1 + after_z.index(ch)))
                secondary.append(0)
                continue
            if ch in after_letter:
                primary.append((ord(after_letter[ch]), 1))
                secondary.append(0)
                continue
            base = unicodedata.normalize("NFD", ch)
            primary.append((ord(base[0]), 0))
            secondary.append(len(base) - 1 and ord(base[1]))
        return (tuple(primary), tuple(secondary))
    return key


def _as_num(s: str):
    if _NUMERIC.match(s):
        try:
            return Decimal(s.strip())
        except InvalidOperation:
            return None
    return None


def sql_parameter(value):
    """A calculation value as an SQL parameter, in the form its field would store it (ExecuteSQL's ``?``)."""
    if isinstance(value, Decimal):
        return canonical_number(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Time):
        return time_text(value.seconds)
    if isinstance(value, Timestamp):
        return to_storage(value, "timestamp")
    return to_text(value)
