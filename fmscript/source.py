"""Source texts and positions: turns character offsets into ``file:line:col`` spans."""
from __future__ import annotations

import bisect
import re

from .errors import Span


class Source:
    """A named text with fast offset → (line, column) lookup."""

    __slots__ = ("path", "text", "_starts")

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._starts = starts

    def line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line_text(self, line: int) -> str:
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def span(self, offset: int, end: int | None = None) -> Span:
        offset = max(0, min(offset, len(self.text)))
        line, col = self.line_col(offset)
        end_col = None
        if end is not None and end > offset:
            eline, ecol = self.line_col(end)
            end_col = ecol if eline == line else len(self.line_text(line)) + 1
        return Span(self.path, line, col, self.line_text(line), end_col)


def decode_script(data: bytes, path: str) -> str:
    """Script bytes → text as Python's text mode reads it (UTF-8, an optional BOM, universal newlines).

    Text that is not UTF-8 (a Latin-1 export, say) is refused with the line and column of its first bad
    byte, so a person can find it, and the ``iconv`` command that converts the file."""
    from .errors import UsageError

    import shlex

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        good = _universal_newlines(body[:e.start].decode("utf-8"))
        # The line shown under the message: the bad bytes as U+FFFD, up to the end of that line.
        rest = re.split(rb"[\r\n]", body[e.start:], maxsplit=1)[0].decode("utf-8", "replace")
        src = Source(path, good + rest)
        what, target = ("the input", "FILE") if path.startswith("<") else ("this file", shlex.quote(path))
        raise UsageError(f"{what} is not UTF-8 text: byte 0x{body[e.start]:02X} here is not valid UTF-8 "
                         f"(a Latin-1 file? convert it with: iconv -f LATIN1 -t UTF-8 {target} > NEW.fmscript)",
                         span=src.span(len(good), len(good) + 1)) from None
    return _universal_newlines(text)


def _universal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
