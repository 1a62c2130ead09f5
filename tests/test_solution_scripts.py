"""An imported solution's scripts are one catalogue, as a FileMaker file's are: a script run from the scripts
folder of ``fmscript import-xml`` performs a script of another folder (its file loaded on first use), ``check``
knows it, and moving the folder and the database elsewhere keeps working.  A name that exists nowhere is still
error 104; a sibling file that does not load fails the Perform Script step with that file's line and column."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from fmscript import Interpreter
from fmscript.fmxml.importer import import_xml


def _calc(text: str) -> str:
    return (f'<Calculation datatype="1" position="0"><Calculation><Text><![CDATA[{text}]]></Text></Calculation>'
            '</Calculation>')


def _perform(i: int, sid: int, name: str, param: str) -> str:
    return (f'<Step index="{i}" id="1" name="Perform Script" enable="True"><ParameterValues membercount="2">'
            f'<Parameter type="List"><List name="From list" value="1"><ScriptReference id="{sid}" '
            f'name="{escape(name)}"></ScriptReference></List></Parameter>'
            f'<Parameter type="Parameter"><Parameter>{_calc(param)}</Parameter></Parameter></ParameterValues></Step>')


def _dialog(i: int, title: str, message: str) -> str:
    return (f'<Step index="{i}" id="87" name="Show Custom Dialog" enable="True"><ParameterValues membercount="2">'
            f'<Parameter type="Title">{_calc(title)}</Parameter><Parameter type="Message">{_calc(message)}'
            '</Parameter></ParameterValues></Step>')


def _exit(i: int, text: str) -> str:
    return (f'<Step index="{i}" id="103" name="Exit Script" enable="True"><ParameterValues membercount="1">'
            f'<Parameter type="Calculation">{_calc(text)}</Parameter></ParameterValues></Step>')


def _steps(sid: int, name: str, steps: list[str]) -> str:
    return (f'<Script><ScriptReference id="{sid}" name="{escape(name)}"></ScriptReference>'
            f'<ObjectList membercount="{len(steps)}">{"".join(steps)}</ObjectList></Script>')


#: A Save-as-XML export in FileMaker's shape: "Run Report" (folder Sales) performs "Double It" (folder Math/Tools)
#: with its own parameter and shows what that script returned; "Quadruple" (folder Math) performs "Double It" twice.
EXPORT = f"""<?xml version="1.0" encoding="UTF-8"?>
<FMSaveAsXML version="2.2.3.0" Source="22.0.1" File="Sales.fmp12" locale="English">
<Structure membercount="1"><AddAction membercount="2">
<ScriptCatalog membercount="5">
<Group id="10" name="Sales"><Script id="1" name="Run Report"></Script></Group>
<Group id="11" name="Math"><Group id="12" name="Tools"><Script id="2" name="Double It"></Script></Group>
<Script id="3" name="Quadruple"></Script></Group>
</ScriptCatalog>
<StepsForScripts membercount="3">
{_steps(1, "Run Report", [
    _perform(0, 2, "Double It", "Get ( ScriptParameter )"),
    _dialog(1, '"Report"', '"double of " & Get ( ScriptParameter ) & " is " & Get ( ScriptResult )')])}
{_steps(2, "Double It", [_exit(0, "Get ( ScriptParameter ) * 2")])}
{_steps(3, "Quadruple", [_perform(0, 2, "Double It", "Get ( ScriptParameter )"),
                         _perform(1, 2, "Double It", "Get ( ScriptResult )"), _exit(2, "Get ( ScriptResult )")])}
</StepsForScripts>
</AddAction></Structure></FMSaveAsXML>
"""

REPORT = Path("scripts") / "Sales" / "Run Report.fmscript"
DOUBLE = Path("scripts") / "Math" / "Tools" / "Double It.fmscript"


@pytest.fixture
def solution(tmp_path) -> Path:
    """A folder holding app.sqlite and scripts/ as ``fmscript import-xml`` wrote them."""
    src = tmp_path / "sales.xml"
    src.write_text(EXPORT, encoding="utf-8")
    home = tmp_path / "project"
    home.mkdir()
    import_xml(src, home / "app.sqlite", home / "scripts", lambda w: None)
    return home


def fmscript(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fmscript", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_a_script_performs_one_of_another_folder_with_a_parameter_and_uses_its_result(solution):
    first = (solution / REPORT).read_text(encoding="utf-8").splitlines()[0]
    assert first == "Perform Script [ Specified: From list ; “Double It” ; Parameter: Get ( ScriptParameter ) ]"
    r = fmscript("run", REPORT, "-f", "app.sqlite", "--param", 21, cwd=solution)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Report\ndouble of 21 is 42\n"
    # From another folder, with absolute paths.
    r = fmscript("run", solution / REPORT, "-f", solution / "app.sqlite", "--param", 5, cwd=solution.parent)
    assert (r.returncode, r.stdout) == (0, "Report\ndouble of 5 is 10\n"), r.stderr


def test_moving_the_scripts_folder_and_the_database_elsewhere_keeps_working(solution, tmp_path):
    with sqlite3.connect(solution / "app.sqlite") as conn:
        paths = sorted(p for (p,) in conn.execute("SELECT path FROM fmscript_import_scripts"))
    conn.close()
    # Nothing absolute is stored.
    assert paths == ["Math/Quadruple.fmscript", "Math/Tools/Double It.fmscript", "Sales/Run Report.fmscript"]
    moved = tmp_path / "elsewhere" / "deeper"
    moved.mkdir(parents=True)
    shutil.move(solution / "scripts", moved / "renamed scripts")
    shutil.move(solution / "app.sqlite", moved / "data.sqlite")
    r = fmscript("run", "deeper/renamed scripts/Sales/Run Report.fmscript", "-f", "deeper/data.sqlite",
                 "--param", 7, cwd=moved.parent)
    assert (r.returncode, r.stdout) == (0, "Report\ndouble of 7 is 14\n"), r.stderr


def test_check_knows_the_solutions_scripts_and_reports_a_name_that_exists_nowhere(solution):
    r = fmscript("check", REPORT, "-f", "app.sqlite", cwd=solution)
    assert r.returncode == 0, r.stderr
    assert "no script named" not in r.stderr and "0 errors" in r.stderr
    # Without the database the file is all check knows: the other file's script is missing.
    r = fmscript("check", REPORT, cwd=solution)
    assert r.returncode == 1 and "there is no script named “Double It” in this file" in r.stderr
    (solution / REPORT).write_text('Perform Script [ “Nowhere” ]\nPerform Script [ “Double It” ]\n',
                                   encoding="utf-8")
    r = fmscript("check", REPORT, "-f", "app.sqlite", cwd=solution)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert [ln for ln in r.stderr.splitlines() if "error [" in ln] == [
        f"{REPORT}:1:18: error [104] in Perform Script: there is no script named “Nowhere” in this file"]


def test_a_missing_script_is_still_error_104_when_run(solution):
    (solution / REPORT).write_text('Set Error Capture [ On ]\nPerform Script [ “Nowhere” ]\n'
                                   'Show Custom Dialog [ "error" ; Get ( LastError ) ]\n'
                                   'Set Error Capture [ Off ]\nPerform Script [ “Nowhere” ]\n', encoding="utf-8")
    r = fmscript("run", REPORT, "-f", "app.sqlite", cwd=solution)
    assert r.stdout == "error\n104\n"
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[0] == (f"{REPORT}:5:1: error [104] in Perform Script: there is no script named "
                                        "“Nowhere”")
    r = fmscript("run", REPORT, "-f", "app.sqlite", "--script", "Nowhere", cwd=solution)
    assert r.returncode == 2 and "has no script named “Nowhere”" in r.stderr


def test_a_sibling_with_a_syntax_error_fails_the_perform_script_step_naming_that_file(solution):
    (solution / DOUBLE).write_text("# doubles\nExit Script [ Text Result: Get ( ScriptParameter ) * ]\n",
                                   encoding="utf-8")
    r = fmscript("run", REPORT, "-f", "app.sqlite", "--param", 2, cwd=solution)
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{REPORT}:1:1: error [1204] in Perform Script: the script “Double It” does not load: "
                            f"{DOUBLE}:2:"), first
    # With error capture on, the run goes on with the error in Get ( LastError ), as after any failing step.
    (solution / REPORT).write_text('Set Error Capture [ On ]\nPerform Script [ “Double It” ; Parameter: 2 ]\n'
                                   'Show Custom Dialog [ "error" ; Get ( LastError ) ]\n', encoding="utf-8")
    r = fmscript("run", REPORT, "-f", "app.sqlite", cwd=solution)
    assert (r.returncode, r.stdout) == (0, "error\n1204\n"), r.stderr


def test_names_are_case_insensitive_and_a_file_loads_on_first_use(solution, monkeypatch):
    monkeypatch.chdir(solution)
    (solution / REPORT).write_text('Perform Script [ “double IT” ; Parameter: 4 ]\n'
                                   'Exit Script [ Text Result: Get ( ScriptResult ) ]\n', encoding="utf-8")
    with Interpreter(file="app.sqlite") as fm:
        fm.load_file(REPORT)
        assert "double it" not in fm.session.scripts  # nothing of the solution is read before a script needs it
        assert fm.run_script("Run Report") == "8"
        assert fm.session.scripts["double it"].name == "Double It"
        assert fm.run_script("Double It", 6) == "12"  # a face that runs a script by name finds it the same way
        assert fm.script("Nowhere") is None


def test_perform_script_on_server_finds_the_solutions_scripts_and_so_do_the_server_scripts(solution, monkeypatch):
    monkeypatch.chdir(solution)
    (solution / REPORT).write_text('Perform Script on Server [ Wait for completion: On ; “Quadruple” ; '
                                   'Parameter: 5 ]\nExit Script [ Text Result: Get ( ScriptResult ) ]\n',
                                   encoding="utf-8")
    with Interpreter(file="app.sqlite") as fm:
        assert fm.run_file(REPORT) == "20"  # Quadruple, on the server, performs Double It


def test_a_script_outside_the_solutions_folder_does_not_see_it(solution):
    (solution / "mine.fmscript").write_text('Perform Script [ “Double It” ; Parameter: 1 ]\n', encoding="utf-8")
    r = fmscript("run", "mine.fmscript", "-f", "app.sqlite", cwd=solution)
    assert r.returncode == 1 and "there is no script named “Double It”" in r.stderr


def test_the_data_apis_script_keys_find_the_solutions_scripts(solution, monkeypatch):
    import json

    from fmscript.data import open_database

    monkeypatch.chdir(solution)
    db = open_database("app.sqlite")
    db.create_table("Items", [("Name", "text", False)])  # a layout for the request to name
    db.close()
    with Interpreter(file="app.sqlite") as fm:
        fm.load_file(REPORT)
        fm.set_global("req", json.dumps({"layouts": "Items", "script.prerequest": "double it",
                                         "script.prerequest.param": "4", "script": "Nowhere"}))
        answer = json.loads(fm.run_text('Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                                        'Exit Script [ $r ]'))
    response = answer["response"]
    assert (response["scriptResult.prerequest"], response["scriptError.prerequest"]) == ("8", "0")
    assert response["scriptError"] == "104" and "scriptResult" not in response


def test_of_two_folders_that_fit_the_one_holding_the_listed_files_is_the_scripts_folder(tmp_path):
    from fmscript.script.solution import Solution

    rows = [("Report.fmscript", "Report"), ("Sales/Report.fmscript", "Sales Report"), ("Other.fmscript", "Other")]
    for rel, _ in rows:
        (tmp_path / "scripts" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "scripts" / rel).write_text("Beep\n", encoding="utf-8")
    # "Report.fmscript" relative to scripts/Sales is listed too, but only scripts/ holds the other files.
    sol = Solution.find(tmp_path / "scripts" / "Sales" / "Report.fmscript", rows)
    assert sol is not None and sol.root == tmp_path / "scripts"
    assert sol.path_of("OTHER") == tmp_path / "scripts" / "Other.fmscript"
    assert Solution.find(tmp_path / "scripts" / "Report.fmscript", rows).root == tmp_path / "scripts"
    assert Solution.find(tmp_path / "elsewhere.fmscript", rows) is None


def test_a_sibling_fixed_after_it_failed_loads_and_a_listed_file_that_is_gone_is_104(solution, monkeypatch):
    from fmscript.errors import FMScriptError

    monkeypatch.chdir(solution)
    good = (solution / DOUBLE).read_text(encoding="utf-8")
    (solution / DOUBLE).write_text("Exit Script [ Text Result: ( ]\n", encoding="utf-8")
    with Interpreter(file="app.sqlite") as fm:
        fm.load_file(REPORT)
        for _ in range(2):  # the same error each time, at the step that performs it
            with pytest.raises(FMScriptError) as e:
                fm.run_script("Run Report", 3)
            assert e.value.code == 1204 and e.value.span.path == str(REPORT) and f"{DOUBLE}:1:" in e.value.message
        (solution / DOUBLE).write_text(good + "\n", encoding="utf-8")  # fixed (in a REPL, say)
        assert fm.run_script("Double It", 3) == "6"
        (solution / "scripts" / "Math" / "Quadruple.fmscript").unlink()
        with pytest.raises(FMScriptError) as e:
            fm.run_script("Quadruple", 1)
        assert e.value.code == 104
        assert "listed in the imported solution as “Math/Quadruple.fmscript”" in e.value.message


def test_the_repls_run_finds_a_script_of_the_solution_by_its_unquoted_name(solution, monkeypatch):
    from fmscript.repl.session import ReplSession

    monkeypatch.chdir(solution)
    lines: list[tuple[str, str]] = []
    repl = ReplSession(out=lambda text, kind: lines.append((kind, text)), file="app.sqlite")
    repl.execute(f":load {REPORT}")
    repl.execute(":run Double It 4 + 1")
    assert lines[-1] == ("result", "10")


def test_a_misspelt_name_of_a_siblings_script_gets_the_hint_with_its_name(solution, monkeypatch):
    (solution / REPORT).write_text('Perform Script [ “Duble It” ; Parameter: 1 ]\n', encoding="utf-8")
    r = fmscript("run", REPORT, "-f", "app.sqlite", cwd=solution)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[0] == (f"{REPORT}:1:1: error [104] in Perform Script: there is no script named "
                                        "“Duble It”; did you mean “Double It”?")
    # So do Perform Script on Server and a face that runs a script by name; nothing is loaded to give the hint.
    monkeypatch.chdir(solution)
    (solution / REPORT).write_text('Perform Script on Server [ Wait for completion: On ; “Quadrupel” ]\n',
                                   encoding="utf-8")
    from fmscript.errors import FMScriptError

    with Interpreter(file="app.sqlite") as fm:
        fm.load_file(REPORT)
        with pytest.raises(FMScriptError) as e:
            fm.run_script("Run Report")
        assert e.value.code == 104 and e.value.message.endswith("; did you mean “Quadruple”?")
        with pytest.raises(FMScriptError) as e:
            fm.run_script("double itt")
        assert e.value.code == 104 and e.value.message.endswith("; did you mean “Double It”?")
        assert "double it" not in fm.session.scripts


def test_the_repls_scripts_lists_the_solutions_scripts_not_loaded_yet(solution, monkeypatch):
    from fmscript.repl.session import ReplSession

    monkeypatch.chdir(solution)
    lines: list[tuple[str, str]] = []
    repl = ReplSession(out=lambda text, kind: lines.append((kind, text)), file="app.sqlite")
    repl.execute(f":load {REPORT}")
    repl.execute(":scripts")
    assert lines[-1] == ("result", "Run Report, Double It (not loaded yet), Quadruple (not loaded yet)")
    repl.execute(":run Double It 2")
    repl.execute(":scripts")
    assert lines[-1] == ("result", "Run Report, Double It, Quadruple (not loaded yet)")
    (solution / "scripts" / "Math" / "Quadruple.fmscript").unlink()  # Perform Script could not find it now
    repl.execute(":scripts")
    assert lines[-1] == ("result", "Run Report, Double It")
