"""The relationship graph (fmscript/data/graph.py) and related fields (fmscript/data/related.py): storage,
bad input, reads and writes through the graph, aggregates, GetNthRecord, Lookup/LookupNext, indexes."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from fmscript.data import open_database
from fmscript.errors import (E_FIELD_MISSING, E_INDEX_MISSING, E_INVALID_PARAMETER, E_RECORD_MISSING,
                             E_RELATIONSHIP_MISSING, E_TABLE_MISSING, E_VALID_VALUE_REQUIRED, DataError,
                             FMScriptError)

from .conftest import Runner
from .relfixtures import build_sales


@pytest.fixture
def sales_db(tmp_path):
    return build_sales(tmp_path / "sales.sqlite")


@pytest.fixture
def sales(sales_db, tmp_path):
    return Runner(sales_db, base_dir=tmp_path)


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


# -- the graph in the file ------------------------------------------------------------------------------------

def test_graph_is_kept_in_the_file_and_versioned(sales_db):
    db = open_database(sales_db)
    try:
        rels = db.relationships()
        assert [(r.left, r.right) for r in rels] == [("Customers", "Invoices"), ("Invoices", "LineItems"),
                                                     ("LineItems", "Products")]
        assert rels[0].create == {"customers": False, "invoices": True}
        assert rels[0].sort["invoices"] == "Invoices::Date descending"
        assert rels[1].delete["lineitems"] is True
        assert db.conn.execute("SELECT value FROM fmscript_meta WHERE key='graph_version'").fetchone() == ("2",)
        assert [p.name for p in db.portals("Invoices")] == ["Lines"]
        hops = db.graph_path("Customers", "Products")
        assert [h.dst for h in hops] == ["Invoices", "LineItems", "Products"]
        back = db.graph_path("LineItems", "Customers")
        assert [h.dst for h in back] == ["Invoices", "Customers"]
        assert back[-1].criteria[0].left == "CustomerID" and back[-1].criteria[0].right == "ID"
    finally:
        db.close()


def test_an_older_file_gains_the_graph_tables(tmp_path):
    """A file made before relationships (fmscript_ metadata without the graph tables) is migrated on first use."""
    path = tmp_path / "old.sqlite"
    db = open_database(path)
    db.create_table("A", [("K", "number", False)])
    db.create_table("B", [("K", "number", False)])
    assert not db.has_graph()
    db.relate(["A::K = B::K"])
    db.close()
    db = open_database(path)
    assert db.has_graph() and len(db.relationships()) == 1
    db.close()


def test_match_fields_are_indexed_and_the_query_uses_the_index(sales_db):
    db = open_database(sales_db)
    try:
        names = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"fmscript_ix_Invoices_CustomerID", "fmscript_ix_LineItems_InvoiceID",
                "fmscript_ix_Products_Name"} <= names
        hops = db.graph_path("Customers", "Invoices")
        # The same SQL related_query runs, explained: SQLite searches the index, it does not scan the table.
        plan = db.conn.execute('EXPLAIN QUERY PLAN SELECT t1.rowid FROM "Invoices" t1 WHERE t1."CustomerID" = ? '
                               "ORDER BY t1.rowid", ("1",)).fetchall()
        assert any("fmscript_ix_Invoices_CustomerID" in r[-1] for r in plan), plan
        assert db.related_ids(hops, 1) == [2, 1]  # newest invoice first: the relationship's sort
        text_plan = db.conn.execute('EXPLAIN QUERY PLAN SELECT t1.rowid FROM "Products" t1 WHERE t1."Name" '
                                    "COLLATE fmtext = ?", ("anvil",)).fetchall()
        assert any("fmscript_ix_Products_Name" in r[-1] for r in text_plan), text_plan
    finally:
        db.close()


# -- bad input: FileMaker's errors, nothing changed ------------------------------------------------------------

@pytest.mark.parametrize("criteria, code, words", [
    (["Customers::Nope = Invoices::CustomerID"], E_FIELD_MISSING, "Customers::Nope"),
    (["Customers::ID = Ghosts::CustomerID"], E_TABLE_MISSING, "Ghosts"),
    (["Customers::Name = Invoices::CustomerID"], E_INVALID_PARAMETER, "different types"),
    (["Customers::ID = LineItems::InvoiceID"], E_INVALID_PARAMETER, "more than one relational path"),
    (["Customers::ID = Customers::ID"], E_INVALID_PARAMETER, "same occurrence"),
    (["Customers::ID ~ Invoices::CustomerID"], E_INVALID_PARAMETER, "not a match criterion"),
])
def test_bad_relationships_are_refused_and_nothing_changes(sales_db, criteria, code, words):
    db = open_database(sales_db)
    try:
        before = db.conn.execute("SELECT count(*) FROM fmscript_relationships").fetchone()[0]
        with pytest.raises(DataError) as e:
            db.relate(criteria)
        assert e.value.code == code and words in e.value.message
        assert db.conn.execute("SELECT count(*) FROM fmscript_relationships").fetchone()[0] == before
    finally:
        db.close()


def test_a_global_match_field_has_no_index(tmp_path):
    db = open_database(tmp_path / "g.sqlite")
    db.create_table("A", [("K", "number", True)])
    db.create_table("B", [("K", "number", False)])
    with pytest.raises(DataError) as e:
        db.relate(["A::K = B::K"])
    assert e.value.code == E_INDEX_MISSING
    db.close()


def test_cycle_through_a_second_occurrence_is_the_fix(sales_db):
    """FileMaker's answer to a cycle: another occurrence of the table."""
    db = open_database(sales_db)
    try:
        db.add_occurrence("Customer Lines", "LineItems")
        db.relate(["Customers::ID = Customer Lines::InvoiceID"])
        assert [h.dst for h in db.graph_path("Customers", "Customer Lines")] == ["Customer Lines"]
        with pytest.raises(DataError) as e:
            db.add_occurrence("Invoices", "Customers")
        assert "already exists" in e.value.message
    finally:
        db.close()


# -- related fields in calculations ----------------------------------------------------------------------------

def test_related_field_reads_the_first_related_record_in_sort_order(sales):
    out = sales('Go to Layout [ "Customers" ]\n'
                + show('Invoices::ID & "|" & Invoices::Date & "|" & LineItems::Product & "|" & Products::Stock')
                + 'Go to Record/Request/Page [ Last ]\n' + show('"[" & Invoices::ID & "]" & Count ( Invoices::ID )'))
    # Acme's newest invoice is 11 (sorted by date descending); its first line item (creation order) is an Anvil,
    # whose product record matches case-insensitively ("anvil"); Initech has no invoices.
    assert out == ["11|3/1/2024|Anvil|5", "[]0"]


def test_an_unrelated_occurrence_shows_nothing_and_cannot_be_set(sales_db, tmp_path):
    db = open_database(sales_db)
    db.create_table("Settings", [("Currency", "text", False)])
    db.conn.execute("INSERT INTO Settings VALUES ('EUR')")
    db.close()
    run = Runner(sales_db, base_dir=tmp_path)
    # FileMaker: a field of an occurrence the layout's is not related to has no record (the layout shows
    # <Unrelated Table>); calculations get empty, aggregates nothing, Set Field fails.
    out = run('Go to Layout [ "Customers" ]\n' + show('"[" & Settings::Currency & "]" & Count ( Settings::Currency )')
              + 'Set Error Capture [ On ]\nSet Field [ Settings::Currency ; "USD" ]\n' + show("Get ( LastError )")
              + 'Go to Layout [ "Settings" ]\n' + show("Settings::Currency"))
    assert out == ["[]0", str(E_RECORD_MISSING), "EUR"]
    with pytest.raises(FMScriptError) as e:
        run('Go to Layout [ "Customers" ]\nSet Field [ Settings::Currency ; "USD" ]\n')
    assert e.value.code == E_RECORD_MISSING and "not related to “Customers”" in e.value.message


def test_aggregates_take_related_fields(sales):
    out = sales('Go to Layout [ "Invoices" ]\n'
                + show('Sum ( LineItems::Qty ) & " " & Count ( LineItems::Product ) & " " & Average ( LineItems::Price )'
                       ' & " " & Max ( LineItems::Price ) & " " & Min ( LineItems::Price ) & " " & '
                       'Substitute ( List ( LineItems::Product ) ; ¶ ; "," ) & " " & StDevP ( LineItems::Qty ) & " " & '
                       'Last ( LineItems::Product ) & " " & Get ( FoundCount )'))
    assert out == ["3 2 6.75 10.5 3 Anvil,Rope .5 Rope 3"]


def test_aggregates_through_several_hops(sales):
    out = sales('Go to Layout [ "Customers" ]\n'
                + show('Sum ( LineItems::Qty ) & " " & Count ( LineItems::Product ) & " " & Count ( Invoices::ID )'))
    assert out == ["4 3 2"]  # Acme: invoices 10 and 11, three line items, quantities 2 + 1 + 1


def test_get_nth_record_of_a_related_field(sales):
    out = sales('Go to Layout [ "Customers" ]\n' + show('GetNthRecord ( Invoices::ID ; 2 )')
                + 'Set Error Capture [ On ]\n' + 'Set Variable [ $x ; GetNthRecord ( Invoices::ID ; 3 ) ]\n'
                + show('$x & " " & Get ( LastError )'))
    assert out == ["10", "? 0"]


def test_lookup_and_lookup_next(sales):
    out = sales('Go to Layout [ "Customers" ]\n'
                + show('Lookup ( Invoices::Status ; "none" )')
                + 'Go to Record/Request/Page [ Last ]\n'
                + show('Lookup ( Invoices::Status ; "none" ) & "|" & LookupNext ( Invoices::ID ; Lower ) & "|" & '
                       'LookupNext ( Invoices::ID ; Higher )'))
    # Initech (ID 3) has no invoices: the next lower CustomerID is 2 (invoice 12), nothing is higher.
    assert out == ["open", "none|12|"]


def test_relational_operators_and_multikey(tmp_path):
    db = open_database(tmp_path / "ops.sqlite")
    db.create_table("Q", [("Low", "number", False), ("High", "number", False), ("Tags", "text", False)])
    db.create_table("P", [("Price", "number", False), ("Name", "text", False)])
    db.add_occurrence("ByTag", "P")
    db.conn.executemany("INSERT INTO P VALUES (?, ?)", [("5", "a"), ("10", "b"), ("20", "c"), ("30", "d")])
    db.conn.execute("INSERT INTO Q VALUES ('10', '20', 'b\rd')")
    db.relate(["Q::Low ≤ P::Price", "Q::High > P::Price"])
    db.relate(["Q::Tags = ByTag::Name"])
    db.close()
    run = Runner(tmp_path / "ops.sqlite", base_dir=tmp_path)
    out = run('Go to Layout [ "Q" ]\n' + show('Substitute ( List ( P::Name ) ; ¶ ; "," )')
              + show('Substitute ( List ( ByTag::Name ) ; ¶ ; "," )'))
    assert out == ["b", "b,d"]


def test_cartesian_and_not_equal(tmp_path):
    db = open_database(tmp_path / "x.sqlite")
    db.create_table("A", [("K", "number", False)])
    db.create_table("B", [("K", "number", False)])
    db.add_occurrence("Others", "B")
    db.conn.execute("INSERT INTO A VALUES ('1')")
    db.conn.executemany("INSERT INTO B VALUES (?)", [("1",), ("2",), ("3",)])
    db.relate(["A::K × B::K"])
    db.relate(["A::K ≠ Others::K"])
    db.close()
    out = Runner(tmp_path / "x.sqlite", base_dir=tmp_path)('Go to Layout [ "A" ]\n'
                                                           + show('Count ( B::K ) & " " & Sum ( Others::K )'))
    assert out == ["3 5"]


# -- writing through the graph ------------------------------------------------------------------------------------

def test_set_field_into_a_related_field_writes_the_first_related_record(sales):
    sales('Go to Layout [ "Customers" ]\nSet Field [ Invoices::Status ; "sent" ]\nCommit Records/Requests\n')
    rows = sales.db.conn.execute('SELECT ID, Status FROM Invoices ORDER BY ID').fetchall()
    assert rows == [("10", "paid"), ("11", "sent"), ("12", "open")]


def test_set_field_creates_the_related_record_when_allowed(sales):
    out = sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ Last ]\n'
                'Set Field [ Invoices::Status ; "draft" ]\n' + show('Get ( RecordOpenState ) & Count ( Invoices::Status )')
                + 'Commit Records/Requests\n')
    assert out == ["21"]
    assert sales.db.conn.execute("SELECT CustomerID, Status FROM Invoices WHERE Status = 'draft'").fetchall() == \
        [("3", "draft")]


def test_created_related_record_goes_away_with_revert(sales):
    sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ Last ]\n'
          'Set Field [ Invoices::Status ; "draft" ]\nRevert Record/Request [ With dialog: Off ]\n')
    assert sales.db.total_count("Invoices") == 3


def test_set_field_without_creation_is_record_missing(sales):
    sales('Go to Layout [ "LineItems" ]\nGo to Record/Request/Page [ Last ]\nSet Field [ Products::Stock ; 1 ]\n')
    assert sales.db.conn.execute("SELECT Stock FROM Products WHERE Name = 'Gear'").fetchone() == ("1",)
    with pytest.raises(FMScriptError) as e:
        sales('Go to Layout [ "LineItems" ]\nNew Record/Request\nSet Field [ LineItems::Product ; "Bolt" ]\n'
              'Set Field [ Products::Stock ; 1 ]\n')
    assert e.value.code == E_RECORD_MISSING and "does not allow" in e.value.message
    # The failed script reverted its open record: the new line item is gone, no product was made.
    assert sales.db.total_count("LineItems") == 4 and sales.db.total_count("Products") == 3


def test_creation_through_two_hops(sales):
    """Customers → Invoices → LineItems, both allowing creation: one Set Field makes both records."""
    sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ Last ]\n'
          'Set Field [ Invoices::ID ; 13 ]\nSet Field [ LineItems::Product ; "Gear" ]\nCommit Records/Requests\n')
    assert sales.db.conn.execute("SELECT InvoiceID, Product FROM LineItems WHERE InvoiceID = '13'").fetchall() == \
        [("13", "Gear")]


def test_an_empty_match_field_creates_nothing(sales):
    sales.db.conn.execute("UPDATE Customers SET ID = NULL WHERE Name = 'Initech'")
    sales.db.invalidate_schema()
    with pytest.raises(FMScriptError) as e:
        sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ Last ]\nSet Field [ Invoices::Status ; "x" ]\n')
    assert e.value.code == E_VALID_VALUE_REQUIRED and "empty" in e.value.message
    assert sales.db.total_count("Invoices") == 3


def test_delete_related_records_cascades(sales):
    sales('Go to Layout [ "Invoices" ]\nDelete Record/Request [ With dialog: Off ]\n')
    # Invoice 10 is gone and so are its two line items (the relationship deletes them); nothing else.
    assert [r for (r,) in sales.db.conn.execute("SELECT InvoiceID FROM LineItems ORDER BY rowid")] == ["11", "12"]
    assert sales.db.total_count("Customers") == 3


def test_found_count_is_the_layout_s_not_the_related_count(sales):
    out = sales('Go to Layout [ "Customers" ]\n' + show('Get ( FoundCount ) & " " & Count ( Invoices::ID )'))
    assert out == ["3 2"]


# -- fmscript db ---------------------------------------------------------------------------------------------------

def fm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fmscript", *args], capture_output=True, text=True, cwd=cwd)


def test_db_commands_build_and_show_the_graph(tmp_path):
    db = str(tmp_path / "cli.sqlite")
    assert fm("db", "create-table", "-f", db, "Customers", "ID:number", "Name").returncode == 0
    assert fm("db", "create-table", "-f", db, "Invoices", "ID:number", "CustomerID:number", "Date:date").returncode == 0
    assert fm("db", "occurrence", "-f", db, "Big Customers", "--table", "Customers").returncode == 0
    r = fm("db", "relate", "-f", db, "Customers::ID = Invoices::CustomerID", "--allow-creation", "Invoices",
           "--sort", "Invoices::Date descending")
    assert r.returncode == 0, r.stderr
    assert fm("db", "relate", "-f", db, "Big Customers::ID = Invoices::CustomerID").returncode == 0
    r = fm("db", "relate", "-f", db, "Customers::ID = Big Customers::ID")
    assert r.returncode != 0 and "error [1708]" in r.stderr and "more than one relational path" in r.stderr
    assert "Traceback" not in r.stderr
    r = fm("db", "relate", "-f", db, "Customers::Nope = Invoices::CustomerID")
    assert "error [102]" in r.stderr and "Traceback" not in r.stderr
    r = fm("db", "portal", "-f", db, "Customers", "Invoices", "--name", "Orders")
    assert r.returncode == 0, r.stderr
    text = fm("db", "show-graph", "-f", db).stdout
    assert "occurrence Big Customers (Customers)" in text
    assert "relationship Customers — Invoices: Customers::ID = Invoices::CustomerID" in text
    assert "allow creation in Invoices" in text and "sort Invoices: Invoices::Date descending" in text
    assert "portal Orders on layout Customers → Invoices" in text
    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    r = fm("db", "show-graph", "-f", db, "--svg", str(svg), "--png", str(png))
    assert r.returncode == 0, r.stderr
    body = svg.read_text()
    assert body.startswith("<svg") and "Big Customers" in body and "ID = CustomerID" in body
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_relationship_criteria_written_right_to_left_are_turned_round(sales_db):
    db = open_database(sales_db)
    try:
        db.add_occurrence("Big Orders", "Invoices")
        rel = db.relate(["Big Orders::CustomerID = Customers::ID", "Customers::ID < Big Orders::ID"])
        assert rel.left == "Big Orders" and [c.op for c in rel.criteria] == ["=", ">"]
    finally:
        db.close()


def test_sqlite_files_stay_readable_without_fmscript(sales_db):
    """The graph is plain tables; another SQLite program reads them (the text indexes need fmtext only to write)."""
    conn = sqlite3.connect(sales_db)
    assert conn.execute("SELECT count(*) FROM fmscript_criteria").fetchone() == (3,)
    conn.close()


# -- finds on related fields ---------------------------------------------------------------------------------------

def test_find_on_a_related_field_finds_records_with_a_matching_related_record(sales):
    out = sales('Go to Layout [ "Customers" ]\nEnter Find Mode [ Pause: Off ]\n'
                'Set Field [ Invoices::Status ; "open" ]\n' + show('Invoices::Status')
                + 'Perform Find [ ]\n' + show('Get ( FoundCount ) & " " & Customers::Name')
                + 'Enter Find Mode [ Pause: Off ]\nSet Field [ LineItems::Product ; "gear" ]\n'
                'Set Field [ Customers::City ; "Paris" ]\nPerform Find [ ]\n' + show('Get ( FoundCount ) & Customers::Name')
                + 'Perform Find [ Restore ; "Invoices::Status: ==paid" ]\n' + show('Get ( FoundCount ) & Customers::Name')
                + 'Perform Find [ Restore ; "Customers::Name: acme¶Customers::Name: globex¶Omit LineItems::Qty: >3" ]\n'
                + show('Get ( FoundCount ) & Customers::Name'))
    # Acme and Globex have open invoices; Globex (Paris) has a Gear line (two hops); Acme's invoice 10 is paid;
    # Globex has a line of 4: omitted.  Set Field in find mode wrote a criterion, not a record.
    assert out == ["open", "2 Acme", "1Globex", "1Acme", "1Acme"]
    assert sales.db.conn.execute("SELECT count(*) FROM Invoices WHERE Status = 'open'").fetchone() == (2,)


def test_find_on_a_related_number_field_uses_sql_or_fm_match_alike(sales):
    out = sales('Go to Layout [ "Customers" ]\nPerform Find [ Restore ; "LineItems::Price: 3...10.5" ]\n'
                + show('Get ( FoundCount )') + 'Perform Find [ Restore ; "LineItems::Price: >10" ]\n'
                + show('Get ( FoundCount ) & Customers::Name'))
    assert out == ["1", "1Acme"]


def test_unrelate_and_creation_needs_equal_criteria(sales_db):
    db = open_database(sales_db)
    try:
        db.unrelate("LineItems", "Products")
        assert db.graph_path("LineItems", "Products") is None
        with pytest.raises(DataError) as e:
            db.unrelate("LineItems", "Products")
        assert e.value.code == E_RELATIONSHIP_MISSING
        with pytest.raises(DataError) as e:
            db.relate(["LineItems::Qty < Products::Stock"], allow_creation=("Products",))
        assert e.value.code == E_INVALID_PARAMETER and "“=”" in e.value.message
        assert db.graph_path("LineItems", "Products") is None
        db.relate(["LineItems::Product = Products::Name", "LineItems::Qty ≤ Products::Stock"])
        assert db.related_ids(db.graph_path("LineItems", "Products"), 1) == [1]   # Anvil: 2 ≤ 5
        assert db.related_ids(db.graph_path("LineItems", "Products"), 2) == []    # Rope: 1 ≤ 0 fails
    finally:
        db.close()


def test_db_relate_remove(tmp_path):
    path = build_sales(tmp_path / "cli.sqlite")
    r = fm("db", "relate", "-f", str(path), "LineItems::Product = Products::Name", "--remove")
    assert r.returncode == 0, r.stderr
    assert "LineItems — Products" not in fm("db", "show-graph", "-f", str(path)).stdout
