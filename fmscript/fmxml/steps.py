"""FileMaker's XML form of script steps (``<Step enable id name>`` with step-specific children, as fmxmlsnippet and
Save a Copy as XML write them) ↔ fmscript's text form.

Each converted step is one row of :data:`SPECS`: the parts of its text form in order, each tied to the XML element
that holds it.  Steps with a row convert both ways in FileMaker's own shape; a step without one keeps its options
text in an ``<fmscriptOptions>`` element of fmscript's own (so text → XML → text is the identity for every step the
catalogue lists), and a FileMaker step without a row and with children becomes a comment naming the element
(reported by the caller), never a guess.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .. import catalog
from ..script.scan import RawLine, scan
from ..source import Source
from .ids import STEP_IDS, STEP_NAMES

OWN = "fmscriptOptions"  # fmscript's element for the options of a step without a row


# ------------------------------------------------------------------------------------------------ parts

class Part:
    """One part of a step's text form; ``read`` takes it from XML, ``write`` puts it into XML; ``tags`` are the
    elements it reads (any other child of a converted step is reported, not silently dropped)."""

    label: str | None = None

    @property
    def tags(self) -> set[str]:
        tag = getattr(self, "tag", None)
        return {tag or "Calculation"}

    def accepts(self, value: str) -> bool:
        """Whether the text ``value`` is one this part can hold (else the step keeps its text as written)."""
        return True

    def read(self, step: ET.Element) -> str | None:  # pragma: no cover - each part says
        raise NotImplementedError

    def write(self, step: ET.Element, value: str | None) -> None:  # pragma: no cover
        raise NotImplementedError


def _calc_el(parent: ET.Element, text: str) -> ET.Element:
    el = ET.SubElement(parent, "Calculation")
    el.text = text
    return el


class Calc(Part):
    """A calculation: ``<Calculation>`` directly in the step (``label`` None: written without one), or inside
    ``<tag>``."""

    def __init__(self, label: str | None = None, tag: str | None = None, aliases: tuple[str, ...] = ()):
        self.label, self.tag, self.aliases = label, tag, aliases

    def read(self, step):
        holder = step.find(self.tag) if self.tag else step
        if holder is None:
            return None
        c = holder.find("Calculation")
        return None if c is None else (c.text or "")

    def write(self, step, value):
        if value is None:
            return
        holder = ET.SubElement(step, self.tag) if self.tag else step
        _calc_el(holder, value)


class State(Part):
    """``<tag state="True"/>`` shown as ``label: On/Off``, or as a bare ``word`` when true (``invert``: ``With
    dialog: Off`` is ``NoInteract state="True"``).  Written only when the text shows it, so that text → XML → text
    is the identity; FileMaker's own XML always has it, and then it is always shown."""

    def __init__(self, tag: str, label: str | None = None, word: str | None = None, invert: bool = False):
        self.tag, self.label, self.word, self.invert = tag, label, word, invert

    def read(self, step):
        el = step.find(self.tag)
        if el is None:
            return None
        on = (el.get("state", "False") == "True") != self.invert
        if self.word is not None:
            return self.word if on else None
        return "On" if on else "Off"

    def accepts(self, value):
        return self.word is not None or (catalog.constant(value.strip()) or value.strip()) in ("On", "Off")

    def write(self, step, value):
        if value is None:
            return
        if self.word is not None:
            on = True
        else:
            on = (catalog.constant(value.strip()) or value.strip()) == "On"
        ET.SubElement(step, self.tag, state=str(on != self.invert))


class Const(Part):
    """A label whose value FileMaker prints but does not store (``Specified: From list`` beside ``<Script>``)."""

    tags: set[str] = set()

    def __init__(self, label: str, value: str, when: str):
        self.label, self.value, self.when = label, value, when

    def read(self, step):
        return self.value if step.find(self.when) is not None else None

    def write(self, step, value):
        pass


class FieldRef(Part):
    """``<Field table name/>`` shown as ``Table::Field`` (a repetition as ``[n]``)."""

    tags = {"Field"}

    def accepts(self, value):
        return bool(re.match(r"^[^\"“”$;]+(?:\[\d+\])?$", value.strip()))

    def read(self, step):
        el = step.find("Field")
        if el is None:
            return None
        t, n = el.get("table", ""), el.get("name", "")
        rep = el.get("repetition")
        return (f"{t}::{n}" if t else n) + (f"[{rep}]" if rep and rep != "1" else "")

    def write(self, step, value):
        if value is None:
            return
        m = re.match(r"^(.*?)(?:\[(\d+)\])?$", value.strip(), re.S)
        ref, rep = m.group(1), m.group(2)
        table, _, name = ref.rpartition("::")
        attrs = {"table": table, "id": "0", "name": name}
        if rep:
            attrs["repetition"] = rep
        ET.SubElement(step, "Field", attrs)


def _quoted(name: str) -> str:
    return f"“{name}”"


def _unquote(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] in "“\"" and t[-1] in "”\"":
        return t[1:-1]
    return t


class Named(Part):
    """``<tag id name/>`` (a layout or a script) shown as ``“Name”``."""

    def __init__(self, tag: str):
        self.tag = tag

    def accepts(self, value):
        t = value.strip()
        return len(t) >= 2 and t[0] in "“\"" and t[-1] in "”\"" and '"' not in t[1:-1] and "”" not in t[1:-1]

    def read(self, step):
        el = step.find(self.tag)
        return None if el is None else _quoted(el.get("name", ""))

    def write(self, step, value):
        if value is not None:
            ET.SubElement(step, self.tag, id="0", name=_unquote(value))


class Value(Part):
    """``<tag value="…"/>`` shown as its value (``Go to Record/Request/Page [ Next ]``)."""

    def __init__(self, tag: str, label: str | None = None):
        self.tag, self.label = tag, label

    def accepts(self, value):
        return bool(re.match(r"^[A-Za-z]+$", value.strip()))

    def read(self, step):
        el = step.find(self.tag)
        return None if el is None else el.get("value")

    def write(self, step, value):
        if value is not None:
            ET.SubElement(step, self.tag, value=catalog.constant(value.strip()) or value.strip())


class RowPage(Value):
    """Go to Record/Request/Page's ``<RowPageLocation>``: First, Last, Previous or Next as a word; by
    calculation (``ByCalculation``) shows only the calculation."""

    WORDS = ("First", "Last", "Previous", "Next")

    def __init__(self):
        super().__init__("RowPageLocation")

    def read(self, step):
        v = super().read(step)
        return None if v == "ByCalculation" else v

    def accepts(self, value: str) -> bool:
        return (catalog.constant(value.strip()) or value.strip()) in self.WORDS

    def write(self, step, value):
        if value is not None and self.accepts(value):
            super().write(step, value)
        elif step.find("Calculation") is not None or value is not None:
            ET.SubElement(step, "RowPageLocation", value="ByCalculation")


class VarName(Part):
    """Set Variable's ``<Name>$x</Name>`` and ``<Repetition>``, shown as ``$x`` or ``$x[2]``."""

    tags = {"Name", "Repetition"}

    def accepts(self, value):
        return bool(re.match(r"^\$\$?[^\s\[\];]+(?:\[.+\])?$", value.strip()))

    def read(self, step):
        el = step.find("Name")
        if el is None:
            return None
        rep = step.find("Repetition/Calculation")
        r = (rep.text or "").strip() if rep is not None else "1"
        return (el.text or "") + (f"[{r}]" if r and r != "1" else "")

    def write(self, step, value):
        if value is None:
            return
        m = re.match(r"^(.*?)(?:\[(.+)\])?$", value.strip(), re.S)
        name = ET.Element("Name")
        name.text = m.group(1)
        rep = ET.Element("Repetition")
        _calc_el(rep, m.group(2) or "1")
        step.append(rep)
        step.append(name)


class Text(Part):
    """The comment's ``<Text>``."""

    tags = {"Text"}

    def read(self, step):
        el = step.find("Text")
        return None if el is None else (el.text or "")

    def write(self, step, value):
        ET.SubElement(step, "Text").text = value or ""


DIALOG_OFF = State("NoInteract", "With dialog", invert=True)
RESTORE = State("Restore", word="Restore")

#: The converted steps: their text parts in order.  (FileMaker prints Set Variable's Value after the name, but
#: writes Value before Name in XML: each part writes its own element, in FileMaker's element order.)
SPECS: dict[str, list[Part]] = {
    "Set Variable": [VarName(), Calc("Value", "Value")],
    "Set Field": [FieldRef(), Calc()],
    "If": [Calc()],
    "Else If": [Calc()],
    "Exit Loop If": [Calc()],
    "Else": [],
    "End If": [],
    "Loop": [Value("FlushType", "Flush")],
    "End Loop": [],
    "Exit Script": [Calc("Text Result", aliases=("Script Result",))],
    "Halt Script": [],
    "Set Error Capture": [State("Set")],
    "Allow User Abort": [State("Set")],
    "Freeze Window": [],
    "Commit Records/Requests": [DIALOG_OFF, State("Option", word="Skip data entry validation"),
                                State("ESSForceCommit", word="Override ESS locking conflicts")],
    "Revert Record/Request": [DIALOG_OFF],
    "New Record/Request": [],
    "Delete Record/Request": [DIALOG_OFF],
    "Delete All Records": [DIALOG_OFF],
    "Show All Records": [],
    "Unsort Records": [],
    "Omit Record": [],
    "Omit Multiple Records": [DIALOG_OFF, Calc()],
    "Show Omitted Only": [],
    "Enter Browse Mode": [State("Pause", "Pause")],
    "Enter Find Mode": [State("Pause", "Pause"), RESTORE],
    "Perform Find": [RESTORE],
    "Constrain Found Set": [RESTORE],
    "Extend Found Set": [RESTORE],
    "Sort Records": [RESTORE, DIALOG_OFF],
    "Go to Layout": [Named("Layout")],
    "Go to Record/Request/Page": [RowPage(), State("Exception", "Exit after last"), DIALOG_OFF, Calc()],
    "Perform Script": [Const("Specified", "From list", "Script"), Named("Script"), Calc("Parameter")],
    "Perform Script On Server": [State("WaitForCompletion", "Wait for completion"),
                                 Const("Specified", "From list", "Script"), Named("Script"), Calc("Parameter")],
    "Show Custom Dialog": [Calc(None, "Title"), Calc(None, "Message")],
    "Pause/Resume Script": [Calc("Duration (seconds)")],
    "Beep": [],
    "Insert Calculated Result": [FieldRef(), Calc()],
    "Set Next Serial Value": [FieldRef(), Calc()],
    "Open Transaction": [],
    "Commit Transaction": [],
    "Revert Transaction": [],
}


# ------------------------------------------------------------------------------------------------ XML → text

def step_to_text(step: ET.Element) -> tuple[str, str | None]:
    """One ``<Step>`` as a line of text, and a problem to report (None: converted)."""
    name = step.get("name", "")
    disabled = step.get("enable", "True") == "False"
    prefix = "// " if disabled else ""
    info = catalog.step(name)
    canonical = info.name if info else STEP_NAMES.get(int(step.get("id", "0") or 0), name)
    own = step.find(OWN)
    if canonical in ("# (Comment)", "Comment") or name.startswith("#"):
        text = Text().read(step) or ""
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return "\n".join(f"{prefix}# {ln}".rstrip() for ln in lines), None
    if own is not None:
        return f"{prefix}{canonical} [{own.text or ''}]", None
    spec = SPECS.get(canonical)
    if spec is None:
        if len(step) == 0:
            return f"{prefix}{canonical}", None
        kids = ", ".join(sorted({c.tag for c in step}))
        return (f"# fmscript could not convert <Step id=\"{step.get('id', '')}\" name=\"{name}\"> ({kids})",
                f"step “{name}” (id {step.get('id', '?')}) has options fmscript does not convert: {kids}")
    problem = None
    known = set().union(*(p.tags for p in spec)) if spec else set()
    dropped = sorted({c.tag for c in step} - known)
    if dropped:
        problem = f"step “{name}”: <{'>, <'.join(dropped)}> not converted (FileMaker's default applies on paste)"
    parts = []
    for p in spec:
        v = p.read(step)
        if v is None:
            continue
        parts.append(f"{p.label}: {v}" if p.label and not (isinstance(p, State) and p.word) else v)
    return f"{prefix}{canonical}" + (f" [ {' ; '.join(parts)} ]" if parts else ""), problem


OPENS = {"If", "Else If", "Else", "Loop", "Open Transaction"}
CLOSES = {"Else If", "Else", "End If", "End Loop", "Commit Transaction"}
INDENT = "    "


def steps_to_text(steps, problems: list[str] | None = None) -> str:
    """Steps as lines of text, indented inside If, Loop and transactions as the Script Workspace shows them."""
    out = []
    depth = 0
    for st in steps:
        line, problem = step_to_text(st)
        name = STEP_NAMES.get(int(st.get("id", "0") or 0)) or st.get("name", "")
        if name in CLOSES:
            depth = max(depth - 1, 0)
        if st.get("id") == "89" or name.startswith("#"):
            out.append("\n".join(INDENT * depth + ln for ln in line.split("\n")))  # one comment step a line
        else:
            out.append(INDENT * depth + line)  # a calculation's own line breaks and spaces are kept
        if name in OPENS:
            depth += 1
        if problem and problems is not None:
            problems.append(problem)
    return "\n".join(out) + ("\n" if out else "")


# ------------------------------------------------------------------------------------------------ text → XML

def _segments(raw: RawLine) -> list[tuple[str | None, str]]:
    return [(catalog.label(s.label) or s.label if s.label else None, s.value if s.label else s.text.strip())
            for s in raw.segments]


def _options_text(src: Source, raw: RawLine) -> str:
    """What is between the step's brackets, exactly as written (spacing and line breaks included)."""
    line = src.text[raw.start:raw.end]
    open_at = line.find("[", raw.name_start - raw.start + len(raw.name))
    if open_at < 0:
        open_at = line.find("［")
    return line[open_at + 1:-1]


def text_to_steps(text: str, path: str = "<text>") -> tuple[list[ET.Element], list[str]]:
    """The steps of a script text as ``<Step>`` elements, and the problems found (parse errors)."""
    src = Source(path, text)
    lines, errors = scan(src)
    problems = [e.render() if hasattr(e, "render") else str(e) for e in errors]
    out: list[ET.Element] = []
    for raw in lines:
        if raw.kind in ("script", "end_script"):
            continue
        if raw.kind == "comment":
            body = src.text[raw.start:raw.end].strip()
            body = body[1:] if body.startswith("#") else body
            el = ET.Element("Step", enable="True", id="89", name="# (comment)")
            Text().write(el, body[1:] if body.startswith(" ") else body)
            out.append(el)
            continue
        enable = "False" if raw.kind == "disabled" else "True"
        info = catalog.step(raw.name)
        name = info.name if info else raw.name
        if info is None:
            problems.append(f"{path}: “{raw.name}” is not a FileMaker step")
        el = ET.Element("Step", enable=enable, id=str(STEP_IDS.get(name, 0)), name=name)
        spec = SPECS.get(name)
        segs = _segments(raw)
        if spec is None or not _fits(spec, segs):
            if raw.has_brackets:
                ET.SubElement(el, OWN).text = _options_text(src, raw)
        else:
            _write(spec, segs, el)
        out.append(el)
    return out, problems


def _fits(spec: list[Part], segs) -> bool:
    """Whether the options written map onto the row: labels it knows, bare words it knows, the unlabelled
    values in order, each one a value its part can hold."""
    try:
        pairs = _assign(spec, segs)
    except ValueError:
        return False
    return all(v is None or p.accepts(v) for p, v in pairs)


def _assign(spec: list[Part], segs) -> list[tuple[Part, str | None]]:
    by_label: dict[str, str] = {}
    plain: list[str] = []
    words: set[str] = set()
    labels = {p.label for p in spec if p.label and not (isinstance(p, State) and p.word)}
    aliases = {a: p.label for p in spec for a in getattr(p, "aliases", ())}
    word_parts = {p.word for p in spec if isinstance(p, State) and p.word}
    for label, value in segs:
        if label is not None:
            label = aliases.get(label, label)
            if label not in labels or label in by_label:
                raise ValueError(label)
            by_label[label] = value
        elif value in word_parts:
            words.add(value)
        else:
            plain.append(value)
    rowpage = next((p for p in spec if isinstance(p, RowPage)), None)
    if rowpage is not None:
        word = next((v for v in plain if rowpage.accepts(v)), None)
        plain = [word] + [v for v in plain if v is not word]
    out: list[tuple[Part, str | None]] = []
    for p in spec:
        if isinstance(p, State) and p.word:
            out.append((p, p.word if p.word in words else None))
        elif p.label and not isinstance(p, Const):
            out.append((p, by_label.get(p.label)))
        elif isinstance(p, Const):
            out.append((p, by_label.get(p.label)))
        else:
            out.append((p, plain.pop(0) if plain else None))
    if plain:
        raise ValueError("more unlabelled options than the row has")
    return out


def _write(spec: list[Part], segs, el: ET.Element) -> None:
    pairs = _assign(spec, segs)
    for p, v in pairs:
        if isinstance(p, RowPage) and v is None and any(isinstance(q, Calc) and w is not None for q, w in pairs):
            ET.SubElement(el, "RowPageLocation", value="ByCalculation")
        else:
            p.write(el, v)
    _order(el)


_ELEMENT_ORDER = {"NoInteract": 0, "Restore": 1, "Pause": 1, "Exception": 2, "RowPageLocation": 3, "Value": 4,
                  "Repetition": 5, "Name": 6, "Calculation": 7, "Title": 8, "Message": 9, "Field": 10,
                  "Layout": 11, "Script": 12, "Set": 0, "Text": 0, "WaitForCompletion": 0, "Parameter": 13}


def _order(el: ET.Element) -> None:
    """FileMaker's element order inside a step (it reads any order; a diff against its own export stays small)."""
    kids = sorted(list(el), key=lambda c: _ELEMENT_ORDER.get(c.tag, 50))
    for c in list(el):
        el.remove(c)
    el.extend(kids)
