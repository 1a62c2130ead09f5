"""FileMaker find criteria, find requests and sort orders.

A criterion is matched by :func:`matches`, registered in SQLite as ``fm_match(value, type, criterion)``:
the criterion always travels as a SQL parameter, never inside the SQL text.  Operators, as FileMaker:

``=`` empty · ``=word`` a whole word · ``==text`` the whole field · ``<`` ``≤`` ``<=`` ``>`` ``≥`` ``>=`` ·
``a...b`` a range (also ``..`` and ``…``) · ``*`` any characters · ``@`` one character · ``#`` one digit ·
``"phrase"`` a literal phrase · ``?`` invalid data · ``!`` duplicate values · ``//`` today.
Plain words match the start of words of the field, in any order, case-insensitively.

Stored requests and sort orders are written as readable text (see ``docs/data.md``): one request per line,
``Table::Field: criterion`` pairs joined by ``AND`` (or ``;``), ``Omit`` in front of an omit request.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .values import from_storage, parse_date, parse_time, parse_timestamp

_RANGE = re.compile(r"^(.*?)(?:\.\.\.|…|\.\.)(.*)$", re.S)
_WORD = re.compile(r"\w+", re.U)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass
class Request:
    """One find request: field → criterion text, and whether it omits."""

    criteria: dict = field(default_factory=dict)  # (occurrence or None, field name casefolded) → (name, text)
    omit: bool = False

    def copy(self) -> "Request":
        return Request(dict(self.criteria), self.omit)

    def is_empty(self) -> bool:
        return not any(t.strip() for _, t in self.criteria.values())


# --------------------------------------------------------------------------------------------- matching

def _today() -> _dt.date:
    return _dt.date.today()


def _wild_regex(pat: str, anchor_word: bool) -> str:
    """FileMaker wildcards → a regex fragment: ``*`` any run, ``@`` one char, ``#`` one digit, ``\\x`` literal."""
    out = []
    i = 0
    while i < len(pat):
        ch = pat[i]
        if ch == "\\" and i + 1 < len(pat):
            out.append(re.escape(pat[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(r"\w*" if anchor_word else ".*")
        elif ch == "@":
            out.append(r"\w" if anchor_word else ".")
        elif ch == "#":
            out.append(r"\d")
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _tokens(criterion: str) -> list[tuple[str, bool]]:
    """Words and "quoted phrases" of a criterion: (text, is_phrase)."""
    out = []
    for m in re.finditer(r'"([^"]*)"|“([^”]*)”|(\S+)', criterion):
        if m.group(3) is not None:
            out.append((m.group(3), False))
        else:
            out.append((m.group(1) if m.group(1) is not None else m.group(2), True))
    return out


def _text_matches(value: str, criterion: str, whole_word: bool) -> bool:
    text = value
    for tok, phrase in _tokens(criterion):
        if phrase:
            if not re.search(r"(?<!\w)" + re.escape(tok) if tok[:1].isalnum() else re.escape(tok), text,
                             re.I | re.S):
                return False
            continue
        if _CJK.search(tok):
            # CJK text has no spaces between words: a word is any run of characters.
            if not re.search(_wild_regex(tok, False), text, re.I | re.S):
                return False
            continue
        # A criterion word that is punctuation only (``-``) matches that text anywhere.
        if not _WORD.search(tok.replace("*", "a").replace("@", "a").replace("#", "0")):
            if tok not in text:
                return False
            continue
        body = _wild_regex(tok, True)
        rx = r"(?<!\w)" + body + (r"(?!\w)" if whole_word else "")
        if not re.search(rx, text, re.I | re.S):
            return False
    return True


def _typed(value, ftype: str):
    """A stored value as something comparable for its type, or None when it is not valid."""
    v = from_storage(value, ftype)
    if v == "":
        return None
    if ftype == "number":
        return v if isinstance(v, Decimal) else None
    if ftype == "date":
        return v if isinstance(v, _dt.date) else None
    if ftype in ("time", "timestamp"):
        return v.seconds if hasattr(v, "seconds") else None
    return str(v).casefold()


def _parse_operand(s: str, ftype: str):
    s = s.strip().strip('"“”')
    if ftype == "number":
        try:
            return Decimal(s.replace(",", ""))
        except InvalidOperation:
            return None
    if ftype == "date":
        if s == "//":
            return _today()
        return parse_date(s)
    if ftype == "time":
        t = parse_time(s)
        return t.seconds if t else None
    if ftype == "timestamp":
        if s == "//":
            d = _today()
            return Decimal((d.toordinal() - 1) * 86400)
        t = parse_timestamp(s)
        return t.seconds if t else None
    return s.casefold()


def _date_span(s: str) -> tuple[_dt.date, _dt.date] | None:
    """Partial dates FileMaker accepts: a year ``2024``, a month ``1/2024`` or ``2024-01``."""
    s = s.strip()
    if re.fullmatch(r"\d{4}", s):
        y = int(s)
        return _dt.date(y, 1, 1), _dt.date(y, 12, 31)
    m = re.fullmatch(r"(\d{1,2})/(\d{4})", s) or None
    if m:
        y, mo = int(m.group(2)), int(m.group(1))
    else:
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", s)
        if not m:
            return None
        y, mo = int(m.group(1)), int(m.group(2))
    if not 1 <= mo <= 12:
        return None
    nxt = _dt.date(y + (mo == 12), mo % 12 + 1, 1)
    return _dt.date(y, mo, 1), nxt - _dt.timedelta(days=1)


def matches(value, ftype: str, criterion: str) -> bool:
    """Whether a stored column value satisfies one FileMaker find criterion."""
    c = criterion.strip()
    if not c:
        return True
    empty = value is None or value == ""
    if c in ("=", "=="):
        return empty
    if c == "*":
        return not empty
    if c == "?":
        return not empty and ftype != "text" and _typed(value, ftype) is None
    if c == "//" and ftype in ("date", "timestamp", "text"):
        if ftype == "text":
            return not empty and _text_matches(str(value), _today().strftime("%-m/%-d/%Y"), True)
        v = _typed(value, ftype)
        if ftype == "date":
            return v == _today()
        d = _today()
        start = Decimal((d.toordinal() - 1) * 86400)
        return v is not None and start <= v < start + 86400
    # Comparison operators.
    for op in ("<=", ">=", "≤", "≥", "<", ">"):
        if c.startswith(op):
            operand = _parse_operand(c[len(op):], ftype)
            v = _typed(value, ftype)
            if operand is None or v is None:
                return False
            if op == "<":
                return v < operand
            if op == ">":
                return v > operand
            if op in ("<=", "≤"):
                return v <= operand
            return v >= operand
    if c.startswith("=="):
        if empty:
            return False
        text = c[2:]
        if ftype == "text":
            parts = _tokens(text) if text.startswith(('"', "“")) else [(text, False)]
            pat = "".join(re.escape(t) if ph else _wild_regex(t, False) for t, ph in parts)
            return re.fullmatch(pat, str(from_storage(value, ftype)), re.I | re.S) is not None
        operand = _parse_operand(text, ftype)
        return operand is not None and _typed(value, ftype) == operand
    m = _RANGE.match(c)
    if m and not c.startswith('"') and m.group(1).strip() and m.group(2).strip():
        lo, hi = _parse_operand(m.group(1), ftype), _parse_operand(m.group(2), ftype)
        if ftype == "date":
            s1, s2 = _date_span(m.group(1)), _date_span(m.group(2))
            lo = s1[0] if s1 else lo
            hi = s2[1] if s2 else hi
        v = _typed(value, ftype)
        if lo is None or hi is None or v is None:
            return False
        return lo <= v <= hi
    if c.startswith("="):
        if empty:
            return False
        rest = c[1:]
        if ftype == "text":
            return _text_matches(str(value), rest, True)
        operand = _parse_operand(rest, ftype)
        return operand is not None and _typed(value, ftype) == operand
    if empty:
        return False
    if ftype == "text":
        return _text_matches(value if isinstance(value, str) else str(from_storage(value, ftype)), c, False)
    if ftype == "date":
        span = _date_span(c)
        v = _typed(value, ftype)
        if span and v is not None:
            return span[0] <= v <= span[1]
    operand = _parse_operand(c, ftype)
    v = _typed(value, ftype)
    if operand is not None and v is not None:
        return v == operand
    # Wildcards in a number, date or time field match its whole value: ``##`` finds 10, not 1 or 100.
    from ..calc.values import to_text
    text = to_text(from_storage(value, ftype))
    return re.fullmatch(_wild_regex(c, False), text, re.I | re.S) is not None


def duplicate_key(value, ftype: str):
    """What ``!`` compares: the typed value (text case-insensitively)."""
    v = _typed(value, ftype)
    return None if v is None else str(v)


# ------------------------------------------------------------------------------------ stored requests

_REQ_PREFIX = re.compile(r"^\s*(?:(find|omit)(?:\s+records?|\s+requests?)?|(查找记录|查找|省略记录|省略))\s*[;:；：]?\s*",
                         re.I)
_CRITERIA = re.compile(r"^\s*(?:criteria|条件)\s*[:：]\s*", re.I)


class RequestSyntaxError(ValueError):
    pass


def _field_ref_colon(s: str) -> int:
    """Index of the ``:`` that ends a ``Table::Field`` reference at the start of ``s``."""
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in ":：":
            if s[i:i + 2] == "::":
                i += 2
                continue
            return i
        i += 1
    return -1


def _split_and(s: str) -> list[str]:
    """Split a request line at `` AND `` and ``;`` outside quotes."""
    parts, cur, i, q = [], [], 0, None
    while i < len(s):
        ch = s[i]
        if q:
            cur.append(ch)
            if ch == q:
                q = None
            i += 1
            continue
        if ch in "“":
            q = "”"
            cur.append(ch)
            i += 1
            continue
        if ch in ";；":
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        m = re.match(r"\s+(?:AND|and|并且)\s+", s[i:])
        if m and cur:
            parts.append("".join(cur))
            cur = []
            i += m.end()
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_requests(text: str) -> list[tuple[bool, list[tuple[str | None, str, str]]]]:
    """Stored find text → ``[(omit, [(occurrence, field, criterion), …]), …]``.

    One request per line; ``Omit`` (or ``Omit Records;``) in front makes it an omit request; ``Find Records;``
    and ``Criteria:`` (FileMaker's Database Design Report wording) are accepted and ignored.  A criterion in
    curly quotes ``“…”`` is taken verbatim; otherwise it runs to the next `` AND `` or ``;``.
    """
    out = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("¶", "\n").split("\n")
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        omit = False
        m = _REQ_PREFIX.match(line)
        if m and (m.group(1) or m.group(2)):
            word = (m.group(1) or m.group(2)).casefold()
            omit = word in ("omit", "省略记录", "省略")
            line = line[m.end():]
        crit = []
        for part in _split_and(line):
            part = _CRITERIA.sub("", part)
            colon = _field_ref_colon(part)
            if colon <= 0:
                raise RequestSyntaxError(f"request {n}: “{part}” is not “Table::Field: criterion”")
            ref = part[:colon].strip()
            value = part[colon + 1:].strip()
            if len(value) >= 2 and value[0] == "“" and value[-1] == "”":
                value = value[1:-1]
            occ, _, name = ref.rpartition("::")
            crit.append((occ.strip() or None, name.strip(), value))
        if not crit:
            raise RequestSyntaxError(f"request {n} has no criteria")
        out.append((omit, crit))
    if not out:
        raise RequestSyntaxError("the stored find has no requests")
    return out


_DIRECTIONS = {"ascending": True, "asc": True, "升序": True, "descending": False, "desc": False, "降序": False}


def parse_sort_order(text: str) -> list[tuple[str | None, str, bool]]:
    """Stored sort text → ``[(occurrence, field, ascending), …]``.

    Fields separated by ``;`` or line breaks, each optionally followed by ``ascending``/``descending``
    (``升序``/``降序``), either after a space or as its own item, as FileMaker's design report prints it.
    """
    out: list[list] = []
    items = re.split(r"[;；\n\r¶]", text)
    for item in items:
        item = item.strip()
        if not item:
            continue
        low = item.casefold()
        if low in _DIRECTIONS:
            if not out:
                raise RequestSyntaxError(f"“{item}” comes before any field")
            out[-1][2] = _DIRECTIONS[low]
            continue
        asc = True
        words = item.rsplit(None, 1)
        if len(words) == 2 and words[1].casefold() in _DIRECTIONS:
            item, asc = words[0].strip(), _DIRECTIONS[words[1].casefold()]
        occ, _, name = item.rpartition("::")
        out.append([occ.strip() or None, name.strip(), asc])
    if not out:
        raise RequestSyntaxError("the sort order names no field")
    return [tuple(x) for x in out]
