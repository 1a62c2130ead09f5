"""End to end: ``fmscript repl`` in a real pseudo-terminal, typed at like a person would.

Two drivers: tmux (the screen as a person sees it, via ``capture-pane``) when tmux is installed, and the
standard library's ``pty`` (the bytes the terminal receives, escape sequences removed), which needs nothing.
Both type a multi-line If block, a calculation, a Tab completion and ``:vars``.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _env(home: str) -> dict:
    env = dict(os.environ)
    env.update(PYTHONSAFEPATH="1", FMSCRIPT_HOME=home,
               TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("NO_COLOR", None)
    return env


# ----------------------------------------------------------------------------------------------- pty driver
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>78]|\x1b\(B|[\x07\x0f]")


class PtyTerminal:
    """A child process on a pseudo-terminal; :meth:`expect` waits for text in its output."""

    def __init__(self, argv, env, rows=40, cols=120):
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     cwd=os.path.dirname(env["FMSCRIPT_HOME"]),
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.fd = master
        self.raw = ""
        self.seen = 0

    def _read(self, timeout: float) -> None:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            self.raw += data.decode("utf-8", "replace")

    @property
    def text(self) -> str:
        return _ANSI.sub("", self.raw).replace("\r", "")

    def expect(self, needle: str, timeout: float = 30) -> str:
        """Wait until ``needle`` appears after what earlier expects consumed; returns the text up to it."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.text
            i = t.find(needle, self.seen)
            if i >= 0:
                chunk = t[self.seen:i + len(needle)]
                self.seen = i + len(needle)
                return chunk
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} did not appear; the terminal shows:\n{t[-2000:]}")
            if self.proc.poll() is not None:
                self._read(0.1)
                if needle not in self.text[self.seen:]:
                    raise AssertionError(f"the REPL exited ({self.proc.returncode}) before {needle!r}:\n{t[-2000:]}")
            self._read(0.1)

    def send(self, keys: str, pause: float = 0.15) -> None:
        os.write(self.fd, keys.encode("utf-8"))
        time.sleep(pause)

    _PROMPT_ON = "\x1b[?2004h"  # prompt-toolkit turns bracketed paste on each time a prompt starts

    def enter(self, line: str, timeout: float = 30) -> str:
        """Type a line that completes the input, then wait for the next prompt (between prompts the terminal
        is in cooked mode, where keys such as Ctrl-D mean something else).  Returns the text shown meanwhile."""
        before = self.raw.count(self._PROMPT_ON)
        start = len(self.text)
        self.send(line + "\r", pause=0)
        deadline = time.monotonic() + timeout
        while self.raw.count(self._PROMPT_ON) <= before:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no new prompt after {line!r}; the terminal shows:\n{self.text[-2000:]}")
            self._read(0.1)
        self.seen = max(self.seen, start)
        return self.text[start:]

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.fd)


def test_repl_in_a_pseudo_terminal(tmp_path):
    env = _env(str(tmp_path / "home"))
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # the pty answers no cursor-position requests
    term = PtyTerminal([sys.executable, "-m", "fmscript", "repl"], env)
    try:
        term.expect("fm> ")
        term.enter("Set Variable [ $x ; Value: 6 * 7 ]")
        term.send("If [ $x > 40 ]\r")
        term.expect("... ")
        term.send('Show Custom Dialog [ "Big" ; "x is " & $x ]\r')
        assert "x is 42" in term.enter("End If")
        assert "84 ok" in term.enter("$x * 2 & \" ok\"")
        term.send("Set Varia\t")  # one candidate: completed at once
        term.expect("Set Variable")
        term.enter(" [ $y ; Value: \"done\" ]")
        shown = term.enter(":vars")
        assert "$y        done" in shown
        assert "$x        42" in shown
        term.send("\x04")  # Ctrl-D quits
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    history = (tmp_path / "home" / "history").read_text(encoding="utf-8")
    assert "+If [ $x > 40 ]\n+    Show Custom Dialog" in history


# ---------------------------------------------------------------------------------------------- tmux driver
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_repl_screen_in_tmux(tmp_path):
    name = f"fmscript-test-{uuid.uuid4().hex[:8]}"
    env = _env(str(tmp_path / "home"))
    sock = str(tmp_path / "tmux.sock")
    script = tmp_path / "start.sh"
    script.write_text("#!/bin/sh\n" + " ".join(f"{k}='{v}'" for k, v in env.items()
                                                 if k in ("PYTHONSAFEPATH", "FMSCRIPT_HOME", "TERM", "LANG", "LC_ALL"))
                      + f" exec '{sys.executable}' -m fmscript repl\n")
    script.chmod(0o755)

    def tmux(*args, check=True):
        return subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True, check=check,
                              env={k: v for k, v in env.items() if k != "TMUX"})

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", name).stdout

    def wait_for(needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = screen()
            if needle in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} is not on the screen:\n{screen()}")

    def keys(*k):
        tmux("send-keys", "-t", name, *k)
        time.sleep(0.2)

    tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "30", "-c", str(tmp_path), str(script))
    try:
        wait_for("fm>")
        keys("Set Variable [ $n ; Value: 3 ]", "Enter")
        keys("If [ $n > 2 ]", "Enter")
        keys('Show Custom Dialog [ "n is " & $n ]', "Enter")
        keys("End If", "Enter")
        wait_for("n is 3")
        keys('Length ( "汉字abc" ) * 10', "Enter")
        wait_for("50")
        keys("Set Varia", "Tab")
        wait_for("fm> Set Variable")
        keys(" [ $m ; Value: $n + 1 ]", "Enter")
        keys(":vars", "Enter")
        s = wait_for("$m        4")
        lines = [l.rstrip() for l in s.splitlines() if l.strip()]
        block = lines.index("fm> If [ $n > 2 ]")
        # The screen as a person sees it: the block on continuation lines, indented, End If dedented.
        assert lines[block + 1: block + 4] == ['...     Show Custom Dialog [ "n is " & $n ]', "... End If", "n is 3"]
        assert 'fm> Length ( "汉字abc" ) * 10' in lines and "50" in lines
        assert "$n        3" in lines and "variable  value" in lines
        keys("C-d")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and tmux("has-session", "-t", name, check=False).returncode == 0:
            time.sleep(0.1)
        assert tmux("has-session", "-t", name, check=False).returncode != 0
    finally:
        tmux("kill-server", check=False)


def test_fmscript_alone_on_a_terminal_starts_the_repl_with_a_file(tmp_path, people_db):
    env = _env(str(tmp_path / "home"))
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    env["NO_COLOR"] = "1"
    term = PtyTerminal([sys.executable, "-m", "fmscript"], env)
    try:
        term.expect("fm> ")
        assert "2" in term.enter("1 + 1")
        term.send("\x04")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    term = PtyTerminal([sys.executable, "-m", "fmscript", "repl", "--file", str(people_db)], env)
    try:
        term.expect(f"file {people_db}")
        term.expect("fm> ")
        term.send("Produc\t")  # one candidate: the table occurrence
        term.send("Pri\t")
        term.expect("Products::Price")
        assert "7" in term.enter(" * 2")
        shown = term.enter(":records")
        assert "3 found of 3" in shown and "Cocoa" in shown
        term.send(":quit\r")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
