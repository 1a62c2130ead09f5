"""Dates and times: FileMaker's arithmetic (day numbers, seconds) and the en-US display."""
import pytest

CASES = [
    ('Date ( 1 ; 1 ; 2024 ) + 1', "1/2/2024"),
    ('Date ( 3 ; 1 ; 2024 ) - 1', "2/29/2024"),
    ('Date ( 1 ; 1 ; 2024 ) - Date ( 1 ; 1 ; 2023 )', "365"),
    ('GetAsNumber ( Date ( 1 ; 1 ; 0001 ) )', "1"),
    ('Date ( 0 ; 1 ; 2024 )', "12/1/2023"),
    ('Date ( 2 ; 30 ; 2024 )', "3/1/2024"),
    ('Date ( 1 ; 1 ; 5000 )', "?"),
    ('Date ( "" ; "" ; "" )', ""),
    ('Time ( 13 ; 5 ; 0 )', "1:05:00 PM"),
    ('Time ( 0 ; 0 ; 0 ) - 60', "-0:01:00"),
    ('Time ( 25 ; 0 ; 0 )', "25:00:00"),
    ('Time ( 1 ; 0 ; 0 ) + 90', "1:01:30 AM"),
    ('GetAsNumber ( Time ( 1 ; 0 ; 0 ) )', "3600"),
    ('Timestamp ( Date ( 1 ; 1 ; 2020 ) ; Time ( 25 ; 0 ; 0 ) )', "1/2/2020 1:00:00 AM"),
    ('Timestamp ( Date ( 1 ; 2 ; 2020 ) ; 0 ) - Timestamp ( Date ( 1 ; 1 ; 2020 ) ; 0 )', "24:00:00"),
    ('Date ( 1 ; 1 ; 2020 ) + Time ( 12 ; 0 ; 0 )', "1/1/2020 12:00:00 PM"),
    ('GetAsDate ( "2/29/2024" )', "2/29/2024"),
    ('GetAsDate ( "2024-02-29" )', "2/29/2024"),
    ('GetAsDate ( "2/30/2024" )', "?"),
    ('GetAsDate ( "" )', ""),
    ('GetAsTime ( "9:45 PM" )', "9:45:00 PM"),
    ('GetAsTime ( "12:00 AM" )', "12:00:00 AM"),
    ('GetAsTimestamp ( "10/21/2019 9:10:30 PM" )', "10/21/2019 9:10:30 PM"),
    ('Day ( "" )', ""),
    ('Year ( Timestamp ( Date ( 5 ; 6 ; 2007 ) ; 0 ) )', "2007"),
    ('DayOfYear ( Date ( 12 ; 31 ; 2024 ) )', "366"),
    ('DayName ( Date ( 1 ; 1 ; 2021 ) )', "Friday"),
    ('MonthName ( Date ( 12 ; 1 ; 2021 ) )', "December"),
    ('WeekOfYear ( Date ( 1 ; 5 ; 2019 ) )', "1"),
    ('WeekOfYear ( Date ( 1 ; 6 ; 2019 ) )', "2"),
    ('Hour ( "3:15 PM" )', "15"),
    ('Minute ( Time ( 1 ; 75 ; 0 ) )', "15"),
    ('Seconds ( Time ( 0 ; 0 ; 1.5 ) )', "1.5"),
    ('Hour ( Timestamp ( Date ( 1 ; 1 ; 2020 ) ; Time ( 23 ; 0 ; 0 ) ) )', "23"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_datetime(calc, expr, expected):
    assert calc(expr) == expected


def test_current_date_follows_the_clock(calc):
    import datetime as dt

    from fmscript.calc.functions import get

    with get.fixed_clock(dt.datetime(2024, 2, 29, 23, 59, 59)):
        assert calc("Get ( CurrentDate )") == "2/29/2024"
        assert calc("Get ( CurrentTime )") == "11:59:59 PM"
        assert calc("Get ( CurrentTimestamp ) + 1") == "3/1/2024 12:00:00 AM"
