"""fmxmlsnippet ↔ text: the round trip over the whole catalogue, a real snippet FileMaker wrote, errors."""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fmscript import Interpreter, catalog
from fmscript.errors import E_XML_PARSE, FMScriptError
from fmscript.fmxml import snippet
from fmscript.fmxml.ids import STEP_IDS
from fmscript.fmxml.steps import SPECS, State

FIXTURES = Path(__file__).parent / "fixtures" / "filemaker_xml"
REAL = FIXTURES / "keep-matching-records-script.xml"


def round_trip(text: str) -> str:
    xml, problems = snippet.from_text(text)
    back, more = snippet.to_text(xml)
    assert problems == [] and more == []
    return back


def _flat(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().splitlines()]


def test_every_catalogue_step_survives_text_to_snippet_to_text():
    """Each step bare and as the catalogue's syntax line writes it: converted rows in FileMaker's XML, the others
    in fmscript's own element, and the text comes back as it was."""
    lines = []
    for info in catalog.steps().items:
        if info.name == "# (Comment)":
            continue
        lines.append(info.name)
        if info.syntax.startswith(info.name + " ["):
            syntax = info.syntax
            if info.name in ("Perform Script", "Perform Script On Server", "Go to Layout"):
                # a layout or script *name*: FileMaker writes it in curly quotes, and XML keeps only the name
                syntax = re.sub(r'"([^"]*)"', r"“\1”", syntax)
            # the label FileMaker 19+ prints for Exit Script's result (the older one is an alias)
            lines.append(syntax.replace("Exit Script [ Script Result:", "Exit Script [ Text Result:"))
    text = "\n".join(lines) + "\n"
    assert _flat(round_trip(text)) == _flat(text)


CANONICAL = """# A comment
Set Error Capture [ On ]
Allow User Abort [ Off ]
Set Variable [ $x ; Value: Get ( ScriptParameter ) ]
Set Variable [ $list[2] ; Value: "b" ]
If [ IsEmpty ( $x ) ]
    Exit Script [ Text Result: "none" ]
Else If [ $x = 1 ]
    Beep
Else
    Halt Script
End If
Go to Layout [ “Customers” ]
Enter Find Mode [ Pause: Off ]
Set Field [ Customers::Name ; "==" & $x ]
Perform Find
Go to Record/Request/Page [ First ]
Loop [ Flush: Always ]
    Go to Record/Request/Page [ Next ; Exit after last: On ]
    Exit Loop If [ Get ( RecordNumber ) > 3 ]
End Loop
Go to Record/Request/Page [ With dialog: Off ; $n ]
Omit Multiple Records [ With dialog: Off ; 2 ]
Perform Script [ Specified: From list ; “Log” ; Parameter: $x ]
Perform Script On Server [ Wait for completion: On ; Specified: From list ; “Job” ; Parameter: 1 ]
Show Custom Dialog [ "Title" ; "Message" ]
Commit Records/Requests [ With dialog: Off ; Skip data entry validation ]
// Delete Record/Request [ With dialog: Off ]
Insert from URL [ Select ; With dialog: Off ; Target: $r ; "https://example.com" ; cURL options: "-X POST" ]
"""


def test_the_converted_steps_are_filemakers_xml_and_come_back_identical():
    xml, problems = snippet.from_text(CANONICAL)
    assert problems == []
    root = ET.fromstring(xml)
    steps = list(root)
    assert root.tag == "fmxmlsnippet" and root.get("type") == "FMObjectList"
    by_name = {}
    for st in steps:
        by_name.setdefault(st.get("name"), st)
        if st.get("name") in STEP_IDS:
            assert st.get("id") == str(STEP_IDS[st.get("name")])
    sv = by_name["Set Variable"]
    assert sv.find("Name").text == "$x" and sv.find("Value/Calculation").text == "Get ( ScriptParameter )"
    assert sv.find("Repetition/Calculation").text == "1"
    sf = by_name["Set Field"]
    assert sf.find("Field").get("table") == "Customers" and sf.find("Field").get("name") == "Name"
    assert by_name["Set Error Capture"].find("Set").get("state") == "True"
    assert by_name["Commit Records/Requests"].find("NoInteract").get("state") == "True"
    assert by_name["Go to Layout"].find("Layout").get("name") == "Customers"
    assert by_name["Perform Script"].find("Script").get("name") == "Log"
    assert by_name["Perform Script"].find("Calculation").text == "$x"
    assert [s.get("enable") for s in steps if s.get("name") == "Delete Record/Request"] == ["False"]
    assert by_name["Insert from URL"].find("fmscriptOptions") is not None  # no row: kept as written
    assert snippet.to_text(xml)[0] == CANONICAL


def test_a_script_filemaker_copied_converts_and_parses():
    text, problems = snippet.to_text(REAL.read_bytes(), str(REAL))
    root = ET.parse(REAL).getroot()
    steps = list(root.iter("Step"))
    assert text.startswith('Script "Keep_Omit Matching Sorted Records"\n') and text.rstrip().endswith("End Script")
    # every step is there: multi-line comments become one # line per line of their text
    comment_lines = sum(len((s.findtext("Text") or "").replace("\r", "\n").split("\n"))
                        for s in steps if s.get("id") == "89")
    back = ET.fromstring(snippet.from_text(text)[0])
    assert len(back) == comment_lines + sum(1 for s in steps if s.get("id") != "89")
    assert [s.get("name") for s in back if s.get("id") != "89"] == [s.get("name") for s in steps
                                                                     if s.get("id") != "89"]
    # only Show Custom Dialog's buttons are reported (FileMaker's default OK button applies on paste)
    assert problems and all("Show Custom Dialog" in p and "Buttons" in p for p in problems)
    # and fmscript reads the result: no step-level parse error (its custom functions live in another file)
    fm = Interpreter(on_dialog=lambda t, m: None)
    _, found = fm.check_text(text, "keep.fmscript")
    step_errors = [e for e in found if e.kind != "warning" and "unknown function" not in e.message
                   and "unknown Get name" not in e.message and "“#”" not in e.message]
    assert step_errors == []


def test_xml_to_text_to_xml_keeps_the_converted_steps(tmp_path):
    """FileMaker's XML → text → XML: every converted step's elements and values come back."""
    root = ET.parse(REAL).getroot()
    original = [s for s in root.iter("Step") if s.get("name") in SPECS and s.get("id") != "89"
                and s.find("Buttons") is None]
    text, _ = snippet.to_text(_steps_snippet(original))
    again = list(ET.fromstring(snippet.from_text(text)[0]))
    assert len(again) == len(original)

    def shape(st):
        # a flag shown as a bare word (Skip data entry validation) is written only when on: off is the default
        flags = {p.tag for p in SPECS[st.get("name")] if isinstance(p, State) and p.word}
        return (st.get("name"), st.get("enable"),
                sorted((c.tag, tuple(sorted((k, v) for k, v in c.attrib.items() if k != "id")),
                        (c.text or "").strip(), tuple((g.tag, (g.text or "").strip()) for g in c)) for c in st
                       if not (c.tag in flags and c.get("state") == "False")))
    assert [shape(s) for s in again] == [shape(s) for s in original]


def _steps_snippet(steps) -> str:
    root = ET.Element("fmxmlsnippet", type="FMObjectList")
    root.extend(steps)
    return ET.tostring(root, encoding="unicode")


def test_malformed_xml_is_error_718_with_line_and_column():
    with pytest.raises(FMScriptError) as e:
        snippet.to_text('<fmxmlsnippet type="FMObjectList">\n  <Step name="If">\n</fmxmlsnippet>', "bad.xml")
    assert e.value.code == E_XML_PARSE and "bad.xml:3:" in e.value.message
    with pytest.raises(FMScriptError) as e:
        snippet.to_text("<FMSaveAsXML/>", "other.xml")
    assert e.value.code == E_XML_PARSE and "FMSaveAsXML" in e.value.message


def test_an_unconverted_filemaker_step_is_a_comment_naming_the_element():
    xml = ('<fmxmlsnippet type="FMObjectList"><Step enable="True" id="35" name="Import Records">'
           '<NoInteract state="True"/><DataSourceType value="File"/></Step></fmxmlsnippet>')
    text, problems = snippet.to_text(xml)
    assert text.startswith('# fmscript could not convert <Step id="35" name="Import Records">')
    assert problems and "Import Records" in problems[0]


def test_the_cli_converts_both_ways(tmp_path):
    src = tmp_path / "s.fmscript"
    src.write_text(CANONICAL, encoding="utf-8")
    out = tmp_path / "s.xml"
    r = subprocess.run([sys.executable, "-m", "fmscript", "snippet", "from-text", str(src), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "fmscript", "snippet", "to-text", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout == CANONICAL
    bad = tmp_path / "bad.xml"
    bad.write_text("<fmxmlsnippet>", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "fmscript", "snippet", "to-text", str(bad)], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "bad.xml:1:" in r.stderr and "Traceback" not in r.stderr
