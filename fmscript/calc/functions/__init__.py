"""The calculation function registry: every FileMaker function is one decorated Python function.

``@function("Left ( text ; numberOfCharacters )")`` registers ``Left`` with its arity read from the
signature; the signature is also what an arity error and ``:help`` show.  Families live in the modules
of this package and are imported on first use by :func:`registry`.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from decimal import DivisionByZero, Overflow

from ...errors import E_CALC_SYNTAX, E_DIVIDE_BY_ZERO, CalcError  # noqa: F401  (calc modules import it here)

# FileMaker's own calculation errors that Python signals by exception: the decimal context's traps for a
# division by zero and for a number beyond its 400-digit range, and a calculation nested deeper than the
# interpreter's stack.  They give ``?`` like any CalcError; every other Python exception is a bug in
# fmscript and is not caught here.
LIMIT_ERRORS: tuple[type[BaseException], ...] = (DivisionByZero, Overflow, RecursionError)


def as_calc_error(e: BaseException) -> CalcError:
    """The CalcError standing for one of :data:`LIMIT_ERRORS`."""
    if isinstance(e, RecursionError):
        return CalcError("the calculation is nested too deeply", code=E_CALC_SYNTAX)
    if isinstance(e, DivisionByZero):
        return CalcError("division by zero", code=E_DIVIDE_BY_ZERO)
    return CalcError("the number is out of range", code=E_CALC_SYNTAX)


class FunctionDef:
    """A registered calculation function.

    ``mode``: "value" calls ``impl(*values)``; "context" ``impl(frame, *values)``; "lazy"
    ``impl(frame, *closures)``.  ``lists``: accepts ``[ a ; b ]`` arguments (Substitute, JSONSetElement);
    ``bare``: may be written without parentheses (Pi, Random, True); ``volatile``: the result changes
    between calls (Random, Get ( CurrentTime )).
    """

    __slots__ = ("name", "signature", "impl", "min_args", "max_args", "mode", "doc", "category", "lists",
                 "bare", "volatile", "names")

    def __init__(self, name: str, signature: str, impl: Callable, min_args: int, max_args: int | None,
                 mode: str, doc: str = "", category: str = "", lists: bool = False, bare: bool = False,
                 volatile: bool = False, names: tuple[str, ...] = ()):
        self.name, self.signature, self.impl, self.min_args, self.max_args = name, signature, impl, min_args, max_args
        self.mode, self.doc, self.category, self.lists, self.bare = mode, doc, category, lists, bare
        self.volatile, self.names = volatile, names


FUNCTIONS: dict[str, FunctionDef] = {}
GET_NAMES: dict[str, Callable] = {}  # English Get name (casefolded) → impl(frame)
GET_DOCS: dict[str, str] = {}

_FAMILIES = ("core", "text", "number", "logic", "json_fns", "datetime_fns", "get", "extra", "records", "ai_fns",
             "ai_more_fns", "fields_fns", "embedding_fns", "related_fns")
_loaded = False


def _arity(signature: str) -> tuple[int, int | None]:
    if "(" not in signature:
        return 0, 0
    inner = signature[signature.index("(") + 1: signature.rindex(")")]
    variadic = "..." in inner or "…" in inner
    required_part = inner.split("{", 1)[0]
    required = len([p for p in required_part.split(";") if p.strip()])
    total = len([p for p in re.sub(r"[{}\[\]]", "", inner).replace("...", "").replace("…", "").split(";")
                 if p.strip()])
    return required, (None if variadic else max(total, required))


def define_function(signature: str, fn: Callable, *, mode: str = "value", lists: bool = False,
                    bare: bool | None = None, volatile: bool = False, names: tuple[str, ...] = (),
                    args: tuple[int, int | None] | None = None, category: str = "") -> FunctionDef:
    """The definition of a function named by its FileMaker signature (registered nowhere yet)."""
    name = signature.split("(", 1)[0].strip()
    lo, hi = args if args is not None else _arity(signature)
    doc = (fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    cat = category or fn.__module__.rsplit(".", 1)[-1].replace("_fns", "").replace("core", "logic")
    return FunctionDef(name, signature, fn, lo, hi, mode, doc, cat, lists,
                       bare if bare is not None else (hi == 0), volatile, names)


def function(signature: str, **kw):
    """Register a built-in calculation function under the name its FileMaker signature starts with."""

    def deco(fn: Callable) -> Callable:
        d = define_function(signature, fn, **kw)
        for n in (d.name, *d.names):
            FUNCTIONS[n.casefold()] = d
        return fn

    return deco


def get_value(name: str, *, zh: str | None = None, doc: str = ""):
    """Register a ``Get ( name )`` value (``zh`` is informative; the catalogue maps zh-Hans names).

    (Not called ``get``: importing the family module ``get`` makes that name the module.)"""

    def deco(fn: Callable) -> Callable:
        GET_NAMES[name.casefold()] = fn
        GET_DOCS[name] = doc or (fn.__doc__ or "").strip().split("\n")[0]
        return fn

    return deco


def registry() -> dict[str, FunctionDef]:
    global _loaded
    if not _loaded:
        _loaded = True
        for fam in _FAMILIES:
            try:
                importlib.import_module(f"{__name__}.{fam}")
            except ModuleNotFoundError as e:  # a family not written yet
                if e.name != f"{__name__}.{fam}":
                    raise
    return FUNCTIONS


def lookup(name: str) -> FunctionDef | None:
    return registry().get(name.casefold())
