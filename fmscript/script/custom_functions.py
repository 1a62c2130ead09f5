"""Custom functions written in a script file, registered in one interpreter's function table.

    Function "Factorial" ( n )
        If ( n ≤ 1 ; 1 ; n * Factorial ( n - 1 ) )
    End Function

(zh-Hans: ``函数 "Factorial" ( n )`` … ``结束函数``.)  The header names the function (quoted, or a bare
name) and its parameters, separated by ``;``; the lines up to ``End Function`` are one calculation, which
reads the parameters by name and may call any function of the interpreter, itself included.  Blocks stand
outside ``Script`` … ``End Script``; they are cut out of the text before the scripts are parsed (replaced by
spaces, so every position in the file stays where it was).

FileMaker's limits hold: custom function calls nest at most 10,000 deep, and one outermost call makes at
most 50,000 custom function calls in all (``SetRecursion`` changes that number, as it does for While);
beyond either the calculation's result is ``?`` and ``Get ( LastErrorDetail )`` says which limit.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from ..calc.compile import compile_node, var_key
from ..calc.functions import CalcError, define_function
from ..calc.functions.logic import iteration_limit
from ..calc.parse import parse_calc
from ..errors import E_CALC_NAME_MISSING, E_CALC_SYNTAX, FMScriptError, ParseError
from ..source import Source

MAX_DEPTH = 10_000  # FileMaker: recursive custom function calls nested deeper give "?"
_DEPTH, _TOTAL = "cf.depth", "cf.total"
_PY_FRAMES_PER_CALL = 16  # Python frames one nested custom function call may take

_HEADER = re.compile(r"^[ \t]*(?:(?i:function)|函数)[ \t]+(?:\"([^\"\n]+)\"|“([^”\n]+)”|([^\s(（\"“]+))[ \t]*"
                     r"(?:[(（]([^)）\n]*)[)）])?[ \t]*\r?$", re.M)
_END = re.compile(r"^[ \t]*(?:(?i:end[ \t]+function)|结束函数)[ \t]*\r?$", re.M)
_PARAM = re.compile(r"^[^\s\d$\"“”;()\[\]+\-*/&=≠<>≤≥^¶:,][^\s\"“”;()\[\]+\-*/&=≠<>≤≥^¶:,]*$")


def open_block(text: str) -> bool:
    """True when the text has a ``Function`` header whose ``End Function`` has not come yet (a REPL waits
    for more lines)."""
    at = 0
    for m in _HEADER.finditer(text):
        if m.start() < at:
            continue
        end = _END.search(text, m.end())
        if end is None:
            return True
        at = end.end()
    return False


@dataclass
class CustomFunction:
    name: str
    params: list[str]
    body: str
    body_offset: int  # where the body starts in the file
    pos: int          # where the header starts


def split_functions(text: str, source: Source) -> tuple[str, list[CustomFunction], list[FMScriptError]]:
    """The text with its ``Function`` blocks blanked out, the blocks, and the errors of their headers."""
    found: list[CustomFunction] = []
    errors: list[FMScriptError] = []
    out = []
    at = 0
    for m in _HEADER.finditer(text):
        if m.start() < at:
            continue  # a header inside an earlier body: that body's text
        end = _END.search(text, m.end())
        if end is None:
            errors.append(ParseError("“Function” needs a matching “End Function”", code=E_CALC_SYNTAX,
                                     span=source.span(m.start())))
            break
        name = (m.group(1) or m.group(2) or m.group(3)).strip()
        params = [p.strip() for p in re.split(r"[;；]", m.group(4))] if (m.group(4) or "").strip() else []
        bad = [p for p in params if not _PARAM.match(p)]
        if bad or len({p.casefold() for p in params}) != len(params):
            errors.append(ParseError(f"the parameters of “{name}” must be distinct names separated by “;”",
                                     code=E_CALC_SYNTAX, span=source.span(m.start(4) if m.group(4) else m.start())))
        else:
            found.append(CustomFunction(name, params, text[m.end():end.start()], m.end(), m.start()))
        out.append(text[at:m.start()])
        out.append(re.sub(r"[^\n]", " ", text[m.start():end.end()]))
        at = end.end()
    out.append(text[at:])
    return "".join(out), found, errors


def register_functions(defs: list[CustomFunction], functions: dict, source: Source,
                       builtins: dict) -> list[FMScriptError]:
    """Add the custom functions to ``functions`` (an interpreter's table) and compile their bodies;
    returns the errors (a body that does not parse, a name that is a built-in function)."""
    errors: list[FMScriptError] = []
    cells = []
    for d in defs:
        key = d.name.casefold()
        if key in builtins and functions.get(key) is builtins[key]:
            errors.append(ParseError(f"“{d.name}” is a built-in function; a custom function needs another name",
                                     code=E_CALC_NAME_MISSING, span=source.span(d.pos)))
            continue
        cell: list = [None]
        signature = f"{d.name} ( {' ; '.join(d.params)} )" if d.params else d.name
        fd = define_function(signature, _caller(d.name, [var_key(p) for p in d.params], cell), mode="lazy",
                             args=(len(d.params), len(d.params)), bare=not d.params, category="custom")
        fd.doc = f"Custom function defined in {source.path}."
        functions[key] = fd
        cells.append((d, cell))
    for d, cell in cells:
        if not d.body.strip():
            errors.append(ParseError(f"the custom function “{d.name}” has no calculation", code=E_CALC_SYNTAX,
                                     span=source.span(d.pos)))
            continue
        try:
            node = parse_calc(d.body, source, d.body_offset)
            cell[0] = compile_node(node, d.body, source, frozenset(p.casefold() for p in d.params),
                                   functions).fn
        except FMScriptError as e:
            errors.append(e)
    return errors


def _caller(name: str, keys: list[str], cell: list):
    """The implementation of one custom function: arguments bound as Let names of its body, with
    FileMaker's depth and call-count limits."""
    def call(f, *args):
        values = [a(f) for a in args]
        ext = f.session.extensions
        depth = ext.get(_DEPTH, 0)
        if depth == 0:
            ext[_TOTAL] = 0
        total = ext[_TOTAL] + 1
        limit = iteration_limit(f.session)
        if total > limit:
            raise CalcError(f"custom functions were called more than {limit} times in one calculation "
                            f"(SetRecursion sets the limit)", code=E_CALC_SYNTAX)
        if depth >= MAX_DEPTH:
            raise CalcError(f"“{name}” recursed more than {MAX_DEPTH} calls deep", code=E_CALC_SYNTAX)
        body = cell[0]
        if body is None:
            raise CalcError(f"the custom function “{name}” has no valid calculation", code=E_CALC_SYNTAX)
        ext[_TOTAL], ext[_DEPTH] = total, depth + 1
        let = f.let
        saved = [(k, let.get(k, _MISSING)) for k in keys]
        old_limit = sys.getrecursionlimit() if depth == 0 else None
        if old_limit is not None:
            sys.setrecursionlimit(max(old_limit, MAX_DEPTH * _PY_FRAMES_PER_CALL + old_limit))
        try:
            for k, v in zip(keys, values):
                let[k] = v
            return body(f)
        finally:
            for k, v in saved:
                if v is _MISSING:
                    let.pop(k, None)
                else:
                    let[k] = v
            ext[_DEPTH] = depth
            if old_limit is not None:
                sys.setrecursionlimit(old_limit)
    return call


_MISSING = object()
