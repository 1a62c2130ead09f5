"""Finds on unstored calculation fields (evaluated in each record, as FileMaker does), also through the graph,
and the refusal of criteria in summary fields (FileMaker takes none)."""
from __future__ import annotations

import pytest

from fmscript.data import open_database
from fmscript.errors import E_FIELD_CANNOT_BE_MODIFIED, FMScriptError

from .conftest import Runner
from .relfixtures import build_sales


@pytest.fixture
def sales(tmp_path):
    path = build_sales(tmp_path / "sales.sqlite")
    db = open_database(path)
    db.define_field("LineItems", "Amount", {"kind": "calculation", "calc": "Qty * Price", "stored": False},
                    ftype="number")
    db.define_field("Invoices", "Label", {"kind": "calculation", "calc": "Upper ( Status )", "stored": False})
    db.define_field("LineItems", "TotalQty", {"kind": "summary", "summary": {"function": "total", "of": "Qty"}},
                    ftype="number")
    db.close()
    return Runner(path, base_dir=tmp_path)


def found(layout: str, field: str, criteria: list[str], shown: str) -> str:
    """A find on ``layout`` with one request per criterion, then the found records' ``shown`` as a list."""
    reqs = "New Record/Request\n".join(f'Set Field [ {field} ; "{c}" ]\n' for c in criteria)
    return (f'Go to Layout [ "{layout}" ]\nSet Error Capture [ On ]\nEnter Find Mode [ Pause: Off ]\n{reqs}'
            'Perform Find [ ]\nSet Variable [ $e ; Get ( LastError ) ]\nSet Variable [ $r ; "" ]\n'
            'Go to Record/Request/Page [ First ]\nLoop\n  Exit Loop If [ Get ( FoundCount ) = 0 ]\n'
            f'  Set Variable [ $r ; $r & {shown} & "," ]\n'
            '  Go to Record/Request/Page [ Next ; Exit after last: On ]\nEnd Loop\n'
            'Show Custom Dialog [ "x" ; $e & "|" & $r ]\n')


def test_a_find_on_an_unstored_calculation_evaluates_it_per_record(sales):
    # Amounts: Anvil 2 × 10.5 = 21, Rope 3, Anvil 10.5, Gear 4 × 2.25 = 9.
    assert sales(found("LineItems", "LineItems::Amount", [">9"], "LineItems::Amount")) == ["0|21,10.5,"]
    assert sales(found("LineItems", "LineItems::Amount", ["3", "9...10"], "LineItems::Product")) == ["0|Rope,Gear,"]
    assert sales(found("Invoices", "Invoices::Label", ["OPEN"], "Invoices::ID")) == ["0|11,12,"]
    assert sales(found("Invoices", "Invoices::Label", ["!"], "Invoices::ID")) == ["0|11,12,"]
    assert sales(found("LineItems", "LineItems::Amount", ["1000"], "LineItems::Amount")) == ["401|"]


def test_an_unstored_criterion_with_stored_ones_in_one_request(sales):
    out = sales('Go to Layout [ "LineItems" ]\nEnter Find Mode [ Pause: Off ]\n'
                'Set Field [ LineItems::Product ; "Anvil" ]\nSet Field [ LineItems::Amount ; "<15" ]\n'
                'Perform Find [ ]\nShow Custom Dialog [ "x" ; Get ( FoundCount ) & " " & LineItems::Amount ]\n'
                'Perform Find [ Restore ; "LineItems::Amount: 21" ]\n'
                'Show Custom Dialog [ "x" ; Get ( FoundCount ) & " " & LineItems::InvoiceID ]\n')
    assert out == ["1 10.5", "1 10"]


def test_a_find_on_a_related_unstored_calculation(sales):
    # Invoices with a line over 20 (only invoice 10); customers with a line item of 9 two hops away (Globex).
    assert sales(found("Invoices", "LineItems::Amount", [">20"], "Invoices::ID")) == ["0|10,"]
    assert sales(found("Customers", "LineItems::Amount", ["9"], "Customers::Name")) == ["0|Globex,"]


def test_a_summary_field_takes_no_criteria(sales):
    with pytest.raises(FMScriptError) as e:
        sales('Go to Layout [ "LineItems" ]\nEnter Find Mode [ Pause: Off ]\nSet Field [ LineItems::TotalQty ; 8 ]\n')
    assert e.value.code == E_FIELD_CANNOT_BE_MODIFIED and "summary field" in e.value.message
    out = sales('Go to Layout [ "LineItems" ]\nSet Error Capture [ On ]\n'
                'Perform Find [ Restore ; "LineItems::TotalQty: 8" ]\n'
                'Show Custom Dialog [ "x" ; Get ( LastError ) & " " & Get ( FoundCount ) ]\n')
    assert out == [f"{E_FIELD_CANNOT_BE_MODIFIED} 4"]
