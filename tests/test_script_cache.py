"""The parsed-script cache: an unchanged script runs without Lark; any change parses again."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmscript.errors import ErrorList
from fmscript.script import cache
from fmscript.script.steps import builtin_steps


def parse_cached(text, path="<script>", default_name=None):
    return cache.parse_cached(text, path, default_name, steps=builtin_steps())

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from fmscript.interpreter import Interpreter
fm = Interpreter(on_dialog=lambda t, m: print(m))
fm.run_file(sys.argv[1])
print("lark loaded" if "lark" in sys.modules else "lark not loaded")
"""


def run_probe(script: Path, home: Path) -> list[str]:
    env = dict(os.environ, FMSCRIPT_HOME=str(home))
    r = subprocess.run([sys.executable, "-c", PROBE, str(script)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_second_run_of_an_unchanged_script_does_not_load_lark(tmp_path):
    script = tmp_path / "s.fmscript"
    script.write_text('Set Variable [ $x ; Value: 6 * 7 ]\nShow Custom Dialog [ $x ]\n', encoding="utf-8")
    home = tmp_path / "home"
    assert run_probe(script, home) == ["42", "lark loaded"]
    assert run_probe(script, home) == ["42", "lark not loaded"]
    script.write_text('Set Variable [ $x ; Value: 6 * 8 ]\nShow Custom Dialog [ $x ]\n', encoding="utf-8")
    assert run_probe(script, home) == ["48", "lark loaded"]


def test_errors_are_never_cached():
    with pytest.raises(ErrorList):
        parse_cached("If [ 1 ]\n", "bad.fmscript")
    with pytest.raises(ErrorList):
        parse_cached("If [ 1 ]\n", "bad.fmscript")


def test_cached_ast_equals_a_fresh_parse(tmp_path):
    from fmscript.script.parse import parse_script_text as parse
    def parse_script_text(text, path):
        return parse(text, path, steps=builtin_steps())
    text = (ROOT / "examples" / "spec_example2.zh.fmscript").read_text(encoding="utf-8")
    first = parse_cached(text, "ex.fmscript")
    second = parse_cached(text, "ex.fmscript")
    fresh = parse_script_text(text, "ex.fmscript")
    assert [s.steps for s in second.scripts] == [s.steps for s in fresh.scripts] == [s.steps for s in first.scripts]
    assert second.source.text == text
