"""Script text → :class:`~fmscript.script.ast.ScriptFile`, reporting every problem of the file at once."""
from __future__ import annotations

import difflib
import re
from pathlib import Path

from .. import catalog
from ..calc import ast as C
from ..calc.parse import parse_calc
from ..errors import E_COMMAND_UNAVAILABLE, E_COMMAND_UNKNOWN, CheckWarning, ErrorList, FMScriptError, ParseError
from ..source import Source
from . import ast as S
from .scan import RawLine, RawSegment, scan
from .steptable import StepTable

COMMENT = "# (Comment)"
UNKNOWN = "<unknown>"
#: How FileMaker prints a reference to a deleted object: ``<unknown>``, ``<Table Missing>``, ``<Field Missing>``,
#: ``<Layout Missing>``… (a field's repetition may follow: ``<Table Missing>[2]``).
_MISSING = re.compile(r"^<(unknown|[A-Z][A-Za-z ]{0,40} Missing)>(\[[^\]]*\])?$")
#: Perform Script of a script in another file that FileMaker could not open when it printed the step.
MISSING_FROM_FILE = re.compile(r"^<unknown> from file: “([^”]*)”(?: \(file not open\))?$")
#: Newer FileMaker versions quote the deleted script's name as they quote every script name.
_QUOTED_UNKNOWN = "“<unknown>”"
#: How FileMaker prints the choice "the current one" (resolved when the step runs).
CURRENT = {"<current layout>": "Current Layout", "<current table>": "Current Table",
           "<active object>": "Active Object"}
#: A step of a plug-in FileMaker did not have when it printed the script (the plug-in's id and step number).
_PLUGIN = re.compile(r"^<Unknown external script step from missing plug-in \(\s*(.*?)\s+(\d+)\s*\)>$")
PLUGIN_STEP = "Plug-in Script Step"
#: Options whose value FileMaker prints as a list of entries separated by “;” (each entry is kept as text).
LIST_LABELS = frozenset({"Field Mapping", "Field Order"})
_LAYOUT_REF = re.compile(r'^(?:"([^"]*)"|“([^”]*)”)\s*\(\s*([^()]*?)\s*\)$')
_WORDISH = re.compile(r"^[^\W\d][\w .()/&'’\-–]*$")

BLOCK_OPEN = {"If": "End If", "Loop": "End Loop"}


def parse_script_text(text: str, path: str = "<script>", default_name: str | None = None, *,
                      steps: StepTable) -> S.ScriptFile:
    """Parse a whole file against the step table ``steps``; raises :class:`ErrorList` with every error."""
    sf, errors = parse_collect(text, path, default_name, steps=steps)
    if errors:
        raise ErrorList(errors)
    return sf


def parse_collect(text: str, path: str = "<script>", default_name: str | None = None, *,
                  steps: StepTable) -> tuple[S.ScriptFile, list[FMScriptError]]:
    """Parse a whole file; returns the AST and every error found.  ``steps`` says which steps exist
    (names, labels, constants beyond the catalogue) and which are implemented, with their labels."""
    src = Source(path, text)
    raw_lines, errors = scan(src)
    errors = list(errors)
    warnings: list[CheckWarning] = []
    impl = steps
    scripts: list[S.Script] = []
    uses_headers = any(r.kind == "script" for r in raw_lines)
    current: S.Script | None = None
    if not uses_headers:
        current = S.Script(default_name or (Path(path).stem if path and not path.startswith("<") else "Script"),
                           [], 0)
        scripts.append(current)
    for raw in raw_lines:
        if raw.kind == "script":
            if current is not None and uses_headers:
                errors.append(ParseError(f"“Script \"{raw.name}\"” starts inside script “{current.name}”; "
                                         "close that one with “End Script” first", span=src.span(raw.start)))
            current = S.Script(raw.name, [], raw.start)
            scripts.append(current)
            continue
        if raw.kind == "end_script":
            if current is None:
                errors.append(ParseError("“End Script” without a “Script \"Name\"” before it",
                                         span=src.span(raw.start)))
            current = None
            continue
        if current is None:
            errors.append(ParseError("this step is outside any script: a file that uses “Script \"Name\"” headers "
                                     "needs every step between a header and “End Script”",
                                     span=src.span(raw.start)))
            current = S.Script("(orphan)", [], raw.start)
            continue
        if raw.kind == "comment":
            current.steps.append(S.Step(COMMENT, comment=raw.name, pos=raw.start, written="#"))
            continue
        step = _parse_step(raw, src, impl, errors, warnings)
        if step is not None:
            current.steps.append(step)
    if uses_headers and current is not None and raw_lines and raw_lines[-1].kind != "end_script":
        errors.append(ParseError(f"script “{current.name}” has no “End Script”",
                                 span=src.span(current.pos)))
    names = set()
    for s in scripts:
        key = s.name.casefold()
        if key in names:
            errors.append(ParseError(f"two scripts are named “{s.name}”", span=src.span(s.pos)))
        names.add(key)
        errors += check_blocks(s, src)
    errors.sort(key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
    return S.ScriptFile(src, scripts, warnings), errors


def _suggest(name: str, impl: StepTable) -> str:
    names = impl.step_names()
    by_norm = {catalog.norm(n): n for n in names}
    close = difflib.get_close_matches(catalog.norm(name), list(by_norm), n=1, cutoff=0.6)
    return f"; did you mean “{by_norm[close[0]]}”?" if close else ""


def _parse_step(raw: RawLine, src: Source, impl, errors, warnings) -> S.Step | None:
    plugin = _PLUGIN.match(raw.name) if raw.name.startswith("<") else None
    if plugin is not None:
        return _plugin_step(raw, src, plugin, impl, warnings)
    info = impl.step_info(raw.name) if raw.name else None
    if info is None:
        if raw.kind == "disabled":
            return S.Step(COMMENT, comment="// " + raw.name, pos=raw.start, written="//", disabled=True)
        if not raw.name:
            errors.append(ParseError("a step needs a name before “[”", span=src.span(raw.start)))
        else:
            errors.append(ParseError(f"unknown script step “{raw.name}”{_suggest(raw.name, impl)}",
                                     code=E_COMMAND_UNKNOWN,
                                     span=src.span(raw.name_start, raw.name_start + len(raw.name))))
        return None
    stepdef = impl.get(info.name)
    local_errors: list[FMScriptError] = []
    options = []
    in_list = False  # after “Field Mapping:” FileMaker prints one entry a line, separated by “;”
    for seg in raw.segments:
        opt = _parse_option(seg, src, stepdef, info.name, local_errors, impl, in_list)
        if opt.label is not None:
            in_list = opt.label in LIST_LABELS
        options.append(opt)
    options = tuple(options)
    if raw.kind == "disabled":
        # A disabled step (FileMaker prints it with “//”) is kept but never run; its text may be anything.
        return S.Step(info.name, options, pos=raw.start, written=raw.name, disabled=True)
    errors.extend(local_errors)
    step = S.Step(info.name, options, pos=raw.start, written=raw.name)
    for o in options:
        if isinstance(o.value, S.Missing):
            what = o.value.text.split("]")[0]
            warnings.append(CheckWarning(f"{what} is how FileMaker prints a reference to a layout, table, field or "
                                         f"script that was deleted; {info.name} fails when it runs, with "
                                         "FileMaker's error for the missing object",
                                         span=src.span(o.value.offset, o.value.offset + len(o.value.text))))
    if stepdef is None:
        warnings.append(CheckWarning(f"“{info.name}” is not implemented by fmscript; running it fails: "
                                     "command is unavailable", code=E_COMMAND_UNAVAILABLE,
                                     span=src.span(raw.name_start, raw.name_start + len(raw.name))))
    elif stepdef.validate is not None and not local_errors:
        try:
            stepdef.validate(step)
        except FMScriptError as e:
            errors.append(e.with_span(src.span(e.span_offset if hasattr(e, "span_offset") else raw.start)))
    return step


def _plugin_step(raw: RawLine, src: Source, m: re.Match, impl, warnings) -> S.Step:
    """``<Unknown external script step from missing plug-in ( MBSP 2 )>``: parsed, reported by check, and
    error 3 when it runs, as a step of a plug-in that is not installed."""
    pos = raw.name_start
    options = (S.Option("Plug-in", S.Calc(C.Str(m.group(1), pos=pos), f'"{m.group(1)}"', pos), pos),
               S.Option("Step", S.Calc(C.Num(m.group(2), pos=pos), m.group(2), pos), pos))
    disabled = raw.kind == "disabled"
    if not disabled and impl.get(PLUGIN_STEP) is None:
        warnings.append(CheckWarning(f"a step of the plug-in “{m.group(1)}”, which FileMaker did not have when "
                                     "it printed this script and fmscript does not run; running it fails: "
                                     "command is unavailable", code=E_COMMAND_UNAVAILABLE,
                                     span=src.span(raw.name_start, raw.name_start + len(raw.name))))
    return S.Step(PLUGIN_STEP, options, pos=raw.start, written=raw.name, disabled=disabled)


def _parse_option(seg: RawSegment, src: Source, stepdef, step_name: str, errors, impl: StepTable,
                  in_list: bool = False) -> S.Option:
    label = None
    value_text, value_start = seg.value, seg.value_start
    if seg.label is not None:
        label = impl.label(seg.label)
        if label is None:
            if _WORDISH.match(seg.label) and stepdef is not None:
                close = difflib.get_close_matches(catalog.norm(seg.label),
                                                  [catalog.norm(n) for n in stepdef.labels], n=1, cutoff=0.6)
                hint = f"; did you mean “{_display_label(close[0], stepdef)}”?" if close else ""
                errors.append(ParseError(f"unknown option “{seg.label}” for {step_name}{hint}",
                                         span=src.span(seg.label_start, seg.label_start + len(seg.label))))
                return S.Option(None, S.Raw(seg.text), seg.start)
            if not _WORDISH.match(seg.label):
                # Not a label after all (no calculation has a top-level single colon, so it is raw text).
                label, value_text, value_start = None, seg.text, seg.start
            else:
                return S.Option(None, S.Raw(seg.text), seg.start, seg.label)
        elif stepdef is not None and stepdef.labels and label not in stepdef.labels:
            errors.append(ParseError(f"{step_name} has no option “{seg.label}”; its options are: "
                                     + ", ".join(sorted(stepdef.labels)),
                                     span=src.span(seg.label_start, seg.label_start + len(seg.label))))
    if not value_text:
        if label is None:
            return S.Option(None, None, seg.start)
        return S.Option(label, None, seg.start, seg.label)
    # Bare words: constants (On, Table, Restore…) and flag options (Verify SSL Certificates…).
    word = impl.constant(value_text)
    if word is None and label is None:
        word = impl.label(value_text)
        if word is not None:
            return S.Option(None, S.Word(word), seg.start, value_text)
    if word is not None and not value_text.startswith(('"', "“")):
        if word == "No dialog" and label is None:
            # FileMaker printed this setting both ways; one AST for both.
            return S.Option("With dialog", S.Word("Off"), seg.start, value_text)
        return S.Option(label, S.Word(word), seg.start, seg.label)
    if label is None and value_text.startswith(("[", "［")) and value_text.endswith(("]", "］")):
        # A list FileMaker prints in brackets (Data Tables: From list ; [ Products, Orders ]): no calculation
        # starts with “[”, so it is the list, read by the step.
        return S.Option(None, S.Raw(value_text), seg.start)
    if value_text.startswith("<"):
        current = CURRENT.get(value_text.casefold())
        if current is not None:
            return S.Option(label, S.Word(current), seg.start, seg.label)
        if _MISSING.match(value_text) or MISSING_FROM_FILE.match(value_text):
            return S.Option(label, S.Missing(C.Str(value_text, pos=value_start), value_text, value_start),
                            seg.start, seg.label)
    if value_text == _QUOTED_UNKNOWN:
        return S.Option(label, S.Missing(C.Str(UNKNOWN, pos=value_start), value_text, value_start),
                        seg.start, seg.label)
    m = _LAYOUT_REF.match(value_text)
    if m:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return S.Option(label, S.LayoutRef(name, m.group(3) or None), seg.start, seg.label)
    try:
        node = parse_calc(value_text, src, value_start)
        return S.Option(label, S.Calc(node, value_text, value_start), seg.start, seg.label)
    except ParseError as e:
        consumed = stepdef is not None and (label is None and not in_list or label in stepdef.calc_labels)
        if consumed:
            errors.append(e)
        return S.Option(label, S.Raw(value_text), seg.start, seg.label)


def _display_label(normed: str, stepdef) -> str:
    for l in stepdef.labels:
        if catalog.norm(l) == normed:
            return l
    return normed


def check_blocks(script: S.Script, src: Source) -> list[ParseError]:
    """If / Else If / Else / End If and Loop / Exit Loop If / End Loop must balance."""
    errors: list[ParseError] = []
    stack: list[tuple[str, S.Step, bool]] = []  # (opener, step, else_seen)
    for st in script.steps:
        if st.disabled:
            continue
        name = st.name
        if name in BLOCK_OPEN:
            stack.append((name, st, False))
        elif name in ("Else If", "Else"):
            if not stack or stack[-1][0] != "If":
                errors.append(ParseError(f"“{name}” without an open “If”", span=src.span(st.pos)))
                continue
            opener, ost, else_seen = stack[-1]
            if else_seen:
                errors.append(ParseError(f"“{name}” after “Else” in the If at line {src.line_col(ost.pos)[0]}",
                                         span=src.span(st.pos)))
            if name == "Else":
                stack[-1] = (opener, ost, True)
        elif name in ("End If", "End Loop"):
            want = "If" if name == "End If" else "Loop"
            if not stack:
                errors.append(ParseError(f"“{name}” without an open “{want}”", span=src.span(st.pos)))
                continue
            if stack[-1][0] != want:
                opener, ost, _ = stack[-1]
                errors.append(ParseError(f"“{name}” found, but the “{opener}” at line "
                                         f"{src.line_col(ost.pos)[0]} is still open: missing "
                                         f"“{BLOCK_OPEN[opener]}”", span=src.span(st.pos)))
                # Recover: pop up to the matching opener if there is one.
                idx = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == want), None)
                if idx is not None:
                    del stack[idx:]
                continue
            stack.pop()
        elif name == "Exit Loop If":
            if not any(o == "Loop" for o, _, _ in stack):
                errors.append(ParseError("“Exit Loop If” outside a Loop", span=src.span(st.pos)))
    for opener, ost, _ in stack:
        errors.append(ParseError(f"missing “{BLOCK_OPEN[opener]}” for this “{opener}”",
                                 span=src.span(ost.pos, ost.pos + len(ost.written or opener))))
    return errors

