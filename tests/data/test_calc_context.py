"""A field calculation follows relationships from its own record, as FileMaker evaluates a calculation field from
its context, not from the record the layout shows: ``Sum ( LineItems::Qty )`` in an invoice's field is that
invoice's, whichever record is current; and a related unstored calculation is worked out in each related record
(``Sum ( LineItems::Amount )`` where Amount is ``Qty * Price``)."""
from __future__ import annotations

import pytest

from fmscript.interpreter import Interpreter

from .conftest import Runner
from .relfixtures import build_sales


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


@pytest.fixture
def sales(tmp_path):
    path = build_sales(tmp_path / "sales.sqlite")
    fm = Interpreter(file=path)
    db = fm.session.data
    db.attach(fm.session)

    def calc(table, name, text, ftype="number"):
        db.define_field(table, name, {"kind": "calculation", "calc": text, "stored": False}, ftype=ftype)
    calc("Invoices", "Pieces", "Sum ( LineItems::Qty )")
    calc("LineItems", "Amount", "Qty * Price")
    calc("Customers", "cInvoiceIDs", "List ( Invoices::ID )", ftype="text")
    db.add_occurrence("Listed Lines", "LineItems")
    db.relate(["Customers::cInvoiceIDs = Listed Lines::InvoiceID"])
    db.close()
    return Runner(path, base_dir=tmp_path)


def test_a_find_on_a_calculation_of_related_values_works_it_out_per_record(sales):
    out = sales('Go to Layout [ "Invoices" ]\nEnter Find Mode [ Pause: Off ]\nSet Field [ Invoices::Pieces ; ">1" ]\n'
                'Perform Find\n' + show('Get ( FoundCount ) & " " & Invoices::ID & " " & Invoices::Pieces'))
    # Invoice 10 holds 3 pieces, 11 one, 12 four: each invoice's own lines, not the current record's.
    assert out == ["2 10 3"]


def test_aggregates_of_a_related_unstored_calculation(sales):
    out = sales('Go to Layout [ "Invoices" ]\n'
                + show('Sum ( LineItems::Amount ) & " " & Count ( LineItems::Amount ) & " " & '
                       'Substitute ( List ( LineItems::Amount ) ; ¶ ; "," ) & " " & GetNthRecord ( LineItems::Amount ; 2 )'
                       ' & " " & Max ( LineItems::Amount )'))
    # Invoice 10: 2 × 10.5 and 1 × 3.
    assert out == ["24 2 21,3 3 21"]


def test_a_key_listing_related_ids_is_worked_out_for_each_record_of_the_found_set(sales):
    out = sales('Go to Layout [ "Customers" ]\n' + show('Sum ( Listed Lines::Qty ) & " " & Customers::cInvoiceIDs')
                + 'Go to Record/Request/Page [ 2 ]\n' + show('Count ( Listed Lines::Qty )')
                + 'Show All Records\nGo to Related Record [ Show only related records ; Match all records in current '
                'found set ; From table: "Listed Lines" ; Using layout: "LineItems" ]\n' + show('Get ( FoundCount )'))
    # Customer 1's key is its invoices 11 and 10 (newest first), whose lines hold 1 + 2 + 1 pieces; customer 2's
    # is 12 (one line).  From the found set, each customer's own key: all four lines.
    assert out == ["4 11\r10", "1", "4"]
