"""FileMaker's find operators, requests, omit requests, constrain/extend, and their errors."""
from __future__ import annotations

import datetime

import pytest

from fmscript.data import finds as F

COLLECT = """
Set Variable [ $err ; Value: Get ( LastError ) ]
Set Variable [ $names ; Value: "" ]
Go to Record/Request/Page [ First ]
Loop
  Set Variable [ $names ; Value: $names & If ( $names ≠ "" ; "," ) & People::Name ]
  Go to Record/Request/Page [ Next ; Exit after last: On ]
End Loop
Show Custom Dialog [ $err & "|" & Get ( FoundCount ) & "|" & If ( Get ( FoundCount ) > 0 ; $names ) ]
"""


def find(runner, *criteria, omit=False):
    """Enter Find Mode, Set Field each (field, criterion), Perform Find, and list the names found."""
    lines = ["Set Error Capture [ On ]", "Enter Find Mode [ Pause: Off ]"]
    for fname, crit in criteria:
        lines.append(f'Set Field [ People::{fname} ; "{crit}" ]')
    if omit:
        lines.append("Omit Record")
    lines.append("Perform Find [ ]")
    out = runner("\n".join(lines) + COLLECT)
    err, count, names = out[0].split("|")
    return int(err), int(count), names.split(",") if names else []


@pytest.mark.parametrize("field,criterion,expected", [
    ("Name", "smith", ["Ann Smith", "Bob Smithson", "Frank Smith"]),       # word start, any case
    ("Name", "=smith", ["Ann Smith", "Frank Smith"]),                       # whole word
    ("Name", "==ann smith", ["Ann Smith"]),                                 # whole field
    ("Name", "==ann", []),
    ("City", "new york", ["Bob Smithson", "Dana White"]),
    ("City", "york new", ["Bob Smithson", "Dana White"]),                   # words in any order
    ("City", "\\\"San J\\\"", ["Carl Jones"]),                               # literal phrase
    ("City", "S*", ["Ann Smith", "Carl Jones", "Gus Grey"]),
    ("City", "B@ston", ["Eve Black", "Frank Smith"]),
    ("Name", "*o*", ["Bob Smithson", "Carl Jones"]),                        # * inside a word
    ("Notes", "=", ["Bob Smithson"]),                                      # empty
    ("Notes", "*", ["Ann Smith", "Carl Jones", "Dana White", "Eve Black", "Frank Smith", "Gus Grey"]),
    ("Notes", "tea", ["Ann Smith", "Carl Jones", "Frank Smith"]),
    ("Age", "45", ["Bob Smithson", "Dana White"]),
    ("Age", "<30", ["Carl Jones", "Gus Grey"]),
    ("Age", "≤34", ["Ann Smith", "Carl Jones", "Gus Grey"]),
    ("Age", "<=34", ["Ann Smith", "Carl Jones", "Gus Grey"]),
    ("Age", ">45", ["Frank Smith"]),
    ("Age", "≥45", ["Bob Smithson", "Dana White", "Frank Smith"]),
    ("Age", "30...50", ["Ann Smith", "Bob Smithson", "Dana White"]),
    ("Age", "#", ["Gus Grey"]),                                             # one digit
    ("Age", "##", ["Ann Smith", "Bob Smithson", "Carl Jones", "Dana White", "Frank Smith"]),
    ("Age", "!", ["Bob Smithson", "Dana White"]),                           # duplicates
    ("City", "!", ["Bob Smithson", "Dana White", "Eve Black", "Frank Smith"]),  # case-insensitive
    ("Age", "=", ["Eve Black"]),
    ("Born", "1/15/1990", ["Ann Smith"]),
    ("Born", "1979", ["Bob Smithson", "Dana White"]),                       # a year
    ("Born", "<1/1/1980", ["Bob Smithson", "Dana White"]),
    ("Born", "1/1/1990...12/31/2001", ["Ann Smith", "Carl Jones", "Eve Black"]),
    ("Born", "2017-02-28", ["Gus Grey"]),
    ("Email", "example.com", ["Ann Smith", "Bob Smithson", "Eve Black", "Frank Smith"]),
])
def test_operator(people, field, criterion, expected):
    err, count, names = find(people, (field, criterion))
    assert names == expected
    assert count == len(expected)
    assert err == (0 if expected else 401)


def test_several_criteria_in_one_request_are_anded(people):
    assert find(people, ("City", "boston"), ("Notes", "tea"))[2] == ["Frank Smith"]


def test_requests_are_ored_and_omit_requests_remove(people):
    script = """
Enter Find Mode [ Pause: Off ]
Set Field [ People::City ; "boston" ]
New Record/Request
Set Field [ People::City ; "new york" ]
New Record/Request
Set Field [ People::Name ; "eve" ]
Omit Record
Perform Find [ ]
""" + COLLECT
    assert people(script) == ["0|3|Bob Smithson,Dana White,Frank Smith"]


def test_only_an_omit_request_starts_from_all_records(people):
    assert find(people, ("City", "boston"), omit=True)[2] == [
        "Ann Smith", "Bob Smithson", "Carl Jones", "Dana White", "Gus Grey"]


def test_today(people):
    today = datetime.date.today()
    people(f'Go to Layout [ "People" (People) ]\nNew Record/Request\nSet Field [ People::Name ; "Today" ]\n'
           f'Set Field [ People::Born ; Get ( CurrentDate ) ]\nCommit Records/Requests')
    assert find(people, ("Born", "//"))[2] == ["Today"]
    assert people.db.conn.execute("SELECT Born FROM People WHERE Name = 'Today'").fetchone()[0] == today.isoformat()


def test_no_match_is_401_with_an_empty_found_set(people):
    out = people('Set Error Capture [ On ]\nPerform Find [ Restore ; "People::Name: nobody" ]\n'
                 'Show Custom Dialog [ Get ( LastError ) & " " & Get ( FoundCount ) & " " & Get ( WindowMode ) ]')
    assert out == ["401 0 0"]


def test_no_match_without_capture_fails_the_script(people):
    from fmscript.errors import FMScriptError
    with pytest.raises(FMScriptError) as e:
        people('Perform Find [ Restore ; "People::Name: nobody" ]')
    assert e.value.code == 401
    assert "no records match" in e.value.render()


def test_empty_requests_are_400(people):
    out = people("Set Error Capture [ On ]\nEnter Find Mode [ Pause: Off ]\nPerform Find [ ]\n"
                 "Show Custom Dialog [ Get ( LastError ) ]")
    assert out == ["400"]


def test_constrain_and_extend(people):
    out = people("""
Perform Find [ Restore ; "People::Notes: tea" ]
Constrain Found Set [ Restore ; "People::City: san" ]
Show Custom Dialog [ Get ( FoundCount ) ]
Extend Found Set [ Restore ; "People::City: boston" ]
Show Custom Dialog [ Get ( FoundCount ) ]
Enter Find Mode [ Pause: Off ]
Set Field [ People::Age ; ">40" ]
Constrain Found Set [ ]
Show Custom Dialog [ Get ( FoundCount ) & " " & People::Name ]
""")
    assert out == ["2", "4", "1 Frank Smith"]


def test_stored_requests_in_find_mode_restore(people):
    out = people('Enter Find Mode [ Restore ; "People::City: boston" ]\n'
                 'Show Custom Dialog [ Get ( WindowMode ) & People::City ]\n'
                 'Set Field [ People::Notes ; "tea" ]\nPerform Find [ ]\nShow Custom Dialog [ People::Name ]')
    assert out == ["1boston", "Frank Smith"]


def test_values_are_sql_parameters(people):
    """A criterion full of SQL only ever reaches SQLite as a parameter."""
    err, count, names = find(people, ("Name", "x' OR 1=1 --"))
    assert (err, names) == (401, [])
    assert people.db.total_count("People") == 7


def test_find_on_unknown_field_is_102(people):
    out = people('Set Error Capture [ On ]\nPerform Find [ Restore ; "People::Nope: 1" ]\n'
                 'Show Custom Dialog [ Get ( LastError ) ]')
    assert out == ["102"]


def test_parse_requests_forms():
    assert F.parse_requests("T::A: x AND T::B: ==y\nOmit T::C: =") == [
        (False, [("T", "A", "x"), ("T", "B", "==y")]), (True, [("T", "C", "=")])]
    # FileMaker's design-report wording, curly quotes around a criterion, and zh-Hans.
    assert F.parse_requests("Find Records; Criteria: T::City: “New York; NY”\nOmit Records; Criteria: T::A: “1”") == [
        (False, [("T", "City", "New York; NY")]), (True, [("T", "A", "1")])]
    assert F.parse_requests("省略 T::A: 1") == [(True, [("T", "A", "1")])]
    with pytest.raises(F.RequestSyntaxError):
        F.parse_requests("no colon here")


def test_parse_sort_order_forms():
    assert F.parse_sort_order("T::A descending; T::B") == [("T", "A", False), ("T", "B", True)]
    assert F.parse_sort_order("T::A; descending\nB 升序") == [("T", "A", False), (None, "B", True)]


def test_perform_find_again_and_modify_last_find(people):
    out = people("""
Enter Find Mode [ Pause: Off ]
Set Field [ People::City ; "boston" ]
Perform Find [ ]
Show All Records
Perform Find [ ]
Show Custom Dialog [ Get ( FoundCount ) ]
Modify Last Find
Show Custom Dialog [ Get ( WindowMode ) & People::City ]
Set Field [ People::Notes ; "tea" ]
Perform Find [ ]
Show Custom Dialog [ Get ( FoundCount ) & People::Name ]
""")
    assert out == ["2", "1boston", "1Frank Smith"]


def test_find_matching_records_and_quick_find(people):
    out = people("""
Go to Record/Request/Page [ By Calculation: 2 ]
Find Matching Records [ Replace ; People::Age ]
Show Custom Dialog [ Get ( FoundCount ) ]
Show All Records
Perform Find [ Restore ; "People::Notes: tea" ]
Find Matching Records [ Extend ; People::City ]
Show Custom Dialog [ Get ( FoundCount ) ]
Perform Quick Find [ "smith tea" ]
Show Custom Dialog [ Get ( FoundCount ) & " " & People::Name ]
Set Error Capture [ On ]
Perform Quick Find [ "zzz" ]
Show Custom Dialog [ Get ( LastError ) & " " & Get ( FoundCount ) ]
""")
    assert out == ["2", "3", "2 Ann Smith", "401 0"]
