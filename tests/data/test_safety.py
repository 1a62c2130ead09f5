"""Nothing lost: transactions, a killed script, two processes on one file (WAL), start-up stays light."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest



def fmscript(*args, stdin=None, **kw):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "fmscript", *args], capture_output=True, text=True,
                          env=env, cwd=kw.pop("cwd", tempfile.gettempdir()), input=stdin, timeout=120, **kw)


def names(db):
    conn = sqlite3.connect(db)
    try:
        return [n for (n,) in conn.execute("SELECT Name FROM People ORDER BY rowid")]
    finally:
        conn.close()


EDIT_EXISTING = """
New Record/Request
Set Field [ People::Name ; "committed" ]
Commit Records/Requests [ With dialog: Off ]
Go to Record/Request/Page [ First ]
Set Field [ People::Name ; "Ann was edited" ]
Set Field [ People::Age ; 99 ]
Show Custom Dialog [ "ready" ]
Pause/Resume Script [ Duration (seconds): 60 ]
"""

NEW_RECORD = """
New Record/Request
Set Field [ People::Name ; "committed" ]
Commit Records/Requests [ With dialog: Off ]
New Record/Request
Set Field [ People::Name ; "half done" ]
Show Custom Dialog [ "ready" ]
Pause/Resume Script [ Duration (seconds): 60 ]
"""


@pytest.mark.parametrize("text", [EDIT_EXISTING, NEW_RECORD], ids=["edit", "new"])
def test_killed_in_the_middle_of_a_record_edit(people_db, tmp_path, text):
    script = tmp_path / "edit.fmscript"
    script.write_text(text, encoding="utf-8")
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "fmscript", "run", str(script), "-f", str(people_db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == "ready"
        # Another process reads the file while the record is open: it sees only committed data.
        assert names(people_db)[-1] == "committed"
        assert names(people_db)[0] == "Ann Smith"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    conn = sqlite3.connect(people_db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT Age FROM People WHERE rowid = 1").fetchone() == ("34",)
    conn.close()
    got = names(people_db)
    assert got[0] == "Ann Smith" and got[-1] == "committed" and len(got) == 8


def test_normal_end_commits_and_failure_reverts(people_db, tmp_path):
    ok = tmp_path / "ok.fmscript"
    ok.write_text('New Record/Request\nSet Field [ People::Name ; "kept" ]\n', encoding="utf-8")
    r = fmscript("run", str(ok), "-f", str(people_db))
    assert r.returncode == 0, r.stderr
    assert names(people_db)[-1] == "kept"
    bad = tmp_path / "bad.fmscript"
    bad.write_text('New Record/Request\nSet Field [ People::Name ; "lost" ]\nSet Field [ People::Nope ; 1 ]\n',
                   encoding="utf-8")
    r = fmscript("run", str(bad), "-f", str(people_db))
    assert r.returncode == 1
    assert "bad.fmscript:3:" in r.stderr and "[102]" in r.stderr and "Traceback" not in r.stderr
    assert "lost" not in names(people_db)


def test_two_processes_write_the_same_file(people_db, tmp_path):
    script = tmp_path / "add.fmscript"
    script.write_text("""
Set Variable [ $i ; Value: 0 ]
Loop
  New Record/Request
  Set Field [ People::Name ; Get ( ScriptParameter ) & $i ]
  Commit Records/Requests [ With dialog: Off ]
  Set Variable [ $i ; Value: $i + 1 ]
  Exit Loop If [ $i ≥ 40 ]
End Loop
""", encoding="utf-8")
    env = dict(os.environ, NO_COLOR="1")
    procs = [subprocess.Popen([sys.executable, "-m", "fmscript", "run", str(script), "-f", str(people_db),
                               "--param", p], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=tmp_path) for p in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = names(people_db)
    assert len(got) == 7 + 80
    assert sorted(n for n in got if n[0] in "ab" and n[1:].isdigit()) == sorted(
        [f"a{i}" for i in range(40)] + [f"b{i}" for i in range(40)])
    conn = sqlite3.connect(people_db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_plain_script_does_not_load_sqlite():
    code = ("import sys\nfrom fmscript.interpreter import Interpreter\n"
            "Interpreter(on_dialog=lambda t, m: None).run_text('Set Variable [ $x ; Value: 1 + 1 ]')\n"
            "import fmscript\n"
            "print('sqlite3' in sys.modules, 'fmscript.data.database' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=tempfile.gettempdir())
    assert r.stdout.split() == ["False", "False"], r.stderr
