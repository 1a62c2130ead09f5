"""Script text that is not UTF-8 is refused with the place of its first bad byte (issue 11, item 10)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fmscript import Interpreter
from fmscript.errors import UsageError


def run_cli(args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "fmscript", *args], input=stdin, capture_output=True, timeout=120)

LATIN1 = 'Set Variable [ $x ; Value: 1 ]\r\nSet Variable [ $n ; Value: "José" ]\r\n'.encode("latin-1")


def _where(stderr: str) -> list[str]:
    return stderr.splitlines()[:3]


def test_run_names_line_and_column_of_the_first_bad_byte(tmp_path):
    f = tmp_path / "latin.fmscript"
    f.write_bytes(LATIN1)
    r = run_cli(["run", str(f)])
    assert r.returncode == 2
    stderr = r.stderr.decode()
    head, line, caret = _where(stderr)
    assert head.startswith(f"{f}:2:32: error: this file is not UTF-8 text: byte 0xE9")
    assert "iconv -f LATIN1 -t UTF-8" in head
    assert line == 'Set Variable [ $n ; Value: "Jos\ufffd" ]'
    assert caret == " " * 31 + "^"
    assert "Traceback" not in stderr


def test_check_and_stdin_say_the_same(tmp_path):
    f = tmp_path / "latin.fmscript"
    f.write_bytes(LATIN1)
    assert _where(run_cli(["check", str(f)]).stderr.decode())[0].startswith(f"{f}:2:32: error:")
    r = run_cli(["run", "-"], stdin=LATIN1)
    assert r.returncode == 2
    assert r.stderr.decode().startswith("<stdin>:2:32: error: the input is not UTF-8 text: byte 0xE9")


def test_a_bom_and_crlf_still_read_and_count_from_the_text(tmp_path):
    f = tmp_path / "bom.fmscript"
    f.write_bytes(b"\xef\xbb\xbfExit Script [ Text Result: \"h\xc3\xa9\" ]\r\n")
    assert Interpreter().run_file(f) == "hé"
    f.write_bytes(b"\xef\xbb\xbf# ok\r\n\xff")
    with pytest.raises(UsageError) as e:
        Interpreter().load_file(f)
    assert (e.value.span.line, e.value.span.col) == (2, 1)
