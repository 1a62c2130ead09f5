"""Tab completion: steps (both languages), option labels of the step being typed, functions with their
signature, $/$$ variables, Table::Field, accounts, models, meta commands."""
from __future__ import annotations

from fmscript.repl.completion import CompletionSource, analyse, completions

from .conftest import Captured


def texts(text, repl=None):
    return [c.text for c in completions(text, CompletionSource(repl.repl if repl else None))]


def test_step_names_in_english_and_zh():
    assert texts("Set Var") == ["Set Variable"]
    c = completions("设置变", CompletionSource())
    assert [(x.text, x.meta) for x in c] == [("设置变量", "Set Variable")]
    assert "Set Field" in texts("  Set Fie")  # indented, inside a block
    assert "Go to Layout" in texts("go to la")
    assert texts("Set Variable [ $x ; Value: 1 ]\nExit Scr") == ["Exit Script"]


def test_step_candidates_replace_the_whole_name():
    c = completions("Show Custom", CompletionSource())[0]
    assert (c.text, c.start) == ("Show Custom Dialog", -len("Show Custom"))


def test_option_labels_of_the_step_being_typed():
    assert texts("Set Variable [ $x ; ") == ["Value: ", "Repetition: "]
    assert texts("Set Variable [ $x ; Val") == ["Value: "]
    assert texts("设置变量 [ $x ; ") == ["值: ", "重复: "]
    labels = texts("Configure AI Account [ Account Name: \"a\" ; ")
    assert "Model Provider: " in labels and "Verify SSL Certificates" in labels  # a flag has no colon
    assert "Title: " in texts('Show Custom Dialog [ "a" ; ')


def test_values_after_a_label():
    assert texts("Configure AI Account [ Model Provider: L")[0] == "Local"
    assert texts("Configure AI Account [ Model Provider: ") == ["Local", "OpenAI", "Custom", "Anthropic"]
    assert texts("Commit Records/Requests [ With dialog: ")[:2] == ["On", "Off"]


def test_functions_with_their_signature():
    c = completions("Set Variable [ $x ; Value: Leng", CompletionSource())
    assert (c[0].text, c[0].meta) == ("Length", "Length ( text )")
    c = completions("JSONSetEl", CompletionSource())
    assert any(x.text == "JSONSetElement" and x.meta.startswith("JSONSetElement ( json ;") for x in c)


def test_get_names_in_both_languages():
    assert texts("Get ( Docu")[:1] == ["DocumentsPath"]
    assert texts("$p & Get(文档")[:1] == ["文档路径"]


def test_variables(repl):
    repl("Set Variable [ $count ; Value: 1 ]\nSet Variable [ $$total ; Value: 2 ]")
    assert texts("Set Variable [ $x ; Value: $c", repl) == ["$count"]
    assert texts("$$", repl) == ["$$total"]
    assert texts("$", repl) == ["$count", "$$total"]


def test_table_and_field_names(people_db):
    c = Captured(file=str(people_db))
    assert texts("Products::", c) == ["Products::Name", "Products::Price", "Products::Notes"]
    assert texts("Set Field [ Products::Pr", c) == ["Products::Price"]
    assert "Products::" in texts("Set Field [ Prod", c)
    assert texts("Glo", c)[0] == "Global::"


def test_fields_degrade_without_a_file():
    assert texts("Products::") == []


def test_accounts_and_models(repl, monkeypatch):
    repl('Configure AI Account [ Account Name: "my-acct" ; Model Provider: Local ]')
    assert texts("Generate Response from Model [ Account Name: ", repl) == ['"my-acct"']
    assert texts('Generate Response from Model [ Account Name: "my', repl) == ['my-acct"']
    from fmscript.ai import modelstore
    monkeypatch.setattr(modelstore, "list_models", lambda: [{"id": "fmscript/tiny-chat"}, {"id": "fm-mlx-x"}])
    assert texts('Fine-Tune Model [ Account Name: "my-acct" ; Base Model: ', repl) == ['"fmscript/tiny-chat"',
                                                                                        '"fm-mlx-x"']
    assert texts('Generate Response from Model [ Model: "fm-', repl) == ['fm-mlx-x"']


def test_meta_commands(repl):
    assert texts(":tr") == [":trace"]
    assert texts(":trace o") == ["on", "off"]
    assert ":vars" in texts(":")
    assert texts(":help Set Varia") == ["Set Variable"]
    repl('Script "Daily Report"\nBeep\nEnd Script')
    assert texts(":run Dai", repl) == ['"Daily Report"']


def test_nothing_inside_a_string_or_comment():
    assert texts('Set Variable [ $x ; Value: "Len') == []
    assert texts("Set Variable [ $x ; Value: /* Len") == []


def test_analyse_contexts():
    assert analyse("Set Var").kind == "line"
    assert analyse("Set Variable [ $x ; ").kind == "segment"
    ctx = analyse("Set Variable [ $x ; Value: Let ( [ a = 1 ; b")
    assert ctx.kind == "value" and ctx.word == "b"
    assert analyse("If [ 1 ]\n  Set Variable [ $x ; Value: 1 ]\n  ").kind == "line"
