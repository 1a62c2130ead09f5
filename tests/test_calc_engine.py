"""The calculation engine of the language core: grammar, operators, coercion, Let, JSON, Get."""
from decimal import Decimal

import pytest

from fmscript.calc.compile import compile_calc
from fmscript.calc.values import to_text
from fmscript.errors import ParseError
from fmscript.interpreter import Interpreter


@pytest.fixture
def ev():
    fm = Interpreter(on_dialog=lambda t, m: None)
    return lambda calc: to_text(fm.evaluate(calc))


@pytest.mark.parametrize("calc, expected", [
    ("1500", "1500"), (".05", ".05"), ("1e-4", ".0001"), ("2.50", "2.5"),
    ("0.1 + 0.2", ".3"), ("0.1 + 0.2 = 0.3", "1"), ("1/3", ".3333333333333333"),
    ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("2 ^ 3 ^ 2", "64"), ("2 * 3 ^ 2", "18"),
    # FileMaker: unary minus binds tighter than ^ (so -2^2 is 4) and `not` tighter than comparisons.
    ("-2 ^ 2", "4"), ("- 2 ^ 2", "4"), ("0 - 2 ^ 2", "-4"), ("not 1 = 2", "0"), ("not (1 = 2)", "1"),
    ("not 0 and 0", "0"), ("1 or 0 and 0", "1"), ("1 xor 1", "0"), ("1 xor 0", "1"),
    ("\"a\" & 1 + 2", "a3"), ("1 & 2 = 12", "1"), ("3 > 2 = 1", "1"),
    ("\"abc\" = \"ABC\"", "1"), ("\"abc\" ≠ \"abd\"", "1"), ("\"abc\" <> \"abc\"", "0"),
    ("2 ≤ 2", "1"), ("2 <= 1", "0"), ("3 ≥ 4", "0"), ("3 >= 3", "1"),
    ("\"10\" = 10", "1"), ("\"\" = 0", "0"), ("\"\" + 1", "1"), ("\"abc\" + 1", "1"),
    ("If ( \"abc\" ; 1 ; 0 )", "0"), ("If ( \"5x\" ; 1 ; 0 )", "1"), ("If ( \"\" ; 1 ; 0 )", "0"),
    ("True + True", "2"), ("false", "0"),
    ("\"a\\\"b\"", 'a"b'), ("\"tab\\\\\"", "tab\\"), ("Length ( \"a¶b\" )", "3"),
    ("\"x\" & ¶ & \"y\"", "x\ry"), ("“curly”", "curly"),
    ("1 + /* comment */ 2 // rest", "3"),
    ("left ( \"hello\" ; 2 )", "he"), ("LEFT ( \"hello\" ; 2 )", "he"), ("Right ( \"hello\" ; 3 )", "llo"),
    ("Middle ( \"hello\" ; 2 ; 3 )", "ell"), ("Length ( \"中文\" )", "2"),
    ("Substitute ( \"a-b-c\" ; \"-\" ; \"+\" )", "a+b+c"),
    ("Substitute ( \"abc\" ; [ \"a\" ; \"1\" ] ; [ \"b\" ; \"2\" ] )", "12c"),
    ("List ( 1 ; \"\" ; \"x\" )", "1\rx"), ("IsEmpty ( \"\" )", "1"), ("IsEmpty ( 0 )", "0"),
    ("GetAsNumber ( \"FY2024\" )", "2024"), ("GetAsText ( 1.50 )", "1.5"),
    ("Case ( 0 ; \"a\" ; 1 ; \"b\" ; \"c\" )", "b"), ("Case ( 0 ; \"a\" ; \"default\" )", "default"),
    ("Case ( 0 ; \"a\" )", ""), ("Choose ( 0 ; \"zero\" ; \"one\" )", "zero"), ("Choose ( 2 ; \"a\" ; \"b\" )", ""),
    ("Let ( x = 5 ; x * x )", "25"), ("Let ( [ x = 5 ; y = x + 1 ] ; x * y )", "30"),
    ("Let ( [ a = 1 ; a = a + 1 ; a = a * 10 ] ; a )", "20"),
    ("Let ( [ b = 1 = 1 ] ; b )", "1"),
    ("Let ( x = 1 ; Let ( x = 2 ; x ) & x )", "21"),
    ("Evaluate ( \"1 + 2\" )", "3"), ("Let ( n = 4 ; Evaluate ( \"n * 2\" ) )", "8"),
    ("EvaluationError ( Evaluate ( \"1 +\" ) )", "1204"), ("Evaluate ( \"1 +\" )", "?"),
    ("1 / 0", "?"), ("EvaluationError ( 1 / 0 )", "1205"),
])
def test_calculations(ev, calc, expected):
    assert ev(calc) == expected


def test_decimal_arithmetic_is_exact(ev):
    assert ev("Let ( [ s = 0 ; s = s + 0.1 ; s = s + 0.1 ; s = s + 0.1 ] ; s )") == ".3"
    assert ev("1.1 * 1.1") == "1.21"


def test_variables_set_inside_let_persist():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.run_text('Set Variable [ $r ; Value: Let ( [ $a = 2 ; $$b = 3 ] ; $a * $$b ) ]\n'
                'Exit Script [ Text Result: $r & "," & $a & "," & $$b ]')
    assert fm.run_text('Exit Script [ Text Result: Let ( [ $a = 2 ; $$b = 3 ] ; $a * $$b ) & $a & $$b ]') == "623"
    assert fm.get_global("b") == Decimal(3)


def test_repetitions():
    fm = Interpreter(on_dialog=lambda t, m: None)
    result = fm.run_text("Set Variable [ $v[2] ; Value: \"two\" ]\n"
                         "Set Variable [ $v ; Value: \"one\" ]\n"
                         "Set Variable [ $v ; Value: \"three\" ; Repetition: 3 ]\n"
                         "Exit Script [ Text Result: $v & $v[1] & $v[2] & $v[3] & \"|\" & $v[4] ]")
    assert result == "oneonetwothree|"


def test_variable_names_are_case_insensitive():
    fm = Interpreter(on_dialog=lambda t, m: None)
    assert fm.run_text('Set Variable [ $Name ; Value: "x" ]\nExit Script [ Text Result: $NAME ]') == "x"


@pytest.mark.parametrize("calc, expected", [
    ('JSONSetElement ( "{}" ; "max_steps" ; 1500 ; JSONString )', '{"max_steps":"1500"}'),
    ('JSONSetElement ( "{}" ; "lr" ; 1e-4 ; JSONNumber )', '{"lr":0.0001}'),
    ('JSONSetElement ( "{}" ; ["b" ; 1 ; JSONNumber] ; ["a" ; "x" ; JSONString] )', '{"a":"x","b":1}'),
    ('JSONSetElement ( "" ; "a.b[2]" ; 1 ; JSONNumber )', '{"a":{"b":[null,null,1]}}'),
    ('JSONSetElement ( "" ; "[0]" ; "x" ; JSONString )', '["x"]'),
    ('JSONSetElement ( "{}" ; "[\'a.b\']" ; 1 ; JSONNumber )', '{"a.b":1}'),
    ('JSONSetElement ( "[1,2,3]" ; "[+]" ; 4 ; JSONNumber )', '[1,2,3,4]'),
    ('JSONSetElement ( "[1,2,3]" ; "[:]" ; 9 ; JSONNumber )', '[1,2,9]'),
    ('JSONSetElement ( "{}" ; "a" ; "[1,2]" ; JSONRaw )', '{"a":[1,2]}'),
    ('JSONSetElement ( "{}" ; "t" ; 1 ; JSONBoolean )', '{"t":true}'),
    ('JSONSetElement ( "{}" ; "n" ; "" ; JSONNull )', '{"n":null}'),
    ('JSONGetElement ( "{\\"a\\":{\\"b\\":[10,20]}}" ; "a.b[1]" )', "20"),
    ('JSONGetElement ( "{\\"a\\":{\\"b\\":[10,20]}}" ; "a" )', '{"b":[10,20]}'),
    ('JSONGetElement ( "{\\"result\\":{\\"fine_tuned_model\\":\\"fm-mlx-x\\"}}" ; "result.fine_tuned_model" )',
     "fm-mlx-x"),
    ('JSONGetElement ( "{\\"a\\":1}" ; "b[3]" )', "? Incorrect key, index, or path"),
    ('JSONDeleteElement ( "{ \\"a\\" : 11 , \\"b\\" : 12 }" ; "b" )', '{"a":11}'),
    ('JSONListKeys ( "{\\"b\\":1,\\"a\\":2}" ; "" )', "a\rb"),
    ('JSONListValues ( "[\\"x\\",\\"y\\"]" ; "" )', "x\ry"),
    ('JSONGetElementType ( "{\\"a\\":false}" ; "a" )', "5"),
    ('JSONString & JSONNumber & JSONObject & JSONArray & JSONBoolean & JSONNull & JSONRaw', "1234560"),
])
def test_json(ev, calc, expected):
    assert ev(calc) == expected


def test_invalid_json_gives_question_mark_text(ev):
    assert ev('JSONGetElement ( "{a" ; "a" )').startswith("? * Line 1, Column 2")


def test_spec_parameter_object(ev):
    calc = """Let ( [
json = "{}" ;
json = JSONSetElement ( json; "max_steps"; 1500; JSONString ) ;
json = JSONSetElement ( json; "learning_rate"; 1e-4; JSONString ) ;
json = JSONSetElement ( json; "batch_size"; 2; JSONString ) ;
json = JSONSetElement ( json; "fine_tuned_model_name"; "product-expert-v2" ; JSONString )
] ;
json
)"""
    assert ev(calc) == ('{"batch_size":"2","fine_tuned_model_name":"product-expert-v2",'
                        '"learning_rate":".0001","max_steps":"1500"}')


def test_get_names_in_both_languages(ev, tmp_path, monkeypatch):
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(tmp_path))
    expected = "/" + str(tmp_path).lstrip("/") + "/"
    assert ev("Get ( DocumentsPath )") == expected
    assert ev("Get(文档路径)") == expected
    assert ev("get ( documentspath )") == expected
    assert ev("Get ( TemporaryPath )").endswith("/")
    assert ev("Get ( TemporaryPath )").startswith("/")
    assert ev("Get ( SystemPlatform )") in ("1", "-2", "8")  # macOS, Windows, Linux (FileMaker's numbers)
    assert ev("Get ( ApplicationVersion )").startswith("fmscript ")
    assert ev("Get ( LastError )") == "0"


def test_arity_error_is_a_parse_error_with_the_signature():
    with pytest.raises(ParseError) as e:
        compile_calc('Left ( "abc" )')
    assert "Left ( text ; numberOfCharacters )" in e.value.message


def test_unknown_function_suggests():
    with pytest.raises(ParseError) as e:
        compile_calc('Lenght ( "abc" )')
    assert "did you mean Length" in e.value.message


@pytest.mark.parametrize("calc, fragment", [
    ("1 +", "ends too early"), ('"abc', "no closing quote"), ("Left ( \"a\" ; 1", "“)”"),
    ("1 2", "unexpected “2”"), ("Let ( 1 ; 2 )", "Let binding"),
])
def test_syntax_errors_are_in_words(calc, fragment):
    with pytest.raises(ParseError) as e:
        compile_calc(calc)
    text = e.value.render()
    assert fragment in text
    assert "RPAR" not in text and "Token" not in text


def test_field_reference_with_spaces_parses():
    from fmscript.calc.parse import parse_calc
    from fmscript.calc import ast as A
    node = parse_calc('Contacts::Name for Labels & " <"')
    assert isinstance(node, A.Binary) and node.left == A.Field("Contacts", "Name for Labels")
    node = parse_calc('${ Support QA::Answer text }')
    assert node == A.Field("Support QA", "Answer text")
    node = parse_calc('T::F[3]')
    assert node == A.Field("T", "F", A.Num(Decimal(3)))


def test_calculation_compiled_once_closures_are_reused():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.load_text("Set Variable [ $i ; Value: 0 ]\nLoop\nSet Variable [ $i ; Value: $i + 1 ]\n"
                 "Exit Loop If [ $i = 3 ]\nEnd Loop\nExit Script [ Text Result: $i ]", default_name="s")
    cs = fm.session.scripts["s"]
    before = list(cs.code)
    assert fm.run_script("s") == "3"
    assert cs.code == before  # nothing recompiled or replaced while running


def test_long_number_literals_keep_all_their_digits(ev):
    assert ev("12345678901234567890123456789012345") == "12345678901234567890123456789012345"
    assert ev("-12345678901234567890123456789012345 + 0") == "-12345678901234567890123456789012345"


def test_unqualified_field_names_with_spaces_and_repetitions_parse():
    from fmscript.calc.parse import parse_calc
    from fmscript.calc import ast as A
    assert parse_calc("Billing Date + 30") == A.Binary("+", A.Name("Billing Date"), A.Num(Decimal(30)))
    assert parse_calc("Scores[2]") == A.Field(None, "Scores", A.Num(Decimal(2)))
    # keywords still separate names
    assert parse_calc("a and b") == A.Binary("and", A.Name("a"), A.Name("b"))
