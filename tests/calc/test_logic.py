"""Logic and evaluation: While and SetRecursion, Let scoping, IsValid, GetField, Self, Evaluate errors."""
import pytest

from fmscript.errors import FMScriptError


def test_while_counts(calc):
    assert calc("While ( [ i = 0 ; s = 0 ] ; i < 10 ; [ i = i + 1 ; s = s + i ] ; s )") == "55"


def test_while_with_a_single_binding(calc):
    assert calc("While ( i = 1 ; i < 100 ; i = i * 2 ; i )") == "128"


def test_while_variables_do_not_leak(calc):
    assert calc('Let ( i = "outer" ; While ( i = 0 ; i < 3 ; i = i + 1 ; i ) & i )') == "3outer"


def test_while_can_set_dollar_variables(calc):
    assert calc("While ( [ i = 0 ; $n = 0 ] ; i < 3 ; [ i = i + 1 ; $n = $n + 2 ] ; $n )") == "6"
    assert calc("$n") == "6"


def test_while_limit_is_50000_by_default(calc):
    assert calc("While ( i = 0 ; i < 50000 ; i = i + 1 ; i )") == "50000"
    assert calc("While ( i = 0 ; i < 50001 ; i = i + 1 ; i )") == "?"
    assert "50000" in calc.last_error_detail


def test_set_recursion_raises_and_restores_the_limit(calc):
    assert calc("SetRecursion ( While ( i = 0 ; i < 60000 ; i = i + 1 ; i ) ; 70000 )") == "60000"
    assert calc("SetRecursion ( While ( i = 0 ; i < 6 ; i = i + 1 ; i ) ; 5 )") == "?"
    assert calc("While ( i = 0 ; i < 6 ; i = i + 1 ; i )") == "6"


def test_while_needs_bindings(calc):
    with pytest.raises(FMScriptError):
        calc("While ( 1 ; 0 ; 2 ; 3 )")


def test_while_takes_four_arguments(calc):
    with pytest.raises(FMScriptError) as e:
        calc("While ( i = 0 ; i < 3 ; i )")
    assert "While ( [ initialVariable ] ; condition ; [ logic ] ; result )" in str(e.value)


def test_evaluation_error_of_a_broken_calculation(calc):
    assert calc('EvaluationError ( Evaluate ( "1 +" ) )') == "1204"
    assert calc('EvaluationError ( 1 + 1 )') == "0"


def test_is_valid(calc):
    assert calc("IsValid ( 1 )") == "1"
    assert calc("IsValid ( NoSuchField )") == "0"
    assert calc("IsValid ( GetField ( \"Nope\" ) )") == "0"


def test_get_field_reads_the_data_layer(calc):
    class Data:
        def read_field(self, f, table, name, rep):
            return f"{table}|{name}|{rep}"

        def path(self):
            return None

    calc.session.data = Data()
    assert calc('GetField ( "T::F" )') == "T|F|1"
    assert calc('GetField ( "F[2]" )') == "None|F|2"
    assert calc("GetRepetition ( T::F ; 3 )") == "T|F|3"
    assert calc("GetFieldName ( T::F )") == "T::F"


def test_get_repetition_of_a_variable(calc):
    from fmscript.calc.compile import var_key

    calc.frame.locals[var_key("$v", 2)] = "five"
    assert calc("GetRepetition ( $v ; 2 )") == "five"


def test_self_needs_an_owner(calc):
    assert calc("Self") == "?"
    calc.session.extensions["calc.self"] = "12"
    assert calc("Self > 10") == "1"


def test_is_valid_expression(calc):
    assert calc('IsValidExpression ( "1 + 1" )') == "1"
    assert calc('IsValidExpression ( "1 +" )') == "0"


def test_if_case_choose_empty_rules(calc):
    assert calc('If ( "" ; 1 ; 0 )') == "0"
    assert calc("If ( 0 ; 1 )") == ""
    assert calc("Case ( 0 ; 1 ; 0 ; 2 )") == ""
    assert calc('Choose ( 5 ; "a" ; "b" )') == ""


def test_get_nth_record_reads_the_found_set(calc):
    from fmscript.data.database import Database

    db = Database(None)
    db.create_table("People", [("Name", "text", False)])
    db.add_layout("People", "People")
    calc.session.data = db
    ctx = db.context()
    for name in ("Ann", "Bob", "Cy"):
        db.new_record(ctx)
        db.set_field(calc.frame, None, "Name", 1, name)
    db.commit()
    assert calc("GetNthRecord ( Name ; 2 )") == "Bob"
    assert calc("GetNthRecord ( People::Name ; 1 ) & Name") == "AnnCy"
    assert calc("GetNthRecord ( Name ; 4 )") == "?"


def test_is_empty_of_a_missing_field_is_1(calc):
    assert calc("IsEmpty ( NoSuchField )") == "1"
    assert calc("IsEmpty ( 0 )") == "0"


def test_get_as_boolean_of_container_data(calc):
    assert calc('GetAsBoolean ( TextEncode ( "x" ; "utf-8" ; 0 ) )') == "1"
    assert calc('GetAsBoolean ( TextEncode ( "" ; "utf-8" ; 0 ) )') == "0"


def test_extend_and_last_outside_repeating_fields(calc):
    assert calc("Extend ( 5 )") == "5"
    assert calc('Last ( "x" )') == "x"
