"""Meta commands: :vars, :records, :accounts, :jobs, :load, :run, :help, :trace, :quit."""
from __future__ import annotations

from .conftest import Captured


def test_vars_lists_locals_then_globals(repl):
    repl("Set Variable [ $b ; Value: 2 ]\nSet Variable [ $a ; Value: \"x¶y\" ]\nSet Variable [ $$g ; Value: 3 ]")
    out = repl(":vars")
    assert out == [("result", "variable  value\n$a        x¶y\n$b        2\n$$g       3")]


def test_vars_when_empty(repl):
    assert repl(":vars")[0][0] == "info"


def test_accounts_mask_keys_everywhere(repl):
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
    repl(f'Configure AI Account [ Account Name: "acme" ; Model Provider: OpenAI ; API key: "{key}" ]')
    out = repl.text(":accounts")
    assert "acme" in out and "OpenAI" in out and "••••0123" in out and key not in out
    repl(f'Set Variable [ $k ; Value: "{key}" ]')
    assert key not in repl.text(":vars")
    assert key not in repl.text("$k")


def test_records_shows_the_found_set(people_db):
    c = Captured(file=str(people_db))
    out = c.text(":records")
    assert out.splitlines()[0] == "layout “Products” · table Products · 3 found of 3 · record 1"
    assert "▸1  Tea" in out and "Coffee" in out and "Cocoa" in out
    c("Go to Record/Request/Page [ Last ]")
    assert "▸3  Cocoa" in c.text(":records")
    assert c.text(":records Products 1").count("\n") == 3  # head, header, one row, "… 2 more"
    g = c.text(":records Global")
    assert "OpenAI_API_Key = ••••1234" in g and "sk-test" not in g


def test_records_without_a_file(repl):
    assert repl(":records")[0][0] == "info"


def test_jobs_in_an_empty_home(repl):
    assert repl(":jobs") == [("info", "no fine-tuning jobs in this fmscript home")]


def test_jobs_lists_the_homes_jobs(repl):
    from fmscript.ai.jobs import JobStore
    store = JobStore()
    f = store.create_file("train.jsonl", data=b'{"messages":[]}\n', examples=1)
    job = store.create_job("fmscript/tiny-chat", f["id"], {"max_steps": 5}, fine_tuned_model="fm-mlx-demo",
                           total_steps=5)
    out = repl.text(":jobs")
    assert job["id"] in out and "queued" in out and "fm-mlx-demo" in out


def test_load_and_run(repl, tmp_path):
    f = tmp_path / "lib.fmscript"
    f.write_text('Script "Greet"\nExit Script [ Text Result: "Hello, " & Get ( ScriptParameter ) ]\nEnd Script\n'
                 'Script "Two words"\nShow Custom Dialog [ "two" ]\nEnd Script\n', encoding="utf-8")
    assert repl(f":load {f}") == [("info", f"loaded {f}: “Greet”, “Two words”")]
    assert repl(':run Greet "world"') == [("result", "Hello, world")]
    assert repl(":run Two words") == [("dialog", "two")]
    assert repl(':run "Two words"') == [("dialog", "two")]
    out = repl.text(":run Nope")
    assert "no script named “Nope”" in out


def test_load_missing_file(repl, tmp_path):
    out = repl(f":load {tmp_path / 'none.fmscript'}")
    assert out[0][0] == "error" and "cannot read" in out[0][1]


def test_help_for_steps_functions_get_and_commands(repl):
    s = repl.text(":help Set Variable")
    assert s.startswith("Set Variable  ·  设置变量") and "Value (值)" in s and "Repetition (重复)" in s
    assert repl.text(":help 设置变量") == s
    f = repl.text(":help left")
    assert f.startswith("Left ( text ; numberOfCharacters )")
    g = repl.text(":help Get ( 文档路径 )")
    assert g.startswith("Get ( DocumentsPath )  ·  Get ( 文档路径 )")
    n = repl.text(":help Print Setup")
    assert "not implemented" in n
    assert "did you mean “Set Variable”" in repl.text(":help Set Varible")
    everything = repl.text(":help")
    for c in (":vars", ":records", ":accounts", ":jobs", ":load", ":run", ":help", ":trace", ":quit"):
        assert c in everything
    assert repl.text(":help :trace").startswith(":trace on|off")


def test_trace_on_and_off(repl, tmp_path):
    assert repl(":trace on") == [("info", "trace on")]
    out = repl("Set Variable [ $x ; Value: 5 ]\nIf [ $x = 5 ]\nEnd If")
    assert out == [("trace", "<repl>:1: Set Variable  $x = '5'"), ("trace", "<repl>:2: If"),
                   ("trace", "<repl>:3: End If")]
    f = tmp_path / "t.fmscript"
    f.write_text("Set Variable [ $$y ; Value: 1 ]\n", encoding="utf-8")
    repl(f":load {f}")
    assert repl(":run t") == [("trace", f"{f}:1: Set Variable  $$y = '1'")]
    assert repl(":trace off") == [("info", "trace off")]
    assert repl("Set Variable [ $x ; Value: 6 ]") == []
    assert repl(":run t") == []
    assert repl(":trace maybe")[0][0] == "error"


def test_quit_and_unknown_command(repl):
    out = repl(":qiut")
    assert out[0][0] == "error" and "did you mean :quit?" in out[0][1]
    assert not repl.repl.quit
    repl(":quit")
    assert repl.repl.quit


def test_each_input_commits_or_reverts_like_a_top_level_script(people_db):
    c = Captured(file=str(people_db))
    c("New Record/Request\nSet Field [ Products::Name ; \"Chai\" ]")
    assert "4 found of 4" in c.text(":records")
    out = c("New Record/Request\nSet Field [ Products::Name ; \"Mate\" ]\nSet Field [ Products::Nope ; 1 ]")
    assert out[0][0] == "error" and "[102]" in out[0][1]
    shown = c.text(":records")
    assert "Chai" in shown and "Mate" not in shown
    from fmscript.data import open_database
    db = open_database(people_db)
    assert db.total_count("Products") == 4


def test_trace_masks_variables_named_like_secrets(repl):
    repl(":trace on")
    out = repl('Set Variable [ $api_key ; Value: "abc-not-shaped-like-a-key" ]')
    assert out == [("trace", "<repl>:1: Set Variable  $api_key = ••••")]
