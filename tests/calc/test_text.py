"""Text functions: FileMaker's documented behaviour beyond the conformance vectors."""
import pytest

CASES = [
    ('Left ( "abc" ; 0 )', ""),
    ('Left ( "abc" ; 10 )', "abc"),
    ('Right ( "abc" ; -1 )', ""),
    ('Middle ( "abcdef" ; 0 ; 2 )', "ab"),
    ('Length ( 12.50 )', "4"),
    ('Position ( "abcabc" ; "B" ; 1 ; 2 )', "5"),
    ('Position ( "abcabc" ; "b" ; 6 ; -1 )', "5"),
    ('Position ( "abcabc" ; "b" ; 6 ; -2 )', "2"),
    ('Position ( "abc" ; "" ; 1 ; 1 )', "0"),
    ('Position ( "abc" ; "z" ; 1 ; 1 )', "0"),
    ('PatternCount ( "aaa" ; "aa" )', "1"),  # non-overlapping (issue 11 item 9: overlapping counts were wrong)
    ('PatternCount ( "ABC" ; "b" )', "1"),
    ('Substitute ( "a-b-c" ; "-" ; "" )', "abc"),
    ('Substitute ( "abc" ; "B" ; "x" )', "abc"),
    ('Substitute ( "abc" ; [ "a" ; "b" ] ; [ "b" ; "c" ] )', "ccc"),
    ('Trim ( "  a b  " )', "a b"),
    ('TrimAll ( "  a   b  " ; 0 ; 3 )', "ab"),
    ('TrimAll ( "a   b" ; 0 ; 0 )', "a b"),
    ('Replace ( "abc" ; 2 ; 0 ; "X" )', "aXbc"),
    ('Exact ( 1 ; "1" )', "1"),
    ('Filter ( "aAbB" ; "ab" )', "ab"),
    ('Proper ( "mcDONALD o\'neil" )', "Mcdonald O'Neil"),
    ('WordCount ( "one, two;three  four" )', "4"),
    ('WordCount ( "It\'s 3.5 km" )', "3"),
    ('MiddleWords ( "a b c d" ; 3 ; 5 )', "c d"),
    ('LeftWords ( "  a b" ; 1 )', "a"),
    ('RightWords ( "a b c" ; 5 )', "a b c"),
    ('ValueCount ( "a¶b¶" )', "2"),
    ('ValueCount ( "a¶¶b" )', "3"),
    ('GetValue ( "a¶b" ; 0 )', ""),
    ('LeftValues ( "a¶b" ; 0 )', ""),
    ('RightValues ( "a¶b¶c" ; 1 )', "c\r"),
    ('FilterValues ( "a¶b¶c" ; "C¶A" )', "a\rc\r"),
    ('SortValues ( "b¶A¶c" ; -1 )', "c\rb\rA\r"),
    ('SortValues ( "3/1/2020¶1/2/2019" ; 3 )', "1/2/2019\r3/1/2020\r"),
    ('UniqueValues ( "a¶A¶b" )', "a\rb\r"),
    # A return is written ¶ and a literal ¶ is escaped (issue 11 item 9: returns came out as \¶, so
    # Evaluate ( Quote ( text ) ) did not give the text back).
    ('Quote ( "a¶b\\\\c" )', '"a¶b\\\\c"'),
    ('Char ( 6600065 )', "AB"),
    ('Char ( 0 )', ""),
    ('Code ( "" )', ""),
    ('SerialIncrement ( "abc" ; 1 )', "abc"),
    ('SerialIncrement ( "x99" ; 1 )', "x100"),
    ('SerialIncrement ( "a1b" ; 1 )', "a2b"),
    ('GetAsURLEncoded ( "ä/~" )', "%C3%A4%2F~"),
    ('Upper ( "straße" )', "STRASSE"),
    ('TextStyleAdd ( "x" ; Bold + Italic )', "x"),
    ('TextFont ( "x" ; "Arial" )', "x"),
    ('TextColorRemove ( "x" )', "x"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_text(calc, expr, expected):
    assert calc(expr) == expected


def test_substitute_without_a_pair_is_a_parse_error(calc):
    from fmscript.errors import FMScriptError

    with pytest.raises(FMScriptError) as e:
        calc('Substitute ( "a" )')
    assert "Substitute ( text ; searchString ; replaceString )" in str(e.value)


def test_wrong_argument_count_names_the_signature(calc):
    from fmscript.errors import FMScriptError

    with pytest.raises(FMScriptError) as e:
        calc('Left ( "a" )')
    assert "Left ( text ; numberOfCharacters )" in str(e.value)
