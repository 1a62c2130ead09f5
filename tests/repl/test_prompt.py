"""The prompt-toolkit face driven through a pipe input (keys as a terminal sends them) and DummyOutput."""
from __future__ import annotations

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from fmscript.repl.app import TerminalRepl, run_piped

ENTER, TAB, CTRL_C, CTRL_D, ESC_ENTER = "\r", "\t", "\x03", "\x04", "\x1b\r"


def drive(*chunks: str, **kw):
    """Type ``chunks`` into a REPL and end with Ctrl-D; returns (exit code, [(kind, text)], repl)."""
    lines: list[tuple[str, str]] = []
    with create_pipe_input() as inp:
        t = TerminalRepl(history=False, input=inp, output=DummyOutput(), color=False, **kw)
        t.repl.out = lambda text, kind: lines.append((kind, text))
        for c in chunks:
            inp.send_text(c)
        inp.send_text(CTRL_D)
        rc = t.run()
    return rc, lines, t


def test_a_step_runs_when_its_line_is_complete():
    rc, lines, t = drive("Set Variable [ $x ; Value: 6 * 7 ]" + ENTER, "$x" + ENTER)
    assert rc == 0 and lines == [("result", "42")]


def test_a_multi_line_if_block_runs_at_its_end_if():
    rc, lines, t = drive("Set Variable [ $n ; Value: 3 ]" + ENTER,
                         "If [ $n > 2 ]" + ENTER,
                         'Show Custom Dialog [ "big" ]' + ENTER,
                         "Else" + ENTER,
                         'Show Custom Dialog [ "small" ]' + ENTER,
                         "End If" + ENTER)
    assert lines == [("dialog", "big")]


def test_continuation_lines_are_indented_and_closers_dedented():
    history = []
    with create_pipe_input() as inp:
        t = TerminalRepl(history=False, input=inp, output=DummyOutput(), color=False)
        t.repl.out = lambda text, kind: None
        original = t.repl.execute
        t.repl.execute = lambda text: (history.append(text), original(text))
        inp.send_text("If [ 1 ]" + ENTER + "Loop" + ENTER + "Exit Loop If [ 1 ]" + ENTER + "End Loop" + ENTER
                      + "End If" + ENTER + CTRL_D)
        t.run()
    assert history == ["If [ 1 ]\n    Loop\n        Exit Loop If [ 1 ]\n    End Loop\nEnd If"]


def test_brackets_and_strings_continue_over_lines():
    rc, lines, t = drive("Set Variable [ $j ; Value:" + ENTER,
                         'JSONSetElement ( "" ;' + ENTER,
                         '[ "a" ; "x;]" ; JSONString ]' + ENTER,
                         ") ]" + ENTER,
                         "$j" + ENTER)
    assert lines == [("result", '{"a":"x;]"}')]


def test_a_calculation_shows_its_value_like_the_data_viewer():
    rc, lines, t = drive('Upper ( "abc" ) & ¶ & Length ( "汉字" )' + ENTER)
    assert lines == [("result", "ABC\n2")]


def test_an_error_then_the_session_goes_on():
    rc, lines, t = drive("Set Variable [ $x ; Value: 1 + ]" + ENTER, "1 + 1" + ENTER)
    assert lines[0][0] == "error" and lines[0][1].splitlines()[-1].endswith("^")
    assert lines[1] == ("result", "2")


def test_unfinished_calculation_and_an_empty_line_shows_the_error():
    rc, lines, t = drive("2 *" + ENTER, ENTER, "3" + ENTER)
    assert lines[0][0] == "error" and "ends too early" in lines[0][1]
    assert lines[1] == ("result", "3")


def test_esc_enter_runs_an_open_block_now():
    rc, lines, t = drive("If [ 1 ]" + ESC_ENTER)
    assert lines[0][0] == "error" and "missing “End If”" in lines[0][1]


def test_ctrl_c_cancels_the_input():
    rc, lines, t = drive("If [ 1 ]" + ENTER + 'Show Custom Dialog [ "never" ]' + CTRL_C, "7" + ENTER)
    assert lines == [("result", "7")]


def test_tab_completes_a_step_name():
    rc, lines, t = drive("Set Var" + TAB + " [ $v ; Value: 5 ]" + ENTER, "$v" + ENTER)
    assert lines == [("result", "5")]


def test_tab_completes_a_label_and_a_variable():
    rc, lines, t = drive("Set Variable [ $long_name ; 1 ]" + ENTER,
                         "Set Variable [ $y ; Val" + TAB + "$long" + TAB + " + 1 ]" + ENTER, "$y" + ENTER)
    assert lines == [("result", "2")]


def test_tab_at_the_start_of_a_line_indents():
    rc, lines, t = drive("If [ 1 ]" + ENTER + TAB + "Beep" + ENTER + "End If" + ENTER)
    assert [k for k, _ in lines] == []


def test_meta_commands_and_quit():
    rc, lines, t = drive("Set Variable [ $a ; Value: 1 ]" + ENTER, ":vars" + ENTER, ":quit" + ENTER,
                         "$a" + ENTER)
    assert lines == [("result", "variable  value\n$a        1")]
    assert t.repl.quit


def test_history_is_kept_in_the_fmscript_home(tmp_path, monkeypatch):
    from fmscript.home import history_file
    with create_pipe_input() as inp:
        t = TerminalRepl(input=inp, output=DummyOutput(), color=False)
        t.repl.out = lambda text, kind: None
        inp.send_text("Set Variable [ $h ; Value: 1 ]" + ENTER + "$h * 2" + ENTER + CTRL_D)
        t.run()
    text = history_file().read_text(encoding="utf-8")
    assert "+Set Variable [ $h ; Value: 1 ]" in text and "+$h * 2" in text


def test_piped_stdin_runs_each_complete_piece(capsys):
    rc = run_piped('Set Variable [ $x ; Value: 2 ]\nIf [ $x = 2 ]\n  Show Custom Dialog [ "two" ]\nEnd If\n$x * 21\n')
    assert rc == 0
    assert capsys.readouterr().out == "two\n42\n"
