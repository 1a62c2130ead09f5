"""Text as FileMaker's Print lays it out, piped into the REPL: a step whose options wrap onto the next line
runs once, with its options."""
from __future__ import annotations

from fmscript.repl.app import run_piped


def test_wrapped_options_are_one_step_in_piped_input(capsys):
    rc = run_piped('Set Variable\n  [ $x ; Value: 5 ]\nShow Custom Dialog\n[ "x is " & $x ]\nBeep\n$x * 2\n')
    out, err = capsys.readouterr()
    assert (rc, out, err) == (0, "x is 5\n10\n", "")
