"""Open / Commit / Revert Transaction and Set Revert Transaction on Error on SQLite savepoints (issue 15,
item 5), and ExecuteSQL reading committed data only."""
from __future__ import annotations

import sqlite3

import pytest

from fmscript.errors import FMScriptError

from .dbfixtures import ScriptRun


class Run(ScriptRun):
    def committed(self):
        return [r[0] for r in sqlite3.connect(self.path).execute("SELECT Name FROM T ORDER BY rowid")]


@pytest.fixture
def t(tmp_path):
    r = Run(tmp_path / "tx.sqlite")
    r.db.create_table("T", [("Name", "text", False), ("Qty", "number", False)])
    r.db.conn.executemany("INSERT INTO T VALUES (?, ?)", [("a", "1"), ("b", "2")])
    return r


def test_changes_to_several_records_commit_together(t):
    out = t("""
Open Transaction
Set Field [ T::Name ; "a2" ]
New Record/Request
Set Field [ T::Name ; "c" ]
Go to Record/Request/Page [ First ]
Show Custom Dialog [ Get ( TransactionOpenState ) & " " & ExecuteSQL ( "SELECT count(*) FROM T" ; "" ; "" ) ]
Commit Transaction
Show Custom Dialog [ Get ( TransactionOpenState ) & " " & ExecuteSQL ( "SELECT count(*) FROM T" ; "" ; "" ) ]
""")
    # ExecuteSQL sees committed data only, as FileMaker's does.
    assert out == ["1 2", "0 3"]
    assert t.committed() == ["a2", "b", "c"]


def test_execute_sql_does_not_see_the_open_record(t):
    out = t("""
Set Field [ T::Name ; "changed" ]
Show Custom Dialog [ ExecuteSQL ( "SELECT Name FROM T WHERE rowid = 1" ; "" ; "" ) ]
Commit Records/Requests
Show Custom Dialog [ ExecuteSQL ( "SELECT Name FROM T WHERE rowid = 1" ; "" ; "" ) ]
""")
    assert out == ["a", "changed"]


def test_revert_transaction_undoes_edits_new_and_deleted_records_and_jumps_to_commit(t):
    out = t("""
Open Transaction
Set Field [ T::Name ; "x" ]
New Record/Request
Set Field [ T::Name ; "new" ]
Go to Record/Request/Page [ First ]
Delete Record/Request [ With dialog: Off ]
Revert Transaction
Show Custom Dialog [ "skipped" ]
Commit Transaction
Show Custom Dialog [ Get ( LastError ) & " " & Get ( FoundCount ) & " " & T::Name ]
""")
    assert out == ["0 2 a"]
    assert t.committed() == ["a", "b"]


def test_revert_transaction_condition_and_custom_error(t):
    out = t("""
Open Transaction
Set Field [ T::Name ; "x" ]
Revert Transaction [ Condition: T::Qty > 5 ]
Revert Transaction [ Condition: T::Qty = 1 ; Error Code: 5001 ; Error Message: "not in stock" ]
Commit Transaction
Show Custom Dialog [ Get ( LastError ) & " " & Get ( LastErrorDetail ) ]
""")
    assert out == ["5001 not in stock"]
    assert t.committed() == ["a", "b"]


def test_revert_record_inside_a_transaction_undoes_that_record_only(t):
    t("""
Open Transaction
Set Field [ T::Name ; "kept" ]
Go to Record/Request/Page [ Next ]
Set Field [ T::Name ; "dropped" ]
Revert Record/Request
Commit Transaction
""")
    assert t.committed() == ["kept", "b"]


def test_nested_transactions_commit_with_the_outermost(t):
    out = t("""
Script "Outer"
Open Transaction
Set Field [ T::Name ; "outer" ]
Perform Script [ "Inner" ]
Show Custom Dialog [ Get ( TransactionOpenState ) & " " & ExecuteSQL ( "SELECT count(*) FROM T" ; "" ; "" ) ]
Commit Transaction
End Script
Script "Inner"
Open Transaction
New Record/Request
Set Field [ T::Name ; "inner" ]
Commit Transaction
End Script
""")
    assert out == ["1 2"]  # the inner commit did not reach the file
    assert t.committed() == ["outer", "b", "inner"]


def test_a_revert_in_a_nested_transaction_reverts_all_and_skips_to_each_commit(t):
    out = t("""
Script "Outer"
Open Transaction
Set Field [ T::Name ; "outer" ]
Perform Script [ "Inner" ]
Show Custom Dialog [ "skipped" ]
Commit Transaction
Show Custom Dialog [ "after " & Get ( TransactionOpenState ) ]
End Script
Script "Inner"
Open Transaction
New Record/Request
Revert Transaction
Show Custom Dialog [ "skipped too" ]
Commit Transaction
End Script
""")
    assert out == ["after 0"]
    assert t.committed() == ["a", "b"]


def test_an_error_reverts_the_transaction_when_revert_on_error_is_on(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"]}})
    out = t("""
Set Error Capture [ On ]
Show Custom Dialog [ Get ( RevertTransactionOnErrorState ) ]
Open Transaction
Set Field [ T::Name ; "first" ]
Go to Record/Request/Page [ Next ]
Set Field [ T::Qty ; 99 ]
Commit Records/Requests
Show Custom Dialog [ "skipped" ]
Commit Transaction
Show Custom Dialog [ Get ( LastError ) & " " & Get ( TransactionOpenState ) ]
""")
    assert out == ["1", "503 0"]
    assert t.committed() == ["a", "b"]


def test_with_revert_on_error_off_the_script_handles_the_error(t):
    t.db.define_field("T", "Qty", {"validate": {"range": ["1", "10"]}})
    out = t("""
Set Error Capture [ On ]
Set Revert Transaction on Error [ Off ]
Open Transaction
Set Field [ T::Name ; "first" ]
Go to Record/Request/Page [ Next ]
Set Field [ T::Qty ; 99 ]
Commit Records/Requests
Show Custom Dialog [ Get ( LastError ) & " " & Get ( TransactionOpenState ) & " " & Get ( RevertTransactionOnErrorState ) ]
Set Field [ T::Qty ; 9 ]
Commit Transaction
""")
    assert out == ["503 1 0"]
    assert t.committed() == ["first", "b"]


def test_a_validation_failure_at_commit_transaction_reverts_it(t):
    t.db.define_field("T", "Name", {"validate": {"unique": True}})
    with pytest.raises(FMScriptError) as e:
        t("""
Open Transaction
Set Field [ T::Name ; "z" ]
New Record/Request
Set Field [ T::Name ; "Z" ]
Commit Transaction
""")
    assert e.value.code == 504 and e.value.span.line == 6
    assert t.committed() == ["a", "b"]


def test_commit_or_revert_without_a_transaction_is_error_3(t):
    out = t("""
Set Error Capture [ On ]
Commit Transaction
Show Custom Dialog [ Get ( LastError ) ]
Revert Transaction
Show Custom Dialog [ Get ( LastError ) ]
""")
    assert out == ["3", "3"]


def test_a_script_that_ends_inside_a_transaction_reverts_it(t):
    t("""
Open Transaction
Set Field [ T::Name ; "never" ]
Go to Record/Request/Page [ Next ]
""")
    assert t.committed() == ["a", "b"]
    assert t("Show Custom Dialog [ Get ( TransactionOpenState ) & T::Name ]") == ["0b"]  # still on record 2


def test_serial_numbers_used_in_a_reverted_transaction_are_not_given_back(t):
    t.db.define_field("T", "Qty", {"auto": {"serial": {"next": "100"}}})
    t("""
Open Transaction
New Record/Request
New Record/Request
Revert Transaction
Commit Transaction
New Record/Request
""")
    rows = sqlite3.connect(t.path).execute("SELECT Qty FROM T ORDER BY rowid").fetchall()
    assert rows == [("1",), ("2",), ("102",)]


def test_a_revert_in_a_sub_script_without_its_own_transaction_ends_it_and_keeps_the_error(t):
    out = t("""
Script "Outer"
Set Error Capture [ On ]
Open Transaction
Set Field [ T::Name ; "outer" ]
Perform Script [ "Check" ]
Set Field [ T::Name ; "skipped" ]
Commit Transaction
Show Custom Dialog [ Get ( LastError ) & " " & Get ( LastErrorDetail ) ]
End Script
Script "Check"
Revert Transaction [ Error Code: 5100 ; Error Message: "over budget" ]
Set Field [ T::Name ; "never" ]
End Script
""")
    assert out == ["5100 over budget"]
    assert t.committed() == ["a", "b"]


@pytest.mark.parametrize("where", ["inner", "outer"])
def test_nesting_in_one_script_skips_to_the_right_commit(t, where):
    out = t(f"""
Open Transaction
Set Field [ T::Name ; "x" ]
{'Revert Transaction' if where == 'outer' else ''}
Open Transaction
New Record/Request
{'Revert Transaction' if where == 'inner' else ''}
Show Custom Dialog [ "skipped" ]
Commit Transaction
Show Custom Dialog [ "skipped too" ]
Commit Transaction
Show Custom Dialog [ "after " & Get ( TransactionOpenState ) ]
Open Transaction
Set Field [ T::Name ; "later" ]
Commit Transaction
""")
    assert out == ["after 0"]
    # Reverted with the new record current, the last record of the found set is current again.
    assert t.committed() == (["later", "b"] if where == "outer" else ["a", "later"])


def test_import_records_inside_a_transaction_is_reverted_with_it(t, tmp_path):
    (tmp_path / "more.csv").write_text("Name\nc\nd\n", encoding="utf-8")
    t.fm.session.base_dir = tmp_path
    out = t("""
Open Transaction
Import Records [ With dialog: Off ; "more.csv" ; Target: "T" ]
Show Custom Dialog [ Get ( FoundCount ) ]
Revert Transaction
Commit Transaction
Show Custom Dialog [ Get ( FoundCount ) ]
Open Transaction
Import Records [ With dialog: Off ; "more.csv" ; Target: "T" ]
Commit Transaction
""")
    assert out == ["2", "0"]  # the imported found set is gone with the revert
    assert t.committed() == ["a", "b", "c", "d"]
