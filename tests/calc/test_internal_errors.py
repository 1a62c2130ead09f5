"""A bug in a calculation function is an internal error, never FileMaker's ``?`` (issue 11 item 3)."""
import pytest

from fmscript.calc.compile import compile_calc
from fmscript.calc.functions import registry
from fmscript.cli import EXIT_INTERNAL, main


@pytest.fixture
def crashing_abs(monkeypatch):
    """Abs made to fail the way a bug does (a TypeError), for this test only."""
    def crash(x):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(registry()["abs"], "impl", crash)


def test_a_python_exception_is_not_a_question_mark(calc, crashing_abs):
    with pytest.raises(TypeError):
        compile_calc("Abs ( -1 )").evaluate(calc.frame)


def test_filemaker_errors_still_give_a_question_mark(calc):
    assert calc("1 / 0") == "?"
    assert calc("Sqrt ( -1 )") == "?"
    assert calc("1E900 * 1E900") == "?" and "out of range" in calc.last_error_detail
    assert calc("EvaluationError ( 1E900 * 1E900 )") == "1204"
    assert calc("0 ^ -0.5") == "?" and calc.last_error_detail == "division by zero"


def test_numbers_past_the_context_digits_still_show(calc):
    # 1E+400 has 401 digits: more than the 400-digit context can quantize, shown all the same.
    assert calc("GetAsText ( 1E+400 )") == "1" + "0" * 400
    assert calc("Length ( 2E+401 )") == "402"


def test_cli_reports_an_internal_error_in_one_line(tmp_path, capsys, crashing_abs):
    script = tmp_path / "s.fmscript"
    script.write_text("Set Variable [ $x ; Value: Abs ( -1 ) ]\n", encoding="utf-8")
    assert main(["run", str(script)]) == EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert err == ("fmscript: internal error: TypeError: unsupported operand (run with --debug for details)\n")


def test_cli_debug_shows_the_traceback(tmp_path, crashing_abs):
    script = tmp_path / "s.fmscript"
    script.write_text("Set Variable [ $x ; Value: Abs ( -1 ) ]\n", encoding="utf-8")
    with pytest.raises(TypeError, match="unsupported operand"):
        main(["--debug", "run", str(script)])
