"""fmxmlsnippet (what FileMaker's Script Workspace copies to the clipboard) ↔ fmscript text."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..errors import E_XML_PARSE, FMScriptError
from ..script.custom_functions import split_functions
from ..source import Source
from .mapping import function_block
from .steps import steps_to_text, text_to_steps


def parse_xml(data: str | bytes, path: str = "<snippet>") -> ET.Element:
    """The root element, or FileMaker's error 718 naming the line and column."""
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        line, col = e.position
        raise FMScriptError(f"{path}:{line}:{col + 1}: the XML cannot be read: {str(e).split(':')[0]}",
                            code=E_XML_PARSE) from None


def to_text(data: str | bytes, path: str = "<snippet>") -> tuple[str, list[str]]:
    """A snippet's steps (or scripts, each as ``Script "Name"`` … ``End Script``) as text, and the problems found
    (steps it could not convert, elements it does not know)."""
    root = parse_xml(data, path)
    if root.tag != "fmxmlsnippet":
        raise FMScriptError(f"{path}: this is not a FileMaker snippet (the root is <{root.tag}>, not "
                            "<fmxmlsnippet>)", code=E_XML_PARSE)
    problems: list[str] = []
    out: list[str] = []
    for el in root:  # custom functions first: a script file holds them before its steps
        if el.tag == "CustomFunction":
            params = [p.strip() for p in (el.get("parameters") or "").split(";") if p.strip()]
            out.append(function_block(el.get("name", ""), params, el.findtext("Calculation") or ""))
    steps = [c for c in root if c.tag == "Step"]
    if steps:
        out.append(steps_to_text(steps, problems))
    for el in root:
        if el.tag == "Script":
            body = steps_to_text([s for s in el.iter("Step")], problems)
            out.append(f'Script "{el.get("name", "")}"\n' + "".join(f"  {ln}\n" for ln in body.splitlines())
                       + "End Script\n")
        elif el.tag not in ("Step", "CustomFunction"):
            problems.append(f"{path}: <{el.tag}> is not converted (fmscript converts steps and scripts)")
    return "\n".join(out), problems


def from_text(text: str, path: str = "<text>") -> tuple[str, list[str]]:
    """Script text as an fmxmlsnippet of its steps (FileMaker pastes it into the Script Workspace), and of its
    ``Function`` blocks as FileMaker's ``<CustomFunction>`` elements (pasted in Manage Custom Functions)."""
    blanked, functions, _errors = split_functions(text, Source(path, text))
    steps, problems = text_to_steps(blanked if functions else text, path)
    root = ET.Element("fmxmlsnippet", type="FMObjectList")
    for i, f in enumerate(functions, 1):
        cf = ET.SubElement(root, "CustomFunction", id=str(i), functionArity=str(len(f.params)), visible="True",
                           parameters=";".join(f.params), name=f.name)
        ET.SubElement(cf, "Calculation").text = f.body.strip("\n")
    root.extend(steps)
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n", problems
