"""The natural-language and regression steps and the new AI functions through the Custom provider (the
``openai`` SDK) against the real ``fmscript serve`` on loopback.

The quick test asks the server's untrained tiny model, whose answers are nonsense: each step must carry the
request to the server and back, and refuse the nonsense with its own FileMaker error (not a connection error),
writing nothing.  The slow test teaches the model on the server first and then gets the right rows.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fmscript.ai import nlquery
from fmscript.interpreter import Interpreter

from .harness import BASE, KEY

SHOP = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "nl_shop.json").read_text(encoding="utf-8"))


def shop(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE Products ("Name" TEXT, "Price" INTEGER, "Colour" TEXT)')
    conn.executemany("INSERT INTO Products VALUES (?, ?, ?)", SHOP["products"])
    conn.commit()
    conn.close()
    return path


def account(server) -> str:
    return (f'Configure AI Account [ Account Name: "srv" ; Model Provider: Custom ; Endpoint: "{server.base_url}/" ; '
            f'API key: "{KEY}" ]\nSet Error Capture [ On ]\n')


def test_every_new_step_and_function_goes_through_the_custom_provider(server, tmp_path, remote_env):
    fm = Interpreter(file=shop(tmp_path / "shop.sqlite"), on_dialog=lambda t, m: None)
    before = sqlite3.connect(tmp_path / "shop.sqlite").execute("SELECT * FROM Products").fetchall()
    fm.run_text(account(server) + f'''
Configure Prompt Template [ Template Name: "T" ; Model Provider: Custom ; Template Type: SQL Query ; SQL Prompt: "SQL for :question: on :schema:" ]
Perform SQL Query by Natural Language [ Account Name: "srv" ; Model: "{BASE}" ; Prompt: "How many?" ; Data Tables: By name ; "Products" ; Action: Query for Data Only ; Prompt Template Name: "T" ; Response Target: $$sql ]
Set Variable [ $$sql_err ; Value: Get ( LastError ) ]
Perform SQL Query by Natural Language [ Account Name: "srv" ; Model: "{BASE}" ; Prompt: "How many?" ; Action: Get DDL ; Response Target: $$ddl ]
Go to Layout [ "Products" ]
Perform Find by Natural Language [ Account Name: "srv" ; Model: "{BASE}" ; Prompt: "red things" ; Get: Found Set ]
Set Variable [ $$find_err ; Value: Get ( LastError ) ]
Set Variable [ $$count ; Value: Get ( FoundCount ) ]
Perform SQL Query by Natural Language [ Account Name: "srv" ; Model: "nope/missing" ; Prompt: "How many?" ; Action: Query ; Response Target: $$missing ]
Set Variable [ $$missing_err ; Value: Get ( LastError ) ]
Set Variable [ $$fns ; Value: GetTokenCount ( "Claris FileMaker" ) & "|" & JSONGetElement ( GetFieldsOnLayout ( "" ) ; "layout_name" ) & "|" & Left ( GetTableDDL ( "[\\"Products\\"]" ; 0 ) ; 23 ) ]
''')
    g = fm.session.globals
    # The server answered (nonsense): the step refused it as no SQL / no find request, and changed nothing.
    assert str(g["$$sql_err"]) == "8310" and "$$sql" not in g
    assert str(g["$$find_err"]) == "1630" and str(g["$$count"]) == "4"
    assert str(g["$$missing_err"]) not in ("0", "8310")  # the server's own error for an unknown model came back
    assert g["$$ddl"] == nlquery.table_ddl(fm.database, ["Products"])
    assert str(g["$$fns"]) == '4|Products|CREATE TABLE "Products"'
    assert sqlite3.connect(tmp_path / "shop.sqlite").execute("SELECT * FROM Products").fetchall() == before


@pytest.mark.slow
def test_a_model_taught_on_the_server_answers_with_the_files_rows(drained, tmp_path, remote_env):
    server = drained
    fm = Interpreter(file=shop(tmp_path / "shop.sqlite"), on_dialog=lambda t, m: None)
    ddl = nlquery.table_ddl(fm.database, ["Products"])
    t = nlquery.template_for(None, "", "SQL Query")
    rows = [nlquery.sql_messages(t, ddl, q) + [{"role": "assistant", "content": a}] for q, a in SHOP["sql"]]
    (tmp_path / "nl.jsonl").write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows * 2),
                                       encoding="utf-8")
    params = json.dumps({"max_steps": "100", "learning_rate": "3e-3", "batch_size": "4",
                         "fine_tuned_model_name": "served sql"})
    fm.run_text(account(server) + f'''
Fine-Tune Model [ Account Name: "srv" ; Base Model: "{BASE}" ; Training Data: File ; "filelinux:{tmp_path / 'nl.jsonl'}" ; Response Target: $job ; Fine-Tune Parameters: {json.dumps(params)} ]
Wait for Fine-Tune Job [ Account Name: "srv" ; Job ID: JSONGetElement ( $job ; "result.id" ) ; Timeout: 600 ; Response Target: $$done ]
Perform SQL Query by Natural Language [ Account Name: "srv" ; Model: "fm-mlx-served-sql" ; Prompt: "Which products are red?" ; Data Tables: By name ; "Products" ; Action: Query for Data Only ; Response Target: $$red ]
''')
    g = fm.session.globals
    assert json.loads(str(g["$$done"]))["result"]["status"] == "succeeded"
    assert str(g["$$red"]).split("\r") == ["lamp", "desk"]
