"""Perform SQL Query / Find by Natural Language, Configure Prompt Template, GetTableDDL, GetFieldsOnLayout and
GetTokenCount on a real SQLite file.

The model here is a provider registered on the interpreter (the embedders' seam) that answers what each test
scripts: random tiny models answer nonsense, and these tests are about what the steps do with an answer, above
all with a bad one (a query that writes, a field not on the layout).  test_nl_trained.py teaches the real tiny
model and test_nl_serve.py goes through ``fmscript serve``.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter


class Scripted:
    """A provider that answers from a list and keeps what it was asked."""

    provider_name = "Scripted"

    def __init__(self, answers):
        self.answers = list(answers)
        self.asked: list[list[dict]] = []

    def chat(self, model, messages, params):
        self.asked.append(messages)
        return self.answers.pop(0)


#: The shop's rows and the pairs the tiny model is taught (shared with tests/server/test_nl_serve.py).
SHOP = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "nl_shop.json").read_text(encoding="utf-8"))


def shop(path):
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE Products ("Name" TEXT, "Price" INTEGER, "Colour" TEXT)')
    conn.executemany("INSERT INTO Products VALUES (?, ?, ?)", SHOP["products"])
    conn.commit()
    conn.close()
    return path


def interpreter(tmp_path, answers):
    fm = Interpreter(file=shop(tmp_path / "shop.sqlite"), on_dialog=lambda t, m: None)
    model = Scripted(answers)
    fm.register_provider("Scripted", lambda acct: model)
    return fm, model


ACCOUNT = 'Configure AI Account [ Account Name: "ai" ; Model Provider: Scripted ]\n'


def sql_step(action: str, extra: str = "") -> str:
    return (ACCOUNT + 'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; '
            f'Prompt: "Which red products cost more than 50?" ; Data Tables: By name ; "Products" ; '
            f'Action: {action} ; Response Target: $$r{extra} ]')


def test_query_for_data_only_runs_the_models_select_with_parameters(tmp_path):
    fm, model = interpreter(tmp_path, ['```sql\nSELECT "Name" FROM "Products" WHERE "Colour" = \'red\' '
                                       'AND "Price" > 50\n```'])
    fm.run_text(sql_step("Query for Data Only"))
    assert fm.get_global("$$r") == "desk"
    system = model.asked[0][0]["content"]
    assert 'CREATE TABLE "Products" (\n"Name" varchar(255),\n"Price" int,\n"Colour" varchar(255)\n);' in system
    assert model.asked[0][1] == {"role": "user", "content": "Which red products cost more than 50?"}


def test_query_answers_in_language_from_the_rows(tmp_path):
    fm, model = interpreter(tmp_path, ['SELECT "Name" FROM "Products" WHERE "Price" > 50', "The desk."])
    fm.run_text(sql_step("Query"))
    assert fm.get_global("$$r") == "The desk."
    second = model.asked[1][0]["content"]
    assert 'SELECT "Name" FROM "Products" WHERE "Price" > 50' in second and "desk" in second


@pytest.mark.parametrize("sql", ['DELETE FROM "Products"', 'UPDATE "Products" SET "Price" = 0',
                                 'SELECT 1; DROP TABLE "Products"',
                                 'WITH x AS (SELECT 1) INSERT INTO "Products" ("Name") VALUES (\'x\')'])
def test_a_generated_query_that_writes_is_refused_and_not_run(tmp_path, sql):
    fm, model = interpreter(tmp_path, [sql])
    with pytest.raises(FMScriptError) as e:
        fm.run_text(sql_step("Query for Data Only"))
    assert e.value.code == 8310 and len(model.asked) == 1  # refused outright, never retried
    rows = sqlite3.connect(tmp_path / "shop.sqlite").execute('SELECT count(*), sum("Price") FROM Products').fetchone()
    assert rows == (4, 157)


def test_a_refused_query_sets_last_error_under_error_capture(tmp_path):
    fm, _ = interpreter(tmp_path, ['DELETE FROM "Products"'])
    fm.run_text("Set Error Capture [ On ]\n" + sql_step("Query for Data Only")
                + "\nSet Variable [ $$e ; Value: Get ( LastError ) ]")
    assert str(fm.get_global("$$e")) == "8310"


def test_sqlite_errors_go_back_to_the_model_and_get_sql_lists_every_query(tmp_path):
    fm, model = interpreter(tmp_path, ['SELECT Nmae FROM "Products"', 'SELECT "Name" FROM "Products" LIMIT 1'])
    fm.run_text(sql_step("Get SQL"))
    assert fm.get_global("$$r") == 'SELECT Nmae FROM "Products"\rSELECT "Name" FROM "Products" LIMIT 1'
    assert "SQLite refused that query" in model.asked[1][-1]["content"]


def test_get_ddl_asks_no_model_and_equals_get_table_ddl(tmp_path):
    fm, model = interpreter(tmp_path, [])
    fm.run_text(sql_step("Get DDL") + '\nSet Variable [ $$d ; Value: GetTableDDL ( "[\\"Products\\"]" ; False ) ]')
    assert fm.get_global("$$r") == fm.get_global("$$d") and fm.get_global("$$r").startswith('CREATE TABLE "Products"')
    assert model.asked == []


def test_get_table_ddl_missing_occurrence(tmp_path):
    fm, _ = interpreter(tmp_path, [])
    fm.run_text('Set Variable [ $$a ; Value: GetTableDDL ( "[\\"Products\\", \\"Nope\\"]" ; True ) ]\n'
                'Set Variable [ $$b ; Value: GetTableDDL ( "[\\"Products\\", \\"Nope\\"]" ; False ) ]')
    assert fm.get_global("$$a").startswith('CREATE TABLE "Products"') and fm.get_global("$$b") == "?"


def test_a_prompt_template_replaces_the_predefined_prompt(tmp_path):
    fm, model = interpreter(tmp_path, ['SELECT count(*) FROM "Products"'])
    fm.run_text('Configure Prompt Template [ Template Name: "Terse" ; Model Provider: Scripted ; '
                'Template Type: SQL Query ; SQL Prompt: "Schema :schema: -- question :question: :context:" ]\n'
                + sql_step("Query for Data Only", ' ; Prompt Template Name: "Terse" ; '
                           'Parameters: "{\\"context_prompt\\": \\"today is Monday\\"}"'))
    assert fm.get_global("$$r") == "4"
    system = model.asked[0][0]["content"]
    assert system.startswith('Schema CREATE TABLE "Products"')
    assert system.endswith("question Which red products cost more than 50? today is Monday")


def test_an_unknown_template_name_is_error_10_and_names_are_case_sensitive(tmp_path):
    fm, model = interpreter(tmp_path, ["SELECT 1"])
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Configure Prompt Template [ Template Name: "Terse" ; Model Provider: Scripted ; '
                    'Template Type: SQL Query ; SQL Prompt: "x" ]\n'
                    + sql_step("Query for Data Only", ' ; Prompt Template Name: "terse"'))
    assert e.value.code == 10 and "“Terse”" in e.value.message and model.asked == []


def find_step(get: str = "Found Set") -> str:
    return (ACCOUNT + 'Go to Layout [ "Products" ]\nPerform Find by Natural Language [ Account Name: "ai" ; '
            f'Model: "m" ; Prompt: "red things, dearest first" ; Get: {get} ; Response Target: $$r ]\n'
            'Set Variable [ $$n ; Value: Get ( FoundCount ) ]\nSet Variable [ $$first ; Value: Products::Name ]')


RED_DEAREST = json.dumps({"query": [{"Products::Colour": "red"}],
                          "sort": [{"fieldName": "Products::Price", "sortOrder": "descend"}]})


def test_find_by_natural_language_finds_and_sorts(tmp_path):
    fm, model = interpreter(tmp_path, [RED_DEAREST])
    fm.run_text(find_step())
    assert str(fm.get_global("$$n")) == "2" and fm.get_global("$$first") == "desk"
    assert '"Products::Price"' in model.asked[0][0]["content"]  # the layout's fields went to the model


def test_found_set_as_json_leaves_the_found_set_alone(tmp_path):
    fm, _ = interpreter(tmp_path, [RED_DEAREST])
    fm.run_text(find_step("Found Set as JSON"))
    r = json.loads(fm.get_global("$$r"))["response"]
    assert [d["fieldData"]["Name"] for d in r["data"]] == ["desk", "lamp"]
    assert r["dataInfo"]["foundCount"] == 2 and r["dataInfo"]["totalRecordCount"] == 4
    assert r["data"][0]["fieldData"]["Price"] == 120
    assert str(fm.get_global("$$n")) == "4"


def test_find_request_as_json(tmp_path):
    fm, _ = interpreter(tmp_path, ["Here it is: " + RED_DEAREST])
    fm.run_text(find_step("Find Request as JSON"))
    assert json.loads(fm.get_global("$$r")) == json.loads(RED_DEAREST)


def test_a_find_naming_a_field_not_on_the_layout_is_refused_before_finding(tmp_path):
    fm, _ = interpreter(tmp_path, [json.dumps({"query": [{"Products::Colour": "red"}, {"Products::Secret": "x"}]})])
    with pytest.raises(FMScriptError) as e:
        fm.run_text(ACCOUNT + 'Go to Layout [ "Products" ]\nPerform Find [ Restore ; "Products::Colour: white" ]\n'
                    'Set Variable [ $$before ; Value: Get ( FoundCount ) ]\n'
                    'Perform Find by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "?" ]')
    assert e.value.code == 102 and "“Products::Secret”" in e.value.message
    assert str(fm.get_global("$$before")) == "1"
    assert fm.database.context("Products").found == [4]  # still the white cup: nothing was found


def test_get_fields_on_layout_and_token_count(tmp_path):
    fm, _ = interpreter(tmp_path, [])
    fm.run_text('Set Variable [ $$f ; Value: GetFieldsOnLayout ( "Products" ) ]\n'
                'Set Variable [ $$t ; Value: GetTokenCount ( "Claris FileMaker" ) ]')
    assert json.loads(fm.get_global("$$f")) == {
        "layout_name": "Products", "fields": {"Products::Name": {"type": "string"},
                                              "Products::Price": {"type": "number"},
                                              "Products::Colour": {"type": "string"}}}
    assert str(fm.get_global("$$t")) == "4"  # Claris's example


def test_zh_hans_names(tmp_path):
    fm, _ = interpreter(tmp_path, ['SELECT "Name" FROM "Products" WHERE "Price" < 3'])
    fm.run_text('配置 AI 账户 [ 账户名称: "ai" ; 模型提供商: Scripted ]\n'
                '通过自然语言执行 SQL 查询 [ 账户名称: "ai" ; 模型: "m" ; 提示: "最便宜的？" ; 数据表: 通过名称 ; "Products" ; '
                '操作: 仅查询数据 ; 响应目标: $$r ]')
    assert fm.get_global("$$r") == "pen"


def test_a_prompt_over_the_local_models_context_is_refused_before_generating(home, tmp_path):
    from fmscript.ai.tinymodel import create_tiny
    create_tiny("fmscript/tiny-chat", home=home)  # its context: 2048 tokens
    fm = Interpreter(file=shop(tmp_path / "shop.sqlite"), on_dialog=lambda t, m: None)
    long_question = "Which of these products " + "really " * 3000 + "cost most?"
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Configure AI Account [ Account Name: "local" ; Model Provider: Local ]\n'
                    'Perform SQL Query by Natural Language [ Account Name: "local" ; Model: "fmscript/tiny-chat" ; '
                    f'Prompt: "{long_question}" ; Action: Query ; Response Target: $$r ]')
    assert e.value.code == 14 and "2048 tokens" in e.value.message
    assert "$$r" not in fm.session.globals


def test_data_tables_from_list_by_name_and_by_ddl(tmp_path):
    fm, _ = interpreter(tmp_path, [])
    fm.run_text('Set Variable [ $ddl ; Value: "CREATE TABLE \\"X\\" (\\"a\\" int);" ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "?" ; '
                'Data Tables: From list ; Products ; Action: Get DDL ; Response Target: $$list ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "?" ; '
                'Data Tables: By DDL ; $ddl ; Action: Get DDL ; Response Target: $$ddl ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "?" ; '
                'Data Tables: From list; [ Products ]; Action: Get DDL ; Response Target: $$printed ]\n'
                'Set Error Capture [ On ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "?" ; '
                'Data Tables: By name ; "Products¶Nope" ; Action: Get DDL ; Response Target: $$bad ]\n'
                'Set Variable [ $$bad_err ; Value: Get ( LastError ) ]')
    assert fm.get_global("$$list").startswith('CREATE TABLE "Products"')
    assert fm.get_global("$$ddl") == 'CREATE TABLE "X" ("a" int);'
    assert fm.get_global("$$printed") == fm.get_global("$$list")  # the list as FileMaker prints it
    assert str(fm.get_global("$$bad_err")) == "106"


def test_options_by_json_data(tmp_path):
    fm, model = interpreter(tmp_path, ['SELECT "Name" FROM "Products" WHERE "Price" > 100'])
    fm.run_text(ACCOUNT + 'Set Variable [ $o ; Value: "{\\"action\\": \\"query for data only\\", '
                '\\"data tables\\": [\\"Products\\"], \\"stream\\": \\"off\\"}" ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "dear?" ; '
                'Options specified: By JSON data ; $o ; Response Target: $$r ]\n'
                'Set Error Capture [ On ]\n'
                'Perform SQL Query by Natural Language [ Account Name: "ai" ; Model: "m" ; Prompt: "dear?" ; '
                'Options specified: By JSON data ; "{\\"action\\": \\"drop\\"}" ; Response Target: $$bad ]\n'
                'Set Variable [ $$bad_err ; Value: Get ( LastError ) ]')
    assert fm.get_global("$$r") == "desk" and 'CREATE TABLE "Products"' in model.asked[0][0]["content"]
    assert str(fm.get_global("$$bad_err")) == "1708" and len(model.asked) == 1


def test_zh_hans_find_and_template(tmp_path):
    fm, model = interpreter(tmp_path, [RED_DEAREST])
    fm.run_text('配置 AI 账户 [ 账户名称: "ai" ; 模型提供商: Scripted ]\n转到布局 [ "Products" ]\n'
                '配置提示模板 [ 模板名称: "找" ; 模型提供商: Scripted ; 模板类型: 查找请求 ; 查找请求提示: "字段 :schema: 问题 :question:" ]\n'
                '通过自然语言执行查找 [ 账户名称: "ai" ; 模型: "m" ; 提示: "红色的" ; 获取: JSON 形式的查找请求 ; '
                '提示模板名称: "找" ; 响应目标: $$r ]')
    assert json.loads(fm.get_global("$$r")) == json.loads(RED_DEAREST)
    assert model.asked[0][0]["content"].startswith('字段 {') and model.asked[0][0]["content"].endswith("问题 红色的")


def test_literals_become_parameters_but_column_positions_and_row_counts_stay(tmp_path):
    from fmscript.ai.nlquery import read_only_sql
    sql, params = read_only_sql('SELECT "Name" FROM "Products" WHERE "Colour" <> \'it\'\'s\' AND "Price" < 100 '
                                'ORDER BY 1 DESC LIMIT 2;')
    assert sql == 'SELECT "Name" FROM "Products" WHERE "Colour" <> ? AND "Price" < ? ORDER BY 1 DESC LIMIT 2'
    assert [str(p) for p in params] == ["it's", "100"]
    fm, _ = interpreter(tmp_path, ['SELECT "Name" FROM "Products" WHERE "Price" < 100 ORDER BY 1 DESC LIMIT 2'])
    fm.run_text(sql_step("Query for Data Only"))
    assert fm.get_global("$$r") == "pen\rlamp"
