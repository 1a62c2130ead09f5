"""``fmscript check``: every problem of a script file, in line order, as loading and running it would find them.

The parser reports what it can see in the text; compiling reports what the steps make of their options; a
``Perform Script`` naming a script the file does not have fails when it runs (FileMaker error 104), so it
is reported too.  An error the parser found in a step is not reported a second time by the compiler.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from ..calc import ast as C
from ..errors import E_SCRIPT_MISSING, FMScriptError
from ..source import Source
from . import ast as S
from .parse import check_blocks
from .scan import scan

def check_script_file(sf: S.ScriptFile, parse_errors: list[FMScriptError],
                      compile_fn: Callable[[S.Script, list[FMScriptError]], object],
                      known_scripts: Iterable[str] = (), run_time: bool = True) -> list[FMScriptError]:
    """Errors and warnings of ``sf`` sorted by position; ``compile_fn(script, errors)`` compiles one script
    collecting its errors, and ``known_scripts`` are scripts loaded from elsewhere that Perform Script may call.
    ``run_time=False`` leaves out warnings and what only fails when it runs (a missing script)."""
    src = sf.source
    problems: list[FMScriptError] = list(parse_errors) + (list(sf.warnings) if run_time else [])
    parse_lines = {e.span.line for e in parse_errors if e.span is not None}
    extents = _step_lines(src)
    for script in sf.scripts:
        if check_blocks(script, src):
            continue  # jumps need balanced blocks; the parser has reported what is open or stray
        errors: list[FMScriptError] = []
        compile_fn(script, errors)
        for e in errors:
            lines = extents.get(e.span.line) if e.span is not None else None
            if lines is None or not any(ln in parse_lines for ln in lines):
                problems.append(e)
    if run_time:
        problems += missing_scripts(sf, known_scripts)
    problems.sort(key=lambda e: (e.span.line, e.span.col) if e.span is not None else (0, 0))
    return _unique(problems)


def missing_scripts(sf: S.ScriptFile, known: Iterable[str] = ()) -> list[FMScriptError]:
    """``Perform Script [ "Name" ]`` naming a script that is neither in the file nor in ``known`` (error 104)."""
    names = {s.name.casefold(): s.name for s in sf.scripts}
    names.update({n.casefold(): n for n in known})
    out: list[FMScriptError] = []
    for script in sf.scripts:
        for st in script.steps:
            if st.name != "Perform Script" or st.disabled:
                continue
            target = st.unlabelled()
            if not target or not isinstance(target[0].value, S.Calc) or isinstance(target[0].value, S.Missing):
                continue
            node, opt = target[0].value.node, target[0]
            if not isinstance(node, C.Str) or node.value.casefold() in names:
                continue
            text = target[0].value.text
            out.append(FMScriptError(missing_script_message(node.value, names.values(), " in this file"),
                                     code=E_SCRIPT_MISSING, step=st.name,
                                     span=sf.source.span(opt.pos, opt.pos + len(text))))
    return out


def missing_script_message(name: str, scripts: Iterable[str], where: str = "") -> str:
    """FileMaker's error 104 for ``Perform Script`` of ``name``, with the closest of ``scripts`` when one is
    near: the same words from ``check`` (``where``: " in this file") and from a run (whose loaded scripts
    may come from several files)."""
    names = {s.casefold(): s for s in scripts}
    close = difflib.get_close_matches(name.casefold(), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean “{names[close[0]]}”?" if close else ""
    return f"there is no script named “{name}”{where}{hint}"


def _step_lines(src: Source) -> dict[int, range]:
    """Each line of the text → the lines of the step written there (a step may span lines)."""
    out: dict[int, range] = {}
    raw_lines, _ = scan(src)
    for raw in raw_lines:
        first = src.line_col(raw.start)[0]
        last = src.line_col(max(raw.end - 1, raw.start))[0]
        lines = range(first, last + 1)
        for ln in lines:
            out[ln] = lines
    return out


def _unique(problems: list[FMScriptError]) -> list[FMScriptError]:
    seen: set[tuple] = set()
    out = []
    for e in problems:
        key = (e.span.line if e.span else 0, e.span.col if e.span else 0, e.code, e.message)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
