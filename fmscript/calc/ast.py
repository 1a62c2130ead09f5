"""Calculation AST: small frozen dataclasses with the offset of each node in the calculation text.

Both languages produce the same nodes: ``Get ( 文档路径 )`` becomes ``GetName("DocumentsPath")`` here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Node:
    pos: int = field(default=0, compare=False, kw_only=True)  # character offset in the calc text


@dataclass(frozen=True, slots=True)
class Num(Node):
    value: Decimal


@dataclass(frozen=True, slots=True)
class Str(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str          # with its $ or $$
    rep: Node | None = None


@dataclass(frozen=True, slots=True)
class Field(Node):
    table: str | None  # None: a field of the current layout's table
    name: str
    rep: Node | None = None


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A bare name: a Let variable, a constant (True, JSONString…), a zero-argument function, or a field."""

    name: str


@dataclass(frozen=True, slots=True)
class GetName(Node):
    """The argument of ``Get ( … )``, already mapped to its English name."""

    name: str


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    """``[ a ; b ]``: only valid as Let's binding list or Substitute's pairs."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # '-', '+', 'not'
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # + - * / ^ & = ≠ < > ≤ ≥ and or xor
    left: Node
    right: Node
