"""Import Records (CSV, TSV, JSONL; existing or new table), Export Records (CSV, JSONL), fmscript db import."""
from __future__ import annotations

import json

import pytest

from fmscript.errors import FMScriptError


def test_import_csv_into_existing_table_matches_fields_by_name(people, tmp_path):
    (tmp_path / "more.csv").write_text('name,AGE,unknown\n"Zed, Jr.",19,x\nYan,,y\n', encoding="utf-8")
    out = people('Import Records [ With dialog: Off ; Data source: "more.csv" ; Target: "People" ]\n'
                 'Show Custom Dialog [ Get ( FoundCount ) & " " & Get ( TotalRecordCount ) & " " & People::Name ]')
    assert out == ["2 9 Zed, Jr."]
    assert people.db.conn.execute("SELECT Name, Age FROM People WHERE rowid > 7").fetchall() == [
        ("Zed, Jr.", "19"), ("Yan", None)]


def test_import_tsv_and_jsonl_into_new_tables(people, tmp_path):
    (tmp_path / "t.tsv").write_text("Word\tCount\nalpha\t3\nbeta\t10\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text('{"Question": "2+2?", "Answer": "4", "Score": 1.5}\n\n'
                                      '{"Question": "中文？", "Answer": "是", "Tags": ["a"]}\n', encoding="utf-8")
    out = people('Import Records [ No dialog ; "t.tsv" ; Target: "Words" ]\n'
                 'Go to Layout [ "Words" (Words) ]\n'
                 'Sort Records [ Restore ; No dialog ; "Count descending" ]\n'
                 'Show Custom Dialog [ Words::Word & Get ( FoundCount ) ]\n'
                 'Import Records [ With dialog: Off ; Source: "file:q.jsonl" ; Target: "QA" ]\n'
                 'Go to Layout [ "QA" (QA) ]\n'
                 'Show Custom Dialog [ QA::Question & " " & QA::Tags & " " & Get ( FoundCount ) ]')
    assert out == ["beta2", "2+2?  2"]
    ti = people.db.tables()["words"]
    assert [(f.name, f.type) for f in ti.fields] == [("Word", "text"), ("Count", "number")]
    assert people.db.conn.execute("SELECT Tags FROM QA WHERE rowid = 2").fetchone() == ('["a"]',)


def test_import_errors(people, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"Name": "ok"}\nnot json\n', encoding="utf-8")
    out = people('Set Error Capture [ On ]\n'
                 'Import Records [ No dialog ; "missing.csv" ; Target: "People" ]\n'
                 'Show Custom Dialog [ Get ( LastError ) ]\n'
                 'Import Records [ No dialog ; "bad.jsonl" ; Target: "People" ]\n'
                 'Show Custom Dialog [ Get ( LastError ) & " " & Get ( TotalRecordCount ) ]')
    assert out == ["100", "1630 7"]


def test_export_csv_and_jsonl(people, tmp_path):
    people('Perform Find [ Restore ; "People::City: boston" ]\n'
           'Export Records [ With dialog: Off ; "out/people.csv" ; Create folders: On ]\n'
           'Export Records [ With dialog: Off ; "out/people.jsonl" ]')
    assert (tmp_path / "out" / "people.csv").read_bytes().decode("utf-8") == (
        "Name,City,Age,Born,Notes,Email,Tags\r\n"
        "Eve Black,Boston,,2001-07-04,likes coffee,eve@example.com,\r\n"
        "Frank Smith,Boston,61,,tea,frank@example.com,\r\n")
    lines = (tmp_path / "out" / "people.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[1]) == {"Name": "Frank Smith", "City": "Boston", "Age": 61, "Born": "",
                                    "Notes": "tea", "Email": "frank@example.com", "Tags": ""}


def test_export_round_trips_through_import(people, tmp_path):
    people('Export Records [ No dialog ; "all.csv" ]\n'
           'Import Records [ No dialog ; "all.csv" ; Target: "Copy" ]')
    a = people.db.conn.execute("SELECT Name, City, Age, Born FROM People ORDER BY rowid").fetchall()
    b = people.db.conn.execute("SELECT Name, City, Age, Born FROM Copy ORDER BY rowid").fetchall()
    assert a == b


def test_export_without_folder_fails_with_800(people):
    with pytest.raises(FMScriptError) as e:
        people('Export Records [ With dialog: Off ; "no/such/dir/x.csv" ]')
    assert e.value.code == 800
