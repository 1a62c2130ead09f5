"""Match fields of different types, and a global match field on the side a relationship is followed from.

Claris ("About match fields for relationships"): values are matched based on their indexing, and a match field
can be a global field; a global cannot be indexed, so it cannot be the match field in the related table.
"""
from __future__ import annotations

import sqlite3

import pytest

from fmscript.data import open_database
from fmscript.errors import E_INVALID_PARAMETER, E_RECORD_MISSING, DataError, FMScriptError

from .conftest import Runner


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


@pytest.fixture
def typed(tmp_path):
    """Badges (text codes) ↔ Staff (number IDs); Events (a date) ↔ Notes (the day as text); Logs (a
    timestamp) → Days (a date); Staff → Shifts (number = number), for a path of two hops across types."""
    path = tmp_path / "typed.sqlite"
    db = open_database(path)
    db.create_table("Badges", [("Code", "text", False), ("Colour", "text", False)])
    db.create_table("Staff", [("ID", "number", False), ("Name", "text", False)])
    db.create_table("Shifts", [("StaffID", "number", False), ("Hours", "number", False)])
    db.create_table("Events", [("Day", "date", False), ("Title", "text", False)])
    db.create_table("Notes", [("DayText", "text", False), ("Body", "text", False)])
    db.create_table("Logs", [("At", "timestamp", False)])
    db.create_table("Days", [("Day", "date", False), ("Weather", "text", False)])
    db.conn.executemany('INSERT INTO "Badges" VALUES (?, ?)', [("007", "gold"), ("7", "red"), ("x9", "blue")])
    db.conn.executemany('INSERT INTO "Staff" VALUES (?, ?)', [("7", "Bond"), ("9", "Nine")])
    db.conn.executemany('INSERT INTO "Shifts" VALUES (?, ?)', [("7", "8"), ("7", "4"), ("9", "1")])
    db.conn.executemany('INSERT INTO "Events" VALUES (?, ?)', [("2024-02-29", "leap")])
    db.conn.executemany('INSERT INTO "Notes" VALUES (?, ?)', [("2/29/2024", "a note"), ("Feb 29", "no date")])
    db.conn.executemany('INSERT INTO "Logs" VALUES (?)', [("2024-02-29 23:59:00",)])
    db.conn.executemany('INSERT INTO "Days" VALUES (?, ?)', [("2024-02-29", "snow")])
    db.relate(["Badges::Code = Staff::ID"], allow_creation=("Staff",))
    db.relate(["Staff::ID = Shifts::StaffID"])
    db.relate(["Events::Day = Notes::DayText"])
    db.relate(["Logs::At = Days::Day"])
    db.close()
    return path


def test_a_text_key_finds_a_number_by_its_index_value(typed, tmp_path):
    run = Runner(typed, base_dir=tmp_path)
    out = run('Go to Layout [ "Badges" ]\n'
              'Set Variable [ $r ; "" ]\nLoop\n'
              '  Set Variable [ $r ; $r & Badges::Code & "→" & Staff::Name & " " & Sum ( Shifts::Hours ) & "," ]\n'
              '  Go to Record/Request/Page [ Next ; Exit after last ]\nEnd Loop\n' + show("$r"))
    # "007" and "7" are the number 7 in a number field's index; "x9" is 9 (the number in the text, as
    # GetAsNumber reads it).  Two hops: Badges → Staff (text → number) → Shifts (number = number).
    assert out == ["007→Bond 12,7→Bond 12,x9→Nine 1,"]


def test_from_the_number_side_the_text_index_is_searched(typed, tmp_path):
    run = Runner(typed, base_dir=tmp_path)
    out = run('Go to Layout [ "Staff" ]\n' + show('List ( Badges::Colour )')
              + 'Go to Related Record [ Show only related records ; From table: "Badges" ; Using layout: "Badges" ]\n'
              + show('Get ( FoundCount ) & Badges::Colour'))
    # The number 7 is the text "7" in a text field's index: it finds "7", not "007" (FileMaker's asymmetry).
    assert out == ["red", "1red"]


def test_dates_and_timestamps_match_by_their_date(typed, tmp_path):
    run = Runner(typed, base_dir=tmp_path)
    out = run('Go to Layout [ "Notes" ]\n' + show('Notes::DayText & ": " & Events::Title')
              + 'Go to Record/Request/Page [ Last ]\n' + show('"[" & Events::Title & "]"')
              + 'Go to Layout [ "Events" ]\n' + show('Events::Title & ": " & Notes::Body')
              + 'Go to Layout [ "Logs" ]\n' + show('Days::Weather'))
    # "2/29/2024" is a date in a date field's index; "Feb 29" is not a date and matches nothing.  From the
    # date side the date's text is "2/29/2024"; a timestamp looks its date up in a date field.
    assert out == ["2/29/2024: leap", "[]", "leap: a note", "snow"]


def test_go_to_related_record_for_the_found_set_and_creation_convert_the_key(typed, tmp_path):
    run = Runner(typed, base_dir=tmp_path)
    out = run('Go to Layout [ "Badges" ]\nShow All Records\n'
              'Go to Related Record [ Show only related records ; Match all records in current found set ; '
              'From table: "Staff" ; Using layout: "Staff" ]\n' + show('Get ( FoundCount )')
              + 'Go to Layout [ "Badges" ]\nNew Record/Request\nSet Field [ Badges::Code ; "0042" ]\n'
              'Set Field [ Staff::Name ; "New" ]\nCommit Records/Requests [ No dialog ]\n')
    assert out == ["2"]
    con = sqlite3.connect(typed)
    try:  # the created staff record's ID is the number 42, the text key's index value
        assert con.execute('SELECT "ID", "Name" FROM "Staff" WHERE "Name" = \'New\'').fetchall() == [("42", "New")]
    finally:
        con.close()


def test_a_cross_type_relationship_is_still_an_indexed_query(typed, tmp_path):
    run = Runner(typed, base_dir=tmp_path)
    db = run.db
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    run('Go to Layout [ "Staff" ]\nSet Variable [ $x ; Badges::Colour ]\n'
        'Go to Layout [ "Badges" ]\nSet Variable [ $y ; Staff::Name ]\nShow All Records\n'
        'Go to Related Record [ Show only related records ; Match all records in current found set ; '
        'From table: "Staff" ; Using layout: "Staff" ]\n')
    db.conn.set_trace_callback(None)
    related = [q for q in seen if ("fm_key" in q or '"Badges" t1' in q or '"Staff" t1' in q)
               and q.lstrip().upper().startswith("SELECT")]
    assert related, seen
    for q in related:
        plan = " ".join(str(r[-1]) for r in db.conn.execute("EXPLAIN QUERY PLAN " + q))
        assert "USING INDEX fmscript_ix_" in plan or "USING COVERING INDEX fmscript_ix_" in plan, (q, plan)


def test_container_and_summary_fields_cannot_be_match_fields(tmp_path):
    db = open_database(tmp_path / "c.sqlite")
    db.create_table("A", [("K", "text", False), ("Pic", "container", False)])
    db.create_table("B", [("K", "text", False), ("N", "number", False)])
    db.define_field("B", "Total", {"kind": "summary", "summary": {"function": "total", "of": "N"}}, ftype="number")
    for crit in ("A::Pic = B::K", "A::K = B::Total"):
        with pytest.raises(DataError) as e:
            db.relate([crit])
        assert e.value.code == E_INVALID_PARAMETER and "cannot be a match field" in e.value.message
    assert db.relationships() == []
    db.close()


# -- a global match field on the side the relationship is followed from ----------------------------------------

@pytest.fixture
def picker(tmp_path):
    """A Picker table (one record) whose global gCustomer selects customers' invoices, and whose text global
    gKeys holds several customer IDs (a multi-key field): the common "global key" pattern."""
    from .relfixtures import build_sales
    path = build_sales(tmp_path / "sales.sqlite")
    db = open_database(path)
    db.create_table("Picker", [("gCustomer", "number", True), ("gKeys", "text", True), ("Note", "text", False)])
    db.conn.execute('INSERT INTO "Picker" ("Note") VALUES (\'only\')')
    db.add_occurrence("Picked", "Invoices")
    db.add_occurrence("Keyed", "Invoices")
    db.relate(["Picker::gCustomer = Picked::CustomerID"], allow_creation=("Picked", "Picker"),
              sort={"Picked": "Picked::Date descending"})
    db.relate(["Keyed::CustomerID = Picker::gKeys"])  # written the other way round: the same relationship
    db.add_occurrence("Picked Lines", "LineItems")
    db.relate(["Picked::ID = Picked Lines::InvoiceID"])
    db.close()
    return path


def test_a_global_key_selects_related_records_through_several_hops(picker, tmp_path):
    run = Runner(picker, base_dir=tmp_path)
    out = run('Go to Layout [ "Picker" ]\n' + show('"[" & List ( Picked::ID ) & "]"')
              + 'Set Field [ Picker::gCustomer ; 1 ]\n'
              + show('Picked::ID & " " & Count ( Picked::ID ) & " " & Sum ( Picked Lines::Qty )')
              + 'Set Field [ Picker::gKeys ; "2¶3¶1" ]\n' + show('Substitute ( List ( Keyed::ID ) ; ¶ ; "," )')
              + 'Set Field [ Picker::gCustomer ; 2 ]\n' + show('List ( Picked::ID ) & " " & Sum ( Picked Lines::Qty )'))
    # Customer 1's invoices, newest first: 11 and 10, whose lines hold 2 + 1 + 1 pieces.  The text global's
    # lines are each a key (and text against the number field's index); customer 3 has none.
    assert out == ["[]", "11 2 4", "10,11,12", "12 4"]


def test_go_to_related_record_through_a_global_key(picker, tmp_path):
    run = Runner(picker, base_dir=tmp_path)
    out = run('Go to Layout [ "Picker" ]\nSet Field [ Picker::gCustomer ; 1 ]\n'
              'Go to Related Record [ Show only related records ; From table: "Picked" ; Using layout: "Invoices" ]\n'
              + show('Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & Invoices::ID')
              + 'Go to Layout [ "Picker" ]\nSet Field [ Picker::gCustomer ; 2 ]\n'  # not committed yet
              'Go to Related Record [ Show only related records ; Match all records in current found set ; '
              'From table: "Picked" ; Using layout: "Invoices" ]\n'
              + show('Get ( FoundCount ) & " " & Invoices::ID'))
    assert out == ["Invoices 2 11", "1 12"]
    # The global's keys are read when the query runs, and SQLite still looks them up in the index.
    seen: list[str] = []
    run.db.conn.set_trace_callback(seen.append)
    run('Go to Layout [ "Picker" ]\nGo to Related Record [ Show only related records ; Match all records in '
        'current found set ; From table: "Picked" ; Using layout: "Invoices" ]\n')
    run.db.conn.set_trace_callback(None)
    q = next(q for q in seen if "fm_global_keys" in q)
    plan = " ".join(str(r[-1]) for r in run.db.conn.execute("EXPLAIN QUERY PLAN " + q))
    assert "INDEX fmscript_ix_Invoices_CustomerID" in plan, plan


def test_the_relationship_does_not_work_from_the_side_of_the_global(picker, tmp_path):
    db = open_database(picker)
    db.add_layout("Picked", "Picked")
    db.close()
    run = Runner(picker, base_dir=tmp_path)
    out = run('Go to Layout [ "Picker" ]\nSet Field [ Picker::gCustomer ; 1 ]\nCommit Records/Requests [ No dialog ]\n'
              'Go to Layout [ "Picked" ]\n'
              + show('Picked::ID & " [" & Picker::Note & "] " & Count ( Picker::Note ) & " " & Picker::gCustomer')
              + 'Set Error Capture [ On ]\n'
              'Go to Related Record [ Show only related records ; From table: "Picker" ; Using layout: "Picker" ]\n'
              + show('Get ( LastError ) & " " & Get ( LayoutName )'))
    # From Picked, Picker's match field is the global: no Picker record is related (the global itself still
    # reads, as a global does from anywhere); Go to Related Record finds nothing (101).
    assert out == ["10 [] 0 1", "101 Picked"]


def test_creating_a_related_record_through_a_global_key(picker, tmp_path):
    run = Runner(picker, base_dir=tmp_path)
    run('Go to Layout [ "Picker" ]\nSet Field [ Picker::gCustomer ; 3 ]\nSet Field [ Picked::Status ; "new" ]\n'
        'Commit Records/Requests [ No dialog ]\n')
    con = sqlite3.connect(picker)
    try:
        assert con.execute('SELECT "CustomerID", "Status" FROM "Invoices" WHERE "Status" = \'new\'').fetchall() == \
            [("3", "new")]
    finally:
        con.close()
    db = open_database(picker)
    db.add_layout("Picked", "Picked")
    db.close()
    # From the other side the global cannot be looked up: no Picker record is related, and none can be created
    # through it although the relationship allows creation there (its key would have to go into the global).
    with pytest.raises(FMScriptError) as e:
        Runner(picker, base_dir=tmp_path)('Go to Layout [ "Picked" ]\nSet Field [ Picker::Note ; "x" ]\n')
    assert e.value.code == E_RECORD_MISSING and "global field" in e.value.message
    assert open_database(picker).total_count("Picker") == 1
