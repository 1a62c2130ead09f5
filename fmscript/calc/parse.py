"""Calculation text → AST, with Lark's LALR parser built once per process (and cached on disk)."""
from __future__ import annotations

import hashlib
import os
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .. import catalog
from ..errors import ParseError
from ..source import Source
from . import ast as A

_STRING_ESCAPES = re.compile(r'\\(.)', re.S)


def _grammar_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    installed = here / "grammar"
    return installed if installed.is_dir() else here.parent / "grammar"


_STRING_PARTS = re.compile(r'\\(.)|¶', re.S)


def _unescape(body: str) -> str:
    # Inside quotes ¶ is a return (CR); \" \\ and \¶ are escapes; any other backslash is literal.
    if "\\" not in body and "¶" not in body:
        return body

    def part(m):
        ch = m.group(1)
        if ch is None:
            return "\r"
        return ch if ch in '"\\¶' else "\\" + ch
    return _STRING_PARTS.sub(part, body)


@v_args(inline=True)
class ToAst(Transformer):
    """Builds AST nodes straight from the LALR parser's reductions (no intermediate tree)."""

    def number(self, t):
        return A.Num(Decimal(t), pos=t.start_pos)

    def string(self, t):
        return A.Str(_unescape(t[1:-1]), pos=t.start_pos)

    def cstring(self, t):
        return A.Str(t[1:-1], pos=t.start_pos)

    def pilcrow(self, t):
        return A.Str("\r", pos=t.start_pos)

    def var(self, t):
        return A.Var(str(t), pos=t.start_pos)

    def var_rep(self, t, _l, rep, _r):
        return A.Var(str(t), rep, pos=t.start_pos)

    def field(self, t):
        return _field(t)

    def braced_field(self, t):
        return _field(t)

    def field_rep(self, t, _l, rep, _r):
        f = _field(t)
        return A.Field(f.table, f.name, rep, pos=f.pos)

    def name(self, t):
        return A.Name(str(t), pos=t.start_pos)

    def call(self, name, _l, *rest):
        args = rest[0] if len(rest) == 2 else ()
        fname = str(name)
        if fname.casefold() == "get" and len(args) == 1 and isinstance(args[0], (A.Name, A.Field)):
            arg = args[0]
            if isinstance(arg, A.Name):
                return A.Call("Get", (A.GetName(catalog.get_name(arg.name) or arg.name, pos=arg.pos),),
                              pos=name.start_pos)
        return A.Call(fname, tuple(args), pos=name.start_pos)

    def paren(self, _l, x, _r):
        return x

    def args(self, *items):
        return tuple(i for i in items if not isinstance(i, Token))

    def list_(self, lsqb, *items):
        return A.ListLit(tuple(i for i in items if not isinstance(i, Token)), pos=lsqb.start_pos)

    def neg(self, op, x):
        if isinstance(x, A.Num):
            return A.Num(-x.value, pos=op.start_pos)
        return A.Unary("-", x, pos=op.start_pos)

    def pos(self, op, x):
        return A.Unary("+", x, pos=op.start_pos)

    def not_op(self, op, x):
        return A.Unary("not", x, pos=op.start_pos)

    def _bin(self, a, op, b, name=None):
        return A.Binary(name or str(op), a, b, pos=op.start_pos)

    def arith(self, a, op, b):
        return self._bin(a, op, b)

    def concat_op(self, a, op, b):
        return self._bin(a, op, b, "&")

    def compare(self, a, op, b):
        o = str(op)
        o = {"<>": "≠", "<=": "≤", ">=": "≥"}.get(o, o)
        return self._bin(a, op, b, o)

    def and_op(self, a, op, b):
        return self._bin(a, op, b, "and")

    def or_op(self, a, op, b):
        return self._bin(a, op, b, "or")

    def xor_op(self, a, op, b):
        return self._bin(a, op, b, "xor")

    def __default_token__(self, t):
        return t


def _field(t: Token) -> A.Field:
    text = str(t)
    if text.startswith("${"):
        inner = text[2:-1].strip()
    else:
        inner = text
    if "::" in inner:
        table, _, name = inner.partition("::")
        return A.Field(table.strip(), name.strip(), pos=t.start_pos)
    return A.Field(None, inner, pos=t.start_pos)


@lru_cache(maxsize=1)
def parser() -> Lark:
    grammar = (_grammar_dir() / "calc.lark").read_text(encoding="utf-8")
    cache: str | bool = False
    try:
        from ..home import cache_dir

        digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
        d = cache_dir(ensure=True)
        cache = str(d / f"calc-{digest}.lark.cache")
    except OSError:
        cache = False
    try:
        return Lark(grammar, parser="lalr", lexer="contextual", transformer=ToAst(), cache=cache,
                    maybe_placeholders=False)
    except (OSError, EOFError):
        return Lark(grammar, parser="lalr", lexer="contextual", transformer=ToAst(), maybe_placeholders=False)


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
    try:
        tree = parser().parse(text)
    except UnexpectedInput as e:
        raise _error(e, text, src, offset) from None
    except VisitError as e:  # a transformer method failed: report as a syntax error
        raise ParseError(f"invalid calculation ({e.orig_exc})", span=src.span(offset)) from None
    if offset:
        tree = _shift(tree, offset)
    return tree


def _error(e: UnexpectedInput, text: str, src: Source, offset: int) -> ParseError:
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


def _shift(node, offset: int):
    """Move every node's position by ``offset`` (dataclasses are frozen: rebuild)."""
    import dataclasses

    if isinstance(node, tuple):
        return tuple(_shift(n, offset) for n in node)
    if not isinstance(node, A.Node):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        if f.name == "pos":
            continue
        v = getattr(node, f.name)
        if isinstance(v, (A.Node, tuple)):
            changes[f.name] = _shift(v, offset)
    return dataclasses.replace(node, pos=node.pos + offset, **changes)
