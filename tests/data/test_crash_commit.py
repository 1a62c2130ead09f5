"""kill -9 in the middle of a database commit (issue 17): SQLite's WAL leaves the file whole, with all of the
import or none of it, never part."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

ROWS = 200_000


def count(db) -> int:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT count(*) FROM People").fetchone()[0]
    finally:
        conn.close()


def test_killed_while_a_big_import_commits(people_db, tmp_path):
    before = count(people_db)
    (tmp_path / "many.csv").write_text("Name,City,Notes\n" + "".join(f"person {i},Town {i % 97},{'x' * 40}\n"
                                                                  for i in range(ROWS)), encoding="utf-8")
    script = tmp_path / "import.fmscript"
    script.write_text('Import Records [ With dialog: Off ; "many.csv" ; Target: "People" ]\n', encoding="utf-8")
    wal = people_db.with_name(people_db.name + "-wal")
    proc = subprocess.Popen([sys.executable, "-P", "-m", "fmscript", "run", str(script), "-f", str(people_db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        # Kill once the transaction has written a few MB of pages to the WAL (its commit frame comes last).
        while proc.poll() is None and not (wal.exists() and wal.stat().st_size > 4 << 20):
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the import ended before it could be killed: use more rows"
    assert count(people_db) in (before, before + ROWS)
    # The file stays usable: the same import, run to its end, adds every row once.
    r = subprocess.run([sys.executable, "-P", "-m", "fmscript", "run", str(script), "-f", str(people_db)],
                       capture_output=True, timeout=300, cwd=tmp_path, env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stderr
    assert count(people_db) - before in (ROWS, 2 * ROWS)
