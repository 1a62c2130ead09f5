"""Teach the tiny chat model a few (schema + question → SQL) and (fields + question → find request) pairs with
Fine-Tune Model, then ask it through Perform SQL Query / Find by Natural Language on a real SQLite file.

The training file is built with the same prompt builders the steps use (fmscript.ai.nlquery), so the tuned model
sees at run time exactly the prompt it learnt (each pair twice: the engine holds some examples out
for validation).  Slow: a real LoRA job on the Local engine.
"""
from __future__ import annotations

import json

import pytest

from fmscript.ai import nlquery
from fmscript.interpreter import Interpreter

from .test_nl_steps import SHOP, shop

LEARN = {"max_steps": 100, "learning_rate": "3e-3", "batch_size": 4, "steps_per_report": 50,
         "fine_tuned_model_name": "shop sql"}


def training_file(path, db) -> None:
    ddl = nlquery.table_ddl(db, ["Products"])
    fields = nlquery.fields_on_layout(db, "Products")["fields"]
    sql_t = nlquery.template_for(None, "", "SQL Query")
    find_t = nlquery.template_for(None, "", "Find Request")
    rows = [nlquery.sql_messages(sql_t, ddl, q) + [{"role": "assistant", "content": a}] for q, a in SHOP["sql"]]
    rows += [nlquery.find_messages(find_t, fields, q) + [{"role": "assistant", "content": a}] for q, a in SHOP["find"]]
    path.write_text("".join(json.dumps({"messages": r}, ensure_ascii=False) + "\n" for r in rows * 2),
                    encoding="utf-8")


@pytest.mark.slow
def test_tuned_tiny_model_answers_sql_and_finds_from_a_real_file(home, tmp_path):
    from fmscript.ai.tinymodel import create_tiny
    create_tiny("fmscript/tiny-chat", home=home)
    db_path = shop(tmp_path / "shop.sqlite")
    fm = Interpreter(file=db_path, on_dialog=lambda t, m: None)
    training_file(tmp_path / "nl.jsonl", fm.database)
    params = json.dumps({k: str(v) for k, v in LEARN.items()})
    ask = ('Perform SQL Query by Natural Language [ Account Name: "local" ; Model: "fm-mlx-shop-sql" ; '
           'Prompt: "{q}" ; Data Tables: By name ; "Products" ; Action: {action} ; Response Target: ${var} ]\n'
           'Set Variable [ $${var} ; Value: ${var} ]\n')
    fm.run_text(f'''Configure AI Account [ Account Name: "local" ; Model Provider: Local ]
Fine-Tune Model [ Account Name: "local" ; Base Model: "fmscript/tiny-chat" ; Training Data: File ; "filelinux:{tmp_path / 'nl.jsonl'}" ; Response Target: $job ; Fine-Tune Parameters: {json.dumps(params)} ]
Wait for Fine-Tune Job [ Account Name: "local" ; Job ID: JSONGetElement ( $job ; "result.id" ) ; Timeout: 600 ; Response Target: $$done ]
''' + ask.format(q="Which products are red?", action="Query for Data Only", var="red")
        + ask.format(q="How many products are there?", action="Query for Data Only", var="count")
        + ask.format(q="Which products cost more than 20?", action="Get First SQL Only", var="sql")
        + '''Go to Layout [ "Products" ]
Perform Find by Natural Language [ Account Name: "local" ; Model: "fm-mlx-shop-sql" ; Prompt: "cheap things" ; Get: Found Set ]
Set Variable [ $$found ; Value: Get ( FoundCount ) & " " & Products::Name ]
''')
    g = fm.session.globals
    assert json.loads(str(g["$$done"]))["result"]["status"] == "succeeded"
    assert str(g["$$red"]).split("\r") == ["lamp", "desk"]  # the rows of the real file, not the model's text
    assert str(g["$$count"]) == "4"
    assert str(g["$$sql"]) == 'SELECT "Name" FROM "Products" WHERE "Price" > 20'
    assert str(g["$$found"]).split(" ")[0] == "2"
