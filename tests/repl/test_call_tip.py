"""The call tip and the REPL's use of the Interpreter, without a terminal."""
from __future__ import annotations

import pytest

from fmscript.interpreter import Interpreter
from fmscript.repl.completion import call_tip


@pytest.mark.parametrize("before_cursor, tip", [
    ('Left ( "abc" ;', "Left ( text ; numberOfCharacters )"),
    ("left(", "Left ( text ; numberOfCharacters )"),
    ('Left ( Upper ( "a"', "Upper ( text )"),
    ('Left ( Upper ( "a" ) ;', "Left ( text ; numberOfCharacters )"),
    ('Left ( "a ( b" ; ', "Left ( text ; numberOfCharacters )"),  # a parenthesis in text is text
    ("Left ( /* ( */ $x ;", "Left ( text ; numberOfCharacters )"),
    ("Middle ( $t ; ( 1 + 2", "Middle ( text ; start ; numberOfCharacters )"),  # grouping is no call
    ("Set Variable [ $x ; Value: Abs ( ", "Abs ( number )"),
    ('Left ( "abc" ; 2 )', None),
    ("( 1 + 2", None),
    ('Left ( "ab', None),
    ("", None),
])
def test_call_tip_names_the_function_whose_parentheses_hold_the_cursor(before_cursor, tip):
    assert call_tip(before_cursor) == tip


class CountingInterpreter(Interpreter):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.runs = 0

    def run_compiled(self, cs, frame=None, *, halt=False):
        self.runs += 1
        return super().run_compiled(cs, frame, halt=halt)


def test_the_repl_runs_steps_through_its_interpreter():
    from fmscript.repl.session import ReplSession

    shown = []
    fm = CountingInterpreter(on_dialog=lambda t, m: None)
    repl = ReplSession(fm, out=lambda text, kind: shown.append((kind, text)))
    repl.execute("Set Variable [ $x ; Value: 2 ]")
    repl.execute("Exit Script [ Text Result: $x * 21 ]")
    assert fm.runs == 2 and shown == [("result", "42")]
    assert fm.variables(repl.frame) == {"$x": 2}


def test_a_step_fmscript_does_not_run_gives_one_message(repl):
    out = repl("Print Setup [ Restore ; With dialog: Off ]")
    assert [k for k, _ in out] == ["error"] and "error [3]" in out[0][1]
    repl("Set Error Capture [ On ]")
    out = repl("Print Setup [ Restore ; With dialog: Off ]")  # no error now: the warning is the only word
    assert [k for k, _ in out] == ["info"] and "warning [3]" in out[0][1]
