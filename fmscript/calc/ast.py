"""Calculation AST: small value objects with the offset of each node in the calculation text.

Both languages produce the same nodes: ``Get ( 文档路径 )`` becomes ``GetName("DocumentsPath")`` here.
``pos`` (a character offset) is kept for error messages but not compared.
"""
from __future__ import annotations

from ..value_object import ValueObject


class Node(ValueObject):
    __slots__ = ("pos",)
    _defaults = {"pos": 0}
    _nocompare = frozenset({"pos"})


class Num(Node):
    __slots__ = ("value",)


class Str(Node):
    __slots__ = ("value",)


class Var(Node):
    """``$name`` or ``$$name`` (with its dollars), optionally a repetition."""

    __slots__ = ("name", "rep")
    _defaults = {"pos": 0, "rep": None}


class Field(Node):
    """``Table::Field`` (table None: a field of the current layout's table), optionally a repetition."""

    __slots__ = ("table", "name", "rep")
    _defaults = {"pos": 0, "rep": None}


class Name(Node):
    """A bare name: a Let variable, a constant (True, JSONString…), a zero-argument function, or a field."""

    __slots__ = ("name",)


class GetName(Node):
    """The argument of ``Get ( … )``, already mapped to its English name."""

    __slots__ = ("name",)


class Call(Node):
    __slots__ = ("name", "args")


class ListLit(Node):
    """``[ a ; b ]``: only valid as Let's binding list or Substitute's and JSONSetElement's lists."""

    __slots__ = ("items",)


class Unary(Node):
    __slots__ = ("op", "operand")  # op: '-', '+', 'not'


class Binary(Node):
    __slots__ = ("op", "left", "right")  # + - * / ^ & = ≠ < > ≤ ≥ and or xor
