"""Number functions: empty-value rules, rounding, precision, statistics, financial functions, trigonometry."""
import pytest

CASES = [
    ('Abs ( "" )', ""),
    ('Round ( "" ; 2 )', ""),
    ('Int ( "" )', ""),
    ('Abs ( "-3 apples" )', "3"),
    ('Round ( 2.5 ; 0 )', "3"),
    ('Round ( -0.5 ; 0 )', "-1"),
    ('Round ( 1.005 ; 2 )', "1.01"),
    ('Round ( 1234 ; -2 )', "1200"),
    ('Truncate ( 1234.5 ; -2 )', "1200"),
    ('Ceiling ( -0.5 )', "0"),
    ('Floor ( 2 )', "2"),
    ('Int ( -0.5 )', "0"),
    ('Mod ( 5.5 ; 2 )', "1.5"),
    ('Mod ( 7 ; -3 )', "-2"),
    ('Div ( 7 ; -2 )', "-4"),
    ('Sign ( "" )', ""),
    ('Sqrt ( 16 )', "4"),
    ('Exp ( 0 )', "1"),
    ('Ln ( 1 )', "0"),
    ('Log ( 0.01 )', "-2"),
    ('Lg ( 3 )', "1.5849625007211562"),
    ('1 / 3', ".3333333333333333"),
    ('2 / 3', ".6666666666666667"),
    ('1 / 8', ".125"),
    ('.0001', ".0001"),
    ('SetPrecision ( 2 / 3 ; 20 )', ".66666666666666666667"),
    ('SetPrecision ( Pi ; 30 )', "3.14159265358979323846264338328"),
    ('SetPrecision ( 1 / 3 ; 5 )', ".3333333333333333"),
    ('Sum ( 1 ; "" ; "x" ; 2.5 )', "3.5"),
    ('Average ( 1 ; 2 ; 4 )', "2.3333333333333333"),
    ('Average ( "" )', ""),
    ('Count ( 1 ; "" ; "x" )', "2"),
    ('Max ( 3 ; "10" ; "" )', "10"),
    ('Min ( 3 ; -1 ; "" )', "-1"),
    ('StDev ( 1 ; 2 ; 3 ; 4 )', "1.2909944487358056"),
    ('StDevP ( 1 ; 2 ; 3 ; 4 )', "1.1180339887498948"),
    ('Variance ( 1 ; 2 ; 3 ; 4 )', "1.6666666666666667"),
    ('VarianceP ( 2 ; 4 ; 4 ; 4 ; 5 ; 5 ; 7 ; 9 )', "4"),
    ('Factorial ( 0 )', "1"),
    ('Combination ( 3 ; 5 )', "0"),
    ('FV ( 100 ; 0 ; 12 )', "1200"),
    ('PMT ( 1200 ; 0 ; 12 )', "100"),
    ('NPV ( "-2000¶600¶300¶500¶700¶400" ; .05 )', "156.9127744508813684"),
    ('Round ( PMT ( 300000 ; .0625 / 12 ; 360 ) ; 2 )', "1847.15"),
    ('Sin ( 0 )', "0"),
    # Trigonometric results keep a double's 15 faithful digits (issue 11 item 9: the 17-digit noise was wrong).
    ('Atan ( 1 )', ".785398163397448"),
    ('Degrees ( Atan ( 1 ) )', "45"),
    ('Radians ( 180 )', "3.14159265358979"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_number(calc, expr, expected):
    assert calc(expr) == expected


@pytest.mark.parametrize("expr,code", [
    ("Sqrt ( -1 )", 1204), ("Ln ( 0 )", 1204), ("Mod ( 1 ; 0 )", 1205), ("1 / 0", 1205),
    ("Asin ( 2 )", 1204), ("Factorial ( -1 )", 1204),
])
def test_errors_give_question_mark_and_a_detail(calc, expr, code):
    assert calc(expr) == "?"
    assert calc.last_error_detail
    assert calc(f"EvaluationError ( {expr} )") == str(code)


def test_set_precision_is_restored(calc):
    calc("SetPrecision ( 1 / 3 ; 40 )")
    assert calc("1 / 3") == ".3333333333333333"


def test_random_is_between_0_and_1(calc):
    from decimal import Decimal

    vals = {calc.value("Random") for _ in range(20)}
    assert all(Decimal(0) <= v < 1 for v in vals)
    assert len(vals) > 1


def test_aggregates_take_every_repetition_of_a_repeating_field(calc):
    from fmscript.data.database import Database

    db = Database(None)
    db.create_table("Loans", [("Name", "text", False)])
    db.add_field("Loans", "Loan", "number", repetitions=6)
    db.add_layout("Loans", "Loans")
    calc.session.data = db
    db.new_record(db.context())
    for rep, amount in enumerate((-2000, 600, 300, 500, 700, 400), start=1):
        db.set_field(calc.frame, None, "Loan", rep, amount)
    db.commit()
    assert calc("NPV ( Loan ; .05 )").startswith("156.91277445")
    assert calc("Sum ( Loan )") == "500"
    assert calc("Count ( Loans::Loan )") == "6"
    assert calc("Max ( Loan ; 10000 )") == "10000"
    assert calc("Last ( Loan )") == "400"
    assert calc("List ( Loans::Loan[2] ; Name )") == "600"
    assert calc("Sum ( Loans::Loan[1] )") == "-2000"
    assert calc("Let ( Loan = 3 ; Sum ( Loan ) )") == "3"


@pytest.mark.parametrize("expr,expected", [
    ('GetAsNumber ( "12345678901234567890123456789012345" )', "12345678901234567890123456789012345"),
    ('GetAsNumber ( "(12345678901234567890123456789012345)" )', "-12345678901234567890123456789012345"),
    ('Abs ( GetAsNumber ( "-12345678901234567890123456789012345" ) )', "12345678901234567890123456789012345"),
    ('Sum ( GetAsNumber ( "12345678901234567890123456789012345" ) ; 1 )', "12345678901234567890123456789012346"),
    ('GetAsNumber ( "-0" )', "0"),
])
def test_long_numbers_keep_every_digit(calc, expr, expected):
    assert calc(expr) == expected
