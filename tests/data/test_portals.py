"""Portals, Go to Related Record, and the related-table variants of Fine-Tune Model and Save Records as JSONL."""
from __future__ import annotations

import json

import pytest

from fmscript.ai.accounts import Provider
from fmscript.errors import E_RECORD_MISSING, FMScriptError
from fmscript.interpreter import Interpreter

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


# -- portals ----------------------------------------------------------------------------------------------------

def test_portal_rows_read_their_own_record(sales):
    out = sales('Go to Layout [ "Invoices" ]\n' + show('Get ( PortalRowNumber ) & LineItems::Product')
                + 'Go to Portal Row [ Select ; First ]\n' + show('Get ( PortalRowNumber ) & LineItems::Product')
                + 'Go to Portal Row [ Next ]\n' + show('Get ( ActivePortalRowNumber ) & LineItems::Product & '
                                                       '" " & Count ( LineItems::Product )')
                + 'Go to Portal Row [ By Calculation: 1 ]\n' + show('LineItems::Product')
                + 'Go to Record/Request/Page [ Next ]\n' + show('Get ( PortalRowNumber ) & LineItems::Product'))
    # Outside a portal row: the first related record; moving to another record leaves the portal.
    assert out == ["0Anvil", "1Anvil", "2Rope 2", "Anvil", "0Anvil"]


def test_go_to_portal_row_past_the_end_sets_101_and_exit_after_last_ends_a_loop(sales):
    out = sales('Go to Layout [ "Invoices" ]\nGo to Record/Request/Page [ Last ]\n'
                'Go to Portal Row [ Select ; First ]\nGo to Portal Row [ Previous ]\n'
                + show('Get ( LastError ) & " " & Get ( PortalRowNumber )')
                )
    assert out == ["101 1"]


def test_a_loop_over_portal_rows(sales):
    out = sales('Go to Layout [ "Invoices" ]\nGo to Portal Row [ Select ; First ]\nSet Variable [ $t ; 0 ]\n'
                'Loop\n  Set Variable [ $t ; $t + LineItems::Qty * LineItems::Price ]\n'
                '  Go to Portal Row [ Select ; Next ; Exit after last ]\nEnd Loop\n' + show('$t'))
    assert out == ["24"]  # 2 × 10.5 + 1 × 3


def test_creating_related_records_through_the_portal_s_last_row(sales):
    out = sales('Go to Layout [ "Invoices" ]\nGo to Record/Request/Page [ Last ]\n'
                'Go to Portal Row [ Select ; Last ]\n' + show('Get ( PortalRowNumber ) & "[" & LineItems::Product & "]"')
                + 'Set Field [ LineItems::Product ; "Rope" ]\nSet Field [ LineItems::Qty ; 3 ]\n'
                + show('Get ( PortalRowNumber ) & " " & Count ( LineItems::Product ) & " " & Sum ( LineItems::Qty )')
                + 'Commit Records/Requests\n')
    # Invoice 12 has one line: row 2 is the empty row; Set Field there creates the line, which becomes row 2.
    assert out == ["2[]", "2 2 7"]
    assert sales.db.conn.execute("SELECT InvoiceID, Product, Qty FROM LineItems WHERE rowid = 5").fetchone() == \
        ("12", "Rope", "3")


def test_no_creation_row_without_allow_creation(sales_db, tmp_path):
    from fmscript.data import open_database
    db = open_database(sales_db)
    db.add_portal("LineItems", "Products")
    db.close()
    out = Runner(sales_db, base_dir=tmp_path)('Go to Layout [ "LineItems" ]\nGo to Portal Row [ Select ; Last ]\n'
                                              + show('Get ( PortalRowNumber ) & LineItems::Product & Products::Name'))
    assert out == ["1Anvilanvil"]


def test_delete_portal_row(sales):
    out = sales('Go to Layout [ "Invoices" ]\nGo to Portal Row [ Select ; First ]\nDelete Portal Row [ No dialog ]\n'
                + show('Get ( PortalRowNumber ) & " " & Substitute ( List ( LineItems::Product ) ; ¶ ; "," )'))
    assert out == ["0 Rope"]
    with pytest.raises(FMScriptError) as e:
        sales('Go to Layout [ "Invoices" ]\nDelete Portal Row [ No dialog ]\n')
    assert e.value.code == E_RECORD_MISSING
    assert sales.db.total_count("LineItems") == 3


def test_portal_steps_in_zh_hans(sales):
    out = sales('转到布局 [ "Invoices" ]\n转到入口行 [ 选择 ; 最后一个 ]\n'
                '显示自定义对话框 [ "x" ; Get ( 入口行号 ) & LineItems::Product ]\n转到入口行 [ 选择 ; 第一个 ]\n'
                '删除入口行 [ 无对话框 ]\n显示自定义对话框 [ "x" ; Count ( LineItems::Product ) ]\n')
    assert out == ["3", "1"]  # row 3 is the empty creation row after the invoice's two lines


def sorted_portal(sales_db, **kw):
    """Invoice 10 gets two more lines (creation order Anvil 2, Rope 1, Gear 5, Bolt 3) and a second portal."""
    from fmscript.data import open_database
    db = open_database(sales_db)
    db.conn.executemany('INSERT INTO "LineItems" VALUES (?, ?, ?, ?)', [(10, "Gear", 5, "2.25"), (10, "Bolt", 3, "1")])
    db.add_layout("Invoice Lines", "Invoices")  # a second layout of invoices, whose first portal is "Sorted"
    db.add_portal("Invoice Lines", "LineItems", "Sorted", **kw)
    db.close()


def rows_of(portal: str) -> str:
    return ('Go to Portal Row [ Select ; First ]\nSet Variable [ $r ; "" ]\nLoop\n'
            '  Set Variable [ $r ; $r & Get ( PortalRowNumber ) & LineItems::Product & "," ]\n'
            '  Go to Portal Row [ Select ; Next ; Exit after last ]\nEnd Loop\n' + show("$r"))


def test_portal_filter_and_sort_give_the_rows_and_their_numbers(sales_db, tmp_path):
    # The filter is evaluated per related record with the layout's record current: Qty ≥ Invoices::ID - 8.
    sorted_portal(sales_db, filter="LineItems::Qty ≥ Invoices::ID - 8", sort="LineItems::Qty descending")
    run = Runner(sales_db, base_dir=tmp_path)
    out = run('Go to Layout [ "Invoice Lines" ]\n' + rows_of("Sorted")
              + 'Go to Portal Row [ Select ; By Calculation: 2 ]\n'
              + show('Get ( PortalRowNumber ) & LineItems::Product & " " & Count ( LineItems::Product )')
              + 'Go to Record/Request/Page [ Next ]\nSet Error Capture [ On ]\nGo to Portal Row [ Select ; First ]\n'
              + show('Get ( LastError ) & " " & Get ( PortalRowNumber )'))
    # Invoice 10: Rope (Qty 1) is filtered out, the rest by Qty descending; aggregates still see every related
    # record (4), as in FileMaker.  Invoice 11 (ID 11: Qty ≥ 3) has no row but the creation row, row 1.
    # Row 4 is the empty row that creates a line (the relationship allows creation).
    assert out == ["1Gear,2Bolt,3Anvil,4,", "2Bolt 4", "0 1"]


def test_the_unfiltered_portal_keeps_the_relationship_s_order(sales_db, tmp_path):
    sorted_portal(sales_db)
    out = Runner(sales_db, base_dir=tmp_path)('Go to Layout [ "Invoices" ]\n' + rows_of("Lines"))
    assert out == ["1Anvil,2Rope,3Gear,4Bolt,5,"]


def test_refresh_portal_works_the_rows_out_again(sales_db, tmp_path):
    sorted_portal(sales_db, filter='LineItems::Product ≠ "Rope"', sort="LineItems::Qty descending")
    run = Runner(sales_db, base_dir=tmp_path)
    out = run('Go to Layout [ "Invoice Lines" ]\nGo to Portal Row [ Select ; By Calculation: 3 ]\n'  # Anvil (Qty 2)
              'Set Field [ LineItems::Qty ; 9 ]\n' + show('Get ( PortalRowNumber ) & LineItems::Product')
              + 'Refresh Portal [ Object Name: "Sorted" ]\n' + show('Get ( PortalRowNumber ) & LineItems::Product')
              + 'Set Field [ LineItems::Product ; "Rope" ]\nRefresh Portal\n' + show('Get ( PortalRowNumber )'))
    # Until the refresh the row keeps its place; then it follows its record to the top; filtered out, no row.
    assert out == ["3Anvil", "1Anvil", "0"]


def test_delete_portal_row_needs_allow_deletion(sales_db, tmp_path):
    from fmscript.errors import E_RECORD_ACCESS_DENIED
    sorted_portal(sales_db)  # "Sorted": FileMaker's default, deletion not allowed
    run = Runner(sales_db, base_dir=tmp_path)
    out = run('Go to Layout [ "Invoice Lines" ]\nSet Error Capture [ On ]\n'
              'Go to Portal Row [ Select ; First ]\nDelete Portal Row [ No dialog ]\n'
              + show('Get ( LastError ) & " " & Count ( LineItems::Product )'))
    assert out == [f"{E_RECORD_ACCESS_DENIED} 4"]
    with pytest.raises(FMScriptError) as e:
        run('Go to Layout [ "Invoice Lines" ]\n'
            'Go to Portal Row [ Select ; First ]\nDelete Portal Row [ No dialog ]\n')
    assert e.value.code == E_RECORD_ACCESS_DENIED and "does not allow deletion" in e.value.message
    assert run.db.total_count("LineItems") == 6


def test_portal_options_are_kept_and_checked(sales_db, tmp_path):
    import subprocess
    import sys
    from fmscript.data import open_database
    from fmscript.errors import E_FIELD_MISSING
    cli = [sys.executable, "-P", "-m", "fmscript", "db", "portal", "-f", str(sales_db), "Invoices", "LineItems",
           "--name", "Big", "--filter", "LineItems::Qty > 1", "--sort", "LineItems::Product descending",
           "--allow-deletion"]
    assert subprocess.run(cli, capture_output=True, text=True).returncode == 0
    bad = subprocess.run(cli[:-5] + ["--filter", "LineItems::Qty >"], capture_output=True, text=True)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "not valid" in bad.stderr
    db = open_database(sales_db)
    p = next(p for p in db.portals("Invoices") if p.name == "Big")
    assert (p.filter, p.sort, p.allow_delete) == ("LineItems::Qty > 1", "LineItems::Product descending", True)
    assert "filter: LineItems::Qty > 1" in db.graph_text()
    with pytest.raises(FMScriptError) as e:
        db.add_portal("Invoices", "LineItems", "X", sort="Customers::Name")
    assert e.value.code == E_FIELD_MISSING
    db.close()


def test_an_older_file_s_portals_keep_deleting(tmp_path):
    """A file made before portal options (graph version 1) gains the columns; its portals keep the rule they
    had then (Delete Portal Row may delete)."""
    from fmscript.data import open_database
    path = build_sales(tmp_path / "old.sqlite")
    con = open_database(path).conn  # fmscript's connection: it has the collations the file's indexes use
    con.executescript("CREATE TABLE p AS SELECT layout, object_name, occurrence, position FROM fmscript_portals;"
                      "DROP TABLE fmscript_portals; ALTER TABLE p RENAME TO fmscript_portals;"
                      "UPDATE fmscript_meta SET value = '1' WHERE key = 'graph_version'")
    con.commit()
    con.close()
    db = open_database(path)
    assert db.portals("Invoices")[0].allow_delete is True
    db.add_portal("Invoices", "LineItems", "New")
    assert [p.allow_delete for p in db.portals("Invoices")] == [True, False]
    db.close()


# -- Go to Related Record ---------------------------------------------------------------------------------------

def test_go_to_related_record_show_only_related(sales):
    out = sales('Go to Layout [ "Customers" ]\n'
                'Go to Related Record [ Show only related records ; From table: "Invoices" ; '
                'Using layout: "Invoices" (Invoices) ]\n'
                + show('Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & Invoices::ID & " " & Get ( LastError )'))
    assert out == ["Invoices 2 11 0"]  # in the relationship's order: newest first


def test_go_to_related_record_match_all_records_in_found_set(sales):
    out = sales('Go to Layout [ "Customers" ]\n'
                'Go to Related Record [ Show only related records ; Match all records in current found set ; '
                'From table: "LineItems" ; Using layout: "LineItems" ]\n'
                + show('Get ( FoundCount ) & " " & Substitute ( List ( LineItems::Product ) ; ¶ ; "," )'))
    assert out[0].startswith("4 ")


def test_go_to_related_record_without_show_only_keeps_all_records(sales):
    out = sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ 2 ]\n'
                'Go to Related Record [ From table: "Invoices" ; Using layout: "Invoices" ; New window ]\n'
                + show('Get ( FoundCount ) & " " & Get ( RecordNumber ) & " " & Invoices::ID'))
    assert out == ["3 3 12"]


def test_go_to_related_record_with_none_related_is_101_and_stays(sales):
    out = sales('Go to Layout [ "Customers" ]\nGo to Record/Request/Page [ Last ]\n'
                'Go to Related Record [ Show only related records ; From table: "Invoices" ; Using layout: "Invoices" ]\n'
                + show('Get ( LastError ) & " " & Get ( LayoutName ) & " " & Customers::Name'))
    assert out == ["101 Customers Initech"]


def test_go_to_related_record_from_a_portal_row(sales):
    out = sales('Go to Layout [ "Invoices" ]\nGo to Portal Row [ Select ; By Calculation: 2 ]\n'
                'Go to Related Record [ Show only related records ; From table: "LineItems" ; Using layout: "LineItems" ]\n'
                + show('Get ( FoundCount ) & LineItems::Product'))
    assert out == ["1Rope"]


def test_go_to_related_record_in_zh_hans(sales):
    out = sales('转到布局 [ "Customers" ]\n转到相关记录 [ 仅显示相关记录 ; 从表: "Invoices" ; 使用布局: "Invoices" ]\n'
                '显示自定义对话框 [ "x" ; Get ( 查找个数 ) ]\n')
    assert out == ["2"]


# -- the related-table variants of Fine-Tune Model and Save Records as JSONL -------------------------------------

class Recorder(Provider):
    provider_name = "Recorder"
    seen: list[str] = []

    def __init__(self, account):
        self.account = account

    def fine_tune(self, base_model, training_path, params=None, training_file_name=None, on_warning=None):
        with open(training_path, encoding="utf-8") as fh:
            Recorder.seen.append(fh.read())
        return {"result": {"id": "job-1", "status": "queued"}}


def test_fine_tune_from_a_related_table_sends_the_related_records(sales_db, tmp_path):
    fm = Interpreter(file=sales_db, on_dialog=lambda t, m: None, base_dir=tmp_path)
    fm.register_provider("Recorder", Recorder)
    Recorder.seen.clear()
    fm.run_text('Configure AI Account [ Account Name: "r" ; Model Provider: Recorder ]\n'
                'Go to Layout [ "Invoices" ]\n'
                'Fine-Tune Model [ Account Name: "r" ; Base Model: "m" ; Training Data: Table ; "LineItems" ; '
                'Completion Field: LineItems::Product ; Response Target: $job ]\n')
    rows = [json.loads(x) for x in Recorder.seen[0].splitlines()]
    # Invoice 10's two line items (not the four of the table), each without the completion field in the prompt.
    assert [r["messages"][1]["content"] for r in rows] == ["Anvil", "Rope"]
    assert rows[0]["messages"][0]["content"] == "InvoiceID: 10\nQty: 2\nPrice: 10.5"


def test_fine_tune_from_the_layout_s_own_table_still_sends_the_found_set(sales_db, tmp_path):
    fm = Interpreter(file=sales_db, on_dialog=lambda t, m: None, base_dir=tmp_path)
    fm.register_provider("Recorder", Recorder)
    Recorder.seen.clear()
    fm.run_text('Configure AI Account [ Account Name: "r" ; Model Provider: Recorder ]\nGo to Layout [ "LineItems" ]\n'
                'Fine-Tune Model [ Account Name: "r" ; Base Model: "m" ; Training Data: Table ; "LineItems" ; '
                'Completion Field: LineItems::Product ]\n')
    assert len(Recorder.seen[0].splitlines()) == 4


def test_save_records_as_jsonl_of_a_related_table(sales):
    sales('Go to Layout [ "Invoices" ]\n'
          'Save Records as JSONL [ Format for fine-tuning: On ; Table: LineItems ; User Prompt: "Price of " & '
          'LineItems::Product ; Assistant Prompt: LineItems::Price ; "rel.jsonl" ]\n'
          'Save Records as JSONL [ Table: LineItems ; "plain.jsonl" ]\n')
    base = sales.fm.session.base_dir
    rows = [json.loads(x) for x in (base / "rel.jsonl").read_text().splitlines()]
    assert [[m["content"] for m in r["messages"]] for r in rows] == [["Price of Anvil", "10.5"], ["Price of Rope", "3"]]
    plain = [json.loads(x) for x in (base / "plain.jsonl").read_text().splitlines()]
    assert plain == [{"InvoiceID": 10, "Product": "Anvil", "Qty": 2, "Price": 10.5},
                     {"InvoiceID": 10, "Product": "Rope", "Qty": 1, "Price": 3}]
