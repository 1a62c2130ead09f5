"""Secrets stay secret on disk: no key in any file of the fmscript home, nothing in it readable by others,
Get ( TemporaryPath ) removed at the end of a run, and a caret that still points at the right character of a
line whose key is masked."""
from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from fmscript import redact as R
from fmscript.errors import FMScriptError

ROOT = Path(__file__).resolve().parent.parent
SK_KEY = "sk-test-ABCDEFGHIJKLMNOP1234"   # looks like a key: masked by its shape
PLAIN_KEY = "plain-secret-value-9876"      # does not: masked because it is a Configure AI Account key
ENTER, CTRL_D = "\r", "\x04"


@pytest.fixture
def user_umask():
    """Run with the usual 022, so files come out 0644 unless fmscript makes them private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def forget_secrets():
    """Registered keys are per process; a test that relies on finding one by itself starts without any."""
    saved = set(R._SECRETS)
    R._SECRETS.clear()
    yield
    R._SECRETS.clear()
    R._SECRETS.update(saved)


def cli(args, env, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "fmscript", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600, umask=0o022, **kw)


def offenders(home: Path) -> tuple[list[str], list[str]]:
    """(files holding a key, entries readable or writable by group/others) under ``home``."""
    leaks, wide = [], []
    for dirpath, dirnames, filenames in os.walk(home):
        for name in [""] + dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):  # a link's own bits mean nothing; its target is walked
                continue
            if stat.S_IMODE(st.st_mode) & 0o077:
                wide.append(f"{oct(stat.S_IMODE(st.st_mode))} {p.relative_to(home)}")
            if stat.S_ISREG(st.st_mode):
                data = p.read_bytes()
                if any(k.encode() in data or k.encode("utf-16-le") in data for k in (SK_KEY, PLAIN_KEY)):
                    leaks.append(str(p.relative_to(home)))
    return leaks, wide


def stop_worker() -> None:
    """Let the home's worker exit by itself (it is idle after 1 s), so nothing writes while the home is walked."""
    from fmscript.ai import worker
    deadline = time.monotonic() + 60
    while worker.worker_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = worker.worker_pid()
    if pid:
        os.kill(pid, signal.SIGKILL)


SCRIPT = f"""\
Configure AI Account [ Account Name: "cloud" ; Model Provider: OpenAI ; API key: "{SK_KEY}" ]
Configure AI Account [ Account Name: "other" ; Model Provider: Custom ; API key: "{PLAIN_KEY}" ; Endpoint: "http://127.0.0.1:9/v1" ]
Configure AI Account [ Account Name: "local" ; Model Provider: Local ]
Go to Layout [ "Support_QA" (Support_QA) ]
Show All Records
Set Variable [ $p ; Value: JSONSetElement ( "{{}}" ; [ "max_steps" ; 2 ; JSONNumber ] ; [ "fine_tuned_model_name" ; "secret test" ; JSONString ] ) ]
Fine-Tune Model [ Account Name: "local" ; Base Model: "fmscript/tiny-chat" ; Training Data: Table ; "Support_QA" ; Completion Field: Support_QA::Answer ; Response Target: $job ; Fine-Tune Parameters: $p ]
Wait for Fine-Tune Job [ Account Name: "local" ; Job ID: JSONGetElement ( $job ; "result.id" ) ; Response Target: $done ]
Show Custom Dialog [ JSONGetElement ( $done ; "result.status" ) ]
"""


@pytest.mark.slow
def test_no_file_of_the_home_holds_a_key_or_is_readable_by_others(tmp_path, monkeypatch, user_umask):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, FMSCRIPT_HOME=str(home), TMPDIR=str(tmp), FMSCRIPT_WORKER_IDLE="1",
               HF_HUB_OFFLINE="1")
    monkeypatch.setenv("FMSCRIPT_HOME", str(home))
    r = cli(["db", "-f", "app.sqlite", "import", str(ROOT / "examples" / "data" / "Support_QA.csv")], env, tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "s.fmscript").write_text(SCRIPT, encoding="utf-8")
    try:
        r = cli(["run", "s.fmscript", "-f", "app.sqlite"], env, tmp_path)
        assert (r.returncode, r.stdout) == (0, "succeeded\n"), r.stderr
        assert SK_KEY not in r.stderr and PLAIN_KEY not in r.stderr
        # The REPL history, with both keys typed (the plain one before any step has registered it).
        with create_pipe_input() as inp:
            from fmscript.repl.app import TerminalRepl
            t = TerminalRepl(history=True, input=inp, output=DummyOutput(), color=False)
            t.repl.out = lambda text, kind: None
            inp.send_text(f'Configure AI Account [ Account Name: "typed" ; Model Provider: Custom ; '
                          f'API key: "{PLAIN_KEY}" ; Endpoint: "http://127.0.0.1:9/v1" ]' + ENTER)
            inp.send_text(f'Set Variable [ $k ; Value: "{SK_KEY}" ]' + ENTER + CTRL_D)
            t.run()
    finally:
        stop_worker()
    history = (home / "history").read_text(encoding="utf-8")
    assert "API key: \"••••" in history and "Set Variable [ $k" in history
    assert list(home.glob("cache/scripts/*/*.pickle")), "the parse cache was written"
    assert (home / "jobs.sqlite").is_file() and list(home.glob("tuned/*")) and list(home.glob("models/*/*"))
    leaks, wide = offenders(home)
    assert leaks == []
    assert wide == []
    assert [p.name for p in tmp.iterdir() if p.name.startswith("fmscript-")] == []  # training rows removed


def test_a_literal_smtp_password_of_send_mail_is_not_in_the_parse_cache(tmp_path, forget_secrets, user_umask):
    from fmscript.script.cache import parse_cached
    from fmscript.script.steps import builtin_steps

    text = ('Send Mail [ Send via SMTP Server; To: "a@example.com"; SMTP Server: "127.0.0.1"; '
            f'User Name: "ada"; Password: "{PLAIN_KEY}" ; No dialog ]\n')
    parse_cached(text, "m.fmscript", steps=builtin_steps())
    [file] = Path(os.environ["FMSCRIPT_HOME"]).glob("cache/scripts/*/*.pickle")
    assert PLAIN_KEY.encode() not in file.read_bytes()
    second = parse_cached(text, "m.fmscript", steps=builtin_steps())
    assert second.scripts[0].steps[0].get("Password").value.node.value == PLAIN_KEY


def test_a_second_run_loads_the_masked_cache_with_the_key_back(tmp_path, forget_secrets, user_umask):
    from fmscript.interpreter import Interpreter
    from fmscript.script.cache import parse_cached
    from fmscript.script.steps import builtin_steps

    text = (f'Configure AI Account [ Account Name: "c" ; Model Provider: Custom ; API key: "{PLAIN_KEY}" ; '
            f'Endpoint: "http://127.0.0.1:9/v1" ]\nShow Custom Dialog [ "done" ]\n')
    first = parse_cached(text, "k.fmscript", steps=builtin_steps())
    [file] = Path(os.environ["FMSCRIPT_HOME"]).glob("cache/scripts/*/*.pickle")
    data = file.read_bytes()
    assert PLAIN_KEY.encode() not in data and stat.S_IMODE(file.stat().st_mode) == 0o600
    with pytest.raises(pickle.UnpicklingError):  # the key is a reference into the text, not in the file
        pickle.loads(data)
    second = parse_cached(text, "k.fmscript", steps=builtin_steps())
    assert second is not first and [s.steps for s in second.scripts] == [s.steps for s in first.scripts]
    assert second.scripts[0].steps[0].get("API key").value.node.value == PLAIN_KEY
    shown = []
    fm = Interpreter(on_dialog=lambda t, m: shown.append(m))
    fm.run_text(text)
    assert fm.session.accounts["c"].api_key == PLAIN_KEY and shown == ["done"]


def test_a_key_the_text_does_not_hold_verbatim_is_not_cached(forget_secrets):
    from fmscript.script.cache import parse_cached
    from fmscript.script.steps import builtin_steps

    text = 'Configure AI Account [ Account Name: "c" ; Model Provider: OpenAI ; API key: "ab\\"cdefgh" ]\n'
    parse_cached(text, "e.fmscript", steps=builtin_steps())
    assert not list(Path(os.environ["FMSCRIPT_HOME"]).glob("cache/scripts/*/*"))


def test_history_masks_typed_keys_and_is_owner_only(forget_secrets, user_umask):
    from fmscript.home import history_file
    from fmscript.repl.app import _history

    h = _history()
    h.append_string(f'Configure AI Account [ Account Name: "a" ; Model Provider: OpenAI ; API key: "{PLAIN_KEY}" ]')
    h.append_string(f'Set Variable [ $k ; Value: "{SK_KEY}" ]')
    h.append_string("Set Variable [ $x ; Value: 1")  # does not parse: still written, nothing to mask
    text = history_file().read_text(encoding="utf-8")
    assert PLAIN_KEY not in text and SK_KEY not in text
    assert f'API key: "{R.mask(PLAIN_KEY)}"' in text and f'"{R.mask(SK_KEY)}"' in text
    assert "+Set Variable [ $x ; Value: 1\n" in text
    assert stat.S_IMODE(history_file().stat().st_mode) == 0o600
    assert stat.S_IMODE(history_file().parent.stat().st_mode) == 0o700


def test_job_store_rows_are_masked_and_its_files_owner_only(user_umask, forget_secrets):
    from fmscript.ai.jobs import JobStore

    R.register_secret(PLAIN_KEY)
    store = JobStore()
    f = store.create_file("t.jsonl", data=b'{"messages": []}\n')
    job = store.create_job("fmscript/tiny-chat", f["id"], {})
    store.add_event(job["id"], f"remote said: bad key {PLAIN_KEY} / {SK_KEY}")
    home = Path(os.environ["FMSCRIPT_HOME"])
    with sqlite3.connect(home / "jobs.sqlite") as con:
        rows = " ".join(m for (m,) in con.execute("SELECT message FROM events"))
    assert "bad key ••••" in rows and PLAIN_KEY not in rows and SK_KEY not in rows
    for p in [home / "jobs.sqlite", home / "jobs.sqlite-wal", home / "jobs.sqlite-shm", Path(f["path"])]:
        assert p.exists() and stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE((home / "files").stat().st_mode) == 0o700


def test_an_existing_wide_home_is_tightened(user_umask):
    from fmscript import home as fmhome

    h = Path(os.environ["FMSCRIPT_HOME"])
    (h / "cache").mkdir(parents=True, exist_ok=True)
    os.chmod(h, 0o755)
    os.chmod(h / "cache", 0o755)
    fmhome.cache_dir(ensure=True)
    assert stat.S_IMODE(h.stat().st_mode) == 0o700 and stat.S_IMODE((h / "cache").stat().st_mode) == 0o700


# -- Get ( TemporaryPath ) ------------------------------------------------------------------------------------
def _temp_env(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp, dict(os.environ, TMPDIR=str(tmp))


def _leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("fmscript-"))


@pytest.mark.parametrize("last_step, rc", [('Show Custom Dialog [ "ok" ]', 0),
                                           ('Perform Script [ "Missing" ]', 1)])
def test_the_temporary_folder_is_removed_after_a_run(tmp_path, last_step, rc):
    tmp, env = _temp_env(tmp_path)
    script = tmp_path / "t.fmscript"
    script.write_text('Set Variable [ $p ; Value: Get ( TemporaryPath ) ]\n'
                      'Show Custom Dialog [ $p ]\n' + last_step + "\n", encoding="utf-8")
    r = cli(["run", str(script)], env, tmp_path)
    assert r.returncode == rc, r.stderr
    assert r.stdout.startswith(f"{tmp}/fmscript-")  # it was created in the temporary folder …
    assert _leftovers(tmp) == []                   # … and is gone


def test_the_temporary_folder_is_removed_after_an_interrupt(tmp_path):
    tmp, env = _temp_env(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"  # the dialog line arrives as soon as it is shown
    script = tmp_path / "t.fmscript"
    script.write_text('Set Variable [ $p ; Value: Get ( TemporaryPath ) ]\n'
                      'Show Custom Dialog [ $p ]\n'
                      'Loop\n  Set Variable [ $i ; Value: $i + 1 ]\nEnd Loop\n', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "fmscript", "run", str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shown = proc.stdout.readline()  # the script has its folder and is looping
        assert shown.startswith(f"{tmp}/fmscript-") and _leftovers(tmp), shown
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err
    assert _leftovers(tmp) == []


def test_an_embedded_session_removes_its_folder_when_it_goes(tmp_path):
    import gc
    from fmscript.interpreter import Interpreter

    fm = Interpreter()
    p = Path(fm.run_text("Exit Script [ Text Result: Get ( TemporaryPath ) ]"))
    (p / "rows.jsonl").write_text("{}\n")
    assert p.is_dir()
    del fm
    gc.collect()
    assert not p.exists()


# -- carets under masked lines --------------------------------------------------------------------------------
def test_caret_points_at_the_same_character_of_the_masked_line(tmp_path):
    script = tmp_path / "e.fmscript"
    script.write_text(f'Configure AI Account [ Account Name: "c" ; Model Provider: OpenAI ; API key: "{SK_KEY}" ]\n'
                      f'Set Variable [ $k ; Value: "{SK_KEY}" & Length ( 1 ; 2 ) ]\n', encoding="utf-8")
    r = cli(["run", str(script)], dict(os.environ), tmp_path)
    head, line, caret = r.stderr.splitlines()[:3]
    assert head.startswith(f"{script}:2:61: error [1204]")  # the column in the file, as an editor counts
    assert SK_KEY not in line and R.mask(SK_KEY) in line
    assert caret.index("^") == line.index("Length ( 1 ; 2 )")


def test_caret_inside_a_key_covers_its_mask(forget_secrets):
    from fmscript.errors import Span

    R.register_secret(PLAIN_KEY)
    line = f'X [ "{PLAIN_KEY}" ; Length ( 1 ; 2 ) ]'
    start = line.index(PLAIN_KEY) + 1
    e = FMScriptError("bad", code=5, span=Span("f", 1, start + 3, line, start + len(PLAIN_KEY)))
    _, shown, caret = e.render().splitlines()
    assert shown == f'X [ "{R.mask(PLAIN_KEY)}" ; Length ( 1 ; 2 ) ]'
    assert caret == " " * shown.index("•") + "^" * len(R.mask(PLAIN_KEY))
    # After the key: same character; before it: unchanged.
    after = FMScriptError("bad", code=5, span=Span("f", 1, line.index("Length") + 1, line)).render().splitlines()[2]
    assert after.index("^") == shown.index("Length")
    before = FMScriptError("bad", code=5, span=Span("f", 1, 3, line, 4)).render().splitlines()[2]
    assert before == "  ^"


def test_redact_masks_the_same_as_before(forget_secrets):
    R.register_secret(PLAIN_KEY)
    assert R.redact(f"a {PLAIN_KEY} b {SK_KEY} c {PLAIN_KEY}") == \
        f"a {R.mask(PLAIN_KEY)} b {R.mask(SK_KEY)} c {R.mask(PLAIN_KEY)}"
    assert R.redact("nothing here") == "nothing here"


def test_a_home_an_older_version_left_wide_is_tightened_and_scrubbed(forget_secrets, user_umask):
    """Older homes were 0755/0644, with keys in the history and in cache pickles."""
    from fmscript import home as fmhome
    from fmscript.repl.app import _history

    h = Path(os.environ["FMSCRIPT_HOME"])
    (h / "cache" / "scripts" / "ab").mkdir(parents=True)
    (h / "cache" / "scripts" / "ab" / "old.pickle").write_bytes(b"...." + SK_KEY.encode())
    (h / "files").mkdir()
    (h / "files" / "rows.jsonl").write_text("{}\n")
    (h / "history").write_text(
        f'\n# 2026-01-01\n+Configure AI Account [ Account Name: "a" ; Model Provider: OpenAI ; API key: "{PLAIN_KEY}" ]\n'
        f'\n# 2026-01-02\n+Set Variable [ $k ; Value:\n+  "{SK_KEY}" ]\n', encoding="utf-8")
    for p in [h, *h.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    fmhome.home(ensure=True)
    hist = _history()
    assert list(hist.load_history_strings()) == [f'Set Variable [ $k ; Value:\n  "{R.mask(SK_KEY)}" ]',
                                                 f'Configure AI Account [ Account Name: "a" ; Model Provider: OpenAI ; '
                                                 f'API key: "{R.mask(PLAIN_KEY)}" ]']
    assert offenders(h) == ([], [])
    assert (h / "files" / "rows.jsonl").is_file() and not (h / "cache" / "scripts").exists()
