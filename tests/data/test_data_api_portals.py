"""Execute FileMaker Data API with portals and scripts: portalData and portalDataInfo in reads (portal,
offset.NAME, limit.NAME), related rows written by create and update, deleteRelated, portalMetaData, and
script / script.prerequest / script.presort at the Data API Guide's moments (scriptResult, scriptError)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from fmscript import Interpreter
from fmscript.data import open_database
from fmscript.errors import (E_FIELD_MISSING, E_INVALID_PARAMETER, E_LAYOUT_MISSING, E_MODID_MISMATCH,
                             E_NO_RECORDS_MATCH, E_RECORD_ACCESS_DENIED, E_RECORD_MISSING, E_SCRIPT_MISSING,
                             E_VALID_VALUE_REQUIRED, meaning)

from .relfixtures import build_sales

SCRIPTS = """
Script "Log"
  Set Variable [ $$log ; Value: $$log & Get ( ScriptParameter ) & ":" & Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & Customers::Name & ";" ]
End Script

Script "Result"
  Exit Script [ "done " & Get ( ScriptParameter ) ]
End Script

Script "OmitFirst"
  Go to Record/Request/Page [ First ]
  Omit Record
End Script

Script "Fails"
  Go to Layout [ "Nowhere" ]
  Set Variable [ $$after ; Value: "reached" ]
End Script

Script "Wander"
  Go to Layout [ "Invoices" ]
  Show All Records
  Exit Script [ Get ( LayoutName ) ]
End Script
"""


@pytest.fixture
def path(tmp_path):
    """The sales file (customers → invoices, sorted newest first, creation allowed; invoices → line items) with
    two portals on the Customers layout: every invoice (unnamed, rows deletable) and the open ones (named,
    sorted by ID, rows not deletable); a portal of products on the LineItems layout, whose relationship does
    not allow creating products."""
    p = build_sales(tmp_path / "sales.sqlite")
    db = open_database(p)
    db.add_portal("Customers", "Invoices", allow_delete=True)
    db.add_portal("Customers", "Invoices", "OpenOnes", filter='Invoices::Status = "open"', sort="Invoices::ID descending")
    db.add_portal("LineItems", "Products", "Stock")
    db.conn.executemany('INSERT INTO "Invoices" VALUES (?, 2, ?, ?)',
                        [(100 + i, f"2023-01-{1 + i % 28:02d}", "open" if i % 2 else "paid") for i in range(54)])
    db.close()
    return p


@pytest.fixture
def fm(path):
    fm = Interpreter(file=path, on_dialog=lambda t, m: None)
    fm.load_text(SCRIPTS)
    yield fm
    fm.close()


def api(fm, request) -> dict:
    fm.set_global("req", json.dumps(request))
    return json.loads(fm.run_text('Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\nExit Script [ $r ]'))


def code(answer) -> int:
    return int(answer["messages"][0]["code"])


def committed(fm, sql, params=()):
    """What another connection sees: committed rows only."""
    con = sqlite3.connect(fm.database.path())
    # the file's columns name fmscript's collations; plain ones are enough for these equality tests
    con.create_collation("fmnum", lambda a, b: (float(a or 0) > float(b or 0)) - (float(a or 0) < float(b or 0)))
    con.create_collation("fmtext", lambda a, b: (a.casefold() > b.casefold()) - (a.casefold() < b.casefold()))
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def customer(fm, name, **extra) -> dict:
    rid = committed(fm, 'SELECT rowid FROM "Customers" WHERE "Name" = ?', (name,))[0][0]
    got = api(fm, {"layouts": "Customers", "recordId": rid, **extra})
    assert code(got) == 0, got
    return got["response"]["data"][0]


def invoice_rowid(fm, invoice_id) -> int:
    return committed(fm, 'SELECT rowid FROM "Invoices" WHERE "ID" = ?', (invoice_id,))[0][0]


# -- reading portals --------------------------------------------------------------------------------------

def test_a_read_answers_each_portal_of_the_layout_with_its_rows_and_info(fm):
    acme = customer(fm, "Acme")
    assert list(acme["portalData"]) == ["Invoices", "OpenOnes"]
    rows = acme["portalData"]["Invoices"]
    # The relationship's sort: newest first; each row is recordId, the occurrence's fields, modId.
    assert [r["Invoices::ID"] for r in rows] == [11, 10]
    assert rows[0] == {"recordId": str(invoice_rowid(fm, 11)), "Invoices::ID": 11, "Invoices::CustomerID": 1,
                       "Invoices::Date": rows[0]["Invoices::Date"], "Invoices::Status": "open", "modId": "0"}
    assert list(rows[0]) == ["recordId", "Invoices::ID", "Invoices::CustomerID", "Invoices::Date",
                             "Invoices::Status", "modId"]
    assert [r["Invoices::ID"] for r in acme["portalData"]["OpenOnes"]] == [11]  # the portal's filter
    # An unnamed portal has no portalObjectName; its name is its table occurrence's.
    assert acme["portalDataInfo"] == [
        {"database": "sales", "table": "Invoices", "foundCount": 2, "returnedCount": 2},
        {"portalObjectName": "OpenOnes", "database": "sales", "table": "Invoices", "foundCount": 1,
         "returnedCount": 1}]
    initech = customer(fm, "Initech")
    assert initech["portalData"] == {"Invoices": [], "OpenOnes": []}
    assert [i["foundCount"] for i in initech["portalDataInfo"]] == [0, 0]


def test_each_record_of_a_found_set_shows_its_own_related_rows(fm):
    got = api(fm, {"layouts": "Customers", "sort": [{"fieldName": "Name"}], "portal": ["Invoices"],
                   "limit.Invoices": 1})
    data = got["response"]["data"]
    assert [d["fieldData"]["Name"] for d in data] == ["Acme", "Globex", "Initech"]
    assert [[r["Invoices::CustomerID"] for r in d["portalData"]["Invoices"]] for d in data] == [[1], [2], []]
    assert [d["portalDataInfo"][0]["foundCount"] for d in data] == [2, 55, 0]


def test_the_portal_key_names_the_portals_to_answer_by_object_or_occurrence_name(fm):
    only = customer(fm, "Acme", portal=["openones"])
    assert list(only["portalData"]) == ["OpenOnes"] and len(only["portalDataInfo"]) == 1
    by_occurrence = customer(fm, "Acme", portal=["Invoices"])
    assert list(by_occurrence["portalData"]) == ["Invoices"]
    as_text = customer(fm, "Acme", portal=json.dumps(["OpenOnes", "Invoices"]))  # the REST API's URL form
    assert list(as_text["portalData"]) == ["OpenOnes", "Invoices"]
    assert customer(fm, "Acme", portal=[])["portalData"] == {}
    missing = api(fm, {"layouts": "Customers", "portal": ["Nope"]})
    assert code(missing) == E_INVALID_PARAMETER and "OpenOnes" in missing["messages"][0]["message"]
    assert code(api(fm, {"layouts": "Customers", "portal": [1]})) == E_INVALID_PARAMETER


def test_portal_rows_are_paged_by_offset_and_limit_with_a_default_of_50(fm):
    globex = customer(fm, "Globex", portal=["Invoices"])
    assert len(globex["portalData"]["Invoices"]) == 50
    assert globex["portalDataInfo"][0]["foundCount"] == 55 and globex["portalDataInfo"][0]["returnedCount"] == 50
    every = [r["recordId"] for r in customer(fm, "Globex", portal=["Invoices"], **{"limit.Invoices": 100})
             ["portalData"]["Invoices"]]
    assert len(every) == 55
    page = customer(fm, "Globex", portal=["Invoices"], **{"offset.Invoices": 3, "limit.Invoices": 4})
    assert [r["recordId"] for r in page["portalData"]["Invoices"]] == every[2:6]
    assert page["portalDataInfo"][0]["returnedCount"] == 4
    rest = customer(fm, "Globex", portal=["Invoices"], **{"_offset.Invoices": "54", "_limit.Invoices": "10"})
    assert [r["recordId"] for r in rest["portalData"]["Invoices"]] == every[53:]
    # A range names a portal by its object name; the other portal keeps its default.
    both = customer(fm, "Globex", **{"limit.OpenOnes": 2})
    assert len(both["portalData"]["OpenOnes"]) == 2 and len(both["portalData"]["Invoices"]) == 50


@pytest.mark.parametrize("key, value", [("limit.Invoices", 0), ("offset.Invoices", "x"), ("limit.Nope", 5),
                                        ("_offset.Nope", 1)])
def test_bad_portal_ranges_are_refused(fm, key, value):
    assert code(api(fm, {"layouts": "Customers", key: value})) == E_INVALID_PARAMETER


def test_metadata_of_a_layout_lists_each_portals_fields(fm):
    meta = api(fm, {"action": "metaData", "layouts": "Customers"})["response"]
    assert list(meta["portalMetaData"]) == ["Invoices", "OpenOnes"]
    assert [(m["name"], m["result"]) for m in meta["portalMetaData"]["OpenOnes"]] == [
        ("Invoices::ID", "number"), ("Invoices::CustomerID", "number"), ("Invoices::Date", "date"),
        ("Invoices::Status", "text")]
    assert api(fm, {"action": "metaData", "layouts": "Products"})["response"]["portalMetaData"] == {}


# -- writing portals --------------------------------------------------------------------------------------

def test_create_writes_related_rows_through_the_portal(fm):
    got = api(fm, {"action": "create", "layouts": "Customers", "fieldData": {"ID": 7, "Name": "Umbrella"},
                   "portalData": {"Invoices": [{"Invoices::ID": 70, "Invoices::Status": "open"},
                                               {"Invoices::ID": 71, "Status": "paid"}]}})
    assert code(got) == 0
    assert committed(fm, 'SELECT "ID", "CustomerID", "Status" FROM "Invoices" WHERE "CustomerID" = 7 ORDER BY "ID"') \
        == [("70", "7", "open"), ("71", "7", "paid")]
    back = customer(fm, "Umbrella", portal=["Invoices"])
    assert sorted(r["Invoices::ID"] for r in back["portalData"]["Invoices"]) == [70, 71]


def test_create_through_a_relationship_that_does_not_allow_creation_leaves_nothing(fm):
    got = api(fm, {"action": "create", "layouts": "LineItems", "fieldData": {"InvoiceID": 12, "Product": "Bolt"},
                   "portalData": {"Stock": [{"Products::Stock": 3}]}})
    assert code(got) == E_RECORD_MISSING
    assert committed(fm, 'SELECT count(*) FROM "LineItems" WHERE "Product" = \'Bolt\'') == [(0,)]
    assert committed(fm, 'SELECT count(*) FROM "Products"') == [(3,)]


def test_update_edits_a_related_row_with_its_modid_check(fm):
    acme = customer(fm, "Acme")
    row = acme["portalData"]["Invoices"][1]
    first = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"], "fieldData": {},
                     "portalData": {"Invoices": [{"recordId": row["recordId"], "modId": row["modId"],
                                                  "Invoices::Status": "void"}]}})
    assert code(first) == 0
    assert committed(fm, 'SELECT "Status" FROM "Invoices" WHERE "ID" = 10') == [("void",)]
    again = customer(fm, "Acme")["portalData"]["Invoices"][1]
    assert again["Invoices::Status"] == "void" and again["modId"] == "1"
    stale = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"],
                     "fieldData": {"Name": "Acme Corp"},
                     "portalData": {"Invoices": [{"recordId": row["recordId"], "modId": row["modId"],
                                                  "Invoices::Status": "paid"}]}})
    assert stale["messages"] == [{"code": str(E_MODID_MISMATCH), "message": meaning(E_MODID_MISMATCH)}]
    assert committed(fm, 'SELECT "Status" FROM "Invoices" WHERE "ID" = 10') == [("void",)]
    assert committed(fm, 'SELECT "Name" FROM "Customers" WHERE "ID" = 1') == [("Acme",)]  # nothing of it stays


@pytest.mark.parametrize("row, expected", [
    ({"recordId": "GLOBEX", "Invoices::Status": "x"}, E_RECORD_MISSING),
    ({"Invoices::Nope": "x"}, E_FIELD_MISSING),
])
def test_portal_row_errors_leave_nothing(fm, row, expected):
    acme = customer(fm, "Acme")
    if row.get("recordId") == "GLOBEX":  # a record of the table, but not one of this record's rows
        row = {**row, "recordId": str(invoice_rowid(fm, 12))}
    got = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"],
                   "fieldData": {"City": "Salem"}, "portalData": {"Invoices": [{"Invoices::ID": 80}, row]}})
    assert code(got) == expected
    assert committed(fm, 'SELECT "City" FROM "Customers" WHERE "ID" = 1') == [("Boston",)]
    assert committed(fm, 'SELECT count(*) FROM "Invoices" WHERE "ID" = 80') == [(0,)]
    assert committed(fm, 'SELECT "Status" FROM "Invoices" WHERE "ID" = 12') == [("open",)]


def test_a_related_row_is_validated_as_data_entry(fm):
    fm.database.define_field("Invoices", "Status", {"validate": {"not_empty": True}})
    acme = customer(fm, "Acme")
    got = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"], "fieldData": {},
                   "portalData": {"OpenOnes": [{"Invoices::ID": 90, "Invoices::Status": ""}]}})
    assert got["messages"] == [{"code": str(E_VALID_VALUE_REQUIRED), "message": meaning(E_VALID_VALUE_REQUIRED)}]
    assert committed(fm, 'SELECT count(*) FROM "Invoices" WHERE "ID" = 90') == [(0,)]


def test_portal_data_errors(fm):
    acme = customer(fm, "Acme")

    def update(portal_data):
        return code(api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"],
                             "fieldData": {}, "portalData": portal_data}))
    assert update({"Nope": [{"Invoices::ID": 1}]}) == E_INVALID_PARAMETER
    assert update({"Invoices": {"Invoices::ID": 1}}) == E_INVALID_PARAMETER
    assert update(["Invoices"]) == E_INVALID_PARAMETER
    assert update({"Invoices": [{"recordId": "x"}]}) == E_RECORD_MISSING
    new = api(fm, {"action": "create", "layouts": "Customers", "fieldData": {"ID": 8},
                   "portalData": {"Invoices": [{"recordId": str(invoice_rowid(fm, 10)), "Invoices::Status": "x"}]}})
    assert code(new) == E_RECORD_MISSING  # a new record has no related rows to edit
    assert committed(fm, 'SELECT count(*) FROM "Customers" WHERE "ID" = 8') == [(0,)]


# -- deleteRelated ----------------------------------------------------------------------------------------

def test_delete_related_deletes_one_related_record(fm):
    acme = customer(fm, "Acme")
    ten = str(invoice_rowid(fm, 10))
    got = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"], "fieldData": {},
                   "deleteRelated": f"Invoices.{ten}"})
    assert code(got) == 0
    assert committed(fm, 'SELECT "ID" FROM "Invoices" WHERE "CustomerID" = 1') == [("11",)]
    # The Guide's examples put it in fieldData, next to the fields it edits.
    eleven = str(invoice_rowid(fm, 11))
    got = api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"],
                   "fieldData": {"City": "Salem", "deleteRelated": f"Invoices.{eleven}"}})
    assert code(got) == 0
    assert committed(fm, 'SELECT count(*) FROM "Invoices" WHERE "CustomerID" = 1') == [(0,)]
    assert committed(fm, 'SELECT "City" FROM "Customers" WHERE "ID" = 1') == [("Salem",)]


def test_delete_related_errors_delete_nothing(fm):
    acme = customer(fm, "Acme")
    eleven, twelve = str(invoice_rowid(fm, 11)), str(invoice_rowid(fm, 12))

    def delete(value, **more):
        return code(api(fm, {"action": "update", "layouts": "Customers", "recordId": acme["recordId"],
                             "fieldData": {"City": "Salem"}, "deleteRelated": value, **more}))
    assert delete(f"OpenOnes.{eleven}") == E_RECORD_ACCESS_DENIED  # that portal does not allow deletion
    assert delete(f"Invoices.{twelve}") == E_RECORD_MISSING  # Globex's invoice: not a row of this portal
    assert delete(f"Nope.{eleven}") == E_INVALID_PARAMETER
    assert delete(eleven) == E_INVALID_PARAMETER
    assert delete([f"Invoices.{eleven}", "Invoices.x"]) == E_RECORD_MISSING
    assert delete(f"Invoices.{eleven}", modId="7") == E_MODID_MISMATCH
    assert committed(fm, 'SELECT count(*) FROM "Invoices"') == [(3 + 54,)]
    assert committed(fm, 'SELECT "City" FROM "Customers" WHERE "ID" = 1') == [("Boston",)]


def test_the_scripts_found_set_loses_a_record_the_data_api_deleted(fm):
    ten = invoice_rowid(fm, 10)
    fm.set_global("req", json.dumps({"action": "update", "layouts": "Customers", "recordId": "1",
                                     "fieldData": {}, "deleteRelated": f"Invoices.{ten}"}))
    out = fm.run_text('Go to Layout [ "Invoices" ]\nShow All Records\nGo to Record/Request/Page [ Last ]\n'
                      'Set Variable [ $before ; Value: Get ( FoundCount ) & " " & Invoices::ID ]\n'
                      'Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                      'Exit Script [ $before & "|" & Get ( FoundCount ) & " " & Invoices::ID & " " & '
                      'Get ( LayoutName ) & " " & JSONGetElement ( $r ; "messages[0].code" ) ]')
    assert out == "57 153|56 153 Invoices 0"


# -- scripts ----------------------------------------------------------------------------------------------

def test_scripts_run_before_the_request_before_the_sort_and_after_it(fm):
    got = api(fm, {"layouts": "Customers", "query": [{"Name": "A*"}, {"Name": "G*"}],
                   "sort": [{"fieldName": "Name", "sortOrder": "descend"}], "portal": [],
                   "script.prerequest": "Log", "script.prerequest.param": "pre",
                   "script.presort": "Log", "script.presort.param": "presort",
                   "script": "Log", "script.param": "after"})
    assert code(got) == 0
    # Before the request: the layout, all its records; before the sort: the found set in creation order;
    # after the sort: the sorted found set.
    assert fm.get_global("log") == "pre:Customers 3 Acme;presort:Customers 2 Acme;after:Customers 2 Globex;"
    response = got["response"]
    assert {k: v for k, v in response.items() if k.startswith("script")} == {
        "scriptError.prerequest": "0", "scriptError.presort": "0", "scriptError": "0"}
    assert [d["fieldData"]["Name"] for d in response["data"]] == ["Globex", "Acme"]


def test_script_results_and_errors_are_in_the_response(fm):
    got = api(fm, {"layouts": "Customers", "recordId": "1", "script.prerequest": "Result",
                   "script.prerequest.param": 1, "script.presort": "Nope", "script": "Fails"})
    response = got["response"]
    assert code(got) == 0 and len(response["data"]) == 1  # the request is answered all the same
    assert response["scriptResult.prerequest"] == "done 1" and response["scriptError.prerequest"] == "0"
    assert response["scriptError.presort"] == str(E_SCRIPT_MISSING) and "scriptResult.presort" not in response
    # An error stops the script (as with error capture off), and is its scriptError.
    assert response["scriptError"] == str(E_LAYOUT_MISSING) and "scriptResult" not in response
    assert fm.get_global("after") == ""


def test_a_presort_script_changes_the_found_set_that_is_answered(fm):
    got = api(fm, {"layouts": "Customers", "sort": [{"fieldName": "Name"}], "script.presort": "OmitFirst"})
    assert [d["fieldData"]["Name"] for d in got["response"]["data"]] == ["Globex", "Initech"]
    assert got["response"]["dataInfo"]["foundCount"] == 2


def test_scripts_of_a_create_see_the_new_record_and_leave_the_scripts_window_alone(fm):
    fm.set_global("req", json.dumps({"action": "create", "layouts": "Customers", "fieldData": {"Name": "Hooli"},
                                     "script": "Log", "script.param": "after", "script.presort": "Wander"}))
    out = fm.run_text('Go to Layout [ "Products" ]\nShow All Records\nGo to Record/Request/Page [ Last ]\n'
                      'Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                      'Exit Script [ Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & Products::Name & " " & '
                      'Get ( ScriptResult ) & "|" & $r ]')
    window, answer = out.split("|", 1)
    assert window == "Products 3 Gear "  # the scripts' layouts, found sets and results are not the caller's
    response = json.loads(answer)["response"]
    assert response["scriptResult.presort"] == "Invoices" and response["scriptError"] == "0"
    assert fm.get_global("log") == "after:Customers 1 Hooli;"  # back on the request's layout, on its record
    assert committed(fm, 'SELECT count(*) FROM "Customers" WHERE "Name" = \'Hooli\'') == [(1,)]


@pytest.mark.parametrize("action", ["update", "duplicate", "delete"])
def test_scripts_run_around_the_other_writes(fm, action):
    got = api(fm, {"action": action, "layouts": "Customers", "recordId": "3", "fieldData": {"City": "Dallas"},
                   "script.prerequest": "Log", "script.prerequest.param": "pre", "script": "Log",
                   "script.param": "after"})
    assert code(got) == 0 and got["response"]["scriptError"] == "0"
    after = {"update": "after:Customers 1 Initech;", "duplicate": "after:Customers 1 Initech;",
             "delete": "after:Customers 2 Acme;"}[action]
    assert fm.get_global("log") == "pre:Customers 3 Acme;" + after


def test_a_failed_request_answers_its_error_after_the_prerequest_script(fm):
    got = api(fm, {"layouts": "Customers", "query": [{"Name": "zzz"}], "script.prerequest": "Log",
                   "script.prerequest.param": "pre", "script": "Log", "script.param": "after"})
    assert got == {"messages": [{"code": str(E_NO_RECORDS_MATCH), "message": meaning(E_NO_RECORDS_MATCH)}],
                   "response": {}}
    assert fm.get_global("log") == "pre:Customers 3 Acme;"  # the script after the request did not run


@pytest.mark.parametrize("keys", [{"script": ""}, {"script": 3}, {"script.presort": "Log",
                                                                 "script.presort.param": {"a": 1}}])
def test_bad_script_keys_are_refused_before_anything_runs(fm, keys):
    got = api(fm, {"layouts": "Customers", "script.prerequest": "Log", **keys})
    assert code(got) == E_INVALID_PARAMETER
    assert fm.get_global("log") == ""


def test_the_scripts_active_portal_row_stays_active(fm):
    fm.set_global("req", json.dumps({"action": "update", "layouts": "Customers", "recordId": "1", "fieldData": {},
                                     "portalData": {"Invoices": [{"Invoices::ID": 60, "Invoices::Status": "new"}]},
                                     "script": "Log", "script.param": "after"}))
    out = fm.run_text('Go to Layout [ "Invoices" ]\nGo to Record/Request/Page [ First ]\n'
                      'Go to Portal Row [ Select ; 2 ]\n'
                      'Execute FileMaker Data API [ Select ; Target: $r ; $$req ]\n'
                      'Exit Script [ Get ( PortalRowNumber ) & " " & LineItems::Product & " " & '
                      'JSONGetElement ( $r ; "response.scriptError" ) ]')
    assert out == "2 Rope 0"
    assert committed(fm, 'SELECT "CustomerID" FROM "Invoices" WHERE "ID" = 60') == [("1",)]
