"""Issue 17's reproducers: every hostile input gives FileMaker's error (or ``?``) within a limit, never an internal
error, a Python RecursionError or a runaway.  docs/limits.md lists each limit."""
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from fmscript import limits
from fmscript.calc.parse import deeper_than, parse_calc
from fmscript.cli import EXIT_TIMEOUT, main
from fmscript.errors import E_CALC_SYNTAX, E_EXECUTE_SQL, E_RECURSION, FMScriptError, ParseError
from fmscript.interpreter import Interpreter


def shown(calc: str) -> tuple[str, str]:
    """(what Show Custom Dialog shows for ``calc``, Get ( LastErrorDetail ) after it)."""
    out = []
    fm = Interpreter(on_dialog=lambda t, m: out.append(m))
    fm.run_text(f"Show Custom Dialog [ {calc} ]")
    return out[0], fm.session.last_error_detail


@pytest.mark.parametrize("literal", ["1e9999999", "-1e9999999", "1e9999999999999999999"])
def test_a_number_literal_past_the_range_is_refused_where_it_is(literal):
    with pytest.raises(FMScriptError) as e:  # found while loading, before anything runs
        Interpreter().run_text(f"Set Variable [ $x ; Value: 2 * {literal} ]")
    assert e.value.code == E_CALC_SYNTAX and "out of range" in e.value.message
    assert e.value.span.col == len("Set Variable [ $x ; Value: 2 * ") + 1 + literal.startswith("-")


@pytest.mark.parametrize("calc", ["GetAsTimestamp ( 1e20 )", 'Timestamp ( "" ; 190156789012345 )',
                                  "GetAsTime ( 99e997 )", "GetAsTime ( \"99e99999\" )", "Get ( CurrentTimestamp ) + 1e400",
                                  "Get ( CurrentTimestamp ) - 1e20"])
def test_dates_and_times_out_of_range_are_a_question_mark(calc):
    value, detail = shown(calc)
    assert value == "?" and "out of range" in detail


def test_times_and_timestamps_in_range_still_work():
    assert shown("GetAsTime ( 90000 )")[0] == "25:00:00"
    assert shown('GetAsText ( Timestamp ( Date ( 12 ; 31 ; 4000 ) ; Time ( 23 ; 59 ; 59 ) ) )')[0] == \
        "12/31/4000 11:59:59 PM"


def test_char_never_makes_half_a_character(capfd):
    # A lone surrogate is no character: shown as U+FFFD; two halves make one character, as UTF-16 does.
    assert shown("Char ( 55296 )")[0] == "\ufffd"
    assert shown("Char ( 5683255357 )")[0] == "😀"
    assert shown('JSONGetElement ( "[\\"\\\\ud800\\"]" ; 0 )')[0] == "\ufffd"
    assert shown("Char ( 1e500 )")[0] == "?"


def test_char_of_a_lone_surrogate_prints_from_the_command_line(tmp_path, capsys):
    script = tmp_path / "s.fmscript"
    script.write_text("Show Custom Dialog [ Char ( 55296 ) & \"ok\" ]\n", encoding="utf-8")
    assert main(["run", str(script)]) == 0
    assert capsys.readouterr().out == "\ufffdok\n"


def test_a_non_utf8_script_on_stdin_is_a_usage_error():
    r = subprocess.run([sys.executable, "-P", "-m", "fmscript", "run", "-"], input=b'Beep\nSet Variable [ $x ; "\xff" ]\n',
                       capture_output=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.decode().startswith("<stdin>:2:") and "not UTF-8" in r.stderr.decode()
    assert "internal error" not in r.stderr.decode()


@pytest.mark.parametrize("index", ["[2147483648]", "[" + "9" * 30 + "]", "[" + "9" * 5000 + "]"])
def test_a_huge_json_array_index_is_refused_before_the_array_is_built(index):
    value, detail = shown(f'JSONSetElement ( "" ; "{index}" ; 1 ; JSONNumber )')
    assert value.startswith("?")


def test_json_array_index_up_to_the_cap_works():
    doc = Interpreter().evaluate(f'JSONSetElement ( "" ; "[{limits.MAX_JSON_INDEX}]" ; 1 ; JSONNumber )')
    assert json.loads(doc)[-1] == 1 and len(json.loads(doc)) == limits.MAX_JSON_INDEX + 1
    fm = Interpreter()
    assert fm.evaluate(f'JSONSetElement ( "" ; "[{limits.MAX_JSON_INDEX + 1}]" ; 1 ; JSONNumber )') == "?"
    assert "at most" in fm.session.last_error_detail


def test_text_that_doubles_in_a_loop_stops_at_the_size_cap(monkeypatch):
    import fmscript.calc.compile as cc
    import fmscript.calc.functions.text as tx
    monkeypatch.setattr(cc, "MAX_TEXT_LENGTH", 10_000)  # the cap as the two builders of text read it
    monkeypatch.setattr(tx, "MAX_TEXT_LENGTH", 10_000)
    fm = Interpreter()
    assert fm.evaluate('While ( [ i = 0 ; t = "ab" ] ; i < 60 ; [ i = i + 1 ; t = t & t ] ; Length ( t ) )') == "?"
    assert fm.session.last_error_detail == "the text would be longer than 10,000 characters"
    fm.session.last_error_detail = ""
    assert fm.evaluate(f'Substitute ( "{"a" * 200}" ; "a" ; "{"b" * 100}" )') == "?"
    assert fm.session.last_error_detail == "the text would be longer than 10,000 characters"
    assert fm.evaluate(f'Length ( Substitute ( "{"a" * 100}" ; "a" ; "{"b" * 100}" ) )') == 10_000


def test_building_text_in_while_50000_times_is_linear_enough_to_finish():
    # FileMaker's While limit is 50,000 iterations; building a text that long must finish (it was quadratic).
    n = Interpreter().evaluate('While ( [ i = 0 ; out = "" ] ; i < 50000 ; [ i = i + 1 ; out = out & "x" ] ; '
                               'Length ( out ) )')
    assert n == 50000


def test_while_stops_at_filemakers_limit_and_setrecursion_moves_it():
    fm = Interpreter()
    assert fm.evaluate("While ( i = 0 ; i < 50001 ; i = i + 1 ; i )") == "?"
    assert "50000 iterations" in fm.session.last_error_detail
    assert fm.evaluate("While ( i = 0 ; i < 50000 ; i = i + 1 ; i )") == 50000
    assert fm.evaluate("SetRecursion ( While ( i = 0 ; i < 100000 ; i = i + 1 ; i ) ; 200000 )") == 100000
    assert fm.evaluate("SetRecursion ( While ( i = 0 ; i ≤ 10 ; i = i + 1 ; i ) ; 5 )") == "?"


def nested(kind: str, n: int) -> str:
    return {"call": "Abs ( " * n + "1" + " )" * n,
            "if": "If ( 1 ; " * n + "1" + " ; 0 )" * n,
            "let": "Let ( x = 1 ; " * n + "x" + " )" * n,
            "plus": " + ".join(["1"] * n),
            "paren": "(" * n + "1" + ")" * n}[kind]


@pytest.mark.parametrize("kind,n", [("call", 248), ("if", 248), ("let", 331), ("plus", 497), ("call", 999),
                                    ("plus", 999), ("paren", 999)])
def test_deep_calculations_that_used_to_raise_recursion_error_evaluate(kind, n):
    value = Interpreter().evaluate(nested(kind, n))
    assert str(value) == (str(n) if kind == "plus" else "1")


@pytest.mark.parametrize("kind", ["call", "if", "let", "plus"])
def test_a_calculation_past_the_depth_limit_is_refused_when_parsed(kind):
    with pytest.raises(FMScriptError) as e:
        Interpreter().run_text(f"Set Variable [ $x ; Value: {nested(kind, limits.MAX_CALC_DEPTH + 1)} ]")
    assert e.value.code == E_CALC_SYNTAX and "nested more than 1,000 levels" in e.value.message
    assert e.value.span.line == 1


def test_the_depth_measure_is_iterative():
    # The limit is measured without recursion, so a calculation of any depth gets the error, not Python's.
    deep = nested("plus", 3)
    assert deeper_than(parse_calc(deep), 3) is None and deeper_than(parse_calc(deep), 2) is not None
    with pytest.raises(ParseError):
        parse_calc(nested("call", 20_000))
    assert Interpreter().evaluate(nested("paren", 20_000)) == 1  # parentheses build no nodes: no limit


RECURSE = ('Script "R"\nSet Variable [ $$d ; Value: $$d + 1 ]\nSet Variable [ $x ; Value: {calc} ]\n'
           'If [ $$d < {stop} ]\nPerform Script [ "R" ]\nEnd If\nEnd Script\n'
           'Script "Main"\nPerform Script [ "R" ]\nExit Script [ Text Result: $$d ]\nEnd Script\n')


def test_a_guarded_recursion_reaches_its_depth_with_deep_calculations_on_the_way():
    # Depth 496 used to stop silently (RecursionError read as ?); now every level runs a 999-deep calculation.
    text = RECURSE.format(calc=nested("call", limits.MAX_CALC_DEPTH - 1), stop=limits.MAX_CALL_DEPTH)
    assert Interpreter().run_text(text, script="Main") == str(limits.MAX_CALL_DEPTH)


def test_a_script_performing_itself_stops_at_the_call_depth_limit():
    with pytest.raises(FMScriptError) as e:
        Interpreter().run_text('Script "R"\nPerform Script [ "R" ]\nEnd Script')
    assert e.value.code == E_RECURSION and "1000 levels" in e.value.message
    out = Interpreter().run_text('Script "R"\nSet Error Capture [ On ]\nSet Variable [ $$n ; $$n + 1 ]\n'
                                 'Perform Script [ "R" ]\n'
                                 'Exit Script [ If ( Get ( LastError ) ; Get ( LastError ) & " " & $$n ; '
                                 'Get ( ScriptResult ) ) ]\nEnd Script')
    assert out == f"{E_RECURSION} {limits.MAX_CALL_DEPTH + 1}"


def test_deep_json_in_a_calculation_is_a_json_error():
    value, _ = shown('JSONGetElement ( "' + "[" * 100_000 + "]" * 100_000 + '" ; 0 )')
    assert value.startswith("?")


def test_execute_sql_is_interrupted_after_its_time_limit(monkeypatch):
    monkeypatch.setattr(limits, "SQL_TIME_LIMIT", 0.3)
    fm = Interpreter()
    endless = 'ExecuteSQL ( "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c" ; "" ; "" )'
    assert fm.evaluate(endless) == "?"
    assert "longer than 0.3 seconds" in fm.session.last_error_detail
    out = fm.run_text(f"Set Variable [ $x ; {endless} ]\nExit Script [ Get ( LastError ) ]")
    assert out in ("0", str(E_EXECUTE_SQL))  # a calculation's ? leaves LastError as FileMaker does
    assert fm.evaluate('ExecuteSQL ( "SELECT 6*7" ; "" ; "" )') == "42"


def test_run_timeout_stops_an_endless_loop_with_its_exit_code(tmp_path):
    script = tmp_path / "forever.fmscript"
    script.write_text("Loop\n  Set Variable [ $i ; $i + 1 ]\nEnd Loop\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-P", "-m", "fmscript", "run", "--timeout", "1", str(script)],
                       capture_output=True, timeout=120, text=True)
    assert r.returncode == EXIT_TIMEOUT == 124
    assert r.stderr == "fmscript: the run took longer than --timeout 1 seconds and was stopped\n"


def test_run_timeout_must_be_positive(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--timeout", "0", "x.fmscript"])
    assert e.value.code == 2 and "above 0" in capsys.readouterr().err


def test_combination_of_a_huge_set_is_out_of_range_at_once():
    # Found by the long fuzzing profile: lgamma's difference cancelled to noise, so a billion factors were multiplied.
    fm = Interpreter()
    assert fm.evaluate("Combination ( " + "55296" * 10 + " ; 1111111111 )") == "?"
    assert "out of range" in fm.session.last_error_detail
    assert fm.evaluate("Factorial ( 500 )") == "?"
    assert fm.evaluate("Combination ( 52 ; 5 )") == 2598960 and fm.evaluate("Combination ( 10 ; 0 )") == 1
    assert fm.evaluate("Length ( Factorial ( 400 ) )") == 869


def test_combination_of_a_set_past_a_floats_range_is_no_internal_error():
    # Found by the long fuzzing profile after the merge: setSize / numberOfChoices overflowed a float.
    fm = Interpreter()
    huge = "1" + "0" * 500
    assert fm.evaluate(f"Combination ( {huge} ; 1 ) = {huge}") == 1
    assert fm.evaluate(f"Combination ( {huge} ; 0 )") == 1
    assert fm.evaluate("Combination ( 1" + "0" * 400 + " ; 3 )") == "?"
    assert "out of range" in fm.session.last_error_detail


def test_npv_at_an_interest_rate_of_minus_one_is_a_division_by_zero():
    # Found by the long fuzzing profile on merged main: 0 / 0 raised decimal's InvalidOperation.
    fm = Interpreter()
    assert fm.evaluate("NPV ( 0 ; -1 )") == "?"
    assert "division by zero" in fm.session.last_error_detail
    assert fm.evaluate("Round ( NPV ( \"1¶2\" ; 0.1 ) ; 4 )") == Decimal("2.5620")


@pytest.mark.parametrize("json_text", ["[" + "9" * 5000 + "]", "[" * 100_000 + "]" * 100_000], ids=["digits", "deep"])
@pytest.mark.parametrize("calc", ["GetEmbeddingAsFile ( \"{j}\" )", "CosineSimilarity ( \"{j}\" ; \"[1]\" )"])
def test_json_text_past_pythons_reader_is_the_functions_own_error(calc, json_text):
    # Python's JSON reader raises ValueError (an integer past 4,300 digits) and RecursionError (deep nesting)
    # besides its decode error: every reader of text a user wrote turns them into the same FileMaker error.
    fm = Interpreter()
    assert fm.evaluate(calc.format(j=json_text)) == "?"  # a calculation's error, as for any text that is no vector
    assert fm.evaluate("Get ( LastError )") != "0"


def test_the_json_reader_keeps_other_value_errors_and_reads_good_json():
    assert limits.json_loads('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    with pytest.raises(json.JSONDecodeError, match="4,300 digits"):
        limits.json_loads("9" * 5000)
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        limits.json_loads("[" * 100_000)
