"""Every resource limit of the language in one place: FileMaker's where Claris documents one, ours where it
does not (docs/limits.md lists each with its source and the error a script gets)."""
from __future__ import annotations

import sys

#: While iterations (and recursion) per expression unless SetRecursion changes it: FileMaker's default
#: (https://help.claris.com/en/pro-help/content/set-recursion.html).
DEFAULT_ITERATION_LIMIT = 50_000

#: Scripts calling each other (Perform Script) at most this deep: ours (FileMaker documents none).
MAX_CALL_DEPTH = 1_000

#: A calculation nested deeper than this (calls, parentheses, operator chains) is refused when parsed: ours.
MAX_CALC_DEPTH = 1_000

#: The largest JSON array index JSONSetElement fills up to: ours (FileMaker documents none).
MAX_JSON_INDEX = 1_000_000

#: The most characters a calculation may build into one text value: ours (a FileMaker text field holds more,
#: but a calculation that doubles its text in a loop must stop before it fills the memory).
MAX_TEXT_LENGTH = 100_000_000

#: Seconds an ExecuteSQL query may run before SQLite is interrupted: ours.
SQL_TIME_LIMIT = 10.0

#: Python frames: enough for MAX_CALL_DEPTH scripts each evaluating a calculation MAX_CALC_DEPTH deep.  Python
#: 3.11 calls Python functions without using the C stack, and C recursion (json, pickle) stays within an 8 MiB
#: thread stack at this depth (tests/test_limits.py runs both ends).
RECURSION_LIMIT = 20_000


def ensure_stack() -> None:
    """Raise Python's recursion limit to :data:`RECURSION_LIMIT` (never lower it: an embedder may need more)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


def text_too_long(length: int) -> bool:
    """Whether a text of ``length`` characters is past :data:`MAX_TEXT_LENGTH`."""
    return length > MAX_TEXT_LENGTH


def json_loads(text, **options):
    """``json.loads`` of text a user gave, with every way it can fail as :class:`json.JSONDecodeError`: Python's
    reader also raises ValueError for an integer past 4,300 digits and RecursionError for nesting past the stack,
    which callers that catch the decode error would let through as internal errors."""
    import json

    try:
        return json.loads(text, **options)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("the JSON is nested too deeply", str(text), 0) from None
    except ValueError as e:
        if "digits" not in str(e):
            raise
        raise json.JSONDecodeError("a number has more than 4,300 digits", str(text), 0) from None
