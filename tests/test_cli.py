"""The command line as a user meets it: exit codes, streams, stdin, --trace, errors without tracebacks."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fmscript import __version__
from fmscript.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(args, stdin=None, cwd=None):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "fmscript", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd or tempfile.gettempdir(), env=env, timeout=120)


def test_version():
    r = run_cli(["--version"])
    assert r.returncode == 0 and r.stdout.strip() == f"fmscript {__version__}"


def test_run_from_stdin_with_param_and_script_choice():
    text = ('Script "A"\nShow Custom Dialog [ "A got " & Get ( ScriptParameter ) ]\nEnd Script\n'
            'Script "B"\nShow Custom Dialog [ "B got " & Get ( ScriptParameter ) ]\nEnd Script\n')
    r = run_cli(["run", "-", "--param", "hi"], stdin=text)
    assert (r.returncode, r.stdout, r.stderr) == (0, "A got hi\n", "")
    r = run_cli(["run", "-", "--script", "b", "--param", "yo"], stdin=text)
    assert (r.returncode, r.stdout) == (0, "B got yo\n")
    r = run_cli(["run", "-", "--script", "C"], stdin=text)
    assert r.returncode == 2 and "no script named “C”" in r.stderr


def test_runtime_error_exit_1_with_position_and_no_traceback(tmp_path):
    f = tmp_path / "fail.fmscript"
    f.write_text('Set Variable [ $x ; Value: 1 ]\nPerform Script [ "Nope" ]\n', encoding="utf-8")
    r = run_cli(["run", str(f)])
    assert r.returncode == 1
    assert r.stderr.startswith(f"{f}:2:1: error [104] in Perform Script:")
    assert "Traceback" not in r.stderr


def test_parse_error_exit_1_and_usage_errors_exit_2(tmp_path):
    f = tmp_path / "bad.fmscript"
    f.write_text('If [ 1 ]\nSet Variable [ $x ; Value: ( ]\n', encoding="utf-8")
    r = run_cli(["run", str(f)])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{f}:1:1: error" in r.stderr and f"{f}:2:" in r.stderr
    assert run_cli(["run", str(tmp_path / "missing.fmscript")]).returncode == 2
    assert run_cli(["frobnicate"]).returncode == 2
    assert run_cli(["run", str(tmp_path)]).returncode == 2


def test_check_reports_all_problems_and_warnings(tmp_path):
    f = tmp_path / "c.fmscript"
    f.write_text('Set Varable [ $x ; Value: 1 ]\nOpen URL [ "x" ]\nSet Variable [ $y ; Value: 1 + ]\n',
                 encoding="utf-8")
    r = run_cli(["check", str(f)])
    assert r.returncode == 1
    assert f"{f}:1:1: error [4]: unknown script step “Set Varable”" in r.stderr
    assert f"{f}:2:1: warning [3]: “Open URL” is not implemented" in r.stderr
    assert f"{f}:3:" in r.stderr
    assert "2 errors, 1 warning" in r.stderr
    ok = tmp_path / "ok.fmscript"
    ok.write_text("Beep\n", encoding="utf-8")
    assert run_cli(["check", str(ok)]).returncode == 0


def test_trace_goes_to_stderr_and_shows_changed_variables(capsys, tmp_path):
    f = tmp_path / "t.fmscript"
    f.write_text('Set Variable [ $x ; Value: 2 ]\nSet Variable [ $$g ; Value: $x * 3 ]\n'
                 'Show Custom Dialog [ $$g ]\n', encoding="utf-8")
    assert main(["run", str(f), "--trace"]) == 0
    out, err = capsys.readouterr()
    assert out == "6\n"
    assert f"{f}:1: Set Variable  $x = '2'" in err
    assert f"{f}:2: Set Variable  $$g = '6'" in err
    assert f"{f}:3: Show Custom Dialog" in err


def test_python_m_and_console_script_agree(tmp_path):
    f = tmp_path / "d.fmscript"
    f.write_text('Show Custom Dialog [ Title: "T" ; Message: "line1¶line2" ]\n', encoding="utf-8")
    r = run_cli(["run", str(f)])
    assert r.stdout == "T\nline1\nline2\n"


def test_api_keys_never_appear_in_traces_or_errors(capsys, tmp_path):
    f = tmp_path / "k.fmscript"
    f.write_text('Set Variable [ $openai_key ; Value: "sk-live-0123456789abcdef" ]\n'
                 'Set Variable [ $apiKey ; Value: "plain-looking-secret-42" ]\n'
                 'Configure AI Account [ Account Name: "a" ; Model Provider: OpenAI ; API key: $apiKey ]\n'
                 'Set Variable [ $copy ; Value: $apiKey & "!" ]\n'
                 'Perform Script [ "missing " & $apiKey ]\n', encoding="utf-8")
    assert main(["run", str(f), "--trace"]) == 1
    out, err = capsys.readouterr()
    assert "sk-live-0123456789abcdef" not in err and "plain-looking-secret-42" not in err
    assert "$openai_key = ••••" in err and "$copy" in err
