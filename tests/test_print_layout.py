"""Script text as FileMaker's Print command lays it out (issue 11, item 9): wrapped options, ``<unknown>``
for deleted layouts, fields and scripts, and the options newer FileMaker versions print."""
from __future__ import annotations

import pytest

from fmscript import Interpreter
from fmscript.errors import FMScriptError
from fmscript.script import ast as S
from fmscript.script.parse import parse_collect
from fmscript.script.steps import builtin_steps


def _steps(text: str):
    sf, errors = parse_collect(text, "<t>", steps=builtin_steps())
    assert errors == []
    return sf.scripts[0].steps


@pytest.mark.parametrize("wrapped, one_line", [
    ("Go to Record/Request/Page\n[ First ]", "Go to Record/Request/Page [ First ]"),
    ("Go to Record/Request/Page\n    [ Next ; Exit after last: On ]", "Go to Record/Request/Page [ Next ; Exit after last: On ]"),
    ('Show Custom Dialog\n\t[ "Title" ;\n\t"Message" ]', 'Show Custom Dialog [ "Title" ; "Message" ]'),
    ("转到记录/请求/页面\n［ 第一个 ］", "Go to Record/Request/Page [ First ]"),
])
def test_options_wrapped_onto_the_next_line_belong_to_the_step(wrapped, one_line):
    assert _steps(wrapped) == _steps(one_line)
    assert len(_steps(wrapped + "\nBeep")) == 2


def test_a_step_without_options_is_not_joined_to_the_next_step():
    steps = _steps("Beep\nSet Variable [ $x ; Value: 1 ]")
    assert [s.name for s in steps] == ["Beep", "Set Variable"]


@pytest.fixture
def fm(tmp_path):
    fm = Interpreter(file=tmp_path / "f.sqlite", on_dialog=lambda t, m: None)
    fm.database.create_table("People", [("Name", "text", False)])
    fm.run_text('Go to Layout [ “People” ]\nNew Record/Request\nSet Field [ People::Name ; "Ann" ]\n'
                'New Record/Request\nSet Field [ People::Name ; "Bob" ]\nCommit Records/Requests [ With dialog: Off ]')
    return fm


def test_wrapped_options_run_as_written(fm):
    assert fm.run_text("Go to Layout [ “People” ]\nGo to Record/Request/Page\n  [ First ]\n"
                       "Exit Script [ Text Result: People::Name ]") == "Ann"


def test_unknown_fails_with_the_missing_objects_error(fm):
    text = ('Go to Layout [ “People” ]\nSet Error Capture [ On ]\n'
            'Go to Layout [ <unknown> ]\nSet Variable [ $layout ; Value: Get ( LastError ) ]\n'
            'Set Field [ <unknown> ; "x" ]\nSet Variable [ $field ; Value: Get ( LastError ) ]\n'
            'Perform Script [ <unknown> ; Parameter: 1 ]\nSet Variable [ $script ; Value: Get ( LastError ) ]\n'
            'Exit Script [ Text Result: List ( $layout ; $field ; $script ; Get ( LayoutName ) ; People::Name ) ]')
    assert fm.run_text(text).split("\r") == ["105", "102", "104", "People", "Bob"]
    with pytest.raises(FMScriptError) as e:
        fm.run_text("Go to Layout [ <unknown> ]")
    assert e.value.code == 105


def test_unknown_parses_and_check_warns(tmp_path, capsys):
    from fmscript.cli import main

    f = tmp_path / "u.fmscript"
    f.write_text("Go to Layout [ <unknown> ]\nSet Field [ <unknown> ; 1 ]\nPerform Script [ <unknown> ]\n",
                 encoding="utf-8")
    assert main(["check", str(f)]) == 0
    err = capsys.readouterr().err
    assert [ln.split(": warning")[0].rsplit(":", 2)[1:] for ln in err.splitlines() if ": warning" in ln] == \
        [["1", "16"], ["2", "13"], ["3", "18"]]
    assert "0 errors, 3 warnings" in err
    step = _steps("Go to Layout [ <unknown> ]")[0]
    assert isinstance(step.options[0].value, S.Missing)
    assert _steps('Go to Layout [ "<unknown>" ]')[0] != step  # a quoted name is a name


@pytest.mark.parametrize("flush", ["Always", "Minimum", "Defer"])
def test_loop_flush_option_parses_and_runs(flush):
    text = (f"Set Variable [ $i ; Value: 0 ]\nLoop [ Flush: {flush} ]\nSet Variable [ $i ; Value: $i + 1 ]\n"
            "Exit Loop If [ $i = 4 ]\nEnd Loop\nExit Script [ Text Result: $i ]")
    assert Interpreter().run_text(text) == "4"
    assert _steps(f"Loop [ Flush: {flush} ]\nEnd Loop")[0].get("Flush") is not None


def test_loop_flush_in_zh_hans_is_the_same_step():
    assert _steps("循环 [ 刷新: 延迟 ]\n结束循环") == _steps("Loop [ Flush: Defer ]\nEnd Loop")
