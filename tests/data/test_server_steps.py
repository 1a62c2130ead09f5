"""Perform Script on Server (a session of its own on the same file), Set Error Logging (ScriptErrors.log) and
Execute FileMaker Data API (read and metaData against the current file)."""
from __future__ import annotations

import json
import os
import stat
import time

import pytest

from fmscript import Interpreter
from fmscript.errors import (E_COMMAND_UNAVAILABLE, E_FIELD_MISSING, E_FILE_MISSING, E_LAYOUT_MISSING,
                             E_NO_RECORDS_MATCH)

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
