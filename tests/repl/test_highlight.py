"""The Pygments lexer: token classes for each part of a script, both languages, and its registration."""
from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from pygments import highlight, lex
from pygments.formatters import TerminalFormatter
from pygments.token import Comment, Error, Keyword, Name, Number, String

from fmscript.highlight import FMScriptLexer

ROOT = Path(__file__).resolve().parents[2]


def tokens(text):
    return [(t, v) for t, v in lex(text, FMScriptLexer()) if v.strip()]


def kinds(text):
    return {v: t for t, v in tokens(text)}


def test_steps_labels_values_and_calculations():
    k = kinds('Set Variable [ $x ; Value: Length ( "a;b]" ) + 1.5e2 ]')
    assert k["Set Variable"] is Keyword
    assert k["$x"] is Name.Variable
    assert k["Value"] is Name.Label
    assert k["Length"] is Name.Function
    assert k["1.5e2"] is Number
    assert k["a;b]"] in String


def test_zh_hans_steps_labels_and_get_names():
    k = kinds("设置变量 [ $$路径 ; 值: Get ( 文档路径 ) ]\n配置 AI 账户 [ 账户名称: \"a\" ; 模型提供商: 本地 ]")
    assert k["设置变量"] is Keyword and k["配置 AI 账户"] is Keyword
    assert k["$$路径"] is Name.Variable.Global
    assert k["值"] is Name.Label and k["账户名称"] is Name.Label and k["模型提供商"] is Name.Label
    assert k["文档路径"] is Name.Constant
    assert k["本地"] is Name.Constant


def test_fields_comments_flags_and_constants():
    text = ("# a comment\n"
            "If [ Contacts::Name for Labels ≠ \"\" and ${ Global::API Key } ]\n"
            "  Configure AI Account [ Account Name: \"x\" ; Model Provider: Local ; Verify SSL Certificates ]\n"
            "End If\n"
            "// Beep\n"
            "Commit Records/Requests [ With dialog: Off ] // trailing\n")
    k = kinds(text)
    assert k["# a comment"] in Comment
    assert k["Contacts::Name for Labels"] is Name.Attribute
    assert k["${ Global::API Key }"] is Name.Attribute
    assert k["Configure AI Account"] is Keyword  # indented inside the block
    assert k["Verify SSL Certificates"] is Name.Label
    assert k["Local"] is Name.Constant and k["Off"] is Name.Constant
    assert k["// Beep"] in Comment
    assert k["// trailing"] in Comment
    assert k["End If"] is Keyword


def test_script_headers():
    k = kinds('Script "Main"\nBeep\nEnd Script\n脚本 "主"\n结束脚本\n')
    assert k["Script"] is Keyword.Namespace and k["End Script"] is Keyword.Namespace
    assert k["脚本"] is Keyword.Namespace and k["结束脚本"] is Keyword.Namespace


def test_a_bare_calculation_and_the_if_function_is_not_the_if_step():
    k = kinds('If ( $x > 1 ; "big" ; "small" ) & ¶')
    assert k["If"] is Name.Function


def test_every_example_and_fixture_lexes_without_error_tokens():
    files = sorted(ROOT.glob("examples/**/*.fmscript")) + sorted(ROOT.glob("tests/**/*.fmscript"))
    assert files
    for f in files:
        text = f.read_text(encoding="utf-8-sig")
        toks = list(lex(text, FMScriptLexer()))
        assert "".join(v for _, v in toks).rstrip("\n") == text.rstrip("\n"), f
        assert not [v for t, v in toks if t in Error], f


def test_every_catalogue_step_is_a_keyword():
    from fmscript import catalog
    for s in catalog.steps().items:
        for n in (s.name, *s.zh):
            if "[" in n or n.startswith("#"):  # “# (Comment)” is written as a # line
                continue
            first = tokens(n + " [ 1 ]")[0]
            assert first == (Keyword, n), n


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """The entry point as ``pip install`` registers it; faked with a dist-info folder when not installed.

    Returns the extra import path a subprocess needs: none when installed, else only that site folder (fmscript
    itself comes from wherever this process found it, never from an added checkout path)."""
    eps = [e for e in metadata.entry_points(group="pygments.lexers") if e.name == "fmscript"]
    if eps:
        return None
    dist = tmp_path / "site" / "fmscript_entrypoint_test-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fmscript-entrypoint-test\nVersion: 0\n")
    ep = re.search(r'\[project\.entry-points\."pygments\.lexers"\]\s*\n(fmscript = .*)\n',
                   (ROOT / "pyproject.toml").read_text(encoding="utf-8")).group(1)
    (dist / "entry_points.txt").write_text(f"[pygments.lexers]\n{ep.replace(chr(34), '')}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return str(tmp_path / "site")


def test_registered_as_a_pygments_entry_point(registered):
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'\[project\.entry-points\."pygments\.lexers"\]\s*\nfmscript = "fmscript\.highlight:FMScriptLexer"',
                     text)
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    assert type(get_lexer_by_name("fmscript")).__name__ == "FMScriptLexer"
    assert type(get_lexer_for_filename("x.fmscript")).__name__ == "FMScriptLexer"


def test_pygmentize_colours_a_file(tmp_path, registered):
    import subprocess
    f = tmp_path / "a.fmscript"
    f.write_text('Set Variable [ $x ; Value: "hi" ]\n', encoding="utf-8")
    env = dict(os.environ, **({"PYTHONPATH": registered} if registered else {}))
    r = subprocess.run([sys.executable, "-m", "pygments", "-l", "fmscript", "-f", "terminal", str(f)],
                       capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" in r.stdout and "Set Variable" in r.stdout
    assert r.stdout == highlight(f.read_text(), FMScriptLexer(), TerminalFormatter())
