"""``Perform Script`` of a script that is not loaded, at run time: FileMaker's error 104 with the closest loaded
script, as ``check`` gives it, and subject to error capture like any step error."""
import subprocess
import sys

SCRIPTS = ('Script "Main"\n'
           'Set Variable [ $name ; Value: "Helpr" ]\n'
           'Perform Script [ $name ]\n'
           'End Script\n'
           'Script "Helper"\n'
           'Exit Script [ Text Result: 1 ]\n'
           'End Script\n')


def fmscript(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fmscript", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_a_run_names_the_closest_loaded_script(tmp_path):
    (tmp_path / "main.fmscript").write_text(SCRIPTS, encoding="utf-8")
    r = fmscript("run", "main.fmscript", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[:3] == [
        "main.fmscript:3:1: error [104] in Perform Script: there is no script named “Helpr”; "
        "did you mean “Helper”?",
        "Perform Script [ $name ]",
        "^"]


def test_no_hint_when_nothing_is_close_and_error_capture_keeps_going(tmp_path):
    (tmp_path / "capture.fmscript").write_text(
        'Set Error Capture [ On ]\n'
        'Perform Script [ "Nothing Like It" ]\n'
        'Show Custom Dialog [ "E" ; Get ( LastError ) & " " & Get ( LastErrorDetail ) ]\n', encoding="utf-8")
    r = fmscript("run", "capture.fmscript", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines()[-1] == "104 there is no script named “Nothing Like It”"
