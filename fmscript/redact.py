"""Keeps secrets out of output and files: API keys registered by Configure AI Account (and anything that looks
like a bearer key) are masked in traces, errors, logs, REPL displays and history, and the parse cache."""
from __future__ import annotations

import re
from collections.abc import Iterable

_SECRETS: set[str] = set()
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|sk-proj-[A-Za-z0-9_\-]{8,})")


def register_secret(value: str) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(value: str) -> str:
    return "••••" + value[-4:] if len(value) > 12 else "••••"


def _spans(text: str, also: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Where secrets are in ``text``: sorted, non-overlapping (start, end) offsets, longest secrets first."""
    found: list[tuple[int, int]] = []

    def claim(a: int, b: int) -> None:
        if not any(a < y and x < b for x, y in found):
            found.append((a, b))

    for s in sorted({s for s in (*_SECRETS, *also) if s and s in text}, key=len, reverse=True):
        i = text.find(s)
        while i != -1:
            claim(i, i + len(s))
            i = text.find(s, i + len(s))
    if "sk-" in text:
        for m in _KEY_LIKE.finditer(text):
            claim(*m.span())
    return sorted(found)


def secrets_in(text: str) -> set[str]:
    """The secrets that occur in ``text`` (registered keys and key-like words)."""
    return {text[a:b] for a, b in _spans(text)}


def redact(text: str, also: Iterable[str] = ()) -> str:
    """``text`` with every secret masked: the registered ones, key-like words and those in ``also``."""
    spans = _spans(text, also)
    if not spans:
        return text
    out, last = [], 0
    for a, b in spans:
        out += [text[last:a], mask(text[a:b])]
        last = b
    out.append(text[last:])
    return "".join(out)


def redact_columns(line: str, col: int, end_col: int | None = None) -> tuple[str, int, int | None]:
    """Mask ``line`` and move the 1-based columns ``col``/``end_col`` (exclusive) onto the masked line.

    A mask is shorter or longer than the key it hides, so a caret drawn at the old column would point at the
    wrong character; a column inside a key moves to the start (an end column: the end) of its mask.
    """
    spans = _spans(line)
    if not spans:
        return line, col, end_col

    def move(offset: int, is_end: bool) -> int:
        shift = 0
        for a, b in spans:
            m = len(mask(line[a:b]))
            if b <= offset:
                shift += m - (b - a)
            elif a < offset or (a == offset and not is_end):
                return a + shift + (m if is_end else 0)
            else:
                break
        return offset + shift

    new_col = move(col - 1, False) + 1
    new_end = move(end_col - 1, True) + 1 if end_col else end_col
    return redact(line), new_col, new_end
