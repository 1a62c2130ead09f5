"""Record, navigation, found-set and field steps, their Get values and their errors."""
from __future__ import annotations

import sqlite3

import pytest

from fmscript.errors import FMScriptError

SHOW = 'Show Custom Dialog [ Get ( RecordNumber ) & "/" & Get ( FoundCount ) & " " & People::Name ]'


def names(runner):
    ctx = runner.db.context("People")
    return [runner.db.row("People", r)["name"] for r in ctx.found]


def test_layout_context_and_gets(people):
    out = people("""
Show Custom Dialog [ Get ( LayoutName ) & "|" & Get ( LayoutTableName ) & "|" & Get ( FoundCount ) & "|" & Get ( TotalRecordCount ) & "|" & Get ( RecordNumber ) & "|" & Get ( RecordID ) & "|" & Get ( WindowMode ) ]
Go to Layout [ "People List" (People) ]
Show Custom Dialog [ Get ( LayoutName ) & "|" & Get ( LayoutTableName ) & "|" & Get ( LayoutNumber ) ]
Go to Layout [ "People" ]
Set Variable [ $l ; Value: "People List" ]
Go to Layout [ $l ]
Show Custom Dialog [ Get ( LayoutName ) ]
Go to Layout [ 1 ]
Show Custom Dialog [ Get ( LayoutName ) ]
""")
    assert out == ["People|People|7|7|1|1|0", "People List|People|2", "People List", "People"]


def test_navigation(people):
    out = people(f"""
Go to Record/Request/Page [ Last ]
{SHOW}
Go to Record/Request/Page [ Previous ]
{SHOW}
Go to Record/Request/Page [ By Calculation: 3 ]
{SHOW}
Go to Record/Request/Page [ First ]
Set Error Capture [ On ]
Go to Record/Request/Page [ Previous ]
Show Custom Dialog [ Get ( LastError ) ]
{SHOW}
Go to Record/Request/Page [ 99 ]
Show Custom Dialog [ Get ( LastError ) ]
""")
    assert out == ["7/7 Gus Grey", "6/7 Frank Smith", "3/7 Carl Jones", "101", "1/7 Ann Smith", "101"]


def test_loop_with_exit_after_last_zh(people):
    out = people("""
设置变量 [ $n ; 值: 0 ]
转到记录/请求/页面 [ 第一个 ]
循环
  设置变量 [ $n ; 值: $n + People::Age ]
  转到记录/请求/页面 [ 下一个 ; 最后一个后退出: 开 ]
结束循环
显示自定义对话框 [ $n & " " & Get ( 记录编号 ) ]
""")
    assert out == ["220 7"]


def test_omit_show_omitted_show_all(people):
    out = people(f"""
Go to Record/Request/Page [ By Calculation: 2 ]
Omit Record
{SHOW}
Omit Multiple Records [ With dialog: Off ; 2 ]
{SHOW}
Show Omitted Only
{SHOW}
Show All Records
{SHOW}
""")
    assert out == ["2/6 Carl Jones", "2/4 Eve Black", "1/3 Bob Smithson", "1/7 Ann Smith"]


def test_sort_restore_stored_and_inline_and_unsort(people):
    out = people(f"""
Sort Records [ Restore ; With dialog: Off ]
{SHOW}
Go to Record/Request/Page [ Last ]
{SHOW}
Sort Records [ Restore ; With dialog: Off ; "People::City; People::Name descending" ]
{SHOW}
Unsort Records
{SHOW}
Sort Records by Field [ Descending ; People::Born ]
{SHOW}
""")
    # Stored on the People layout: Age descending, then Name; empty values sort first ascending.
    # Unsort keeps the current record.
    assert out == ["1/7 Frank Smith", "7/7 Eve Black", "1/7 Frank Smith", "6/7 Frank Smith", "1/7 Gus Grey"]
    people("Sort Records [ Restore ; No dialog ]")
    assert names(people) == ["Frank Smith", "Bob Smithson", "Dana White", "Ann Smith", "Carl Jones", "Gus Grey",
                             "Eve Black"]


def test_sort_numbers_by_value_text_case_insensitively(people):
    people('Sort Records [ Restore ; No dialog ; "People::Age" ]')
    assert names(people) == ["Eve Black", "Gus Grey", "Carl Jones", "Ann Smith", "Bob Smithson", "Dana White",
                             "Frank Smith"]
    people('Sort Records [ Restore ; No dialog ; "People::City; People::Name" ]')
    assert names(people)[2:4] == ["Bob Smithson", "Dana White"]  # "New York" = "new york", then by Name


def test_new_set_commit_and_revert(people):
    out = people("""
New Record/Request
Set Field [ People::Name ; "Hal" ]
Set Field [ People::Age ; 0.1 + 0.2 ]
Set Field [ People::Born ; Date ( 2 ; 29 ; 2024 ) ]
Commit Records/Requests [ With dialog: Off ]
Show Custom Dialog [ Get ( RecordNumber ) & "/" & Get ( FoundCount ) & " " & People::Age & " " & People::Born ]
New Record/Request
Set Field [ People::Name ; "Ivy" ]
Revert Record/Request [ With dialog: Off ]
Show Custom Dialog [ Get ( FoundCount ) & " " & Get ( TotalRecordCount ) ]
Go to Record/Request/Page [ First ]
Set Field [ People::Name ; "Changed" ]
Revert Record/Request [ No dialog ]
Show Custom Dialog [ People::Name ]
""")
    assert out == ["8/8 .3 2/29/2024", "8 8", "Ann Smith"]
    row = people.db.conn.execute("SELECT Age, Born FROM People WHERE Name = 'Hal'").fetchone()
    assert row == ("0.3", "2024-02-29")


def test_duplicate_and_delete(people):
    out = people(f"""
Go to Record/Request/Page [ By Calculation: 2 ]
Duplicate Record/Request
{SHOW}
Delete Record/Request [ With dialog: Off ]
{SHOW}
Go to Record/Request/Page [ First ]
Delete Record/Request [ No dialog ]
{SHOW}
Show Custom Dialog [ Get ( TotalRecordCount ) ]
""")
    assert out == ["8/8 Bob Smithson", "7/7 Gus Grey", "1/6 Bob Smithson", "6"]


def test_delete_all_records_deletes_the_found_set(people):
    out = people('Perform Find [ Restore ; "People::City: boston" ]\nDelete All Records [ With dialog: Off ]\n'
                 'Show Custom Dialog [ Get ( FoundCount ) & " " & Get ( TotalRecordCount ) ]\n'
                 'Show All Records\nShow Custom Dialog [ Get ( FoundCount ) ]')
    assert out == ["0 5", "5"]


def test_truncate_table(people):
    out = people('Truncate Table [ With dialog: Off ; Table: "People" ]\n'
                 'Show Custom Dialog [ Get ( TotalRecordCount ) & " " & Get ( FoundCount ) ]')
    assert out == ["0 0"]
    out = people('截断表 [ 对话框: 关 ; 表: 当前表 ]\nShow Custom Dialog [ Get ( TotalRecordCount ) ]')
    assert out == ["0"]


def test_repetitions_set_field_by_name_insert_calculated_result(people):
    out = people("""
Set Field [ People::Tags[2] ; "second" ]
Set Variable [ $r ; Value: 3 ]
Set Field [ People::Tags[$r] ; "third" ]
Set Field By Name [ "People::Tags[1]" ; "first" ]
Set Field By Name [ "City" ; "Oakland" ]
Insert Calculated Result [ Select ; People::Notes ; "inserted" ]
Commit Records/Requests
Show Custom Dialog [ People::Tags[1] & "," & People::Tags[2] & "," & People::Tags[3] & "," & People::Tags & " " & People::City & " " & People::Notes ]
Go to Record/Request/Page [ Next ]
Show Custom Dialog [ "[" & People::Tags[2] & "]" ]
Duplicate Record/Request
""")
    assert out == ["first,second,third,first Oakland inserted", "[]"]


def test_replace_field_contents(people):
    people('Perform Find [ Restore ; "People::City: boston" ]\n'
           'Replace Field Contents [ With dialog: Off ; People::Notes ; People::Name & "!" ]')
    rows = people.db.conn.execute("SELECT Name, Notes FROM People WHERE City = 'Boston'").fetchall()
    assert rows == [("Eve Black", "Eve Black!"), ("Frank Smith", "Frank Smith!")]


def test_global_table_one_record(qa):
    out = qa("""
Go to Layout [ "Support_QA" (Support_QA) ]
Show Custom Dialog [ Global::OpenAI_API_Key & " " & Support_QA::Reviewer ]
Set Field [ Global::Fine_Tuned_Model ; "fm-mlx-x" ]
Show Custom Dialog [ Global::Fine_Tuned_Model ]
""")
    assert out == ["sk-test-key Ana", "fm-mlx-x"]
    qa.db.close()
    conn = sqlite3.connect(qa.db.path())
    assert conn.execute("SELECT value FROM fmscript_globals WHERE field_name = 'Fine_Tuned_Model'").fetchone() == (
        "fm-mlx-x",)


def test_find_mode_requests_navigation(people):
    out = people("""
Enter Find Mode [ Pause: Off ]
Set Field [ People::City ; "boston" ]
Duplicate Record/Request
Set Field [ People::Name ; "frank" ]
New Record/Request
Set Field [ People::City ; "sf" ]
Show Custom Dialog [ Get ( RecordNumber ) & " " & Get ( WindowMode ) ]
Go to Record/Request/Page [ First ]
Show Custom Dialog [ People::City & People::Name ]
Delete Record/Request
Show Custom Dialog [ People::City & People::Name ]
Perform Find [ ]
Show Custom Dialog [ Get ( FoundCount ) & " " & Get ( WindowMode ) ]
Enter Find Mode [ Pause: Off ]
Enter Browse Mode
Show Custom Dialog [ Get ( WindowMode ) & " " & Get ( FoundCount ) ]
""")
    assert out == ["3 1", "boston", "bostonfrank", "2 0", "0 2"]


def test_perform_script_keeps_context(people):
    text = """Script "Main"
Perform Script [ "Narrow" ]
Show Custom Dialog [ Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & People::Name ]
End Script
Script "Narrow"
Go to Layout [ "People List" (People) ]
Perform Find [ Restore ; "People::Age: >50" ]
End Script
"""
    assert people(text) == ["People List 1 Frank Smith"]


@pytest.mark.parametrize("script,code,needle", [
    ('Go to Layout [ "Nope" (Nope) ]', 105, "no layout named “Nope”"),
    ('Set Field [ People::Nope ; 1 ]', 102, "People::Nope"),
    ('Set Field [ Nope::Name ; 1 ]', 102, "Nope::Name"),
    ('Sort Records [ Restore ; No dialog ; "People::Nope" ]', 102, "Nope"),
    ('Perform Find [ Restore ; "nonsense" ]', 1708, "cannot be read"),
    ('Truncate Table [ No dialog ; Table: "Nope" ]', 106, "Nope"),
])
def test_errors_have_filemaker_numbers_and_lines(people, script, code, needle):
    with pytest.raises(FMScriptError) as e:
        people('Set Variable [ $x ; Value: 1 ]\n' + script)
    assert e.value.code == code
    text = e.value.render()
    assert needle in text and ":2:" in text and "Traceback" not in text


def test_missing_field_in_a_calculation_is_error_102(people):
    """Issue 11 item 8: FileMaker's error 102 under the error-capture rules, never a silent ``?``."""
    assert people("Set Error Capture [ On ]\nShow Custom Dialog [ People::Nope ]\n"
                  "Show Custom Dialog [ Get ( LastError ) ]") == ["102"]
    with pytest.raises(FMScriptError) as e:
        people("Show Custom Dialog [ People::Nmae ]")
    assert e.value.code == 102 and "did you mean “Name”?" in e.value.message


def test_set_field_with_no_record_is_101(people):
    with pytest.raises(FMScriptError) as e:
        people('Perform Find [ Restore ; "People::Name: ann" ]\nDelete Record/Request [ No dialog ]\n'
               'Set Field [ People::Name ; "x" ]')
    assert e.value.code == 101


def test_executesql(people):
    out = people("""
Show Custom Dialog [ ExecuteSQL ( "SELECT Name, Age FROM People WHERE Age > ? ORDER BY Age DESC" ; "|" ; ";" ; 40 ) ]
Show Custom Dialog [ ExecuteSQL ( "SELECT count(*) FROM People WHERE City = ?" ; "" ; "" ; "Boston" ) ]
Show Custom Dialog [ ExecuteSQL ( "DELETE FROM People" ; "" ; "" ) ]
Show Custom Dialog [ ExecuteSQL ( "SELECT nope FROM People" ; "" ; "" ) ]
Show Custom Dialog [ ExecuteSQL ( "SELECT 1; DELETE FROM People" ; "" ; "" ) ]
Show Custom Dialog [ Get ( TotalRecordCount ) ]
""")
    assert out == ["Frank Smith|61;Bob Smithson|45;Dana White|45", "2", "?", "?", "?", "7"]


def test_in_memory_database_by_default(tmp_path):
    from fmscript.interpreter import Interpreter
    out = []
    fm = Interpreter(on_dialog=lambda t, m: out.append(m))
    fm.run_text("Show Custom Dialog [ Get ( FoundCount ) & \"|\" & Get ( LayoutName ) ]\n"
                "Set Error Capture [ On ]\nShow Custom Dialog [ Anything ]\nShow Custom Dialog [ Get ( LastError ) ]\n")
    assert out == ["0|", "102"]  # a field of a file without tables is missing (error 102), not a silent ?
    assert fm.session.data.path() is None


def test_exit_after_last_in_nested_blocks(people):
    out = people("""
Set Variable [ $outer ; Value: 0 ]
Loop
  Set Variable [ $outer ; Value: $outer + 1 ]
  Go to Record/Request/Page [ First ]
  Set Variable [ $n ; Value: 0 ]
  Loop
    If [ People::Age > 40 ]
      Set Variable [ $n ; Value: $n + 1 ]
    End If
    Go to Record/Request/Page [ Next ; Exit after last ]
  End Loop
  Exit Loop If [ $outer = 2 ]
End Loop
Show Custom Dialog [ $outer & " " & $n ]
Go to Record/Request/Page [ Next ; Exit after last: On ]
Show Custom Dialog [ Get ( LastError ) ]
""")
    assert out == ["2 3", "101"]


def test_field_types_round_trip_and_find(tmp_path):
    from fmscript.data import open_database
    from fmscript.interpreter import Interpreter
    path = tmp_path / "types.sqlite"
    db = open_database(path)
    db.create_table("Log", [("Label", "text", False), ("N", "number", False), ("D", "date", False),
                            ("T", "time", False), ("TS", "timestamp", False)])
    db.close()
    out = []
    fm = Interpreter(file=path, on_dialog=lambda t, m: out.append(m))
    fm.run_text("""
New Record/Request
Set Field [ Log::Label ; "a" ]
Set Field [ Log::N ; 1/3 ]
Set Field [ Log::D ; Date ( 12 ; 31 ; 1999 ) ]
Set Field [ Log::T ; Time ( 13 ; 5 ; 9 ) ]
Set Field [ Log::TS ; Timestamp ( Date ( 1 ; 2 ; 2024 ) ; Time ( 8 ; 0 ; 0 ) ) ]
New Record/Request
Set Field [ Log::Label ; "b" ]
Set Field [ Log::N ; "abc" ]
Set Field [ Log::T ; "7:30 PM" ]
Set Field [ Log::TS ; "2024-01-03 09:15:00" ]
Commit Records/Requests
Go to Record/Request/Page [ First ]
Show Custom Dialog [ Log::N & "|" & Log::D & "|" & GetAsNumber ( Log::T ) & "|" & Log::TS & "|" & ( Log::D + 1 ) & "|" & GetAsNumber ( Log::T + 60 ) ]
Perform Find [ Restore ; "Log::T: 12:00:00...20:00:00" ]
Show Custom Dialog [ Get ( FoundCount ) ]
Perform Find [ Restore ; "Log::TS: >1/2/2024 12:00:00" ]
Show Custom Dialog [ Log::Label ]
Perform Find [ Restore ; "Log::N: ?" ]
Show Custom Dialog [ Log::Label & Log::N ]
""")
    assert out == ["." + "3" * 16 + "|12/31/1999|47109|1/2/2024 8:00:00 AM|1/1/2000|47169", "2", "b",
                   "babc"]
    conn = fm.session.data.conn
    assert conn.execute("SELECT N, D, T, TS FROM Log ORDER BY rowid").fetchall() == [
        ("0." + "3" * 16, "1999-12-31", "13:05:09", "2024-01-02 08:00:00"),
        ("abc", None, "19:30:00", "2024-01-03 09:15:00")]


def test_original_layout_cjk_find_and_executesql_on_an_occurrence(qa, qa_db):
    qa.db.add_layout("QA List", "QA", "Support_QA")
    out = qa("""
Go to Layout [ "QA List" (QA) ]
Perform Find [ Restore ; "QA::Question: 语言" ]
Show Custom Dialog [ Get ( FoundCount ) & " " & QA::Answer ]
Go to Layout [ original layout ]
Show Custom Dialog [ Get ( LayoutName ) ]
Show Custom Dialog [ ExecuteSQL ( "SELECT count(*) FROM QA WHERE Status = ?" ; "" ; "" ; "open" ) ]
""")
    assert out == ["1 在“设置 > 语言”中选择。", "Support_QA", "3"]


def test_first_repetition_write_does_not_commit_the_open_record(tmp_path):
    from fmscript.data import open_database
    from fmscript.interpreter import Interpreter
    path = tmp_path / "plain.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Items (Name TEXT, Qty INTEGER)")
    conn.execute("INSERT INTO Items VALUES ('a', 1)")
    conn.commit()
    conn.close()
    fm = Interpreter(file=path, on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError):
        fm.run_text('Set Field [ Items::Name ; "changed" ]\nSet Field [ Items::Name[2] ; "rep" ]\n'
                    'Set Field [ Items::Nope ; 1 ]')
    assert sqlite3.connect(path).execute("SELECT Name FROM Items").fetchall() == [("a",)]
    assert open_database(path).tables()["items"].field("Qty").type == "number"
