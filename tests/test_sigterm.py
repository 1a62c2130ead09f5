"""``kill`` of ``fmscript run`` (SIGTERM) ends it as Ctrl-C does: the open record is reverted, the run's
``Get ( TemporaryPath )`` folder is removed, and the exit status is 143, without a traceback."""
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = ('Go to Layout [ "People" ]\n'
          'New Record/Request\n'
          'Set Field [ People::Name ; "left open" ]\n'
          'Show Custom Dialog [ "" ; Get ( TemporaryPath ) ]\n'
          'Pause/Resume Script [ Duration (seconds): 30 ]\n'
          'Commit Records/Requests\n')


def test_sigterm_reverts_the_open_record_and_removes_the_temporary_folder(tmp_path):
    db = tmp_path / "people.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute('CREATE TABLE "People" ("Name" TEXT)')
    conn.close()
    (tmp_path / "wait.fmscript").write_text(SCRIPT, encoding="utf-8")
    p = subprocess.Popen([sys.executable, "-m", "fmscript", "run", "--file", str(db), "wait.fmscript"],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # the dialog: the script is now in its pause
        temp = Path(line.strip())
        assert line.startswith("/") and temp.is_dir(), (line, p.stderr.read() if p.poll() is not None else "")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert (p.returncode, out, err) == (143, "", "fmscript: terminated\n")
    assert not temp.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute('SELECT count(*) FROM "People"').fetchone() == (0,)
    conn.close()
