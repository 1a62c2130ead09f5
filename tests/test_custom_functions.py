"""Custom functions defined in a script file (issue 15, item 6): ``Function "Name" ( a ; b )`` …
``End Function`` (zh-Hans ``函数`` … ``结束函数``), recursive, with FileMaker's recursion limits."""
from __future__ import annotations

import pytest

from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter

LIB = """
Function "Fact" ( n )
  // a comment inside the body
  If ( n ≤ 1 ; 1 ; n * Fact ( n - 1 ) )
End Function

函数 "加" ( a ； b )
  a + b
结束函数

function Depth ( n )
  If ( n = 0 ; 0 ; 1 + Depth ( n - 1 ) )
end function

Function "Fib" ( n )
  If ( n < 2 ; n ; Fib ( n - 1 ) + Fib ( n - 2 ) )
End Function

Function "Greeting"
  "hi " & $$who
End Function

Function "IsEvenish" ( n )
  If ( n = 0 ; 1 ; IsOddish ( n - 1 ) )
End Function

Function "IsOddish" ( n )
  If ( n = 0 ; 0 ; IsEvenish ( n - 1 ) )
End Function
"""


def run(text: str, fm: Interpreter | None = None) -> list[str]:
    out: list[str] = []
    fm = fm or Interpreter()
    fm.session.on_dialog = lambda t, m: out.append(m)
    fm.run_text(text)
    return out


def test_custom_functions_recurse_and_see_only_their_parameters():
    out = run(LIB + """
Set Variable [ $$who ; Value: "Ann" ]
Set Variable [ $n ; Value: 99 ]
Show Custom Dialog [ Fact ( 10 ) & " " & 加 ( 2 ; 3 ) & " " & Greeting & " " & IsEvenish ( 7 ) & IsEvenish ( 8 ) ]
Show Custom Dialog [ Let ( n = 5 ; Fact ( 3 ) + n ) & " " & Fib ( 15 ) ]
""")
    assert out == ["3628800 5 hi Ann 01", "11 610"]


def test_recursion_up_to_filemakers_depth_limit_and_beyond_gives_a_question_mark():
    out = run(LIB + """
Show Custom Dialog [ Depth ( 9999 ) ]
Show Custom Dialog [ Depth ( 10000 ) ]
Show Custom Dialog [ Get ( LastErrorDetail ) ]
""")
    # Depth ( n ) nests n + 1 calls.
    assert out == ["9999", "?", "“Depth” recursed more than 10000 calls deep"]


def test_at_most_50000_calls_per_outermost_call_unless_setrecursion_allows_more():
    # Fib ( n ) calls Fib 2 × Fib ( n + 1 ) − 1 times: 35,421 for n = 21, 57,313 for n = 22.  The count
    # starts again with each outermost call, so two Fib ( 21 ) side by side are within the limit.
    out = run(LIB + """
Show Custom Dialog [ Fib ( 21 ) ]
Show Custom Dialog [ Fib ( 22 ) ]
Show Custom Dialog [ Get ( LastErrorDetail ) ]
Show Custom Dialog [ SetRecursion ( Fib ( 22 ) ; 100000 ) ]
Show Custom Dialog [ SetRecursion ( Fib ( 15 ) ; 100 ) ]
Show Custom Dialog [ Fib ( 21 ) + Fib ( 21 ) ]
""")
    assert out == ["10946", "?", "custom functions were called more than 50000 times in one calculation "
                                 "(SetRecursion sets the limit)", "17711", "?", "21892"]


def test_functions_are_registered_per_interpreter():
    fm = Interpreter()
    run(LIB + "Exit Script [ ]", fm)
    assert fm.evaluate("Fact ( 4 )") == 24
    with pytest.raises(FMScriptError) as e:
        Interpreter().run_text("Exit Script [ Fact ( 4 ) ]")
    assert e.value.code == 1209 and "Fact" in str(e.value)


def test_a_body_error_points_at_its_line_and_column_in_the_file():
    text = 'Function "Bad" ( x )\n  x + * 2\nEnd Function\nExit Script [ Bad ( 1 ) ]\n'
    with pytest.raises(FMScriptError) as e:
        Interpreter().run_text(text, path="lib.fmscript")
    rendered = str(e.value)
    assert "lib.fmscript:2:" in rendered and "x + * 2" in rendered and "Traceback" not in rendered


@pytest.mark.parametrize("text, words", [
    ('Function "Open" ( x )\n  x\n', "End Function"),
    ('Function "Left" ( x )\n  x\nEnd Function\n', "built-in"),
    ('Function "Dup" ( x ; X )\n  x\nEnd Function\n', "distinct names"),
    ('Function "Empty" ( x )\nEnd Function\n', "no calculation"),
])
def test_bad_definitions_are_reported_at_load(text, words):
    with pytest.raises(FMScriptError) as e:
        Interpreter().run_text(text + "Exit Script [ 1 ]")
    assert words in str(e.value)


def test_a_script_file_with_scripts_and_functions_keeps_its_positions():
    fm = Interpreter()
    text = LIB + 'Script "Main"\nExit Script [ Fact ( 3 ) & Nope ]\nEnd Script\n'
    with pytest.raises(FMScriptError) as e:
        fm.run_text(text, path="m.fmscript")
    line = LIB.count("\n") + 2
    assert f"m.fmscript:{line}:" in str(e.value)


def test_check_reports_function_errors_and_registers_nothing():
    fm = Interpreter()
    _sf, problems = fm.check_text('Function "F" ( x )\n  x +\nEnd Function\nExit Script [ F ( 1 ) ]\n', "c.fmscript")
    assert problems and problems[0].span.line == 2
    assert "f" not in fm.functions


def test_the_repl_waits_for_end_function_and_keeps_the_function():
    from fmscript.repl.session import check_complete

    assert check_complete('Function "Twice" ( x )\n  x * 2')[0] == "incomplete"
    assert check_complete('函数 "Twice" ( x )\n  x * 2\n结束函数')[0] == "complete"
    fm = Interpreter()
    fm.run_steps('Function "Twice" ( x )\n  x * 2\nEnd Function')
    assert fm.evaluate("Twice ( 21 )") == 42
