"""Source texts and positions: turns character offsets into ``file:line:col`` spans."""
from __future__ import annotations

import bisect

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
