"""An unstored calculation as the match field on the side a relationship is followed from.

Claris ("About match fields for relationships"): match fields may be calculation fields, and those of the related
table must be able to be indexed; an unstored calculation cannot be indexed, so (like a global) it works on the side
the relationship is followed from only.  Its value is worked out for the record the relationship starts from and
looked up in the other field's index: ``Get ( CurrentDate )``, ``ID & "|" & Globals::gStatus``, a multi-line
``List ( … )`` (several keys).
"""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from fmscript.calc.functions.get import fixed_clock
from fmscript.data import open_database
from fmscript.errors import E_INDEX_MISSING, E_RECORD_MISSING, DataError, FMScriptError
from fmscript.interpreter import Interpreter

from .conftest import Runner
from .relfixtures import build_sales


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


def calc(db, table: str, name: str, text: str, ftype: str = "text", stored: bool = False) -> None:
    db.define_field(table, name, {"kind": "calculation", "calc": text, "stored": stored}, ftype=ftype)


@pytest.fixture
def keyed(tmp_path):
    """The sales file, plus:

    * Customers::cStatusKey = ``ID & "|" & Globals::gStatus`` (unstored) matching Status Invoices::CustStatus,
      a stored calculation ``CustomerID & "|" & Status`` (indexed), then Status Invoices → Status Lines;
    * Customers::cPair = ``List ( ID ; ID + 1 )`` (unstored, two lines) matching Pair Invoices::CustomerID;
    * Dash::cToday = ``Get ( CurrentDate )`` (unstored date) matching Today Invoices::Date, creation allowed,
      with a portal on the Dash layout;
    * Customers::cLoop, a key that reads the relationship it is the key of (a circular definition)."""
    path = build_sales(tmp_path / "keys.sqlite")
    fm = Interpreter(file=path)
    db = fm.session.data
    db.attach(fm.session)  # the stored calculation is worked out for the existing invoices
    db.create_table("Globals", [("gStatus", "text", True)])
    db.create_table("Dash", [("Note", "text", False)])
    db.conn.execute('INSERT INTO "Dash" ("Note") VALUES (\'only\')')
    calc(db, "Invoices", "CustStatus", 'CustomerID & "|" & Status', stored=True)
    calc(db, "Customers", "cStatusKey", 'ID & "|" & Globals::gStatus')
    calc(db, "Customers", "cPair", "List ( ID ; ID + 1 )")
    calc(db, "Customers", "cLoop", "Loop Invoices::CustomerID", ftype="number")
    calc(db, "Dash", "cToday", "Get ( CurrentDate )", ftype="date")
    for occ, table in (("Status Invoices", "Invoices"), ("Status Lines", "LineItems"), ("Pair Invoices", "Invoices"),
                       ("Today Invoices", "Invoices"), ("Loop Invoices", "Invoices")):
        db.add_occurrence(occ, table)
    db.relate(["Customers::cStatusKey = Status Invoices::CustStatus"], allow_creation=("Status Invoices",),
              sort={"Status Invoices": "Status Invoices::Date descending"})
    db.relate(["Status Invoices::ID = Status Lines::InvoiceID"])
    db.relate(["Customers::cPair = Pair Invoices::CustomerID"])
    db.relate(["Dash::cToday = Today Invoices::Date"], allow_creation=("Today Invoices",))
    db.relate(["Customers::cLoop = Loop Invoices::CustomerID"])
    db.add_layout("Status Invoices", "Status Invoices")
    db.add_portal("Dash", "Today Invoices", "Today")
    db.close()
    return path


def test_a_calculated_key_is_worked_out_for_the_current_record(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\n' + show('"[" & Status Invoices::ID & "]"')
              + 'Set Field [ Globals::gStatus ; "open" ]\n'
              + show('Status Invoices::ID & " " & Count ( Status Invoices::ID ) & " " & Sum ( Status Lines::Qty )')
              + 'Set Field [ Globals::gStatus ; "PAID" ]\n'
              + show('Status Invoices::ID & " " & Sum ( Status Lines::Qty ) & " " & GetNthRecord ( Status Lines::Product ; 2 )')
              + 'Go to Record/Request/Page [ 2 ]\nSet Field [ Globals::gStatus ; "open" ]\n'
              + show('List ( Status Invoices::ID ) & " " & Sum ( Status Lines::Qty )'))
    # "1|" matches nothing; customer 1's open invoice is 11 (one anvil), the paid one 10 (an anvil twice and a
    # rope; text keys match case-insensitively, as FileMaker's default index); customer 2's open one is 12.
    assert out == ["[]", "11 1 1", "10 3 Rope", "12 4"]


def test_a_calculated_key_on_a_later_hop_is_worked_out_for_each_record_on_the_way(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Set Field [ Globals::gStatus ; "open" ]\nGo to Layout [ "Invoices" ]\n'
              + show('Invoices::ID & ": " & List ( Status Invoices::ID ) & " " & Sum ( Status Lines::Qty )')
              + 'Go to Record/Request/Page [ Last ]\n' + show('Invoices::ID & ": " & List ( Status Invoices::ID )'))
    # Invoices → Customers (a stored key) → Status Invoices (Customers' calculated key "1|open", then "2|open").
    assert out == ["10: 11 1", "12: 12"]


def test_a_multi_line_calculated_key_is_several_keys(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\n' + show('Substitute ( List ( Pair Invoices::ID ) ; ¶ ; "," )')
              + 'Go to Record/Request/Page [ 2 ]\n' + show('List ( Pair Invoices::ID )')
              + 'Go to Record/Request/Page [ 3 ]\n' + show('"[" & List ( Pair Invoices::ID ) & "]"'))
    # Customer 1's key is "1¶2": the invoices of customers 1 and 2; customer 2's "2¶3"; customer 3's "3¶4": none.
    assert out == ["10,11,12", "12", "[]"]


def test_go_to_related_record_from_one_record_and_from_the_found_set(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\nSet Field [ Globals::gStatus ; "open" ]\n'
              'Go to Related Record [ Show only related records ; From table: "Status Invoices" ; '
              'Using layout: "Invoices" ]\n' + show('Get ( FoundCount ) & " " & Invoices::ID')
              + 'Go to Layout [ "Customers" ]\nShow All Records\n'
              'Go to Related Record [ Show only related records ; Match all records in current found set ; '
              'From table: "Status Invoices" ; Using layout: "Invoices" ]\n'
              + show('Get ( FoundCount ) & " " & Invoices::ID') + 'Go to Record/Request/Page [ Last ]\n'
              + show('Invoices::ID')
              + 'Go to Layout [ "Customers" ]\nShow All Records\n'
              'Go to Related Record [ Show only related records ; Match all records in current found set ; '
              'From table: "Pair Invoices" ; Using layout: "Invoices" ]\n' + show('Get ( FoundCount )'))
    # From the found set each customer's key is worked out for that customer: "1|open", "2|open", "3|open".
    assert out == ["1 11", "2 11", "12", "3"]


def test_a_find_on_a_field_related_through_a_calculated_key(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\nEnter Find Mode [ Pause: Off ]\n'
              'Set Field [ Pair Invoices::Status ; "open" ]\nPerform Find\n'
              + show('Get ( FoundCount ) & " " & Customers::Name'))
    # Open invoices are 11 (customer 1) and 12 (customer 2): customer 1's keys 1 and 2 reach both, customer 2's
    # keys 2 and 3 reach 12, customer 3's keys 3 and 4 none.
    assert out == ["2 Acme"]


def test_the_destination_index_still_answers(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    db = run.db
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    run('Go to Layout [ "Customers" ]\nSet Field [ Globals::gStatus ; "open" ]\n'
        'Set Variable [ $a ; Sum ( Status Lines::Qty ) ]\nSet Variable [ $b ; List ( Pair Invoices::ID ) ]\n'
        'Show All Records\nGo to Related Record [ Show only related records ; Match all records in current '
        'found set ; From table: "Status Invoices" ; Using layout: "Invoices" ]\n')
    db.conn.set_trace_callback(None)
    queries = [q for q in seen if q.lstrip().upper().startswith("SELECT")
               and any(f"{t} t1" in q for t in ('"Invoices"',))]
    joined = [q for q in queries if "fm_calc_keys" in q]  # the found set's keys, worked out per customer
    by_value = [q for q in queries if "fm_calc_keys" not in q]  # one record's keys, worked out before the query
    assert joined and by_value, seen
    for q in queries:
        plan = " ".join(str(r[-1]) for r in db.conn.execute("EXPLAIN QUERY PLAN " + q, [None] * q.count("?")))
        assert ("INDEX fmscript_ix_Invoices_CustStatus" in plan or "INDEX fmscript_ix_Invoices_CustomerID" in plan), \
            (q, plan)


def test_a_portal_over_a_calculated_key_and_creating_through_it(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    with fixed_clock(dt.datetime(2024, 3, 1, 9, 0)):
        out = run('Go to Layout [ "Dash" ]\nGo to Portal Row [ Select ; First ]\n'
                  + show('Get ( PortalRowNumber ) & " " & Today Invoices::ID & " " & Today Invoices::Status')
                  + 'Go to Portal Row [ Select ; Last ]\nSet Field [ Today Invoices::Status ; "new" ]\n'
                  'Commit Records/Requests [ No dialog ]\n'
                  + show('Count ( Today Invoices::Status ) & " " & List ( Today Invoices::Status )'))
    # Today (1 March 2024) is invoice 11's date; the record created in the portal's empty row takes the key's value.
    assert out == ["1 11 open", "2 open\rnew"]
    con = sqlite3.connect(keyed)
    try:
        assert con.execute('SELECT "Date" FROM "Invoices" WHERE "Status" = \'new\'').fetchall() == [("2024-03-01",)]
    finally:
        con.close()


def test_no_record_is_created_where_the_key_to_set_is_calculated(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\nSet Field [ Globals::gStatus ; "void" ]\nSet Error Capture [ On ]\n'
              'Set Field [ Status Invoices::Status ; "void" ]\n' + show('Get ( LastError )'))
    # Status Invoices::CustStatus is a calculation: FileMaker cannot put "1|void" into it, so no invoice is made.
    assert out == ["101"]
    assert open_database(keyed).total_count("Invoices") == 3
    with pytest.raises(FMScriptError) as e:
        Runner(keyed, base_dir=tmp_path)('Go to Layout [ "Customers" ]\nSet Field [ Globals::gStatus ; "void" ]\n'
                                         'Set Field [ Status Invoices::Status ; "void" ]\n')
    assert e.value.code == E_RECORD_MISSING and "calculation field" in e.value.message


def test_the_relationship_does_not_work_from_the_other_side(keyed, tmp_path):
    con = sqlite3.connect(keyed)
    with con:  # what the column may hold (a field that was stored before): never looked up
        con.execute('UPDATE "Customers" SET "cStatusKey" = ID || \'|paid\'')
    con.close()
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Set Field [ Globals::gStatus ; "open" ]\nGo to Layout [ "Status Invoices" ]\n'
              + show('Status Invoices::ID & " [" & Customers::Name & "] " & Count ( Customers::Name )')
              + 'Set Error Capture [ On ]\n'
              'Go to Related Record [ Show only related records ; From table: "Customers" ; Using layout: "Customers" ]\n'
              + show('Get ( LastError ) & " " & Get ( LayoutName )'))
    # Customers' match field is an unstored calculation, which has no index to look "1|paid" up in.
    assert out == ["10 [] 0", "101 Status Invoices"]


def test_a_key_that_reads_its_own_relationship_matches_nothing(keyed, tmp_path):
    run = Runner(keyed, base_dir=tmp_path)
    out = run('Go to Layout [ "Customers" ]\n'
              + show('"[" & Loop Invoices::ID & "|" & Count ( Loop Invoices::ID ) & "|" & Customers::cLoop & "]"')
              + show('"[" & Get ( LastErrorDetail ) & "]"'))
    # Working out cLoop needs cLoop (FileMaker refuses such a definition): it has no value, so nothing matches,
    # at once (not after the calculation engine's nesting limit).
    assert out == ["[|0|]", "[]"]


def test_a_relationship_between_two_fields_without_an_index_is_refused(tmp_path):
    db = open_database(tmp_path / "n.sqlite")
    db.create_table("A", [("K", "text", True), ("N", "text", False)])
    db.create_table("B", [("N", "text", False)])
    calc(db, "A", "cK", 'N & "x"')
    calc(db, "B", "cK", 'N & "x"')
    for crit, words in (("A::cK = B::cK", "are both unstored calculations"),
                        ("A::K = B::cK", "are a global field and an unstored calculation")):
        with pytest.raises(DataError) as e:
            db.relate([crit])
        assert e.value.code == E_INDEX_MISSING and words in e.value.message
    assert db.relationships() == []
    db.relate(["A::cK = B::N"])  # one side can be indexed: allowed, and only that side gets an index
    names = {n for (n,) in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "fmscript_ix_B_N" in names and "fmscript_ix_A_cK" not in names
    db.close()
