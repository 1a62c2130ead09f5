"""Script text → logical step lines.

A step is ``Name [ option ; option … ]``: the options end at the ``]`` that balances the opening ``[``,
which may be many lines later, and a calculation inside may itself hold ``;``, brackets, strings and
comments.  Finding those boundaries needs bracket counting, which a regular lexer cannot do, so this
small scanner cuts the text into raw steps and option segments with their offsets; the calculations
inside are then parsed by the Lark grammar (``grammar/calc.lark``).
"""
from __future__ import annotations

import re

from ..errors import ParseError
from ..source import Source

OPEN = {"(": ")", "[": "]", "{": "}", "（": "）", "［": "］"}
CLOSE = {v: k for k, v in OPEN.items()}
SEMIS = (";", "；")


class RawSegment:
    """One option as written: its text, and where its label (before the colon) and value start."""

    __slots__ = ("text", "start", "label", "label_start", "value", "value_start")

    def __init__(self, text: str, start: int, label: str | None = None, label_start: int = 0,
                 value: str = "", value_start: int = 0):
        self.text, self.start, self.label, self.label_start = text, start, label, label_start
        self.value, self.value_start = value, value_start


class RawLine:
    """A step, comment or script header as cut from the text (kind: step, comment, script, end_script,
    disabled)."""

    __slots__ = ("kind", "start", "name", "name_start", "segments", "has_brackets", "end")

    def __init__(self, kind: str, start: int, name: str = "", name_start: int = 0, segments=None,
                 has_brackets: bool = False, end: int = 0):
        self.kind, self.start, self.name, self.name_start = kind, start, name, name_start
        self.segments = segments if segments is not None else []
        self.has_brackets, self.end = has_brackets, end


_SCRIPT_HEADER = re.compile(r'^(?:Script|脚本)\s*(?:"([^"]*)"|“([^”]*)”|「([^」]*)」)\s*$', re.I)
_OBSOLETE = re.compile(r"#\[OBSOLETE\]\s*")
_END_SCRIPT = re.compile(r"^(?:End\s+Script|结束脚本)\s*$", re.I)


def skip_text_constant(text: str, i: int) -> int:
    """Index just after the text constant that starts at ``text[i]`` (``"`` with ``\\`` escapes, or curly
    quotes); -1 when it is never closed."""
    n = len(text)
    if text[i] == "“":
        j = text.find("”", i + 1)
        return -1 if j == -1 else j + 1
    j = i + 1
    while j < n and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return -1 if j >= n else j + 1


def scan(src: Source) -> tuple[list[RawLine], list[ParseError]]:
    """Cut a script text into raw lines; never raises, returns the problems found."""
    text = src.text
    n = len(text)
    i = 0
    lines: list[RawLine] = []
    errors: list[ParseError] = []
    while i < n:
        # Skip blank space between steps.
        while i < n and text[i] in " \t\r\n\u3000\ufeff":
            i += 1
        if i >= n:
            break
        eol = text.find("\n", i)
        eol = n if eol == -1 else eol
        first = text[i:eol].rstrip()
        obsolete = _OBSOLETE.match(first)
        if obsolete and first[obsolete.end():]:
            # FileMaker prints a step it no longer offers as ``#[OBSOLETE]  Insert QuickTime``: the step, not a
            # comment (its text is kept; the step itself answers as FileMaker does when run)
            i += obsolete.end()
            first = first[obsolete.end():]
        elif first.startswith("#"):
            lines.append(RawLine("comment", i, first[1:].strip(), i + 1, end=eol))
            i = eol
            continue
        m = _SCRIPT_HEADER.match(first)
        if m:
            name = next(g for g in m.groups() if g is not None)
            lines.append(RawLine("script", i, name, i, end=eol))
            i = eol
            continue
        if _END_SCRIPT.match(first):
            lines.append(RawLine("end_script", i, end=eol))
            i = eol
            continue
        kind = "step"
        start = i
        if first.startswith("//"):
            kind = "disabled"
            i += 2
            while i < eol and text[i] in " \t":
                i += 1
        # The step name runs to "[" or the end of the line.
        j = i
        while j < eol and text[j] not in "[［":
            j += 1
        name = text[i:j].strip()
        line = RawLine(kind, start, name, i)
        lines.append(line)
        if j >= eol and name:
            # FileMaker's Print wraps a long step before its options: ``Go to Record/Request/Page`` and
            # ``[ First ]`` on the next line are one step (a line cannot otherwise start with “[”).
            k = eol
            while k < n and text[k] in " \t\r\n\u3000":
                k += 1
            if k < n and text[k] in "[［":
                j = k
        if j >= eol and text[j:j + 1] not in ("[", "［"):
            line.end = eol
            i = eol
            continue
        line.has_brackets = True
        end, segs, err = _scan_options(src, j)
        line.segments = segs
        line.end = end
        if err:
            if kind == "disabled":
                # A disabled step's text need not be valid: it ends with its line.
                line.segments, line.end = [], eol
                i = eol
                continue
            errors.append(err)
            i = n if end >= n else end
            continue
        # Nothing but blanks (or a comment) may follow the closing bracket on its line.
        k = end
        line_end = text.find("\n", k)
        line_end = n if line_end == -1 else line_end
        rest = text[k:line_end].strip()
        if rest and not rest.startswith("//") and kind != "disabled":
            off = k + (len(text[k:line_end]) - len(text[k:line_end].lstrip()))
            errors.append(ParseError(f"unexpected text “{rest[:20]}” after the step's closing “]”; "
                                     "put each step on its own line", span=src.span(off, off + len(rest))))
        i = line_end
    return lines, errors


def _scan_options(src: Source, open_pos: int) -> tuple[int, list[RawSegment], ParseError | None]:
    """Scan from the ``[`` at ``open_pos`` to its matching ``]``; returns (offset after it, segments, error)."""
    text = src.text
    n = len(text)
    i = open_pos + 1
    depth: list[tuple[str, int]] = []
    segs: list[RawSegment] = []
    seg_start = i
    while i < n:
        ch = text[i]
        if ch == '"' or ch == "“":
            j = skip_text_constant(text, i)
            if j == -1:
                return n, segs, ParseError("this text constant has no closing quote", span=src.span(i))
            i = j
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "/" and not (i > 0 and text[i - 1] == ":"):
            # (“http://” in an option FileMaker prints unquoted, XML (from http): http://host/x.xml, is no comment)
            j = text.find("\n", i)
            i = n if j == -1 else j
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            if j == -1:
                return n, segs, ParseError("this comment has no closing “*/”", span=src.span(i))
            i = j + 2
            continue
        if ch in OPEN:
            depth.append((ch, i))
        elif ch in CLOSE:
            if depth:
                opener, pos = depth.pop()
                if OPEN[opener] != ch and not (opener in "[［" and ch in "]］") and \
                        not (opener in "(（" and ch in ")）"):
                    return i + 1, segs, ParseError(f"the “{opener}” opened here is never closed "
                                                   f"(a “{ch}” comes first)", span=src.span(pos))
            elif ch in "]］":
                segs.append(_segment(text, seg_start, i))
                return i + 1, [s for s in segs if s.text or len(segs) > 1], None
            else:
                return i + 1, segs, ParseError(f"unexpected “{ch}” with no opening bracket", span=src.span(i))
        elif ch in SEMIS and not depth:
            segs.append(_segment(text, seg_start, i))
            seg_start = i + 1
        i += 1
    if depth:
        opener, pos = depth[-1]
        return n, segs, ParseError(f"the “{opener}” opened here is never closed", span=src.span(pos))
    return n, segs, ParseError("the “[” of this step is never closed by a “]”", span=src.span(open_pos))


def _segment(text: str, a: int, b: int) -> RawSegment:
    raw = text[a:b]
    lead = len(raw) - len(raw.lstrip())
    stripped = raw.strip()
    start = a + lead
    seg = RawSegment(stripped, start, value=stripped, value_start=start)
    colon = _label_colon(stripped)
    if colon is not None:
        label = stripped[:colon].strip()
        value_raw = stripped[colon + 1:]
        vlead = len(value_raw) - len(value_raw.lstrip())
        seg.label = label
        seg.label_start = start
        seg.value = value_raw.strip()
        seg.value_start = start + colon + 1 + vlead
    return seg


def _label_colon(s: str) -> int | None:
    """Index of the first top-level ``:`` that is not part of ``::``, outside strings and brackets."""
    depth = 0
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == '"' or ch == "“":
            j = skip_text_constant(s, i)
            i = n if j == -1 else j
            continue
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth -= 1
        elif ch == "$" and i + 1 < n and s[i + 1] == "{":
            j = s.find("}", i)
            i = n if j == -1 else j + 1
            continue
        elif ch in ":：" and depth == 0:
            if ch == ":" and ((i + 1 < n and s[i + 1] == ":") or (i > 0 and s[i - 1] == ":")):
                i += 1
                continue
            return i
        i += 1
    return None
