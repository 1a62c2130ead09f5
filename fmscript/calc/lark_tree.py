"""The Lark side of calculation parsing: the LALR parser (built once, cached on disk) and the
transformer that builds AST nodes straight from its reductions.  Imported only when a calculation
must actually be parsed, so that a run served from the script cache never loads Lark."""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation, Overflow
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args

from .. import catalog
from . import ast as A
from .values import CONTEXT

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


class NumberOutOfRange(Exception):
    """A number literal past the calculation's range (``1e9999999``), at offset ``pos``."""

    def __init__(self, pos: int):
        super().__init__(pos)
        self.pos = pos


@v_args(inline=True)
class ToAst(Transformer):
    """Builds AST nodes straight from the LALR parser's reductions (no intermediate tree)."""

    def number(self, t):
        try:
            value = Decimal(t)
            CONTEXT.plus(value)  # what the compiler does with it: Overflow past the exponent range
        except (InvalidOperation, Overflow):
            raise NumberOutOfRange(t.start_pos) from None
        return A.Num(value, pos=t.start_pos)

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

    def name_rep(self, t, _l, rep, _r):
        return A.Field(None, str(t), rep, pos=t.start_pos)

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
            return A.Num(CONTEXT.minus(x.value), pos=op.start_pos)
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
        from ..home import private

        with private():  # Lark writes the cache file itself
            return Lark(grammar, parser="lalr", lexer="contextual", transformer=ToAst(), cache=cache,
                        maybe_placeholders=False)
    except (OSError, EOFError):
        return Lark(grammar, parser="lalr", lexer="contextual", transformer=ToAst(), maybe_placeholders=False)




