"""Save a Copy as XML's form of a script step (``<Step id name enable>`` holding ``<ParameterValues>`` of typed
``<Parameter>``s) read into the snippet form of :mod:`.steps`, so that each step is converted by its one row of
:data:`.steps.SPECS` whichever XML it came from.

A step without a row but with parameters takes FileMaker's own readable text from the export's ``DDR_INFO``
(``StepText``) when the export has it; otherwise it becomes the comment naming the element that
:func:`.steps.step_to_text` writes for such a step (and is reported).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from .ids import STEP_NAMES
from .steps import OWN, SPECS, State

#: Booleans that are the Script Workspace's own state (a collapsed If or Loop), not an option of the step.
UI_ONLY_BOOLEANS = {"Collapsed"}
#: Parameters that only matter on a screen (Go to Layout's animation): read and not shown, as a headless
#: run has nothing to animate.
UI_ONLY_PARAMETERS = {"Animation"}

#: SaXML names a Boolean by its (English) label and a stable id; the snippet form names it by element.
BOOLEAN_TAGS = {"With dialog": "NoInteract", "Pause": "Pause", "Restore": "Restore",
                "Exit after last": "Exception", "Wait for completion": "WaitForCompletion",
                "Skip data entry validation": "Option", "Override ESS locking conflicts": "ESSForceCommit"}
BOOLEAN_IDS = {"128": "NoInteract", "16777216": "Pause"}

#: Steps whose options the export keeps only in the bits of ``<Options>`` (no ``<ParameterValues>``): their text
#: comes from DDR_INFO (``#[OBSOLETE]  Set Allowed Orientations [ Portrait:On; … ]``).
OPTIONS_IN_FLAGS = {"Set Allowed Orientations"}
OBSOLETE = "#[OBSOLETE]"

ROW_PAGE = {"First": "First", "Last": "Last", "Previous": "Previous", "Next": "Next",
            "By Calculation": "ByCalculation", "ByCalculation": "ByCalculation"}


def canonical_name(step: ET.Element) -> str:
    """The catalogue's English name: by id first (SaXML writes names in the exporting client's language)."""
    try:
        sid = int(step.get("id", "0") or 0)
    except ValueError:
        sid = 0
    return STEP_NAMES.get(sid) or step.get("name", "")


def calc_text(el: ET.Element | None) -> str | None:
    """The text of SaXML's ``<Calculation datatype position><Calculation><Text>…`` (or any nesting of it)."""
    if el is None:
        return None
    for t in el.iter("Text"):
        return t.text or ""
    for c in el.iter("Calculation"):
        if len(c) == 0:
            return c.text or ""
    return None


def _calc(parent: ET.Element, text: str, tag: str | None = None) -> None:
    holder = ET.SubElement(parent, tag) if tag else parent
    ET.SubElement(holder, "Calculation").text = text


def _field(out: ET.Element, ref: ET.Element) -> None:
    occ = ref.find(".//TableOccurrenceReference")
    rep = ref.find("repetition")
    attrs = {"table": occ.get("name", "") if occ is not None else "", "id": ref.get("id", "0"),
             "name": ref.get("name", "")}
    if rep is not None and rep.get("value") not in (None, "1"):
        attrs["repetition"] = rep.get("value")
    ET.SubElement(out, "Field", attrs)


def _state_tags(name: str) -> list[str]:
    return [p.tag for p in SPECS.get(name, []) if isinstance(p, State)]


def to_snippet_step(step: ET.Element) -> tuple[ET.Element, list[str]]:
    """The step in the snippet form :func:`.steps.step_to_text` reads, and the parameter types it could not
    map (kept as elements of their own name, so that the row reports them)."""
    name = canonical_name(step)
    out = ET.Element("Step", enable=step.get("enable", "True"), id=step.get("id", "0"), name=name)
    unknown: list[str] = []
    text = step.find("Text")  # a comment may hold its text directly
    if text is not None:
        ET.SubElement(out, "Text").text = text.text or ""
    params = step.find("ParameterValues")
    for p in (params if params is not None else []):
        if p.tag != "Parameter":
            unknown.append(p.tag)
            ET.SubElement(out, p.tag)
            continue
        kind = p.get("type", "")
        if kind in UI_ONLY_PARAMETERS:
            continue
        if kind == "Boolean":
            b = p.find("Boolean")
            if b is None or b.get("type") in UI_ONLY_BOOLEANS:
                continue
            tag = BOOLEAN_TAGS.get(b.get("type", "")) or BOOLEAN_IDS.get(b.get("id", ""))
            states = _state_tags(name)
            if tag is None and len(states) == 1:
                tag = states[0]  # Set Error Capture [ On ], Allow User Abort [ Off ]: the step's one switch
            if tag is None:
                tag = "Set"
            ET.SubElement(out, tag, state=b.get("value", "False"))
        elif kind == "Calculation":
            t = calc_text(p)
            if t is not None:
                _calc(out, t)
        elif kind == "Variable":
            v, n, r = p.find("value"), p.find("Name"), p.find("repetition")
            if v is not None:
                _calc(out, calc_text(v) or "", "Value")
            if r is not None:
                _calc(out, calc_text(r) or "1", "Repetition")
            if n is not None:
                ET.SubElement(out, "Name").text = n.get("value", n.text or "")
        elif kind in ("FieldReference", "Target") and p.find(".//FieldReference") is not None:
            _field(out, p.find(".//FieldReference"))
        elif kind == "List" and p.find(".//ScriptReference") is not None:
            ref = p.find(".//ScriptReference")
            ET.SubElement(out, "Script", id=ref.get("id", "0"), name=ref.get("name", ""))
        elif kind == "List" and name == "Go to Record/Request/Page":
            lst = p.find("List")
            value = ROW_PAGE.get(lst.get("name", "") if lst is not None else "")
            if value is None:
                unknown.append("List")
                ET.SubElement(out, "List")
            else:
                ET.SubElement(out, "RowPageLocation", value=value)
        elif kind == "LayoutReferenceContainer":
            ref = p.find(".//LayoutReference")
            if ref is None:
                unknown.append(kind)  # the original layout, or a layout by name or number
                ET.SubElement(out, kind)
            else:
                ET.SubElement(out, "Layout", id=ref.get("id", "0"), name=ref.get("name", ""))
        elif kind == "Comment":
            c = p.find("Comment")
            ET.SubElement(out, "Text").text = (c.get("value") if c is not None and c.get("value") is not None
                                               else calc_text(p) or "")
        else:
            # ``<Parameter type="X"><X value=…/></Parameter>`` or ``<X><Calculation>…`` is the snippet's ``<X>``
            # (Show Custom Dialog's Title and Message, Perform Script's Parameter, Loop's FlushType).
            inner = p.find(kind) if kind.isidentifier() else None
            t = calc_text(p)
            if kind == "Parameter":
                if t is not None:
                    _calc(out, t)
            elif inner is not None and inner.get("value") is not None and t is None:
                ET.SubElement(out, kind, value=inner.get("value"))
            elif t is not None and kind.isidentifier():
                _calc(out, t, kind)
            else:
                tag = kind if kind.isidentifier() else "Parameter"
                unknown.append(tag)
                ET.SubElement(out, tag)
    return out, unknown


def ddr_key(step: ET.Element) -> str | None:
    """Where the step's readable text lies in DDR_INFO: its ``<DDRREF kind="StepText">``, else its hash."""
    for ref in step.iter("DDRREF"):
        if ref.get("kind") == "StepText" and (ref.text or "").strip():
            return ref.text.strip()
    return step.get("hash")


def needs_text(step: ET.Element, snippet_step: ET.Element, unknown: list[str]) -> bool:
    """Whether only FileMaker's readable text can give this step's options (no row, or parameters the row
    cannot hold)."""
    name = snippet_step.get("name", "")
    if name in ("# (Comment)", "Comment") or snippet_step.get("id") == "89":
        return False
    params = step.find("ParameterValues")
    has_params = params is not None and any(p.get("type") not in UI_ONLY_PARAMETERS for p in params)
    if name not in SPECS:
        return has_params or name in OPTIONS_IN_FLAGS
    read = set().union(*(p.tags for p in SPECS[name])) if SPECS[name] else set()
    return bool(unknown) or any(c.tag not in read for c in snippet_step)


def with_step_text(snippet_step: ET.Element, text: str) -> ET.Element | None:
    """The step carrying FileMaker's own text of its options (``Insert from URL [ … ]``) in fmscript's element
    (none when FileMaker shows none), or None when there is no text."""
    t = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if t.startswith("// "):
        t = t[3:]
    if t.startswith(OBSOLETE):  # how FileMaker prints a step it no longer offers
        t = t[len(OBSOLETE):].lstrip()
    if not t:
        return None
    # no brackets: FileMaker shows every option at its default (``Refresh Window``)
    groups = [g.strip() for g in bracket_groups(t)]
    out = ET.Element("Step", dict(snippet_step.attrib))
    options = " ; ".join(g for g in groups if g)
    if options:
        ET.SubElement(out, OWN).text = f" {options} "
    return out


def bracket_groups(text: str) -> list[str]:
    """What is inside each top-level ``[ … ]`` of a step's text: FileMaker writes some steps' options in several
    groups, one a line (``Check Selection [  ]`` / ``[ Select ]``); quotes and comments may hold brackets."""
    groups, depth, start, i, n = [], 0, 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 1
        elif text.startswith("//", i) and depth > 0 and not (i > 0 and text[i - 1] == ":"):
            # (“http://” FileMaker prints unquoted in XML (from http): http://host/x.xml is no comment)
            end = text.find("\n", i)
            i = n if end < 0 else end - 1
        elif c == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif c == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
        i += 1
    return groups
