"""Lookups through the relationship graph (fmscript/data/fielddefs.py): "Starting with table", "Lookup from
related table", "If no exact match" (don't copy, next lower, next higher, a constant), "Don't copy contents if
empty", the relationship's sort order, several hops, records created through a portal, Relookup Field
Contents, bad definitions, and `fmscript db auto-enter --lookup`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fmscript.data import open_database
from fmscript.errors import E_FIELD_MISSING, E_RELATIONSHIP_MISSING, E_TABLE_MISSING, FMScriptError

from .conftest import Runner
from .relfixtures import build_sales


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


@pytest.fixture
def sales_db(tmp_path):
    path = build_sales(tmp_path / "sales.sqlite")
    db = open_database(path)
    db.conn.execute("INSERT INTO Customers VALUES (5, 'Umbrella', '')")  # a customer without a city
    db.conn.commit()
    db.close()
    return path


def define(path, table: str, field: str, lookup: dict, ftype: str = "text") -> None:
    db = open_database(path)
    db.define_field(table, field, {"auto": {"lookup": lookup}}, ftype=ftype)
    db.close()


def invoice_with(customer_ids: list[str]) -> str:
    return 'Go to Layout [ "Invoices" ]\nNew Record/Request\n' + "".join(
        f"Set Field [ Invoices::CustomerID ; {c} ]\n" + show('Invoices::Name & "|" & Invoices::City')
        for c in customer_ids)


def test_a_lookup_copies_from_the_first_related_record_and_keeps_its_value_without_a_match(sales_db, tmp_path):
    define(sales_db, "Invoices", "Name", {"occurrence": "Customers", "copy": "Name"})
    define(sales_db, "Invoices", "City", {"occurrence": "Customers", "copy": "City", "no_match": "constant",
                                          "constant": "n/a"})
    out = Runner(sales_db, base_dir=tmp_path)(invoice_with(["2", "99", "1"]))
    # 99 matches no customer: Name keeps Globex ("do not copy"), City takes the constant.
    assert out == ["Globex|Paris", "Globex|n/a", "Acme|Boston"]


def test_next_lower_and_next_higher_values(sales_db, tmp_path):
    define(sales_db, "Invoices", "Name", {"occurrence": "Customers", "copy": "Name", "no_match": "lower"})
    define(sales_db, "Invoices", "City", {"occurrence": "Customers", "copy": "City", "no_match": "higher"})
    out = Runner(sales_db, base_dir=tmp_path)(invoice_with(["4", "0"]))
    # 4: the next lower ID is 3 (Initech), the next higher 5 (Umbrella, whose empty city is not copied);
    # 0: nothing lower (Name keeps Initech), the next higher is 1 (Boston).
    assert out == ["Initech|", "Initech|Boston"]


def test_don_t_copy_contents_if_empty_or_copy_them(sales_db, tmp_path):
    define(sales_db, "Invoices", "Name", {"occurrence": "Customers", "copy": "City"})
    define(sales_db, "Invoices", "City", {"occurrence": "Customers", "copy": "City", "skip_empty": False})
    out = Runner(sales_db, base_dir=tmp_path)(invoice_with(["2", "5"]))
    assert out == ["Paris|Paris", "Paris|"]


def test_the_relationship_s_sort_order_picks_the_record_and_the_start_can_be_either_side(sales_db, tmp_path):
    # From Customers the first related invoice is the newest (the relationship sorts by date descending).
    define(sales_db, "Customers", "LastStatus", {"start": "Customers", "occurrence": "Invoices", "copy": "Date"},
           ftype="date")
    out = Runner(sales_db, base_dir=tmp_path)('Go to Layout [ "Customers" ]\nNew Record/Request\n'
                                              'Set Field [ Customers::ID ; 1 ]\n' + show("Customers::LastStatus"))
    assert out == ["3/1/2024"]


def test_a_lookup_through_two_hops_and_a_record_created_through_a_portal(sales_db, tmp_path):
    define(sales_db, "LineItems", "Customer", {"occurrence": "Customers", "copy": "Name"})
    run = Runner(sales_db, base_dir=tmp_path)
    out = run('Go to Layout [ "Invoices" ]\nGo to Record/Request/Page [ Last ]\n'    # invoice 12, Globex's
              'Go to Portal Row [ Select ; Last ]\nSet Field [ LineItems::Product ; "Rope" ]\n'
              + show("LineItems::Customer") + 'Commit Records/Requests\n'
              'Go to Layout [ "LineItems" ]\nGo to Record/Request/Page [ First ]\n'
              'Set Field [ LineItems::InvoiceID ; 11 ]\n' + show("LineItems::Customer"))
    # The new line got InvoiceID 12 from the relationship, so its lookup (LineItems → Invoices → Customers)
    # ran at creation; changing the first relationship's match field looks up again.
    assert out == ["Globex", "Acme"]


def test_a_lookup_whose_match_field_is_a_global_runs_when_a_record_is_created(sales_db, tmp_path):
    db = open_database(sales_db)
    db.add_field("Invoices", "gCustomer", "number", is_global=True)
    db.add_occurrence("Chosen", "Customers")
    db.relate(["Invoices::gCustomer = Chosen::ID"])
    db.close()
    define(sales_db, "Invoices", "Picked", {"occurrence": "Chosen", "copy": "Name"})
    out = Runner(sales_db, base_dir=tmp_path)(
        'Go to Layout [ "Invoices" ]\nSet Field [ Invoices::gCustomer ; 2 ]\nNew Record/Request\n'
        + show('"[" & Invoices::Picked & "]"') + 'Set Field [ Invoices::gCustomer ; 3 ]\n'
        + show('"[" & Invoices::Picked & "]"') + 'New Record/Request\n' + show('"[" & Invoices::Picked & "]"'))
    # The global is not in the record's row, but it is the relationship's key: each new record looks it up
    # (Globex, then Initech); setting the global looks nothing up in a record that exists (it is no field of it).
    assert out == ["[Globex]", "[Globex]", "[Initech]"]


def test_relookup_field_contents_follows_the_graph(sales_db, tmp_path):
    define(sales_db, "Invoices", "Name", {"occurrence": "Customers", "copy": "Name"})
    run = Runner(sales_db, base_dir=tmp_path)
    run('Go to Layout [ "Invoices" ]\nShow All Records\n'
        'Relookup Field Contents [ With dialog: Off ; Invoices::CustomerID ]\n')
    assert run.db.conn.execute("SELECT ID, Name FROM Invoices ORDER BY ID").fetchall() == \
        [("10", "Acme"), ("11", "Acme"), ("12", "Globex")]
    run.db.conn.execute("UPDATE Customers SET Name = 'Acme Corp' WHERE ID = 1")
    run('Go to Layout [ "Invoices" ]\nShow All Records\nSet Field [ Invoices::Status ; "x" ]\n' + show("Invoices::Name")
        + 'Relookup Field Contents [ With dialog: Off ; Invoices::CustomerID ]\n')
    # Changing another field looks nothing up; Relookup copies again into every record of the found set.
    assert run.out == ["Acme"]
    assert run.db.conn.execute("SELECT Name FROM Invoices ORDER BY ID").fetchall() == \
        [("Acme Corp",), ("Acme Corp",), ("Globex",)]


@pytest.mark.parametrize("lookup, code, words", [
    ({"occurrence": "Products", "copy": "Name"}, E_RELATIONSHIP_MISSING, "not related"),
    ({"occurrence": "Nowhere", "copy": "Name"}, E_TABLE_MISSING, "does not exist"),
    ({"start": "Customers", "occurrence": "Customers", "copy": "Name"}, E_TABLE_MISSING, "not a table occurrence of"),
    ({"occurrence": "Customers", "copy": "Phone"}, E_FIELD_MISSING, "Customers::Phone"),
])
def test_bad_lookups_are_refused(sales_db, lookup, code, words):
    # Invoices and Products are not related directly, but through LineItems: that path is a relationship,
    # so "Products" is related; use an occurrence on no path instead.
    db = open_database(sales_db)
    if lookup["occurrence"] == "Products":
        db.create_table("Loose", [("Name", "text", False)])
        lookup = dict(lookup, occurrence="Loose")
    with pytest.raises(FMScriptError) as e:
        db.define_field("Invoices", "X", {"auto": {"lookup": lookup}})
    assert e.value.code == code and words in e.value.message
    assert db.field_options("Invoices", "X") is None
    db.close()


def test_db_auto_enter_defines_a_lookup(sales_db):
    base = [sys.executable, "-P", "-m", "fmscript", "db", "auto-enter", "-f", str(sales_db), "Invoices", "Name"]
    r = subprocess.run(base + ["--lookup", "customers::name", "--no-match", "lower"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(base[:-1] + ["City", "--lookup", "Customers::City", "--use", "n/a", "--copy-empty"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = subprocess.run(base + ["--lookup", "Customers"], capture_output=True, text=True)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    shown = subprocess.run([sys.executable, "-P", "-m", "fmscript", "db", "field-options", "-f", str(sales_db),
                            "Invoices", "City"], capture_output=True, text=True).stdout
    db = open_database(sales_db)
    assert db.field_options("Invoices", "Name").auto["lookup"] == {
        "start": "Invoices", "occurrence": "Customers", "copy": "Name", "no_match": "lower", "skip_empty": True}
    assert json.loads(shown)["auto"]["lookup"] == {"start": "Invoices", "occurrence": "Customers", "copy": "City",
                                                   "no_match": "constant", "constant": "n/a", "skip_empty": False}
    db.close()
