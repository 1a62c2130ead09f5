"""``fmscript db …`` and ``fmscript check -f DB`` (in process, through ``fmscript.cli.main``)."""
from __future__ import annotations

import sqlite3

from fmscript.cli import main


def run_cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_db_commands_build_a_file_a_script_can_use(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa.csv").write_text("Question,Answer,Status,Priority\nHi?,Hello,open,2\nBye?,Later,closed,1\n"
                                     "Why?,Because,open,10\n", encoding="utf-8")
    db = str(tmp_path / "app.sqlite")
    assert run_cli(capsys, "db", "create-table", "-f", db, "Support_QA", "Question", "Answer", "Status",
                   "Priority:number")[0] == 0
    rc, _, err = run_cli(capsys, "db", "import", "-f", db, "qa.csv", "--table", "Support_QA")
    assert rc == 0 and "imported 3 records into Support_QA" in err
    assert run_cli(capsys, "db", "-f", db, "create-table", "Global", "OpenAI_API_Key:text:global")[0] == 0
    assert run_cli(capsys, "db", "find", "-f", db, "Support_QA", "Support_QA::Status: ==open")[0] == 0
    assert run_cli(capsys, "db", "sort", "-f", db, "Support_QA", "Support_QA::Priority descending")[0] == 0
    assert run_cli(capsys, "db", "layout", "-f", db, "QA List", "--table", "Support_QA", "--occurrence", "QA")[0] == 0
    rc, out, _ = run_cli(capsys, "db", "schema", "-f", db)
    assert rc == 0
    assert out.splitlines() == [
        "table Support_QA (3 records)", "  Question: text", "  Answer: text", "  Status: text",
        "  Priority: number", "table Global (0 records)", "  OpenAI_API_Key: text global",
        "layout Support_QA → Support_QA", "layout Global → Global", "layout QA List → QA (Support_QA)",
        "find Support_QA: Support_QA::Status: ==open", "sort Support_QA: Support_QA::Priority descending"]
    (tmp_path / "s.fmscript").write_text(
        'Set Field [ Global::OpenAI_API_Key ; "k" ]\nGo to Layout [ "Support_QA" (Support_QA) ]\n'
        'Perform Find [ Restore ]\nSort Records [ Restore ; With dialog: Off ]\n'
        'Show Custom Dialog [ Get ( FoundCount ) & " " & Support_QA::Question & " " & Global::OpenAI_API_Key ]\n'
        'Go to Layout [ "QA List" (QA) ]\nShow Custom Dialog [ Get ( LayoutTableName ) & " " & QA::Question ]\n',
        encoding="utf-8")
    rc, out, err = run_cli(capsys, "run", "s.fmscript", "-f", db)
    assert (rc, out) == (0, "2 Why? k\nQA Hi?\n"), err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM fmscript_globals").fetchall() == [("k",)]


def test_db_errors(tmp_path, capsys):
    db = str(tmp_path / "app.sqlite")
    rc, _, err = run_cli(capsys, "db", "schema")
    assert rc == 2 and "needs a database" in err
    rc, _, err = run_cli(capsys, "db", "schema", "-f", db)
    assert rc == 2 and "no such database file" in err
    run_cli(capsys, "db", "create-table", "-f", db, "T", "A")
    rc, _, err = run_cli(capsys, "db", "create-table", "-f", db, "T", "A")
    assert rc == 1 and "already exists" in err
    rc, _, err = run_cli(capsys, "db", "find", "-f", db, "T", "A = 1")
    assert rc == 1 and "cannot be read" in err
    rc, _, err = run_cli(capsys, "db", "create-table", "-f", db, "U", "A:blob")
    assert rc == 1 and "unknown field type" in err


def test_check_names_against_a_database(qa_db, tmp_path, capsys):
    script = tmp_path / "s.fmscript"
    script.write_text('Go to Layout [ "Support_QA" (Support_QA) ]\n'
                      'Set Variable [ $q ; Value: Support_QA::Question & Support_QA::Nope & Global::OpenAI_API_Key ]\n'
                      'Go to Layout [ "Missing" ]\nSet Variable [ $x ; Value: Nope::X ]\n', encoding="utf-8")
    rc, _, err = run_cli(capsys, "check", str(script), "-f", str(qa_db))
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ": error [" in ln]
    assert [ln.split(": error")[0].rsplit(":", 2)[1:] for ln in lines] == [["2", "51"], ["3", "16"], ["4", "28"]]
    assert "[102]" in lines[0] and "[105]" in lines[1] and "Nope::X" in lines[2]
    rc, _, _ = run_cli(capsys, "check", str(script))
    assert rc == 0


def test_stored_find_per_step_line(qa_db, tmp_path, capsys):
    db = str(qa_db)
    script = tmp_path / "Lines.fmscript"
    script.write_text('Go to Layout [ "Support_QA" (Support_QA) ]\nPerform Find [ Restore ]\n'
                      'Show Custom Dialog [ Get ( FoundCount ) ]\nPerform Find [ Restore ]\n'
                      'Show Custom Dialog [ Get ( FoundCount ) ]\n', encoding="utf-8")
    assert run_cli(capsys, "db", "find", "-f", db, "Support_QA", "Support_QA::Category: billing",
                   "--script", "Lines", "--line", "4")[0] == 0
    rc, out, err = run_cli(capsys, "run", str(script), "-f", db)
    assert (rc, out) == (0, "3\n1\n"), err
    rc, _, err = run_cli(capsys, "db", "find", "-f", db, "Support_QA", "x: 1", "--line", "4")
    assert rc == 2 and "--line needs --script" in err
