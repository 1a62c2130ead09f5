"""Replace Field Contents' three forms as FileMaker prints them (calculation, serial numbers, current contents),
on a real SQLite file: values in every record of the found set, the field's auto-enter serial read and updated."""
from __future__ import annotations

import pytest

from fmscript import Interpreter
from fmscript.data.database import Database


@pytest.fixture
def fm(tmp_path):
    db = Database(tmp_path / "p.sqlite")
    db.create_table("Items", [("Code", "text", False), ("Name", "text", False), ("N", "number", False)])
    db.close()
    fm = Interpreter(file=tmp_path / "p.sqlite", on_dialog=lambda t, m: None)
    fm.run_text('Go to Layout [ “Items” ]\n' + "\n".join(
        f'New Record/Request\nSet Field [ Items::Name ; "{n}" ]' for n in "abcd") + "\nCommit Records/Requests\n")
    yield fm
    fm.close()


def values(fm, field: str, steps: str = "") -> list[str]:
    out = fm.run_text(f"""Go to Layout [ “Items” ]
Show All Records
{steps}
Go to Record/Request/Page [ First ]
Set Variable [ $o ; Value: Items::{field} ]
Loop
  Go to Record/Request/Page [ Next ; Exit after last: On ]
  Set Variable [ $o ; Value: $o & "," & Items::{field} ]
End Loop
Exit Script [ $o ]""")
    return out.split(",")


def test_custom_serial_numbers_and_updating_the_fields_entry_options(fm):
    assert values(fm, "Code", 'Replace Field Contents [ Items::Code; Replace with serial numbers: Custom values; '
                              'Initial value: INV0098; Increment value: 1 ; No dialog ]') == \
        ["INV0098", "INV0099", "INV0100", "INV0101"]
    # a field without an auto-enter serial gets one (counting by 1, as Set Next Serial Value gives) when asked
    values(fm, "N", 'Replace Field Contents [ Items::N; Replace with serial numbers: Custom values; Initial value: 100; '
                    'Increment value: 10 ; Update Entry Options ; No dialog ]')
    assert values(fm, "N") == ["100", "110", "120", "130"]
    # Entry option values: counts on from the field's serial by its increment (FileMaker prints Increment
    # value: 0 then), and leaves it after the last one given
    assert values(fm, "N", 'Replace Field Contents [ Items::N; Replace with serial numbers: Entry option values; '
                           'Increment value: 0 ; No dialog ]') == ["140", "141", "142", "143"]
    assert values(fm, "N", "New Record/Request\nCommit Records/Requests")[-1] == "144"


def test_custom_serials_leave_the_entry_options_alone_unless_asked(fm):
    values(fm, "N", 'Set Next Serial Value [ Items::N ; 7 ]')
    values(fm, "N", 'Replace Field Contents [ Items::N; Replace with serial numbers: Custom values; Initial value: 1; '
                    'Increment value: 2 ; No dialog ]')
    assert values(fm, "N") == ["1", "3", "5", "7"]
    assert values(fm, "N", "New Record/Request\nCommit Records/Requests")[-1] == "7"


def test_current_contents_and_the_calculation_form(fm):
    assert values(fm, "Code", 'Go to Record/Request/Page [ 3 ]\nReplace Field Contents [ Items::Name; '
                              'Current contents ; No dialog ]\nReplace Field Contents [ Items::Code; '
                              'Replace with calculation: Items::Name & Get ( RecordNumber ) ; No dialog ]') == \
        ["c1", "c2", "c3", "c4"]
    _, found = fm.check_text('Replace Field Contents [ Items::Code; Replace with serial numbers: Custom values; '
                             'Initial value: 100; Increment value: 10 ; Update Entry Options ]\n', "r.fmscript", "r",
                             run_time=False)
    assert found == []
