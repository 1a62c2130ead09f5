"""Perform Script on Server (a session of its own on the same file), Set Error Logging (ScriptErrors.log) and
Execute FileMaker Data API (read, metaData, create, update, delete and duplicate against the current file)."""
from __future__ import annotations

import json
import os
import stat
import time

import pytest

from fmscript import Interpreter
from fmscript.errors import (E_COMMAND_UNAVAILABLE, E_SCRIPT_MISSING, E_FIELD_CANNOT_BE_MODIFIED, E_FIELD_MISSING, E_FILE_MISSING,
                             E_INVALID_PARAMETER, E_LAYOUT_MISSING, E_NO_RECORDS_MATCH, E_RECORD_MISSING,
                             E_VALID_VALUE_REQUIRED, E_VALUE_FAILED_CALC, E_VALUE_NOT_IN_RANGE, E_VALUE_NOT_UNIQUE,
                             meaning)

SCRIPTS = """
Script "Client"
  Go to Layout [ "People" ]
  New Record/Request
  Set Field [ People::Name ; "from client" ]
  Commit Records/Requests [ With dialog: Off ]
  Perform Script on Server [ Wait for completion: On ; "Count" ; Parameter: "x" & 2 ]
  Exit Script [ Get ( ScriptResult ) & "|" & $$seen & "|" & Get ( LastError ) ]
End Script

Script "Count"
  Set Variable [ $$seen ; Value: "server" ]
  Go to Layout [ "People" ]
  Show All Records
  New Record/Request
  Set Field [ People::Name ; "from server " & Get ( ScriptParameter ) ]
  Exit Script [ Get ( FoundCount ) & " " & Get ( ScriptParameter ) ]
End Script

Script "Fails"
  Go to Layout [ "Nowhere" ]
End Script

Script "CallsFails"
  Set Error Capture [ On ]
  Perform Script on Server [ Wait for completion: On ; "Fails" ]
  Exit Script [ Get ( LastError ) ]
End Script

Script "NoWait"
  Perform Script on Server [ Wait for completion: Off ; "Count" ; Parameter: "bg" ]
  Exit Script [ Get ( ScriptResult ) ]
End Script
"""


@pytest.fixture
def fm(tmp_path, monkeypatch):
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(tmp_path / "Documents"))
    db = tmp_path / "app.sqlite"
    fm = Interpreter(file=db, on_dialog=lambda t, m: None)
    fm.database.create_table("People", [("Name", "text", False), ("Age", "number", False)])
    fm.load_text(SCRIPTS)
    yield fm
    fm.close()


def names(fm):
    return sorted(n for (n,) in fm.database.select('SELECT "Name" FROM "People"'))


def test_the_server_session_sees_committed_data_and_returns_its_result(fm):
    # the server's $$ variables are its own; its record is committed in the same file
    assert fm.run_script("Client") == "2 x2||0"
    assert names(fm) == ["from client", "from server x2"]


def test_an_error_on_the_server_comes_back_as_the_step_error(fm):
    assert fm.run_script("CallsFails") == str(E_LAYOUT_MISSING)


def test_without_waiting_the_script_runs_in_the_background(fm):
    assert fm.run_script("NoWait") == ""
    for _ in range(100):
        if "from server bg" in names(fm):
            break
        time.sleep(0.05)
    assert "from server bg" in names(fm)


def test_an_in_memory_file_has_no_server_session():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.load_text('Script "S"\nExit Script [ 1 ]\nEnd Script\nScript "C"\nSet Error Capture [ On ]\n'
                 'Perform Script on Server [ "S" ]\nExit Script [ Get ( LastError ) ]\nEnd Script')
    assert fm.run_script("C") == str(E_COMMAND_UNAVAILABLE)


def test_error_logging_writes_claris_columns(fm, tmp_path):
    fm.run_text("""Set Error Logging [ On ; Custom debug info: "n: " & $n ]
Set Error Capture [ On ]
Set Variable [ $n ; Value: 7 ]
Open Data File [ "missing.txt" ; Target: $id ]
Set Error Logging [ Off ]
Go to Layout [ "Nowhere" ]""", path="job.fmscript")
    log = tmp_path / "Documents" / "ScriptErrors.log"
    [line] = log.read_text(encoding="utf-8").splitlines()
    cols = line.split("\t")
    assert len(cols) == 8
    assert cols[1] == "@1" and cols[2] == "app.sqlite" and cols[3] == "Admin"
    assert cols[4].endswith(" [6]")  # the sixth script loaded in this file
    assert cols[5] == "Open Data File [4]" and cols[6] == str(E_FILE_MISSING) and cols[7] == "n: 7"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def api(fm, request) -> dict:
    fm.set_global("req", json.dumps(request))
    return json.loads(fm.run_text('Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\nExit Script [ $r ]'))


def test_data_api_reads_finds_sorts_and_pages(fm):
    fm.run_text('Go to Layout [ "People" ]\n' + "".join(
        f'New Record/Request\nSet Field [ People::Name ; "{n}" ]\nSet Field [ People::Age ; {a} ]\n'
        for n, a in [("Ada", 36), ("Bob", 20), ("Cy", 51), ("Abe", 9)]))
    got = api(fm, {"layouts": "People", "query": [{"Name": "A*"}], "sort": [{"fieldName": "Age", "sortOrder": "descend"}]})
    assert got["messages"] == [{"code": "0", "message": "OK"}]
    assert [d["fieldData"] for d in got["response"]["data"]] == [{"Name": "Ada", "Age": 36}, {"Name": "Abe", "Age": 9}]
    assert got["response"]["dataInfo"]["foundCount"] == 2 and got["response"]["dataInfo"]["totalRecordCount"] == 4
    page = api(fm, {"layouts": "People", "sort": [{"fieldName": "Name"}], "offset": 2, "limit": 2})
    assert [d["fieldData"]["Name"] for d in page["response"]["data"]] == ["Ada", "Bob"]
    omit = api(fm, {"layouts": "People", "query": [{"Age": ">10"}, {"Name": "Cy", "omit": "true"}]})
    assert sorted(d["fieldData"]["Name"] for d in omit["response"]["data"]) == ["Ada", "Bob"]
    one = api(fm, {"layouts": "People", "recordId": omit["response"]["data"][0]["recordId"]})
    assert len(one["response"]["data"]) == 1


def test_data_api_errors_are_in_the_answer(fm):
    assert api(fm, {"layouts": "Nope"})["messages"][0]["code"] == str(E_LAYOUT_MISSING)
    assert api(fm, {"layouts": "People", "query": [{"Nope": "1"}]})["messages"][0]["code"] == str(E_FIELD_MISSING)
    assert api(fm, {"layouts": "People", "query": [{"Name": "zzz"}]})["messages"][0]["code"] == str(E_NO_RECORDS_MATCH)
    tables = api(fm, {"action": "metaData"})["response"]["tables"]
    assert {"name": "People"} in tables
    meta = api(fm, {"action": "metaData", "tables": "People"})["response"]["fieldMetaData"]
    assert [(m["name"], m["result"]) for m in meta] == [("Name", "text"), ("Age", "number")]


# -- Execute FileMaker Data API: create, update, delete, duplicate ----------------------------------------

def committed(fm, sql):
    """What another connection sees: committed rows only."""
    import sqlite3
    con = sqlite3.connect(fm.database.path())
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_data_api_creates_a_record_and_reads_it_back(fm):
    got = api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": "Ada", "People::Age": 36}})
    assert got["messages"] == [{"code": "0", "message": "OK"}]
    rid = got["response"]["recordId"]
    assert committed(fm, 'SELECT rowid, "Name", "Age" FROM "People"') == [(int(rid), "Ada", "36")]
    back = api(fm, {"layouts": "People", "recordId": rid})["response"]["data"][0]
    assert back["fieldData"] == {"Name": "Ada", "Age": 36}
    assert back["modId"] == got["response"]["modId"]


def test_data_api_create_leaves_the_scripts_window_alone(fm):
    fm.run_text('Go to Layout [ "People" ]\nNew Record/Request\nSet Field [ People::Name ; "mine" ]')
    fm.set_global("req", json.dumps({"action": "create", "layouts": "People", "fieldData": {"Name": "api"}}))
    out = fm.run_text('Go to Layout [ "People" ]\nShow All Records\nGo to Record/Request/Page [ First ]\n'
                      'Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                      'Exit Script [ Get ( FoundCount ) & " " & People::Name & " " & Get ( LayoutName ) ]')
    assert out == "1 mine People"  # the new record is not in the script's found set
    assert sorted(n for (n,) in committed(fm, 'SELECT "Name" FROM "People"')) == ["api", "mine"]


def test_data_api_updates_with_a_modid_check(fm):
    rid = api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": "Bob", "Age": 20}})["response"]["recordId"]
    first = api(fm, {"layouts": "People", "recordId": rid})["response"]["data"][0]["modId"]
    up = api(fm, {"action": "update", "layouts": "People", "recordId": rid, "modId": first, "fieldData": {"Age": 21}})
    assert up["messages"][0]["code"] == "0" and up["response"]["modId"] != first
    assert committed(fm, 'SELECT "Name", "Age" FROM "People"') == [("Bob", "21")]
    stale = api(fm, {"action": "update", "layouts": "People", "recordId": rid, "modId": first,
                     "fieldData": {"Age": 99}})
    assert stale["messages"] == [{"code": "306", "message": "Record modification ID does not match"}]
    assert committed(fm, 'SELECT "Age" FROM "People"') == [("21",)]
    missing = api(fm, {"action": "update", "layouts": "People", "recordId": "999", "fieldData": {"Age": 1}})
    assert missing["messages"] == [{"code": "101", "message": "Record is missing"}]


def test_data_api_duplicates_and_deletes(fm):
    rid = api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": "Cy", "Age": 51}})["response"]["recordId"]
    dup = api(fm, {"action": "duplicate", "layouts": "People", "recordId": rid})
    new = dup["response"]["recordId"]
    assert new != rid and committed(fm, 'SELECT "Name", "Age" FROM "People" ORDER BY rowid') == [("Cy", "51")] * 2
    assert api(fm, {"action": "delete", "layouts": "People", "recordId": rid})["messages"][0]["code"] == "0"
    assert committed(fm, 'SELECT rowid FROM "People"') == [(int(new),)]
    again = api(fm, {"action": "delete", "layouts": "People", "recordId": rid})
    assert again["messages"][0]["code"] == str(E_RECORD_MISSING)


def test_data_api_write_errors_leave_nothing_behind(fm):
    def code(req):
        return api(fm, req)["messages"][0]["code"]
    assert code({"action": "create", "layouts": "Nowhere", "fieldData": {"Name": "x"}}) == str(E_LAYOUT_MISSING)
    assert code({"action": "create", "layouts": "People", "fieldData": {"Name": "x", "Nope": 1}}) == str(E_FIELD_MISSING)
    assert code({"action": "create", "layouts": "People", "fieldData": ["Name"]}) == str(E_INVALID_PARAMETER)
    assert code({"action": "frobnicate", "layouts": "People"}) == str(E_INVALID_PARAMETER)
    assert committed(fm, 'SELECT count(*) FROM "People"') == [(0,)]


@pytest.mark.parametrize("rule, field, value, code", [
    ({"unique": True}, "Name", "Ada", E_VALUE_NOT_UNIQUE),
    ({"not_empty": True}, "Name", "", E_VALID_VALUE_REQUIRED),
    ({"range": ["0", "130"]}, "Age", 200, E_VALUE_NOT_IN_RANGE),
    ({"calc": "Age >= 18", "when": "entry"}, "Age", 9, E_VALUE_FAILED_CALC),  # the Data API is data entry
])
def test_data_api_validates_as_data_entry(fm, rule, field, value, code):
    assert api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": "Ada", "Age": 40}}
               )["messages"][0]["code"] == "0"
    fm.database.define_field("People", field, {"validate": rule})
    got = api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": "Ada", "Age": 40, field: value}})
    assert got["messages"] == [{"code": str(code), "message": meaning(code)}]
    assert committed(fm, 'SELECT "Name", "Age" FROM "People"') == [("Ada", "40")]
    rid = api(fm, {"layouts": "People"})["response"]["data"][0]["recordId"]
    up = api(fm, {"action": "update", "layouts": "People", "recordId": rid, "fieldData": {"Name": "Z", field: value}})
    if code != E_VALUE_NOT_UNIQUE:  # the record's own value is not a duplicate of itself
        assert up["messages"][0]["code"] == str(code)
        assert committed(fm, 'SELECT "Name", "Age" FROM "People"') == [("Ada", "40")]


def test_data_api_cannot_set_a_calculation_field(fm):
    fm.database.create_table("Calc", [("A", "number", False), ("Twice", "number", False)])
    fm.database.define_field("Calc", "Twice", {"kind": "calculation", "calc": "A * 2"})
    got = api(fm, {"action": "create", "layouts": "Calc", "fieldData": {"A": 2, "Twice": 5}})
    assert got["messages"][0]["code"] == str(E_FIELD_CANNOT_BE_MODIFIED)
    ok = api(fm, {"action": "create", "layouts": "Calc", "fieldData": {"A": 2}})
    rid = ok["response"]["recordId"]
    assert api(fm, {"layouts": "Calc", "recordId": rid})["response"]["data"][0]["fieldData"] == {"A": 2, "Twice": 4}


def test_data_api_rest_style_paging_keys(fm):
    for n in ("d", "b", "a", "c"):
        api(fm, {"action": "create", "layouts": "People", "fieldData": {"Name": n}})
    got = api(fm, {"layouts": "People", "_sort": json.dumps([{"fieldName": "Name"}]), "_offset": 2, "_limit": 2})
    assert [d["fieldData"]["Name"] for d in got["response"]["data"]] == ["b", "c"]
    assert api(fm, {"layouts": "People", "limit": 0})["messages"][0]["code"] == str(E_INVALID_PARAMETER)
    assert api(fm, {"layouts": "People", "offset": "x"})["messages"][0]["code"] == str(E_INVALID_PARAMETER)


# -- Perform Script on Server with Callback --------------------------------------------------------------

CALLBACKS = """
Script "Caller"
  Set Variable [ $local ; Value: "caller's" ]
  Set Variable [ $$log ; Value: "start" ]
  Perform Script on Server with Callback [ Specified: From list ; "Work" ; Parameter: "p" & 1 ; Callback script specified: From list ; "Done" ; Parameter: Get ( ScriptResult ) & "|" & $local & "|" & $$log ; State: Continue ]
  Set Variable [ $$log ; Value: $$log & ",caller ends" ]
  Exit Script [ "caller result" ]
End Script

Script "Work"
  Go to Layout [ "People" ]
  New Record/Request
  Set Field [ People::Name ; "made by " & Get ( ScriptParameter ) ]
  Exit Script [ "server " & Get ( ScriptParameter ) & " " & $$log ]
End Script

Script "Done"
  Set Variable [ $$log ; Value: $$log & ",callback " & Get ( ScriptParameter ) & "," & Get ( ScriptResult ) ]
  Go to Layout [ "People" ]
  Show All Records
  Set Variable [ $$seen ; Value: Get ( FoundCount ) ]
End Script

Script "ByName"
  Perform Script On Server with Callback [ Specified: By name ; "Wo" & "rk" ; Parameter: "n" ; Callback script specified: By name ; "Do" & "ne" ; Parameter: Get ( ScriptResult ) ; State: Halt ]
End Script

Script "NoCallback"
  Perform Script On Server with Callback [ Specified: From list ; "Work" ; Parameter: "x" ]
End Script

Script "MissingCallback"
  Set Error Capture [ On ]
  Perform Script On Server with Callback [ Specified: From list ; "Work" ; Parameter: "x" ; Callback script specified: From list ; "Nope" ]
  Exit Script [ Get ( LastError ) ]
End Script

Script "Nested"
  Perform Script On Server with Callback [ Specified: From list ; "CallsBack" ; Callback script specified: From list ; "Done" ]
End Script

Script "CallsBack"
  Set Error Capture [ On ]
  Perform Script On Server with Callback [ Specified: From list ; "Work" ; Callback script specified: From list ; "Done" ]
  Exit Script [ Get ( LastError ) ]
End Script
"""


@pytest.fixture
def cb(fm):
    fm.load_text(CALLBACKS)
    return fm


def test_the_callback_runs_in_the_callers_session_after_the_caller_ends(cb):
    assert cb.run_script("Caller") == "caller result"  # the caller's own result is not the callback's
    # the server's $$ variables are its own; the callback's Parameter sees the server's result and $$ variables,
    # but not the caller's $ variables; inside the callback Get ( ScriptResult ) is empty
    assert cb.get_global("log") == "start,caller ends,callback server p1 ||start,caller ends,"
    assert names(cb) == ["made by p1"]
    assert cb.get_global("seen") == 1  # the callback sees what the server committed


def test_script_names_by_calculation_and_no_callback(cb):
    cb.run_script("ByName")
    assert names(cb) == ["made by n"] and "callback server n" in cb.get_global("log")
    cb.run_script("NoCallback")  # runs like Perform Script on Server without waiting
    assert names(cb) == ["made by n", "made by x"]


def test_callback_errors(cb):
    assert cb.run_script("MissingCallback") == str(E_SCRIPT_MISSING)
    assert names(cb) == []  # nothing was started
    cb.run_script("Nested")  # the server script cannot itself start one: FileMaker Server does not support it
    assert names(cb) == []


def test_an_in_memory_file_has_no_server_for_a_callback():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.load_text('Script "S"\nExit Script [ 1 ]\nEnd Script\nScript "C"\nSet Error Capture [ On ]\n'
                 'Perform Script on Server with Callback [ Specified: From list ; "S" ; Callback script specified: '
                 'From list ; "S" ]\nExit Script [ Get ( LastError ) ]\nEnd Script')
    assert fm.run_script("C") == str(E_COMMAND_UNAVAILABLE)


def test_the_zh_hans_text_form(cb):
    cb.run_text('在服务器上执行脚本附带回调 [ 指定: 从列表 ; "Work" ; 参数: "zh" ; 指定回调脚本: 从列表 ; "Done" ; '
                '参数: Get ( 脚本结果 ) ; 状态: 继续 ]')
    assert names(cb) == ["made by zh"] and "callback server zh" in cb.get_global("log")


def test_data_api_fielddata_writes_a_related_field_through_the_graph(tmp_path):
    from .relfixtures import build_sales
    fm = Interpreter(file=build_sales(tmp_path / "sales.sqlite"), on_dialog=lambda t, m: None)
    try:
        got = api(fm, {"action": "create", "layouts": "Invoices",
                       "fieldData": {"ID": 20, "CustomerID": 3, "LineItems::Product": "Gear"}})
        assert got["messages"][0]["code"] == "0"
        assert [r for r in committed(fm, 'SELECT "InvoiceID", "Product" FROM "LineItems"') if r[0] in (20, "20")] == [("20", "Gear")]
        assert api(fm, {"layouts": "Invoices", "query": [{"Status": "nope"}]})["messages"][0]["code"] == "401"
        bad = api(fm, {"action": "create", "layouts": "Invoices", "fieldData": "x"})
        assert bad["messages"][0]["code"] == str(E_INVALID_PARAMETER)
        fm.set_global("req", "not json")
        out = json.loads(fm.run_text('Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                                     'Exit Script [ $r & "" ]'))
        assert out["messages"][0]["code"] == str(E_INVALID_PARAMETER)
    finally:
        fm.close()
