"""Calculation text → AST.  Lark (``fmscript.calc.lark_tree``) is imported on the first parse only."""
from __future__ import annotations

from ..errors import ParseError
from ..limits import MAX_CALC_DEPTH, ensure_stack
from ..source import Source
from . import ast as A


# What the parser expected, in words rather than token names.
_TOKEN_WORDS = {
    "RPAR": "“)”", "LPAR": "“(”", "SEMI": "“;”", "RSQB": "“]”", "LSQB": "“[”", "NUMBER": "a number",
    "STRING": "a text constant", "CSTRING": "a text constant", "VAR": "a variable", "FIELD": "a field",
    "NAME": "a name", "CMP_OP": "a comparison", "AMP": "“&”", "ADD_OP": "“+” or “-”", "MUL_OP": "“*” or “/”",
    "CARET": "“^”", "MINUS": "“-”", "PLUS": "“+”", "NOT": "“not”", "AND": "“and”", "OR": "“or”", "XOR": "“xor”",
    "PILCROW": "“¶”", "BRACED_FIELD": "a field", "$END": "the end of the calculation",
}


def _expected_words(expected) -> str:
    operand = {"NUMBER", "STRING", "VAR", "NAME", "FIELD", "LPAR"}
    exp = set(expected)
    words = []
    if operand <= exp:
        words.append("a value (number, text, variable, field or function)")
        exp -= operand | {"CSTRING", "PILCROW", "BRACED_FIELD", "MINUS", "PLUS", "NOT", "LSQB"}
    if {"ADD_OP", "MUL_OP", "AMP", "CMP_OP"} <= exp:
        words.append("an operator")
        exp -= {"ADD_OP", "MUL_OP", "AMP", "CMP_OP", "CARET", "AND", "OR", "XOR"}
    words += sorted(_TOKEN_WORDS.get(e, e) for e in exp)
    if len(words) > 1:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return words[0] if words else "something else"


def parse_calc(text: str, source: Source | None = None, offset: int = 0) -> A.Node:
    """Parse a calculation; ``offset`` is where ``text`` starts inside ``source`` (for error positions).

    AST positions are absolute offsets into ``source`` when one is given.
    """
    src = source or Source("<calculation>", text)
    if not text.strip():
        raise ParseError("the calculation is empty", span=src.span(offset))
    if only_comments(text):
        # FileMaker comments out a calculation it cannot keep (``/*<Function Missing>*/``) and still runs the
        # step: the calculation gives empty text.
        return A.Str(pos=offset + len(text) - len(text.lstrip()), value="")
    from lark.exceptions import UnexpectedInput, VisitError

    from .lark_tree import NumberOutOfRange, parser
    try:
        tree = parser().parse(text)
    except UnexpectedInput as e:
        raise _error(e, text, src, offset) from None
    except VisitError as e:  # a transformer method failed: report as a syntax error
        raise ParseError(f"invalid calculation ({e.orig_exc})", span=src.span(offset)) from None
    except NumberOutOfRange as e:
        raise ParseError("this number is out of range (the largest is about 10^999)",
                         span=src.span(offset + e.pos)) from None
    too_deep = deeper_than(tree, MAX_CALC_DEPTH)
    if too_deep is not None:
        raise ParseError(f"the calculation is nested more than {MAX_CALC_DEPTH:,} levels deep (each function "
                         "call, If, Let and operator of a chain counts one level)", span=src.span(offset + too_deep.pos))
    ensure_stack()  # compiling and evaluating recurse once per level
    if offset:
        tree = _shift(tree, offset)
    return tree


def only_comments(text: str) -> bool:
    """Whether the calculation is nothing but ``/* … */`` and ``// …`` comments (at least one)."""
    i, n, seen = 0, len(text), False
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return False  # unterminated: the parser says so
            i, seen = end + 2, True
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i, seen = (n if end < 0 else end + 1), True
        else:
            return False
    return seen


def _error(e, text: str, src: Source, offset: int) -> ParseError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
    pos = getattr(e, "pos_in_stream", None)
    if isinstance(e, UnexpectedEOF) or pos is None:
        pos = len(text.rstrip())
        exp = getattr(e, "expected", None) or []
        msg = f"the calculation ends too early; expected {_expected_words(exp)}" if exp else \
            "the calculation ends too early"
        if text.count("(") > text.count(")"):
            msg = "the calculation ends before a “)” closes the “(”"
        return ParseError(msg, span=src.span(offset + pos))
    if isinstance(e, UnexpectedCharacters):
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            msg = "this text constant has no closing quote"
        else:
            msg = f"unexpected character “{ch}”; expected {_expected_words(e.allowed or [])}"
        return ParseError(msg, span=src.span(offset + pos))
    if isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.type == "$END":
            msg = f"the calculation ends too early; expected {_expected_words(e.expected)}"
            if text.count("(") > text.count(")"):
                msg = "the calculation ends before a “)” closes the “(”"
            return ParseError(msg, span=src.span(offset + len(text.rstrip())))
        return ParseError(f"unexpected “{tok}”; expected {_expected_words(e.expected)}",
                          span=src.span(offset + tok.start_pos, offset + (tok.end_pos or tok.start_pos + 1)))
    return ParseError(str(e), span=src.span(offset + pos))


def deeper_than(tree: A.Node, limit: int) -> A.Node | None:
    """The first node found deeper than ``limit`` levels, or None; iterative, so any depth can be measured."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        for name in node._fields:
            v = getattr(node, name)
            items = v if isinstance(v, tuple) else (v,)
            stack.extend((c, depth + 1) for c in items if isinstance(c, A.Node))
    return None


def _shift(node, offset: int):
    """Move every node's position by ``offset`` (nodes are immutable: rebuild)."""
    if isinstance(node, tuple):
        return tuple(_shift(n, offset) for n in node)
    if not isinstance(node, A.Node):
        return node
    changes = {"pos": node.pos + offset}
    for name in node._fields:
        if name != "pos":
            v = getattr(node, name)
            if isinstance(v, (A.Node, tuple)):
                changes[name] = _shift(v, offset)
    return node.replace(**changes)
