"""``fmscript check`` reports every problem of a file in line order, as ``run`` finds them (issue 11, item 8)."""
from __future__ import annotations

import re

from fmscript.cli import main


def _check(capsys, tmp_path, text: str, *args) -> tuple[int, list[str]]:
    f = tmp_path / "s.fmscript"
    f.write_text(text, encoding="utf-8")
    rc = main([*args, str(f)])
    err = capsys.readouterr().err
    heads = [re.sub(r"^.*?s\.fmscript:", "", ln) for ln in err.splitlines() if re.search(r"\.fmscript:\d+:\d+: ", ln)]
    return rc, heads


BROKEN = ('Sett Variable [ $x ; 1 ]\n'
          'Set Error Capture [ Maybe ]\n'
          'Open URL [ "https://example.com" ]\n'
          'Perform Script [ ]\n'
          'Set Variable [ $y ; Value: 1 + ]\n')


def test_errors_after_an_unknown_step_are_reported_with_it_in_line_order(capsys, tmp_path):
    rc, heads = _check(capsys, tmp_path, BROKEN, "check")
    assert rc == 1
    assert [h.split(":")[0] for h in heads] == ["1", "2", "3", "4", "5"]
    assert heads[0].startswith("1:1: error [4]: unknown script step “Sett Variable”")
    assert heads[1].startswith("2:1: error [1204]") and "On or Off" in heads[1]
    assert heads[2].startswith("3:1: warning [3]")
    assert heads[3].startswith("4:1: warning [104]: Perform Script has no script")  # FileMaker saves it so
    assert heads[4].startswith("5:31: error [1204]")


def test_run_refuses_the_file_with_the_same_errors(capsys, tmp_path):
    rc, heads = _check(capsys, tmp_path, BROKEN, "run")
    assert rc == 1
    assert [h.split(":")[0] for h in heads] == ["1", "2", "5"]  # the warnings are check's alone


def test_an_error_is_reported_once_even_when_the_compiler_meets_it_too(capsys, tmp_path):
    rc, heads = _check(capsys, tmp_path, 'Sett Variable [ $x ; 1 ]\nIf [ 1 + ]\nEnd If\n', "check")
    assert rc == 1 and len(heads) == 2 and heads[1].startswith("2:")


def test_perform_script_of_a_missing_script_is_error_104_with_a_suggestion(capsys, tmp_path):
    text = ('Script "Main"\nPerform Script [ "Helpr" ; Parameter: 1 ]\nPerform Script [ “Helper” ]\n'
            'Perform Script [ "Nothing Like It" ]\n// Perform Script [ "Disabled" ]\nEnd Script\n'
            'Script "Helper"\nExit Script [ Text Result: 1 ]\nEnd Script\n')
    rc, heads = _check(capsys, tmp_path, text, "check")
    assert rc == 1
    assert heads == ["2:18: error [104] in Perform Script: there is no script named “Helpr” in this file; "
                     "did you mean “Helper”?",
                     "4:18: error [104] in Perform Script: there is no script named “Nothing Like It” in this file"]
    rc, heads = _check(capsys, tmp_path, 'Perform Script [ "Missing" ]\n', "run")
    assert rc == 1 and heads[0].startswith("1:1: error [104]")


def test_a_clean_file_still_passes(capsys, tmp_path):
    rc, heads = _check(capsys, tmp_path, 'Script "A"\nPerform Script [ "b" ]\nEnd Script\nScript "B"\nBeep\n'
                       'End Script\n', "check")
    assert (rc, heads) == (0, [])
