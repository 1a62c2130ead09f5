"""Issue 15's "done when", end to end: a file with customers → invoices → line items runs one script that
creates related records through portals, totals them through the graph, finds on a related field, goes to
related records, and fine-tunes the Local provider's tiny model from a related table (a real LoRA job: slow)."""
from __future__ import annotations

import json

import pytest

from fmscript.data import open_database
from fmscript.interpreter import Interpreter

from .relfixtures import build_sales

pytestmark = pytest.mark.slow

SCRIPT = '''Configure AI Account [ Account Name: "local" ; Model Provider: Local ]
Go to Layout [ "Customers" ]
Go to Record/Request/Page [ Last ]
# Initech (ID 3) has no invoices: the Customers layout's portal creates one in its empty last row.
Go to Portal Row [ Select ; Last ]
Set Field [ Invoices::ID ; 13 ]
Set Field [ Invoices::Date ; Date ( 4 ; 1 ; 2024 ) ]
Set Field [ Invoices::Status ; "open" ]
Commit Records/Requests
Go to Related Record [ Show only related records ; From table: "Invoices" ; Using layout: "Invoices" (Invoices) ]
Set Variable [ $$related ; Get ( LayoutName ) & " " & Get ( FoundCount ) & " " & Invoices::ID ]
# Four line items through the invoice's Lines portal.
Set Variable [ $items ; "Widget¶Sprocket¶Widget¶Flange" ]
Set Variable [ $i ; 1 ]
Loop
  Exit Loop If [ $i > ValueCount ( $items ) ]
  Go to Portal Row [ Select ; Last ]
  Set Field [ LineItems::Product ; GetValue ( $items ; $i ) ]
  Set Field [ LineItems::Qty ; $i ]
  Set Field [ LineItems::Price ; 2.5 ]
  Commit Records/Requests
  Set Variable [ $i ; $i + 1 ]
End Loop
Go to Layout [ "Customers" ]
Set Variable [ $$totals ; Count ( LineItems::Product ) & " " & Sum ( LineItems::Qty ) & " " & Sum ( LineItems::Line ) & " " & Invoices::Total ]
# Customers with a line item of widgets, two relationships away.
Enter Find Mode [ Pause: Off ]
Set Field [ LineItems::Product ; "==Widget" ]
Perform Find [ ]
Set Variable [ $$found ; Get ( FoundCount ) & " " & Customers::Name ]
Go to Related Record [ Show only related records ; From table: "Invoices" ; Using layout: "Invoices" ]
# Fine-tune from the related table: the invoice's four line items, not the table's eight.
Fine-Tune Model [ Account Name: "local" ; Base Model: "fmscript/tiny-chat" ; Training Data: Table ; "LineItems" ; Completion Field: LineItems::Product ; Response Target: $job ; Fine-Tune Parameters: {params} ]
Wait for Fine-Tune Job [ Account Name: "local" ; Job ID: JSONGetElement ( $job ; "result.id" ) ; Timeout: 600 ; Response Target: $$done ]
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "fmhome"
    monkeypatch.setenv("FMSCRIPT_HOME", str(h))
    monkeypatch.setenv("FMSCRIPT_WORKER_IDLE", "2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("FMSCRIPT_BLAS", raising=False)
    monkeypatch.delenv("FMSCRIPT_MEMORY_LIMIT", raising=False)
    yield h
    if (h / "worker.lock").exists():
        import os
        import signal
        import time

        from fmscript.ai import worker
        pid = worker.worker_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while worker.worker_running() and time.monotonic() < deadline:
            time.sleep(0.1)


def test_customers_invoices_line_items_end_to_end(home, tmp_path):
    from fmscript.ai.jobs import JobStore
    from fmscript.ai.tinymodel import create_tiny
    create_tiny("fmscript/tiny-chat", home=home)
    path = build_sales(tmp_path / "sales.sqlite")
    db = open_database(path)
    db.add_portal("Customers", "Invoices", "Invoices")
    db.define_field("LineItems", "Line", {"kind": "calculation", "calc": "Qty * Price"}, ftype="number")
    db.define_field("Invoices", "Total", {"kind": "calculation", "calc": "Sum ( LineItems::Line )",
                                          "stored": False}, ftype="number")
    db.close()
    params = json.dumps({"max_steps": "8", "learning_rate": "3e-3", "batch_size": "2", "steps_per_report": "4",
                         "fine_tuned_model_name": "sales lines"})
    fm = Interpreter(file=path, on_dialog=lambda t, m: None, base_dir=tmp_path)
    fm.run_text(SCRIPT.replace("{params}", json.dumps(params)))
    g = fm.session.globals
    assert str(g["$$related"]) == "Invoices 1 13"
    # 4 lines, Qty 1+2+3+4, Line 2.5 × 10; the invoice's unstored total is the same sum through the graph.
    assert str(g["$$totals"]) == "4 10 25 25"
    assert str(g["$$found"]) == "1 Initech"
    done = json.loads(str(g["$$done"]))
    assert done["result"]["status"] == "succeeded", done
    store = JobStore()
    job = store.get_job(done["result"]["id"])
    sent = [json.loads(x) for x in open(store.get_file(job["training_file"])["path"], encoding="utf-8")]
    assert [r["messages"][1]["content"] for r in sent] == ["Widget", "Sprocket", "Widget", "Flange"]
    assert sent[0]["messages"][0]["content"] == "InvoiceID: 13\nQty: 1\nPrice: 2.5\nLine: 2.5"
    rows = open_database(path).conn.execute("SELECT InvoiceID, Product FROM LineItems WHERE InvoiceID = 13").fetchall()
    assert len(rows) == 4
