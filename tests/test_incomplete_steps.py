"""Steps FileMaker saves without their required options (issue 16): they load, ``check`` warns about them, and
running one fails with FileMaker's error under the usual error-capture rules; malformed text stays an error."""
from __future__ import annotations

import re

import pytest

from fmscript.cli import main
from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter

SCRIPT = ('Set Error Capture [ {capture} ]\n'
          'Set Field [ ]\n'
          'Set Variable [ $e ; Value: Get ( LastError ) ]\n'
          'Set Variable [ $x ; 1 ]\n'
          'Exit Script [ Text Result: $e & "/" & $x ]\n')


def test_with_error_capture_on_the_step_sets_its_error_and_the_script_goes_on():
    with Interpreter() as fm:
        assert fm.run_text(SCRIPT.format(capture="On")) == "102/1"


def test_with_error_capture_off_the_run_stops_at_the_step_with_its_error():
    with Interpreter() as fm:
        frame = fm.new_frame()
        with pytest.raises(FMScriptError) as exc:
            fm.run_steps(SCRIPT.format(capture="Off"), frame, path="s.fmscript")
        assert "$x" not in frame.local_names.values()  # the steps after it did not run
    e = exc.value
    assert e.code == 102 and (e.span.line, e.span.col) == (2, 1)
    assert e.render().startswith("s.fmscript:2:1: error [102]: Set Field has no target field")


def _check(capsys, tmp_path, text: str, *args) -> tuple[int, list[str], str]:
    f = tmp_path / "s.fmscript"
    f.write_text(text, encoding="utf-8")
    rc = main(["check", str(f), *args])
    err = capsys.readouterr().err
    heads = [re.sub(r"^.*?s\.fmscript:", "", ln) for ln in err.splitlines() if re.search(r"\.fmscript:\d+:\d+: ", ln)]
    return rc, heads, err


def test_check_prints_a_warning_at_the_step_and_exits_0(capsys, tmp_path):
    rc, heads, err = _check(capsys, tmp_path, SCRIPT.format(capture="On"))
    assert rc == 0
    assert heads == ["2:1: warning [102]: Set Field has no target field, and there is no active field to use; "
                     "FileMaker saves the step so, and running it fails"]
    assert "0 errors, 1 warning" in err


@pytest.mark.parametrize("text, line", [
    ('Set Field [  ; 1+2 ]\n', "1:1: warning [102]: Set Field has no target field"),  # FileMaker's own print
    ('Set Field [ T::F ]\n', "1:1: warning [5]: Set Field has no calculation"),
    ('Insert from URL [ Select ; No dialog ]\n', "1:1: warning [102]: Insert from URL has no Target"),
    ('Insert from URL [ Target: $r ]\n', "1:1: warning [1630]: Insert from URL has no URL"),
    ('Write to Data File [ File ID:    ; Data source:  ; Write as: UTF-16 ]\n',
     "1:1: warning [100]: Write to Data File has no File ID"),
    ('Set Variable [  ; Value:  ]\n', "1:1: warning [5]: Set Variable has no variable name"),
    ('Go to Object\n', "1:1: warning [116]: Go to Object has no object name"),
    ('Sort Records by Field [ Ascending ]\n', "1:1: warning [102]: Sort Records by Field has no field"),
    ('Export Records [ Create folders: Off ]\n', "1:1: warning [5]: Export Records has no output file"),
    ('Generate Response from Model [ Agentic mode: On ]\n', "1:1: warning [1708]: Generate Response from Model"),
])
def test_each_family_warns_with_the_error_it_fails_with(capsys, tmp_path, text, line):
    rc, heads, _ = _check(capsys, tmp_path, text)
    assert rc == 0 and len(heads) == 1 and heads[0].startswith(line), heads


def test_the_error_of_an_incomplete_step_is_the_one_it_fails_with_when_run():
    with Interpreter() as fm:
        out = fm.run_text('Set Error Capture [ On ]\nInsert from URL [ Target: $r ]\n'
                          'Set Variable [ $a ; Get ( LastError ) ]\nWrite to Data File [ File ID: ; Data source: 1 ]\n'
                          'Set Variable [ $b ; Get ( LastError ) ]\nSet Variable [ ; Value: 1 ]\n'
                          'Exit Script [ Text Result: $a & "," & $b & "," & Get ( LastError ) ]\n')
    assert out == "1630,100,5"


def test_an_if_without_a_condition_is_false_and_a_warning(capsys, tmp_path):
    text = 'Set Variable [ $x ; 0 ]\nIf\nSet Variable [ $x ; 1 ]\nElse\nSet Variable [ $x ; 2 ]\nEnd If\n' \
           'Exit Script [ Text Result: $x ]\n'
    with Interpreter() as fm:
        assert fm.run_text(text) == "2"
    rc, heads, _ = _check(capsys, tmp_path, text)
    assert rc == 0 and heads == ["2:1: warning: If has no condition; FileMaker saves the step so, and an empty "
                                 "condition is false"]


@pytest.mark.parametrize("text", ['Set Field [ 1 + ]\n', 'Set Field [ Bogus: 1 ]\n',
                                  'Insert from URL [ Target: $r ; "http://x" + ]\n'])
def test_malformed_text_is_still_an_error(capsys, tmp_path, text):
    rc, heads, _ = _check(capsys, tmp_path, text)
    assert rc == 1 and any(": error [" in h for h in heads) and not any("warning" in h for h in heads), heads
    with Interpreter() as fm, pytest.raises(FMScriptError):
        fm.load_text(text)


def test_a_malformed_option_beside_a_missing_one_is_an_error_not_a_warning(capsys, tmp_path):
    rc, heads, _ = _check(capsys, tmp_path, 'Set Field [ ; 1 + ]\n')
    assert rc == 1 and not any("warning" in h for h in heads), heads
