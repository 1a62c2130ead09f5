"""Text functions. FileMaker counts characters (not bytes) and its return character is CR (``¶``)."""
from __future__ import annotations

from decimal import Decimal

from ..values import to_int, to_text
from . import CalcError, function


@function("Length ( text )")
def length(v):
    """The number of characters."""
    return Decimal(len(to_text(v)))


@function("Left ( text ; numberOfCharacters )")
def left(v, n):
    """The first n characters."""
    k = to_int(n)
    return to_text(v)[:k] if k > 0 else ""


@function("Right ( text ; numberOfCharacters )")
def right(v, n):
    """The last n characters."""
    k = to_int(n)
    return to_text(v)[-k:] if k > 0 else ""


@function("Middle ( text ; start ; numberOfCharacters )")
def middle(v, start, n):
    """n characters from a 1-based start."""
    s = max(to_int(start), 1)
    k = to_int(n)
    return to_text(v)[s - 1: s - 1 + k] if k > 0 else ""


@function("Substitute ( text ; searchString ; replaceString )", lists=True, args=(2, None))
def substitute(v, *pairs):
    """Replaces every occurrence (case-sensitive); several ``[ search ; replace ]`` pairs may be given."""
    text = to_text(v)
    if pairs and isinstance(pairs[0], tuple):
        todo = pairs
    else:
        if len(pairs) != 2:
            raise CalcError("Substitute takes text ; searchString ; replaceString")
        todo = (pairs,)
    for pair in todo:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise CalcError("each Substitute list is [ searchString ; replaceString ]")
        search, repl = to_text(pair[0]), to_text(pair[1])
        if search:
            text = text.replace(search, repl)
    return text
