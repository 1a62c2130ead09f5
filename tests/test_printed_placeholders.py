"""What FileMaker prints for what it could not keep, read and run as FileMaker runs it: a calculation it commented
out (``/*<Function Missing>*/``: the step runs, the calculation gives empty text) and ``Perform Script`` of a
deleted script (``“<unknown>”``, 104) or of a script in a file that was not open (``<unknown> from file: “”``, 100)."""
from __future__ import annotations

import pytest

from fmscript import Interpreter


@pytest.fixture
def fm():
    fm = Interpreter(on_dialog=lambda t, m: None)
    yield fm
    fm.close()


def test_a_calculation_that_is_only_a_comment_gives_empty_text(fm):
    out = fm.run_text('Set Variable [ $v ; Value: "before" ]\n'
                      'Set Variable [ $v ; Value: /*<Function Missing>( 2 ) + 4*/ ]\n'
                      'Set Variable [ $w ; Value: // cf_Total\n ]\n'
                      'Exit Script [ "[" & $v & "][" & $w & "]" & Get ( LastError ) ]')
    assert out == "[][]0"


def test_comment_only_calculations_pass_check_but_a_half_closed_comment_does_not(fm):
    text = ('Go to Layout [ /*<Function Missing>*/ ]\nGo to Record/Request/Page [ /*cf_Row + 1*/ ]\n'
            'Set Variable [ $v ; Value: /*Let ( [ a = 1 ] ; a )*/ ]\n')
    _, found = fm.check_text(text, "c.fmscript", "c", run_time=False)
    assert [e for e in found if e.kind != "warning"] == []
    _, found = fm.check_text('Set Variable [ $v ; Value: /* never closed ]\n', "d.fmscript", "d", run_time=False)
    assert [e.code for e in found if e.kind != "warning"] == [1204]


def test_perform_script_of_what_filemaker_printed_as_unknown(fm):
    text = ('Set Error Capture [ On ]\n'
            'Perform Script [ <unknown> from file: “” (file not open) ]\n'
            'Set Variable [ $a ; Value: Get ( LastError ) ]\n'
            'Perform Script [ “<unknown>”; Parameter: $p ]\n'
            'Set Variable [ $b ; Value: Get ( LastError ) ]\n'
            'Exit Script [ $a & " " & $b ]')
    _, found = fm.check_text(text + "\n", "p.fmscript", "p", run_time=False)
    assert [e for e in found if e.kind != "warning"] == []
    assert fm.run_text(text) == "100 104"
