"""Issue 11 item 8: a calculation naming a field that does not exist is FileMaker's error 102 under ``run``,
with the usual error-capture rules and a "did you mean", the same as ``check`` reports; never a silent ``?``."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fmscript import Interpreter
from fmscript.errors import FMScriptError


def fmscript(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fmscript", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


SCRIPT = ('Go to Layout [ "People" (People) ]\n'
          'Set Variable [ $greeting ; Value: "Hello " & People::Nmae ]\n'
          'Show Custom Dialog [ "not reached" ]\n')


def test_run_stops_with_error_102_at_the_field_and_exit_1(people_db, tmp_path):
    (tmp_path / "s.fmscript").write_text(SCRIPT, encoding="utf-8")
    r = fmscript("run", "s.fmscript", "-f", str(people_db), cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    # path:line:col at the field reference (column 46), not only at the step, then the line and a caret
    assert lines[0].startswith("s.fmscript:2:46: error [102]"), r.stderr
    assert "the field “People::Nmae” is missing" in lines[0] and "did you mean “Name”?" in lines[0]
    assert lines[1] == SCRIPT.splitlines()[1]
    assert lines[2] == " " * 45 + "^"
    assert "not reached" not in r.stdout and "Traceback" not in r.stderr


def test_run_with_error_capture_continues_with_last_error_102(people_db, tmp_path):
    (tmp_path / "s.fmscript").write_text(
        "Set Error Capture [ On ]\n" + SCRIPT.replace('"not reached"', 'Get ( LastError ) & "|" & $greeting'),
        encoding="utf-8")
    r = fmscript("run", "s.fmscript", "-f", str(people_db), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "102|"


def test_check_gives_the_same_error_and_hint(people_db, tmp_path):
    (tmp_path / "s.fmscript").write_text(SCRIPT, encoding="utf-8")
    r = fmscript("check", "s.fmscript", "-f", str(people_db), cwd=tmp_path)
    assert r.returncode == 1
    first = r.stderr.splitlines()[0]
    assert first.startswith("s.fmscript:2:46: error [102]") and "did you mean “Name”?" in first


def test_embedding_api_raises_102_with_the_span(people_db):
    fm = Interpreter(file=people_db, on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Show Custom Dialog [ "x" & Agee ]', path="emb.fmscript")
    err = e.value
    assert err.code == 102 and (err.span.path, err.span.line, err.span.col) == ("emb.fmscript", 1, 28)
    assert "did you mean “Age”?" in err.message
    assert fm.run_text("Set Error Capture [ On ]\nSet Variable [ $x ; Value: Agee ]\n"
                       "Exit Script [ Get ( LastError ) & \"/\" & $x ]") == "102/"


@pytest.mark.parametrize("calc, expected", [
    ("EvaluationError ( Nope )", "102"),                       # the functions that look at an error see it
    ("IsValid ( Nope )", "0"),
    ("IsEmpty ( Nope )", "1"),
    ('Evaluate ( "Nope" )', "?"),                              # a name made at run time is the text's error
    ('EvaluationError ( Evaluate ( "Nope" ) )', "102"),
    ('GetField ( "Nope" )', "?"),
    ('EvaluationError ( GetField ( "Nope" ) + 1 )', "102"),   # Claris's EvaluationError example
])
def test_functions_that_observe_errors(people_db, calc, expected):
    fm = Interpreter(file=people_db, on_dialog=lambda t, m: None)
    assert fm.run_text(f"Exit Script [ {calc} ]") == expected
    assert fm.session.last_error == 0


def test_check_warns_of_a_layout_filemaker_printed_as_unknown_and_refuses_a_named_one(people_db, tmp_path):
    # FileMaker prints a deleted layout as <unknown> and keeps the step (it fails with 105 when run): a warning;
    # a layout named in the text that the file lacks is still an error
    (tmp_path / "gone.fmscript").write_text("Go to Layout [ <unknown> ]\nGo to Layout [ “People” ]\n", encoding="utf-8")
    r = fmscript("check", "gone.fmscript", "-f", str(people_db), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "gone.fmscript:1:16: warning [105]" in r.stderr and "because it is gone" in r.stderr
    (tmp_path / "named.fmscript").write_text("Go to Layout [ “Peeple” ]\n", encoding="utf-8")
    r = fmscript("check", "named.fmscript", "-f", str(people_db), cwd=tmp_path)
    assert r.returncode == 1 and "named.fmscript:1:16: error [105]" in r.stderr
