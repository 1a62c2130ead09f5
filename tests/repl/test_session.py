"""The REPL's logic without a terminal: what is complete, what runs, what is shown."""
from __future__ import annotations

import pytest

from fmscript.repl.session import check_complete, classify


@pytest.mark.parametrize("text, kind", [
    ("", "empty"), ("   ", "empty"), (":vars", "meta"), ("Set Variable [ $x ; 1 ]", "steps"),
    ("设置变量 [ $x ; 值: 1 ]", "steps"), ("Beep", "steps"), ("# note", "steps"), ("End If", "steps"),
    ('Script "A"\nBeep\nEnd Script', "define"), ('脚本 "A"', "define"),
    ("1 + 2", "calc"), ("$x", "calc"), ('If ( $x ; "a" ; "b" )', "calc"), ("Let ( [ a = 1 ] ; a )", "calc"),
    ("Contacts::Name for Labels", "calc"), ("::x", "calc"),
    ("Sett Variable [ $x ; 1 ]", "steps"), ("Perfom Script", "steps"), ("a and b", "calc"),
])
def test_classify(text, kind):
    assert classify(text) == kind


@pytest.mark.parametrize("text, status", [
    ("Set Variable [ $x ; Value: 1 ]", "complete"),
    ("If [ $x > 1 ]", "incomplete"),
    ("If [ $x > 1 ]\n  Beep", "incomplete"),
    ("If [ $x > 1 ]\n  Beep\nEnd If", "complete"),
    ("Loop\n  Exit Loop If [ 1 ]", "incomplete"),
    ("Loop\n  Exit Loop If [ 1 ]\nEnd Loop", "complete"),
    ("如果 [ 1 ]", "incomplete"),
    ("Set Variable [ $x ; Value: Let ( [", "incomplete"),
    ('Set Variable [ $x ; Value: "abc', "incomplete"),
    ("Set Variable [ $x ; Value: /* note", "incomplete"),
    ("Set Variable [ $x", "incomplete"),
    ("Set Variable [ $x ; (1 ]", "invalid"),
    ("Set Variable [ $x ; 1 + ]", "invalid"),
    ("End If", "invalid"),
    ('Script "A"\nBeep', "incomplete"),
    ('Script "A"\nBeep\nEnd Script', "complete"),
    ("1 + 2", "complete"),
    ("(1 + 2", "incomplete"),
    ('"abc', "incomplete"),
    ("1 +", "incomplete"),
    ("1 +\n", "invalid"),  # an empty line ends an unfinished calculation: its error is shown
    ("/* comment", "incomplete"),
    ("1 )", "invalid"),
    (":records", "complete"),
])
def test_check_complete(text, status):
    assert check_complete(text)[0] == status


def test_indent_follows_open_blocks():
    assert check_complete("If [ 1 ]")[1] == "    "
    assert check_complete("If [ 1 ]\n    Loop")[1] == "        "
    assert check_complete("If [ 1 ]\n    Loop\n    End Loop")[1] == "    "


def test_steps_share_one_frame_and_calculations_show_their_value(repl):
    assert repl("Set Variable [ $x ; Value: 6 * 7 ]") == []
    assert repl("$x") == [("result", "42")]
    assert repl("设置变量 [ $y ; 值: $x & \"!\" ]") == []
    assert repl("$y") == [("result", "42!")]
    assert repl('Set Variable [ $$g ; Value: "global" ]') == []
    assert repl("$$g & $x") == [("result", "global42")]
    assert repl.repl.fm.get_global("g") == "global"


def test_multi_line_if_block_runs_as_one(repl):
    repl("Set Variable [ $n ; Value: 3 ]")
    out = repl('If [ $n > 2 ]\n    Show Custom Dialog [ "Big" ; "n is " & $n ]\nElse\n'
               '    Show Custom Dialog [ "small" ]\nEnd If')
    assert out == [("dialog", "Big\nn is 3")]


def test_loop_and_exit_script_result(repl):
    out = repl("Set Variable [ $i ; Value: 0 ]\nLoop\n  Set Variable [ $i ; Value: $i + 1 ]\n"
               "  Exit Loop If [ $i = 5 ]\nEnd Loop\nExit Script [ Text Result: $i * 10 ]")
    assert out == [("result", "50")]


def test_empty_value_and_question_mark_with_detail(repl):
    assert repl('""') == [("empty", "(empty)")]
    out = repl("1 / 0")
    assert out[0] == ("result", "?") and out[1][0] == "info"


def test_an_error_shows_the_caret_and_the_session_goes_on(repl):
    out = repl("Set Variable [ $x ; Value: 1 + ]")
    assert out[0][0] == "error"
    assert out[0][1].splitlines() == [
        "<repl>:1:31: error [1204]: the calculation ends too early; expected a value (number, text, variable, "
        "field or function)",
        "Set Variable [ $x ; Value: 1 + ]",
        "                              ^"]
    assert repl("Set Variable [ $x ; Value: 2 ]") == []
    assert repl("$x") == [("result", "2")]


def test_unknown_step_suggests_the_nearest(repl):
    out = repl.text("Sett Variable [ $x ; 1 ]")
    assert "unknown script step “Sett Variable”; did you mean “Set Variable”?" in out
    assert out.splitlines()[-1] == "^" * len("Sett Variable")


def test_runtime_error_names_line_and_step(repl):
    out = repl.text('Beep\nPerform Script [ "Nope" ]')
    assert out.startswith("<repl>:2:1: error [104]")
    assert "Perform Script" in out


def test_error_capture_persists_in_the_repl_frame(repl):
    repl("Set Error Capture [ On ]")
    assert repl('Perform Script [ "Nope" ]') == []
    assert repl("Get ( LastError )") == [("result", "104")]


def test_halt_script(repl):
    assert repl("Halt Script") == [("info", "(script halted)")]
    assert repl("1") == [("result", "1")]


def test_define_and_run_a_script(repl):
    out = repl('Script "Double"\nExit Script [ Text Result: Get ( ScriptParameter ) * 2 ]\nEnd Script')
    assert out == [("info", "defined “Double” (run with :run NAME)")]
    assert repl(":run Double 21") == [("result", "42")]
    assert repl(":scripts") == [("result", "Double")]


def test_ctrl_c_interrupts_a_run_and_the_session_goes_on(repl):
    calls = []

    def out(text, kind):
        calls.append((kind, text))
        if kind == "dialog":
            raise KeyboardInterrupt
    repl.repl.out = out
    repl.repl.execute('Show Custom Dialog [ "stop me" ]\nSet Variable [ $after ; 1 ]')
    assert calls[-1] == ("error", "interrupted")
    repl.repl.execute("IsEmpty ( $after )")
    assert calls[-1] == ("result", "1")


def test_unimplemented_step_warns_then_gives_error_3(repl):
    out = repl("Set Error Capture [ On ]\nPrint Setup [ Restore ; With dialog: Off ]")
    kinds = [k for k, _ in out]
    assert "info" in kinds  # the check warning
    assert repl("Get ( LastError )") == [("result", "3")]
