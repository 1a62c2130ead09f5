"""The JSON family, including FileMaker 22's JSONParse / JSONParsedState and JSONMakeArray."""
import pytest

CASES = [
    ('JSONSetElement ( "" ; "a" ; 1 ; JSONNumber )', '{"a":1}'),
    ('JSONSetElement ( "{}" ; "a[1]" ; "x" ; JSONString )', '{"a":[null,"x"]}'),
    ('JSONSetElement ( "{}" ; "a" ; "" ; JSONObject )', '{"a":{}}'),
    ('JSONSetElement ( "{}" ; "a" ; "true" ; JSONBoolean )', '{"a":true}'),
    ('JSONSetElement ( "{}" ; "a" ; "x" ; JSONNull )', '{"a":null}'),
    ('JSONGetElement ( "{\\"a\\":[1,{\\"b\\":2}]}" ; "a[1].b" )', "2"),
    ('JSONGetElement ( "{\\"a\\":[1,2]}" ; "a" )', "[1,2]"),
    ('JSONGetElement ( "{\\"a\\":true}" ; "a" )', "1"),
    ('JSONGetElement ( "{\\"a\\":null}" ; "a" )', ""),
    ('JSONGetElement ( "[1,2,3]" ; "[:]" )', "3"),
    ('JSONGetElement ( "{\\"a\\":1}" ; "b" )', ""),
    ('JSONGetElement ( "[1]" ; "[3]" )', ""),
    ('JSONGetElement ( "{\\"a\\":1}" ; "b.c" )', "? Incorrect key, index, or path"),
    ('JSONParse ( "[ 1,2 ]" )', "[ 1,2 ]"),
    ('Left ( JSONGetElement ( "{" ; "a" ) ; 1 )', "?"),
    ('JSONListKeys ( "{\\"b\\":1,\\"a\\":2}" ; "" )', "a\rb"),
    ('JSONDeleteElement ( "{\\"a\\":{\\"b\\":1,\\"c\\":2}}" ; "a.b" )', '{"a":{"c":2}}'),
    ('JSONMakeArray ( "a¶b" ; "" ; JSONString )', '["a","b"]'),
    ('JSONMakeArray ( "1;x" ; ";" ; JSONRaw )', '[1,"x"]'),
    ('JSONFormatElements ( "[1,[2]]" )', "[\r\t1,\r\t[\r\t\t2\r\t]\r]"),
    ('JSONParsedState ( JSONParse ( "\\"x\\"" ) )', "1"),
    ('JSONGetElementType ( "{\\"a\\":\\"x\\"}" ; "a" ) = JSONString', "1"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_json(calc, expr, expected):
    assert calc(expr) == expected


def test_json_set_element_in_a_loop_keeps_the_parsed_document(calc):
    out = calc('While ( [ i = 0 ; j = "{}" ] ; i < 200 ; [ i = i + 1 ; '
               'j = JSONSetElement ( j ; "k" & i ; i ; JSONNumber ) ] ; JSONParsedState ( j ) )')
    assert out == "3"
