"""The REPL in a real terminal (tmux), typed at as a person would (issue 11, item 7): Ctrl-R search then Enter,
warnings without raw escape codes, one message for a step fmscript does not run, bracket matching and the
call tip of the function being typed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX terminal"),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


class Tmux:
    """``fmscript repl`` in a detached tmux session; :meth:`screen` is what a person sees."""

    def __init__(self, tmp_path: Path, cols: int = 110, rows: int = 30):
        self.name = f"fmscript-test-{uuid.uuid4().hex[:8]}"
        self.sock = str(tmp_path / "tmux.sock")
        env = {"PYTHONSAFEPATH": "1",
               "FMSCRIPT_HOME": str(tmp_path / "home"), "TERM": "xterm-256color", "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8"}
        script = tmp_path / "start.sh"
        script.write_text("#!/bin/sh\n" + " ".join(f"{k}='{v}'" for k, v in env.items())
                          + f" exec '{sys.executable}' -m fmscript repl\n")
        script.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "NO_COLOR")}
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows), "-c", str(tmp_path),
                  str(script))

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, check=check,
                              env=self.env)

    def screen(self, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name).stdout

    def wait_for(self, needle: str, timeout: float = 30, escapes: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen(escapes)
            if needle in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} is not on the screen:\n{self.screen()}")

    def until(self, ok, what: str, timeout: float = 30, escapes: bool = False) -> str:
        """The screen once ``ok(screen)`` holds (a terminal redraws a moment after each key)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen(escapes)
            if ok(s):
                return s
            time.sleep(0.1)
        raise AssertionError(f"{what}; the screen shows:\n{self.screen(escapes)!r}")

    def type(self, text: str) -> None:
        # -l: the text literally; a trailing ";" would still end tmux's command unless escaped.
        self.tmux("send-keys", "-t", self.name, "-l", text[:-1] + "\\;" if text.endswith(";") else text)
        time.sleep(0.3)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)
        time.sleep(0.3)

    def close(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def term(tmp_path):
    t = Tmux(tmp_path)
    try:
        t.wait_for("fm>")
        yield t
    finally:
        t.close()


def _sgr_before(line: str, i: int) -> set[str]:
    """The SGR attributes (``1`` bold, ``4`` underline …) set by the escapes right before ``line[i]``."""
    m = re.search(r"(?:\x1b\[[0-9;]*m)+$", line[:i])
    return {p for seq in re.findall(r"\x1b\[([0-9;]*)m", m.group(0)) for p in seq.split(";")} if m else set()


def _input_line(screen: str) -> str:
    return next((ln for ln in screen.splitlines() if "fm>" in ln and "Left" in ln), "")


def _open_paren_of_left(screen: str) -> tuple[str, int]:
    line = _input_line(screen)
    if "Left" not in line:
        return "", 0
    at = line.index("Left")
    return line, at + line[at:].index("(")


def _lines(screen: str) -> list[str]:
    return [ln.rstrip() for ln in screen.splitlines() if ln.strip()]


def test_ctrl_r_then_enter_runs_the_found_entry_and_leaves_search(term):
    term.type("Set Variable [ $abc ; Value: 20 ]")
    term.keys("Enter")
    term.type("$abc * 2 + 1")
    term.keys("Enter")
    term.wait_for("41")
    term.type("Set Variable [ $abc ; Value: 50 ]")
    term.keys("Enter")
    term.keys("C-r")
    term.wait_for("I-search backward")
    term.type("* 2")
    term.wait_for("fm> $abc * 2 + 1")
    term.keys("Enter")
    s = term.wait_for("101")
    assert "I-search" not in s  # search mode is over
    assert _lines(s)[-2:] == ["101", "fm>"]
    term.type("$abc")  # typing goes to the input again, not to a search
    term.keys("Enter")
    assert _lines(term.wait_for("\n50\n"))[-1] == "fm>"


def test_warning_is_coloured_by_the_terminal_not_printed_as_escape_codes(term):
    term.type("Set Error Capture [ On ]")
    term.keys("Enter")
    term.type("Print Setup [ Restore ; With dialog: Off ]")
    term.keys("Enter")
    s = term.until(lambda s: "warning [3]" in s and _lines(s)[-1] == "fm>", "no warning, then a new prompt")
    assert "?[" not in s and "[1;33m" not in s and "\x1b" not in s
    assert "<repl>:1:1: warning [3]: “Print Setup” is not implemented" in s
    coloured = term.screen(escapes=True)
    assert "\x1b[" in coloured.split("warning [3]")[0].rsplit("\n", 1)[-1]  # the terminal got real colour


def test_a_step_fmscript_does_not_run_gives_one_message(term):
    term.type("Print Setup [ Restore ; With dialog: Off ]")
    term.keys("Enter")
    s = term.until(lambda s: "error [3]" in s and _lines(s)[-1] == "fm>", "no error, then a new prompt")
    assert s.count("Print Setup” is") == 1
    assert "error [3]" in s and "warning" not in s


def test_call_tip_and_matching_bracket_while_typing(term):
    term.type('Left ( "abc" ;')
    term.until(lambda s: _lines(s)[-2:] == ['fm> Left ( "abc" ;', " Left ( text ; numberOfCharacters )"],
               "the call tip of Left is not under the input")
    term.type(' Length ( "xy"')
    term.wait_for("\n Length ( text )")
    term.type(" ) ")
    term.wait_for("\n Left ( text ; numberOfCharacters )")
    term.type(")")
    # The cursor sits after the closing parenthesis: its partner, the "(" after Left, is underlined.
    term.until(lambda s: "4" in _sgr_before(*_open_paren_of_left(s)), "the “(” of Left is not highlighted",
               escapes=True)
    term.keys("Left", "Left", "Left", "Left", "Left")  # away from every bracket: nothing underlined
    term.until(lambda s: all("4" not in _sgr_before(line, i) for line in [_input_line(s)]
                             for i, ch in enumerate(line) if ch in "()"), "a bracket is still highlighted",
               escapes=True)
    term.keys("End", "Enter")
    assert _lines(term.wait_for("\nab\n"))[-2:] == ["ab", "fm>"]  # run; no tip under the new prompt
