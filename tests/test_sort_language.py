"""Sort Records as FileMaker prints it: one field a line, entries of deleted fields, and ``override language``
(the alphabet text sorts in), on a real SQLite file."""
from __future__ import annotations

import pytest

from fmscript import Interpreter
from fmscript.data.database import Database

NAMES = ["Ölund", "Zorn", "Adam", "Ärla", "Oscar", "Åsa"]


@pytest.fixture
def fm(tmp_path):
    db = Database(tmp_path / "p.sqlite")
    db.create_table("People", [("Name", "text", False), ("Age", "number", False)])
    db.close()
    fm = Interpreter(file=tmp_path / "p.sqlite", on_dialog=lambda t, m: None)
    fm.run_text("\n".join(f'New Record/Request\nSet Field [ People::Name ; "{n}" ]\nSet Field [ People::Age ; {i % 2} ]'
                          for i, n in enumerate(NAMES)) + "\nCommit Records/Requests\n")
    yield fm
    fm.close()


def order(fm, sort: str) -> list[str]:
    out = fm.run_text(f"""Go to Layout [ “People” ]
Show All Records
{sort}
Go to Record/Request/Page [ First ]
Set Variable [ $o ; Value: People::Name ]
Loop
  Go to Record/Request/Page [ Next ; Exit after last: On ]
  Set Variable [ $o ; Value: $o & "," & People::Name ]
End Loop
Exit Script [ $o ]""")
    return out.split(",")


def test_override_language_sorts_in_that_languages_alphabet(fm):
    swedish = order(fm, 'Sort Records [ Specified Sort Order: People::Name ascending; override language: “Swedish” ; '
                        'Restore; No dialog ]')
    assert swedish == ["Adam", "Oscar", "Zorn", "Åsa", "Ärla", "Ölund"]  # å ä ö after z
    german = order(fm, 'Sort Records [ Specified Sort Order: People::Name ascending; override language: “German” ; '
                       'Restore; No dialog ]')
    assert german == ["Adam", "Ärla", "Åsa", "Ölund", "Oscar", "Zorn"]  # with their base letters, accents second
    desc = order(fm, 'Sort Records [ Specified Sort Order: People::Name descending; override language: “German” ; '
                     'Restore; No dialog ]')
    assert desc == list(reversed(german))


def test_filemakers_printed_order_one_field_a_line_with_a_deleted_fields_entry(fm):
    text = """Sort Records [ Keep records in sorted order; Specified Sort Order: People::Age descending
ascending
People::Name ascending; override language: “German” ; Restore; No dialog ]"""
    assert order(fm, text) == ["Ärla", "Åsa", "Zorn", "Adam", "Ölund", "Oscar"]  # Age 1 first, then by name
    # every field of the order deleted (FileMaker prints only the directions): the found set stays as it is
    assert order(fm, "Sort Records [ Specified Sort Order: ascending\ndescending ; Restore; No dialog ]") == NAMES
    _, found = fm.check_text(text + "\n", "s.fmscript", "s", run_time=False)
    assert found == []
