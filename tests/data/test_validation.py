"""Field validation at commit with FileMaker's error numbers (issue 15, items 4 and 8): the failing record
is left open as FileMaker leaves it, and nothing else changes."""
from __future__ import annotations

import sqlite3

import pytest

from fmscript.errors import FMScriptError

from .dbfixtures import ScriptRun


class Run(ScriptRun):
    def committed(self, cols: str):
        """What another connection sees: committed data only."""
        return sqlite3.connect(self.path).execute(f"SELECT {cols} FROM T ORDER BY rowid").fetchall()


@pytest.fixture
def t(tmp_path):
    r = Run(tmp_path / "v.sqlite")
    r.db.create_table("T", [("Code", "text", False), ("Qty", "number", False), ("Status", "text", False)])
    r.db.conn.executemany("INSERT INTO T VALUES (?, ?, ?)", [("A", "1", "open"), ("B", "2", "open"),
                                                            ("C", "3", "open"), ("D", "4", "open")])
    r.db.define_value_list("Statuses", ["open", "closed"])
    return r


CAPTURE = "Set Error Capture [ On ]\n"


@pytest.mark.parametrize("rule, value, code", [
    ({"not_empty": True}, '""', 509),
    ({"unique": True}, '"b"', 504),           # text is compared as FileMaker's index does: any case
    ({"value_list": "Statuses"}, '"maybe"', 506),
    ({"range": ["1", "10"]}, "11", 503),
    ({"calc": "Qty < 4"}, "4", 507),
])
def test_each_rule_fails_the_commit_with_filemakers_number(t, rule, value, code):
    field = {"not_empty": "Code", "unique": "Code", "value_list": "Status"}.get(next(iter(rule)), "Qty")
    t.db.define_field("T", field, {"validate": rule})
    out = t(CAPTURE + f"""
Set Field [ T::{field} ; {value} ]
Commit Records/Requests
Show Custom Dialog [ Get ( LastError ) & " " & Get ( RecordOpenState ) ]
Revert Record/Request
""")
    assert out == [f"{code} 2"]  # the record stays open with its change
    assert t.committed(field)[0] == {"Code": ("A",), "Status": ("open",), "Qty": ("1",)}[field]


def test_a_value_that_passes_commits(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"], "not_empty": True}})
    t.db.define_field("T", "Code", {"validate": {"unique": True}})
    out = t(CAPTURE + 'Set Field [ T::Qty ; 10 ]\nSet Field [ T::Code ; "Z" ]\nCommit Records/Requests\n'
                      'Show Custom Dialog [ Get ( LastError ) ]')
    assert out == ["0"] and t.committed("Code, Qty")[0] == ("Z", "10")


def test_a_custom_message_is_the_error_text(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"], "message": "Qty must be 1 to 10"}})
    with pytest.raises(FMScriptError) as e:
        t("Set Field [ T::Qty ; 0 ]\nCommit Records/Requests")
    assert e.value.code == 503 and e.value.message == "Qty must be 1 to 10"
    assert "2:1" in e.value.render() and "Commit Records" in e.value.render()


def test_only_during_data_entry_validates_at_explicit_commits_unless_skipped(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"], "when": "entry"}})
    out = t(CAPTURE + """
Set Field [ T::Qty ; 50 ]
Commit Records/Requests [ Skip data entry validation ]
Show Custom Dialog [ Get ( LastError ) ]
Go to Record/Request/Page [ Next ]
Set Field [ T::Qty ; 60 ]
Go to Record/Request/Page [ Next ]
Show Custom Dialog [ Get ( LastError ) ]
Go to Record/Request/Page [ Previous ]
Set Field [ T::Qty ; 70 ]
Commit Records/Requests
Show Custom Dialog [ Get ( LastError ) ]
Revert Record/Request
""")
    assert out == ["0", "0", "503"]
    assert t.committed("Qty") == [("50",), ("60",), ("3",), ("4",)]


def test_always_validates_implicit_commits_too(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"]}})
    out = t(CAPTURE + """
Set Field [ T::Qty ; 50 ]
Go to Record/Request/Page [ Next ]
Show Custom Dialog [ Get ( LastError ) & " " & Get ( RecordNumber ) ]
Revert Record/Request
""")
    assert out == ["503 1"]  # the record could not be left: it stays current and open
    assert t.committed("Qty")[0] == ("1",)


def test_a_validation_failure_mid_loop_stops_there_and_changes_nothing_else(t):
    """Records before the failure were committed as the loop left them; the failing record is reverted
    when the script fails; the records after it are untouched."""
    t.db.define_field("T", "Qty", {"validate": {"calc": "Qty < 30"}})
    with pytest.raises(FMScriptError) as e:
        t("""
Go to Record/Request/Page [ First ]
Loop
  Set Field [ T::Qty ; T::Qty * 10 ]
  Go to Record/Request/Page [ Next ; Exit after last ]
End Loop
""")
    assert e.value.code == 507 and e.value.span.line == 5
    assert t.committed("Qty") == [("10",), ("20",), ("3",), ("4",)]
    assert t.db.record_open_state() == 0


def test_a_commit_that_violates_uniqueness_leaves_the_record_open_and_the_others_unchanged(t):
    t.db.define_field("T", "Code", {"validate": {"unique": True}})
    out = t(CAPTURE + """
Go to Record/Request/Page [ Last ]
Set Field [ T::Code ; "a" ]
Commit Records/Requests
Show Custom Dialog [ Get ( LastError ) & " " & Get ( RecordOpenState ) & " " & T::Code ]
Set Field [ T::Code ; "E" ]
Commit Records/Requests
Show Custom Dialog [ Get ( LastError ) & " " & Get ( RecordOpenState ) ]
""")
    assert out == ["504 2 a", "0 0"]
    assert t.committed("Code") == [("A",), ("B",), ("C",), ("E",)]


def test_a_new_record_that_fails_validation_at_the_end_of_the_script_is_not_kept(t):
    t.db.define_field("T", "Code", {"validate": {"not_empty": True}})
    with pytest.raises(FMScriptError) as e:
        t("New Record/Request\nSet Field [ T::Qty ; 5 ]")
    assert e.value.code == 509
    assert len(t.committed("Code")) == 4


def test_the_command_line_shows_a_validation_failure_with_its_line_and_no_traceback(t, tmp_path, capsys):
    from fmscript.cli import main

    t.db.define_field("T", "Code", {"validate": {"unique": True}})
    t.fm.close()
    script = tmp_path / "dup.fmscript"
    script.write_text('Go to Record/Request/Page [ Last ]\nSet Field [ T::Code ; "a" ]\nCommit Records/Requests\n',
                      encoding="utf-8")
    rc = main(["run", str(script), "-f", str(t.path)])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.splitlines() == [
        f"{script}:3:1: error [504] in Commit Records/Requests: T::Code must be unique, and “a” is already in "
        "another record",
        "Commit Records/Requests",
        "^",
    ]
    assert t.committed("Code")[-1] == ("D",)
