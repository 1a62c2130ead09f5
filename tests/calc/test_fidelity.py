"""FileMaker's documented behaviour, rule by rule (issue 11 item 9); each case cites the Claris help page."""
import datetime as _dt

import pytest

from fmscript.calc.compile import compile_calc
from fmscript.calc.datetime_text import four_digit_year, parse_date
from fmscript.data.values import from_storage, to_storage

CASES = [
    # https://help.claris.com/en/pro-help/content/patterncount.html: non-overlapping occurrences.
    ('PatternCount ( "Mississippi" ; "issi" )', "1"),
    ('PatternCount ( "Mississippi" ; "is" )', "2"),
    ('PatternCount ( "aaaa" ; "aa" )', "2"),
    # https://help.claris.com/en/pro-help/content/getasnumber.html: "(" or "-" is a minus sign unless a
    # period or a number precedes it.
    ('GetAsNumber ( ".(22)" )', ".22"),
    ('GetAsNumber ( ".-22" )', ".22"),
    ('GetAsNumber ( "(22)" )', "-22"),
    ('GetAsNumber ( "2(2)" )', "22"),
    ('GetAsNumber ( "2 - 2" )', "22"),
    # https://help.claris.com/en/pro-help/content/quote.html: a literal ¶ is escaped.
    ('Quote ( "abc\\¶" )', '"abc\\¶"'),
    ('Evaluate ( Quote ( "a\\¶b¶c" ) ) = "a\\¶b¶c"', "1"),
    # https://help.claris.com/en/pro-help/content/stdev.html: the StDev of one number is an error.
    ("StDev ( 5 )", "?"), ("Variance ( 5 )", "?"), ("StDevP ( 5 )", "0"), ("VarianceP ( 5 )", "0"),
    # https://help.claris.com/en/pro-help/content/setprecision.html: trigonometric functions do not take
    # extended precision: they are doubles, shown with the 15 digits a double holds.
    ("Degrees ( Pi )", "180"),
    ("Cos ( Radians ( 60 ) )", ".5"),
    ("Degrees ( Atan ( 1 ) )", "45"),
    ("Degrees ( Acos ( -0.5 ) )", "120"),
    ("SetPrecision ( Sin ( 1 ) ; 30 )", ".841470984807897"),
    ("Sin ( 1 ) * 2", "1.682941969615794"),
    # Repetitions of variables bound in Let and While, as Set Variable's.
    ('Let ( [ $a[2] = "two" ; $a = "one" ] ; $a[2] & "/" & $a & "/" & $a[1] )', "two/one/one"),
    ('Let ( $$g[3] = 7 ; $$g[3] + 1 )', "8"),
    ('While ( [ i = 0 ] ; i < 3 ; [ i = i + 1 ; $r[i] = i * 10 ] ; $r[1] + $r[2] + $r[3] )', "60"),
    # JSON syntax errors in FileMaker's words ("? * Line L, Column C" and the parser's sentence).
    ('JSONGetElement ( "{a:1}" ; "a" )', "? * Line 1, Column 2\n  Missing '}' or object member name"),
    ('JSONGetElement ( "[1 2]" ; 0 )', "? * Line 1, Column 4\n  Missing ',' or ']' in array declaration"),
    ('JSONGetElement ( "{\\"a\\":1 \\"b\\":2}" ; "a" )',
     "? * Line 1, Column 8\n  Missing ',' or '}' in object declaration"),
    ('JSONGetElement ( "" ; "a" )', "? * Line 1, Column 1\n  Syntax error: value, object or array expected."),
    # The one headless window, named after its file.
    ("Get ( WindowName )", "Untitled"),
    ("Get ( WindowContentWidth ) & \"×\" & Get ( WindowContentHeight )", "1024×768"),
    ("Get ( WindowTop ) + Get ( WindowLeft )", "0"),
    ("Get ( WindowVisible ) & Get ( WindowStyle ) & Get ( WindowZoomLevel ) & Get ( WindowOrientation )",
     "101001"),
    ("Get ( WindowDesktopWidth ) = Get ( WindowWidth ) and Get ( WindowDesktopHeight ) = Get ( WindowHeight )",
     "1"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_fidelity(calc, expr, expected):
    assert calc(expr) == expected


def test_stdev_of_one_value_says_why(calc):
    calc("StDev ( 5 )")
    assert "single number" in calc.last_error_detail


# https://help.claris.com/en/pro-help/content/dates-with-two-digit-years.html: "in either the next 30
# years, or the preceding 70 years", counted from the year the date is entered.
@pytest.mark.parametrize("today,yy,year", [
    (2026, 30, 2030), (2026, 56, 2056), (2026, 57, 1957), (2026, 99, 1999), (2026, 26, 2026), (2026, 0, 2000),
    (1999, 29, 2029), (1999, 30, 1930), (1999, 99, 1999), (2080, 10, 2110), (2080, 11, 2011)])
def test_two_digit_years_slide_with_the_current_year(today, yy, year):
    assert four_digit_year(yy, _dt.date(today, 6, 1)) == year
    assert parse_date(f"1/2/{yy:02d}", _dt.date(today, 6, 1)) == _dt.date(year, 1, 2)


def test_date_field_and_getasdate_read_text_alike(calc):
    # The same text reads as the same day in a date field (the data layer) and in GetAsDate.
    for text in ("1/2/30", "1/2/75", "12/31/99", "2/29/2024", "2019-10-07", "3.4.2021"):
        stored = from_storage(to_storage(text, "date"), "date")
        assert stored == compile_calc(f'GetAsDate ( "{text}" )').evaluate(calc.frame), text
    assert to_storage("2/30/2020", "date") == "2/30/2020"  # no such day: kept as the text typed
